"""Checkers for the exercises of notebook 03 (the Gaussian mechanism; claim C1).

Each checker compares the student's function with ``fldp_teach.mechanisms``, prints "Correct." or a hint
(:func:`fldp_teach.exercises.report`) and returns True/False; it never raises.
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.exercises import call_safely, as_number, report
from fldp_teach.mechanisms import (
    analytic_gaussian_delta,
    analytic_gaussian_stddev,
    classic_gaussian_stddev,
    multiplicative_noise,
)

__all__ = ["check_classic_gaussian_stddev", "check_analytic_gaussian_stddev", "check_zero_test"]


def check_classic_gaussian_stddev(my_classic_stddev) -> bool:
    """``my_classic_stddev(epsilon, delta, l2_sensitivity)`` must return Δ₂·sqrt(2 ln(1.25/δ))/ε
    (``mechanisms.classic_gaussian_stddev``; Dwork & Roth 2014, Thm A.1), for ε < 1."""
    for eps, delta, d2 in ((0.5, 1e-5, 1.0), (0.9, 1e-3, 2.0), (0.1, 1e-8, 0.5), (0.25, 0.01, 3.0)):
        got, err = call_safely(my_classic_stddev, eps, delta, d2)
        if err is not None:
            return report(False, success="", hint=f"my_classic_stddev({eps}, {delta}, {d2}) raised {err!r}.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"my_classic_stddev returned {got!r}: return a number.")
        want = classic_gaussian_stddev(epsilon=eps, delta=delta, l2_sensitivity=d2)
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"my_classic_stddev({eps}, {delta}, {d2}) = {value:.5g}, expected {want:.5g}."
            if math.isclose(value, d2 * math.sqrt(2 * math.log(1 / delta)) / eps, rel_tol=1e-9):
                hint += " Close: the constant inside the log is 1.25/δ, not 1/δ."
            elif math.isclose(value, d2 * math.sqrt(2 * math.log(1.25 / delta)) * eps, rel_tol=1e-9):
                hint += " Divide by ε, do not multiply: less privacy (larger ε) needs less noise."
            else:
                hint += " σ = Δ₂·√(2 ln(1.25/δ)) / ε."
            return report(False, success="", hint=hint)
    return report(True, success="σ = Δ₂·√(2 ln(1.25/δ))/ε — valid for ε < 1 only.", hint="")


def check_analytic_gaussian_stddev(my_analytic_stddev) -> bool:
    """``my_analytic_stddev(epsilon, delta, l2_sensitivity)`` must return the smallest σ with
    δ(σ) ≤ δ (Balle & Wang 2018, Thm 8) to a relative accuracy of 1e-6, and must never return a σ
    whose exact δ(σ) exceeds δ by more than that tolerance allows."""
    for eps, delta, d2 in ((0.5, 1e-5, 1.0), (2.0, 1e-6, 1.0), (8.0, 1e-5, 2.0), (0.1, 1e-3, 0.5)):
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


def check_zero_test(my_is_zero) -> bool:
    """``my_is_zero(y)`` sees ONE output y = θ(1 + ξ) of multiplicative noise (σ = 1) and must
    return True if θ = 0, False if θ = 1. Passes if it is right in ≥ 99 % of 2000 fair games —
    impossible against any (ε, δ)-DP mechanism with e^ε/(1+e^ε) + δ/2 < 0.99 (e.g. ε = 1, δ = 1e-5)."""
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
