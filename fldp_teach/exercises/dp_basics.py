"""Checkers for the exercises of notebook 01 (what DP promises).

Each checker calls the student's function on several inputs, compares with the library, prints
"Correct." or a hint through :func:`fldp_teach.exercises.report`, and returns True/False. It never
raises, so an unfinished exercise (``...`` returns None) just prints a hint.
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.exercises import call_safely, report
from fldp_teach.mechanisms import randomized_response, randomized_response_estimate
from fldp_teach.plots.dp_basics import membership_success_bound

__all__ = ["check_success_bound", "check_randomized_response_estimate"]

_EPSILONS = (0.1, 0.5, 1.0, math.log(3.0), 2.0, 5.0)


def check_success_bound(my_success_bound) -> bool:
    """``my_success_bound(epsilon)`` must return e^ε/(1+e^ε), the best success probability of
    any membership adversary against an ε-DP mechanism (½–½ prior)."""
    for eps in _EPSILONS:
        got, err = call_safely(my_success_bound, eps)
        if err is not None:
            return report(False, success="", hint=f"my_success_bound({eps:.3f}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_success_bound returns nothing yet: replace `...` by a formula in ε.")
        want = membership_success_bound(epsilon=eps)
        try:
            close = math.isclose(float(got), want, rel_tol=1e-9)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"my_success_bound({eps:.3f}) returned {got!r}, not a number.")
        if not close:
            hint = (f"at ε = {eps:.3f} you return {float(got):.4f}, expected {want:.4f}. "
                    "Hint: with a ½–½ prior the adversary's odds are at most e^ε : 1.")
            if math.isclose(float(got), math.exp(eps), rel_tol=1e-9):
                hint += " You returned e^ε itself, which is an odds ratio, not a probability."
            return report(False, success="", hint=hint)
    return report(True, success="e^ε/(1+e^ε): at ε = ln 3 the best adversary is right 3 times out of 4.", hint="")


def check_randomized_response_estimate(my_rr_estimate) -> bool:
    """``my_rr_estimate(responses, epsilon)`` must return the unbiased estimate
    (ȳ − (1 − p))/(2p − 1) of the proportion of ones, p = e^ε/(1+e^ε)."""
    rng = np.random.default_rng(2024)
    for eps, pi, n in ((1.0, 0.3, 500), (0.5, 0.8, 1000), (3.0, 0.05, 200)):
        bits = (rng.random(n) < pi).astype(np.int64)
        responses = randomized_response(bits, epsilon=eps, seed=rng)
        got, err = call_safely(my_rr_estimate, responses, eps)
        if err is not None:
            return report(False, success="", hint=f"my_rr_estimate(responses, {eps}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_rr_estimate returns nothing yet: replace `...` by your estimator.")
        want = randomized_response_estimate(responses, epsilon=eps)
        try:
            close = math.isclose(float(got), want, rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"my_rr_estimate returned {got!r}, not a number.")
        if not close:
            hint = (f"at ε = {eps}, n = {n} you return {float(got):.4f}, expected {want:.4f}. "
                    "Hint: E[ȳ] = pπ + (1 − p)(1 − π); solve this for π.")
            if math.isclose(float(got), float(np.mean(responses)), rel_tol=1e-12):
                hint += " You returned the raw mean ȳ, which is biased towards ½."
            return report(False, success="", hint=hint)
    return report(True, success="unbiased: (ȳ − (1 − p))/(2p − 1) undoes the coin flips on average.", hint="")
