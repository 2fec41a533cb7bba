"""Checkers for the exercises of notebook 10 (central DP-FedAvg): the server's noise std and
choosing the noise multiplier z for a target user-level ε.

Each checker calls the student's function on inputs the notebook never shows, compares it with
a closed form or with the library's accountant, prints "Correct." or a hint through
:func:`fldp_teach.exercises.report`, and returns a :class:`~fldp_teach.exercises.Verdict`. It
never raises, so an unfinished exercise just prints a "Not yet" line. An answer that calls
``fldp_teach`` is refused (:func:`fldp_teach.exercises.exercise`); the calibration exercise may
use the accountant's ε, ``dp_sgd_epsilon``, and must search z itself.
"""
from __future__ import annotations

import math

from fldp_teach.accounting import calibrate_noise_multiplier, dp_sgd_epsilon
from fldp_teach.exercises import as_number, call_safely, exercise, report

__all__ = ["check_server_noise_stddev", "check_noise_for_target_epsilon"]


@exercise()
def check_server_noise_stddev(my_server_noise_stddev) -> bool:
    """``my_server_noise_stddev(noise_multiplier, clip_norm, clients_per_round)`` must return
    zC/m, the std of the server's noise on the averaged update (McMahan et al. 2018, Alg. 1)."""
    for z, c, m in ((1.3, 1.0, 50), (1.1, 0.5, 20), (0.8, 2.0, 1), (3.0, 0.1, 250)):
        got, err = call_safely(my_server_noise_stddev, z, c, m)
        if err is not None:
            return report(False, success="", hint=f"my_server_noise_stddev({z}, {c}, {m}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_server_noise_stddev returns nothing yet: replace `...`.")
        want = z * c / m
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"my_server_noise_stddev returned {got!r}, not a number.")
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = (f"for z = {z}, C = {c}, m = {m} you return {value:.5g}, expected {want:.5g}. "
                    "Hint: noise N(0, (zC)²) is added to the SUM of the m clipped updates, then the sum is divided by m.")
            if m > 1 and math.isclose(value, z * c, rel_tol=1e-9):
                hint += " You returned the std on the sum, zC; the average divides it by m."
            elif m > 1 and math.isclose(value, z * c / math.sqrt(m), rel_tol=1e-9):
                hint += " zC/√m is the noise of LOCAL DP (every client adds zC); central DP adds it once."
            elif math.isclose(value, (z * c / m) ** 2, rel_tol=1e-9):
                hint += " That is the variance; return the standard deviation."
            return report(False, success="", hint=hint)
    return report(True, success="σ = zC/m: with m = 100 clients, z = 1 and C = 1 the average carries noise of std 0.01.",
                  hint="")


_TARGETS = ((1.0, 0.02, 100, 1e-5), (4.0, 0.05, 300, 1e-6), (0.5, 0.005, 1000, 1e-5), (8.0, 1.0, 10, 1e-5))


@exercise(allowed=("dp_sgd_epsilon",))
def check_noise_for_target_epsilon(my_noise_for_epsilon, *, rtol: float = 0.02) -> bool:
    """``my_noise_for_epsilon(target_epsilon, sampling_rate, rounds, delta)`` must return a noise
    multiplier z whose user-level ε after ``rounds`` rounds at client-sampling rate q
    (:func:`fldp_teach.accounting.dp_sgd_epsilon`, which the student may call) is ≤ the target,
    while adding at most ``rtol`` (2 %) more noise than the smallest such z
    (:func:`fldp_teach.accounting.calibrate_noise_multiplier`, which the student may not call),
    on federations the notebook never shows."""
    for target, q, rounds, delta in _TARGETS:
        call = f"my_noise_for_epsilon({target}, {q}, {rounds}, {delta:g})"
        got, err = call_safely(my_noise_for_epsilon, target, q, rounds, delta)
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_noise_for_epsilon returns nothing yet: search for the z "
                                                  "whose ε (dp_sgd_epsilon) just reaches the target.")
        z = as_number(got)
        if z is None:
            return report(False, success="", hint=f"{call} returned {got!r}, not a number.")
        if not z > 0 or math.isinf(z):
            return report(False, success="", hint=f"{call} returned z = {z!r}: z must be positive and finite.")
        eps = dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=rounds, delta=delta)
        best = calibrate_noise_multiplier(target_epsilon=target, sampling_rate=q, steps=rounds, delta=delta)
        if eps > target * (1 + 1e-9):
            hint = (f"{call} returned z = {z:.4g}, whose ε = {eps:.3f} exceeds the target {target}: "
                    "ε decreases as z grows, so keep the z on the safe side (ε ≤ target) of your search.")
            if math.isclose(z, target, rel_tol=1e-6):
                hint += " You returned the target ε itself, not a noise multiplier."
            return report(False, success="", hint=hint)
        if z > best * (1 + rtol):
            hint = (f"{call} returned z = {z:.4g} (ε = {eps:.3f}): private enough, but more noise than needed; "
                    f"the smallest z is {100 * (z / best - 1):.0f} % lower. Narrow your search until it is within "
                    f"{100 * rtol:.0f} %.")
            if q < 1 and math.isclose(z, calibrate_noise_multiplier(target_epsilon=target, sampling_rate=1.0,
                                                                    steps=rounds, delta=delta), rel_tol=0.05):
                hint += (" Your z fits q = 1: pass sampling_rate=q to dp_sgd_epsilon — a client that joins a round "
                         "only with probability q costs less per round (amplification by sampling).")
            return report(False, success="", hint=hint)
    return report(True, success="your search finds the smallest z for the target, as the library's "
                                "calibrate_noise_multiplier does (bisection in log z).", hint="")
