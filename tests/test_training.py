"""The DP-SGD loop (fldp_teach.training): equivalences, sampling, ledger, accuracy, errors."""
import math

import numpy as np
import pytest
import tensorflow as tf

from fldp_teach import accounting, models
from fldp_teach.datasets import load_breast_cancer
from fldp_teach.dpsgd import make_dp_train_step, make_sgd_train_step
from fldp_teach.training import (
    poisson_lot,
    shuffled_batches,
    train_dp_sgd,
    train_sgd,
)

RNG = np.random.default_rng(7)


def _toy(n=40, dim=5, num_classes=3):
    x = RNG.normal(size=(n, dim)).astype(np.float32)
    y = RNG.integers(0, num_classes, n).astype(np.int32)
    return x, y


@pytest.mark.parametrize("method", ["fast", "vectorized"])
def test_dp_step_without_noise_or_clipping_is_an_sgd_step(method):
    x, y = _toy(n=16)
    plain, private = (models.mlp(5, num_classes=3, hidden_units=(4,), seed=1) for _ in "ab")
    sgd = make_sgd_train_step(plain, tf.keras.optimizers.SGD(learning_rate=0.3))
    dp = make_dp_train_step(private, tf.keras.optimizers.SGD(learning_rate=0.3),
                            clip_norm=math.inf, noise_multiplier=0.0, method=method,
                            generator=tf.random.Generator.from_seed(0))
    for _ in range(2):
        m_sgd = sgd(x, y, tf.constant(16.0))
        m_dp = dp(x, y, tf.constant(16.0))  # denominator = B = the lot size
    np.testing.assert_allclose(m_dp, m_sgd, rtol=1e-5)
    for a, b in zip(private.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_private_loop_with_zero_noise_and_no_clipping_is_the_sgd_loop():
    x, y = _toy()
    m1, m2 = (models.logistic_regression(5, num_classes=3, seed=2) for _ in "ab")
    h1 = train_dp_sgd(m1, x, y, epochs=2, batch_size=8, learning_rate=0.5, clip_norm=math.inf,
                      noise_multiplier=0.0, delta=1e-5, sampling="shuffle", seed=3,
                      noise_seed=3, progress=False)  # private lots follow noise_seed: same stream as seed=3
    h2 = train_sgd(m2, x, y, epochs=2, batch_size=8, learning_rate=0.5, seed=3,
                   progress=False)
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h1.loss, h2.loss, rtol=1e-5)
    assert h1.epsilon == (math.inf, math.inf) and h2.method == "non-private"


def test_poisson_lot_sizes_are_binomial():
    """Lot size ~ Binomial(N, q): over 400 lots the mean is within 5 standard errors of qN,
    every example is drawn at rate q, q = 0 gives empty lots and q = 1 everything."""
    gen = tf.random.Generator.from_seed(11)
    n, q, draws = 500, 0.04, 400
    lots = [poisson_lot(gen, num_examples=n, sampling_rate=q).numpy() for _ in range(draws)]
    sizes = np.array([len(lot) for lot in lots])
    assert abs(sizes.mean() - q * n) < 5 * math.sqrt(n * q * (1 - q) / draws)
    assert abs(sizes.var() / (n * q * (1 - q)) - 1) < 0.25
    counts = np.bincount(np.concatenate(lots), minlength=n)
    assert abs(counts.mean() / draws - q) < 0.002
    assert all(len(np.unique(lot)) == len(lot) for lot in lots)
    assert len(poisson_lot(gen, num_examples=n, sampling_rate=0.0)) == 0
    np.testing.assert_array_equal(poisson_lot(gen, num_examples=n, sampling_rate=1.0),
                                  np.arange(n))


def test_shuffled_batches_partition_the_data():
    batches = shuffled_batches(tf.random.Generator.from_seed(1), num_examples=23, batch_size=5)
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(23))


