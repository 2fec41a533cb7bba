"""Per-example gradient norms without per-example gradients ("ghost norms"), and the fast
clipped sum of DP-SGD built on them.

The idea (Goodfellow 2015, "Efficient Per-Example Gradient Computations", arXiv:1510.01799):
for a linear layer z = a·W + b, the gradient of example i is an outer product,

    ∇_W L_i = a_iᵀ g_i,      ∇_b L_i = g_i,      where g_i = ∂L_i/∂z_i,

so its norm needs only a_i and g_i, which one forward and one backward pass already give:

    ‖∇_W L_i‖_F² = ‖a_i‖² · ‖g_i‖²                       (a_i a vector, Goodfellow 2015)
    ‖∇_W L_i‖_F² = Σ_{t,s} (a_it·a_is)(g_it·g_is)
                 = ⟨a_i a_iᵀ, g_i g_iᵀ⟩_F                (a_i a sequence of T rows: "ghost
                                                          norm", Li, Tramèr, Liang, Hashimoto
                                                          2022, "Large language models can be
                                                          strong differentially private
                                                          learners", ICLR, §4)
    ‖∇_b L_i‖² = ‖Σ_t g_it‖².

A Conv2D layer is the same linear map applied to the T = H_out·W_out image patches of the
input (im2col; Rochette, Manoel, Tramel 2019, "Efficient per-example gradient computations
in convolutional neural networks", arXiv:1912.06015; Lee & Kifer 2021, "Scaling up
differentially private deep learning with fast per-example gradient clipping", PoPETs), and
an Embedding
is a linear map of one-hot rows: ‖∇_E L_i‖² = Σ_{t,s} [id_t = id_s] (g_it·g_is).
For each layer we compute the norm in whichever of two forms is cheaper ("mixed ghost
norm", Bu, Mao, Xu 2022, "Scalable and efficient training of large convolutional neural
networks with differential privacy", NeurIPS): the Gram form above costs about
T²(d + p) per example, materialising that one layer's per-example gradient a_iᵀ g_i
(shape d × p) costs T·d·p.

Then DP-SGD's clipped sum needs no per-example gradient either: with clip factors
c_i = min(1, C/‖∇L_i‖) held constant,

    Σ_i c_i ∇L_i = ∇ (Σ_i c_i L_i),

a *second backward pass* on the reweighted loss (Lee & Kifer 2021; Li et al. 2022, "ghost
clipping"). Since every layer's g is already known, that pass need not travel through the
network again: each layer's share is one backward step from its output z to its weights with
c_i·g_i in place of g_i (Bu, Wang, Zha, Karypis 2023, "Differentially private optimization on
large model at small cost", ICML: "book-keeping"). Total: one forward pass, one backward
pass, the norms and one weight-gradient product per layer, whatever the batch size.

Supported: ``keras.Sequential`` models whose layers with weights are all ``Dense``,
``Conv2D`` (channels_last, groups=1, dilation_rate 1) or ``Embedding`` (without
``mask_zero``), whose other layers have no weights (Flatten, MaxPooling2D, Dropout,
Activation, ...), and in which no weight is used twice (no layer appears twice, no variable
is shared by two layers: per-layer norms would miss the cross terms of a tied weight's
gradient and under-estimate ‖∇L_i‖). Any other model falls back to the readable vectorized
path of ``fldp_teach.dpsgd`` (same result, slower); so do dilated convolutions, whose filter
gradient through ``tf.nn.conv2d`` has no kernel on some CPUs. Taught in the DP-SGD notebook (the "why is DP-SGD slow and how to fix it" part).
"""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from fldp_teach._validation import _is_symbolic, check_numbers, check_positive_int
from fldp_teach.dpsgd import (
    ClippedSum,
    _check_scalars,
    check_lot,
    clip_factors,
    clipped_gradient_sum_vectorized,
    per_example_loss,
    skip_empty_lot,
)

__all__ = [
    "ghost_norms_supported",
    "conv2d_shifted_inputs",
    "conv2d_patches",
    "dense_norms_squared",
    "conv2d_norms_squared",
    "embedding_norms_squared",
    "per_example_norms_fast",
    "clipped_gradient_sum_fast",
]

_LINEAR_LAYERS = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Embedding)


