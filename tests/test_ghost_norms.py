"""Ghost norms (fldp_teach.ghost_norms) against brute-force per-example gradients."""
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from fldp_teach import models
from fldp_teach.dpsgd import (
    clipped_gradient_sum_vectorized,
    dp_gradient,
    per_example_global_norms,
)
from fldp_teach.ghost_norms import (
    _conv2d_patches_transposed,
    clipped_gradient_sum_fast,
    conv2d_patches,
    dense_norms_squared,
    embedding_norms_squared,
    ghost_norms_supported,
    per_example_norms_fast,
)

RNG = np.random.default_rng(99)
CONV_VARIANTS = [  # (kernel, strides, padding, dilation) on a 9×9×2 input
    ((3, 3), (1, 1), "valid", (1, 1)),
    ((3, 3), (1, 1), "same", (1, 1)),
    ((3, 2), (2, 2), "same", (1, 1)),
    ((3, 3), (2, 2), "valid", (1, 1)),
    ((2, 3), (3, 1), "same", (1, 1)),
    ((3, 3), (1, 1), "valid", (2, 2)),
    ((3, 3), (1, 1), "same", (2, 1)),
    ((4, 4), (2, 2), "same", (1, 1)),
]


@pytest.mark.parametrize("kernel_size, strides, padding, dilation", CONV_VARIANTS)
def test_im2col_patches_reproduce_conv2d(kernel_size, strides, padding, dilation):
    a = tf.constant(RNG.normal(size=(3, 9, 9, 2)).astype(np.float32))
    kernel = tf.constant(RNG.normal(size=(*kernel_size, 2, 5)).astype(np.float32))
    z = tf.nn.convolution(a, kernel, strides=strides, padding=padding.upper(),
                          dilations=dilation)
    patches = conv2d_patches(a, kernel_size=kernel_size, strides=strides, padding=padding,
                             dilation_rate=dilation)
    assert patches.shape[1] == z.shape[1] * z.shape[2]
    np.testing.assert_allclose(patches @ tf.reshape(kernel, [-1, 5]),
                               tf.reshape(z, [3, -1, 5]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size, strides, padding, dilation",
                         [v for v in CONV_VARIANTS if v[3] == (1, 1)])
@pytest.mark.parametrize("channels", [1, 2])
def test_transposed_patches_are_the_transpose_of_im2col(kernel_size, strides, padding,
                                                         dilation, channels):
    """The two layouts of the per-example kernel gradient's patches hold the same numbers."""
    a = tf.constant(RNG.normal(size=(3, 9, 9, channels)).astype(np.float32))
    patches = conv2d_patches(a, kernel_size=kernel_size, strides=strides, padding=padding)
    transposed = _conv2d_patches_transposed(a, kernel_size=kernel_size, strides=strides,
                                            padding=padding)
    np.testing.assert_array_equal(tf.transpose(patches, [0, 2, 1]), transposed)


@pytest.mark.parametrize("steps, d, p", [(1, 6, 4), (5, 3, 2), (2, 6, 7), (7, 40, 30)])
def test_dense_norms_squared_equal_brute_force(steps, d, p):
    """Both forms (Gram for long sequences, materialised a_iᵀ g_i for short ones) against
    ‖Σ_t a_it g_itᵀ‖² + ‖Σ_t g_it‖² computed in float64."""
    a = RNG.normal(size=(4, steps, d))
    g = RNG.normal(size=(4, steps, p))
    kernel = np.einsum("btd,btp->bdp", a, g)
    want = (kernel ** 2).sum(axis=(1, 2)) + (g.sum(axis=1) ** 2).sum(axis=1)
    got = dense_norms_squared(tf.constant(a, tf.float32), tf.constant(g, tf.float32))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    if steps == 1:  # the plain-vector case ‖a‖²‖g‖² + ‖g‖²
        got2 = dense_norms_squared(tf.constant(a[:, 0], tf.float32),
                                   tf.constant(g[:, 0], tf.float32))
        np.testing.assert_allclose(got2, want, rtol=1e-5)


def test_embedding_norms_count_repeated_tokens():
    ids = np.array([[1, 1, 2], [0, 3, 4]])
    g = RNG.normal(size=(2, 3, 5))
    # example 0: rows E[1] gets g0+g1, E[2] gets g2; example 1: three distinct rows
    want = [np.sum((g[0, 0] + g[0, 1]) ** 2) + np.sum(g[0, 2] ** 2), np.sum(g[1] ** 2)]
    got = embedding_norms_squared(tf.constant(ids), tf.constant(g, tf.float32))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def _conv_model(kernel_size, strides, padding, dilation):
    return keras.Sequential([
        keras.Input((9, 9, 2)),
        keras.layers.Conv2D(3, kernel_size, strides=strides, padding=padding,
                            dilation_rate=dilation, activation="tanh",
                            kernel_initializer=keras.initializers.GlorotUniform(seed=1)),
        keras.layers.MaxPooling2D(2, padding="same"),
        keras.layers.Flatten(),
        keras.layers.Dense(4, kernel_initializer=keras.initializers.GlorotUniform(seed=2)),
    ])


def _gram_conv_model():
    """4×4×8 input, 3×3 valid conv to 8 channels: T = 4 pixels, d = 72, p = 8, so
    T·(d + p) ≤ d·p and the Conv2D norm takes the Gram form on the patches."""
    return keras.Sequential([
        keras.Input((4, 4, 8)),
        keras.layers.Conv2D(8, 3, activation="relu",
                            kernel_initializer=keras.initializers.GlorotUniform(seed=6)),
        keras.layers.Flatten(),
        keras.layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(seed=7)),
    ])


