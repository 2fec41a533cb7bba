"""Checkers for the exercises of notebook 14 (beyond medicine): precision/recall at a
threshold and the AUC as a rank statistic, on synthetic labels and scores the notebook never shows.
Each prints "Correct." or a hint via :func:`fldp_teach.exercises.report` and returns True/False; none
raises. An answer that calls ``fldp_teach`` (``threshold_metrics``, ``roc_auc``, ...) is refused."""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.exercises import call_safely, exercise, report
from fldp_teach.plots.applications import threshold_metrics
from fldp_teach.simulation import roc_auc

__all__ = ["check_precision_recall", "check_auc"]


def _cases(seed=12):
    """Imbalanced 0/1 labels with informative scores, a few ties included."""
    rng = np.random.default_rng(seed)
    out = []
    for n, pi in ((400, 0.05), (200, 0.3), (50, 0.1)):
        y = (rng.random(n) < pi).astype(np.int32)
        y[:2] = (1, 0)  # both classes present
        s = np.round(1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * y - 1.0))), 2)  # rounded: ties
        out.append((y, s))
    return out


def _close(a, b):
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@exercise()
def check_precision_recall(my_precision_recall) -> bool:
    """``my_precision_recall(labels, scores, threshold)`` must return ``(precision, recall)``
    when flagging iff score ≥ threshold: TP/(TP+FP) and TP/(TP+FN)."""
    for y, s in _cases():
        for t in (0.3, 0.5, 0.7):
            got, err = call_safely(my_precision_recall, y, s, t)
            if err is not None:
                return report(False, success="", hint=f"my_precision_recall raised {err!r} at threshold {t}.")
            if got is None or got is Ellipsis:
                return report(False, success="", hint="my_precision_recall returns nothing yet: "
                              "return a pair (precision, recall).")
            try:
                p, r = (float(v) for v in got)
            except (TypeError, ValueError):
                return report(False, success="", hint=f"return a pair (precision, recall), got {got!r}.")
            want = threshold_metrics(y, s, t)
            if _close(p, want["recall"]) and _close(r, want["precision"]) and not _close(p, r):
                return report(False, success="", hint="you swapped them: precision = TP/(TP+FP) "
                              "(how many flagged are fraud), recall = TP/(TP+FN) (how much fraud is caught).")
            if _close(p, want["accuracy"]) or _close(r, want["accuracy"]):
                return report(False, success="", hint="that is the accuracy (TP+TN)/n; precision and recall "
                              "only count the fraud class.")
            if not (_close(p, want["precision"]) and _close(r, want["recall"])):
                return report(False, success="", hint=(
                    f"at threshold {t} expected precision {want['precision']:.4f} and recall "
                    f"{want['recall']:.4f}, got {p:.4f} and {r:.4f}. Flag iff score >= threshold "
                    "(ties at the threshold are flagged)."))
    return report(True, success="precision = TP/(TP+FP), recall = TP/(TP+FN): both ignore the 98 % of "
                  "easy legitimate transactions that make accuracy look good.", hint="")


@exercise()
def check_auc(my_auc) -> bool:
    """``my_auc(labels, scores)`` must return P[score(positive) > score(negative)] + ½·P[tie]
    (the Mann–Whitney AUC, :func:`fldp_teach.simulation.roc_auc`)."""
    for y, s in _cases():
        got, err = call_safely(my_auc, y, s)
        if err is not None:
            return report(False, success="", hint=f"my_auc raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_auc returns nothing yet: compare every positive "
                          "score with every negative score.")
        try:
            got = float(got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"my_auc returned {got!r}, not a number.")
        want = roc_auc(y, s)
        if math.isclose(got, 1 - want, rel_tol=1e-9) and not math.isclose(want, 0.5):
            return report(False, success="", hint="you get 1 − AUC: count pairs where the POSITIVE "
                          "(fraud) example has the higher score.")
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            pos, neg = s[y == 1][:, None], s[y == 0][None, :]
            strict = float(np.mean(pos > neg))
            hint = f"expected AUC {want:.4f}, got {got:.4f}."
            if math.isclose(got, strict, rel_tol=1e-9):
                hint += " Ties count one half: add 0.5 × P[score(pos) == score(neg)]."
            return report(False, success="", hint=hint)
    return report(True, success="AUC = P[a random fraud outscores a random legitimate transaction]; "
                  "0.5 for any constant scorer, whatever the fraud rate.", hint="")
