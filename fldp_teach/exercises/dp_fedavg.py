"""Checkers for the exercises of notebook 10 (central DP-FedAvg).

Each checker compares the student's answer with the library
(:func:`fldp_teach.plots.dp_fedavg.server_noise_stddev`,
:func:`fldp_teach.accounting.dp_sgd_epsilon`, :func:`fldp_teach.accounting.calibrate_noise_multiplier`),
prints "Correct." or a hint through :func:`fldp_teach.exercises.report`, and returns True/False. It never
raises, so an unfinished exercise just prints a hint.
"""
from __future__ import annotations

import math

from fldp_teach.accounting import calibrate_noise_multiplier, dp_sgd_epsilon
from fldp_teach.exercises import call_safely, report
from fldp_teach.plots.dp_fedavg import server_noise_stddev

__all__ = ["check_server_noise_stddev", "check_noise_for_target_epsilon"]


def check_server_noise_stddev(my_server_noise_stddev) -> bool:
    """``my_server_noise_stddev(noise_multiplier, clip_norm, clients_per_round)`` must return
    zC/m, the std of the server's noise on the averaged update (McMahan et al. 2018, Alg. 1)."""
    for z, c, m in ((1.0, 1.0, 100), (1.1, 0.5, 20), (0.8, 2.0, 1), (3.0, 0.1, 250)):
        got, err = call_safely(my_server_noise_stddev, z, c, m)
        if err is not None:
            return report(False, success="", hint=f"my_server_noise_stddev({z}, {c}, {m}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_server_noise_stddev returns nothing yet: replace `...`.")
        want = server_noise_stddev(noise_multiplier=z, clip_norm=c, clients_per_round=m)
        try:
            value = float(got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"my_server_noise_stddev returned {got!r}, not a number.")
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = (f"for z = {z}, C = {c}, m = {m} you return {value:.5g}, expected {want:.5g}. "
                    "Hint: noise N(0, (zC)²) is added to the SUM of the m clipped updates, then the sum is divided by m.")
            if m > 1 and math.isclose(value, z * c, rel_tol=1e-9):
                hint += " You returned the std on the sum, zC; the average divides it by m."
            elif m > 1 and math.isclose(value, z * c / math.sqrt(m), rel_tol=1e-9):
                hint += " zC/√m is the noise of LOCAL DP (every client adds zC); central DP adds it once."
            return report(False, success="", hint=hint)
    return report(True, success="σ = zC/m: with m = 100 clients, z = 1 and C = 1 the average carries noise of std 0.01.",
                  hint="")


def check_noise_for_target_epsilon(noise_multiplier, *, target_epsilon: float, sampling_rate: float,
                                   rounds: int, delta: float, rtol: float = 0.05) -> bool:
    """``noise_multiplier`` (a number the student chose) must reach the target: user-level ε of
    ``rounds`` rounds at rate q ≤ ``target_epsilon`` (:func:`fldp_teach.accounting.dp_sgd_epsilon`),
    while not adding more than ``rtol`` (5 %) more noise than the smallest such z
    (:func:`fldp_teach.accounting.calibrate_noise_multiplier`)."""
    if noise_multiplier is None or noise_multiplier is Ellipsis:
        return report(False, success="", hint="set your noise multiplier z (a number) instead of `...`.")
    try:
        z = float(noise_multiplier)
    except (TypeError, ValueError):
        return report(False, success="", hint=f"{noise_multiplier!r} is not a number.")
    if not z > 0 or math.isinf(z):
        return report(False, success="", hint=f"z must be a positive finite number, got {z!r}.")
    eps = dp_sgd_epsilon(sampling_rate=sampling_rate, noise_multiplier=z, steps=rounds, delta=delta)
    best = calibrate_noise_multiplier(target_epsilon=target_epsilon, sampling_rate=sampling_rate,
                                      steps=rounds, delta=delta)
    if eps > target_epsilon:
        return report(False, success="", hint=f"z = {z:.4g} gives ε = {eps:.3f} > {target_epsilon}: add more noise "
                                              "(ε decreases as z grows).")
    if z > best * (1 + rtol):
        return report(False, success="", hint=f"z = {z:.4g} gives ε = {eps:.3f}, within the target but with more noise "
                                              f"than needed: the smallest z is about {best:.3f} ± {100 * rtol:.0f} %.")
    return report(True, success=f"z = {z:.4g} gives ε = {eps:.3f} ≤ {target_epsilon} "
                                f"(the smallest z is {best:.3f}).", hint="")
