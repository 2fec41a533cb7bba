"""Sliders of notebook 04: the clip norm C (and the noise multiplier z) → the bias–variance
trade-off of the clipped, noised mean (``plots.clipping.plot_clipping_tradeoff``).

Nothing is trained on a slider tick: the per-example vectors are computed once, above the widget,
and passed in."""
from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from fldp_teach.clipping import clipped_mean_bias_variance
from fldp_teach.plots.clipping import plot_clipping_tradeoff

__all__ = ["clipping_explorer"]


def clipping_explorer(vectors, *, clip_norm: float = 1.0, noise_multiplier: float = 1.0) -> widgets.VBox:
    """"clip C" (log scale, 0.05 … 50) and "noise z" (0 … 5) sliders over fixed per-example vectors
    ([B, d]) → prints ``clip C``, ``fraction clipped``, ``bias``, ``noise std`` (zC/B per coordinate)
    and ``RMSE``, and draws ``plot_clipping_tradeoff``."""
    v = np.asarray(vectors, dtype=float)
    batch, dim = v.shape
    clip = widgets.FloatLogSlider(value=clip_norm, base=10, min=-1.3, max=1.7, step=0.01, description="clip C",
                                  continuous_update=False, readout_format=".3f")
    noise = widgets.FloatSlider(value=noise_multiplier, min=0.0, max=5.0, step=0.1, description="noise z",
                                continuous_update=False, readout_format=".1f")

    def show(clip_norm, noise_multiplier):
        err = clipped_mean_bias_variance(v, clip_norm=clip_norm, noise_multiplier=noise_multiplier)
        print(f"clip C = {clip_norm:.3f}")
        print(f"noise z = {noise_multiplier:.3f}")
        print(f"fraction clipped = {err.fraction_clipped:.3f}")
        print(f"bias = {err.bias:.3f}")
        print(f"noise std = {noise_multiplier * clip_norm / batch:.3f}   (zC/B per coordinate, B = {batch}, d = {dim})")
        print(f"RMSE = {math.sqrt(err.mse):.3f}")
        display(plot_clipping_tradeoff(v, clip_norm, noise_multiplier=noise_multiplier))

    out = widgets.interactive_output(show, {"clip_norm": clip, "noise_multiplier": noise})
    return widgets.VBox([widgets.HBox([clip, noise]), out])
