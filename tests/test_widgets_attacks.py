"""Widgets of notebook 13 build without a browser; moving a slider reprints the library's values."""
import math
import re

import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest

from fldp_teach.membership import dp_advantage_bound, dp_max_auc, loss_threshold_attack
from fldp_teach.membership_experiment import MembershipTrial
from fldp_teach.widgets.attacks import inversion_explorer, membership_limit_explorer

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
    return [float(v) for v in re.findall(r"(?m)^(?:\x1b\[2K\r)*\s*" + re.escape(name) + r"\s*=\s*([-0-9.]+)", text)]


def test_membership_limit_explorer(capsys):
    rng = np.random.default_rng(0)
    lm, ln = rng.exponential(0.3, 40), rng.exponential(1.0, 40)
    trial = MembershipTrial(label="no DP", epsilon=math.inf, noise_multiplier=0.0, member_losses=lm,
                            nonmember_losses=ln, member_accuracy=1.0, nonmember_accuracy=0.8,
                            attack=loss_threshold_attack(lm, ln))
    box = membership_limit_explorer([trial], epsilon=1.0, delta=1e-5)
    slider = _sliders(box)["ε"]
    assert not slider.continuous_update
    capsys.readouterr()
    slider.value = 2.5
    out = capsys.readouterr().out
    assert _printed(out, "ε") == [2.5]
    assert _printed(out, "advantage bound") == [pytest.approx(dp_advantage_bound(epsilon=2.5, delta=1e-5), abs=5e-4)]
    assert _printed(out, "AUC bound") == [pytest.approx(dp_max_auc(epsilon=2.5, delta=1e-5), abs=5e-4)]
    assert f"advantage {trial.attack.advantage:.3f}" in out and "Figure" in out


def test_inversion_explorer(capsys):
    from fldp_teach.inversion import NoiseSweep

    x = np.linspace(0, 1, 64)
    zs = np.array([0.0, 0.1, 1.0])
    rec = np.stack([np.stack([x, x]), np.stack([x * 0.5 + 0.3, x]), np.stack([1 - x, x])])
    sim = np.array([[1.0, 1.0], [0.9, 1.0], [-0.2, 1.0]])
    sweep = NoiseSweep(noise_multipliers=zs, reconstructions=rec, similarity=sim, error=np.zeros((3, 2)) + 0.25,
                       original=x, raw=x, clip_norm=1.0, seed=0)
    box = inversion_explorer(sweep, noise_multiplier=0.1)
    slider = _sliders(box)["noise z"]
    assert slider.value == 0.1 and not slider.continuous_update
    capsys.readouterr()
    slider.value = 1.0
    out = capsys.readouterr().out
    assert _printed(out, "noise z") == [1.0]
    assert _printed(out, "similarity") == [-0.2]
    assert _printed(out, "relative error") == [0.25] and "Figure" in out
