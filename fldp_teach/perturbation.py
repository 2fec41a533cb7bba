"""Output and objective perturbation for L2-regularized logistic regression (numpy/scipy).

Chaudhuri, Monteleoni & Sarwate 2011, "Differentially Private Empirical Risk Minimization",
JMLR 12:1069–1109. Their setting, which every function here checks:

* examples x_i ∈ R^d with ‖x_i‖₂ ≤ 1, labels y_i ∈ {−1, +1} (we take the library's 0/1 labels
  and use y = 2·label − 1), no separate intercept (append a constant feature for one);
* the regularized empirical risk, with ℓ(z) = log(1 + e^{−z}) and N(θ) = ½‖θ‖² (1-strongly
  convex),

      J(θ; D) = (1/n) Σ_i ℓ(y_i θᵀx_i) + (λ/2)‖θ‖²,       λ = ``regularization`` > 0;

* neighbouring data sets differ in ONE example (replace-one), and the guarantee is pure ε-DP.

ℓ is convex with |ℓ'(z)| ≤ 1 and |ℓ''(z)| ≤ c = 1/4 (the logistic loss is 1-Lipschitz and
1/4-smooth in the margin z), which is all the theorems below need.

Output perturbation (their Algorithm 1): θ_priv = argmin_θ J(θ; D) + b. Corollary 8: the
minimizer has L2 sensitivity at most 2/(nλ); Theorem 6: adding b with density
ν(b) ∝ exp(−β‖b‖₂), β = nλε/2 (= ε / sensitivity), makes the release ε-DP.

Objective perturbation (their Algorithm 2, Theorem 9): draw b with density ∝ exp(−β‖b‖₂) and
release θ_priv = argmin_θ J(θ; D) + (1/n) bᵀθ + (Δ/2)‖θ‖², with

    ε' = ε − log(1 + 2c/(nλ) + c²/(n²λ²));
    if ε' > 0:  Δ = 0                               (keep ε', β = ε'/2)
    else:       Δ = c/(n(e^{ε/4} − 1)) − λ,  ε' = ε/2  (β = ε'/2).

The random LINEAR term bᵀθ moves the minimizer; a random CONSTANT added to J (the article's
§4.2, "θ' = argmin Σ L + ε_k") moves nothing. Both algorithms, and that contrast, are taught
in notebooks/05_perturbation.ipynb.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import optimize, special

from fldp_teach._validation import check_numbers, check_positive, check_positive_int, check_seed

__all__ = [
    "LOGISTIC_SMOOTHNESS",
    "PerturbedModel",
    "check_unit_ball",
    "regularized_logistic_loss",
    "fit_regularized_logistic",
    "predict_logistic",
    "output_perturbation_sensitivity",
    "sample_l2_laplace",
    "objective_perturbation_parameters",
    "output_perturbation",
    "objective_perturbation",
]

#: c, the bound |ℓ''(z)| ≤ 1/4 of the logistic loss ℓ(z) = log(1 + e^{−z}) (maximum at z = 0).
LOGISTIC_SMOOTHNESS = 0.25


@dataclasses.dataclass(frozen=True)
class PerturbedModel:
    """A released classifier: ``weights`` θ_priv, the ``noise`` vector b that was drawn, its
    rate ``beta`` (density ∝ exp(−β‖b‖)), and the ``extra_regularization`` Δ (0 for Alg. 1)."""

    weights: np.ndarray
    noise: np.ndarray
    beta: float
    extra_regularization: float = 0.0


# ---------------------------------------------------------------------------------- inputs
def check_unit_ball(x, *, name: str = "x") -> np.ndarray:
    """``x`` as a finite float64 matrix [n, d] whose rows all have ‖x_i‖₂ ≤ 1 (the theorems'
    assumption; 1e-9 slack for rounding). Raises ValueError naming the first bad row."""
    a = check_numbers(name, x).astype(float)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty matrix [num_examples, dim], got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {int(np.sum(~np.isfinite(a)))} NaN/Inf entries")
    norms = np.linalg.norm(a, axis=1)
    if np.any(norms > 1 + 1e-9):
        i = int(np.argmax(norms > 1 + 1e-9))
        raise ValueError(f"{name} rows must have L2 norm <= 1 (Chaudhuri et al. 2011), got "
                         f"norm {norms[i]:.4g} in row {i}; scale or clip the rows first")
    return a


def _signed_labels(y, num_examples: int) -> np.ndarray:
    """0/1 labels → ±1 (y = 2·label − 1), checked."""
    labels = np.asarray(y)
    if labels.shape != (num_examples,):
        raise ValueError(f"y must be a vector of {num_examples} labels, got shape {labels.shape}")
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError(f"y must hold 0/1 labels, got values {np.unique(labels)[:5].tolist()}")
    return 2.0 * labels.astype(float) - 1.0


# --------------------------------------------------------------------------- the objective
def _features(x, *, allow_empty=False) -> np.ndarray:
    a = check_numbers("x", x, ndim=2, allow_empty=allow_empty).astype(float)
    if not allow_empty and a.shape[1] == 0:
        raise ValueError(f"x must have at least one feature, got shape {a.shape}")
    return a


def _weights_and_x(weights, x, *, allow_empty=False):
    """θ (finite vector) and x (finite matrix [n, d]) with len(θ) = d, named in the error."""
    theta = check_numbers("weights", weights, ndim=1, allow_empty=False).astype(float)
    a = _features(x, allow_empty=allow_empty)
    if a.shape[1] != theta.shape[0]:
        raise ValueError(f"weights must have one entry per feature of x ({a.shape[1]}), got {theta.shape[0]}")
    return theta, a


def regularized_logistic_loss(weights, x, y, *, regularization, linear_term=None,
                              extra_regularization=0.0) -> tuple[float, np.ndarray]:
    """(value, gradient) of J(θ) + (1/n) bᵀθ + (Δ/2)‖θ‖² with J as in the module docstring:

        J(θ)  = (1/n) Σ_i log(1 + exp(−y_i θᵀx_i)) + (λ/2)‖θ‖²
        ∇J(θ) = −(1/n) Σ_i y_i σ(−y_i θᵀx_i) x_i + λθ,       σ(t) = 1/(1 + e^{−t}).

    ``linear_term`` b (default 0) and ``extra_regularization`` Δ (default 0) are the two
    additions of objective perturbation. log(1 + e^{−z}) is evaluated as logaddexp(0, −z)."""
    theta, a = _weights_and_x(weights, x)
    s = _signed_labels(y, a.shape[0])
    lam = check_positive("regularization", regularization)
    n = a.shape[0]
    margins = s * (a @ theta)
    value = np.mean(np.logaddexp(0.0, -margins)) + 0.5 * (lam + extra_regularization) * theta @ theta
    grad = -(a.T @ (s * special.expit(-margins))) / n + (lam + extra_regularization) * theta
    if linear_term is not None:
        b = np.asarray(linear_term, dtype=float)
        value = value + b @ theta / n
        grad = grad + b / n
    return float(value), grad


def fit_regularized_logistic(x, y, *, regularization, linear_term=None, extra_regularization=0.0,
                             gtol=1e-10) -> np.ndarray:
    """argmin_θ of :func:`regularized_logistic_loss` by L-BFGS (scipy), from θ = 0.

    The objective is (λ + Δ)-strongly convex, so the minimizer is unique and L-BFGS finds it;
    ``gtol`` bounds the final gradient (‖θ − θ*‖ ≤ ‖∇‖/(λ + Δ)). Raises RuntimeError if
    scipy reports failure."""
    a = _features(x)
    lam = check_positive("regularization", regularization)
    result = optimize.minimize(
        lambda t: regularized_logistic_loss(t, a, y, regularization=lam, linear_term=linear_term,
                                            extra_regularization=extra_regularization),
        np.zeros(a.shape[1]), jac=True, method="L-BFGS-B",
        options={"gtol": gtol, "ftol": 0.0, "maxiter": 10_000})
    grad_norm = float(np.max(np.abs(result.jac)))
    if not result.success and grad_norm > 1e3 * gtol:
        raise RuntimeError(f"L-BFGS did not converge: {result.message} (max |gradient| {grad_norm:.3g})")
    return result.x


def predict_logistic(weights, x) -> np.ndarray:
    """0/1 predictions: 1 where θᵀx > 0 (P(y = 1 | x) = σ(θᵀx) > ½)."""
    theta, a = _weights_and_x(weights, x, allow_empty=True)
    return (a @ theta > 0).astype(np.int32)


# ------------------------------------------------------------------------------ the noise
def output_perturbation_sensitivity(*, num_examples, regularization) -> float:
    """2/(nλ): the L2 sensitivity of argmin_θ J(θ; D) under replace-one neighbours, for a
    1-strongly convex regularizer, |ℓ'| ≤ 1 and ‖x_i‖ ≤ 1 (Chaudhuri et al. 2011, Corollary 8)."""
    n = check_positive_int("num_examples", num_examples)
    lam = check_positive("regularization", regularization)
    sensitivity = 2.0 / (n * lam)
    if not sensitivity > 0:  # n·λ overflowed: no noise scale can be derived from it
        raise ValueError(f"regularization * num_examples must stay below 1e308, got {lam!r} * {n}")
    return sensitivity


