"""Widgets of notebook 10 build without a browser; moving a slider reprints the library's ε."""
import re

import ipywidgets as widgets
import matplotlib
import pytest

from fldp_teach.accounting import dp_sgd_epsilon
from fldp_teach.widgets.dp_fedavg import central_dp_explorer, privacy_utility_explorer

matplotlib.use("Agg")


def _sliders(box):
    found = {}
    for child in box.children:
        if isinstance(child, widgets.Box):
            found.update(_sliders(child))
        elif isinstance(child, (widgets.FloatSlider, widgets.IntSlider, widgets.SelectionSlider)):
            found[child.description] = child
    return found


def _printed(text, name):
    values = re.findall(r"(?m)^(?:\x1b\[2K\r)*\s*" + re.escape(name) + r"\s*=\s*([-0-9.]+)", text)
    return [float(v) for v in values]


def test_central_dp_explorer_prints_the_accountants_epsilon(capsys):
    box = central_dp_explorer(noise_multiplier=1.0, rounds=50, sampling_rate=0.1, num_clients=1000,
                              clip_norm=2.0, delta=1e-5)
    s = _sliders(box)
    assert {"noise z", "rounds", "q"} <= set(s)
    assert all(not w.continuous_update for w in s.values())
    capsys.readouterr()
    s["noise z"].value = 1.5
    out = capsys.readouterr().out
    want = dp_sgd_epsilon(sampling_rate=0.1, noise_multiplier=1.5, steps=50, delta=1e-5)
    assert _printed(out, "ε") == [pytest.approx(want, abs=5e-4)]          # exactly one ε line
    assert _printed(out, "server noise σ = zC/m")[0] == pytest.approx(1.5 * 2.0 / 100, abs=5e-4)
    s["q"].value = 0.2
    s["rounds"].value = 10
    out = capsys.readouterr().out
    want = dp_sgd_epsilon(sampling_rate=0.2, noise_multiplier=1.5, steps=10, delta=1e-5)
    assert _printed(out, "ε")[-1] == pytest.approx(want, abs=5e-4)
    assert _printed(out, "clients per round m = qK")[-1] == pytest.approx(200.0)


def test_privacy_utility_explorer_selects_runs(capsys):
    points = {0.5: (25.0, 0.89), 1.0: (5.9, 0.87), 2.0: (1.8, 0.85)}
    box = privacy_utility_explorer(points, baseline_accuracy=0.92)
    slider = _sliders(box)["z of run"]
    capsys.readouterr()
    slider.value = 2.0
    out = capsys.readouterr().out
    assert _printed(out, "user-level ε of this run") == [1.8]
    assert _printed(out, "test accuracy") == [0.85]
    assert _printed(out, "accuracy lost to privacy") == [pytest.approx(0.07)]
    assert "Figure" in out
