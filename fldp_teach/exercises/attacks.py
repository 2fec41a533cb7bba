"""Checkers for the exercises of notebook 13 (what DP protects): the corner of the (ε, δ)-DP
hypothesis-testing region (whose TPR − FPR is the membership-advantage bound), and reading an input
back out of a Dense layer's gradient.

Each checker calls the student's function on inputs the notebook does not show, compares with the
library (:mod:`fldp_teach.membership`, and the formula of :mod:`fldp_teach.inversion` in numpy),
prints "Correct." or a hint through :func:`fldp_teach.exercises.report`, and returns True/False. It
never raises, so an unfinished exercise (``...`` returns None) just prints a hint. An answer that
calls ``fldp_teach`` (``dp_advantage_bound``, ``dp_max_tpr``, ``invert_dense_gradient``, ...) is
refused (:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.exercises import call_safely, exercise, report
from fldp_teach.membership import dp_advantage_bound

__all__ = ["check_advantage_corner", "check_dense_inversion"]

# (ε, δ) pairs that the notebook never prints (it shows δ = 1e-5 at ε = 0.1, 0.5, 1, 2, 4, 8)
_CORNER_CASES = ((0.3, 0.0), (1.5, 1e-4), (3.0, 1e-6), (2.5, 0.01), (5.0, 0.1), (0.7, 0.2))


@exercise()
def check_advantage_corner(my_advantage_corner) -> bool:
    """``my_advantage_corner(epsilon, delta)`` must return ``(fpr, tpr)``, the corner of the region
    TPR ≤ e^ε FPR + δ, 1 − FPR ≤ e^ε (1 − TPR) + δ where both are equalities:
    FPR = (1 − δ)/(e^ε + 1), TPR = (e^ε + δ)/(e^ε + 1). Its TPR − FPR is the advantage bound
    (e^ε − 1 + 2δ)/(e^ε + 1) (:func:`fldp_teach.membership.dp_advantage_bound`)."""
    for eps, delta in _CORNER_CASES:
        got, err = call_safely(my_advantage_corner, eps, delta)
        if err is not None:
            return report(False, success="", hint=f"my_advantage_corner({eps}, {delta}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_advantage_corner returns nothing yet: "
                                                  "return the pair (fpr, tpr).")
        try:
            fpr, tpr = (float(v) for v in got)
        except (TypeError, ValueError):
            return report(False, success="", hint=(
                f"my_advantage_corner returned {got!r}: return the corner as a pair (fpr, tpr), not the "
                "advantage alone."))
        e = math.exp(eps)
        want_fpr = (1 - delta) / (e + 1)
        want_tpr = e * want_fpr + delta
        close = lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)  # noqa: E731
        if close(fpr, want_fpr) and close(tpr, want_tpr):
            continue
        hint = f"at ε = {eps}, δ = {delta} you return (FPR, TPR) = ({fpr:.5f}, {tpr:.5f}). "
        first = close(tpr, e * fpr + delta)
        second = close(1 - fpr, e * (1 - tpr) + delta)
        if close(fpr, want_tpr) and close(tpr, want_fpr):
            hint += "You swapped them: return (fpr, tpr), the false-positive rate first."
        elif close(fpr, 1 / (e + 1)) and close(tpr, e / (e + 1)):
            hint += "That is the corner for δ = 0: where does δ enter the two equalities?"
        elif first and not second:
            hint += "Your point is on TPR = e^ε FPR + δ but not on 1 − FPR = e^ε (1 − TPR) + δ: the corner is on both."
        elif second and not first:
            hint += "Your point is on 1 − FPR = e^ε (1 − TPR) + δ but not on TPR = e^ε FPR + δ: the corner is on both."
        else:
            hint += ("Write both inequalities as equalities and solve the two linear equations for FPR and TPR "
                     "(substitute the first into the second).")
        return report(False, success="", hint=hint)
    bound = dp_advantage_bound(epsilon=1.0, delta=1e-5)
    return report(True, success=(f"FPR = (1 − δ)/(e^ε + 1), TPR = (e^ε + δ)/(e^ε + 1): TPR − FPR = "
                                 f"(e^ε − 1 + 2δ)/(e^ε + 1), {bound:.3f} at ε = 1."), hint="")


@exercise()
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
