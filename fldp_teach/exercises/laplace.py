"""Checkers for the exercises of notebook 02 (the Laplace mechanism).

Each checker compares the student's function with the library or with a formula written out in
its docstring, prints "Correct." or a hint (:func:`fldp_teach.exercises.report`) and returns True/False;
it never raises, so an unfinished exercise just prints a hint.
"""
from __future__ import annotations

import math

from fldp_teach.exercises import call_safely, as_number, report
from fldp_teach.mechanisms import laplace_scale

__all__ = ["check_laplace_scale", "check_mean_sensitivity", "check_laplace_stddev"]


def check_laplace_scale(my_laplace_scale) -> bool:
    """``my_laplace_scale(epsilon, l1_sensitivity)`` must return b = Δ₁/ε
    (``mechanisms.laplace_scale``; Dwork & Roth 2014, Thm 3.6)."""
    for eps, d1 in ((1.0, 1.0), (0.5, 1.0), (2.0, 3.0), (0.1, 100.0), (4.0, 0.25)):
        got, err = call_safely(my_laplace_scale, eps, d1)
        if err is not None:
            return report(False, success="", hint=f"my_laplace_scale({eps}, {d1}) raised {err!r}.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"my_laplace_scale({eps}, {d1}) returned {got!r}: "
                                                  "return a number (replace `...`).")
        want = laplace_scale(epsilon=eps, l1_sensitivity=d1)
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"my_laplace_scale({eps}, {d1}) = {value:.4g}, expected {want:.4g}."
            if math.isclose(value, eps / d1, rel_tol=1e-9):
                hint += " You computed ε/Δ₁: more privacy (smaller ε) must mean MORE noise."
            else:
                hint += " The noise must grow with the sensitivity and shrink as ε grows."
            return report(False, success="", hint=hint)
    return report(True, success="b = Δ₁/ε: double the sensitivity or halve ε, and the noise doubles.", hint="")


def _mean_l1_sensitivity(*, lower, upper, num_examples) -> float:
    """Δ₁ = (upper − lower)/n of the mean of n values clipped to [lower, upper], for
    *replace-one* neighbours with n public: replacing one value moves the sum by at most
    upper − lower (Dwork & Roth 2014, §3.3, sensitivity of sums of bounded values)."""
    return (upper - lower) / num_examples


def check_mean_sensitivity(my_mean_sensitivity) -> bool:
    """``my_mean_sensitivity(lower, upper, num_examples)`` must return (upper − lower)/n, the L1
    sensitivity of the mean of n values in [lower, upper] under replace-one neighbours."""
    for lo, hi, n in ((0.0, 1.0, 10), (0.0, 100.0, 1000), (-5.0, 5.0, 50), (18.0, 90.0, 7)):
        got, err = call_safely(my_mean_sensitivity, lo, hi, n)
        if err is not None:
            return report(False, success="", hint=f"my_mean_sensitivity({lo}, {hi}, {n}) raised {err!r}.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"my_mean_sensitivity({lo}, {hi}, {n}) returned {got!r}: "
                                                  "return a number (replace `...`).")
        want = _mean_l1_sensitivity(lower=lo, upper=hi, num_examples=n)
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"my_mean_sensitivity({lo}, {hi}, {n}) = {value:.4g}, expected {want:.4g}."
            if math.isclose(value, hi / n, rel_tol=1e-9) and lo != 0:
                hint += " Replacing one person can move a value from `lower` all the way to `upper`."
            elif math.isclose(value, hi - lo, rel_tol=1e-9):
                hint += " That is the sensitivity of the SUM; the mean divides it by n."
            else:
                hint += " Ask: by how much can ONE replaced value move the mean?"
            return report(False, success="", hint=hint)
    return report(True, success="Δ₁ = (upper − lower)/n: a mean of many bounded values needs little noise.", hint="")


def check_laplace_stddev(my_laplace_stddev) -> bool:
    """``my_laplace_stddev(scale)`` must return √2·b, the standard deviation of Lap(0, b)
    (its variance is 2b²: Var = ∫ z² e^{−|z|/b}/(2b) dz = 2b²)."""
    for b in (0.5, 1.0, 2.0, 10.0):
        got, err = call_safely(my_laplace_stddev, b)
        if err is not None:
            return report(False, success="", hint=f"my_laplace_stddev({b}) raised {err!r}.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"my_laplace_stddev({b}) returned {got!r}: return a number.")
        want = math.sqrt(2.0) * b
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"my_laplace_stddev({b}) = {value:.4g}, expected {want:.4g}."
            if math.isclose(value, b, rel_tol=1e-9):
                hint += " b is the scale, not the standard deviation: the variance of Lap(b) is 2b²."
            elif math.isclose(value, 2 * b * b, rel_tol=1e-9):
                hint += " That is the variance; take its square root."
            return report(False, success="", hint=hint)
    return report(True, success="std = √2·b: at ε = 1 a count is off by about 1.41 on average (RMS).", hint="")
