"""Figures and formulas of notebook 05: the DP transfer bound and the add/remove → replace-one
conversion by hand; every figure has its lines, labels and title."""
from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from fldp_teach.plots.private_training import (
    dp_generalization_bound,
    plot_accuracy_vs_epsilon,
    plot_generalization_gaps,
    plot_training_run,
    replace_one_from_add_remove,
)
from fldp_teach.training import TrainingHistory


def test_generalization_bound_and_conversion_by_hand():
    assert dp_generalization_bound(epsilon=0.1, delta=1e-5) == pytest.approx(math.exp(0.1) - 1 + 1e-5)
    assert dp_generalization_bound(epsilon=math.log(2)) == pytest.approx(1.0)  # vacuous from here on
    assert dp_generalization_bound(epsilon=math.inf) == math.inf
    assert replace_one_from_add_remove(epsilon=1.0, delta=1e-5) == pytest.approx((2.0, (1 + math.e) * 1e-5))
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        dp_generalization_bound(epsilon=-1.0)
    with pytest.raises(ValueError, match="delta must be in"):
        replace_one_from_add_remove(epsilon=1.0, delta=2.0)


def test_plot_accuracy_vs_epsilon():
    eps = [0.5, 1.0, 4.0]
    fig = plot_accuracy_vs_epsilon({"output perturbation": (eps, np.array([[0.5, 0.6], [0.7, 0.8], [0.9, 0.9]])),
                                    "DP-SGD": (eps, [[0.9], [0.92], [0.95]])}, baseline=0.97)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "privacy budget ε"
    labels = ax.get_legend_handles_labels()[1]
    assert sorted(labels) == ["DP-SGD", "non-private", "output perturbation"]
    # the first line's y data are the means over seeds
    means = [c.lines[0].get_ydata() for c in ax.containers]
    np.testing.assert_allclose(means[0], [0.55, 0.75, 0.9])


def _history(private=True):
    return TrainingHistory(loss=(0.6, 0.4), accuracy=(0.8, 0.9), val_loss=(0.6, 0.5),
                           val_accuracy=(0.78, 0.88), epsilon=(1.0, 1.5) if private else (math.inf,) * 2,
                           step_time=(0.1, 0.01), noise_multiplier=1.0 if private else 0.0,
                           clip_norm=1.0 if private else math.inf, delta=1e-5 if private else None,
                           sampling="poisson", method="fast" if private else "non-private", steps=20)


def test_plot_training_run_lines_and_title():
    fig = plot_training_run(_history(), baseline=_history(private=False))
    ax = fig.axes[0]
    assert [l.get_label() for l in ax.get_lines()] == [
        "DP-SGD, train", "DP-SGD, test", "non-private, train", "non-private, test"]
    assert "ε = 1.50" in ax.get_title() and ax.get_xlabel() == "epoch"


def test_plot_generalization_gaps():
    fig = plot_generalization_gaps([("non-private", [0.2, 0.3]), ("DP z = 1", [0.01, -0.02, 0.0])])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["non-private", "DP z = 1"]
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.25, -0.01 / 3])
    assert "test loss − train loss" in ax.get_ylabel()
