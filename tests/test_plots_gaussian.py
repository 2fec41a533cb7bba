"""plots.gaussian: the extrapolated classic formula, the σ/δ curves drawn from the library, and the
likelihood-ratio adversary (additive: closed form Φ(√k|a−b|/(2σ)); multiplicative: the leak)."""
import math

import numpy as np
import pytest
from scipy import stats

from fldp_teach.mechanisms import analytic_gaussian_stddev, classic_gaussian_stddev
from fldp_teach.plots.gaussian import (
    classic_formula_stddev,
    distinguisher_success,
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
