"""The demo slider of notebook 00: one ε slider driving ``plots.tour.plot_privacy_factor``.

It shows how every widget of the course works: sliders above, an output area below that
prints the key numbers as ``name = value`` lines and redraws the figure when a slider is
released (``continuous_update=False``)."""
from __future__ import annotations

import math

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.plots.tour import plot_privacy_factor

__all__ = ["privacy_factor_demo"]


def _show(epsilon: float) -> None:
    print(f"ε = {epsilon:.3f}")
    print(f"e^ε = {math.exp(epsilon):.3f}")
    display(plot_privacy_factor(epsilon))


def privacy_factor_demo(*, epsilon: float = 1.0) -> widgets.VBox:
    """A VBox: an "ε" slider (0.05 … 5) above an output area with ``ε = …``, ``e^ε = …`` and
    the figure of ``plot_privacy_factor``."""
    slider = widgets.FloatSlider(value=epsilon, min=0.05, max=5.0, step=0.05, description="ε",
                                 continuous_update=False, readout_format=".2f")
    out = widgets.interactive_output(_show, {"epsilon": slider})
    return widgets.VBox([slider, out])
