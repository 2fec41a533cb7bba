"""plots.dp_basics: the membership-game formulas (closed forms, hand values, simulation at a
fixed seed) and the randomized-response simulation (mean and SE against the library's formula)."""
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from fldp_teach.mechanisms import randomized_response_standard_error
from fldp_teach.plots.dp_basics import (
    laplace_count_attack_success,
    membership_success_bound,
    plot_membership_game,
    plot_randomized_response,
    simulate_laplace_count_game,
    simulate_randomized_response_estimates,
    simulate_randomized_response_game,
)


def test_bound_by_hand():
    # ε = ln 3: odds at most 3 : 1 -> 3/4 (Warner's coin, Dwork & Roth §3.2)
    assert math.isclose(membership_success_bound(epsilon=math.log(3)), 0.75)
    assert math.isclose(membership_success_bound(epsilon=1.0), math.e / (1 + math.e))
    assert math.isclose(laplace_count_attack_success(epsilon=1.0), 1 - 0.5 * math.exp(-0.5))
    assert math.isclose(laplace_count_attack_success(epsilon=2 * math.log(2)), 0.75)  # 1 - ½·½


@pytest.mark.parametrize("epsilon", [1e-3, 0.1, 0.5, 1.0, 3.0, 10.0])
def test_laplace_attack_is_below_the_bound_and_above_a_coin(epsilon):
    s = laplace_count_attack_success(epsilon=epsilon)
    assert 0.5 < s < membership_success_bound(epsilon=epsilon)


def test_laplace_attack_formula_matches_exact_integral():
    # P[Lap(b) <= ½] by the CDF of the Laplace distribution, b = 1/ε
    from scipy import stats

    for eps in (0.3, 1.0, 4.0):
        assert math.isclose(laplace_count_attack_success(epsilon=eps), stats.laplace.cdf(0.5, scale=1 / eps))


@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_simulated_games_match_formulas(epsilon):
    trials = 40_000
    tol = 4 * 0.5 / math.sqrt(trials)
    assert abs(simulate_laplace_count_game(epsilon=epsilon, trials=trials, seed=3)
               - laplace_count_attack_success(epsilon=epsilon)) < tol
    assert abs(simulate_randomized_response_game(epsilon=epsilon, trials=trials, seed=4)
               - membership_success_bound(epsilon=epsilon)) < tol


def test_simulations_are_seeded():
    assert simulate_laplace_count_game(epsilon=1.0, trials=1000, seed=5) == \
        simulate_laplace_count_game(epsilon=1.0, trials=1000, seed=5)


def test_randomized_response_estimates_unbiased_with_formula_se():
    repeats, n, pi, eps = 1500, 500, 0.3, 1.0
    est = simulate_randomized_response_estimates(epsilon=eps, num_examples=n, true_proportion=pi,
                                                 repeats=repeats, seed=0)
    se = randomized_response_standard_error(true_proportion=pi, num_examples=n, epsilon=eps)
    assert abs(est.mean() - pi) < 4 * se / math.sqrt(repeats)
    # sd of a sample sd ≈ se/sqrt(2(R-1)): 4 of those is ≈ 7 %
    assert abs(est.std(ddof=1) / se - 1) < 0.08


def test_plots_have_labelled_lines():
    fig = plot_membership_game(1.0, trials=2000)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [l.get_label() for l in ax.get_lines()]
    assert any("bound" in s for s in labels) and any("Lap" in s for s in labels)
    assert sum("simulated" in s for s in labels) == 2
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    fig = plot_randomized_response(1.0, num_examples=200, repeats=50)
    assert len(fig.axes) == 2 and all(a.get_xlabel() and a.get_ylabel() for a in fig.axes)


def test_validation():
    with pytest.raises(ValueError, match="epsilon"):
        membership_success_bound(epsilon=0.0)
    with pytest.raises(ValueError, match="trials"):
        simulate_laplace_count_game(epsilon=1.0, trials=0)
    with pytest.raises(ValueError, match="true_proportion"):
        simulate_randomized_response_estimates(epsilon=1.0, true_proportion=1.5)
