"""Tests of fldp_teach.clipping: invariants (‖clip(v)‖ ≤ C, 0 stays 0, inside unchanged),
hand-computed values, numpy/TF agreement, tf.function, adaptive clipping by hand."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fldp_teach import clipping as Cl

tf = pytest.importorskip("tensorflow")

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def _np(xs):
    return [np.asarray(x) for x in xs] if isinstance(xs, list) else np.asarray(xs)


# ----------------------------------------------------------------------------- global norm and clip
def test_global_norm_by_hand():
    assert Cl.global_l2_norm([np.array([3.0]), np.array([[4.0, 0.0]])]) == 5.0
    assert float(Cl.global_l2_norm([tf.constant([3.0]), tf.constant([[4.0, 0.0]])])) == pytest.approx(5.0)
    assert Cl.global_l2_norm(np.array([1.0, 2.0, 2.0])) == 3.0


def test_clip_by_hand():
    clipped, norm = Cl.clip_by_l2_norm([np.array([3.0]), np.array([4.0])], clip_norm=1.0)
    assert norm == 5.0
    np.testing.assert_allclose(np.concatenate(clipped), [0.6, 0.8])


@settings(max_examples=60, deadline=None)
@given(v=arrays(np.float64, st.integers(1, 20), elements=finite), c=st.floats(1e-3, 1e3))
def test_clip_norm_at_most_c_and_direction_kept(v, c):
    clipped, norm = Cl.clip_by_l2_norm(v, clip_norm=c)
    assert np.linalg.norm(clipped) <= c * (1 + 1e-6)
    if norm <= c:
        np.testing.assert_array_equal(clipped, v)  # already inside: unchanged
    else:
        np.testing.assert_allclose(clipped, v * (c / norm), rtol=1e-12)
        assert np.linalg.norm(clipped) == pytest.approx(c, rel=1e-9)


@pytest.mark.parametrize("make", [np.zeros, tf.zeros])
def test_zero_stays_zero(make):
    clipped, norm = Cl.clip_by_l2_norm([make(3), make((2, 2))], clip_norm=1.0)
    assert float(norm) == 0.0
    for t in clipped:
        assert np.all(np.asarray(t) == 0.0) and not np.any(np.isnan(np.asarray(t)))


@pytest.mark.parametrize("make", [np.ones, tf.ones])
def test_infinite_clip_norm_is_identity(make):
    clipped, _ = Cl.clip_by_l2_norm([make(3) * 1e5], clip_norm=math.inf)
    np.testing.assert_array_equal(np.asarray(clipped[0]), np.full(3, 1e5))


def test_numpy_and_tf_agree():
    rng = np.random.default_rng(0)
    layers = [rng.normal(size=(4, 3)), rng.normal(size=(3,))]
    for c in [0.1, 1.0, 100.0]:
        a, na = Cl.clip_by_l2_norm(layers, clip_norm=c)
        b, nb = Cl.clip_by_l2_norm([tf.constant(x) for x in layers], clip_norm=c)
        assert float(nb) == pytest.approx(na, rel=1e-12)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y.numpy(), rtol=1e-12)


def test_clip_inside_tf_function_with_tensor_clip_norm():
    @tf.function
    def clip(v, c):
        return Cl.clip_by_l2_norm([v], clip_norm=c)

    out, norm = clip(tf.constant([3.0, 4.0]), tf.constant(1.0))
    np.testing.assert_allclose(out[0].numpy(), [0.6, 0.8], rtol=1e-6)
    out, _ = clip(tf.constant([0.3, 0.4]), tf.constant(1.0))  # inside: unchanged
    np.testing.assert_allclose(out[0].numpy(), [0.3, 0.4], rtol=1e-7)


def test_clip_keeps_float32():
    out, _ = Cl.clip_by_l2_norm(np.ones(3, dtype=np.float32) * 10, clip_norm=1.0)
    assert out.dtype == np.float32


# ----------------------------------------------------------------------------- per example
@pytest.mark.parametrize("backend", ["numpy", "tf"])
def test_per_example_clips_each_example_independently(backend):
    # example 0: norm 5 (clipped to 1); example 1: norm 0.5 (kept); example 2: zero
    w = np.array([[3.0, 0.0], [0.3, 0.0], [0.0, 0.0]])
    b = np.array([4.0, 0.4, 0.0])
    inputs = [w, b] if backend == "numpy" else [tf.constant(w), tf.constant(b)]
    (cw, cb), norms = Cl.clip_per_example(inputs, clip_norm=1.0)
    np.testing.assert_allclose(np.asarray(norms), [5.0, 0.5, 0.0])
    np.testing.assert_allclose(np.asarray(cw), [[0.6, 0.0], [0.3, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(np.asarray(cb), [0.8, 0.4, 0.0])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), batch=st.integers(1, 6), c=st.floats(0.01, 10.0))
def test_per_example_matches_clipping_each_example_alone(seed, batch, c):
    rng = np.random.default_rng(seed)
    layers = [rng.normal(size=(batch, 3, 2)) * 3, rng.normal(size=(batch,))]
    clipped, norms = Cl.clip_per_example(layers, clip_norm=c)
    for i in range(batch):
        alone, n_i = Cl.clip_by_l2_norm([t[i] for t in layers], clip_norm=c)
        assert norms[i] == pytest.approx(n_i, rel=1e-12)
        for x, y in zip(clipped, alone):
            np.testing.assert_allclose(x[i], y, rtol=1e-12, atol=1e-300)
        assert math.sqrt(sum(np.sum(t[i] ** 2) for t in clipped)) <= c * (1 + 1e-6)


def test_per_example_numpy_tf_and_tf_function_agree():
    rng = np.random.default_rng(1)
    layers = [rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(5, 2, 2)).astype(np.float32)]
    a, na = Cl.clip_per_example(layers, clip_norm=0.7)
    b, nb = tf.function(lambda xs: Cl.clip_per_example(xs, clip_norm=0.7))([tf.constant(x) for x in layers])
    np.testing.assert_allclose(na, nb.numpy(), rtol=1e-5)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y.numpy(), rtol=1e-5, atol=1e-7)


def test_per_example_batch_mismatch_raises():
    with pytest.raises(ValueError, match="per_example_tensors"):
        Cl.clip_per_example([np.ones((3, 2)), np.ones((4,))], clip_norm=1.0)
    with pytest.raises(ValueError, match="per_example_tensors"):
        Cl.clip_per_example([tf.ones((3, 2)), tf.ones((4,))], clip_norm=1.0)


# ----------------------------------------------------------------------------- per layer
def test_per_layer_with_list_and_with_split_total():
    layers = [np.array([3.0, 4.0]), np.array([0.1]), np.array([10.0])]
    clipped, norms = Cl.clip_per_layer(layers, clip_norms=[1.0, 1.0, 2.0])
    assert norms == [5.0, 0.1, 10.0]
    np.testing.assert_allclose(np.concatenate(clipped), [0.6, 0.8, 0.1, 2.0])
    clipped, _ = Cl.clip_per_layer(layers, clip_norms=3.0)  # C/sqrt(3) per layer
    for t in clipped:
        assert np.linalg.norm(t) <= 3.0 / math.sqrt(3) * (1 + 1e-12)
    assert Cl.global_l2_norm(clipped) <= 3.0 * (1 + 1e-12)
    # all layers large: overall norm is exactly C
    big = [np.full(4, 100.0), np.full(2, -50.0)]
    assert Cl.global_l2_norm(Cl.clip_per_layer(big, clip_norms=2.0)[0]) == pytest.approx(2.0)


def test_per_layer_tf():
    clipped, _ = Cl.clip_per_layer([tf.constant([3.0, 4.0]), tf.constant([0.1])], clip_norms=[1.0, 1.0])
    np.testing.assert_allclose(clipped[0].numpy(), [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(clipped[1].numpy(), [0.1], rtol=1e-6)


# ----------------------------------------------------------------------------- adaptive clipping
def test_adaptive_update_by_hand_without_noise():
    norms = np.arange(10.0)  # 0..9: six of ten are <= 5
    new, frac = Cl.adaptive_clip_norm_update(norms, clip_norm=5.0, target_quantile=0.5, learning_rate=0.2,
                                             count_stddev=0.0)
    assert frac == pytest.approx(0.6)
    assert new == pytest.approx(5.0 * math.exp(-0.2 * 0.1))  # too many fit: C shrinks
    new_tf, frac_tf = Cl.adaptive_clip_norm_update(tf.constant(norms), clip_norm=5.0, target_quantile=0.5,
                                                   learning_rate=0.2, count_stddev=0.0, seed=0)
    assert float(new_tf) == pytest.approx(new, rel=1e-12) and float(frac_tf) == pytest.approx(0.6)


def test_adaptive_update_centred_with_expected_clients():
    # 3 of 4 fit, m = 5 expected: b̃ = (3 - 2)/5 + 1/2 = 0.7
    _, frac = Cl.adaptive_clip_norm_update([1.0, 1.0, 1.0, 9.0], clip_norm=2.0, target_quantile=0.5,
                                           learning_rate=1.0, count_stddev=0.0, clients_per_round=5)
    assert frac == pytest.approx(0.7)


def test_adaptive_update_noise_on_fraction_has_stddev_sigma_b_over_m():
    norms = np.linspace(0, 2, 50)
    fracs = np.array([Cl.adaptive_clip_norm_update(norms, clip_norm=1.0, target_quantile=0.5, learning_rate=0.1,
                                                   count_stddev=2.0, seed=s)[1] for s in range(2000)])
    assert fracs.mean() == pytest.approx(25 / 50, abs=4 * 0.04 / math.sqrt(2000))
    assert fracs.std() == pytest.approx(2.0 / 50, rel=0.07)
    a = Cl.adaptive_clip_norm_update(norms, clip_norm=1.0, target_quantile=0.5, learning_rate=0.1, count_stddev=2.0, seed=3)
    assert a == Cl.adaptive_clip_norm_update(norms, clip_norm=1.0, target_quantile=0.5, learning_rate=0.1,
                                             count_stddev=2.0, seed=3)


def test_adaptive_clipping_converges_to_the_quantile():
    rng = np.random.default_rng(0)
    c = 0.1
    for t in range(400):
        norms = rng.lognormal(0.0, 0.5, size=200)
        c, _ = Cl.adaptive_clip_norm_update(norms, clip_norm=c, target_quantile=0.8, learning_rate=0.2,
                                            count_stddev=10.0, seed=t)
    true_quantile = math.exp(0.5 * 0.8416212335729143)  # lognormal(0, 0.5) 80% quantile
    assert c == pytest.approx(true_quantile, rel=0.1)


def test_adaptive_noise_multiplier_formula():
    # z = 1, σ_b = 1: z_Δ = (1 - 1/4)^(-1/2) = 2/sqrt(3)
    assert Cl.adaptive_clipping_noise_multiplier(noise_multiplier=1.0, count_stddev=1.0) == pytest.approx(2 / math.sqrt(3))
    assert Cl.adaptive_clipping_noise_multiplier(noise_multiplier=1.0, count_stddev=math.inf) == 1.0
    with pytest.raises(ValueError, match="count_stddev"):
        Cl.adaptive_clipping_noise_multiplier(noise_multiplier=2.0, count_stddev=1.0)


# ----------------------------------------------------------------------------- bias / variance
def test_clipped_mean_bias_variance_by_hand():
    v = np.array([[3.0, 4.0], [0.0, 0.5]])  # first clipped to (0.6, 0.8)
    err = Cl.clipped_mean_bias_variance(v, clip_norm=1.0, noise_multiplier=2.0)
    assert err.bias == pytest.approx(np.linalg.norm([(0.6 - 3.0) / 2, (0.8 - 4.0) / 2]))
    assert err.noise_variance == pytest.approx(2 * (2.0 * 1.0 / 2) ** 2)
    assert err.mse == pytest.approx(err.bias**2 + err.noise_variance)
    assert err.fraction_clipped == 0.5
    none = Cl.clipped_mean_bias_variance(v, clip_norm=math.inf, noise_multiplier=0.0)
    assert none.bias == 0.0 and none.noise_variance == 0.0


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("call, name", [
    (lambda: Cl.clip_by_l2_norm(np.ones(2), clip_norm=0.0), "clip_norm"),
    (lambda: Cl.clip_by_l2_norm(np.ones(2), clip_norm=-1.0), "clip_norm"),
    (lambda: Cl.clip_by_l2_norm(np.ones(2), clip_norm=float("nan")), "clip_norm"),
    (lambda: Cl.clip_by_l2_norm(tf.ones(2), clip_norm=tf.constant(-1.0)), "clip_norm"),
    (lambda: Cl.clip_by_l2_norm([], clip_norm=1.0), "tensors"),
    (lambda: Cl.clip_per_example([np.ones((2, 2))], clip_norm=0), "clip_norm"),
    (lambda: Cl.clip_per_layer([np.ones(2), np.ones(3)], clip_norms=[1.0]), "clip_norms"),
    (lambda: Cl.clip_per_layer([np.ones(2), np.ones(3)], clip_norms=[1.0, -1.0]), r"clip_norms\[1\]"),
    (lambda: Cl.clip_per_layer([np.ones(2)], clip_norms=float("nan")), "clip_norms"),
    (lambda: Cl.adaptive_clip_norm_update([1.0], clip_norm=1, target_quantile=1.5, learning_rate=0.1,
                                          count_stddev=1), "target_quantile"),
    (lambda: Cl.adaptive_clip_norm_update([1.0], clip_norm=1, target_quantile=0.5, learning_rate=-0.1,
                                          count_stddev=1), "learning_rate"),
    (lambda: Cl.adaptive_clip_norm_update([1.0], clip_norm=1, target_quantile=0.5, learning_rate=0.1,
                                          count_stddev=-1), "count_stddev"),
    (lambda: Cl.adaptive_clipping_noise_multiplier(noise_multiplier=0, count_stddev=1), "noise_multiplier"),
    (lambda: Cl.clipped_mean_bias_variance(np.ones(3), clip_norm=1, noise_multiplier=1), "vectors"),
    (lambda: Cl.clipped_mean_bias_variance(np.ones((2, 3)), clip_norm=1, noise_multiplier=-1), "noise_multiplier"),
])
def test_bad_parameters_raise_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
