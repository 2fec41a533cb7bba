"""The DP-SGD trainer builds without a browser, updates ε_planned when a slider moves (no
training), and trains only when the button is pressed, printing ε and accuracy."""
from __future__ import annotations

import math
import re

import pytest

from fldp_teach.accounting import dp_sgd_epsilon
from fldp_teach.data import load_breast_cancer


def _sliders(box):
    found = {}

    def walk(w):
        for child in getattr(w, "children", ()):
            walk(child)
        if hasattr(w, "continuous_update") and hasattr(w, "description"):
            found[w.description] = w
    walk(box)
    return found


def _printed(text, name):
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)  # clear_output's ANSI codes outside a kernel
    return [float(v) for v in re.findall(r"(?m)^\s*" + re.escape(name) + r"\s*=\s*([-+0-9.eEinf]+)", text)]


def test_sliders_update_planned_epsilon_and_button_trains(capsys):
    from fldp_teach.widgets.private_training import dp_sgd_trainer

    data = load_breast_cancer(seed=0)
    box = dp_sgd_trainer(data, epochs=2, seed=0)
    sliders = _sliders(box)
    assert set(sliders) == {"noise z", "clip C", "batch B"}
    assert all(not s.continuous_update for s in sliders.values())
    capsys.readouterr()
    sliders["batch B"].value = 64
    text = capsys.readouterr().out
    n = len(data.y_train)
    want = dp_sgd_epsilon(sampling_rate=64 / n, noise_multiplier=1.0, steps=2 * math.ceil(n / 64), delta=1e-5)
    assert _printed(text, "ε_planned") == [pytest.approx(round(want, 3), abs=1e-12)]
    assert "ε =" not in text   # a slider tick never trains

    button = box.children[1].children[0]
    assert button.description == "train"
    button.click()
    text = capsys.readouterr().out
    (eps,) = _printed(text, "ε")
    assert eps == pytest.approx(round(want, 3), abs=1e-12)  # the ledger of the run = the plan
    (acc,) = _printed(text, "accuracy")
    assert 0.5 < acc <= 1.0
    assert "Figure(" in text
