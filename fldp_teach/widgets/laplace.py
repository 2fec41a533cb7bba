"""Slider of notebook 02: ε (and Δ₁) → the Laplace scale and ``plots.laplace.plot_laplace``."""
from __future__ import annotations

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.mechanisms import laplace_scale
from fldp_teach.plots.laplace import plot_laplace

__all__ = ["laplace_explorer"]


def laplace_explorer(*, epsilon: float = 1.0, l1_sensitivity: float = 1.0, value: float = 0.0) -> widgets.VBox:
    """"ε" and "Δ₁" sliders → prints ``ε = …``, ``Δ₁ = …``, ``scale b = …`` (from
    ``mechanisms.laplace_scale``) and draws the neighbours' densities and the privacy loss."""
    eps = widgets.FloatSlider(value=epsilon, min=0.05, max=5.0, step=0.05, description="ε",
                              continuous_update=False, readout_format=".2f")
    sens = widgets.FloatSlider(value=l1_sensitivity, min=0.25, max=5.0, step=0.25, description="Δ₁",
                               continuous_update=False, readout_format=".2f")

    def show(epsilon, l1_sensitivity):
        b = laplace_scale(epsilon=epsilon, l1_sensitivity=l1_sensitivity)
        print(f"ε = {epsilon:.3f}")
        print(f"Δ₁ = {l1_sensitivity:.3f}")
        print(f"scale b = {b:.3f}")
        display(plot_laplace(epsilon, l1_sensitivity=l1_sensitivity, value=value))

    out = widgets.interactive_output(show, {"epsilon": eps, "l1_sensitivity": sens})
    return widgets.VBox([widgets.HBox([eps, sens]), out])
