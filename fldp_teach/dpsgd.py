"""DP-SGD, one gradient step, as the named phases of Abadi et al. (2016), Algorithm 1.

Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar, Zhang, "Deep Learning with Differential
Privacy", CCS 2016, Algorithm 1 (Differentially private SGD), for a lot L_t of examples:

    Compute gradient   For each i ∈ L_t, compute g_t(x_i) ← ∇_θ L(θ_t, x_i)
    Clip gradient      ḡ_t(x_i) ← g_t(x_i) / max(1, ‖g_t(x_i)‖₂ / C)
    Add noise          g̃_t ← (1/L) (Σ_i ḡ_t(x_i) + N(0, σ²C²I))
    Descent            θ_{t+1} ← θ_t − η_t g̃_t

The paper's σ is our ``noise_multiplier`` z (the noise *relative to* C), and its
L is the *expected* lot size: ``sampling_rate · num_examples`` = qN under Poisson sampling, or
the fixed ``batch_size`` B for shuffled fixed-size batches. Dividing by the expected (not the
realised) lot size matters: the realised size of a Poisson lot is itself private.

Each phase below is a small function a notebook can show on its own:

    per_example_gradients → clip_gradients → sum_gradients → add_noise → normalize

This is the *readable* implementation: it materialises one gradient per example with
``tf.vectorized_map``. ``fldp_teach.ghost_norms`` computes the same clipped sum without
materialising per-example gradients (faster, tested equal). ``make_dp_train_step`` compiles
one whole step (with the optimizer) into a ``tf.function``; ``fldp_teach.training`` runs the
loop (sampling, privacy ledger). Taught in the DP-SGD notebook.

Conventions: models output logits, labels are integers, the loss of example i is the softmax
cross-entropy ``L_i = −log softmax(f(x_i))[y_i]`` (``fldp_teach.models``). Regularisation
losses attached to the model (``model.losses``) are not part of ``L_i`` and are ignored.
"""
from __future__ import annotations

from typing import NamedTuple

import math

import keras
import numpy as np
import tensorflow as tf

from fldp_teach._validation import (
    _is_symbolic,
    check_non_negative,
    check_numbers,
    check_positive,
    check_positive_int,
)
from fldp_teach.clipping import clip_per_example

__all__ = [
    "ClippedSum",
    "per_example_loss",
    "per_example_gradients",
    "per_example_global_norms",
    "clip_factors",
    "clip_gradients",
    "sum_gradients",
    "add_noise",
    "NoiseBuffer",
    "normalize",
    "skip_empty_lot",
    "check_dp_sgd_model",
    "check_lot",
    "clipped_gradient_sum_vectorized",
    "dp_gradient",
    "make_dp_train_step",
    "make_sgd_train_step",
]


def _plain(value) -> bool:
    """True for a Python/numpy value (checked here); tensors are TF's to check at run time."""
    return not type(value).__module__.startswith(("tensorflow", "keras"))


def check_lot(model, x, y, *, allow_empty=True):
    """Eager (outside ``tf.function``) check of a lot: ``x`` finite numbers shaped like the
    model's input, ``y`` integer labels in [0, num_classes) with one per example; returns
    them as float32/int32 arrays. Symbolic tensors are returned unchanged. Raises ValueError/
    TypeError naming ``x`` or ``y`` instead of a TensorFlow error from deep inside a graph."""
    if _is_symbolic(x) or _is_symbolic(y):
        return x, y
    xs = check_numbers("x", x)
    if xs.dtype.kind == "f" and xs.size and not np.all(np.isfinite(xs.astype(np.float32))):
        raise ValueError("x must be finite in float32 (|x| < 3.4e38), got values that overflow it")
    try:
        expected = tuple(model.input_shape[1:])
    except (AttributeError, ValueError):  # a subclassed model that was never built on an Input
        expected = None
    if expected is not None and (xs.ndim != len(expected) + 1 or any(
            e is not None and e != s for e, s in zip(expected, xs.shape[1:]))):
        raise ValueError(f"x must have shape (lot size, {', '.join(map(str, expected))}), got {xs.shape}")
    if not allow_empty and xs.shape[0] == 0:
        raise ValueError(f"x must hold at least one example, got shape {xs.shape}")
    try:
        num_classes = int(model.output_shape[-1])
    except (AttributeError, ValueError):
        num_classes = int(model(xs[:1].astype(np.float32)).shape[-1]) if xs.shape[0] else None
    ys = check_numbers("y", y, ndim=1, integer=True, low=0,
                       high=None if num_classes is None else num_classes - 1)
    if ys.shape[0] != xs.shape[0]:
        raise ValueError(f"x must hold one example per label of y: x has {xs.shape[0]}, y has {ys.shape[0]}")
    return tf.constant(xs, tf.float32), tf.constant(ys, tf.int32)


