"""plots.gaussian: the extrapolated classic formula, the σ/δ curves drawn from the library, and the
likelihood-ratio adversary (additive: closed form Φ(√k|a−b|/(2σ)); multiplicative: the leak)."""
import math

import numpy as np
import pytest
from scipy import stats

from fldp_teach.mechanisms import analytic_gaussian_stddev, classic_gaussian_stddev
from fldp_teach.plots.gaussian import (
    attacker_win_rate,
    classic_formula_stddev,
    distinguisher_success,
    multiplicative_win_rate_limit,
    plot_attacker_win_rate,
    plot_gaussian_stddev,
    plot_multiplicative_leak,
)


def test_classic_formula_equals_library_below_one_and_extends_above():
    assert classic_formula_stddev(epsilon=0.5, delta=1e-5) == classic_gaussian_stddev(
        epsilon=0.5, delta=1e-5, l2_sensitivity=1.0)
    # by hand: sqrt(2 ln(1.25e5)) / 2 at ε = 2
    assert math.isclose(classic_formula_stddev(epsilon=2.0, delta=1e-5), math.sqrt(2 * math.log(1.25e5)) / 2)
    with pytest.raises(ValueError, match="delta"):
        classic_formula_stddev(epsilon=2.0, delta=1.0)


def test_stddev_plot_draws_the_library_values():
    fig = plot_gaussian_stddev(0.5, 1e-5, l2_sensitivity=2.0)
    ax_s, ax_d = fig.axes
    analytic = next(l for l in ax_s.get_lines() if l.get_label().startswith("analytic"))
    x, y = analytic.get_data()
    i = len(x) // 2
    assert math.isclose(y[i], analytic_gaussian_stddev(epsilon=x[i], delta=1e-5, l2_sensitivity=2.0))
    ratio = next(l for l in ax_d.get_lines() if l.get_label().startswith("analytic"))
    np.testing.assert_allclose(ratio.get_ydata(), 1.0, rtol=1e-6)  # the analytic σ meets δ exactly
    classic = next(l for l in ax_d.get_lines() if l.get_label().startswith("classic"))
    cx, cy = classic.get_data()
    assert np.all(cy[cx < 1] < 1)            # inside Thm A.1 the promise is kept
    assert cy[-1] > 1                        # the formula at ε = 10 breaks it (Balle & Wang 2018, §2)
    assert all(a.get_xlabel() and a.get_ylabel() and a.get_title() for a in fig.axes)


@pytest.mark.parametrize("k, sigma", [(1, 1.0), (10, 5.0)])
def test_additive_adversary_matches_closed_form(k, sigma):
    trials = 20_000
    got = distinguisher_success(noise="additive", value_a=1.0, value_b=3.0, stddev=sigma, releases=k,
                                trials=trials, seed=1)
    want = stats.norm.cdf(math.sqrt(k) * 2.0 / (2 * sigma))
    assert abs(got - want) < 4 * 0.5 / math.sqrt(trials)


def test_multiplicative_noise_leaks():
    # θ = 0 is released exactly: always distinguished, at any σ
    for sigma in (0.1, 10.0, 1000.0):
        assert distinguisher_success(noise="multiplicative", value_a=0.0, value_b=1.0, stddev=sigma,
                                     trials=500, seed=2) == 1.0
    # the spread keeps a fixed advantage however large σ is (additive goes to a coin flip)
    mult = distinguisher_success(noise="multiplicative", value_a=1.0, value_b=3.0, stddev=1000.0,
                                 trials=4000, seed=3)
    add = distinguisher_success(noise="additive", value_a=1.0, value_b=3.0, stddev=1000.0, trials=4000, seed=3)
    assert mult > 0.7 and abs(add - 0.5) < 0.04
    with pytest.raises(ValueError, match="noise"):
        distinguisher_success(noise="laplace", value_a=0.0, value_b=1.0, stddev=1.0)


def test_leak_plot():
    fig = plot_multiplicative_leak(trials=100, stddevs=[0.1, 1.0, 10.0], releases=(1, 5))
    ax_h, ax_s = fig.axes
    assert len(ax_s.get_lines()) == 5  # 2 mechanisms × 2 release counts + coin flip
    assert any("exactly 0" in t.get_text() for t in ax_h.get_legend().get_texts())


# ----------------------------------------------------------------------------- C1: exact win rates
@pytest.mark.parametrize("k, sigma", [(1, 1.0), (4, 2.5), (10, 50.0)])
def test_additive_win_rate_is_the_closed_form(k, sigma):
    got = attacker_win_rate(noise="additive", value_a=1.0, value_b=3.0, stddev=sigma, releases=k)
    assert got == pytest.approx(stats.norm.cdf(math.sqrt(k) * 2.0 / (2 * sigma)), abs=1e-12)
    # one release, |a − b| = 2s: Φ(1) = 0.8413…
    assert attacker_win_rate(noise="additive", value_a=0.0, value_b=2.0, stddev=1.0) == pytest.approx(0.841345, abs=1e-6)


@pytest.mark.parametrize("a, b, sigma, k", [(1.0, 3.0, 1.0, 1), (1.0, 3.0, 10.0, 3), (2.0, -3.0, 0.7, 2),
                                            (-1.0, 1.0, 5.0, 3), (1.0, 3.0, 2.0, 8)])
def test_multiplicative_win_rate_matches_monte_carlo(a, b, sigma, k):
    trials = 40_000
    exact = attacker_win_rate(noise="multiplicative", value_a=a, value_b=b, stddev=sigma, releases=k)
    simulated = distinguisher_success(noise="multiplicative", value_a=a, value_b=b, stddev=sigma, releases=k,
                                      trials=trials, seed=11)
    assert abs(exact - simulated) < 4 * 0.5 / math.sqrt(trials)
    # symmetric in (a, b): the fair-prior game does not care which value is called a
    assert attacker_win_rate(noise="multiplicative", value_a=b, value_b=a, stddev=sigma,
                             releases=k) == pytest.approx(exact, abs=2e-4)


