"""The notebook-12 checkers accept the library's answers and reject wrong ones with a hint."""
from __future__ import annotations

import numpy as np

from fldp_teach.exercises.applications import check_auc, check_precision_recall
from fldp_teach.plots.applications import threshold_metrics
from fldp_teach.simulation import roc_auc


def test_precision_recall_checker(capsys):
    assert check_precision_recall(lambda y, s, t: (threshold_metrics(y, s, t)["precision"],
                                                   threshold_metrics(y, s, t)["recall"]))
    assert "Correct." in capsys.readouterr().out
    assert not check_precision_recall(lambda y, s, t: (threshold_metrics(y, s, t)["recall"],
                                                       threshold_metrics(y, s, t)["precision"]))
    assert "swapped" in capsys.readouterr().out
    strict = lambda y, s, t: (threshold_metrics(y, s, t + 1e-9)["precision"],  # noqa: E731
                              threshold_metrics(y, s, t + 1e-9)["recall"])
    assert not check_precision_recall(strict)
    assert "score >= threshold" in capsys.readouterr().out
    assert not check_precision_recall(lambda y, s, t: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_auc_checker(capsys):
    assert check_auc(roc_auc)
    assert "Correct." in capsys.readouterr().out
    assert not check_auc(lambda y, s: 1 - roc_auc(y, s))
    assert "1 − AUC" in capsys.readouterr().out

    def strict(y, s):
        y = np.asarray(y).astype(bool)
        return float(np.mean(s[y][:, None] > s[~y][None, :]))
    assert not check_auc(strict)
    assert "Ties count one half" in capsys.readouterr().out
    assert not check_auc(lambda y, s: 1 / 0)
    assert "raised" in capsys.readouterr().out
