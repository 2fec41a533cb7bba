"""The notebook-14 checkers accept a correct answer written with numpy, reject wrong ones with a hint,
and refuse a wrapper of the library's answer."""
from __future__ import annotations

import numpy as np

from fldp_teach.exercises.applications import check_auc, check_precision_recall
from fldp_teach.plots.applications import threshold_metrics
from fldp_teach.simulation import roc_auc


def precision_recall(y, s, t):
    y, flagged = np.asarray(y).astype(bool), np.asarray(s) >= t
    tp = np.sum(flagged & y)
    return tp / flagged.sum(), tp / y.sum()


def auc(y, s):
    y, s = np.asarray(y).astype(bool), np.asarray(s, dtype=float)
    pos, neg = s[y][:, None], s[~y][None, :]
    return float(np.mean(pos > neg) + 0.5 * np.mean(pos == neg))


def test_precision_recall_checker(capsys):
    assert check_precision_recall(precision_recall)
    assert "Correct." in capsys.readouterr().out
    assert not check_precision_recall(lambda y, s, t: precision_recall(y, s, t)[::-1])
    assert "swapped" in capsys.readouterr().out
    assert not check_precision_recall(lambda y, s, t: precision_recall(y, s, t + 1e-9))     # strict >
    assert "score >= threshold" in capsys.readouterr().out
    accuracy = lambda y, s, t: (np.mean((np.asarray(s) >= t) == np.asarray(y).astype(bool)),) * 2  # noqa: E731
    assert not check_precision_recall(accuracy)
    assert "accuracy" in capsys.readouterr().out
    assert not check_precision_recall(lambda y, s, t: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_precision_recall_refuses_a_wrapper_of_the_library(capsys):
    def my_precision_recall(labels, scores, threshold):
        m = threshold_metrics(labels, scores, threshold)
        return m["precision"], m["recall"]

    assert not check_precision_recall(my_precision_recall)
    assert capsys.readouterr().out.startswith("Not yet: my_precision_recall calls threshold_metrics from fldp_teach")


def test_auc_checker(capsys):
    assert check_auc(auc)
    assert "Correct." in capsys.readouterr().out
    assert not check_auc(lambda y, s: 1 - auc(y, s))
    assert "1 − AUC" in capsys.readouterr().out

    def strict(y, s):
        y = np.asarray(y).astype(bool)
        return float(np.mean(s[y][:, None] > s[~y][None, :]))
    assert not check_auc(strict)
    assert "Ties count one half" in capsys.readouterr().out
    assert not check_auc(lambda y, s: 1 / 0)
    assert "raised" in capsys.readouterr().out


def test_auc_refuses_a_wrapper_of_the_library(capsys):
    def my_auc(labels, scores):
        return roc_auc(labels, scores)

    assert not check_auc(my_auc)
    assert capsys.readouterr().out.startswith("Not yet: my_auc calls roc_auc from fldp_teach")
