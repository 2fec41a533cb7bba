"""Checkers for the exercises of notebook 05 (noise in the objective: E6, E7, output and
objective perturbation).

Each checker calls the student's function on inputs the notebook never shows, compares with a
closed form, prints "Correct." or a hint, and returns a :class:`~fldp_teach.exercises.Verdict`.
An answer that calls ``fldp_teach`` is refused (:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.exercises import as_number, call_safely, exercise, report

__all__ = ["check_sensitivity", "check_server_gradient"]


def sensitivity_bound(*, num_examples, regularization, feature_bound, lipschitz) -> float:
    """2LR/(nλ): the L2 sensitivity of argmin_θ (1/n) Σ ℓ(θᵀx_i, y_i) + (λ/2)‖θ‖² under
    replace-one neighbours when ‖x_i‖ ≤ R and |ℓ'| ≤ L. Chaudhuri, Monteleoni & Sarwate 2011,
    Corollary 8 states R = L = 1; the proof (their Lemma 7: a λ-strongly convex function's
    minimiser moves by at most the change of its gradient divided by λ, and replacing one row
    changes the data term's gradient by at most (1/n)(LR + LR)) gives the general case."""
    return 2.0 * lipschitz * feature_bound / (num_examples * regularization)


@exercise()
def check_sensitivity(my_sensitivity) -> bool:
    """``my_sensitivity(num_examples, regularization, feature_bound, lipschitz)`` must return
    2LR/(nλ) (:func:`sensitivity_bound`) on inputs the notebook never uses."""
    cases = ((426, 0.01, 1.0, 1.0), (100, 0.5, 3.0, 1.0), (10_000, 1e-4, 1.0, 0.25), (57, 2.0, 0.5, 4.0))
    for n, lam, r, lip in cases:
        got, err = call_safely(my_sensitivity, n, lam, r, lip)
        call = f"my_sensitivity({n}, {lam}, {r}, {lip})"
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_sensitivity returns nothing yet: a formula in n, λ, R and L.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"return a number, got {got!r}.")
        want = sensitivity_bound(num_examples=n, regularization=lam, feature_bound=r, lipschitz=lip)
        if not math.isclose(value, want, rel_tol=1e-9):
            hint = f"{call} returned {value:.4g}, expected {want:.4g}."
            if math.isclose(value, want / 2, rel_tol=1e-9):
                hint += (" Off by a factor 2: replacing one patient removes one gradient term AND adds"
                         " another, each of norm ≤ LR/n.")
            elif math.isclose(value, 2 / (n * lam), rel_tol=1e-9):
                hint += " That is the R = L = 1 case; the gradient of one term has norm ≤ |ℓ'|·‖x‖ ≤ L·R."
            elif math.isclose(value, want * lam * lam, rel_tol=1e-9) or math.isclose(value, want * lam, rel_tol=1e-9):
                hint += " Check where λ goes: the minimiser moves by (gradient change)/λ."
            return report(False, success="", hint=hint)
    return report(True, success="2LR/(nλ): bigger rows or a steeper loss make one patient matter more; "
                                "more data or more regularization, less.", hint="")


def pooled_gradient(theta, messages, regularization) -> np.ndarray:
    """Σ_k n_k ḡ_k / N + λθ with N = Σ_k n_k: the gradient of (1/N) Σ_i ℓ_i(θ) + (λ/2)‖θ‖² from
    the clients' *mean* gradients ḡ_k and sizes n_k (FedSGD, McMahan et al. 2017, §2: the
    server averages the clients' gradients weighted by n_k/N). A client with n_k = 0 sends a
    zero vector and weighs nothing."""
    total = sum(n * np.asarray(g, dtype=float) for g, n in messages)
    return total / sum(n for _, n in messages) + regularization * np.asarray(theta, dtype=float)


@exercise()
def check_server_gradient(my_server_gradient) -> bool:
    """``my_server_gradient(theta, messages, regularization)`` — ``messages`` a list of
    ``(mean_gradient, num_examples)`` pairs — must return :func:`pooled_gradient` for clients of
    very unequal size, including empty ones."""
    rng = np.random.default_rng(11)
    cases = []
    for sizes, lam in (((5, 500, 40), 0.01), ((1, 0, 99, 1000), 0.3), ((250, 250), 0.0)):
        d = int(rng.integers(2, 6))
        theta = rng.normal(size=d)
        messages = [(rng.normal(size=d) if n else np.zeros(d), n) for n in sizes]
        cases.append((theta, messages, lam))
    for theta, messages, lam in cases:
        got, err = call_safely(my_server_gradient, theta.copy(), [(g.copy(), n) for g, n in messages], lam)
        sizes = [n for _, n in messages]
        if err is not None:
            return report(False, success="", hint=f"with client sizes {sizes} your function raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_server_gradient returns nothing yet: weight each client's mean "
                                                  "by its size, divide by N, add the regulariser's gradient.")
        try:
            value = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"return a vector, got {got!r}.")
        want = pooled_gradient(theta, messages, lam)
        if value.shape != want.shape:
            return report(False, success="", hint=f"return a vector of shape {want.shape}, got shape {value.shape}.")
        if not np.allclose(value, want, rtol=1e-9, atol=1e-12):
            hint = f"with client sizes {sizes} and λ = {lam} the gradient does not match."
            unweighted_all = np.mean([g for g, _ in messages], axis=0) + lam * theta
            unweighted = np.mean([g for g, n in messages if n], axis=0) + lam * theta
            summed = sum(np.asarray(g) for g, _ in messages) / sum(sizes) + lam * theta
            if np.allclose(value, unweighted) or np.allclose(value, unweighted_all):
                hint += (" You averaged the clients' means with equal weights (the article's Eq. (2));"
                         " a client of 5 patients must not count as much as one of 500: weight by n_k.")
            elif np.allclose(value, summed):
                hint += " These are MEAN gradients, not sums: multiply each by its n_k before adding."
            elif np.allclose(value, want - lam * theta):
                hint += " The regulariser (λ/2)‖θ‖² has gradient λθ: the clients' gradients do not include it."
            elif np.any(~np.isfinite(value)):
                hint += " NaN/inf: a client with no data has n = 0; it must weigh nothing, not divide by 0."
            return report(False, success="", hint=hint)
    return report(True, success="the server can compute the pooled gradient from the clients' means and sizes, "
                                "and step; it cannot take E7's argmin over records it never sees.", hint="")