def test_multiplicative_win_rate_does_not_fall_to_a_coin_flip():
    # one release, θ = 1 vs 3: the scale test N(0, 1) vs N(0, 9) in the limit; by hand
    # ½[P(χ²₁ < ln 9 / (8/9)) + P(χ²₁ > ln 9 / 8)] = ½[P(|Z| < 1.5722) + P(|Z| > 0.5241)] ≈ 0.7422
    limit = multiplicative_win_rate_limit(value_a=1.0, value_b=3.0)
    assert limit == pytest.approx(0.5 * ((2 * stats.norm.cdf(math.sqrt(math.log(9) * 9 / 8)) - 1)
                                         + 2 * stats.norm.sf(math.sqrt(math.log(9) / 8))), abs=1e-12)
    assert limit == pytest.approx(0.7422, abs=1e-4)
    assert attacker_win_rate(noise="multiplicative", value_a=1.0, value_b=3.0, stddev=1e3) == pytest.approx(
        limit, abs=1e-4)
    assert attacker_win_rate(noise="additive", value_a=1.0, value_b=3.0, stddev=1e3) < 0.501
    # repeated releases drive it to 1, whatever the noise
    rates = [multiplicative_win_rate_limit(value_a=1.0, value_b=3.0, releases=k) for k in (1, 5, 20, 50)]
    assert rates == sorted(rates) and rates[-1] > 0.9999
    # 0 vs anything: always won (the release 0 only comes from θ = 0)
    for sigma in (0.01, 1.0, 100.0):
        assert attacker_win_rate(noise="multiplicative", value_a=0.0, value_b=1.0, stddev=sigma) == 1.0
    assert multiplicative_win_rate_limit(value_a=2.0, value_b=0.0) == 1.0
    assert multiplicative_win_rate_limit(value_a=-2.0, value_b=2.0) == 0.5
    assert attacker_win_rate(noise="multiplicative", value_a=2.0, value_b=2.0, stddev=1.0) == 0.5


def test_win_rate_rejects_bad_input():
    with pytest.raises(ValueError, match="noise must be"):
        attacker_win_rate(noise="laplace", value_a=0.0, value_b=1.0, stddev=1.0)
    with pytest.raises(ValueError, match=r"stddev must be > 0, got -1\.0"):
        attacker_win_rate(noise="additive", value_a=0.0, value_b=1.0, stddev=-1.0)
    with pytest.raises(ValueError, match=r"releases must be an integer >= 1, got 0"):
        attacker_win_rate(noise="multiplicative", value_a=1.0, value_b=3.0, stddev=1.0, releases=0)
    with pytest.raises(ValueError, match="value_b"):
        multiplicative_win_rate_limit(value_a=1.0, value_b=float("nan"))
    with pytest.raises(ValueError, match=r"stddev must be > 0, got 0"):
        plot_attacker_win_rate(0)
    with pytest.raises(ValueError, match=r"stddevs\[1\]"):
        plot_attacker_win_rate(1.0, stddevs=[1.0, -2.0])


def test_attacker_win_rate_plot():
    fig = plot_attacker_win_rate(2.0, value_a=1.0, value_b=3.0, releases=5, stddevs=[0.1, 1.0, 10.0])
    ax_d, ax_w = fig.axes
    labels = [l.get_label() for l in ax_d.get_lines()]
    assert labels == ["additive, θ = 1", "additive, θ = 3", "multiplicative, θ = 1", "multiplicative, θ = 3"]
    widths = {l.get_label(): np.std(l.get_ydata()) for l in ax_d.get_lines()}
    assert widths["multiplicative, θ = 3"] != pytest.approx(widths["additive, θ = 3"])
    lines = {l.get_label(): l for l in ax_w.get_lines()}
    add = lines["additive θ + N(0, s²)"]
    np.testing.assert_allclose(add.get_ydata(), stats.norm.cdf(math.sqrt(5) * 2 / (2 * np.array([0.1, 1.0, 10.0]))))
    mult = lines["multiplicative θ(1 + N(0, s²))"]
    assert mult.get_ydata()[-1] > 0.9
    limit = lines["multiplicative, limit s → ∞"]
    assert limit.get_ydata()[0] == pytest.approx(multiplicative_win_rate_limit(value_a=1, value_b=3, releases=5))
    markers = [l for l in ax_w.get_lines() if l.get_marker() in ("o", "s")]
    assert [tuple(m.get_xydata()[0]) for m in markers] == [
        (2.0, pytest.approx(attacker_win_rate(noise="additive", value_a=1, value_b=3, stddev=2.0, releases=5))),
        (2.0, pytest.approx(attacker_win_rate(noise="multiplicative", value_a=1, value_b=3, stddev=2.0,
                                              releases=5)))]
    assert ax_w.get_xscale() == "log" and "5 releases" in ax_w.get_title()
    assert all(a.get_xlabel() and a.get_ylabel() and a.get_title() for a in fig.axes)
    # θ = 0 under multiplicative noise is a point mass, drawn as a spike and named in the legend
    fig0 = plot_attacker_win_rate(0.5, value_a=0.0, value_b=1.0, stddevs=[0.1, 1.0])
    assert any("always exactly 0" in t.get_text() for t in fig0.axes[0].get_legend().get_texts())
    assert np.all(fig0.axes[1].get_lines()[1].get_ydata() == 1.0)