def sample_l2_laplace(*, dim, beta, seed=None) -> np.ndarray:
    """One vector b ∈ R^d with density ν(b) ∝ exp(−β‖b‖₂) (Chaudhuri et al. 2011, Eq. (4)).

    In polar form the density of r = ‖b‖ is ∝ r^{d−1} e^{−βr}, i.e. r ~ Gamma(shape d,
    scale 1/β) (mean d/β), and the direction is uniform on the sphere (a normalized standard
    Gaussian vector). ``seed``: int, None or a numpy Generator."""
    d = check_positive_int("dim", dim)
    beta = check_positive("beta", beta)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_seed("seed", seed))
    direction = rng.standard_normal(d)
    while not np.any(direction):  # probability 0, but never divide by zero
        direction = rng.standard_normal(d)
    return rng.gamma(shape=d, scale=1.0 / beta) * direction / np.linalg.norm(direction)


def objective_perturbation_parameters(*, epsilon, num_examples, regularization,
                                      smoothness=LOGISTIC_SMOOTHNESS) -> tuple[float, float, float]:
    """(ε', Δ, β) of Algorithm 2 (Chaudhuri et al. 2011, Thm 9), with c = ``smoothness``:

        ε' = ε − log(1 + 2c/(nλ) + c²/(n²λ²));  Δ = 0 if ε' > 0,
        else Δ = c/(n(e^{ε/4} − 1)) − λ and ε' = ε/2;   β = ε'/2."""
    eps = check_positive("epsilon", epsilon)
    n = check_positive_int("num_examples", num_examples)
    lam = check_positive("regularization", regularization)
    c = check_positive("smoothness", smoothness)
    ratio = c / (n * lam)
    eps_prime = eps - math.log1p(2 * ratio + ratio**2)  # log(1 + 2c/(nλ) + c²/(nλ)²)
    extra = 0.0
    if eps_prime <= 0:
        extra = c / (n * math.expm1(eps / 4)) - lam
        eps_prime = eps / 2
    return eps_prime, extra, eps_prime / 2