def _check_scalars(**values):
    """clip_norm > 0 (inf allowed), noise_multiplier >= 0, denominator > 0, when plain values."""
    for name, value in values.items():
        if value is None and name == "clip_norm":
            raise ValueError("clip_norm must be a number, got None")
        if not _plain(value):
            continue
        if name == "clip_norm":
            check_positive(name, value, allow_inf=True)
        elif name == "noise_multiplier":
            check_non_negative(name, value)
        else:
            check_positive(name, value)


class ClippedSum(NamedTuple):
    """What the "compute gradient → clip → sum" phases produce for one lot.

    ``gradient_sum``: Σ_i ḡ(x_i), one tensor per trainable variable (same order as
    ``model.trainable_variables``); ``norms``: ‖g(x_i)‖₂ before clipping, shape [B];
    ``losses``: L_i, shape [B]; ``logits``: f(x_i), shape [B, num_classes]."""

    gradient_sum: list
    norms: tf.Tensor
    losses: tf.Tensor
    logits: tf.Tensor


def per_example_loss(y, logits):
    """L_i = −log softmax(logits_i)[y_i]: softmax cross-entropy on integer labels, one value
    per example (no reduction), the same as
    ``keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)``."""
    if not (_is_symbolic(y) or _is_symbolic(logits)):
        scores = check_numbers("logits", logits)
        if scores.ndim < 1:
            raise ValueError(f"logits must have shape (..., num_classes), got {scores.shape}")
        labels = check_numbers("y", y, integer=True, low=0, high=scores.shape[-1] - 1)
        if labels.shape != scores.shape[:-1]:
            raise ValueError(f"y must have shape {scores.shape[:-1]} (one label per row of logits), "
                             f"got {labels.shape}")
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(y, tf.int32), logits=logits)


def per_example_gradients(model, x, y):
    """Alg. 1, "Compute gradient: for each i ∈ L_t, compute g_t(x_i) ← ∇_θ L(θ_t, x_i)".

    Returns ``(grads, losses, logits)``: ``grads[k]`` has shape ``[B, *variable_k.shape]`` and
    ``grads[k][i]`` is the gradient of L_i alone. ``tf.vectorized_map`` writes this as a loop
    over examples and runs it as one batched computation (Agarwal & Ganichev 2019, "Auto-
    vectorizing TensorFlow graphs: jacobians, auto-batching and beyond")."""
    x, y = check_lot(model, x, y, allow_empty=False)

    def gradient_of_one_example(example):
        x_i, y_i = example
        with tf.GradientTape() as tape:
            logits_i = model(x_i[None], training=True)  # a batch of one
            loss_i = per_example_loss(y_i[None], logits_i)[0]
        grads = tape.gradient(loss_i, model.trainable_variables)
        # dense gradients (an Embedding's would be IndexedSlices: DP noise goes on every row)
        return [tf.convert_to_tensor(g) for g in grads], loss_i, logits_i[0]

    return tf.vectorized_map(gradient_of_one_example, (x, y))


