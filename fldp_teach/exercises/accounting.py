"""Checkers for the exercises of notebook 08 (RDP accounting).

Each checker calls the student's function on inputs the notebook never shows, compares with a
closed form or with the library, prints "Correct." or a hint through
:func:`fldp_teach.exercises.report`, and returns a :class:`~fldp_teach.exercises.Verdict`. It never
raises, so an unfinished exercise (``...`` returns None) just prints a hint. An answer that calls
``fldp_teach`` (other than the accountant an exercise allows) is refused
(:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import math

from fldp_teach.accounting import calibrate_noise_multiplier, dp_sgd_epsilon
from fldp_teach.exercises import as_number, call_safely, exercise, report

__all__ = ["check_gaussian_rdp_epsilon", "check_noise_for_target"]


def gaussian_rdp_epsilon(*, noise_multiplier, queries, delta) -> float:
    """ε of k Gaussian mechanisms with noise multiplier z (no sampling), composed in RDP and
    converted with the classic bound, minimised over every real order α > 1:
    min_α k·α/(2z²) + ln(1/δ)/(α − 1). With β = α − 1 the minimum is at β = z·√(2 ln(1/δ)/k) and
    equals k/(2z²) + √(2k ln(1/δ))/z (Mironov 2017, Prop. 3 and 7). A grid of orders can only give
    more."""
    z, k, log_term = noise_multiplier, queries, math.log(1.0 / delta)
    return k / (2.0 * z * z) + math.sqrt(2.0 * k * log_term) / z


# (z, k, δ): the notebook's own example is z = 1.1, T = 1000, δ = 1e-5 on a grid of orders.
_RDP_CASES = ((2.0, 50, 1e-6), (5.0, 1, 1e-5), (1.5, 400, 1e-7), (10.0, 20, 1e-3))


@exercise()
def check_gaussian_rdp_epsilon(my_gaussian_rdp_epsilon) -> bool:
    """``my_gaussian_rdp_epsilon(noise_multiplier, k, delta)`` must return
    :func:`gaussian_rdp_epsilon` to a relative 1e-4 (calculus, or a fine search over α)."""
    for z, k, delta in _RDP_CASES:
        call = f"my_gaussian_rdp_epsilon({z}, {k}, {delta})"
        got, err = call_safely(my_gaussian_rdp_epsilon, z, k, delta)
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_gaussian_rdp_epsilon returns nothing yet: add the k curves "
                                                  "α/(2z²), convert, minimise over α.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"{call} returned {got!r}: return a number.")
        want = gaussian_rdp_epsilon(noise_multiplier=z, queries=k, delta=delta)
        if not math.isclose(value, want, rel_tol=1e-4):
            hint = f"{call} = {value:.6g}, expected {want:.6g}."
            one = gaussian_rdp_epsilon(noise_multiplier=z, queries=1, delta=delta)
            if math.isclose(value, one, rel_tol=1e-4) and k > 1:
                hint += " That is ONE query: k queries add k curves, k·α/(2z²)."
            elif math.isclose(value, k * one, rel_tol=1e-4) and k > 1:
                hint += (" You converted one query and multiplied by k: that is naive composition. Add the curves,"
                         " then convert ONCE, paying ln(1/δ)/(α − 1) a single time.")
            elif value > want:
                hint += (" Above the minimum: minimise over every real α > 1 (put β = α − 1 and set the derivative"
                         " to zero), not over a few orders.")
            else:
                hint += (" Below the minimum, so not a valid ε: check the curve α/(2z²) per query and the classic"
                         " conversion term ln(1/δ)/(α − 1).")
            return report(False, success="", hint=hint)
    return report(True, success="ε = k/(2z²) + √(2k ln(1/δ))/z: for many queries it grows like √k (while naive "
                                "composition grows like k), and at large k the k/(2z²) term takes over.", hint="")


# (target ε, q, T, δ): the notebook calibrates q = 256/60000, T = 14062, δ = 1e-5 for ε = 1, 3, 8.
_CASES = ((2.5, 0.002, 20_000, 1e-6), (6.0, 0.02, 800, 1e-5), (0.8, 0.05, 150, 1e-5))


@exercise(allowed=("dp_sgd_epsilon",))
def check_noise_for_target(my_noise_for_target) -> bool:
    """``my_noise_for_target(target_epsilon, sampling_rate, steps, delta)`` must return a z with
    ``dp_sgd_epsilon(z) ≤ target`` that wastes at most 2 % more noise than necessary
    (z ≤ 1.02 · ``calibrate_noise_multiplier(...)``). It may call ``dp_sgd_epsilon`` (the
    accountant), not ``calibrate_noise_multiplier`` (the answer)."""
    for target, q, t, delta in _CASES:
        got, err = call_safely(my_noise_for_target, target, q, t, delta)
        if err is not None:
            return report(False, success="", hint=f"my_noise_for_target({target}, {q:.4g}, {t}, {delta}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_noise_for_target returns nothing yet: search z (e.g. bisection) "
                                                  "with dp_sgd_epsilon.")
        try:
            z = float(got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"return a number z, got {got!r}.")
        if not z > 0 or math.isinf(z):
            return report(False, success="", hint=f"z must be a positive finite number, got {z}.")
        eps = dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=t, delta=delta)
        if eps > target * (1 + 1e-9):
            return report(False, success="", hint=f"with z = {z:.4f} (q = {q:.4g}, T = {t}) ε = {eps:.3f} exceeds the "
                                                  f"target {target}: more noise is needed.")
        best = calibrate_noise_multiplier(target_epsilon=target, sampling_rate=q, steps=t, delta=delta)
        if z > 1.02 * best:
            return report(False, success="", hint=f"z = {z:.4f} meets ε ≤ {target} but the smallest such z is about "
                                                  f"{best:.4f}: you add {100 * (z / best - 1):.0f} % more noise "
                                                  "than needed (bisect more finely).")
    return report(True, success="z found: ε(z) decreases in z, so bisection on z finds the smallest noise for a target ε.",
                  hint="")
