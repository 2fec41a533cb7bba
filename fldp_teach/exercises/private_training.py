"""Checkers for the exercises of notebook 05 (private training).

Each checker calls the student's function on several inputs, compares with the library, prints
"Correct." or a hint through :func:`fldp_teach.exercises.report`, and returns True/False. It never
raises, so an unfinished exercise (``...`` returns None) just prints a hint.
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.clipping import clip_per_example
from fldp_teach.exercises import call_safely, report
from fldp_teach.perturbation import output_perturbation_sensitivity
from fldp_teach.plots.private_training import epochs_to_accuracy

__all__ = ["check_output_perturbation_sensitivity", "check_clipped_sum", "check_time_to_accuracy"]


def check_output_perturbation_sensitivity(my_sensitivity) -> bool:
    """``my_sensitivity(num_examples, regularization)`` must return 2/(nλ), the L2 sensitivity
    of the regularized logistic-regression minimizer (Chaudhuri et al. 2011, Corollary 8)."""
    for n, lam in ((426, 0.01), (100, 0.5), (10_000, 1e-4)):
        got, err = call_safely(my_sensitivity, n, lam)
        if err is not None:
            return report(False, success="", hint=f"my_sensitivity({n}, {lam}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_sensitivity returns nothing yet: a formula in n and λ.")
        try:
            value = float(got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"return a number, got {got!r}.")
        want = output_perturbation_sensitivity(num_examples=n, regularization=lam)
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"for n = {n}, λ = {lam} you return {value:.4g}, expected {want:.4g}."
            if math.isclose(value, want / 2, rel_tol=1e-9):
                hint += (" Off by a factor 2: replacing one example removes one gradient term of norm ≤ 1/n"
                         " AND adds another one.")
            elif math.isclose(value, 2 / n, rel_tol=1e-9):
                hint += " Where is λ? The (λ-strongly convex) regularizer is what keeps the minimizer from moving far."
            return report(False, success="", hint=hint)
    return report(True, success="2/(nλ): more data or more regularization → a less sensitive minimizer.",
                  hint="")


def check_clipped_sum(my_clipped_sum) -> bool:
    """``my_clipped_sum(per_example_gradients, clip_norm)`` ([B, d] numpy array) must return
    Σ_i g_i·min(1, C/‖g_i‖) (Abadi et al. 2016, Alg. 1: clip each example, then sum)."""
    rng = np.random.default_rng(5)
    cases = [(rng.standard_normal((8, 5)) * rng.uniform(0.1, 3, (8, 1)), 1.0),
             (np.vstack([np.zeros((1, 3)), rng.standard_normal((4, 3))]), 0.5),
             (rng.standard_normal((16, 2)) * 0.01, 10.0)]
    for grads, clip in cases:
        got, err = call_safely(my_clipped_sum, grads.copy(), clip)
        if err is not None:
            return report(False, success="", hint=f"my_clipped_sum raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_clipped_sum returns nothing yet: clip each row, then sum.")
        try:
            value = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"return a vector, got {got!r}.")
        clipped, _ = clip_per_example(grads, clip_norm=clip)
        want = clipped.sum(axis=0)
        if value.shape != want.shape:
            return report(False, success="", hint=f"return one vector of shape {want.shape} (the sum over examples), "
                                                  f"got shape {value.shape}.")
        if not np.allclose(value, want, rtol=1e-9, atol=1e-12):
            hint = "the clipped sum does not match."
            total = grads.sum(axis=0)
            total_clipped = total * min(1.0, clip / max(np.linalg.norm(total), 1e-300))
            if np.allclose(value, total_clipped):
                hint += " You clipped the SUM; clip each example's gradient first (that bounds one person's influence)."
            elif np.allclose(value, want / len(grads)):
                hint += " You returned the mean; DP-SGD sums, adds noise, and only then divides by the lot size."
            elif np.any(~np.isfinite(value)):
                hint += " NaN/inf: a zero gradient has norm 0; min(1, C/0) must be 1 (use np.maximum on the norm)."
            return report(False, success="", hint=hint)
    return report(True, success="clip each example to norm ≤ C, then sum: one example moves the sum by at most C.",
                  hint="")


def check_time_to_accuracy(my_time_to_accuracy) -> bool:
    """``my_time_to_accuracy(accuracies, target, steps_per_epoch, step_time)`` must return the
    training time (seconds) until the accuracy first reaches ``target``: e × steps_per_epoch ×
    step_time with e = ``plots.private_training.epochs_to_accuracy`` (counted from 1), and
    ``math.inf`` when the run never reaches it (claim C4, notebook 05)."""
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