def ghost_norms_supported(model) -> tuple[bool, str]:
    """``(True, "")`` if :func:`clipped_gradient_sum_fast` handles ``model`` layer by layer,
    else ``(False, reason)``; see the module docstring for what is supported.

    Tied weights are refused: if a variable W serves two uses (one layer twice, or two
    layers sharing it), ∇_W L_i = G_1 + G_2 and ‖∇_W L_i‖² = ‖G_1‖² + ‖G_2‖² + 2⟨G_1, G_2⟩,
    but per-layer norms add only ‖G_1‖² + ‖G_2‖²: the norm is under-estimated and one
    example's clipped contribution can exceed C (up to √k·C for k uses, Cauchy–Schwarz:
    ‖Σ_k G_k‖ ≤ √k·sqrt(Σ_k ‖G_k‖²))."""
    if not isinstance(model, keras.Sequential):
        return False, f"{type(model).__name__} is not a keras.Sequential model"
    if not model.trainable_variables:
        return False, "the model has no trainable variables"
    seen_layers, owner = set(), {}
    for layer in model.layers:
        if id(layer) in seen_layers:
            return False, (f"layer {layer.name!r} is used more than once (tied weights: "
                           "ghost norms would miss the cross terms)")
        seen_layers.add(id(layer))
        for variable in layer.trainable_variables:
            if id(variable) in owner:
                return False, (f"variable {variable.path!r} is shared by layers "
                               f"{owner[id(variable)]!r} and {layer.name!r} (tied weights: "
                               "ghost norms would miss the cross terms)")
            owner[id(variable)] = layer.name
        if type(layer) not in _LINEAR_LAYERS:
            if layer.weights:
                return False, f"layer {layer.name!r} ({type(layer).__name__}) has weights"
            continue
        if isinstance(layer, keras.layers.Conv2D) and (
                layer.groups != 1 or layer.data_format != "channels_last"):
            return False, f"layer {layer.name!r}: only groups=1, channels_last Conv2D"
        if isinstance(layer, keras.layers.Conv2D) and tuple(layer.dilation_rate) != (1, 1):
            # the filter gradient of a dilated tf.nn.conv2d has no kernel on some CPUs
            # ("Current CPU implementations do not yet support dilation rates larger than
            # 1"); Keras' Conv2D (the vectorized path) dilates by space_to_batch instead
            return False, (f"layer {layer.name!r}: Conv2D with dilation_rate > 1 "
                           f"({tuple(layer.dilation_rate)})")
        if isinstance(layer, keras.layers.Embedding) and layer.mask_zero:
            return False, f"layer {layer.name!r}: Embedding with mask_zero"
        if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
            return False, f"layer {layer.name!r}: LoRA/quantized layers"
        if layer.trainable_variables and len(layer.trainable_variables) != len(layer.weights):
            return False, f"layer {layer.name!r}: some weights frozen, some trainable"
    return True, ""


# ------------------------------------------------------------------------------ forward pass
def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's "same" padding: output size ⌈size/stride⌉, total padding
    max((out − 1)·stride + (kernel − 1)·dilation + 1 − size, 0), the extra pixel at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _activation(name, value, *, ndim, integer=False):
    """An eager input of the ghost-norm formulas as a tensor (float32, or int32 ids), checked:
    real, finite numbers with ``ndim`` dimensions (an int or a tuple of allowed ones) and at
    least one example. Symbolic tensors (inside ``tf.function``) pass unchanged."""
    if _is_symbolic(value):
        return value
    a = check_numbers(name, value, ndim=ndim, integer=integer, non_negative=integer)
    if a.shape[0] == 0 or a.size == 0:
        raise ValueError(f"{name} must hold at least one example and one value, got shape {a.shape}")
    if integer:
        return tf.constant(a, tf.int64)
    return tf.constant(a, a.dtype if a.dtype in (np.float32, np.float64) else np.float32)


def _pair(name, value, *, low=1):
    """A (height, width) pair of ints >= low, named in the error."""
    if value is None or isinstance(value, (str, bytes)) or np.ndim(value) != 1 or len(value) != 2:
        raise ValueError(f"{name} must be a pair of integers (height, width), got {value!r}")
    pair = tuple(check_positive_int(f"{name}[{i}]", v) for i, v in enumerate(value))
    if any(v < low for v in pair):
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return pair


