"""Fraud metrics by hand, ROC points vs the Mann–Whitney AUC, and the figures' lines/labels."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fldp_teach.plots.applications import (
    majority_accuracy, plot_fraud_threshold, plot_training_curves, roc_curve_points, threshold_metrics)
from fldp_teach.simulation import roc_auc

Y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
S = np.array([0.9, 0.8, 0.4, 0.4, 0.3, 0.2, 0.1, 0.1, 0.05, 0.0])


def test_majority_accuracy_is_one_minus_fraud_rate():
    assert majority_accuracy(Y) == pytest.approx(0.8)
    assert majority_accuracy(np.r_[np.ones(98), np.zeros(2)]) == pytest.approx(0.98)


def test_threshold_metrics_by_hand():
    m = threshold_metrics(Y, S, 0.4)  # flags 0.9, 0.8, 0.4, 0.4 -> TP 2, FP 2, FN 0, TN 6
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 2, 0, 6)
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(1.0)
    assert m["false_positive_rate"] == pytest.approx(2 / 8)
    nothing = threshold_metrics(Y, S, 0.95)  # "never fraud": majority accuracy, recall 0
    assert nothing["accuracy"] == pytest.approx(majority_accuracy(Y))
    assert nothing["recall"] == 0.0 and math.isnan(nothing["precision"])


def test_roc_points_by_hand_and_area_equals_mann_whitney():
    fpr, tpr, th = roc_curve_points(Y, S)
    assert th[0] == np.inf and (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    # threshold 0.9: (0, 1/2); 0.8: (1/8, 1/2); 0.4 (a tie of one fraud and one legit): (2/8, 1)
    np.testing.assert_allclose(fpr[1:4], [0, 1 / 8, 2 / 8])
    np.testing.assert_allclose(tpr[1:4], [0.5, 0.5, 1.0])
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(Y, S))
    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.05).astype(int)
    s = np.round(rng.random(500) + 0.5 * y, 1)  # many ties
    f, t, _ = roc_curve_points(y, s)
    assert np.trapezoid(t, f) == pytest.approx(roc_auc(y, s), abs=1e-12)


def test_bad_inputs_raise_naming_the_parameter():
    with pytest.raises(ValueError, match="labels"):
        threshold_metrics([0, 2], [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match="scores"):
        threshold_metrics([0, 1], [0.1, np.nan], 0.5)
    with pytest.raises(ValueError, match="threshold"):
        threshold_metrics([0, 1], [0.1, 0.2], float("nan"))
    with pytest.raises(ValueError, match="both classes"):
        roc_curve_points([0, 0], [0.1, 0.2])


def test_fraud_figure_has_roc_lines_points_and_bars():
    fig = plot_fraud_threshold(Y, {"DP": S, "no DP": S[::-1]}, 0.4)
    ax_roc, ax_bar = fig.axes
    labels = [l.get_label() for l in ax_roc.get_lines()]
    assert any(l.startswith("DP (AUC = ") for l in labels) and any("AUC = 0.5" in l for l in labels)
    assert "FPR" in ax_roc.get_xlabel() and "recall" in ax_roc.get_ylabel()
    assert len(ax_bar.patches) == 6  # 3 metrics x 2 models
    heights = [p.get_height() for p in ax_bar.patches[:3]]
    np.testing.assert_allclose(heights, [0.8, 0.5, 1.0])
    assert any("never fraud" in l.get_label() for l in ax_bar.get_lines())


def test_training_curves_figure():
    fig = plot_training_curves({"a": ([1, 2], [0.5, 0.6]), "b": ([1, 2], [0.4, 0.45])}, xlabel="epoch",
                               ylabel="accuracy", title="t", baseline=0.1, baseline_label="chance")
    ax = fig.axes[0]
    assert [l.get_label() for l in ax.get_lines()] == ["a", "b", "chance"]
    assert ax.get_xlabel() == "epoch" and ax.get_title() == "t"
    with pytest.raises(ValueError, match="curves"):
        plot_training_curves({}, xlabel="x", ylabel="y", title="t")