@pytest.mark.parametrize("sampling", ["poisson", "shuffle"])
def test_history_and_ledger_match_the_accountant(sampling):
    x, y = _toy(n=30)
    model = models.logistic_regression(5, num_classes=3, seed=0)
    h = train_dp_sgd(model, x, y, epochs=3, batch_size=10, learning_rate=0.1, clip_norm=1.0,
                     noise_multiplier=1.5, delta=1e-5, sampling=sampling, seed=0,
                     x_val=x[:7], y_val=y[:7], progress=False)
    assert h.epochs == 3 and h.steps == 9 and len(h.ledger) == 3
    assert h.ledger[2].label == "DP-SGD epoch 3"
    assert type(h.ledger[0].event).__name__ == {"poisson": "SampledGaussian",
                                               "shuffle": "ShuffledGaussian"}[sampling]
    assert all(np.isfinite(h.val_accuracy)) and all(t > 0 for t in h.step_time)
    for e in range(1, 4):
        if sampling == "poisson":
            want = accounting.dp_sgd_epsilon(sampling_rate=1 / 3, noise_multiplier=1.5,
                                             steps=3 * e, delta=1e-5)
        else:  # e full-data Gaussian mechanisms, no amplification
            want = accounting.RdpAccountant().compose(accounting.ShuffledGaussian(
                1.5, 10, 30, e)).epsilon(delta=1e-5)
        assert h.epsilon[e - 1] == pytest.approx(want, rel=1e-9)
    assert h.epsilon[0] < h.epsilon[1] < h.epsilon[2]


def test_poisson_training_survives_empty_lots():
    x, y = _toy(n=20)  # q = 1/20: a lot is empty with probability 0.95**20 ≈ 0.36
    model = models.logistic_regression(5, num_classes=3, seed=0)
    h = train_dp_sgd(model, x, y, epochs=2, batch_size=1, learning_rate=0.1, clip_norm=1.0,
                     noise_multiplier=1.0, delta=1e-5, seed=0, progress=True)
    assert h.steps == 40 and all(np.isfinite(w).all() for w in model.get_weights())


def test_fast_and_vectorized_loops_agree_on_a_cnn_with_empty_lots():
    """Same seed, same lots, same noise: the two DP methods train the small CNN to the same
    weights. N = 16, B = 1: a Poisson lot is empty with probability (15/16)^16 ≈ 0.36, and the
    non-private loop on the same lots must survive them too."""
    x = RNG.normal(size=(16, 8, 8, 1)).astype(np.float32)
    y = RNG.integers(0, 10, 16).astype(np.int32)
    from fldp_teach import randomness

    lot_generator = randomness.tf_generator(randomness.derive(1, 1))  # as train_dp_sgd(noise_seed=1) does
    sizes = [len(poisson_lot(lot_generator, num_examples=16, sampling_rate=1 / 16))
             for _ in range(16)]
    assert 0 in sizes  # the run below does meet empty lots
    trained = {}
    for method in ("fast", "vectorized"):
        model = models.small_cnn(seed=0)
        h = train_dp_sgd(model, x, y, epochs=1, batch_size=1, learning_rate=0.1,
                         clip_norm=0.5, noise_multiplier=1.0, delta=1e-5, method=method,
                         seed=1, noise_seed=1, progress=False)
        assert h.method == method
        trained[method] = model.get_weights()
    for f, v in zip(trained["fast"], trained["vectorized"]):
        np.testing.assert_allclose(f, v, rtol=1e-4, atol=1e-6)
    plain = models.small_cnn(seed=0)
    train_sgd(plain, x, y, epochs=1, batch_size=1, learning_rate=0.1, sampling="poisson",
              seed=1, progress=False)
    assert all(np.isfinite(w).all() for w in plain.get_weights())


@pytest.mark.parametrize("sampling", ["poisson", "shuffle"])
def test_target_epsilon_is_reached(sampling):
    x, y = _toy(n=50)
    model = models.logistic_regression(5, num_classes=3, seed=0)
    h = train_dp_sgd(model, x, y, epochs=2, batch_size=10, learning_rate=0.1, clip_norm=1.0,
                     target_epsilon=2.0, delta=1e-5, sampling=sampling, seed=0,
                     progress=False)
    assert 2.0 * 0.99 <= h.epsilon[-1] <= 2.0