def conv2d_shifted_inputs(a, *, kernel_size, strides=(1, 1), padding="valid",
                          dilation_rate=(1, 1)):
    """The input as seen by each kernel offset (i, j) of a Conv2D: a list of kh·kw tensors
    S_ij of shape [B, T, c_in], T = H_out·W_out, with S_ij[b, (u, v)] = a[b, i·d + s·u,
    j·d + s·v, :] (a padded first for "same"), so that conv2d(a, K)[b, t] =
    Σ_ij S_ij[b, t] · K[i, j]. Each is one strided slice (cheaper than
    ``tf.image.extract_patches``)."""
    a = _activation("a", a, ndim=4)
    kh, kw = _pair("kernel_size", kernel_size)
    sh, sw = _pair("strides", strides)
    dh, dw = _pair("dilation_rate", dilation_rate)
    height, width = int(a.shape[1]), int(a.shape[2])
    if padding == "valid" and ((kh - 1) * dh + 1 > height or (kw - 1) * dw + 1 > width):
        raise ValueError(f"kernel_size {kernel_size!r} (dilation {dilation_rate!r}) must fit the input "
                         f"of height {height} and width {width}")
    if padding == "same" and (kh > height or kw > width):
        raise ValueError(f"kernel_size {kernel_size!r} must not exceed the input ({height}, {width})")
    if padding == "same":
        a = tf.pad(a, [[0, 0], _same_padding(height, kh, sh, dh),
                       _same_padding(width, kw, sw, dw), [0, 0]])
        height, width = int(a.shape[1]), int(a.shape[2])
    elif padding != "valid":
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    out_h = (height - (kh - 1) * dh - 1) // sh + 1
    out_w = (width - (kw - 1) * dw - 1) // sw + 1
    return [tf.reshape(a[:, i * dh: i * dh + (out_h - 1) * sh + 1: sh,
                         j * dw: j * dw + (out_w - 1) * sw + 1: sw, :],
                       [-1, out_h * out_w, a.shape[3]])
            for i in range(kh) for j in range(kw)]


def conv2d_patches(a, *, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1)):
    """im2col: the input patch under each output pixel of a Conv2D, shape [B, T, kh·kw·c_in],
    so that ``conv2d(a, K)[b, t] == patches[b, t] @ K.reshape(-1, c_out)``: the shifted
    inputs S_ij side by side."""
    a = _activation("a", a, ndim=4)
    shifted = conv2d_shifted_inputs(a, kernel_size=kernel_size, strides=strides,
                                    padding=padding, dilation_rate=dilation_rate)
    return tf.concat(shifted, axis=2)


def _forward(model, x):
    """Run ``model`` layer by layer, computing each linear layer's pre-activation z ourselves.
    Returns ``(logits, captured)`` with one ``(layer, a, z)`` per trainable Dense/Conv2D/
    Embedding layer: its input a and its output z (before the activation). A frozen layer
    (``trainable=False``) is not in θ, so its share is left out of ‖∇_θ L_i‖."""
    a, captured = x, []
    for layer in model.layers:
        if isinstance(layer, _LINEAR_LAYERS) and not layer.trainable_variables:
            a = layer(a, training=True)
            continue
        if isinstance(layer, keras.layers.Dense):
            # z = a·W (+ b), over the last axis of a
            z = (tf.matmul(a, layer.kernel) if len(a.shape) == 2
                 else tf.tensordot(a, layer.kernel, axes=1))
            if layer.bias is not None:
                z = z + layer.bias
            captured.append((layer, a, z))
            a = layer.activation(z)
        elif isinstance(layer, keras.layers.Conv2D):
            # dilation 1 only (ghost_norms_supported): no dilated conv2d under our tape
            z = tf.nn.conv2d(a, layer.kernel, strides=layer.strides,
                             padding=layer.padding.upper())
            if layer.bias is not None:
                z = z + layer.bias
            captured.append((layer, a, z))
            a = layer.activation(z)
        elif isinstance(layer, keras.layers.Embedding):
            ids = tf.cast(a, tf.int32)
            z = tf.gather(layer.embeddings, ids)  # z_t = E[id_t]
            captured.append((layer, ids, z))
            a = z
        else:  # no weights: Flatten, pooling, dropout, activation, ...
            a = layer(a, training=True)
    return a, captured


# ------------------------------------------------------------------------ per-layer norms²
def _as_sequence(t):
    """[B, ..., d] → [B, T, d], T = product of the middle axes (static when they are, so
    that the choice of form below is made once, when the step is traced)."""
    middle = t.shape[1:-1]
    steps = math.prod(middle) if None not in middle else -1
    return tf.reshape(t, [tf.shape(t)[0], steps, t.shape[-1]])


