"""L2 clipping: how DP-SGD and DP-FedAvg *make* the sensitivity finite.

A gradient or a client update can be arbitrarily large, so adding noise to it alone protects
nothing (article §4.1, Eq. 1). Scaling a vector v to v·min(1, C/‖v‖₂) bounds every
contribution's L2 norm by C, so one example (DP-SGD, Abadi et al. 2016, Alg. 1) or one client
(DP-FedAvg, McMahan et al. 2018, Alg. 1) changes a sum by at most C: Δ₂ = C, and Gaussian noise
of std z·C then gives a known privacy cost (``fldp_teach.accounting``).

"Vector" here is a whole model: a list of arrays/tensors (one per layer), whose L2 norm is the
norm of their concatenation. Every function works on numpy arrays and on TF tensors (then with
TF ops, usable inside ``tf.function``); TensorFlow is imported lazily (layer 1, maths).

Taught in the clipping notebook and used by ``dpsgd`` and the DP variants of ``fedavg``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fldp_teach._validation import check_non_negative, check_numbers, check_positive, check_unit_interval
from fldp_teach.mechanisms import _is_tf, add_gaussian_noise

__all__ = [
    "global_l2_norm",
    "clip_by_l2_norm",
    "clip_per_example",
    "clip_per_layer",
    "adaptive_clip_norm_update",
    "adaptive_clipping_noise_multiplier",
    "ClippedMeanError",
    "clipped_mean_bias_variance",
]


def _as_list(tensors):
    """(list of tensors, whether the input was a single tensor)."""
    if isinstance(tensors, (list, tuple)):
        if len(tensors) == 0:
            raise ValueError("tensors must be a non-empty list, got []")
        return list(tensors), False
    return [tensors], True


def _tf_scalar(tf, x, dtype):
    """x as a TF scalar of ``dtype``; a Python float goes straight to ``dtype`` (tf.cast would
    round it through float32 first)."""
    return tf.cast(x, dtype) if _is_tf(x) else tf.constant(x, dtype)


def _check_clip_norm(clip_norm, name="clip_norm"):
    """C > 0 (inf allowed: no clipping). A symbolic TF tensor (adaptive C inside tf.function)
    cannot be inspected in Python and is passed through."""
    if _is_tf(clip_norm):
        import tensorflow as tf

        if not tf.executing_eagerly():
            return clip_norm
    return check_positive(name, clip_norm, allow_inf=True)


def global_l2_norm(tensors):
    """‖v‖₂ = sqrt(Σ_l ‖v_l‖₂²) for a list of layers v_l (a single array/tensor also accepted)."""
    items, _ = _as_list(tensors)
    if any(_is_tf(t) for t in items):
        import tensorflow as tf

        return tf.linalg.global_norm([tf.convert_to_tensor(t) for t in items])
    return float(math.sqrt(sum(float(np.sum(np.square(np.asarray(t, dtype=float)))) for t in items)))


def clip_by_l2_norm(tensors, *, clip_norm):
    """(v·min(1, C/‖v‖₂), ‖v‖₂) over the global norm of a list of layers.

    Abadi et al. (2016), Alg. 1 ("clip gradient"); McMahan et al. (2018), Alg. 1 (ClipFn).
    The zero vector stays zero (min(1, C/0) = min(1, ∞) = 1); C = inf leaves v unchanged.
    Returns a list for a list and a single array/tensor for a single one.
    """
    clip_norm = _check_clip_norm(clip_norm)
    items, single = _as_list(tensors)
    norm = global_l2_norm(items)
    if _is_tf(norm):
        import tensorflow as tf

        factor = tf.minimum(tf.constant(1.0, norm.dtype), _tf_scalar(tf, clip_norm, norm.dtype) / norm)
        clipped = [tf.convert_to_tensor(t) * tf.cast(factor, tf.convert_to_tensor(t).dtype) for t in items]
    else:
        factor = 1.0 if norm <= clip_norm else clip_norm / norm
        clipped = [_scale_numpy(t, factor) for t in items]
    return (clipped[0] if single else clipped), norm


def _scale_numpy(t, factor):
    t = np.asarray(t)
    dtype = t.dtype if np.issubdtype(t.dtype, np.floating) else np.float64
    return (t * factor).astype(dtype, copy=False)


def clip_per_example(per_example_tensors, *, clip_norm):
    """Clip every example's gradient to norm C independently: (clipped, norms of shape [B]).

    Each tensor has a leading batch axis B; example i's vector is the concatenation of
    t[i] over the list, with norm ‖g_i‖ = sqrt(Σ_l ‖t_l[i]‖²), and
        ḡ_i = g_i · min(1, C/‖g_i‖)            (Abadi et al. 2016, Alg. 1, "clip gradient").
    """
    clip_norm = _check_clip_norm(clip_norm)
    items, single = _as_list(per_example_tensors)
    if any(_is_tf(t) for t in items):
        import tensorflow as tf

        items = [tf.convert_to_tensor(t) for t in items]
        sizes = {t.shape[0] for t in items if t.shape.rank and t.shape[0] is not None}
        if len(sizes) > 1:
            raise ValueError(f"per_example_tensors must share the batch axis, got sizes {sorted(sizes)}")
        sq = [tf.reduce_sum(tf.square(t), axis=tf.range(1, tf.rank(t))) for t in items]
        norms = tf.sqrt(tf.add_n([tf.cast(s, items[0].dtype) for s in sq]))
        factor = tf.minimum(tf.constant(1.0, norms.dtype), _tf_scalar(tf, clip_norm, norms.dtype) / norms)
        clipped = [t * tf.reshape(tf.cast(factor, t.dtype), tf.concat([[-1], tf.ones([tf.rank(t) - 1], tf.int32)], 0))
                   for t in items]
    else:
        items = [np.asarray(t) for t in items]
        if any(t.ndim == 0 for t in items) or len({t.shape[0] for t in items}) > 1:
            raise ValueError(f"per_example_tensors must share the batch axis, got shapes {[t.shape for t in items]}")
        norms = np.sqrt(sum(np.sum(np.square(t.astype(float)).reshape(t.shape[0], -1), axis=1) for t in items))
        with np.errstate(divide="ignore"):
            factor = np.minimum(1.0, clip_norm / norms)  # norm 0 -> C/0 = inf -> factor 1
        clipped = [_scale_numpy(t, factor.reshape((-1,) + (1,) * (t.ndim - 1))) for t in items]
    return (clipped[0] if single else clipped), norms


def clip_per_layer(tensors, *, clip_norms):
    """Clip each layer v_l to its own bound C_l: (clipped list, list of norms before).

    McMahan et al. (2018), §"per-layer clipping". Since ‖v‖² = Σ_l ‖v_l‖² ≤ Σ_l C_l², the whole
    update has norm ≤ C = sqrt(Σ_l C_l²). ``clip_norms`` is a list (one C_l per layer) or one
    number C, split equally as C_l = C/sqrt(L) so that the overall bound is exactly C.
    """
    items, single = _as_list(tensors)
    if isinstance(clip_norms, (list, tuple, np.ndarray)):
        if len(clip_norms) != len(items):
            raise ValueError(f"clip_norms must have one entry per layer ({len(items)}), got {len(clip_norms)}")
        bounds = [_check_clip_norm(c, f"clip_norms[{i}]") for i, c in enumerate(clip_norms)]
    else:
        total = _check_clip_norm(clip_norms, "clip_norms")
        bounds = [total / math.sqrt(len(items))] * len(items)
    pairs = [clip_by_l2_norm(t, clip_norm=c) for t, c in zip(items, bounds)]
    clipped, norms = [p[0] for p in pairs], [p[1] for p in pairs]
    return (clipped[0] if single else clipped), norms


def adaptive_clip_norm_update(norms, *, clip_norm, target_quantile, learning_rate, count_stddev,
                              clients_per_round=None, seed=None):
    """One step of adaptive quantile clipping: (new C, noised fraction b̃).

    Andrew, Thakkar, McMahan & Ramaswamy (2021), "Differentially Private Learning with Adaptive
    Clipping", NeurIPS, Alg. 1 (geometric update). With γ = ``target_quantile``,
    η_C = ``learning_rate``, σ_b = ``count_stddev``, m = ``clients_per_round`` (default len(norms)):

        b_k = 1[‖Δ_k‖ ≤ C]                               each client's bit
        b̃  = (Σ_k (b_k − ½) + N(0, σ_b²)) / m + ½        noised fraction unclipped
        C  ← C · exp(−η_C (b̃ − γ))

    The bits are centred (b_k − ½) so that adding or removing a client moves the noised sum
    by at most ½, the sensitivity used in :func:`adaptive_clipping_noise_multiplier`; when m is
    the actual number of clients this equals (Σ_k b_k + N(0, σ_b²))/m.

    C shrinks when more than a fraction γ of updates fit under it, grows otherwise, and
    converges to the γ-quantile of the update norms. The count's noise costs privacy too:
    see :func:`adaptive_clipping_noise_multiplier`.
    """
    clip_norm = _check_clip_norm(clip_norm)
    target_quantile = check_unit_interval("target_quantile", target_quantile)
    learning_rate = check_non_negative("learning_rate", learning_rate)
    count_stddev = check_non_negative("count_stddev", count_stddev)
    if _is_tf(norms):
        import tensorflow as tf

        norms = tf.convert_to_tensor(norms)
        m = tf.cast(tf.size(norms), norms.dtype) if clients_per_round is None else _tf_scalar(
            tf, check_positive("clients_per_round", clients_per_round), norms.dtype)
        centred = tf.reduce_sum(tf.cast(norms <= _tf_scalar(tf, clip_norm, norms.dtype), norms.dtype) - 0.5)
        noised = add_gaussian_noise(centred, stddev=count_stddev, seed=seed) / m + 0.5
        new = _tf_scalar(tf, clip_norm, norms.dtype) * tf.exp(-learning_rate * (noised - target_quantile))
        return new, noised
    norms = check_numbers("norms", norms, non_negative=True).astype(float).reshape(-1)
    m = float(norms.size) if clients_per_round is None else check_positive("clients_per_round", clients_per_round)
    if m == 0:
        raise ValueError("norms must not be empty unless clients_per_round is given (m = len(norms) = 0)")
    centred = float(np.sum((norms <= clip_norm) - 0.5))
    noised = float(add_gaussian_noise(np.asarray(centred), stddev=count_stddev, seed=seed)) / m + 0.5
    with np.errstate(over="ignore"):  # an enormous learning rate sends C to 0 or ∞, not to an error
        return clip_norm * float(np.exp(-learning_rate * (noised - target_quantile))), noised


def adaptive_clipping_noise_multiplier(*, noise_multiplier, count_stddev) -> float:
    """z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2): the noise multiplier left for the update when the clipped
    count is also released with noise σ_b, keeping the total privacy of noise multiplier z.

    Andrew et al. (2021), Thm 1: the two Gaussian queries (sensitivity C with std z_Δ·C, and
    sensitivity 1/2 after centring the bits, with std σ_b) compose like one Gaussian query with
    z⁻² = z_Δ⁻² + (2σ_b)⁻². Needs σ_b > z/2; z_Δ > z always (the update gets a bit more noise).
    The paper suggests σ_b = m/20 for m clients per round, so the extra noise is small for large m.
    """
    z = check_positive("noise_multiplier", noise_multiplier)
    sigma_b = check_positive("count_stddev", count_stddev, allow_inf=True)
    rest = z**-2 - (2.0 * sigma_b) ** -2
    if not rest > 0:
        raise ValueError(f"count_stddev must be > noise_multiplier/2 = {z / 2!r}, got {count_stddev!r}")
    return rest**-0.5


@dataclass(frozen=True)
class ClippedMeanError:
    """Error of the DP mean of clipped vectors against the true mean (see below)."""

    bias: float  # ‖mean(clip(v_i)) − mean(v_i)‖₂
    noise_variance: float  # E‖noise‖² = d·(zC/n)²
    mse: float  # bias² + noise_variance
    fraction_clipped: float  # share of vectors with ‖v_i‖ > C


def clipped_mean_bias_variance(vectors, *, clip_norm, noise_multiplier) -> ClippedMeanError:
    """Bias and variance of the Gaussian-noised mean of n clipped d-dim vectors:

        estimate = (Σ_i clip(v_i, C) + N(0, (zC)² I_d)) / n
        bias     = ‖(1/n)Σ_i clip(v_i, C) − (1/n)Σ_i v_i‖₂  (deterministic, grows as C shrinks)
        variance = E‖noise/n‖² = d·(zC/n)²                 (grows with C)

    The trade-off that picks C (McMahan et al. 2018, §3; Andrew et al. 2021, §1). ``vectors``
    has shape [n, d]. Pure numpy, for the clipping notebook.
    """
    clip_norm = check_positive("clip_norm", clip_norm, allow_inf=True)
    z = check_non_negative("noise_multiplier", noise_multiplier)
    v = check_numbers("vectors", vectors).astype(float)
    if v.ndim != 2 or v.shape[0] == 0:
        raise ValueError(f"vectors must have shape [n, d] with n >= 1, got shape {v.shape}")
    n, d = v.shape
    clipped, norms = clip_per_example(v, clip_norm=clip_norm)
    bias = float(np.linalg.norm(clipped.mean(axis=0) - v.mean(axis=0)))
    with np.errstate(over="ignore"):
        variance = 0.0 if z == 0 else float(d * np.square(np.float64(z) * clip_norm / n))
    return ClippedMeanError(bias=bias, noise_variance=variance, mse=bias**2 + variance,
                            fraction_clipped=float(np.mean(norms > clip_norm)))
