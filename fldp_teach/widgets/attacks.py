"""Sliders of notebook 13 (what DP protects): the (ε, δ)-DP limit against the ROC curves of
models trained once in the notebook, and gradient inversion at a chosen noise level from a
precomputed sweep (thin wrappers over ``fldp_teach.plots.attacks``; nothing is trained here)."""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from fldp_teach.membership import dp_advantage_bound, dp_max_auc
from fldp_teach.membership_experiment import MembershipTrial
from fldp_teach.plots.attacks import plot_inversion_at_noise, plot_roc_curves

__all__ = ["membership_limit_explorer", "inversion_explorer"]


def membership_limit_explorer(trials: Sequence[MembershipTrial], *, epsilon: float = 1.0,
                              delta: float = 1e-5) -> widgets.VBox:
    """An "ε" slider: prints ``ε``, the ``advantage bound`` (e^ε − 1 + 2δ)/(e^ε + 1) and the
    ``AUC bound``, then each trained model's measured advantage and AUC, and draws
    :func:`fldp_teach.plots.attacks.plot_roc_curves` with that ε's DP limit. Milliseconds."""
    slider = widgets.FloatSlider(value=epsilon, min=0.05, max=8.0, step=0.05, description="ε",
                                 continuous_update=False, readout_format=".2f")

    def show(epsilon):
        print(f"ε = {epsilon:.3f}")
        print(f"advantage bound = {dp_advantage_bound(epsilon=epsilon, delta=delta):.3f}")
        print(f"AUC bound = {dp_max_auc(epsilon=epsilon, delta=delta):.3f}")
        for t in trials:
            print(f"  {t.label}: advantage {t.attack.advantage:.3f}, AUC {t.attack.auc:.3f}")
        display(plot_roc_curves(trials, epsilon=epsilon, delta=delta))

    return widgets.VBox([slider, widgets.interactive_output(show, {"epsilon": slider})])


def inversion_explorer(sweep, *, noise_multiplier: float | None = None) -> widgets.VBox:
    """A "noise z" slider over the z values of ``sweep`` (a
    :class:`fldp_teach.inversion.NoiseSweep` computed once): prints ``noise z``, the
    ``similarity`` (cosine, shown image) and ``relative error`` of the reconstruction, and draws
    :func:`fldp_teach.plots.attacks.plot_inversion_at_noise`."""
    options = [float(z) for z in sweep.noise_multipliers]
    value = options[len(options) // 2] if noise_multiplier is None else \
        options[int(np.argmin(np.abs(np.array(options) - noise_multiplier)))]
    slider = widgets.SelectionSlider(options=options, value=value, description="noise z",
                                     continuous_update=False)

    def show(noise_multiplier):
        k = options.index(noise_multiplier)
        print(f"noise z = {noise_multiplier:.3f}")
        print(f"similarity = {sweep.similarity[k, 0]:.3f}")
        print(f"relative error = {sweep.error[k, 0]:.3f}")
        print(f"(mean similarity over {sweep.similarity.shape[1]} noise draws: "
              f"{sweep.similarity[k].mean():.3f})")
        display(plot_inversion_at_noise(sweep, noise_multiplier))

    return widgets.VBox([slider, widgets.interactive_output(show, {"noise_multiplier": slider})])
