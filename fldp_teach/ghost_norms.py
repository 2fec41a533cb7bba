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
large model at small cost", ICML: "book-keeping"); for a Dense layer on vectors that step is
one matmul, Σ_i c_i a_iᵀ g_i = aᵀ (c ∘ g). Where the norm already materialised the layer's
per-example gradients (the second form above: the convolutions of a CNN), the step is not
needed at all: Σ_i c_i ∇_w L_i is a weighted sum of what is in hand, d·p numbers per example
instead of a backward step of T·d·p (the per-example gradients are built by one batched
matmul of the im2col patches, gathered in one copy, and g). Total: one forward pass, one
backward pass, the norms and at most one weight-gradient product per layer, whatever the
batch size.

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
    a, (kh, kw), (sh, sw), (dh, dw), out_h, out_w = _conv2d_geometry(
        a, kernel_size, strides, padding, dilation_rate)
    return [tf.reshape(a[:, i * dh: i * dh + (out_h - 1) * sh + 1: sh,
                         j * dw: j * dw + (out_w - 1) * sw + 1: sw, :],
                       [-1, out_h * out_w, a.shape[3]])
            for i in range(kh) for j in range(kw)]


def _conv2d_geometry(a, kernel_size, strides, padding, dilation_rate):
    """Checked arguments of a Conv2D on the input ``a``: ``(a_padded, (kh, kw), (sh, sw),
    (dh, dw), out_h, out_w)`` ("same" pads ``a`` as TensorFlow does)."""
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
    return a, (kh, kw), (sh, sw), (dh, dw), out_h, out_w


def conv2d_patches(a, *, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1)):
    """im2col: the input patch under each output pixel of a Conv2D, shape [B, T, kh·kw·c_in],
    so that ``conv2d(a, K)[b, t] == patches[b, t] @ K.reshape(-1, c_out)``: the shifted
    inputs S_ij side by side. Built by one ``tf.gather`` of the input's pixels (rows of c_in
    numbers), not by concatenating the kh·kw shifted inputs: one copy instead of two."""
    a, (kh, kw), (sh, sw), (dh, dw), out_h, out_w = _conv2d_geometry(
        a, kernel_size, strides, padding, dilation_rate)
    height, width, channels = int(a.shape[1]), int(a.shape[2]), int(a.shape[3])
    # pixel (u·s + i·d, v·s + j·d) for output t = (u, v), offset (i, j): offsets vary fastest
    rows = (np.arange(out_h)[:, None, None, None] * sh + np.arange(kh)[None, None, :, None] * dh)
    cols = (np.arange(out_w)[None, :, None, None] * sw + np.arange(kw)[None, None, None, :] * dw)
    index = (rows * width + cols).reshape(-1)
    pixels = tf.reshape(a, [-1, height * width, channels])
    return tf.reshape(tf.gather(pixels, index, axis=1),
                      [-1, out_h * out_w, kh * kw * channels])


def _conv2d_patches_transposed(a, *, kernel_size, strides, padding):
    """The transpose of :func:`conv2d_patches`, shape [B, kh·kw·c_in, T], built from the kh·kw
    shifted inputs of the channels-first input (dilation 1). For inputs with few channels this
    is the cheap layout: each shifted input is a block of T contiguous numbers per channel,
    where the gather of :func:`conv2d_patches` would copy rows of one or two numbers."""
    a, (kh, kw), (sh, sw), _, out_h, out_w = _conv2d_geometry(a, kernel_size, strides,
                                                             padding, (1, 1))
    channels = int(a.shape[3])
    a = tf.transpose(a, [0, 3, 1, 2])  # [B, c_in, H, W]
    return tf.concat([tf.reshape(a[:, :, i: i + (out_h - 1) * sh + 1: sh,
                                   j: j + (out_w - 1) * sw + 1: sw],
                                 [-1, channels, out_h * out_w])
                      for i in range(kh) for j in range(kw)], axis=1)


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


def _bias_norms_squared(g):
    """‖∇_b L_i‖² = ‖Σ_t g_it‖² and the per-example bias gradients Σ_t g_it, g [B, T, p]."""
    g_total = tf.reduce_sum(g, axis=1)
    return tf.reduce_sum(g_total * g_total, axis=1), g_total


