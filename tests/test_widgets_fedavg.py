"""Widgets of notebook 09 build without a browser and redraw when a slider moves."""
import re

import ipywidgets as widgets
import matplotlib
import pytest

from fldp_teach.data import load_digits, partition_dirichlet
from fldp_teach.simulation import History
from fldp_teach.widgets.fedavg import label_skew_explorer, local_epochs_explorer

matplotlib.use("Agg")


def _sliders(box):
    """description -> slider, for every slider inside ``box`` (nested boxes included)."""
    found = {}
    for child in box.children:
        if isinstance(child, widgets.Box):
            found.update(_sliders(child))
        elif isinstance(child, (widgets.FloatSlider, widgets.IntSlider, widgets.FloatLogSlider,
                                widgets.SelectionSlider)):
            found[child.description] = child
    return found


def _printed(text, name):
    values = re.findall(r"(?m)^(?:\x1b\[2K\r)*" + re.escape(name) + r" = ([-0-9.]+)", text)
    return float(values[-1]) if values else None


def test_label_skew_explorer_prints_entropy_of_the_partition(capsys):
    ds = load_digits(as_images=False)
    box = label_skew_explorer(ds.x_train, ds.y_train, num_clients=6, alpha=1.0, seed=3)
    alpha = _sliders(box)["α"]
    assert alpha.continuous_update is False
    capsys.readouterr()
    alpha.value = 0.1
    out = capsys.readouterr().out
    assert _printed(out, "α") == pytest.approx(0.1, abs=1e-3)
    want = partition_dirichlet(ds.x_train, ds.y_train, num_clients=6, alpha=0.1, seed=3).label_entropy.mean()
    assert _printed(out, "mean label entropy") == pytest.approx(want, abs=5e-4)
    assert "Figure" in out


def _history(accuracies):
    return History(records=[dict(round=r + 1, accuracy=a, bytes_down=500_000, bytes_up=500_000)
                            for r, a in enumerate(accuracies)])


def test_local_epochs_explorer_selects_precomputed_runs(capsys):
    runs = {1: _history([0.5, 0.7, 0.8, 0.9]), 5: _history([0.8, 0.92, 0.95, 0.96])}
    box = local_epochs_explorer(runs, target=0.9)
    sliders = _sliders(box)
    assert set(sliders) == {"E", "target"}
    capsys.readouterr()
    sliders["E"].value = 5
    out = capsys.readouterr().out
    assert _printed(out, "E") == 5
    assert _printed(out, "rounds to target") == 2
    assert _printed(out, "MB to target") == pytest.approx(2.0)
    sliders["target"].value = 0.99
    assert "not reached in 4 rounds" in capsys.readouterr().out


def test_weighting_explorer_prints_both_means(capsys):
    from fldp_teach.widgets.fedavg import weighting_explorer

    box = weighting_explorer(values=(1.0, 2.0, 3.0, 6.0), num_examples=(500, 300, 100, 20))
    sliders = _sliders(box)
    assert set(sliders) == {"n_1", "n_2", "n_3", "n_4"}
    assert all(isinstance(s, widgets.IntSlider) and s.continuous_update is False for s in sliders.values())
    out = capsys.readouterr().out
    assert _printed(out, "n_1") == 500
    assert _printed(out, "unweighted mean") == 3.0
    assert _printed(out, "weighted mean") == pytest.approx(1520 / 920, abs=5e-4)
    sliders["n_4"].value = 1000   # the outlier client becomes the largest
    out = capsys.readouterr().out
    assert _printed(out, "n_4") == 1000
    assert _printed(out, "unweighted mean") == 3.0
    assert _printed(out, "weighted mean") == pytest.approx(7400 / 1900, abs=5e-4)
    assert _printed(out, "pooled-data mean") == _printed(out, "weighted mean")
    assert "Figure" in out
    for s in sliders.values():
        s.value = 100              # equal n_k: the article's Eq. (2) and FedAvg agree
    out = capsys.readouterr().out
    assert _printed(out, "weighted mean") == _printed(out, "unweighted mean") == 3.0
    with pytest.raises(ValueError, match=r"num_examples\[0\]"):
        weighting_explorer(values=(1.0, 2.0), num_examples=(0, 5))