def dense_norms_squared(a, g, *, use_bias=True):
    """‖∇_W L_i‖_F² + ‖∇_b L_i‖² for z = a·W + b, from the layer input a [B, ..., d] and
    g = ∂L/∂z [B, ..., p] (formulas in the module docstring). Also serves Conv2D, with a the
    im2col patches."""
    a, g = _activation("a", a, ndim=(2, 3, 4)), _activation("g", g, ndim=(2, 3, 4))
    if not (_is_symbolic(a) or _is_symbolic(g)) and (len(a.shape) != len(g.shape) or a.shape[:-1] != g.shape[:-1]):
        raise ValueError(f"g must have the shape of a except for the last axis, got a {tuple(a.shape)} "
                         f"and g {tuple(g.shape)}")
    if len(a.shape) == 2:  # one vector per example: ‖a_i‖²‖g_i‖² (Goodfellow 2015)
        g_sq = tf.reduce_sum(g * g, axis=1)
        kernel = tf.reduce_sum(a * a, axis=1) * g_sq
        return kernel + g_sq if use_bias else kernel
    a, g = _as_sequence(a), _as_sequence(g)
    d, p, steps = a.shape[-1], g.shape[-1], a.shape[1]
    if steps is not None and steps * (d + p) > d * p:  # cheaper: the layer's a_iᵀ g_i
        per_example = tf.matmul(a, g, transpose_a=True)  # [B, d, p]
        kernel = tf.reduce_sum(per_example * per_example, axis=[1, 2])
    else:  # Gram ("ghost") form ⟨a_i a_iᵀ, g_i g_iᵀ⟩_F
        kernel = tf.reduce_sum(tf.matmul(a, a, transpose_b=True)
                               * tf.matmul(g, g, transpose_b=True), axis=[1, 2])
    if not use_bias:
        return kernel
    g_total = tf.reduce_sum(g, axis=1)  # ∇_b L_i = Σ_t g_it
    return kernel + tf.reduce_sum(g_total * g_total, axis=1)


def embedding_norms_squared(ids, g):
    """‖∇_E L_i‖_F² = Σ_{t,s} [id_t = id_s] (g_it·g_is) for z_t = E[id_t]; ids [B] or
    [B, T], g = ∂L/∂z [B, d] or [B, T, d]."""
    ids, g = _activation("ids", ids, ndim=(1, 2), integer=True), _activation("g", g, ndim=(2, 3))
    if not (_is_symbolic(ids) or _is_symbolic(g)) and tuple(ids.shape) != tuple(g.shape[:-1]):
        raise ValueError(f"g must have shape ids.shape + (d,), got ids {tuple(ids.shape)} and g {tuple(g.shape)}")
    if len(ids.shape) == 1:
        return tf.reduce_sum(g * g, axis=1)
    g = _as_sequence(g)
    ids = tf.reshape(ids, [tf.shape(ids)[0], g.shape[1] or -1])
    same_id = tf.cast(ids[:, :, None] == ids[:, None, :], g.dtype)
    return tf.reduce_sum(same_id * tf.matmul(g, g, transpose_b=True), axis=[1, 2])


def conv2d_norms_squared(a, g, layer):
    """‖∇_K L_i‖_F² + ‖∇_b L_i‖² for a Conv2D ``layer`` with input a and g = ∂L/∂z.

    The kernel gradient of example i is Σ_t patch_it g_itᵀ: a Dense layer on the patches. When
    T·(d + p) > d·p (few channels, many pixels: the usual case) we compute it offset by offset,
    ∇_{K[i,j]} L_b = S_ij[b]ᵀ g_b (``conv2d_shifted_inputs``), never building the patch matrix;
    otherwise the Gram form on the patches (``dense_norms_squared``)."""
    if not isinstance(layer, keras.layers.Conv2D):
        raise TypeError(f"layer must be a keras.layers.Conv2D, got {type(layer).__name__}")
    a, g = _activation("a", a, ndim=4), _activation("g", g, ndim=4)
    if not (_is_symbolic(a) or _is_symbolic(g)):
        expected = tuple(layer.compute_output_shape((None, *a.shape[1:])))[1:]
        if a.shape[-1] != layer.kernel.shape[2] or tuple(g.shape[1:]) != expected or g.shape[0] != a.shape[0]:
            raise ValueError(f"a and g must be the layer's input and output gradient: a (B, H, W, "
                             f"{layer.kernel.shape[2]}) and g (B, {', '.join(map(str, expected))}), got "
                             f"a {tuple(a.shape)} and g {tuple(g.shape)}")
    shifted = conv2d_shifted_inputs(a, kernel_size=layer.kernel_size, strides=layer.strides,
                                    padding=layer.padding, dilation_rate=layer.dilation_rate)
    g = _as_sequence(g)
    steps, d, p = g.shape[1], len(shifted) * a.shape[-1], g.shape[-1]
    if steps * (d + p) <= d * p:
        return dense_norms_squared(tf.concat(shifted, axis=2), g,
                                   use_bias=layer.bias is not None)
    kernel = tf.add_n([tf.reduce_sum(tf.square(tf.matmul(s, g, transpose_a=True)), axis=[1, 2])
                       for s in shifted])
    if layer.bias is None:
        return kernel
    g_total = tf.reduce_sum(g, axis=1)
    return kernel + tf.reduce_sum(g_total * g_total, axis=1)


