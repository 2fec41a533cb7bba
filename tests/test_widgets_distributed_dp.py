"""Notebook-09 widgets build without a browser and reprint their key values when a slider moves."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from fldp_teach.plots.distributed_dp import message_epsilon
from fldp_teach.widgets.distributed_dp import equal_epsilon_explorer, noise_placement_explorer


def _text(out, capsys):
    streams = "".join(o.get("text", "") for o in out.outputs if o.get("output_type") == "stream")
    return streams + capsys.readouterr().out


def _value(text, name):
    found = re.findall(r"(?m)(?<![\w ])" + re.escape(name) + r" = ([-+0-9.eE]+)", text)
    assert len(found) == 1, text
    return float(found[0])


def test_noise_placement_sliders(capsys):
    box = noise_placement_explorer(rounds=5)
    z, c, m = box.children[0].children
    out = box.children[1]
    assert (z.description, c.description, m.description) == ("noise z", "clip C", "m")
    assert not any(s.continuous_update for s in (z, c, m))
    capsys.readouterr()
    m.value = 25
    text = _text(out, capsys)
    assert _value(text, "σ") == pytest.approx(round(z.value * c.value / 25, 3))
    assert _value(text, "σ local") == pytest.approx(round(z.value * c.value / 5, 3))
    z.value = 2.0
    text = _text(out, capsys)
    assert _value(text, "σ share") == pytest.approx(round(2.0 * c.value / 5, 3))
    assert _value(text, "ε share") == pytest.approx(
        round(message_epsilon(noise_multiplier=2.0 / math.sqrt(25), rounds=5, delta=1e-5), 3))


def test_equal_epsilon_selection(capsys):
    r = np.arange(1, 4)
    runs = {"central": {2.0: (r, [0.1, 0.5, 0.8]), 8.0: (r, [0.2, 0.6, 0.9])},
            "local": {2.0: (r, [0.1, 0.1, 0.2]), 8.0: (r, [0.1, 0.2, 0.3])}}
    box = equal_epsilon_explorer(runs, baseline=(r, [0.3, 0.8, 0.95]), epsilon=2.0)
    slider, out = box.children
    assert slider.description == "ε" and not slider.continuous_update and list(slider.options) == [2.0, 8.0]
    capsys.readouterr()
    slider.value = 8.0
    text = _text(out, capsys)
    assert _value(text, "ε") == 8.0
    assert _value(text, "accuracy central") == 0.9 and _value(text, "accuracy local") == 0.3