def _dense_norms_and_gradients(a, g, *, use_bias):
    """``(norms², weighted_sum)`` of z = a·W + b: the squared norms of the layer's share of
    ∇L_i, and, when the cheaper form materialised the per-example gradients, the function
    ``c ↦ [Σ_i c_i ∇_W L_i, (Σ_i c_i ∇_b L_i)]`` on them (bias only with ``use_bias``);
    else None."""
    if len(a.shape) == 2:  # one vector per example: ‖a_i‖²‖g_i‖² (+ ‖g_i‖²), Goodfellow 2015
        a_sq, g_sq = tf.reduce_sum(a * a, axis=1), tf.reduce_sum(g * g, axis=1)

        def weighted_sum(factors):  # Σ_i c_i a_iᵀ g_i = aᵀ (c ∘ g): one matmul
            scaled = g * factors[:, None]
            kernel_sum = tf.matmul(a, scaled, transpose_a=True)
            return [kernel_sum, tf.reduce_sum(scaled, axis=0)] if use_bias else [kernel_sum]

        return ((a_sq + 1.0) * g_sq if use_bias else a_sq * g_sq), weighted_sum
    a, g = _as_sequence(a), _as_sequence(g)
    d, p, steps = a.shape[-1], g.shape[-1], a.shape[1]
    if steps is not None and steps * (d + p) > d * p:  # cheaper: the layer's a_iᵀ g_i
        return _materialised(tf.matmul(a, g, transpose_a=True), g, use_bias)
    # Gram ("ghost") form ⟨a_i a_iᵀ, g_i g_iᵀ⟩_F
    kernel = tf.reduce_sum(tf.matmul(a, a, transpose_b=True)
                           * tf.matmul(g, g, transpose_b=True), axis=[1, 2])
    return (kernel + _bias_norms_squared(g)[0] if use_bias else kernel), None


def _materialised(per_example, g, use_bias, *, transposed=False):
    """``(norms², weighted_sum)`` (as :func:`_dense_norms_and_gradients`) from a layer's
    per-example kernel gradients ``per_example`` [B, d, p] ([B, p, d] if ``transposed``) and
    its g [B, T, p]. ``reduce_euclidean_norm`` squares and sums in one pass (no [B, d, p]
    temporary)."""
    kernel = tf.square(tf.math.reduce_euclidean_norm(per_example, axis=[1, 2]))
    grads = [per_example]
    if use_bias:
        bias, g_total = _bias_norms_squared(g)
        kernel, grads = kernel + bias, grads + [g_total]

    def weighted_sum(factors):
        sums = [tf.tensordot(factors, grad, axes=1) for grad in grads]  # Σ_i c_i ∇_w L_i
        if transposed:
            sums[0] = tf.transpose(sums[0])
        return sums

    return kernel, weighted_sum


def dense_norms_squared(a, g, *, use_bias=True):
    """‖∇_W L_i‖_F² + ‖∇_b L_i‖² for z = a·W + b, from the layer input a [B, ..., d] and
    g = ∂L/∂z [B, ..., p] (formulas in the module docstring). Also serves Conv2D, with a the
    im2col patches."""
    a, g = _activation("a", a, ndim=(2, 3, 4)), _activation("g", g, ndim=(2, 3, 4))
    if not (_is_symbolic(a) or _is_symbolic(g)) and (len(a.shape) != len(g.shape) or a.shape[:-1] != g.shape[:-1]):
        raise ValueError(f"g must have the shape of a except for the last axis, got a {tuple(a.shape)} "
                         f"and g {tuple(g.shape)}")
    return _dense_norms_and_gradients(a, g, use_bias=use_bias)[0]


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


#: input channels from which the per-example kernel gradient of a Conv2D is built from the
#: gathered patches [B, T, d] (rows of c_in numbers) rather than the transposed ones
#: [B, d, T]. Measured on the McMahan CNN at B = 128 (2 CPU cores; patches, matmul, norms and
#: weighted sum): c_in = 1 (28×28, 5×5 → 32) 3.3 ms transposed vs 7.7 ms gathered, the gather
#: copying single numbers; c_in = 32 (14×14, 5×5 → 64) about 20 ms gathered vs 27 ms
#: transposed (vs 28 ms, plus an 11 ms backward step, for the former offset-by-offset matmuls)
_GATHER_MIN_CHANNELS = 8


def _conv2d_norms_and_gradients(a, g, layer):
    """``(norms², weighted_sum)`` of a Conv2D ``layer``, as :func:`_dense_norms_and_gradients`
    on its im2col patches (the kernel gradient as [kh·kw·c_in, c_out], the kernel's own
    layout reshaped)."""
    g = _as_sequence(g)
    steps, p = g.shape[1], g.shape[-1]
    channels = a.shape[-1]
    d = layer.kernel_size[0] * layer.kernel_size[1] * channels
    use_bias = layer.bias is not None
    geometry = dict(kernel_size=layer.kernel_size, strides=layer.strides, padding=layer.padding)
    if steps * (d + p) <= d * p:  # Gram form on the patches
        return _dense_norms_and_gradients(
            conv2d_patches(a, dilation_rate=layer.dilation_rate, **geometry), g,
            use_bias=use_bias)
    # the per-example kernel gradient, Σ_t patch_it g_itᵀ, one batched matmul
    if channels >= _GATHER_MIN_CHANNELS:  # as g_iᵀ patches_i, [B, p, d]: the faster order
        per_example = tf.matmul(g, conv2d_patches(a, **geometry), transpose_a=True)
        return _materialised(per_example, g, use_bias, transposed=True)
    per_example = tf.matmul(_conv2d_patches_transposed(a, **geometry), g)
    return _materialised(per_example, g, use_bias)