def _gather_conv_model():
    """9×9×8 input, 3×3 stride-2 "same" conv to 4 channels without bias: T = 25, d = 72,
    p = 4, so the per-example kernel gradient is materialised, from the gathered patches
    (c_in ≥ 8); then a 1×1 conv (c_in = 4: the transposed patches) with bias."""
    return keras.Sequential([
        keras.Input((9, 9, 8)),
        keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False, activation="tanh",
                            kernel_initializer=keras.initializers.GlorotUniform(seed=10)),
        keras.layers.Conv2D(3, 1, activation="relu",
                            kernel_initializer=keras.initializers.GlorotUniform(seed=11)),
        keras.layers.Flatten(),
        keras.layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(seed=12)),
    ])


def _sequence_model():
    """Embedding → Dense on a sequence (Gram form) → Flatten → Dense without bias."""
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Embedding(5, 3, embeddings_initializer=keras.initializers.RandomNormal(
            seed=3)),
        keras.layers.Dense(4, activation="relu",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=4)),
        keras.layers.Flatten(),
        keras.layers.Dense(3, use_bias=False,
                           kernel_initializer=keras.initializers.GlorotUniform(seed=5)),
    ])


def _frozen_mlp():
    """A frozen (``trainable=False``) Dense first: its kernel has no gradient in θ, so its
    share must not enter ‖∇_θ L_i‖ (else the fast path clips more than the vectorized one)."""
    return keras.Sequential([
        keras.Input((30,)),
        keras.layers.Dense(16, activation="relu", trainable=False,
                           kernel_initializer=keras.initializers.GlorotUniform(seed=8)),
        keras.layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(seed=9)),
    ])


CASES = {
    "logistic": (lambda: models.logistic_regression(30, num_classes=2, seed=0), (30,), 2),
    "mlp": (lambda: models.mlp(30, num_classes=2, hidden_units=(16, 8), seed=0), (30,), 2),
    "small_cnn": (lambda: models.small_cnn(seed=0), (8, 8, 1), 10),
    "sequence": (_sequence_model, (6,), 3),
    "conv_gram": (_gram_conv_model, (4, 4, 8), 3),
    "conv_gather": (_gather_conv_model, (9, 9, 8), 3),
    "frozen_dense": (_frozen_mlp, (30,), 2),
    **{f"conv{i}": ((lambda v=v: _conv_model(*v)), (9, 9, 2), 4)
       for i, v in enumerate(CONV_VARIANTS)},
}


def _data(shape, num_classes, batch=12):
    if shape == (6,):  # token ids, with repeats
        x = RNG.integers(0, 5, size=(batch, 6)).astype(np.float32)
    else:
        x = RNG.normal(size=(batch, *shape)).astype(np.float32)
    return tf.constant(x), tf.constant(RNG.integers(0, num_classes, batch).astype(np.int32))


DILATED = {f"conv{i}" for i, v in enumerate(CONV_VARIANTS) if v[3] != (1, 1)}


