"""Checkers for the exercises of notebook 03 (the Gaussian mechanism; claim C1).

Each checker calls the student's function on inputs the notebook never shows, compares with a
closed form or with ``fldp_teach.mechanisms``, prints "Correct." or a hint
(:func:`fldp_teach.exercises.report`) and returns a :class:`~fldp_teach.exercises.Verdict`; it
never raises. An answer that calls ``fldp_teach`` (other than the tool an exercise allows) is
refused (:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.exercises import as_number, call_safely, exercise, report
from fldp_teach.mechanisms import analytic_gaussian_delta, analytic_gaussian_stddev, multiplicative_noise

__all__ = ["check_histogram_stddev", "check_analytic_gaussian_stddev", "check_zero_test"]


def histogram_stddev(*, epsilon, delta, bins_per_person) -> float:
    """The classic Gaussian σ (Dwork & Roth 2014, Thm A.1, ε < 1) for a histogram in which one
    person adds 1 to at most k bins (add/remove neighbours): the change is a 0/1 vector with at
    most k ones, so Δ₂ = √k (while Δ₁ = k), and σ = √k·√(2 ln(1.25/δ))/ε."""
    return math.sqrt(bins_per_person) * math.sqrt(2.0 * math.log(1.25 / delta)) / epsilon


# (ε, δ, k): all with ε < 1; the notebook's own classic σ is ε = 0.5, δ = 1e-5, Δ₂ = 1.
_HISTOGRAM_CASES = ((0.5, 1e-6, 4), (0.9, 1e-3, 1), (0.2, 1e-8, 10), (0.75, 2e-5, 3))


@exercise()
def check_histogram_stddev(my_histogram_stddev) -> bool:
    """``my_histogram_stddev(epsilon, delta, bins_per_person)`` must return √k·√(2 ln(1.25/δ))/ε
    (:func:`histogram_stddev`)."""
    for eps, delta, k in _HISTOGRAM_CASES:
        call = f"my_histogram_stddev({eps}, {delta}, {k})"
        got, err = call_safely(my_histogram_stddev, eps, delta, k)
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"{call} returned {got!r}: return a number (replace `...`).")
        want = histogram_stddev(epsilon=eps, delta=delta, bins_per_person=k)
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"{call} = {value:.5g}, expected {want:.5g}."
            root = math.sqrt(2 * math.log(1.25 / delta))
            if math.isclose(value, k * root / eps, rel_tol=1e-9):
                hint += (f" You used Δ = k = {k}, the L1 sensitivity. The Gaussian mechanism pays for the L2 norm"
                         " of the change: k ones have L2 norm √k.")
            elif math.isclose(value, root / eps, rel_tol=1e-9):
                hint += " One person touches up to k bins: the sensitivity is not 1."
            elif math.isclose(value, math.sqrt(k) * math.sqrt(2 * math.log(1 / delta)) / eps, rel_tol=1e-9):
                hint += " Close: the constant inside the log is 1.25/δ, not 1/δ."
            elif math.isclose(value, math.sqrt(k) * root * eps, rel_tol=1e-9):
                hint += " Divide by ε, do not multiply: less privacy (larger ε) needs less noise."
            else:
                hint += " First Δ₂ (the L2 norm of what one person changes), then the classic σ of section 3."
            return report(False, success="", hint=hint)
    return report(True, success="Δ₂ = √k: a person in k bins costs √k times the noise of one bin with Gaussian "
                                "noise, k times with Laplace noise.", hint="")


# (ε, δ, Δ₂): none is a row of the notebook's table (δ = 1e-5, Δ₂ = 1) or the widget's default.
_ANALYTIC_CASES = ((0.3, 3e-6, 1.5), (2.0, 1e-6, 1.0), (6.0, 2e-5, 0.7), (0.1, 1e-3, 0.5))


@exercise(allowed=("analytic_gaussian_delta",))
def check_analytic_gaussian_stddev(my_analytic_stddev) -> bool:
    """``my_analytic_stddev(epsilon, delta, l2_sensitivity)`` must return the smallest σ with
    δ(σ) ≤ δ (Balle & Wang 2018, Thm 8) to a relative accuracy of 1e-6, and must never return a σ
    whose exact δ(σ) exceeds δ by more than that tolerance allows. It may call
    ``analytic_gaussian_delta`` (the condition), not ``analytic_gaussian_stddev`` (the answer)."""
    for eps, delta, d2 in _ANALYTIC_CASES:
        got, err = call_safely(my_analytic_stddev, eps, delta, d2)
        if err is not None:
            return report(False, success="", hint=f"my_analytic_stddev({eps}, {delta}, {d2}) raised {err!r}.")
        value = as_number(got)
        if value is None or not value > 0:
            return report(False, success="", hint=f"my_analytic_stddev returned {got!r}: return a positive number.")
        want = analytic_gaussian_stddev(epsilon=eps, delta=delta, l2_sensitivity=d2)
        if not math.isclose(value, want, rel_tol=1e-6):
            achieved = analytic_gaussian_delta(stddev=value, epsilon=eps, l2_sensitivity=d2)
            hint = (f"at ε = {eps}, δ = {delta}, Δ₂ = {d2} you return σ = {value:.6g}, expected {want:.6g} "
                    f"(your σ gives δ(σ) = {achieved:.3g}). ")
            hint += ("Too small: δ(σ) > δ breaks the promise." if value < want else
                     "Too large: correct but wasteful; bisect further.")
            return report(False, success="", hint=hint + " δ(σ) is decreasing in σ: bisect on δ(σ) − δ.")
    return report(True, success="your bisection finds the analytic Gaussian σ (Balle & Wang 2018).", hint="")


@exercise()
def check_zero_test(my_is_zero) -> bool:
    """``my_is_zero(y)`` sees ONE output y = θ(1 + ξ) of multiplicative noise (σ = 1) and must
    return True if θ = 0, False if θ = 1. Passes if it is right in ≥ 99 % of 2000 fair games —
    impossible against any (ε, δ)-DP mechanism whose tight bound (e^ε + δ)/(1 + e^ε) is below 0.99
    (e.g. 0.7311 at ε = 1, δ = 1e-5)."""
    rng = np.random.default_rng(7)
    trials = 2000
    theta_is_zero = rng.random(trials) < 0.5
    y = multiplicative_noise(np.where(theta_is_zero, 0.0, 1.0), stddev=1.0, seed=rng)
    right = 0
    for yi, truth in zip(y, theta_is_zero):
        got, err = call_safely(my_is_zero, float(yi))
        if err is not None:
            return report(False, success="", hint=f"my_is_zero({yi!r}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_is_zero returns nothing yet: return True or False.")
        right += bool(got) == bool(truth)
    rate = right / trials
    return report(rate >= 0.99,
                  success=f"right in {rate:.1%} of the games: multiplicative noise leaks θ = 0 completely.",
                  hint=f"right in only {rate:.1%} of the games. What does 0·(1 + ξ) equal, whatever ξ is?")
