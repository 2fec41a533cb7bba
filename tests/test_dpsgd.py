"""DP-SGD phases (fldp_teach.dpsgd) against closed forms, invariants and noise statistics."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from fldp_teach import dpsgd, models
from fldp_teach.clipping import clip_per_example
from fldp_teach.dpsgd import (
    add_noise,
    clip_factors,
    clip_gradients,
    clipped_gradient_sum_vectorized,
    dp_gradient,
    normalize,
    per_example_gradients,
    per_example_global_norms,
    per_example_loss,
    sum_gradients,
)

RNG = np.random.default_rng(1234)


def _logistic_batch(num_classes=3, dim=4, batch=5, seed=0):
    model = models.logistic_regression(dim, num_classes=num_classes, seed=seed)
    x = RNG.normal(size=(batch, dim)).astype(np.float32)
    y = RNG.integers(0, num_classes, batch).astype(np.int32)
    return model, x, y


def test_per_example_loss_is_keras_sparse_cross_entropy():
    logits = RNG.normal(size=(6, 4)).astype(np.float32)
    y = np.array([0, 3, 1, 2, 2, 0])
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    np.testing.assert_allclose(per_example_loss(y, logits), keras_loss(y, logits), rtol=1e-6)
    # and by hand: −log softmax(logits)[y]
    by_hand = -(logits[np.arange(6), y] - np.log(np.exp(logits).sum(axis=1)))
    np.testing.assert_allclose(per_example_loss(y, logits), by_hand, rtol=1e-5)


def test_per_example_gradients_of_logistic_model_match_closed_form():
    """∇_W L_i = x_i ⊗ (softmax(x_i W + b) − onehot(y_i)), ∇_b L_i = softmax − onehot."""
    model, x, y = _logistic_batch()
    kernel, bias = (v.numpy().astype(np.float64) for v in model.trainable_variables)
    logits = x.astype(np.float64) @ kernel + bias
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    residual = p - np.eye(3)[y]
    grads, losses, out_logits = per_example_gradients(model, tf.constant(x), tf.constant(y))
    np.testing.assert_allclose(grads[0], np.einsum("bi,bo->bio", x, residual), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(grads[1], residual, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses, -np.log(p[np.arange(5), y]), rtol=1e-5)
    np.testing.assert_allclose(out_logits, logits, rtol=1e-5, atol=1e-6)


def test_per_example_gradients_average_to_the_batch_gradient():
    model = models.mlp(6, num_classes=3, hidden_units=(5,), seed=1)
    x = tf.constant(RNG.normal(size=(7, 6)).astype(np.float32))
    y = tf.constant(RNG.integers(0, 3, 7).astype(np.int32))
    grads, _, _ = per_example_gradients(model, x, y)
    with tf.GradientTape() as tape:
        mean_loss = tf.reduce_mean(per_example_loss(y, model(x)))
    batch = tape.gradient(mean_loss, model.trainable_variables)
    for g, b in zip(grads, batch):
        np.testing.assert_allclose(tf.reduce_mean(g, axis=0), b, rtol=1e-5, atol=1e-7)


def test_global_norm_concatenates_all_layers():
    grads = [tf.constant([[[3.0]], [[0.0]]]), tf.constant([[4.0, 0.0], [0.0, 0.0]])]
    np.testing.assert_allclose(per_example_global_norms(grads), [5.0, 0.0])


def test_clip_gradients_is_clipping_module_and_bounds_norms():
    grads = [tf.constant(RNG.normal(size=(8, 3, 2)).astype(np.float32)),
             tf.constant(RNG.normal(size=(8, 2)).astype(np.float32))]
    grads[0] = tf.concat([grads[0][:7], tf.zeros([1, 3, 2])], axis=0)  # example 8: g = 0 ...
    grads[1] = tf.concat([grads[1][:7], tf.zeros([1, 2])], axis=0)   # ... in every layer
    clipped, norms = clip_gradients(grads, clip_norm=1e-3)
    reference, ref_norms = clip_per_example(grads, clip_norm=1e-3)
    for c, r in zip(clipped, reference):
        np.testing.assert_allclose(c, r)
    np.testing.assert_allclose(norms, ref_norms)
    new_norms = per_example_global_norms(clipped).numpy()
    # C tiny: every non-zero gradient ends with norm exactly C, direction unchanged
    np.testing.assert_allclose(new_norms[:7], 1e-3, rtol=1e-5)
    assert new_norms[7] == 0.0
    np.testing.assert_allclose(clipped[1][:7] / new_norms[:7, None],
                               grads[1][:7] / norms[:7, None], rtol=1e-4)
    # C larger than every norm: nothing changes
    unclipped, _ = clip_gradients(grads, clip_norm=float(norms.numpy().max()) * 1.01)
    for u, g in zip(unclipped, grads):
        np.testing.assert_array_equal(u, g)


def test_clip_factors_closed_form():
    norms = tf.constant([0.0, 0.5, 2.0, 8.0])
    np.testing.assert_allclose(clip_factors(norms, clip_norm=2.0), [1.0, 1.0, 1.0, 0.25])
    np.testing.assert_allclose(clip_factors(norms, clip_norm=math.inf), [1, 1, 1, 1])


def test_sum_and_normalize():
    clipped = [tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])]
    summed = sum_gradients(clipped)
    np.testing.assert_allclose(summed[0], [9.0, 12.0])
    np.testing.assert_allclose(normalize(summed, denominator=4.0)[0], [2.25, 3.0])


def test_noise_std_is_z_times_c_over_denominator():
    """Statistical test at a fixed seed: the noise of g̃ has std zC/B and mean 0.

    n = 400 000 draws: the sample std has relative standard error 1/sqrt(2n) ≈ 0.11 %, the
    mean has standard error σ/sqrt(n); we allow 5 standard errors."""
    z, c, b, n = 1.3, 0.7, 32.0, 400_000
    zero_sum = [tf.zeros([n // 4, 4])]
    noisy = normalize(add_noise(zero_sum, clip_norm=c, noise_multiplier=z,
                                generator=tf.random.Generator.from_seed(7)), denominator=b)
    sample = noisy[0].numpy().ravel().astype(np.float64)
    expected = z * c / b
    assert abs(sample.std() / expected - 1) < 5 / math.sqrt(2 * n)
    assert abs(sample.mean()) < 5 * expected / math.sqrt(n)
    # same seed, same noise; z = 0 adds nothing (even with C = inf)
    again = add_noise(zero_sum, clip_norm=c, noise_multiplier=z,
                      generator=tf.random.Generator.from_seed(7))
    np.testing.assert_array_equal(again[0].numpy().ravel() / b, sample.astype(np.float32))
    ones = [tf.ones([3])]
    assert add_noise(ones, clip_norm=math.inf, noise_multiplier=0.0, generator=None)[0] is ones[0]


def test_noise_stream_is_the_same_for_static_and_dynamic_shapes():
    """add_noise draws with the sum's static shape when it is known (the draw then need not
    wait for the sum). The numbers must be those of a draw with the run-time shape: every
    seeded figure of the course comes from this stream."""
    sums = [tf.zeros([30, 64]), tf.zeros([64]), tf.zeros([64, 2]), tf.zeros([2])]
    specs = [tf.TensorSpec([None] * len(s.shape), tf.float32) for s in sums]

    def noise(signature):
        generator = tf.random.Generator.from_seed(11)
        draw = tf.function(lambda *s: add_noise(list(s), clip_norm=0.5, noise_multiplier=1.1,
                                                generator=generator), input_signature=signature)
        return [draw(*sums) for _ in range(3)]

    static, dynamic = noise([tf.TensorSpec(s.shape, tf.float32) for s in sums]), noise(specs)
    for step_static, step_dynamic in zip(static, dynamic):
        for a, b in zip(step_static, step_dynamic):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(static[0][0], static[1][0])


def test_dp_gradient_without_noise_or_clipping_is_the_mean_gradient():
    model, x, y = _logistic_batch(batch=6)
    noisy, _ = dp_gradient(model, tf.constant(x), tf.constant(y), clip_norm=math.inf,
                           noise_multiplier=0.0, denominator=6.0, generator=None)
    with tf.GradientTape() as tape:
        mean_loss = tf.reduce_mean(per_example_loss(y, model(x)))
    for got, want in zip(noisy, tape.gradient(mean_loss, model.trainable_variables)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_dp_gradient_fast_and_vectorized_agree_with_noise_at_same_seed():
    model = models.small_cnn(seed=3)
    x = tf.constant(RNG.normal(size=(9, 8, 8, 1)).astype(np.float32))
    y = tf.constant(RNG.integers(0, 10, 9).astype(np.int32))
    out = {}
    for method in ("vectorized", "fast"):
        out[method], _ = dp_gradient(model, x, y, clip_norm=0.5, noise_multiplier=1.1,
                                     denominator=9.0, method=method,
                                     generator=tf.random.Generator.from_seed(5))
    for v, f in zip(out["vectorized"], out["fast"]):
        np.testing.assert_allclose(f, v, rtol=1e-5, atol=1e-6)


def test_empty_lot_gives_zero_gradient():
    model, _, _ = _logistic_batch()
    result = tf.function(lambda x, y: clipped_gradient_sum_vectorized(model, x, y,
                                                                      clip_norm=1.0))(
        tf.zeros([0, 4]), tf.zeros([0], tf.int32))
    for g, v in zip(result.gradient_sum, model.trainable_variables):
        np.testing.assert_array_equal(g, np.zeros(v.shape))
    assert result.norms.shape[0] == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(clip_norm=0.0), "clip_norm must be > 0, got 0.0"),
    (dict(clip_norm=-1.0), "clip_norm must be > 0, got -1.0"),
    (dict(clip_norm=float("nan")), "clip_norm"),
    (dict(noise_multiplier=-0.5), "noise_multiplier must be >= 0, got -0.5"),
    (dict(method="ghost"), "method must be 'fast' or 'vectorized', got 'ghost'"),
])
def test_dp_gradient_rejects_bad_parameters(kwargs, message):
    model, x, y = _logistic_batch()
    args = dict(clip_norm=1.0, noise_multiplier=1.0, denominator=5.0,
                generator=tf.random.Generator.from_seed(0)) | kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        dp_gradient(model, x, y, **args)


@pytest.mark.parametrize("method", ["fast", "vectorized"])
def test_dp_gradient_noise_std_end_to_end(method):
    """g̃(z) − g̃(z = 0) on the same lot is the noise alone: std zC/B on each of the ~34 000
    coordinates of an MLP (5 relative standard errors 5/sqrt(2n) ≈ 1.9 %)."""
    model = models.mlp(30, num_classes=2, hidden_units=(1024,), seed=0)
    x = tf.constant(RNG.normal(size=(8, 30)).astype(np.float32))
    y = tf.constant(RNG.integers(0, 2, 8).astype(np.int32))
    z, c, b = 0.8, 0.25, 8.0
    noisy, _ = dp_gradient(model, x, y, clip_norm=c, noise_multiplier=z, denominator=b,
                           generator=tf.random.Generator.from_seed(3), method=method)
    clean, _ = dp_gradient(model, x, y, clip_norm=c, noise_multiplier=0.0, denominator=b,
                           generator=None, method=method)
    noise = np.concatenate([(n - k).numpy().ravel() for n, k in zip(noisy, clean)])
    assert abs(noise.std() / (z * c / b) - 1) < 5 / math.sqrt(2 * noise.size)


def test_default_noise_batches_only_small_models_without_a_noise_seed():
    """Batched noise (NoiseBuffer) amortises a draw's fixed cost over many steps; it is the
    default only when at least 8 steps fit in its 2²² floats, i.e. P ≤ 2¹⁹."""
    def variables(size):
        return [tf.Variable(tf.zeros([size]))]

    assert dpsgd.default_noise(variables(2114), noise_seed=None) == "batched"
    assert dpsgd.default_noise(variables(2 ** 19), noise_seed=None) == "batched"
    assert dpsgd.default_noise(variables(2 ** 19 + 1), noise_seed=None) == "per_variable"
    assert dpsgd.default_noise(variables(62), noise_seed=0) == "per_variable"  # seeded: the course's stream
    split = [tf.Variable(tf.zeros([2 ** 18, 2])), tf.Variable(tf.zeros([1]))]  # P = 2¹⁹ + 1 in two
    assert dpsgd.default_noise(split, noise_seed=None) == "per_variable"
