"""Gradient inversion: reading a training input back out of a model update.

In federated learning the server never sees the data, only updates (article §4.1, Eqs. (1)–(3)).
An update can still contain the data. For a Dense layer with bias, z = x W + b (W: d_in × d_out,
x a row), and any loss ℓ of one example,

    ∂ℓ/∂W_{ij} = x_i · ∂ℓ/∂b_j,     i.e.   ∂ℓ/∂W = x ⊗ ∂ℓ/∂b,

so every column j with ∂ℓ/∂b_j ≠ 0 hands the input back *exactly*:

    x = (∂ℓ/∂W)_{:, j} / (∂ℓ/∂b)_j.

Phong, Aono, Hayashi, Wang & Moriai (2017), "Privacy-Preserving Deep Learning via Additively
Homomorphic Encryption" (IEEE TIFS 2018; ATIS 2017), §3; also discussed by Geiping, Bauermeister,
Dröge & Moeller (2020), "Inverting Gradients — How easy is it to break privacy in federated
learning?", NeurIPS. Using every column at once (least squares on the rank-one matrix) gives

    x̂ = (∂ℓ/∂W) g / (gᵀ g),   g = ∂ℓ/∂b,

which is exact for one example and averages the columns when the update is noisy.

* A batch of B (mean loss): ∂L/∂W = (1/B) Σ_n x_n ⊗ g_n, ∂L/∂b = (1/B) Σ_n g_n, so column j
  returns the **mix** x̂_j = Σ_n w_{nj} x_n with weights w_{nj} = g_{nj} / Σ_m g_{mj} (they sum
  to 1 and may be negative). Averaging over a batch blurs, it does not hide.
* An FL update after one local SGD step is Δθ = −η ∇L: the factor −η cancels in the ratio.
* Clipping alone does not help: it scales ∂ℓ/∂W and ∂ℓ/∂b by the same factor, which cancels.
* DP-SGD's noise does (Abadi et al. 2016, Alg. 1): the server receives
  (Σ_i clip(g_i) + N(0, z²C²I))/B, and the ratio of two noisy numbers recovers nothing once
  the noise dominates the clipped signal.

The optimization attack "Deep Leakage from Gradients" (Zhu, Liu & Han 2019, NeurIPS) recovers
inputs from deeper layers too; it is not implemented here (the analytic attack already shows
the point). Uses TensorFlow (layer 2). Taught in notebooks/13_what_dp_protects.ipynb.
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from fldp_teach._validation import (
    check_non_negative,
    check_non_negative_int,
    check_numbers,
    check_positive,
    check_positive_int,
)
from fldp_teach.dpsgd import add_noise, clipped_gradient_sum_vectorized, normalize, per_example_loss

__all__ = [
    "invert_dense_gradient",
    "mixing_weights",
    "cosine_similarity",
    "relative_error",
    "dense_layer",
    "raw_dense_gradient",
    "per_example_bias_gradients",
    "dp_dense_gradient",
    "NoiseSweep",
    "inversion_vs_noise",
]


# ------------------------------------------------------------------------------ the attack
def invert_dense_gradient(grad_kernel, grad_bias, *, unit=None) -> np.ndarray:
    """The input x of a Dense layer from its gradients (Phong et al. 2017; module docstring).

    ``grad_kernel``: ∂L/∂W, shape (d_in, d_out) (Keras' kernel layout); ``grad_bias``: ∂L/∂b,
    shape (d_out,). ``unit=j``: x̂ = (∂L/∂W)_{:,j} / (∂L/∂b)_j, one column; ``unit=None``:
    x̂ = (∂L/∂W) g / (gᵀg), all columns (least squares). Exact for a single example.
    Returns x̂ of shape (d_in,), float64."""
    kernel = check_numbers("grad_kernel", grad_kernel, finite=False).astype(np.float64)
    bias = check_numbers("grad_bias", grad_bias, finite=False).astype(np.float64)
    if kernel.ndim != 2 or kernel.size == 0:
        raise ValueError(f"grad_kernel must be a matrix (d_in, d_out), got shape {kernel.shape}")
    if bias.shape != (kernel.shape[1],):
        raise ValueError(f"grad_bias must have shape ({kernel.shape[1]},) to match grad_kernel "
                         f"{kernel.shape}, got {bias.shape}")
    for name, a in (("grad_kernel", kernel), ("grad_bias", bias)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite, got non-finite entries")
    if unit is None:
        norm2 = float(bias @ bias)
        if norm2 == 0.0:
            raise ValueError("grad_bias must be nonzero (every bias gradient is 0: the update "
                             "carries no trace of this layer's input), got all zeros")
        return kernel @ bias / norm2
    unit = check_non_negative_int("unit", unit)
    if unit >= bias.size:
        raise ValueError(f"unit must be < {bias.size} (the layer's units), got {unit}")
    if bias[unit] == 0.0:
        raise ValueError(f"unit must have a nonzero bias gradient, got grad_bias[{unit}] = 0.0")
    return kernel[:, unit] / bias[unit]


def mixing_weights(per_example_grad_bias) -> np.ndarray:
    """w_{nj} = g_{nj} / Σ_m g_{mj}: what column j of a batch update mixes, x̂_j = Σ_n w_{nj} x_n
    (module docstring). Input shape (B, d_out) — example n's ∂ℓ_n/∂b; output the same shape,
    each column summing to 1 (columns whose bias gradients sum to 0 are NaN)."""
    g = check_numbers("per_example_grad_bias", per_example_grad_bias).astype(np.float64)
    if g.ndim != 2 or g.size == 0:
        raise ValueError(f"per_example_grad_bias must have shape (B, d_out), B, d_out >= 1, got {g.shape}")
    total = g.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total != 0, g / np.where(total != 0, total, 1.0), np.nan)


def _pair_of_vectors(reconstruction, original):
    """Both arrays finite and of one shape (compared flattened), named in the error."""
    a = check_numbers("reconstruction", reconstruction, allow_empty=False).astype(np.float64)
    b = check_numbers("original", original, allow_empty=False).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"reconstruction must have the shape of original {b.shape}, got {a.shape}")
    return a.reshape(-1), b.reshape(-1)


def cosine_similarity(reconstruction, original) -> float:
    """cos ∠(x̂, x) = ⟨x̂, x⟩ / (‖x̂‖ ‖x‖) over the flattened arrays: 1 = the same image up to a
    positive scale, ≈ 0 = unrelated (e.g. pure noise). 0 if either vector is 0."""
    a, b = _pair_of_vectors(reconstruction, original)
    a, b = a / max(np.abs(a).max(), 1e-300), b / max(np.abs(b).max(), 1e-300)  # no overflow of a·b
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / denom) if denom > 0 else 0.0


def relative_error(reconstruction, original) -> float:
    """‖x̂ − x‖₂ / ‖x‖₂ over the flattened arrays (0 = exact)."""
    a, b = _pair_of_vectors(reconstruction, original)
    if not np.any(b):
        raise ValueError("original must be nonzero, got the zero vector")
    scale = float(np.abs(b).max())  # both divided by it: no overflow of the squares
    with np.errstate(over="ignore"):
        return float(np.linalg.norm(a / scale - b / scale) / np.linalg.norm(b / scale))


# ------------------------------------------------------------------------------ the updates
def dense_layer(model, layer=None) -> keras.layers.Dense:
    """The attacked layer: ``layer`` (a name or an index into ``model.layers``) or, by default,
    the first layer. It must be a Dense layer with a bias; the attack recovers *its* input
    (for the first layer, the example x itself)."""
    if layer is not None and not isinstance(layer, str):
        layer = check_non_negative_int("layer", layer)
        if layer >= len(model.layers):
            raise ValueError(f"layer must be an index < {len(model.layers)} (model.layers) or a name, got {layer}")
    found = model.layers[0] if layer is None else (
        model.get_layer(layer) if isinstance(layer, str) else model.layers[layer])
    if not isinstance(found, keras.layers.Dense) or not found.use_bias:
        raise ValueError(f"layer must be a Dense layer with a bias, got {found.name!r} "
                         f"({type(found).__name__})")
    return found


def _positions(model, layer):
    """Indices of ``layer``'s kernel and bias in ``model.trainable_variables``."""
    paths = [v.path for v in model.trainable_variables]
    return paths.index(layer.kernel.path), paths.index(layer.bias.path)


def _check_batch(model, x, y):
    from fldp_teach.dpsgd import check_lot

    xt, yt = check_lot(model, x, y, allow_empty=False)
    x, y = xt.numpy(), yt.numpy()
    if x.ndim < 2 or len(x) != len(y) or len(y) == 0:
        raise ValueError(f"x must be a non-empty batch (B, ...) with one label per example, "
                         f"got x {x.shape} and y {y.shape}")
    return tf.constant(x), tf.constant(y)


def raw_dense_gradient(model, x, y, *, layer=None):
    """(∂L/∂W, ∂L/∂b) of the mean loss L = (1/B) Σ_n ℓ_n on the batch (x, y): what a client that
    takes one plain SGD step reveals (up to the factor −η). numpy float64 arrays."""
    x, y = _check_batch(model, x, y)
    target = dense_layer(model, layer)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(per_example_loss(y, model(x, training=True)))
    kernel, bias = tape.gradient(loss, [target.kernel, target.bias])
    return np.asarray(kernel, dtype=np.float64), np.asarray(bias, dtype=np.float64)


def per_example_bias_gradients(model, x, y, *, layer=None) -> np.ndarray:
    """∂ℓ_n/∂b for each example n of the batch, shape (B, d_out) (input of :func:`mixing_weights`)."""
    x, y = _check_batch(model, x, y)
    target = dense_layer(model, layer)
    rows = []
    for n in range(int(x.shape[0])):
        with tf.GradientTape() as tape:
            loss = per_example_loss(y[n:n + 1], model(x[n:n + 1], training=True))[0]
        rows.append(np.asarray(tape.gradient(loss, target.bias), dtype=np.float64))
    return np.stack(rows)


def _noise_generator(seed, trial=0):
    """A ``tf.random.Generator`` for noise draw ``trial`` under ``seed`` (None: fresh entropy).

    ``Generator.from_seed(s)`` puts s into Philox's *counter*, so seeds s and s + 1 give the
    same stream shifted by four numbers; deriving (seed, trial) with ``numpy.random.SeedSequence``
    (:func:`fldp_teach.randomness.derive`) first makes the draws of different seeds and trials
    independent. None draws the root from OS entropy (:mod:`fldp_teach.randomness`)."""
    from fldp_teach.randomness import derive, noise_root, tf_generator

    return tf_generator(derive(noise_root(seed), int(trial)))


def _noisy_layer_gradient(clipped_sum, positions, *, clip_norm, noise_multiplier, denominator, seed,
                          trial=0):
    generator = _noise_generator(seed, trial)
    noisy = normalize(add_noise(clipped_sum, clip_norm=clip_norm, noise_multiplier=noise_multiplier,
                                generator=generator), denominator=denominator)
    return tuple(np.asarray(noisy[p], dtype=np.float64) for p in positions)


def dp_dense_gradient(model, x, y, *, clip_norm, noise_multiplier, seed=None, layer=None):
    """The Dense layer's part of the DP-SGD gradient g̃ = (Σ_n clip_C(g_n) + N(0, z²C²I)) / B
    (Abadi et al. 2016, Alg. 1, via ``fldp_teach.dpsgd``: per-example gradients of the whole
    model → clip to C jointly → sum → noise seeded by ``seed`` (None: fresh) → divide by B). ``noise_multiplier = 0`` is clipping alone. Returns (∂W, ∂b) as numpy."""
    clip_norm = check_positive("clip_norm", clip_norm)
    noise_multiplier = check_non_negative("noise_multiplier", noise_multiplier)
    x, y = _check_batch(model, x, y)
    positions = _positions(model, dense_layer(model, layer))
    clipped = clipped_gradient_sum_vectorized(model, x, y, clip_norm=clip_norm).gradient_sum
    return _noisy_layer_gradient(clipped, positions, clip_norm=clip_norm,
                                 noise_multiplier=noise_multiplier,
                                 denominator=float(x.shape[0]), seed=seed)


@dataclass(frozen=True, eq=False)
class NoiseSweep:
    """The attack on DP-SGD updates of one batch at several noise levels z.

    ``reconstructions[k, t]``: x̂ at ``noise_multipliers[k]`` in trial t (trial t draws its
    noise from (``seed``, t); the same draws at every z, and trial 0 is
    ``dp_dense_gradient(..., seed=seed)``); ``similarity``/``error``: cosine
    similarity and relative error against ``original`` (the batch's first example), shape
    (len(noise_multipliers), trials); ``raw``: x̂ from the raw (unclipped, noiseless) update."""

    noise_multipliers: np.ndarray
    reconstructions: np.ndarray
    similarity: np.ndarray
    error: np.ndarray
    original: np.ndarray
    raw: np.ndarray
    clip_norm: float
    seed: int | None


def inversion_vs_noise(model, x, y, *, clip_norm, noise_multipliers, trials=1, seed=None,
                       layer=None) -> NoiseSweep:
    """Run :func:`invert_dense_gradient` on :func:`dp_dense_gradient` of the batch (x, y) for
    every z in ``noise_multipliers`` and ``trials`` noise draws. The clipped sum is computed
    once (it does not depend on z); each z adds z·C·N with the trial's fixed N."""
    clip_norm = check_positive("clip_norm", clip_norm)
    trials = check_positive_int("trials", trials)
    if trials > 10**4:
        raise ValueError(f"trials must be <= 10**4 (one reconstruction each is kept), got {trials}")
    zs = check_numbers("noise_multipliers", noise_multipliers, ndim=(0, 1), allow_empty=False,
                       non_negative=True).astype(np.float64).reshape(-1)
    xt, yt = _check_batch(model, x, y)
    original = xt.numpy().astype(np.float64)[0].reshape(-1)
    raw = invert_dense_gradient(*raw_dense_gradient(model, x, y, layer=layer))
    xt, yt = _check_batch(model, x, y)
    positions = _positions(model, dense_layer(model, layer))
    clipped = clipped_gradient_sum_vectorized(model, xt, yt, clip_norm=clip_norm).gradient_sum
    recon = np.empty((zs.size, trials, original.size))
    for k, z in enumerate(zs):
        for t in range(trials):
            g = _noisy_layer_gradient(clipped, positions, clip_norm=clip_norm, noise_multiplier=float(z),
                                      denominator=float(xt.shape[0]), seed=seed, trial=t)
            recon[k, t] = invert_dense_gradient(*g)
    similarity = np.array([[cosine_similarity(r, original) for r in row] for row in recon])
    error = np.array([[relative_error(r, original) for r in row] for row in recon])
    return NoiseSweep(noise_multipliers=zs, reconstructions=recon, similarity=similarity,
                      error=error, original=original, raw=raw, clip_norm=clip_norm, seed=seed)
