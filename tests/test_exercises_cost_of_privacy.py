"""Checkers of notebook 07 (what privacy costs) accept a correct answer written from the
formula, reject wrong ones with a hint, and refuse a wrapper of the library's answer."""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.exercises.cost_of_privacy import check_paired_difference, check_time_to_accuracy
from fldp_teach.plots.private_training import epochs_to_accuracy


def paired(a, b):
    d = np.asarray(a, float) - np.asarray(b, float)
    return d.mean(), d.std(ddof=1) / math.sqrt(d.size)


def test_paired_difference_checker(capsys):
    assert check_paired_difference(paired)
    assert "Correct." in capsys.readouterr().out
    assert not check_paired_difference(lambda a, b: (-paired(a, b)[0], paired(a, b)[1]))
    assert "Wrong sign" in capsys.readouterr().out

    def population_sd(a, b):
        d = np.asarray(a, float) - np.asarray(b, float)
        return d.mean(), d.std() / math.sqrt(d.size)

    assert not check_paired_difference(population_sd)
    assert "ddof=1" in capsys.readouterr().out
    assert not check_paired_difference(lambda a, b: (paired(a, b)[0], paired(a, b)[1] * math.sqrt(len(a))))
    assert "divides it by √m" in capsys.readouterr().out

    def unpaired(a, b):
        return paired(a, b)[0], math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))

    assert not check_paired_difference(unpaired)
    assert "paired by split" in capsys.readouterr().out
    assert not check_paired_difference(lambda a, b: ...)
    assert "nothing yet" in capsys.readouterr().out


def first_epoch(accuracies, target, start=1):
    return next((e for e, a in enumerate(accuracies, start) if a >= target), None)


def test_time_to_accuracy_checker(capsys):
    def mine(accuracies, target, steps_per_epoch, step_time):
        epoch = first_epoch(accuracies, target)
        return math.inf if epoch is None else epoch * steps_per_epoch * step_time

    assert check_time_to_accuracy(mine)
    assert "Correct." in capsys.readouterr().out

    def zero_based(accuracies, target, steps_per_epoch, step_time):
        epoch = first_epoch(accuracies, target, start=0)
        return math.inf if epoch is None else epoch * steps_per_epoch * step_time

    assert not check_time_to_accuracy(zero_based)
    assert "Off by one epoch" in capsys.readouterr().out

    def strict(accuracies, target, steps_per_epoch, step_time):
        epoch = next((e for e, a in enumerate(accuracies, 1) if a > target), None)
        return math.inf if epoch is None else epoch * steps_per_epoch * step_time

    assert not check_time_to_accuracy(strict)
    assert "≥ target" in capsys.readouterr().out
    assert not check_time_to_accuracy(lambda a, t, s, dt: (first_epoch(a, t) or 0) * dt)
    assert "steps_per_epoch steps" in capsys.readouterr().out
    assert not check_time_to_accuracy(lambda a, t, s, dt: mine(a, t, s, dt) if mine(a, t, s, dt) < math.inf else None)
    assert "math.inf" in capsys.readouterr().out
    assert not check_time_to_accuracy(lambda a, t, s, dt: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_time_to_accuracy_refuses_a_wrapper_of_the_library(capsys):
    def wrapper(accuracies, target, steps_per_epoch, step_time):
        epoch = epochs_to_accuracy(accuracies, target=target)
        return math.inf if epoch is None else epoch * steps_per_epoch * step_time

    assert not check_time_to_accuracy(wrapper)
    assert "epochs_to_accuracy" in capsys.readouterr().out