def per_example_global_norms(grads):
    """‖g(x_i)‖₂ over *all* parameters of the model (the vector θ flattened), shape [B]:
    ‖g_i‖₂² = Σ_k ‖grads[k][i]‖_F²."""
    squares = [tf.reduce_sum(tf.reshape(g * g, [tf.shape(g)[0], -1]), axis=1) for g in grads]
    return tf.sqrt(tf.add_n(squares))


def clip_factors(norms, *, clip_norm):
    """c_i = 1 / max(1, ‖g_i‖/C) = min(1, C/‖g_i‖), so that ‖c_i g_i‖ ≤ C (Alg. 1, "Clip
    gradient"). A zero gradient keeps c_i = 1 (C/0 = ∞); C = ∞ gives c_i = 1 (no clipping)."""
    _check_scalars(clip_norm=clip_norm)
    if not _is_symbolic(norms):
        norms = tf.constant(check_numbers("norms", norms, ndim=1, non_negative=True), tf.float32) \
            if _plain(norms) else norms
    return tf.minimum(tf.constant(1.0, norms.dtype), clip_norm / norms)


def clip_gradients(grads, *, clip_norm):
    """Alg. 1, "Clip gradient: ḡ_t(x_i) ← g_t(x_i) / max(1, ‖g_t(x_i)‖₂ / C)".

    ``grads`` are per-example gradients (leading axis = example); returns ``(clipped, norms)``
    with the norms *before* clipping. Each example is scaled as a whole (all layers by the
    same factor): the bound is on the norm of the full gradient vector. This is
    ``fldp_teach.clipping.clip_per_example`` (taught in the clipping notebook)."""
    return clip_per_example(list(grads), clip_norm=clip_norm)


def sum_gradients(clipped):
    """Σ_{i ∈ L_t} ḡ_t(x_i): the sum over examples (the bracket in Alg. 1, "Add noise").
    One example changes this sum by at most C in L2 norm: its sensitivity is C."""
    return [tf.reduce_sum(g, axis=0) for g in clipped]


def add_noise(gradient_sum, *, clip_norm, noise_multiplier, generator):
    """Alg. 1, "Add noise": Σ_i ḡ_t(x_i) + N(0, σ²C²I), with σ = ``noise_multiplier``.

    The Gaussian mechanism on a sum of L2 sensitivity C: noise std ``noise_multiplier ·
    clip_norm`` on every coordinate, drawn from ``generator`` (a ``tf.random.Generator``,
    seeded by the caller). ``noise_multiplier == 0`` adds nothing (non-private)."""
    _check_scalars(clip_norm=clip_norm, noise_multiplier=noise_multiplier)
    if isinstance(noise_multiplier, (int, float)) and noise_multiplier == 0:
        return list(gradient_sum)
    stddev = noise_multiplier * clip_norm
    return [s + generator.normal(_shape_of(s), stddev=stddev, dtype=s.dtype)
            for s in map(tf.convert_to_tensor, gradient_sum)]


def _shape_of(s):
    """``s``'s static shape where known, so the draw need not wait for ``s`` (the same
    numbers as drawing with ``tf.shape(s)``); its run-time shape otherwise."""
    return s.shape if s.shape.is_fully_defined() else tf.shape(s)


#: floats of noise drawn at once by the "batched" noise (16 MiB of float32); at least one step
_NOISE_BUFFER_FLOATS = 2 ** 22
_NOISE_BUFFER_MAX_ROWS = 64
#: batched noise is the default only when at least this many steps fit in one draw
_NOISE_BUFFER_MIN_ROWS = 8


def default_noise(variables, *, noise_seed) -> str:
    """How a run draws its noise when the caller does not say ("auto").

    "per_variable" (:func:`add_noise`, the stream of every seeded figure) when a
    ``noise_seed`` is given, so a seeded run repeats draw for draw; otherwise "batched"
    (:class:`NoiseBuffer`), unless fewer than 8 steps' noise fit in its 2²² floats
    (P > 2¹⁹ ≈ 524k weights): a draw that large already outweighs the per-op cost that
    batching saves, and refilling the buffer every step or two costs more than it saves
    (McMahan CNN, P = 1,663,370: 2 rows, batched 1.45–1.56× vs per variable 1.40–1.52×
    in benchmarks/dpsgd.py). Both give the same law, so ε does not depend on the choice."""
    if noise_seed is not None:
        return "per_variable"
    size = sum(math.prod(v.shape) for v in variables)
    return "batched" if _NOISE_BUFFER_FLOATS // max(size, 1) >= _NOISE_BUFFER_MIN_ROWS else "per_variable"