def output_perturbation(x, y, *, epsilon, regularization, seed=None) -> PerturbedModel:
    """Algorithm 1 (Chaudhuri et al. 2011): θ_priv = argmin J + b, ν(b) ∝ exp(−β‖b‖),
    β = nλε/2 = ε / (2/(nλ)). ε-DP (replace-one) by Theorem 6 with the sensitivity 2/(nλ) of
    Corollary 8. Rows of ``x`` must have norm ≤ 1, ``y`` 0/1 labels."""
    seed = seed if isinstance(seed, np.random.Generator) else check_seed("seed", seed)
    a = check_unit_ball(x)
    eps = check_positive("epsilon", epsilon)
    sensitivity = output_perturbation_sensitivity(num_examples=a.shape[0],
                                                  regularization=regularization)
    beta = eps / sensitivity
    theta = fit_regularized_logistic(a, y, regularization=regularization)
    noise = sample_l2_laplace(dim=a.shape[1], beta=beta, seed=seed)
    return PerturbedModel(weights=theta + noise, noise=noise, beta=beta)


def objective_perturbation(x, y, *, epsilon, regularization, seed=None) -> PerturbedModel:
    """Algorithm 2 (Chaudhuri et al. 2011): θ_priv = argmin J + (1/n)bᵀθ + (Δ/2)‖θ‖², with
    (ε', Δ, β) from :func:`objective_perturbation_parameters` (c = 1/4 for the logistic loss).
    ε-DP (replace-one) by Theorem 9. Rows of ``x`` must have norm ≤ 1, ``y`` 0/1 labels."""
    seed = seed if isinstance(seed, np.random.Generator) else check_seed("seed", seed)
    a = check_unit_ball(x)
    _, extra, beta = objective_perturbation_parameters(
        epsilon=epsilon, num_examples=a.shape[0], regularization=regularization)
    noise = sample_l2_laplace(dim=a.shape[1], beta=beta, seed=seed)
    theta = fit_regularized_logistic(a, y, regularization=regularization, linear_term=noise,
                                     extra_regularization=extra)
    return PerturbedModel(weights=theta, noise=noise, beta=beta, extra_regularization=extra)
