"""The fraud-threshold widget builds without a browser and reprints its metrics when the
slider moves (values equal to threshold_metrics of the first model)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from fldp_teach.plots.applications import threshold_metrics
from fldp_teach.widgets.applications import fraud_threshold_explorer


def _text(out, capsys):
    streams = "".join(o.get("text", "") for o in out.outputs if o.get("output_type") == "stream")
    return streams + capsys.readouterr().out


def _value(text, name):
    found = re.findall(r"(?m)(?<!\w)" + re.escape(name) + r" = ([-+0-9.eEna]+)$", text)
    assert len(found) == 1, text
    return float(found[0])


def test_slider_updates_printed_metrics(capsys):
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.1).astype(int)
    s = np.clip(rng.random(200) * 0.6 + 0.4 * y, 0, 1)
    box = fraud_threshold_explorer(y, {"DP": s, "other": rng.random(200)}, threshold=0.5)
    slider, out = box.children
    assert slider.description == "threshold" and not slider.continuous_update
    capsys.readouterr()
    slider.value = 0.3
    text = _text(out, capsys)
    want = threshold_metrics(y, s, 0.3)
    assert _value(text, "threshold") == pytest.approx(0.3)
    assert _value(text, "accuracy") == pytest.approx(round(want["accuracy"], 3))
    assert _value(text, "recall") == pytest.approx(round(want["recall"], 3))
    slider.value = 0.9
    text = _text(out, capsys)
    assert _value(text, "recall") == pytest.approx(round(threshold_metrics(y, s, 0.9)["recall"], 3))
