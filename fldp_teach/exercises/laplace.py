"""Checkers for the exercises of notebook 02 (the Laplace mechanism).

Each checker calls the student's function on inputs the notebook never shows, compares with a
formula written out in its docstring, prints "Correct." or a hint
(:func:`fldp_teach.exercises.report`) and returns a :class:`~fldp_teach.exercises.Verdict`; it
never raises, so an unfinished exercise just prints a hint. An answer that calls ``fldp_teach``
is refused (:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import math

from fldp_teach.exercises import as_number, call_safely, exercise, report

__all__ = ["check_laplace_scale", "check_sum_scale", "check_mean_sensitivity", "check_laplace_tail"]


@exercise()
def check_laplace_scale(my_laplace_scale) -> bool:
    """``my_laplace_scale(epsilon, l1_sensitivity)`` must return b = Δ₁/ε (Dwork & Roth 2014,
    Thm 3.6). Not an exercise of notebook 02 any more (its theorem states the answer); kept as the
    example of notebooks/AUTHORING.md."""
    for eps, d1 in ((0.7, 1.0), (0.5, 2.0), (2.0, 3.0), (0.1, 100.0), (4.0, 0.25)):
        got, err = call_safely(my_laplace_scale, eps, d1)
        if err is not None:
            return report(False, success="", hint=f"my_laplace_scale({eps}, {d1}) raised {err!r}.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"my_laplace_scale({eps}, {d1}) returned {got!r}: "
                                                  "return a number (replace `...`).")
        want = d1 / eps
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"my_laplace_scale({eps}, {d1}) = {value:.4g}, expected {want:.4g}."
            if math.isclose(value, eps / d1, rel_tol=1e-9):
                hint += " You computed ε/Δ₁: more privacy (smaller ε) must mean MORE noise."
            else:
                hint += " The noise must grow with the sensitivity and shrink as ε grows."
            return report(False, success="", hint=hint)
    return report(True, success="b = Δ₁/ε: double the sensitivity or halve ε, and the noise doubles.", hint="")


def sum_scale(*, epsilon, lower, upper) -> float:
    """b = max(|lower|, |upper|)/ε: the Laplace scale for the sum of values clipped to
    [lower, upper] under add/remove neighbours. Adding or removing one person moves the sum by
    that person's value x ∈ [lower, upper], so Δ₁ = max|x| = max(|lower|, |upper|) (for
    replace-one neighbours it would be upper − lower)."""
    return max(abs(lower), abs(upper)) / epsilon


# (ε, lower, upper): the notebook's own sum is ages in [0, 100] at ε = 1.
_SUM_CASES = ((1.0, -30.0, 10.0), (0.5, 0.0, 250.0), (2.0, -5.0, 5.0), (0.1, 18.0, 90.0), (4.0, -2.0, -1.0))


@exercise()
def check_sum_scale(my_sum_scale) -> bool:
    """``my_sum_scale(epsilon, lower, upper)`` must return max(|lower|, |upper|)/ε
    (:func:`sum_scale`), including ranges that hold negative values."""
    for eps, lo, hi in _SUM_CASES:
        call = f"my_sum_scale({eps}, {lo}, {hi})"
        got, err = call_safely(my_sum_scale, eps, lo, hi)
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"{call} returned {got!r}: return a number (replace `...`).")
        want = sum_scale(epsilon=eps, lower=lo, upper=hi)
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"{call} = {value:.4g}, expected {want:.4g}."
            if math.isclose(value, (hi - lo) / eps, rel_tol=1e-9):
                hint += (" (upper − lower) is the sensitivity for REPLACING one person; adding or removing one"
                         " moves the sum by that person's own value, at most max(|lower|, |upper|).")
            elif math.isclose(value, hi / eps, rel_tol=1e-9) or math.isclose(value, abs(hi) / eps, rel_tol=1e-9):
                hint += f" A value can be as far from 0 as {lo}: removing such a person moves the sum by {abs(lo)}."
            elif math.isclose(value, eps / (want * eps), rel_tol=1e-9) or math.isclose(value, want * eps * eps, rel_tol=1e-9):
                hint += " More privacy (smaller ε) must mean MORE noise: divide the sensitivity by ε."
            else:
                hint += " First the sensitivity (how far can one person move the sum?), then b = Δ₁/ε."
            return report(False, success="", hint=hint)
    return report(True, success="Δ₁ = max(|lower|, |upper|) under add/remove: a range around 0 is cheaper than "
                                "one far from it, however narrow.", hint="")


def _mean_l1_sensitivity(*, lower, upper, num_examples) -> float:
    """Δ₁ = (upper − lower)/n of the mean of n values clipped to [lower, upper], for
    *replace-one* neighbours with n public: replacing one value moves the sum by at most
    upper − lower (Dwork & Roth 2014, §3.3, sensitivity of sums of bounded values)."""
    return (upper - lower) / num_examples


@exercise()
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


def laplace_tail(*, threshold, scale) -> float:
    """P[|Z| > t] = e^{−t/b} for Z ~ Lap(0, b) and t ≥ 0: each tail is
    ∫_t^∞ e^{−z/b}/(2b) dz = e^{−t/b}/2, and there are two."""
    return math.exp(-threshold / scale)


# (t, b): none is a case the notebook computes.
_TAIL_CASES = ((2.0, 1.0), (0.5, 3.0), (10.0, 4.0), (0.0, 2.0), (7.5, 0.5))


@exercise()
def check_laplace_tail(my_laplace_tail) -> bool:
    """``my_laplace_tail(t, scale)`` must return P[|Z| > t] = e^{−t/b} for Z ~ Lap(0, b)
    (:func:`laplace_tail`)."""
    for t, b in _TAIL_CASES:
        call = f"my_laplace_tail({t}, {b})"
        got, err = call_safely(my_laplace_tail, t, b)
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"{call} returned {got!r}: return a probability (replace `...`).")
        want = laplace_tail(threshold=t, scale=b)
        if not math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-15):
            hint = f"{call} = {value:.4g}, expected {want:.4g}."
            if math.isclose(value, want / 2, rel_tol=1e-9):
                hint += " That is one tail, P[Z > t]; the noise can also be below −t."
            elif math.isclose(value, 1 - want, rel_tol=1e-9, abs_tol=1e-15):
                hint += " That is P[|Z| ≤ t], the chance of a SMALL error."
            elif math.isclose(value, math.exp(-t * b), rel_tol=1e-9):
                hint += " The exponent is −t/b: a larger scale b makes large errors MORE likely."
            else:
                hint += " Integrate the density e^{−|z|/b}/(2b) from t to ∞, then count both tails."
            return report(False, success="", hint=hint)
    return report(True, success="P[|Z| > t] = e^{−t/b}: a count released at ε = 1 (b = 1) is off by more than 3 "
                                "only 5 % of the time, by more than 7 once in a thousand.", hint="")