def test_breast_cancer_accuracy_private_and_not():
    """ε = 1, δ = 1e-5 (Poisson sampling, z calibrated): ≥ 90 % test accuracy; without
    privacy ≥ 95 %. Logistic regression, B = 64, η = 0.5, C = 1, 5 epochs, all seeds 0."""
    data = load_breast_cancer(seed=0)
    kwargs = dict(epochs=5, batch_size=64, learning_rate=0.5, x_val=data.x_test,
                  y_val=data.y_test, seed=0, progress=False)
    private = train_dp_sgd(models.logistic_regression(30, num_classes=2, seed=0),
                           data.x_train, data.y_train, clip_norm=1.0, target_epsilon=1.0,
                           delta=1e-5, **kwargs)
    assert private.epsilon[-1] <= 1.0 and private.method == "fast"
    assert private.val_accuracy[-1] >= 0.90
    plain = train_sgd(models.logistic_regression(30, num_classes=2, seed=0), data.x_train,
                      data.y_train, **kwargs)
    assert plain.val_accuracy[-1] >= 0.95


GOOD = dict(epochs=1, batch_size=4, learning_rate=0.1, clip_norm=1.0, noise_multiplier=1.0,
            delta=1e-5, progress=False)


@pytest.mark.parametrize("change, message", [
    (dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
    (dict(batch_size=-3), "batch_size must be an integer >= 1, got -3"),
    (dict(batch_size=41), "batch_size must be <= the number of examples (40), got 41"),
    (dict(epochs=0), "epochs must be an integer >= 1, got 0"),
    (dict(learning_rate=0.0), "learning_rate must be > 0, got 0.0"),
    (dict(clip_norm=0.0), "clip_norm must be > 0, got 0.0"),
    (dict(clip_norm=-1.0), "clip_norm must be > 0, got -1.0"),
    (dict(clip_norm=math.inf), "clip_norm must be finite when noise_multiplier > 0"),
    (dict(noise_multiplier=-0.1), "noise_multiplier must be >= 0, got -0.1"),
    (dict(noise_multiplier=float("nan")), "noise_multiplier must be a number, got nan"),
    (dict(delta=0.0), "delta must be in (0, 1), got 0.0"),
    (dict(delta=1.5), "delta must be in (0, 1), got 1.5"),
    (dict(sampling="bootstrap"), "sampling must be 'poisson' or 'shuffle', got 'bootstrap'"),
    (dict(method="ghost"), "method must be 'fast' or 'vectorized', got 'ghost'"),
    (dict(optimizer="rmsprop"), "optimizer must be 'sgd', 'adam' or a keras optimizer"),
    (dict(target_epsilon=1.0), "give noise_multiplier or target_epsilon, not both"),
    (dict(noise_multiplier=None, target_epsilon=-1.0), "target_epsilon must be > 0, got -1.0"),
])
def test_bad_parameters_are_named(change, message):
    x, y = _toy()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        train_dp_sgd(models.logistic_regression(5, num_classes=3), x, y, **(GOOD | change))


def _bad_data():
    x, y = _toy()
    nan_x, inf_x = x.copy(), x.copy()
    nan_x[3, 2], inf_x[0, 0] = np.nan, np.inf
    return [
        (x[:0], y[:0], "x must contain at least one example"),
        (x, np.where(np.arange(40) == 5, 3, y), "y labels must be in \\[0, 2\\], got 3 at index 5"),
        (x, np.where(np.arange(40) == 1, -1, y), "y labels must be in \\[0, 2\\], got -1 at index 1"),
        (nan_x, y, "x must be finite, got nan at index \\(3, 2\\)"),
        (inf_x, y, "x must be finite, got inf at index \\(0, 0\\)"),
        (x, y[:39], "x and y must have the same number of examples, got 40 and 39"),
        (x[:, :4], y, "x must have shape \\(num_examples, 5\\) to fit the model, got \\(40, 4\\)"),
    ]


@pytest.mark.parametrize("x, y, message", _bad_data())
def test_bad_data_is_named(x, y, message):
    with pytest.raises(ValueError, match=message):
        train_dp_sgd(models.logistic_regression(5, num_classes=3), x, y, **GOOD)


def test_bad_validation_data_and_sampling_rate_are_named():
    x, y = _toy()
    with pytest.raises(ValueError, match="x_val and y_val must be given together"):
        train_dp_sgd(models.logistic_regression(5, num_classes=3), x, y, x_val=x, **GOOD)
    bad_val = x[:5].copy()
    bad_val[0, 0] = np.nan
    with pytest.raises(ValueError, match="x_val must be finite"):
        train_dp_sgd(models.logistic_regression(5, num_classes=3), x, y, x_val=bad_val,
                     y_val=y[:5], **GOOD)
    gen = tf.random.Generator.from_seed(0)
    for q in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="sampling_rate"):
            poisson_lot(gen, num_examples=10, sampling_rate=q)