def conv2d_norms_squared(a, g, layer):
    """‖∇_K L_i‖_F² + ‖∇_b L_i‖² for a Conv2D ``layer`` with input a and g = ∂L/∂z.

    The kernel gradient of example i is Σ_t patch_it g_itᵀ: a Dense layer on the im2col
    patches. When T·(d + p) > d·p (few channels, many pixels: the usual case) we materialise
    it, one batched matmul of the patches (:func:`conv2d_patches`) and g; otherwise the Gram
    form on the patches (``dense_norms_squared``)."""
    if not isinstance(layer, keras.layers.Conv2D):
        raise TypeError(f"layer must be a keras.layers.Conv2D, got {type(layer).__name__}")
    a, g = _activation("a", a, ndim=4), _activation("g", g, ndim=4)
    if not (_is_symbolic(a) or _is_symbolic(g)):
        expected = tuple(layer.compute_output_shape((None, *a.shape[1:])))[1:]
        if a.shape[-1] != layer.kernel.shape[2] or tuple(g.shape[1:]) != expected or g.shape[0] != a.shape[0]:
            raise ValueError(f"a and g must be the layer's input and output gradient: a (B, H, W, "
                             f"{layer.kernel.shape[2]}) and g (B, {', '.join(map(str, expected))}), got "
                             f"a {tuple(a.shape)} and g {tuple(g.shape)}")
    return _conv2d_norms_and_gradients(a, g, layer)[0]


def _layer_norms_and_gradients(layer, a, g):
    """``(Σ over the layer's weights w of ‖∇_w L_i‖², weighted_sum)`` from its input a and
    g = ∂L/∂z; ``weighted_sum(c)`` gives Σ_i c_i ∇_w L_i for ``layer.trainable_variables``
    when the norm's form materialised the per-example gradients, else it is None."""
    if isinstance(layer, keras.layers.Embedding):
        return embedding_norms_squared(a, g), None
    if isinstance(layer, keras.layers.Conv2D):
        return _conv2d_norms_and_gradients(a, g, layer)
    return _dense_norms_and_gradients(a, g, use_bias=layer.bias is not None)


def _norms_and_tape(model, x, y):
    """One forward and one backward pass: per-example losses, logits, norms ‖∇L_i‖ (all
    layers), the persistent tape that recorded the forward pass, and per linear layer
    ``(layer, z, g, weighted_sum)`` (``weighted_sum`` as in :func:`_layer_norms_and_gradients`)."""
    with tf.GradientTape(persistent=True) as tape:
        logits, captured = _forward(model, x)
        losses = per_example_loss(y, logits)
        total = tf.reduce_sum(losses)
    output_grads = tape.gradient(total, [z for _, _, z in captured])  # row i = ∂L_i/∂z_i
    norms_sq, layers = [], []
    for (layer, a, z), g in zip(captured, output_grads):
        layer_norms_sq, weighted_sum = _layer_norms_and_gradients(layer, a, g)
        norms_sq.append(layer_norms_sq)
        layers.append((layer, z, g, weighted_sum))
    return tf.sqrt(tf.maximum(tf.add_n(norms_sq), 0.0)), losses, logits, tape, layers


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
    model at small cost", ICML, "book-keeping"). A layer whose norm materialised its
    per-example gradients (``per-example`` form of the "mixed" norm, Bu, Mao, Xu 2022) skips
    even that step: its share is the weighted sum Σ_i c_i ∇_w L_i of what is in hand. Returns
    a ``ClippedSum`` equal (to rounding) to ``dpsgd.clipped_gradient_sum_vectorized``, which
    it falls back to for unsupported models (see :func:`ghost_norms_supported`)."""
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
    for layer, z, g, weighted_sum in layers:
        weights = layer.trainable_variables
        if weighted_sum is not None:
            # the norm already materialised ∇_w L_i: Σ_i c_i ∇_w L_i is one weighted sum
            # over the examples, no backward step at all ("mixed" clipping, Bu et al. 2022)
            for w, s in zip(weights, weighted_sum(factors), strict=True):
                sums[id(w)] = tf.reshape(s, w.shape)
            continue
        scaled = g * tf.reshape(factors, [-1] + [1] * (len(g.shape) - 1))  # c_i g_i
        for w, s in zip(weights, tape.gradient(z, weights, output_gradients=scaled)):
            # An Embedding's gradient comes as IndexedSlices (only the rows of the lot's
            # tokens); DP noise must go on *every* row, so make it dense.
            sums[id(w)] = tf.convert_to_tensor(s)
    del tape
    return ClippedSum([sums[id(v)] for v in model.trainable_variables], norms, losses, logits)