class NoiseBuffer:
    """The Gaussian noise of DP-SGD drawn for several steps at once ("batched" noise).

    :func:`add_noise` draws one ``generator.normal`` per variable and step; each draw is an
    op with a fixed cost (tens of microseconds on a CPU, shared out to the thread pool), a
    visible share of a small model's step (measured in benchmarks/dpsgd.py). Here one draw
    fills a buffer of ``rows`` steps × P parameters, N(0, σ²) with σ = zC; each step reads
    its row and splits it into the variables' shapes. The noise is the same distribution —
    i.i.d. N(0, z²C²) on every coordinate of every step, from the same private generator — so
    the accountant's ε is unchanged; only the order in which the stream is used differs from
    ``add_noise``'s, so a seeded run would not reproduce a per-variable run draw for draw
    (which is why ``train_dp_sgd`` and ``make_private`` use it only without a noise seed).
    The buffer holds secret noise (future steps' and the current block's): it lives in this
    object, never in the model's weights or a checkpoint (a resumed run starts a fresh one). ``rows``: as many steps as fit in
    2²² floats, at most 64, at least 1 (one fused draw per step for large models)."""

    def __init__(self, variables, *, stddev, generator, rows=None):
        self.shapes = [tuple(v.shape) for v in variables]
        self.sizes = [math.prod(shape) for shape in self.shapes]
        size = sum(self.sizes)
        self.rows = (max(1, min(_NOISE_BUFFER_MAX_ROWS, _NOISE_BUFFER_FLOATS // max(size, 1)))
                     if rows is None else check_positive_int("rows", rows))
        self.stddev, self.generator = float(stddev), generator
        self.buffer = tf.Variable(tf.zeros([self.rows, size]), trainable=False,
                                  name="dp_noise_buffer")
        self.next_row = tf.Variable(self.rows, dtype=tf.int32, trainable=False,
                                    name="dp_noise_row")  # exhausted: the first call fills it

    def draw(self):
        """This step's noise, one tensor per variable (call inside the step's tf.function)."""
        def refill():
            self.buffer.assign(self.generator.normal(self.buffer.shape, stddev=self.stddev))
            return tf.constant(0, tf.int32)

        row = tf.cond(self.next_row >= self.rows, refill, lambda: self.next_row)
        self.next_row.assign(row + 1)
        flat = tf.split(self.buffer[row], self.sizes)
        return [tf.reshape(n, shape) for n, shape in zip(flat, self.shapes)]


def normalize(noisy_sum, *, denominator):
    """Alg. 1, "Add noise" (the factor 1/L): g̃_t = noisy sum / L, where L is the *expected*
    lot size (qN for Poisson sampling, B for fixed-size batches), never the realised one."""
    _check_scalars(denominator=denominator)
    return [s / denominator for s in noisy_sum]


def skip_empty_lot(model, x, compute):
    """``compute()`` (a :class:`ClippedSum`) if the lot ``x`` has examples, else the clipped
    sum of an empty lot, zero gradients. Poisson sampling draws empty lots (probability
    (1 − q)^N); DP-SGD still adds noise to the zero sum and takes the step."""
    def empty():
        return ([tf.zeros_like(v) for v in model.trainable_variables], tf.zeros([0]),
                tf.zeros([0]), tf.zeros([0, model.output_shape[-1]]))

    def nonempty():
        return tuple(compute())

    gradient_sum, norms, losses, logits = tf.cond(tf.shape(x)[0] > 0, nonempty, empty)
    return ClippedSum(list(gradient_sum), norms, losses, logits)


def _sublayers(layer):
    """``layer`` and every layer inside it, nested models included."""
    if hasattr(layer, "_flatten_layers"):  # Keras 3
        return list(layer._flatten_layers(include_self=True, recursive=True))
    return [layer] + [sub for child in getattr(layer, "layers", []) for sub in _sublayers(child)]


def check_dp_sgd_model(model):
    """Raise ``ValueError`` if ``model`` has a layer whose non-trainable state changes in
    training: every ``BatchNormalization`` (and subclass), and any layer with a non-trainable
    variable named "moving…".

    DP-SGD's guarantee covers what is computed from the noisy gradients g̃_t and nothing else
    (Abadi et al. 2016, §3.1: the privacy of the released θ follows by post-processing). A
    BatchNormalization layer's moving mean and variance are updated in every training step
    from the raw activations of the lot, with no clipping and no noise, and are saved with
    the model: they leak the data outside ε. Group and Layer normalization (Wu & He 2018;
    Ba, Kiros, Hinton 2016) normalise each example by its own statistics and keep no running
    state. Frozen weights (``trainable=False``) and Dropout's random-number state do not
    depend on the data and stay allowed. Taught in the DP-SGD notebook."""
    # innermost first: a model also lists its sublayers' variables, name the one that owns them
    for layer in reversed(_sublayers(model)):
        where = f"layer {layer.name!r} ({type(layer).__name__})"
        moving = [v.name for v in layer.non_trainable_variables if "moving" in v.name.lower()]
        if isinstance(layer, keras.layers.BatchNormalization):
            what = "keeps running statistics (moving mean and variance)"
        elif moving:
            what = f"has non-trainable variable(s) {', '.join(map(repr, moving))}"
        else:
            continue
        raise ValueError(
            f"{where} {what}, which training updates from the raw data with no clipping "
            "and no noise and which ship with the model: DP-SGD's epsilon would not cover "
            "them. Use keras.layers.GroupNormalization or keras.layers.LayerNormalization "
            "(no running statistics) instead.")


def clipped_gradient_sum_vectorized(model, x, y, *, clip_norm):
    """Σ_i ḡ(x_i) the readable way: per-example gradients → clip → sum (three phases above).
    Returns a :class:`ClippedSum`. Works for any Keras model whose examples are independent
    (no BatchNormalization); an empty lot gives zero gradients."""
    x, y = check_lot(model, x, y)
    _check_scalars(clip_norm=clip_norm)

    def compute():
        grads, losses, logits = per_example_gradients(model, x, y)
        clipped, norms = clip_gradients(grads, clip_norm=clip_norm)
        return sum_gradients(clipped), norms, losses, logits

    return skip_empty_lot(model, x, compute)


def dp_gradient(model, x, y, *, clip_norm, noise_multiplier, denominator, generator,
                method="vectorized", noise_buffer=None):
    """g̃_t of Alg. 1 for one lot ``(x, y)``: the five phases in order,

        per_example_gradients → clip_gradients → sum_gradients → add_noise → normalize.

    ``method="vectorized"`` materialises per-example gradients (this module);
    ``method="fast"`` uses per-layer ghost norms (``fldp_teach.ghost_norms``), falling back to
    the vectorized phases for models with unsupported layers. Both give the same g̃_t.
    ``noise_buffer`` (a :class:`NoiseBuffer` of std zC): the noise is this step's row of it
    instead of :func:`add_noise`'s per-variable draws from ``generator`` (same distribution).
    Returns ``(noisy_gradient, clipped_sum)``. Models with state that training updates
    outside g̃_t (BatchNormalization) are refused: :func:`check_dp_sgd_model`."""
    _check_scalars(clip_norm=clip_norm, noise_multiplier=noise_multiplier, denominator=denominator)
    check_dp_sgd_model(model)
    x, y = check_lot(model, x, y)
    if method == "vectorized":
        result = clipped_gradient_sum_vectorized(model, x, y, clip_norm=clip_norm)
    elif method == "fast":
        from fldp_teach.ghost_norms import clipped_gradient_sum_fast

        result = clipped_gradient_sum_fast(model, x, y, clip_norm=clip_norm)
    else:
        raise ValueError(f"method must be 'fast' or 'vectorized', got {method!r}")
    if noise_buffer is None:
        noisy = add_noise(result.gradient_sum, clip_norm=clip_norm,
                          noise_multiplier=noise_multiplier, generator=generator)
    else:
        noisy = [s + n for s, n in zip(result.gradient_sum, noise_buffer.draw())]
    return normalize(noisy, denominator=denominator), result


# ------------------------------------------------------------------- compiled train steps
def _signature(model):
    """(x, y, denominator) specs for any lot size: one trace serves every step."""
    return [tf.TensorSpec([None, *model.input_shape[1:]], tf.float32),
            tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.float32)]


def _lot_metrics(y, logits, losses):
    """(Σ L_i, number correct, lot size) of one lot, as float32 tensors."""
    correct = tf.reduce_sum(tf.cast(tf.argmax(logits, axis=-1, output_type=tf.int32)
                                    == tf.cast(y, tf.int32), tf.float32))
    return tf.reduce_sum(losses), correct, tf.cast(tf.shape(y)[0], tf.float32)


def make_dp_train_step(model, optimizer, *, clip_norm, noise_multiplier, generator,
                       method="fast", noise="per_variable"):
    """A ``tf.function`` ``step(x, y, denominator) -> (Σ L_i, #correct, lot size)`` doing one
    DP-SGD step (``dpsgd.dp_gradient``, then the optimizer). Compiled once for any lot size
    (no XLA: on CPUs it slows convolutions down). Refuses models that
    :func:`check_dp_sgd_model` refuses (BatchNormalization), when the step is made.
    ``noise``: "per_variable" (:func:`add_noise`, one draw per variable and step: a seeded
    run's stream) or "batched" (a :class:`NoiseBuffer` drawn from ``generator`` for many steps
    at once; faster for small models, the same distribution)."""
    _check_scalars(clip_norm=clip_norm, noise_multiplier=noise_multiplier)
    check_dp_sgd_model(model)
    if noise not in ("per_variable", "batched"):
        raise ValueError(f"noise must be 'per_variable' or 'batched', got {noise!r}")
    buffer = None
    if noise == "batched" and float(noise_multiplier) > 0:
        buffer = NoiseBuffer(model.trainable_variables, stddev=float(noise_multiplier * clip_norm),
                             generator=generator)

    @tf.function(input_signature=_signature(model), jit_compile=False)
    def step(x, y, denominator):
        noisy_gradient, result = dp_gradient(
            model, x, y, clip_norm=clip_norm, noise_multiplier=noise_multiplier,
            denominator=denominator, generator=generator, method=method, noise_buffer=buffer)
        optimizer.apply_gradients(zip(noisy_gradient, model.trainable_variables))
        return _lot_metrics(y, result.logits, result.losses)

    step.noise_buffer = buffer  # None unless batched (the benchmark charges its refills)
    return step


def make_sgd_train_step(model, optimizer):
    """The non-private counterpart: θ ← optimizer(θ, ∇ mean_i L_i) over the lot, with the
    same signature as :func:`make_dp_train_step` (``denominator`` is unused)."""

    @tf.function(input_signature=_signature(model), jit_compile=False)
    def step(x, y, denominator):
        del denominator

        def mean_gradient():
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                losses = per_example_loss(y, logits)
                mean_loss = tf.reduce_mean(losses)
            return tape.gradient(mean_loss, model.trainable_variables), losses, logits

        def empty_lot():  # Poisson sampling can draw one: no gradient
            return ([tf.zeros_like(v) for v in model.trainable_variables], tf.zeros([0]),
                    tf.zeros([0, model.output_shape[-1]]))

        gradient, losses, logits = tf.cond(tf.shape(x)[0] > 0, mean_gradient, empty_lot)
        optimizer.apply_gradients(zip(gradient, model.trainable_variables))
        return _lot_metrics(y, logits, losses)

    return step
