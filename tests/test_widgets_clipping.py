"""widgets.clipping: "clip C" and "noise z" sliders reprint the library's bias and zC/B."""
import math
import re

import numpy as np

from fldp_teach.clipping import clipped_mean_bias_variance
from fldp_teach.widgets.clipping import clipping_explorer


def _sliders(box):
    found, stack = {}, [box]
    while stack:
        w = stack.pop()
        if hasattr(w, "continuous_update") and hasattr(w, "value"):
            found[w.description] = w
        stack.extend(getattr(w, "children", ()))
    return found


def _printed(text, name):
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    values = re.findall(r"(?m)^\s*" + re.escape(name) + r" = ([-+0-9.eE]+)", text)
    assert values, f"no '{name} = …' in\n{text}"
    return float(values[-1])


def test_clip_slider_updates(capsys):
    v = np.random.default_rng(0).normal(size=(100, 4)) * 3
    box = clipping_explorer(v, clip_norm=1.0, noise_multiplier=1.0)
    s = _sliders(box)
    assert set(s) == {"clip C", "noise z"} and all(w.continuous_update is False for w in s.values())
    s["clip C"].value = 4.0
    s["noise z"].value = 2.0
    out = capsys.readouterr().out
    c = _printed(out, "clip C")
    assert math.isclose(c, 4.0, rel_tol=1e-3)
    e = clipped_mean_bias_variance(v, clip_norm=s["clip C"].value, noise_multiplier=2.0)
    assert _printed(out, "bias") == round(e.bias, 3)
    assert _printed(out, "noise std") == round(2.0 * s["clip C"].value / 100, 3)
    assert _printed(out, "fraction clipped") == round(e.fraction_clipped, 3)
