"""The accounting explorer builds without a browser, prints ε = dp_sgd_epsilon(...) exactly as
the browser test reads it, updates when a slider moves, and shows ε_PLD after the button."""
from __future__ import annotations

import re

import pytest

from fldp_teach.accounting import dp_sgd_epsilon
from fldp_teach.widgets.accounting import accounting_explorer


def _sliders(box):
    found = {}

    def walk(w):
        for child in getattr(w, "children", ()):
            walk(child)
        if hasattr(w, "description") and hasattr(w, "value") and hasattr(w, "continuous_update"):
            found[w.description] = w
    walk(box)
    return found


def _text(out, capsys):
    """What the widget printed: its Output widget's streams inside a kernel, stdout in pytest
    (without a kernel, ``with out:`` does not capture and print goes to sys.stdout)."""
    streams = "".join(o.get("text", "") for o in out.outputs if o.get("output_type") == "stream")
    return streams + capsys.readouterr().out


def _printed(text, name):
    values = re.findall(r"(?m)^\s*" + re.escape(name) + r"\s*=\s*([-+0-9.eE]+)", text)
    return values


def test_explorer_prints_epsilon_line_and_updates(capsys):
    box = accounting_explorer()
    sliders = _sliders(box)
    assert set(sliders) >= {"noise z", "q", "steps", "δ"}
    assert all(not s.continuous_update for s in sliders.values())
    out = box.children[-1]
    capsys.readouterr()
    sliders["noise z"].value = 1.5
    text = _text(out, capsys)
    eps = _printed(text, "ε")
    assert len(eps) == 1, text   # exactly one line "ε = ..."
    want = dp_sgd_epsilon(sampling_rate=sliders["q"].value, noise_multiplier=1.5,
                          steps=int(round(sliders["steps"].value)), delta=sliders["δ"].value)
    assert float(eps[0]) == pytest.approx(round(want, 3), abs=1e-12)
    assert _printed(text, "ε_classic") and _printed(text, "ε_naive")
    assert "press 'compute ε_PLD'" in text
    assert "Figure(" in text or any(o.get("output_type") == "display_data" for o in out.outputs)


def test_button_computes_pld_for_the_current_values(capsys):
    box = accounting_explorer(noise_multiplier=2.0, sampling_rate=0.01, steps=100)
    button = box.children[1].children[-1]
    out = box.children[-1]
    capsys.readouterr()
    button.click()
    text = _text(out, capsys)
    pld = _printed(text, "ε_PLD")
    assert len(pld) == 1
    assert 0 < float(pld[0]) <= float(_printed(text, "ε")[0])
