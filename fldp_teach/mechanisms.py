"""Noise-adding mechanisms of differential privacy: Laplace, Gaussian, randomized response.

A mechanism M is (ε, δ)-differentially private if for all neighbouring inputs x, x' and all
sets S of outputs, P[M(x) ∈ S] ≤ e^ε · P[M(x') ∈ S] + δ (Dwork & Roth 2014, Def. 2.4).
Each mechanism here adds noise calibrated to a *sensitivity*: the most one individual can
move the released value, ‖f(x) − f(x')‖₁ = Δ₁ or ‖f(x) − f(x')‖₂ = Δ₂. In federated learning
the sensitivity is not a property of the data but is *made* finite by clipping
(see ``fldp_teach.clipping``); the article's noise ε_k, δ (§4.1, Eq. 1 and 3) is
``add_gaussian_noise`` applied to a clipped update.

Every function works on numpy arrays; the noise functions also accept TensorFlow tensors (and
lists of them, i.e. model weights) and then compute with TF ops, so they run inside
``tf.function``. TensorFlow is imported lazily: this module is layer 1 (maths) of the package.

Randomness is explicit: every random function takes ``seed``. For numpy, ``seed`` is an int,
``None`` (fresh OS entropy) or a ``np.random.Generator``. For TF, ``seed`` is an int, a
``tf.random.Generator``, or an integer tensor of shape [2] (a stateless seed, e.g. from
``generator.make_seeds(1)[:, 0]``). Inside a ``tf.function`` pass a seed *tensor* or a
Generator: a Python int would be frozen into the graph and every call would add the same noise.

Floating point (Mironov 2012, "On significance of the least significant bits for differential
privacy", CCS). The proofs assume real-valued noise. A textbook floating-point Laplace sampler
(−b·sign(u)·ln(1 − 2|u|) with u uniform on a grid of doubles) cannot produce every double, and
the set of doubles that f(x) + noise can take depends on f(x): some outputs are possible for x
and impossible for x', which reveals x exactly. Mironov's remedy, the *snapping mechanism*
(clamp, then round to a power-of-two grid), is not implemented here. This teaching library uses
numpy/TF float samplers as is; do not use it to protect real data.

Taught in notebooks on the Laplace and Gaussian mechanisms and on randomized response, and in
the notebook on the article's §3.1 (claim C1: multiplicative noise is not DP).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from fldp_teach._validation import (
    check_finite,
    check_non_negative,
    check_non_negative_int,
    check_numbers,
    check_open_unit,
    check_positive,
    check_seed,
)

__all__ = [
    "laplace_scale",
    "laplace_mechanism",
    "add_laplace_noise",
    "laplace_privacy_loss",
    "classic_gaussian_stddev",
    "analytic_gaussian_stddev",
    "analytic_gaussian_delta",
    "gaussian_mechanism",
    "add_gaussian_noise",
    "gaussian_privacy_loss",
    "randomized_response",
    "randomized_response_truth_probability",
    "randomized_response_estimate",
    "randomized_response_standard_error",
    "multiplicative_noise",
    "multiplicative_privacy_loss",
]


# ----------------------------------------------------------------------------- backends
def _is_tf(x) -> bool:
    """True for TF tensors/variables (eager or symbolic) and Keras variables."""
    module = type(x).__module__
    return module.startswith("tensorflow") or module.startswith("keras")


def _tf_seed(tf, seed):
    """A stateless TF seed (int tensor of shape [2]) from an int, a Generator or a seed tensor."""
    if isinstance(seed, tf.random.Generator):
        return seed.make_seeds(1)[:, 0]
    if _is_tf(seed):
        return tf.cast(seed, tf.int64)
    if seed is None:
        if not tf.executing_eagerly():
            raise ValueError(
                "seed must be a seed tensor of shape [2] or a tf.random.Generator inside tf.function, "
                "got None (a seed drawn at trace time would repeat the same noise on every call)")
        seed = int(np.random.default_rng().integers(2**62))
    seed = check_non_negative_int("seed", seed)
    return tf.constant([seed, 0], dtype=tf.int64)


def _check_value(value, name="value"):
    """Every array/tensor in ``value`` (one, or a list of them) holds finite real numbers."""
    items = value if isinstance(value, (list, tuple)) and not all(
        isinstance(v, (int, float, np.number)) for v in value) else [value]
    for i, v in enumerate(items):
        label = name if len(items) == 1 else f"{name}[{i}]"
        if not _is_tf(v) or hasattr(v, "numpy"):
            try:
                check_numbers(label, v)
            except TypeError:
                if not (np.asarray(v).dtype.kind == "b"):  # booleans are numbers to noise
                    raise


def _check_rng_seed(seed):
    """``seed``: None, an int >= 0, or (numpy path) a Generator / (TF path) a Generator or tensor."""
    if seed is None or isinstance(seed, np.random.Generator) or _is_tf(seed):
        return seed
    if type(seed).__name__ == "Generator":  # tf.random.Generator
        return seed
    return check_seed("seed", seed)


def _add_noise(value, sample_numpy, sample_tf, seed):
    """value + noise for an array, a tensor, or a list of them (one independent draw each)."""
    _check_value(value)
    seed = _check_rng_seed(seed)
    items = value if isinstance(value, (list, tuple)) else [value]
    if any(_is_tf(v) for v in items):
        import tensorflow as tf

        base = _tf_seed(tf, seed)
        out = []
        for i, v in enumerate(items):
            v = tf.convert_to_tensor(v)
            s = tf.random.experimental.stateless_fold_in(base, i)
            out.append(v + sample_tf(tf, tf.shape(v), s, v.dtype))
    else:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(
            None if seed is None else check_non_negative_int("seed", seed))
        out = []
        for v in items:
            v = np.asarray(v)
            dtype = v.dtype if np.issubdtype(v.dtype, np.floating) else np.float64
            out.append((v + sample_numpy(rng, v.shape)).astype(dtype, copy=False))
    return list(out) if isinstance(value, (list, tuple)) else out[0]


# ----------------------------------------------------------------------------- Laplace
def laplace_scale(*, epsilon, l1_sensitivity) -> float:
    """b = Δ₁/ε: the Laplace scale that makes f(x) + Lap(b) ε-DP.

    Dwork, McSherry, Nissim & Smith (2006); Dwork & Roth (2014), Thm 3.6.
    >>> laplace_scale(epsilon=0.5, l1_sensitivity=2.0)
    4.0
    """
    epsilon = check_positive("epsilon", epsilon)
    l1_sensitivity = check_positive("l1_sensitivity", l1_sensitivity)
    return l1_sensitivity / epsilon


def add_laplace_noise(value, *, scale, seed=None):
    """value + Z with Z ~ Lap(0, b) i.i.d. per coordinate, density exp(−|z|/b)/(2b).

    TF path: Z = b·(E₁ − E₂) with E = −ln U, U uniform on (0, 1] — the difference of two
    Exp(1) variables is Lap(0, 1). Works on arrays, tensors and lists of them.
    """
    scale = check_non_negative("scale", scale)

    def numpy_noise(rng, shape):
        return rng.laplace(0.0, scale, size=shape)

    def tf_noise(tf, shape, s, dtype):
        u = 1.0 - tf.random.stateless_uniform(tf.concat([[2], shape], 0), seed=s, dtype=dtype)  # (0, 1]
        return tf.constant(scale, dtype) * (tf.math.log(u[1]) - tf.math.log(u[0]))

    return _add_noise(value, numpy_noise, tf_noise, seed)


def laplace_mechanism(value, *, epsilon, l1_sensitivity, seed=None):
    """f(x) + Lap(Δ₁/ε): ε-DP when ``value`` = f(x) has L1 sensitivity Δ₁ (Dwork & Roth, Thm 3.6)."""
    return add_laplace_noise(value, scale=laplace_scale(epsilon=epsilon, l1_sensitivity=l1_sensitivity), seed=seed)


def _loss_point(output):
    """``output`` as a float or an array of floats, all finite (named in the error)."""
    if isinstance(output, (bool, np.bool_)):
        raise TypeError(f"output must be a real number or an array of them, got {output!r}")
    y = check_numbers("output", output)
    return np.float64(y) if y.ndim == 0 else y.astype(float)


def laplace_privacy_loss(output, *, value_a, value_b, scale):
    """Privacy loss ln[p_a(y)/p_b(y)] = (|y − b| − |y − a|)/scale of Lap outputs centred at a and b.

    Bounded by |a − b|/scale = ε when |a − b| ≤ Δ₁ (the proof of Dwork & Roth, Thm 3.6).
    """
    scale = check_positive("scale", scale)
    y = _loss_point(output)
    a, b = check_finite("value_a", value_a), check_finite("value_b", value_b)
    return (np.abs(y - b) - np.abs(y - a)) / scale


# ----------------------------------------------------------------------------- Gaussian
def classic_gaussian_stddev(*, epsilon, delta, l2_sensitivity) -> float:
    """σ = Δ₂·sqrt(2 ln(1.25/δ))/ε, the classical Gaussian mechanism (Dwork & Roth 2014, Thm A.1).

    The theorem is proved only for 0 < ε < 1. For larger ε the formula can be wrong: σ ∝ 1/ε
    shrinks too fast, while the exact requirement decays only like 1/sqrt(ε) (Balle & Wang 2018). E.g. at
    ε = 10, δ = 1e-5, Δ₂ = 1 it gives σ ≈ 0.4845, whose exact δ (:func:`analytic_gaussian_delta`)
    is ≈ 2.3e-5 > δ. We therefore *refuse* ε ≥ 1 with a ValueError rather than warn: a silent
    wrong privacy claim is worse than an error. Use :func:`analytic_gaussian_stddev`, valid for
    every ε > 0 and smaller than this σ wherever this one is valid.
    """
    epsilon = check_positive("epsilon", epsilon)
    if epsilon >= 1:
        raise ValueError(f"epsilon must be < 1 for the classic Gaussian mechanism (Dwork & Roth Thm A.1), "
                         f"got {epsilon!r}; use analytic_gaussian_stddev for epsilon >= 1")
    delta = check_open_unit("delta", delta)
    l2_sensitivity = check_positive("l2_sensitivity", l2_sensitivity)
    return l2_sensitivity * math.sqrt(2.0 * math.log(1.25 / delta)) / epsilon


def _log_analytic_delta(s: float, epsilon: float) -> float:
    """ln δ(s) for s = σ/Δ₂, where δ(s) = Φ(1/(2s) − εs) − e^ε Φ(−1/(2s) − εs).

    Computed as ln Φ(a) + ln(1 − exp(ε + ln Φ(b) − ln Φ(a))) with log_ndtr and log1p(−exp(·)),
    so no two nearly equal probabilities are subtracted (δ can be 1e-300).
    """
    a = 1.0 / (2.0 * s) - epsilon * s
    b = -1.0 / (2.0 * s) - epsilon * s
    log_pa = special.log_ndtr(a)
    if not np.isfinite(log_pa):  # Φ(a) = 0: an astronomically large σ or ε, δ = 0
        return -math.inf
    log_ratio = epsilon + special.log_ndtr(b) - log_pa  # < 0: the hockey-stick divergence is > 0
    if not log_ratio < 0:
        return -math.inf
    return float(log_pa + np.log1p(-np.exp(log_ratio)))


def analytic_gaussian_delta(*, stddev, epsilon, l2_sensitivity) -> float:
    """The exact δ of the Gaussian mechanism N(f(x), σ²I) at ε (Balle & Wang 2018, Thm 8):

        δ(σ) = Φ(Δ/(2σ) − εσ/Δ) − e^ε · Φ(−Δ/(2σ) − εσ/Δ).

    The mechanism is (ε, δ)-DP iff δ(σ) ≤ δ. Decreasing in σ.
    """
    stddev = check_positive("stddev", stddev)
    epsilon = check_positive("epsilon", epsilon)
    l2_sensitivity = check_positive("l2_sensitivity", l2_sensitivity)
    return math.exp(_log_analytic_delta(stddev / l2_sensitivity, epsilon))


def analytic_gaussian_stddev(*, epsilon, delta, l2_sensitivity) -> float:
    """The smallest σ with δ(σ) ≤ δ: the analytic Gaussian mechanism (Balle & Wang 2018, ICML,
    "Improving the Gaussian Mechanism for Differential Privacy", Thm 8; Alg. 1 solves the same
    equation). Valid for every ε > 0, and below the classic σ wherever that one is valid.

    Solves Φ(Δ/(2σ) − εσ/Δ) − e^ε Φ(−Δ/(2σ) − εσ/Δ) = δ for s = σ/Δ by bisection on ln δ(s)
    (δ(s) is strictly decreasing from 1 to 0), to the last bit of s, and returns the upper end
    of the final bracket. δ(σ) then equals δ to ~1e-10 relative even for δ = 1e-30 (checked
    against 50-digit mpmath in the tests); the residual comes from differencing two log-CDFs.
    """
    epsilon = check_positive("epsilon", epsilon)
    delta = check_open_unit("delta", delta)
    l2_sensitivity = check_positive("l2_sensitivity", l2_sensitivity)
    target = math.log(delta)
    lo, hi = 1.0, 1.0
    while _log_analytic_delta(lo, epsilon) <= target:  # need δ(lo) > δ
        lo /= 2.0
    while _log_analytic_delta(hi, epsilon) > target:  # need δ(hi) ≤ δ
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:  # adjacent doubles: done
            break
        if _log_analytic_delta(mid, epsilon) > target:
            lo = mid
        else:
            hi = mid
    return hi * l2_sensitivity


def add_gaussian_noise(value, *, stddev, seed=None):
    """value + Z with Z ~ N(0, σ²) i.i.d. per coordinate; arrays, tensors and lists of them.

    TF path uses ``tf.random.stateless_normal`` with a per-tensor seed folded from ``seed``.
    This is the noise δ of the article's Eq. (3) and ε_k of Eq. (1) (§4.1).
    """
    stddev = check_non_negative("stddev", stddev)

    def numpy_noise(rng, shape):
        return rng.normal(0.0, stddev, size=shape)

    def tf_noise(tf, shape, s, dtype):
        return tf.random.stateless_normal(shape, seed=s, stddev=tf.constant(stddev, dtype), dtype=dtype)

    return _add_noise(value, numpy_noise, tf_noise, seed)


def gaussian_mechanism(value, *, stddev=None, epsilon=None, delta=None, l2_sensitivity=None,
                       calibration="analytic", seed=None):
    """f(x) + N(0, σ²I), with σ given, or calibrated to (ε, δ, Δ₂) by ``calibration``:
    ``"analytic"`` (Balle & Wang 2018, Thm 8) or ``"classic"`` (Dwork & Roth 2014, Thm A.1)."""
    if stddev is not None:
        if any(p is not None for p in (epsilon, delta, l2_sensitivity)):
            raise ValueError("give either stddev or (epsilon, delta, l2_sensitivity), not both; "
                             f"got stddev={stddev!r}, epsilon={epsilon!r}")
    elif calibration == "analytic":
        stddev = analytic_gaussian_stddev(epsilon=epsilon, delta=delta, l2_sensitivity=l2_sensitivity)
    elif calibration == "classic":
        stddev = classic_gaussian_stddev(epsilon=epsilon, delta=delta, l2_sensitivity=l2_sensitivity)
    else:
        raise ValueError(f"calibration must be 'analytic' or 'classic', got {calibration!r}")
    return add_gaussian_noise(value, stddev=stddev, seed=seed)


def gaussian_privacy_loss(output, *, value_a, value_b, stddev):
    """Privacy loss ln[p_a(y)/p_b(y)] = ((y − b)² − (y − a)²)/(2σ²) of N(a, σ²) vs N(b, σ²).

    Unbounded in y (hence δ > 0 is needed); it is N(μ, 2μ) with μ = (a − b)²/(2σ²) when y ~ N(a, σ²)
    (the privacy loss random variable: Dwork & Roth 2014, proof of Thm A.1; Balle & Wang 2018).
    """
    stddev = check_positive("stddev", stddev)
    y = _loss_point(output)
    a, b = check_finite("value_a", value_a), check_finite("value_b", value_b)
    # (y − b)² − (y − a)² = (a − b)(2y − a − b): no inf − inf for a huge y
    with np.errstate(over="ignore"):
        return (a - b) * (2 * y - a - b) / (2.0 * stddev * stddev)


# ----------------------------------------------------------------------------- randomized response
def randomized_response_truth_probability(*, epsilon) -> float:
    """p = e^ε/(1 + e^ε): the probability of answering truthfully that makes RR ε-DP.

    The likelihood ratio of any answer between the two true bits is p/(1 − p) = e^ε.
    Warner's coin version (Dwork & Roth 2014, §3.2) is p = 3/4, ε = ln 3.
    """
    epsilon = check_positive("epsilon", epsilon)
    return float(special.expit(epsilon))


def randomized_response(bits, *, epsilon, seed=None):
    """Each bit is reported truthfully with probability p = e^ε/(1+e^ε), flipped otherwise.

    Warner (1965); Dwork & Roth (2014), §3.2. Returns an int array of 0/1 of the same shape.
    """
    p = randomized_response_truth_probability(epsilon=epsilon)
    if bits is None or isinstance(bits, (str, bytes)):
        raise TypeError(f"bits must be an array of 0/1, got {bits!r}")
    bits = np.asarray(bits)
    if bits.dtype.kind not in "biuf" or not np.all((bits == 0) | (bits == 1)):
        raise ValueError(f"bits must be 0/1, got values {np.unique(bits)[:5]!r}")
    bits = bits.astype(np.int64)  # also accepts booleans
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_seed("seed", seed))
    truthful = rng.random(bits.shape) < p
    return np.where(truthful, bits, 1 - bits).astype(np.int64)


def randomized_response_estimate(responses, *, epsilon) -> float:
    """Unbiased estimate of the true proportion of ones, p̂ = (ȳ − (1 − p))/(2p − 1).

    Because E[ȳ] = p·π + (1 − p)(1 − π) for true proportion π. May fall outside [0, 1].
    """
    p = randomized_response_truth_probability(epsilon=epsilon)
    if responses is None or isinstance(responses, (str, bytes)):
        raise TypeError(f"responses must be an array of 0/1 answers, got {responses!r}")
    responses = np.asarray(responses)
    if responses.size == 0:
        raise ValueError("responses must be non-empty, got size 0")
    if responses.dtype.kind not in "biuf" or not np.all((responses == 0) | (responses == 1)):
        raise ValueError(f"responses must be 0/1 answers, got values {np.unique(responses)[:5]!r}")
    responses = responses.astype(float)
    return float((responses.mean() - (1.0 - p)) / (2.0 * p - 1.0))


def randomized_response_standard_error(*, true_proportion, num_examples, epsilon) -> float:
    """SE(p̂) = sqrt(λ(1 − λ)/n)/(2p − 1), λ = pπ + (1 − p)(1 − π) the chance of a reported one.

    The responses are i.i.d. Bernoulli(λ), so Var(ȳ) = λ(1 − λ)/n and p̂ is ȳ rescaled by 1/(2p − 1).
    It grows like 1/ε as ε → 0: the price of local privacy.
    """
    from fldp_teach._validation import check_positive_int, check_unit_interval

    pi = check_unit_interval("true_proportion", true_proportion)
    n = check_positive_int("num_examples", num_examples)
    p = randomized_response_truth_probability(epsilon=epsilon)
    lam = p * pi + (1.0 - p) * (1.0 - pi)
    return math.sqrt(lam * (1.0 - lam) / n) / (2.0 * p - 1.0)


# ----------------------------------------------------------------------------- multiplicative noise (NOT DP)
def multiplicative_noise(value, *, stddev, seed=None):
    """θ·(1 + ξ), ξ ~ N(0, σ²): the article's "multiplicative noise in parameters" (§3.1, claim C1).

    **This is NOT differentially private**, for any σ. The noise is proportional to the value,
    so its spread itself reveals |θ|, and no sensitivity bound calibrates it:

    * Counterexample. Let f(x) = 0 and f(x') = 1 on neighbours x, x'. Then M(x) = 0 exactly,
      while P[M(x') = 0] = 0. With S = {0}: P[M(x) ∈ S] = 1 > e^ε·0 + δ for every ε and δ < 1.
    * Even away from zero, the outputs N(a, a²σ²) and N(b, b²σ²) have different variances, so
      the privacy loss (:func:`multiplicative_privacy_loss`) is unbounded and grows with |a − b|
      and the scale of θ; additive noise calibrated to a clipped sensitivity has no such leak.

    Kept (and taught) so the notebook on §3.1 can demonstrate the leak.
    """
    stddev = check_non_negative("stddev", stddev)
    _check_value(value)
    items = value if isinstance(value, (list, tuple)) else [value]
    if any(_is_tf(v) for v in items):
        import tensorflow as tf

        items = [tf.convert_to_tensor(v) for v in items]
        ones = [tf.ones_like(v) for v in items]
    else:
        items = [np.asarray(v, dtype=float) if not np.issubdtype(np.asarray(v).dtype, np.floating)
                 else np.asarray(v) for v in items]
        ones = [np.ones_like(v) for v in items]
    factors = add_gaussian_noise(ones, stddev=stddev, seed=seed)
    out = [v * f for v, f in zip(items, factors)]
    return out if isinstance(value, (list, tuple)) else out[0]


def multiplicative_privacy_loss(output, *, value_a, value_b, stddev):
    """ln[p_a(y)/p_b(y)] for multiplicative-noise outputs y = θ(1 + ξ), θ ∈ {a, b}, ξ ~ N(0, σ²).

    For θ ≠ 0 the output is N(θ, θ²σ²), so the log density ratio is
        ln|b/a| − (y − a)²/(2a²σ²) + (y − b)²/(2b²σ²),
    which is unbounded in y when |a| ≠ |b|. If θ = 0 the output is the point mass at 0: the loss
    is +inf at y = 0 (only a could have produced it) and −inf elsewhere (only b could).
    """
    stddev = check_positive("stddev", stddev)
    y = _loss_point(output)
    a, b = check_finite("value_a", value_a), check_finite("value_b", value_b)
    if a == 0.0 and b == 0.0:
        return np.zeros_like(y)
    if a == 0.0:
        return np.where(y == 0.0, np.inf, -np.inf)
    if b == 0.0:
        return np.where(y == 0.0, -np.inf, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        # ((y − b)/b)² − ((y − a)/a)² = (y/b − 1)² − (y/a − 1)²: no overflow of a² or σ² first
        loss = np.log(abs(b) / abs(a)) + ((y / b - 1) ** 2 - (y / a - 1) ** 2) / (2 * stddev * stddev)
    return np.where(np.isnan(loss), 0.0, loss) if np.ndim(loss) else float(np.nan_to_num(loss, nan=0.0, posinf=np.inf, neginf=-np.inf))
