"""Checkers for the exercises of notebook 08 (RDP accounting).

Each checker calls the student's function on several inputs, compares with the library, prints
"Correct." or a hint through :func:`fldp_teach.exercises.report`, and returns True/False. It never
raises, so an unfinished exercise (``...`` returns None) just prints a hint.
"""
from __future__ import annotations

import math

from fldp_teach.accounting import calibrate_noise_multiplier, dp_sgd_epsilon, naive_composition
from fldp_teach.exercises import call_safely, report

__all__ = ["check_naive_composition", "check_noise_for_target"]


def check_naive_composition(my_naive_composition) -> bool:
    """``my_naive_composition(epsilon, delta, k)`` must return the pair (kε, kδ) of basic
    composition (Dwork & Roth 2014, Thm 3.16), as ``fldp_teach.accounting.naive_composition``."""
    for eps, delta, k in ((1.0, 1e-6, 10), (0.1, 1e-5, 300), (2.5, 0.0, 4)):
        got, err = call_safely(my_naive_composition, eps, delta, k)
        if err is not None:
            return report(False, success="", hint=f"my_naive_composition({eps}, {delta}, {k}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_naive_composition returns nothing yet: return a pair (ε_total, δ_total).")
        want = naive_composition(epsilon=eps, delta=delta, steps=k)
        try:
            e, d = (float(v) for v in got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"return a pair (ε_total, δ_total), got {got!r}.")
        if not math.isclose(e, want[0], rel_tol=1e-9):
            hint = f"for ε = {eps}, k = {k} your ε_total is {e:.4g}, expected {want[0]:.4g}."
            if math.isclose(e, eps * math.sqrt(k), rel_tol=1e-9):
                hint += " √k·ε is the flavour of ADVANCED composition; naive composition adds the ε's."
            return report(False, success="", hint=hint)
        if not math.isclose(d, want[1], rel_tol=1e-9, abs_tol=1e-300):
            return report(False, success="", hint=f"for δ = {delta}, k = {k} your δ_total is {d:.3g}, "
                                                  f"expected {want[1]:.3g}: the δ's add up too.")
    return report(True, success="naive composition: ε and δ both grow linearly in k.", hint="")


_CASES = ((2.0, 256 / 60_000, 60 * 235, 1e-5), (8.0, 0.01, 1000, 1e-6), (1.0, 0.05, 200, 1e-5))


def check_noise_for_target(my_noise_for_target) -> bool:
    """``my_noise_for_target(target_epsilon, sampling_rate, steps, delta)`` must return a z with
    ``dp_sgd_epsilon(z) ≤ target`` that wastes at most 2 % more noise than necessary
    (z ≤ 1.02 · ``calibrate_noise_multiplier(...)``)."""
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