def test_unseeded_training_draws_batched_noise_of_std_z_c_over_b_per_step():
    """Without a noise seed train_dp_sgd draws the noise of many steps at once (NoiseBuffer).
    With every gradient clipped away (C tiny against the noise), each of 3 steps moves θ by
    −η·noise_t/B, independent N(0, (ηzC/B)²) per coordinate: after 3 steps the std is
    √3·ηzC/B, and the three steps' moves are uncorrelated (no buffer row used twice)."""
    x, y = _toy(n=100)
    model = models.mlp(5, num_classes=3, hidden_units=(64,), seed=1)
    moves, weights = [], np.concatenate([w.ravel() for w in model.get_weights()])
    for _ in range(3):
        history = train_dp_sgd(model, x, y, epochs=1, batch_size=100, learning_rate=1.0,
                               clip_norm=1e-3, noise_multiplier=1000.0, delta=1e-5,
                               progress=False, optimizer="sgd")
        assert history.noise == "batched" and history.noise_seed is None
        now = np.concatenate([w.ravel() for w in model.get_weights()])
        moves.append(now - weights)
        weights = now
    expected = 1.0 * 1000.0 * 1e-3 / 100
    for move in moves:
        assert abs(move.std() / expected - 1) < 5 / math.sqrt(2 * move.size) + 2e-3
    assert abs(np.corrcoef(moves[0], moves[1])[0, 1]) < 5 / math.sqrt(moves[0].size)
    seeded = train_dp_sgd(model, x, y, epochs=1, batch_size=100, learning_rate=1.0, clip_norm=1e-3,
                          noise_multiplier=1000.0, delta=1e-5, progress=False, noise_seed=0)
    assert seeded.noise == "per_variable"  # the stream the course's seeded figures come from


def test_make_dp_train_step_batched_noise_has_std_z_c_and_refuses_unknown_modes():
    x, y = _toy(n=10)
    model = models.mlp(5, num_classes=3, hidden_units=(64,), seed=1)
    step = make_dp_train_step(model, tf.keras.optimizers.SGD(learning_rate=1.0), clip_norm=1e-3,
                              noise_multiplier=1000.0, generator=tf.random.Generator.from_seed(0),
                              noise="batched")
    assert step.noise_buffer is not None and step.noise_buffer.rows == 64
    before = np.concatenate([w.ravel() for w in model.get_weights()])
    step(x, y, tf.constant(10.0))
    moved = np.concatenate([w.ravel() for w in model.get_weights()]) - before
    assert abs(moved.std() / (1000.0 * 1e-3 / 10) - 1) < 5 / math.sqrt(2 * moved.size) + 2e-3
    with pytest.raises(ValueError, match="noise must be 'per_variable' or 'batched', got 'fused'"):
        make_dp_train_step(model, tf.keras.optimizers.SGD(), clip_norm=1.0, noise_multiplier=1.0,
                           generator=tf.random.Generator.from_seed(0), noise="fused")
