"""Figures of notebook 14 (beyond medicine): fraud detection, where accuracy misleads, and
the training curves of the sequence and image models.

Why accuracy misleads on rare events. With a fraud rate π = 2 %, the classifier that never
says "fraud" is right on every legitimate transaction, so its accuracy is 1 − π = 0.98 while it
catches no fraud at all. Threshold-free ranking quality is measured by the area under the ROC
curve, AUC = P[score(fraud) > score(legitimate)] (ties count ½), which is 0.5 for any constant
or random scorer whatever π is (Hanley & McNeil 1982, Radiology 143:29–36; Fawcett 2006,
"An introduction to ROC analysis", Pattern Recognition Letters 27:861–874). At one threshold t
(flag iff score ≥ t) the confusion counts TP, FP, TN, FN give

    accuracy = (TP + TN)/n,   precision = TP/(TP + FP),   recall = TPR = TP/(TP + FN),
    false-positive rate FPR = FP/(FP + TN),

and the ROC curve is (FPR(t), TPR(t)) for t running over all distinct scores (Fawcett 2006,
Alg. 1). Taught in notebooks/14_beyond_medicine.ipynb.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_finite
from fldp_teach.plots import MIN_FONT_SIZE

__all__ = [
    "majority_accuracy",
    "threshold_metrics",
    "roc_curve_points",
    "plot_fraud_threshold",
    "plot_training_curves",
]


def _binary(labels, scores=None):
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"labels must be a non-empty vector, got shape {labels.shape}")
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError(f"labels must be 0/1, got values {np.unique(labels)[:5]}")
    labels = labels.astype(bool)
    if scores is None:
        return labels
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != labels.shape:
        raise ValueError(f"scores must have one value per label, shape {labels.shape}, got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite, got NaN or Inf")
    return labels, scores


def majority_accuracy(labels) -> float:
    """Accuracy of always predicting the most frequent class: max(π, 1 − π) for a 0/1 vector
    with a fraction π of ones (0.98 at a 2 % fraud rate)."""
    labels = _binary(labels)
    pi = float(labels.mean())
    return max(pi, 1.0 - pi)


def threshold_metrics(labels, scores, threshold) -> dict:
    """Accuracy, precision, recall (TPR), FPR and the number flagged when we flag iff
    score ≥ ``threshold`` (formulas in the module docstring). Precision is NaN when nothing is
    flagged (0/0), recall NaN without positives, FPR NaN without negatives."""
    labels, scores = _binary(labels, scores)
    t = check_finite("threshold", threshold)
    flagged = scores >= t
    tp = int(np.sum(flagged & labels))
    fp = int(np.sum(flagged & ~labels))
    fn = int(np.sum(~flagged & labels))
    tn = int(np.sum(~flagged & ~labels))
    ratio = lambda a, b: a / b if b else math.nan  # noqa: E731
    return {"accuracy": (tp + tn) / len(labels), "precision": ratio(tp, tp + fp),
            "recall": ratio(tp, tp + fn), "false_positive_rate": ratio(fp, fp + tn),
            "flagged": tp + fp, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def roc_curve_points(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FPR, TPR, thresholds) of the ROC curve: thresholds are the distinct scores in
    decreasing order with +∞ first (the point (0, 0)); flag iff score ≥ threshold. Tied scores
    move both rates at once, so the trapezoid area under the points equals the Mann–Whitney
    AUC with ties counted ½ (:func:`fldp_teach.simulation.roc_auc`)."""
    labels, scores = _binary(labels, scores)
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if n1 == 0 or n0 == 0:
        raise ValueError(f"labels must contain both classes, got {n1} positives and {n0} negatives")
    order = np.argsort(-scores, kind="stable")
    s, lab = scores[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tps = np.cumsum(lab)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    return (np.r_[0.0, fps / n0], np.r_[0.0, tps / n1], np.r_[np.inf, s[last_of_tie]])


def plot_fraud_threshold(labels, scores_by_model: Mapping[str, Sequence[float]], threshold: float,
                         *, axes=None) -> Figure:
    """Left: ROC curves (AUC in the legend) with each model's operating point at
    ``threshold``. Right: accuracy, precision and recall of each model at ``threshold``, and
    the accuracy of "never fraud" as a dashed line. ``scores_by_model``: name → P(fraud)."""
    labels = _binary(labels)
    t = check_finite("threshold", threshold)
    if not scores_by_model:
        raise ValueError("scores_by_model must name at least one model, got none")
    if axes is None:
        fig = Figure(figsize=(11, 4.2), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_roc, ax_bar = axes
    names = list(scores_by_model)
    metrics = []
    for i, name in enumerate(names):
        fpr, tpr, _ = roc_curve_points(labels, scores_by_model[name])
        auc = float(np.trapezoid(tpr, fpr))
        ax_roc.plot(fpr, tpr, color=f"C{i}", label=f"{name} (AUC = {auc:.3f})")
        m = threshold_metrics(labels, scores_by_model[name], t)
        metrics.append(m)
        if not math.isnan(m["false_positive_rate"]):
            ax_roc.plot([m["false_positive_rate"]], [m["recall"]], "o", color=f"C{i}", ms=8)
    ax_roc.plot([0, 1], [0, 1], ls="--", color="0.6", lw=1, label="random or constant scorer (AUC = 0.5)")
    ax_roc.set_xlabel("false-positive rate FPR (legitimate flagged)")
    ax_roc.set_ylabel("true-positive rate TPR = recall (fraud caught)")
    ax_roc.set_title(f"ROC curves; dots: flag iff P(fraud) ≥ {t:.2f}")
    ax_roc.legend(fontsize=MIN_FONT_SIZE, loc="lower right")
    ax_roc.grid(True, alpha=0.3)

    width = 0.8 / len(names)
    kinds = ("accuracy", "precision", "recall")
    for i, (name, m) in enumerate(zip(names, metrics)):
        values = [0.0 if math.isnan(m[k]) else m[k] for k in kinds]
        ax_bar.bar(np.arange(3) + (i - (len(names) - 1) / 2) * width, values, width, color=f"C{i}", label=name)
    ax_bar.axhline(majority_accuracy(labels), color="k", ls="--", lw=1,
                   label=f'accuracy of "never fraud" = {majority_accuracy(labels):.3f}')
    ax_bar.set_xticks(np.arange(3), kinds)
    ax_bar.set_ylim(0, 1.35)
    ax_bar.set_yticks(np.linspace(0, 1, 6))
    ax_bar.set_ylabel("value at the threshold")
    ax_bar.set_title(f"At threshold {t:.2f}: accuracy hides missed fraud")
    ax_bar.legend(fontsize=MIN_FONT_SIZE, loc="upper center", ncol=2)
    return ax_roc.figure


def plot_training_curves(curves: Mapping[str, tuple], *, xlabel: str, ylabel: str, title: str,
                         baseline: float | None = None, baseline_label: str = "", ax=None) -> Figure:
    """One line per entry ``label → (x, y)`` (e.g. epochs and validation accuracy of a private
    and a non-private run), an optional horizontal ``baseline`` (e.g. majority accuracy)."""
    if not curves:
        raise ValueError("curves must contain at least one (x, y) pair, got none")
    if ax is None:
        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.add_subplot()
    for i, (label, (x, y)) in enumerate(curves.items()):
        ax.plot(np.asarray(x), np.asarray(y), "o-", ms=3, color=f"C{i}", label=label)
    if baseline is not None:
        ax.axhline(baseline, color="0.5", ls="--", lw=1, label=baseline_label or "baseline")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=MIN_FONT_SIZE)
    ax.grid(True, alpha=0.3)
    return ax.figure
