"""Checkers for the exercises of notebook 13 (what DP protects): the membership-advantage
bound of an (ε, δ)-DP model, and reading an input back out of a Dense layer's gradient.

Each checker calls the student's function on several inputs, compares with the library
(:mod:`fldp_teach.membership`, and the formula of :mod:`fldp_teach.inversion` in numpy), prints
"Correct." or a hint through :func:`fldp_teach.exercises.report`, and returns True/False. It never
raises, so an unfinished exercise (``...`` returns None) just prints a hint.
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.exercises import call_safely, report
from fldp_teach.membership import dp_advantage_bound

__all__ = ["check_advantage_bound", "check_dense_inversion"]


def check_advantage_bound(my_advantage_bound) -> bool:
    """``my_advantage_bound(epsilon, delta)`` must return (e^ε − 1 + 2δ)/(e^ε + 1), the largest
    TPR − FPR of any membership attack on an (ε, δ)-DP model."""
    for eps, delta in ((0.1, 0.0), (1.0, 0.0), (1.0, 1e-5), (2.0, 0.01), (5.0, 0.1), (0.5, 0.2)):
        got, err = call_safely(my_advantage_bound, eps, delta)
        if err is not None:
            return report(False, success="", hint=f"my_advantage_bound({eps}, {delta}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_advantage_bound returns nothing yet: "
                                                  "replace `...` by a formula in ε and δ.")
        try:
            got = float(got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"my_advantage_bound returned {got!r}, not a number.")
        want = dp_advantage_bound(epsilon=eps, delta=delta)
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            hint = (f"at ε = {eps}, δ = {delta} you return {got:.5f}, expected {want:.5f}. Hint: "
                    "maximise TPR − FPR subject to TPR ≤ e^ε FPR + δ and "
                    "1 − FPR ≤ e^ε (1 − TPR) + δ; the best point is where both are equalities.")
            if math.isclose(got, math.exp(eps) / (1 + math.exp(eps)), rel_tol=1e-9):
                hint += " You returned e^ε/(1 + e^ε), a success probability; the advantage is 2P − 1."
            elif math.isclose(got, math.tanh(eps / 2), rel_tol=1e-9):
                hint += " tanh(ε/2) is right only for δ = 0: where does δ enter?"
            elif math.isclose(got, math.exp(eps) - 1, rel_tol=1e-9):
                hint += " e^ε − 1 (Yeom et al.'s Thm 1 for pure ε-DP) is a valid but loose bound."
            return report(False, success="", hint=hint)
    return report(True, success="(e^ε − 1 + 2δ)/(e^ε + 1): at ε = 1 no attack beats TPR − FPR = 0.46.", hint="")


def check_dense_inversion(my_invert) -> bool:
    """``my_invert(grad_kernel, grad_bias)`` must return the input x of a Dense layer from the
    gradient of ONE example: grad_kernel = x ⊗ g (shape (d_in, d_out)), grad_bias = g."""
    rng = np.random.default_rng(11)
    for d_in, d_out, zeros in ((5, 3, 0), (64, 10, 0), (16, 8, 5)):
        x = rng.random(d_in)
        g = rng.normal(size=d_out)
        g[:zeros] = 0.0                              # dead ReLU units: zero bias gradient
        got, err = call_safely(my_invert, np.outer(x, g), g.copy())
        if err is not None:
            return report(False, success="", hint=f"my_invert raised {err!r} on a ({d_in}, {d_out}) gradient.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_invert returns nothing yet: replace `...`.")
        got = np.asarray(got, dtype=float)
        if got.shape != x.shape:
            hint = (f"for a ({d_in}, {d_out}) kernel gradient you return shape {got.shape}, "
                    f"expected ({d_in},): x has one entry per ROW of grad_kernel.")
            return report(False, success="", hint=hint)
        if not np.all(np.isfinite(got)):
            return report(False, success="", hint="your x contains nan/inf: some bias gradients are 0 "
                                                  "(dead units); divide by a nonzero one only.")
        if not np.allclose(got, x, rtol=1e-7, atol=1e-9):
            return report(False, success="", hint="∂L/∂W_ij = x_i ∂L/∂b_j: divide a COLUMN j of "
                                                  "grad_kernel by grad_bias[j] for a j with grad_bias[j] ≠ 0.")
    return report(True, success="one example's update gives its input back exactly.", hint="")
