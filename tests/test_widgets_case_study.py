"""The noise-schedule widget builds without a browser and reprints ε when a slider moves."""
from __future__ import annotations

import re

import pytest

from fldp_teach.plots.case_study import schedule_epsilons
from fldp_teach.widgets.case_study import noise_schedule_explorer


def _text(out, capsys):
    streams = "".join(o.get("text", "") for o in out.outputs if o.get("output_type") == "stream")
    return streams + capsys.readouterr().out


def _value(text, name):
    found = re.findall(r"(?m)(?<![\w ])" + re.escape(name) + r" = ([-+0-9.eE]+)", text)
    assert len(found) == 1, text
    return float(found[0])


def test_schedule_sliders_update_epsilon(capsys):
    sizes = [100, 120]
    box = noise_schedule_explorer(num_examples=sizes, batch_size=16, rounds=6, start=3.0, end=1.0, switch=3)
    z1, z2, sw = box.children[0].children
    out = box.children[1]
    assert (z1.description, z2.description, sw.description) == ("z start", "z end", "switch")
    assert not any(s.continuous_update for s in (z1, z2, sw))
    capsys.readouterr()
    z2.value = 2.0
    text = _text(out, capsys)
    want = schedule_epsilons([3.0] * 3 + [2.0] * 3, num_examples=sizes, batch_size=16, delta=1e-5)[-1]
    assert _value(text, "ε") == pytest.approx(round(want, 3))
    sw.value = 6
    text = _text(out, capsys)
    want = schedule_epsilons([3.0] * 6, num_examples=sizes, batch_size=16, delta=1e-5)[-1]
    assert _value(text, "ε") == pytest.approx(round(want, 3))
    assert _value(text, "ε constant") == pytest.approx(round(want, 3))
