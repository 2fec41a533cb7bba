"""Sliders of notebook 03: ε and δ → the analytic and classic Gaussian σ
(``plots.gaussian.plot_gaussian_stddev``). The classic σ is printed only where the library
defines it (ε < 1); otherwise the ValueError the library raises is printed instead. Claim C1:
"noise s" and "releases" → the optimal attacker's win rate against additive vs multiplicative
noise (``plots.gaussian.plot_attacker_win_rate``)."""
from __future__ import annotations

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.mechanisms import analytic_gaussian_stddev, classic_gaussian_stddev
from fldp_teach.plots.gaussian import (
    attacker_win_rate,
    multiplicative_win_rate_limit,
    plot_attacker_win_rate,
    plot_gaussian_stddev,
)

__all__ = ["gaussian_explorer", "multiplicative_vs_additive_explorer"]


def gaussian_explorer(*, epsilon: float = 0.5, delta: float = 1e-5, l2_sensitivity: float = 1.0) -> widgets.VBox:
    """"ε" (0.05 … 10) and "δ" (10⁻¹⁰ … 10⁻², log scale) sliders → prints ``ε``, ``δ``, ``Δ₂``,
    ``σ`` (analytic, Balle & Wang 2018) and ``σ_classic`` (Dwork & Roth Thm A.1, or the library's
    error for ε ≥ 1), and draws ``plot_gaussian_stddev``."""
    eps = widgets.FloatSlider(value=epsilon, min=0.05, max=10.0, step=0.05, description="ε",
                              continuous_update=False, readout_format=".2f")
    dlt = widgets.FloatLogSlider(value=delta, base=10, min=-10, max=-2, step=0.5, description="δ",
                                 continuous_update=False, readout_format=".0e")

    def show(epsilon, delta):
        sigma = analytic_gaussian_stddev(epsilon=epsilon, delta=delta, l2_sensitivity=l2_sensitivity)
        print(f"ε = {epsilon:.3f}")
        print(f"δ = {delta:.2e}")
        print(f"Δ₂ = {l2_sensitivity:.3f}")
        print(f"σ = {sigma:.3f}")
        try:
            classic = classic_gaussian_stddev(epsilon=epsilon, delta=delta, l2_sensitivity=l2_sensitivity)
            print(f"σ_classic = {classic:.3f}")
        except ValueError as err:
            print(f"σ_classic: not defined — the library raises ValueError: {err}")
        display(plot_gaussian_stddev(epsilon, delta, l2_sensitivity=l2_sensitivity))

    out = widgets.interactive_output(show, {"epsilon": eps, "delta": dlt})
    return widgets.VBox([widgets.HBox([eps, dlt]), out])


def multiplicative_vs_additive_explorer(*, stddev: float = 1.0, value_a: float = 1.0, value_b: float = 3.0,
                                        releases: int = 1) -> widgets.VBox:
    """Claim C1 (article §3.1): "noise s" (10⁻² … 10², log scale) and "releases" (1 … 50) sliders →
    prints ``noise s``, ``releases``, ``win rate additive`` and ``win rate multiplicative`` (the
    optimal attacker telling θ = ``value_a`` from θ = ``value_b``, computed by
    ``plots.gaussian.attacker_win_rate``: Φ(√k|a − b|/(2s)) for additive noise) and the s → ∞
    limit of the multiplicative one, and draws ``plot_attacker_win_rate``."""
    noise = widgets.FloatLogSlider(value=stddev, base=10, min=-2, max=2, step=0.1, description="noise s",
                                   continuous_update=False, readout_format=".3f")
    count = widgets.IntSlider(value=releases, min=1, max=50, step=1, description="releases",
                              continuous_update=False)

    def show(stddev, releases):
        add = attacker_win_rate(noise="additive", value_a=value_a, value_b=value_b, stddev=stddev,
                                releases=releases)
        mult = attacker_win_rate(noise="multiplicative", value_a=value_a, value_b=value_b, stddev=stddev,
                                 releases=releases)
        limit = multiplicative_win_rate_limit(value_a=value_a, value_b=value_b, releases=releases)
        print(f"noise s = {stddev:.3f}")
        print(f"releases = {releases}")
        print(f"win rate additive = {add:.3f}")
        print(f"win rate multiplicative = {mult:.3f}")
        print(f"win rate multiplicative, s → ∞ = {limit:.3f}  (coin flip: 0.500)")
        display(plot_attacker_win_rate(stddev, value_a=value_a, value_b=value_b, releases=releases))

    out = widgets.interactive_output(show, {"stddev": noise, "releases": count})
    return widgets.VBox([widgets.HBox([noise, count]), out])
