"""Checkers of notebook 05 accept the library's answer and reject wrong ones with a hint."""
from __future__ import annotations

import numpy as np

from fldp_teach.clipping import clip_per_example
import math

from fldp_teach.exercises.private_training import (
    check_clipped_sum, check_output_perturbation_sensitivity, check_time_to_accuracy,
)
from fldp_teach.plots.private_training import epochs_to_accuracy
from fldp_teach.perturbation import output_perturbation_sensitivity


def test_sensitivity_checker(capsys):
    assert check_output_perturbation_sensitivity(
        lambda n, lam: output_perturbation_sensitivity(num_examples=n, regularization=lam))
    assert not check_output_perturbation_sensitivity(lambda n, lam: 1 / (n * lam))
    assert "factor 2" in capsys.readouterr().out
    assert not check_output_perturbation_sensitivity(lambda n, lam: 2 / n)
    assert "Where is λ" in capsys.readouterr().out
    assert not check_output_perturbation_sensitivity(lambda n, lam: ...)


def test_clipped_sum_checker(capsys):
    assert check_clipped_sum(lambda g, c: clip_per_example(g, clip_norm=c)[0].sum(axis=0))

    def clip_the_sum(g, c):
        s = g.sum(axis=0)
        return s * min(1.0, c / np.linalg.norm(s))

    assert not check_clipped_sum(clip_the_sum)
    assert "clipped the SUM" in capsys.readouterr().out
    assert not check_clipped_sum(lambda g, c: clip_per_example(g, clip_norm=c)[0].mean(axis=0))
    assert "returned the mean" in capsys.readouterr().out
    assert not check_clipped_sum(lambda g, c: None)


def test_time_to_accuracy_checker(capsys):
    def library(accuracies, target, steps_per_epoch, step_time):
        epoch = epochs_to_accuracy(accuracies, target=target)
        return math.inf if epoch is None else epoch * steps_per_epoch * step_time

    assert check_time_to_accuracy(library)
    assert "Correct." in capsys.readouterr().out

    def zero_based(accuracies, target, steps_per_epoch, step_time):
        epoch = next((e for e, a in enumerate(accuracies) if a >= target), None)
        return math.inf if epoch is None else epoch * steps_per_epoch * step_time

    assert not check_time_to_accuracy(zero_based)
    assert "Off by one epoch" in capsys.readouterr().out

    def strict(accuracies, target, steps_per_epoch, step_time):
        epoch = next((e for e, a in enumerate(accuracies, 1) if a > target), None)
        return math.inf if epoch is None else epoch * steps_per_epoch * step_time

    assert not check_time_to_accuracy(strict)
    assert "≥ target" in capsys.readouterr().out
    assert not check_time_to_accuracy(lambda a, t, s, dt: (epochs_to_accuracy(a, target=t) or 0) * dt)
    assert "steps_per_epoch steps" in capsys.readouterr().out
    assert not check_time_to_accuracy(lambda a, t, s, dt: library(a, t, s, dt) if library(a, t, s, dt) < math.inf else None)
    assert "math.inf" in capsys.readouterr().out
    assert not check_time_to_accuracy(lambda a, t, s, dt: ...)
    assert "nothing yet" in capsys.readouterr().out
