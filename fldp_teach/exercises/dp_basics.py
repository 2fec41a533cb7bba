"""Checkers for the exercises of notebook 01 (what DP promises).

Each checker calls the student's function on inputs the notebook never shows, compares with a
closed form, prints "Correct." or a hint through :func:`fldp_teach.exercises.report`, and returns
a :class:`~fldp_teach.exercises.Verdict`. It never raises, so an unfinished exercise (``...``
returns None) just prints a hint. An answer that calls ``fldp_teach`` is refused
(:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.exercises import as_number, call_safely, exercise, report
from fldp_teach.mechanisms import randomized_response, randomized_response_estimate

__all__ = ["check_max_posterior", "check_randomized_response_estimate"]


def max_posterior(*, prior, epsilon) -> float:
    """The largest posterior belief that Alice is in the data after one output of an ε-DP
    mechanism, for a prior belief ``prior``: the odds prior/(1 − prior) grow by at most e^ε, so
    the belief is at most prior·e^ε/(prior·e^ε + 1 − prior) (Kasiviswanathan & Smith 2014).
    With prior ½ it is the membership game's bound e^ε/(1 + e^ε)."""
    grown = prior * math.exp(epsilon)
    return grown / (grown + 1.0 - prior)


# (prior, ε): none is a case the notebook computes (its check-yourself uses ½ and ln 3).
_POSTERIOR_CASES = ((0.01, 2.0), (0.2, 0.5), (0.9, 0.3), (0.5, 4.0), (0.0, 1.5))


@exercise()
def check_max_posterior(my_max_posterior) -> bool:
    """``my_max_posterior(prior, epsilon)`` must return prior·e^ε/(prior·e^ε + 1 − prior)
    (:func:`max_posterior`)."""
    for prior, eps in _POSTERIOR_CASES:
        call = f"my_max_posterior({prior}, {eps})"
        got, err = call_safely(my_max_posterior, prior, eps)
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_max_posterior returns nothing yet: replace `...` by a formula "
                                                  "in the prior and ε.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"{call} returned {got!r}, not a number.")
        want = max_posterior(prior=prior, epsilon=eps)
        if not math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-12):
            hint = (f"{call} = {value:.4f}, expected {want:.4f}. Hint: turn the prior into odds "
                    "prior/(1 − prior), multiply the odds by e^ε, and turn the odds o back into a probability o/(1 + o).")
            if math.isclose(value, math.exp(eps) / (1 + math.exp(eps)), rel_tol=1e-9):
                hint += " You return the bound for a 50 % prior; here the prior is different."
            elif math.isclose(value, prior * math.exp(eps), rel_tol=1e-9, abs_tol=1e-12):
                hint += " You multiplied the probability by e^ε (it can exceed 1); e^ε multiplies the ODDS."
            elif prior < 1 and math.isclose(value, prior * math.exp(eps) / (1 - prior), rel_tol=1e-9, abs_tol=1e-12):
                hint += " That is the posterior odds; convert them back to a probability."
            elif value < prior:
                hint += " Your belief went down: the bound is the most the output can RAISE it."
            return report(False, success="", hint=hint)
    return report(True, success="odds × e^ε: at ε = 2 a 1 % suspicion can grow to at most 6.9 %, "
                                "a 50 % one to 88 %.", hint="")


# (ε, true proportion, n): the notebook's own survey is ε = 1, π = 0.3, n = 2000.
_RR_CASES = ((1.5, 0.35, 700), (0.4, 0.8, 1000), (3.0, 0.05, 200))


@exercise()
def check_randomized_response_estimate(my_rr_estimate) -> bool:
    """``my_rr_estimate(responses, epsilon)`` must return the unbiased estimate
    (ȳ − (1 − p))/(2p − 1) of the proportion of ones, p = e^ε/(1+e^ε), on fresh surveys."""
    rng = np.random.default_rng(2024)
    for eps, pi, n in _RR_CASES:
        bits = (rng.random(n) < pi).astype(np.int64)
        responses = randomized_response(bits, epsilon=eps, seed=rng)
        got, err = call_safely(my_rr_estimate, responses.copy(), eps)
        if err is not None:
            return report(False, success="", hint=f"my_rr_estimate(responses, {eps}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_rr_estimate returns nothing yet: replace `...` by your estimator.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"my_rr_estimate returned {got!r}, not a number.")
        want = randomized_response_estimate(responses, epsilon=eps)
        if not math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-12):
            hint = (f"at ε = {eps}, n = {n} you return {value:.4f}, expected {want:.4f}. "
                    "Hint: E[ȳ] = pπ + (1 − p)(1 − π); solve this for π.")
            if math.isclose(value, float(np.mean(responses)), rel_tol=1e-12):
                hint += " You returned the raw mean ȳ, which is biased towards ½."
            return report(False, success="", hint=hint)
    return report(True, success="unbiased: (ȳ − (1 − p))/(2p − 1) undoes the coin flips on average.", hint="")
