"""Checkers for the exercises of notebook 04 (clipping).

Each checker calls the student's function on inputs the notebook never shows, compares with
``fldp_teach.clipping`` or with a formula in its docstring, prints "Correct." or a hint
(:func:`fldp_teach.exercises.report`) and returns a :class:`~fldp_teach.exercises.Verdict`; it never
raises (numpy warnings of a naive answer, e.g. 0/0 on the zero vector, are silenced and reported
as a hint instead). An answer that calls ``fldp_teach`` is refused
(:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.clipping import clip_by_l2_norm
from fldp_teach.exercises import as_number, call_safely, exercise, report

__all__ = ["check_clip_update", "check_min_batch_size", "check_adaptive_step"]


def _update_cases():
    rng = np.random.default_rng(3)
    big = [rng.normal(size=(4, 3)) * 3.0, rng.normal(size=3)]
    lopsided = [np.full((2, 2), 5.0), np.array([0.1, -0.1]), np.array([[0.2]])]
    return [
        (big, 2.5, "a two-layer update of norm above C"),
        ([0.01 * t for t in big], 2.5, "an update already inside the ball"),
        (lopsided, 1.5, "a three-layer update whose first layer holds almost all of the norm"),
        ([np.zeros((3, 2)), np.zeros(2)], 1.0, "an update that is all zeros"),
        ([rng.normal(size=20)], 0.7, "a one-layer update"),
    ]


@exercise()
def check_clip_update(my_clip_update) -> bool:
    """``my_clip_update(layers, clip_norm)`` must return the list of layers scaled by one common
    factor min(1, C/‖v‖₂), ‖v‖₂ the norm of all layers together (McMahan et al. 2018, ClipFn), each
    layer keeping its shape; equal (to 1e-12) to ``clipping.clip_by_l2_norm(layers, clip_norm=C)[0]``,
    including an all-zero update, which must stay zero."""
    for layers, c, what in _update_cases():
        got, err = call_safely(my_clip_update, [t.copy() for t in layers], c)
        if err is not None:
            return report(False, success="", hint=f"my_clip_update raised {err!r} on {what}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_clip_update returns nothing yet: return the list of clipped layers.")
        want, _ = clip_by_l2_norm(layers, clip_norm=c)
        try:
            got = [np.asarray(t, dtype=float) for t in got]
        except (TypeError, ValueError):
            return report(False, success="", hint=f"on {what} you return {type(got).__name__}: return a list of arrays.")
        if len(got) != len(want) or any(g.shape != w.shape for g, w in zip(got, want)):
            return report(False, success="", hint=f"on {what}: return one array per layer, each of its original shape "
                                                  f"{[w.shape for w in want]}; got {[g.shape for g in got]}.")
        if not all(np.all(np.isfinite(g)) for g in got):
            return report(False, success="", hint=f"on {what} you return NaN or inf: C/‖v‖ is C/0 for an all-zero update. "
                                                  "Test ‖v‖ ≤ C first (the convention C/0 = ∞ gives the factor 1).")
        if not all(np.allclose(g, w, rtol=1e-12, atol=1e-12) for g, w in zip(got, want)):
            hint = f"on {what} (C = {c}) your layers differ from the expected ones."
            per_layer = [clip_by_l2_norm(t, clip_norm=c)[0] for t in layers]
            norm = math.sqrt(sum(float(np.sum(t * t)) for t in layers))
            if all(np.allclose(g, p) for g, p in zip(got, per_layer)):
                hint += (" You clipped each layer to C on its own: the update's norm can then reach C·√L for L layers."
                         " Compute ONE norm over all the layers and scale every layer by the same factor.")
            elif norm > 0 and all(np.allclose(g, t * c / norm) for g, t in zip(got, layers)):
                hint += " You scaled every update to norm C: an update inside the ball must stay unchanged."
            return report(False, success="", hint=hint)
    return report(True, success="one norm, one factor for every layer: the whole update has norm ≤ C, "
                                "so the sum over clients has L2 sensitivity C.", hint="")


def min_batch_size(*, noise_multiplier, clip_norm, dim, target) -> int:
    """The smallest batch B with √d·zC/B ≤ target: the noise N(0, z²C²I_d) added to the sum of
    clipped gradients has, on the mean, std zC/B per coordinate and RMS norm
    √(E‖·‖²) = √d·zC/B (notebook 04, section 4). So B = ⌈√d·zC/target⌉."""
    return math.ceil(math.sqrt(dim) * noise_multiplier * clip_norm / target)


# (z, C, d, target): none lands on an integer before rounding; the notebook's batch is B = 426, d = 62.
_BATCH_CASES = ((1.3, 1.5, 75, 0.02), (1.1, 0.5, 9000, 0.05), (4.0, 2.0, 120, 1.0), (0.5, 10.0, 500_000, 0.2))


@exercise()
def check_min_batch_size(my_min_batch_size) -> bool:
    """``my_min_batch_size(noise_multiplier, clip_norm, dim, target)`` must return
    ⌈√d·zC/target⌉ (:func:`min_batch_size`), a whole number."""
    for z, c, d, target in _BATCH_CASES:
        call = f"my_min_batch_size({z}, {c}, {d}, {target})"
        got, err = call_safely(my_min_batch_size, z, c, d, target)
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"{call} returned {got!r}: return a number (replace `...`).")
        want = min_batch_size(noise_multiplier=z, clip_norm=c, dim=d, target=target)
        exact = math.sqrt(d) * z * c / target
        if value != want:
            hint = f"{call} = {value:g}, expected {want}."
            if math.isclose(value, exact, rel_tol=1e-9):
                hint += " A batch size is a whole number: round UP, so that the noise stays below the target."
            elif value == math.floor(exact):
                hint += " Rounding down leaves the noise ABOVE the target: round up."
            elif math.isclose(value, math.ceil(z * c / target), rel_tol=1e-9) or math.isclose(value, z * c / target, rel_tol=1e-9):
                hint += (" The noise lands on each of the d coordinates: its norm is √d times the std per coordinate"
                         " (E‖noise‖² = d·(zC/B)²).")
            elif math.isclose(value, math.ceil(d * z * c / target), rel_tol=1e-9) or math.isclose(value, d * z * c / target, rel_tol=1e-9):
                hint += " The norm is the square root of E‖noise‖² = d·(zC/B)²: √d, not d."
            elif math.isclose(value, math.ceil(exact ** 2), rel_tol=1e-9) or math.isclose(value, exact ** 2, rel_tol=1e-9):
                hint += " The noise is drawn once for the sum, so on the mean its std is zC/B, not zC/√B."
            return report(False, success="", hint=hint)
    return report(True, success="B = ⌈√d·zC/target⌉: ten times less noise on the mean costs a ten times "
                                "larger batch (and the accountant charges a larger sampling rate).", hint="")


def adaptive_step(norms, *, clip_norm, target_quantile, learning_rate, count_noise) -> float:
    """One step of adaptive quantile clipping with a given draw of the count noise (Andrew et al.
    2021, Alg. 1): b̃ = (Σ_k (b_k − ½) + noise)/m + ½ = b̄ + noise/m with b_k = 1[‖g_k‖ ≤ C], and
    C ← C·exp(−η(b̃ − γ)). With ``count_noise`` drawn from N(0, σ_b²) this is
    ``clipping.adaptive_clip_norm_update``."""
    norms = np.asarray(norms, dtype=float)
    b_tilde = (np.sum((norms <= clip_norm) - 0.5) + count_noise) / norms.size + 0.5
    return float(clip_norm * math.exp(-learning_rate * (b_tilde - target_quantile)))


@exercise()
def check_adaptive_step(my_adaptive_step) -> bool:
    """``my_adaptive_step(norms, clip_norm, target_quantile, learning_rate, count_noise)`` must
    return :func:`adaptive_step`, on batches that hold norms exactly equal to C."""
    rng = np.random.default_rng(11)
    for c, gamma, eta, noise in ((1.3, 0.5, 0.2, 2.5), (3.0, 0.9, 0.5, -1.7), (0.2, 0.1, 1.0, 0.0), (0.8, 0.7, 0.3, 4.0)):
        norms = np.abs(rng.normal(1.0, 1.0, size=40))
        norms[:3] = c                       # a norm equal to C fits under C
        call = f"with C = {c}, γ = {gamma}, η = {eta}, count_noise = {noise}"
        got, err = call_safely(my_adaptive_step, norms.copy(), c, gamma, eta, noise)
        if err is not None:
            return report(False, success="", hint=f"my_adaptive_step raised {err!r} ({call}).")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_adaptive_step returns nothing yet: return the new C.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"my_adaptive_step returned {got!r}: return the new C.")
        want = adaptive_step(norms, clip_norm=c, target_quantile=gamma, learning_rate=eta, count_noise=noise)
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"{call} you return {value:.5g}, expected {want:.5g}."
            m, fits = norms.size, float(np.sum(norms <= c))
            step = lambda b: c * math.exp(-eta * (b - gamma))  # noqa: E731
            if math.isclose(value, c * math.exp(eta * (fits / m + noise / m - gamma)), rel_tol=1e-9):
                hint += " Wrong sign: if more than γ of the norms fit under C, C must SHRINK."
            elif math.isclose(value, step(fits / m + noise), rel_tol=1e-9):
                hint += " The noise is added to the SUM of the bits: divide it by m, like the bits."
            elif noise and math.isclose(value, step(fits / m), rel_tol=1e-9):
                hint += " count_noise must enter b̃: the bits are private too."
            elif math.isclose(value, step((np.sum(norms < c) + noise) / m), rel_tol=1e-9):
                hint += " A norm equal to C fits under C (clipping leaves it unchanged): count ‖g‖ ≤ C."
            return report(False, success="", hint=hint)
    return report(True, success="b̃ = b̄ + noise/m and C ← C·exp(−η(b̃ − γ)): C drifts to the γ-quantile, "
                                "and the private count costs only a little noise.", hint="")
