"""Checkers for the exercises of notebook 04 (clipping).

Each checker compares the student's function with ``fldp_teach.clipping``, prints "Correct." or a hint
(:func:`fldp_teach.exercises.report`) and returns True/False; it never raises (numpy warnings of
a naive answer, e.g. 0/0 on the zero vector, are silenced and reported as a hint instead).
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.clipping import adaptive_clip_norm_update, clip_by_l2_norm
from fldp_teach.exercises import call_safely, report

__all__ = ["check_clip", "check_noise_stddev", "check_adaptive_step"]


def check_clip(my_clip) -> bool:
    """``my_clip(v, clip_norm)`` must return v·min(1, C/‖v‖₂) for a 1-d array v, equal (to 1e-12)
    to ``clipping.clip_by_l2_norm(v, clip_norm=C)[0]`` — including the zero vector, which must stay 0."""
    cases = [
        (np.array([3.0, 4.0]), 1.0, "a vector of norm 5 clipped to 1"),
        (np.array([0.3, -0.4]), 1.0, "a vector already inside the ball (norm 0.5 < 1)"),
        (np.array([1.0, 2.0, 2.0]), 3.0, "a vector exactly on the sphere (norm 3 = C)"),
        (np.zeros(4), 1.0, "the zero vector"),
        (np.random.default_rng(3).normal(size=50), 2.5, "a random 50-dim vector"),
    ]
    for v, c, what in cases:
        got, err = call_safely(my_clip, v.copy(), c)
        if err is not None:
            return report(False, success="", hint=f"my_clip raised {err!r} on {what}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_clip returns nothing yet: return the clipped vector.")
        want, _ = clip_by_l2_norm(v, clip_norm=c)
        got = np.asarray(got, dtype=float)
        if got.shape != want.shape:
            return report(False, success="", hint=f"on {what}: shape {got.shape}, expected {want.shape}.")
        if not np.all(np.isfinite(got)):
            return report(False, success="", hint=f"on {what} you return {got}: C/‖v‖ is C/0 for the zero vector. "
                                                  "Use min(1, C/‖v‖) with the convention C/0 = ∞, or test ‖v‖ ≤ C first.")
        if not np.allclose(got, want, rtol=1e-12, atol=1e-12):
            hint = f"on {what} (C = {c}) you return {np.round(got, 4)}, expected {np.round(want, 4)}."
            if np.allclose(got, c * v / np.linalg.norm(v)):
                hint += " You scaled every vector to norm C: vectors inside the ball must stay unchanged."
            return report(False, success="", hint=hint)
    return report(True, success="your clip matches clip_by_l2_norm, zero vector included.", hint="")


def check_noise_stddev(my_noise_stddev) -> bool:
    """``my_noise_stddev(noise_multiplier, clip_norm, batch_size)`` must return zC/B, the std per
    coordinate of the noise in the DP mean (Σ_i clip(g_i) + N(0, z²C²I))/B (Abadi et al. 2016, Alg. 1)."""
    for z, c, b in ((1.0, 1.0, 100), (1.1, 0.5, 256), (4.0, 2.0, 64), (0.5, 10.0, 1000)):
        got, err = call_safely(my_noise_stddev, z, c, b)
        if err is not None:
            return report(False, success="", hint=f"my_noise_stddev({z}, {c}, {b}) raised {err!r}.")
        try:
            value = float(got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"my_noise_stddev returned {got!r}: return a number.")
        want = z * c / b
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"my_noise_stddev({z}, {c}, {b}) = {value:.4g}, expected {want:.4g}."
            if math.isclose(value, z * c, rel_tol=1e-9):
                hint += " That is the std of the noise on the SUM; the mean divides it by B."
            elif math.isclose(value, z * c / math.sqrt(b), rel_tol=1e-9):
                hint += " The noise is added once to the sum, not per example: divide by B, not √B."
            return report(False, success="", hint=hint)
    return report(True, success="zC/B: a larger batch dilutes the same noise.", hint="")


def check_adaptive_step(my_adaptive_step) -> bool:
    """``my_adaptive_step(norms, clip_norm, target_quantile, learning_rate)`` must return the new C of
    one *noiseless* step of adaptive quantile clipping, C·exp(−η(b̄ − γ)) with b̄ the fraction of
    norms ≤ C (Andrew et al. 2021, Alg. 1), as ``clipping.adaptive_clip_norm_update`` with σ_b = 0."""
    rng = np.random.default_rng(11)
    for c, gamma, eta in ((1.0, 0.5, 0.2), (3.0, 0.9, 0.5), (0.2, 0.1, 1.0)):
        norms = np.abs(rng.normal(1.0, 1.0, size=40))
        got, err = call_safely(my_adaptive_step, norms.copy(), c, gamma, eta)
        if err is not None:
            return report(False, success="", hint=f"my_adaptive_step raised {err!r}.")
        try:
            value = float(got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"my_adaptive_step returned {got!r}: return the new C.")
        want, _ = adaptive_clip_norm_update(norms, clip_norm=c, target_quantile=gamma, learning_rate=eta,
                                            count_stddev=0.0)
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"with C = {c}, γ = {gamma}, η = {eta} you return {value:.5g}, expected {want:.5g}."
            frac = float(np.mean(norms <= c))
            if math.isclose(value, c * math.exp(eta * (frac - gamma)), rel_tol=1e-9):
                hint += " Wrong sign: if more than γ of the norms fit under C, C must SHRINK."
            return report(False, success="", hint=hint)
    return report(True, success="C ← C·exp(−η(b̄ − γ)): C drifts to the γ-quantile of the norms.", hint="")