def _layer_norms_squared(layer, a, g):
    """Σ over the layer's weights w of ‖∇_w L_i‖², from its input a and g = ∂L/∂z."""
    if isinstance(layer, keras.layers.Embedding):
        return embedding_norms_squared(a, g)
    if isinstance(layer, keras.layers.Conv2D):
        return conv2d_norms_squared(a, g, layer)
    return dense_norms_squared(a, g, use_bias=layer.bias is not None)


def _norms_and_tape(model, x, y):
    """One forward and one backward pass: per-example losses, logits, norms ‖∇L_i‖ (all
    layers), the persistent tape that recorded the forward pass, and per linear layer
    ``(layer, z, g)``."""
    with tf.GradientTape(persistent=True) as tape:
        logits, captured = _forward(model, x)
        losses = per_example_loss(y, logits)
        total = tf.reduce_sum(losses)
    output_grads = tape.gradient(total, [z for _, _, z in captured])  # row i = ∂L_i/∂z_i
    norms_sq = tf.add_n([_layer_norms_squared(layer, a, g)
                         for (layer, a, _), g in zip(captured, output_grads)])
    layers = [(layer, z, g) for (layer, _, z), g in zip(captured, output_grads)]
    return tf.sqrt(tf.maximum(norms_sq, 0.0)), losses, logits, tape, layers


def per_example_norms_fast(model, x, y):
    """‖∇_θ L_i‖₂ for every example, from per-layer ghost norms (no per-example gradients).
    Only for models :func:`ghost_norms_supported` accepts (else ValueError)."""
    supported, reason = ghost_norms_supported(model)
    if not supported:
        raise ValueError(f"model is not supported by ghost norms: {reason}")
    x, y = check_lot(model, x, y, allow_empty=False)
    return _norms_and_tape(model, x, y)[0]


def clipped_gradient_sum_fast(model, x, y, *, clip_norm):
    """Σ_i c_i ∇L_i with c_i = min(1, C/‖∇L_i‖): ghost norms, then for each linear layer the
    backward step from its output z to its own weights w with c_i·g_i in place of g_i,

        Σ_i c_i ∇_w L_i = (∂z/∂w)ᵀ (c ∘ g),

    i.e. the second backward pass on Σ_i c_i L_i (Lee & Kifer 2021; Li et al. 2022) but one
    layer deep: the g of every layer is already known, so nothing is propagated through the
    network again (Bu, Wang, Zha, Karypis 2023, "Differentially private optimization on large
    model at small cost", ICML, "book-keeping"). Returns a ``ClippedSum`` equal (to rounding)
    to ``dpsgd.clipped_gradient_sum_vectorized``, which it falls back to for unsupported
    models (see :func:`ghost_norms_supported`)."""
    supported, _ = ghost_norms_supported(model)
    if not supported:
        return clipped_gradient_sum_vectorized(model, x, y, clip_norm=clip_norm)
    x, y = check_lot(model, x, y)
    _check_scalars(clip_norm=clip_norm)
    return skip_empty_lot(model, x, lambda: _clipped_sum_by_layers(model, x, y, clip_norm))


def _clipped_sum_by_layers(model, x, y, clip_norm):
    norms, losses, logits, tape, layers = _norms_and_tape(model, x, y)
    factors = tf.stop_gradient(clip_factors(norms, clip_norm=clip_norm))
    sums = {}
    for layer, z, g in layers:
        scaled = g * tf.reshape(factors, [-1] + [1] * (len(g.shape) - 1))  # c_i g_i
        weights = layer.trainable_variables
        for w, s in zip(weights, tape.gradient(z, weights, output_gradients=scaled)):
            # An Embedding's gradient comes as IndexedSlices (only the rows of the lot's
            # tokens); DP noise must go on *every* row, so make it dense.
            sums[id(w)] = tf.convert_to_tensor(s)
    del tape
    return ClippedSum([sums[id(v)] for v in model.trainable_variables], norms, losses, logits)