@pytest.mark.parametrize("name", list(CASES))
def test_fast_clipped_sum_equals_vectorized(name):
    """Supported models: the fast path agrees with the vectorized one. Dilated convolutions
    are routed to the vectorized path (``dilation_rate > 1``: the filter gradient of a dilated
    ``conv2d`` has no kernel on some CPUs), so there the two are the same ops."""
    build, shape, num_classes = CASES[name]
    model = build()
    supported, reason = ghost_norms_supported(model)
    if name in DILATED:
        assert not supported and "dilation_rate > 1" in reason
    else:
        assert (supported, reason) == (True, "")
    x, y = _data(shape, num_classes)
    vectorized = clipped_gradient_sum_vectorized(model, x, y, clip_norm=1.0)
    # C at the median norm: half the examples are clipped, half are not
    clip_norm = float(np.median(vectorized.norms))
    vectorized = clipped_gradient_sum_vectorized(model, x, y, clip_norm=clip_norm)
    fast = tf.function(lambda x, y: clipped_gradient_sum_fast(model, x, y,
                                                              clip_norm=clip_norm))(x, y)
    np.testing.assert_allclose(fast.norms, vectorized.norms, rtol=1e-5)
    np.testing.assert_allclose(fast.losses, vectorized.losses, rtol=1e-5)
    for f, v in zip(fast.gradient_sum, vectorized.gradient_sum):
        scale = float(tf.reduce_max(tf.abs(v)))
        np.testing.assert_allclose(f, v, rtol=1e-5, atol=1e-5 * scale)


def test_fast_norms_equal_norms_of_materialised_gradients_eagerly():
    model = models.small_cnn(seed=4)
    x, y = _data((8, 8, 1), 10, batch=5)
    from fldp_teach.dpsgd import per_example_gradients

    grads, _, _ = per_example_gradients(model, x, y)
    np.testing.assert_allclose(per_example_norms_fast(model, x, y),
                               per_example_global_norms(grads), rtol=1e-5)


def test_tiny_clip_norm_clips_every_example_to_c():
    """With C far below every norm, Σ_i c_i ∇L_i = C Σ_i ∇L_i/‖∇L_i‖: check against that."""
    model = models.mlp(30, num_classes=2, hidden_units=(8,), seed=2)
    x, y = _data((30,), 2, batch=6)
    from fldp_teach.dpsgd import per_example_gradients

    grads, _, _ = per_example_gradients(model, x, y)
    norms = per_example_global_norms(grads)
    want = [1e-4 * tf.reduce_sum(g / tf.reshape(norms, [-1] + [1] * (len(g.shape) - 1)),
                                 axis=0) for g in grads]
    fast = clipped_gradient_sum_fast(model, x, y, clip_norm=1e-4)
    for f, w in zip(fast.gradient_sum, want):
        np.testing.assert_allclose(f, w, rtol=1e-4, atol=1e-10)


def test_unsupported_layer_falls_back_to_vectorized():
    model = models.rnn_classifier(input_shape=(5, 3), num_classes=3, cell="gru", seed=0)
    supported, reason = ghost_norms_supported(model)
    assert not supported and "GRU" in reason
    x = tf.constant(RNG.normal(size=(7, 5, 3)).astype(np.float32))
    y = tf.constant(RNG.integers(0, 3, 7).astype(np.int32))
    fast = clipped_gradient_sum_fast(model, x, y, clip_norm=0.3)
    vectorized = clipped_gradient_sum_vectorized(model, x, y, clip_norm=0.3)
    for f, v in zip(fast.gradient_sum, vectorized.gradient_sum):
        np.testing.assert_allclose(f, v, rtol=1e-5, atol=1e-7)


def test_supported_reasons():
    functional_in = keras.Input((4,))
    functional = keras.Model(functional_in, keras.layers.Dense(2)(functional_in))
    assert ghost_norms_supported(functional)[0] is False
    with_norm = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
                                  keras.layers.LayerNormalization(), keras.layers.Dense(2)])
    supported, reason = ghost_norms_supported(with_norm)
    assert not supported and "LayerNormalization" in reason
    masked = keras.Sequential([keras.Input((4,)), keras.layers.Embedding(5, 2, mask_zero=True),
                               keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)])
    assert "mask_zero" in ghost_norms_supported(masked)[1]
    half_frozen = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    half_frozen.layers[0].kernel.trainable = False  # bias trainable, kernel not
    assert "some weights frozen" in ghost_norms_supported(half_frozen)[1]
    all_frozen = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, trainable=False)])
    assert "no trainable variables" in ghost_norms_supported(all_frozen)[1]


@pytest.mark.parametrize("name", sorted(DILATED))
def test_dilated_conv_fast_method_is_the_vectorized_result(name):
    """``dp_gradient(method="fast")`` on a dilated conv is the vectorized g̃, noise included."""
    build, shape, num_classes = CASES[name]
    model = build()
    x, y = _data(shape, num_classes, batch=5)
    out = {}
    for method in ("vectorized", "fast"):
        out[method], _ = dp_gradient(model, x, y, clip_norm=0.5, noise_multiplier=1.0,
                                     denominator=5.0, method=method,
                                     generator=tf.random.Generator.from_seed(2))
    for f, v in zip(out["fast"], out["vectorized"]):
        np.testing.assert_allclose(f, v, rtol=1e-5, atol=1e-6)


