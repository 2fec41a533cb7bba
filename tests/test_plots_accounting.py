"""Figures and helpers of notebook 08: each accountant's ε against closed forms and the library,
the ordering naive ≥ RDP classic ≥ RDP improved ≥ PLD, and the figures' lines and labels."""
from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from fldp_teach.accounting import (
    RdpAccountant,
    SampledGaussian,
    ShuffledGaussian,
    advanced_composition,
    dp_sgd_epsilon,
)
from fldp_teach.mechanisms import analytic_gaussian_delta
from fldp_teach.plots.accounting import (
    amplified_gaussian_epsilon,
    composition_curves,
    composition_epsilons,
    cumulative_ledger_epsilons,
    pld_epsilon,
    plot_attacker_odds,
    plot_composition,
    plot_ledger,
    plot_poisson_vs_shuffled,
    posterior_bound,
)


def test_amplified_gaussian_epsilon_inverts_the_analytic_gaussian():
    z, q, d = 1.3, 0.02, 1e-7
    eps0 = amplified_gaussian_epsilon(noise_multiplier=z, sampling_rate=q, delta=d)
    eps_g = math.log1p(math.expm1(eps0) / q)  # undo the amplification
    assert analytic_gaussian_delta(stddev=z, epsilon=eps_g, l2_sensitivity=1.0) == pytest.approx(d / q, rel=1e-8)
    # q = 1: no amplification, the Gaussian's own ε
    e1 = amplified_gaussian_epsilon(noise_multiplier=z, sampling_rate=1.0, delta=d)
    assert analytic_gaussian_delta(stddev=z, epsilon=e1, l2_sensitivity=1.0) == pytest.approx(d, rel=1e-8)
    assert amplified_gaussian_epsilon(noise_multiplier=z, sampling_rate=0.0, delta=d) == 0.0


def test_composition_epsilons_match_their_definitions_and_order():
    z, q, t, d = 1.1, 0.01, 500, 1e-5
    eps = composition_epsilons(noise_multiplier=z, sampling_rate=q, steps=t, delta=d)
    assert eps["rdp_improved"] == dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=t, delta=d)
    assert eps["rdp_classic"] == dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=t, delta=d,
                                                conversion="classic")
    e_naive = amplified_gaussian_epsilon(noise_multiplier=z, sampling_rate=q, delta=d / t)
    assert eps["naive"] == pytest.approx(t * e_naive, rel=1e-12)
    e_adv = amplified_gaussian_epsilon(noise_multiplier=z, sampling_rate=q, delta=d / (2 * t))
    assert eps["advanced"] == pytest.approx(
        advanced_composition(epsilon=e_adv, delta=0.0, steps=t, delta_prime=d / 2)[0], rel=1e-12)
    assert eps["naive"] > eps["rdp_classic"] > eps["rdp_improved"] > 0


def test_abadi_et_al_moments_accountant_example():
    """Abadi et al. 2016, §3.1/§5: q = 0.01, σ = 4, T = 10000, δ = 1e-5 gives ε ≈ 1.26 with
    the moments accountant (our RDP, classic conversion), far below strong composition."""
    eps = composition_epsilons(noise_multiplier=4.0, sampling_rate=0.01, steps=10_000, delta=1e-5)
    assert eps["rdp_classic"] == pytest.approx(1.26, abs=0.005)
    assert eps["advanced"] > 5 * eps["rdp_classic"]


def test_pld_reference_is_below_rdp_and_close():
    z, q, t, d = 1.1, 0.01, 200, 1e-5
    pld = pld_epsilon(noise_multiplier=z, sampling_rate=q, steps=t, delta=d)
    rdp = dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=t, delta=d)
    assert 0.5 * rdp < pld < rdp  # PLD is tight; RDP is an upper bound ~ 1.2-1.5x above here


def test_curves_are_increasing_in_steps():
    curves = composition_curves(noise_multiplier=1.0, sampling_rate=0.01, steps_grid=[1, 10, 100, 1000],
                                delta=1e-5)
    for key, values in curves.items():
        assert np.all(np.diff(values) > 0), key


def test_posterior_bound_closed_form():
    assert posterior_bound(epsilon=math.log(3), prior=0.5) == pytest.approx(0.75)
    assert posterior_bound(epsilon=1.0, prior=0.0) == 0.0
    assert posterior_bound(epsilon=1.0, prior=1.0) == 1.0
    with pytest.raises(ValueError, match="prior must be in"):
        posterior_bound(epsilon=1.0, prior=1.5)


def test_plot_composition_lines_and_labels():
    fig = plot_composition(1.1, 0.004, 1000, 1e-5, pld=0.9)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [l.get_label() for l in ax.get_lines()]
    for name in ("naive composition", "advanced composition", "RDP, classic conversion",
                 "RDP, improved conversion", "PLD (dp-accounting)"):
        assert name in labels
    assert ax.get_xlabel() == "steps T" and "ε" in ax.get_ylabel()
    assert ax.get_xscale() == "log"


def test_plot_attacker_odds_and_poisson_vs_shuffled():
    fig = plot_attacker_odds((1.0, 3.0))
    assert len(fig.axes[0].get_lines()) == 3 and "prior" in fig.axes[0].get_xlabel()
    fig = plot_poisson_vs_shuffled(noise_multiplier=1.1, batch_size=256, num_examples=60_000,
                                   max_epochs=3, delta=1e-5)
    shuffled, poisson = (l.get_ydata() for l in fig.axes[0].get_lines())
    # shuffled charged soundly = 3 Gaussian mechanisms of z = 1.1, far above the Poisson claim
    assert shuffled[-1] == pytest.approx(
        RdpAccountant().compose(ShuffledGaussian(1.1, 256, 60_000, 3)).epsilon(delta=1e-5))
    assert np.all(shuffled > poisson)


def test_ledger_cumulative_epsilons_and_plot():
    acc = RdpAccountant()
    acc.compose(SampledGaussian(2.0, 0.01, 500), label="warm-up")
    acc.compose(SampledGaussian(1.0, 0.01, 500), label="main")
    rows = cumulative_ledger_epsilons(acc, delta=1e-5)
    assert [r[0] for r in rows] == ["warm-up", "main"]
    first = RdpAccountant().compose(SampledGaussian(2.0, 0.01, 500)).epsilon(delta=1e-5)
    assert rows[0][1] == pytest.approx(first) and rows[1][1] == pytest.approx(acc.epsilon(delta=1e-5))
    fig = plot_ledger(acc, delta=1e-5)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["warm-up", "main"]
