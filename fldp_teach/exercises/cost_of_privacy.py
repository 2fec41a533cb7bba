"""Checkers for the exercises of notebook 07 (what privacy costs: claims C2 and C4): a paired
difference with its standard error, and the training time to an accuracy.

Each checker tries inputs the notebook never shows, prints "Correct." or a hint and returns a
:class:`~fldp_teach.exercises.Verdict`. An answer that calls ``fldp_teach`` is refused
(:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.exercises import call_safely, exercise, report
from fldp_teach.plots.private_training import epochs_to_accuracy

__all__ = ["check_paired_difference", "check_time_to_accuracy"]


def paired_difference(a, b) -> tuple[float, float]:
    """(mean, standard error) of the paired differences d_j = a_j − b_j: d̄ and s_d/√m with the
    sample standard deviation s_d (divisor m − 1), the paired comparison of Student (1908) that
    notebook 07 uses for the loss gaps of DP and non-private runs on the same splits."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))


@exercise()
def check_paired_difference(my_paired_difference) -> bool:
    """``my_paired_difference(gaps_dp, gaps_plain)`` must return :func:`paired_difference` on
    sequences the notebook never shows (lists and arrays, m = 2 … 12)."""
    rng = np.random.default_rng(3)
    cases = [([0.08, 0.12, 0.05, 0.20, 0.11], [0.10, 0.15, 0.02, 0.25, 0.09]),
             ([0.3, 0.1], [0.2, 0.2])]
    for m in (7, 12):
        plain = rng.uniform(0.02, 0.3, m)
        cases.append((plain + rng.normal(0.01, 0.03, m), plain))
    for gaps_dp, gaps_plain in cases:
        got, err = call_safely(my_paired_difference, gaps_dp, gaps_plain)
        if err is not None:
            return report(False, success="", hint=f"with {len(gaps_dp)} splits your function raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_paired_difference returns nothing yet: (mean, standard error) "
                                                  "of the differences.")
        try:
            mean, se = (float(v) for v in got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"return a pair (mean, standard_error), got {got!r}.")
        want_mean, want_se = paired_difference(gaps_dp, gaps_plain)
        if not math.isclose(mean, want_mean, rel_tol=1e-9, abs_tol=1e-12):
            hint = f"with {len(gaps_dp)} splits the mean is {mean:.4g}, expected {want_mean:.4g}."
            if math.isclose(mean, -want_mean, rel_tol=1e-9):
                hint += " Wrong sign: the difference is DP minus non-private."
            return report(False, success="", hint=hint)
        if not math.isclose(se, want_se, rel_tol=1e-9):
            d = np.asarray(gaps_dp, dtype=float) - np.asarray(gaps_plain, dtype=float)
            hint = f"with {len(gaps_dp)} splits the standard error is {se:.4g}, expected {want_se:.4g}."
            if math.isclose(se, d.std(ddof=0) / math.sqrt(d.size), rel_tol=1e-9):
                hint += " Use the sample standard deviation (divide by m − 1: ddof=1)."
            elif math.isclose(se, d.std(ddof=1), rel_tol=1e-9):
                hint += " That is the standard deviation; the standard error divides it by √m."
            elif math.isclose(se, math.sqrt(np.var(gaps_dp, ddof=1) / d.size + np.var(gaps_plain, ddof=1) / d.size),
                              rel_tol=1e-9):
                hint += (" That treats the two samples as independent; they are paired by split,"
                         " so take the spread of the differences.")
            return report(False, success="", hint=hint)
    return report(True, success="pairing by split removes the split-to-split spread that both settings share.",
                  hint="")


@exercise()
def check_time_to_accuracy(my_time_to_accuracy) -> bool:
    """``my_time_to_accuracy(accuracies, target, steps_per_epoch, step_time)`` must return the
    training time (seconds) until the accuracy first reaches ``target``: e × steps_per_epoch ×
    step_time with e = ``plots.private_training.epochs_to_accuracy`` (counted from 1), and
    ``math.inf`` when the run never reaches it (claim C4, notebook 07)."""
    cases = [([0.88, 0.91, 0.935, 0.94], 0.93, 14, 0.5e-3),   # reached at epoch 3
             ([0.95, 0.96], 0.93, 4, 0.05),                   # at once
             ([0.90, 0.93, 0.92], 0.93, 14, 1e-3),             # exactly the target: reached
             ([0.94, 0.90, 0.89], 0.93, 10, 2e-3),             # reached, then lost: first time
             ([0.80, 0.85, 0.90], 0.93, 14, 1e-3)]             # never
    for accuracies, target, steps_per_epoch, step_time in cases:
        got, err = call_safely(my_time_to_accuracy, list(accuracies), target, steps_per_epoch, step_time)
        call = f"my_time_to_accuracy({accuracies}, {target}, {steps_per_epoch}, {step_time})"
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        if got is Ellipsis or (got is None and epochs_to_accuracy(accuracies, target=target)):
            return report(False, success="", hint="my_time_to_accuracy returns nothing yet: "
                                                  "(first epoch that reaches the target) × steps per epoch × step time.")
        epoch = epochs_to_accuracy(accuracies, target=target)
        if epoch is None:
            if got is None or not (isinstance(got, (int, float)) and math.isinf(got) and got > 0):
                return report(False, success="", hint=f"{call} returned {got!r}, but this run never reaches "
                                                      f"{target}: return math.inf (it would take forever).")
            continue
        try:
            value = float(got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"return a number of seconds, got {got!r}.")
        want = epoch * steps_per_epoch * step_time
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"{call} returned {value:.4g} s, expected {want:.4g} s."
            if math.isclose(value, (epoch - 1) * steps_per_epoch * step_time, rel_tol=1e-9, abs_tol=1e-15):
                hint += " Off by one epoch: epochs count from 1 (after epoch 1 the model has trained one epoch)."
            elif math.isinf(value) or math.isclose(value, (epoch + 1) * steps_per_epoch * step_time, rel_tol=1e-9):
                hint += " Reaching the target means accuracy ≥ target (an accuracy equal to it counts)."
            elif math.isclose(value, epoch * step_time, rel_tol=1e-9):
                hint += " An epoch has steps_per_epoch steps, not one."
            elif math.isclose(value, epoch, rel_tol=1e-9):
                hint += " That is the number of epochs; multiply by the steps per epoch and the time per step."
            elif math.isclose(value, len(accuracies) * steps_per_epoch * step_time, rel_tol=1e-9):
                hint += " That is the time of the whole run; stop at the FIRST epoch that reaches the target."
            return report(False, success="", hint=hint)
    return report(True, success="time to accuracy = epochs needed × steps per epoch × time per step: "
                                "DP pays in both factors.", hint="")
