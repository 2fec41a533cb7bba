"""Figures and formulas of notebooks 05–07: the DP transfer bound and the add/remove → replace-one
conversion by hand; every figure has its lines, labels and title."""
from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from fldp_teach.plots.private_training import (
    dp_generalization_bound,
    epochs_to_accuracy,
    plot_accuracy_per_epoch,
    plot_accuracy_vs_epsilon,
    plot_generalization_gaps,
    plot_step_time_ratios,
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


def test_epochs_to_accuracy_counts_from_one_and_takes_the_first_crossing():
    assert epochs_to_accuracy([0.9, 0.93, 0.95, 0.91], target=0.93) == 2   # equal counts
    assert epochs_to_accuracy([0.95, 0.5], target=0.93) == 1
    assert epochs_to_accuracy([0.9, math.nan, 0.92], target=0.93) is None
    assert epochs_to_accuracy(np.array([0.5, 0.8]), target=0.8) == 2
    with pytest.raises(ValueError, match="target must be in"):
        epochs_to_accuracy([0.9], target=1.5)


def test_plot_step_time_ratios_bars_are_ratios_to_the_baseline():
    times = {"logistic, B = 32": {"non-private": 2e-3, "DP fast": 3e-3, "DP vectorized": 8e-3},
             "MLP, B = 32": {"non-private": 1e-3, "DP fast": 1e-3, "DP vectorized": 5e-3}}
    ax = plot_step_time_ratios(times).axes[0]
    # bars are drawn variant by variant: DP fast (both groups), then DP vectorized
    assert [p.get_height() for p in ax.patches] == pytest.approx([1.5, 1.0, 4.0, 5.0])
    assert [t.get_text() for t in ax.texts] == ["1.50×", "1.00×", "4.00×", "5.00×"]
    assert ax.get_legend_handles_labels()[1] == ["non-private (= 1)", "DP fast", "DP vectorized"]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(times)
    assert "step time" in ax.get_ylabel()


def test_plot_accuracy_per_epoch_marks_the_first_epoch_of_the_mean():
    curves = {"non-private": [[0.92, 0.95, 0.96], [0.95, 0.95, 0.97]],   # mean 0.935 at epoch 1
              "DP-SGD, ε = 1": [[0.80, 0.90, 0.92]]}                    # never
    ax = plot_accuracy_per_epoch(curves, target=0.93).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["non-private: 1 epoch", "DP-SGD, ε = 1: not reached"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.935, 0.95, 0.965])
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "test accuracy"
    assert ax.get_ylim()[0] == pytest.approx(0.78)
