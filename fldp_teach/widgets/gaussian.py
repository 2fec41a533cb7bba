"""Sliders of notebook 03: ε and δ → the analytic and classic Gaussian σ
(``plots.gaussian.plot_gaussian_stddev``). The classic σ is printed only where the library
defines it (ε < 1); otherwise the ValueError the library raises is printed instead."""
from __future__ import annotations

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.mechanisms import analytic_gaussian_stddev, classic_gaussian_stddev
from fldp_teach.plots.gaussian import plot_gaussian_stddev

__all__ = ["gaussian_explorer"]


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