def test_dilated_conv_trains_without_onednn():
    """Regression (AMD EPYC, no oneDNN): "Current CPU implementations do not yet support
    dilation rates larger than 1" from the filter gradient of a dilated ``tf.nn.conv2d``. With
    ``TF_ENABLE_ONEDNN_OPTS=0`` (TensorFlow's plain CPU kernels, as on those machines) a fast
    DP-SGD step on a dilated Conv2D must run. A subprocess: the switch is read at import."""
    script = textwrap.dedent("""
        import keras, numpy as np, tensorflow as tf
        from fldp_teach.dpsgd import make_dp_train_step
        model = keras.Sequential([
            keras.Input((9, 9, 2)),
            keras.layers.Conv2D(3, 3, dilation_rate=2, activation="tanh"),
            keras.layers.Flatten(), keras.layers.Dense(4)])
        step = make_dp_train_step(model, keras.optimizers.SGD(0.1), clip_norm=1.0,
                                  noise_multiplier=1.0, method="fast",
                                  generator=tf.random.Generator.from_seed(0))
        x = tf.constant(np.ones((6, 9, 9, 2), np.float32))
        step(x, tf.constant([0, 1, 2, 3, 0, 1]), tf.constant(6.0))
        print("STEP OK")
    """)
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert "STEP OK" in done.stdout, done.stderr[-2000:]


def test_no_dilated_conv2d_under_a_tape_in_our_code():
    """Our code calls ``tf.nn.conv2d`` only with dilation 1 (``ghost_norms_supported`` rejects
    the others); a dilated convolution is differentiated by Keras' own Conv2D only."""
    import inspect

    from fldp_teach import dpsgd, ghost_norms

    for module in (dpsgd, ghost_norms):
        assert "dilations" not in inspect.getsource(module), module.__name__


def _tied_model():
    """One Dense instance used twice, with an identity kernel: its two uses have (nearly)
    the same gradient, the case where forgetting the cross term costs the most (√2)."""
    tied = keras.layers.Dense(8, kernel_initializer=keras.initializers.Identity())
    return keras.Sequential([
        keras.Input((8,)), tied, tied,
        keras.layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(seed=2))])


def test_tied_layer_is_routed_to_vectorized_and_each_example_stays_within_c():
    """Attack (issue 9, point 2): a layer used twice. Per-layer ghost norms add ‖∇_{use 1}‖²
    + ‖∇_{use 2}‖² and miss the cross term 2⟨∇_{use 1}, ∇_{use 2}⟩ of ‖∇_W L_i‖², so they
    under-estimate the norm and one example's clipped contribution exceeds C (by up to √2
    for two uses). Each example alone, as a lot of one: ‖Σ ḡ‖ ≤ C."""
    model = _tied_model()
    supported, reason = ghost_norms_supported(model)
    assert not supported and "more than once" in reason
    x = tf.constant(3 * RNG.normal(size=(20, 8)).astype(np.float32))
    y = tf.constant(RNG.integers(0, 2, 20).astype(np.int32))
    fast_sum = tf.function(lambda x, y: clipped_gradient_sum_fast(model, x, y, clip_norm=1.0))
    for i in range(20):
        fast = fast_sum(x[i:i + 1], y[i:i + 1])
        contribution = float(tf.linalg.global_norm(fast.gradient_sum))
        assert contribution <= 1.0 * (1 + 1e-5), (i, contribution)
    fast = fast_sum(x, y)
    vectorized = clipped_gradient_sum_vectorized(model, x, y, clip_norm=1.0)
    np.testing.assert_allclose(fast.norms, vectorized.norms, rtol=1e-5)
    for f, v in zip(fast.gradient_sum, vectorized.gradient_sum):
        np.testing.assert_allclose(f, v, rtol=1e-5, atol=1e-6)


def test_variable_shared_between_two_layers_is_not_supported():
    """Two Dense layers holding the same kernel variable (tied weights by hand): the same
    missing cross term, so the vectorized path."""
    first, second = keras.layers.Dense(4), keras.layers.Dense(4)
    model = keras.Sequential([keras.Input((4,)), first, second])
    second._tracker.unlock()  # Keras locks a built layer's state; tie the kernels anyway
    second._kernel = first._kernel
    second._tracker.lock()
    supported, reason = ghost_norms_supported(model)
    assert not supported and "shared" in reason and first.kernel.path in reason
    with pytest.raises(ValueError, match="not supported by ghost norms"):
        per_example_norms_fast(model, tf.ones([2, 4]), tf.constant([0, 1]))
