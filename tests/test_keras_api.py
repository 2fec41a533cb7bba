"""fldp_teach.keras: DP-SGD inside model.fit, checked against train_dp_sgd and the accountant."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from fldp_teach import accounting, models, randomness
from fldp_teach.keras import (
    NoiseBuffer,
    PrivacyCallback,
    PrivateModel,
    check_supported_loss,
    is_poisson_dataset,
    make_private,
    poisson_dataset,
)
from fldp_teach.training import poisson_lot, train_dp_sgd

RNG = np.random.default_rng(12)
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _data(n=120, shape=(5,), num_classes=3, scale=1.0):
    x = (scale * RNG.normal(size=(n, *shape))).astype(np.float32)
    y = RNG.integers(0, num_classes, n).astype(np.int32)
    return x, y


def _tied_model():
    tied = keras.layers.Dense(5, kernel_initializer=keras.initializers.Identity())
    return keras.Sequential([
        keras.Input((5,)), tied, tied,
        keras.layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(seed=2))])


BUILDERS = {
    "logistic": (lambda: models.logistic_regression(5, num_classes=3, seed=2), (5,), 3),
    "mlp": (lambda: models.mlp(5, num_classes=3, hidden_units=(8,), seed=2), (5,), 3),
    "small_cnn": (lambda: models.small_cnn(seed=2), (8, 8, 1), 10),
    "tied": (_tied_model, (5,), 3),  # ghost norms refuse it: the vectorized path, as the library
}


def _private(model, *, n, batch_size=16, **kwargs):
    kwargs = {"clip_norm": 1.0, "noise_multiplier": 1.1, **kwargs}
    private = make_private(model, batch_size=batch_size, num_examples=n, **kwargs)
    private.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3), loss=CE,
                    metrics=["accuracy"])
    return private


def _max_difference(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a.get_weights(), b.get_weights()))


# ------------------------------------------------------------ the same run as train_dp_sgd
@pytest.mark.parametrize("name", list(BUILDERS))
def test_fit_gives_the_weights_of_train_dp_sgd_at_a_fixed_noise_seed(name):
    """Same noise_seed → the same Poisson lots, the same noise and the same step: fit's
    weights, per-epoch loss/accuracy and ε equal train_dp_sgd's (to float rounding)."""
    build, shape, num_classes = BUILDERS[name]
    x, y = _data(n=96 if name == "small_cnn" else 120, shape=shape, num_classes=num_classes)
    reference, model = build(), build()
    history = train_dp_sgd(reference, x, y, epochs=2, batch_size=16, learning_rate=0.3,
                           clip_norm=1.0, noise_multiplier=1.1, delta=1e-3, noise_seed=5,
                           progress=False)
    private = _private(model, n=len(y), noise_seed=5)
    assert private.method == history.method
    assert private.method == ("vectorized" if name == "tied" else "fast")
    assert private.noise == "per_variable"  # "auto" with a seed: the library's draws
    fitted = private.fit(x, y, epochs=2, verbose=0, callbacks=[PrivacyCallback(delta=1e-3)])
    assert _max_difference(reference, model) <= 1e-5
    np.testing.assert_allclose(fitted.history["loss"], history.loss, rtol=1e-5)
    np.testing.assert_allclose(fitted.history["accuracy"], history.accuracy, rtol=1e-5)
    assert fitted.history["epsilon"] == pytest.approx(history.epsilon, rel=1e-12)
    assert private.steps == history.steps


def test_a_poisson_dataset_with_the_same_seed_draws_train_dp_sgds_lots():
    """The stand-alone poisson_dataset(noise_seed=s) uses the lot stream of train_dp_sgd
    (derive(root, 1)); with lots of size 0 or 1 (N = 40, B = 1: P(empty) ≈ 0.36) the empty
    lots are steps too, as in the library."""
    x, y = _data(n=40)
    reference, model = (BUILDERS["mlp"][0]() for _ in "ab")
    train_dp_sgd(reference, x, y, epochs=2, batch_size=1, learning_rate=0.3, clip_norm=1.0,
                 noise_multiplier=1.1, delta=1e-3, noise_seed=9, progress=False)
    private = _private(model, n=40, batch_size=1, noise_seed=9)
    lots = poisson_dataset(x, y, sampling_rate=1 / 40, steps=40, noise_seed=9)
    sizes = [int(lot_y.shape[0]) for _, lot_y in lots]  # one pass: 40 lots...
    assert 0 in sizes and set(sizes) <= {0, 1, 2, 3, 4}
    lots = poisson_dataset(x, y, sampling_rate=1 / 40, steps=40, noise_seed=9)
    private.fit(lots.map(lambda a, b: (a, b)).prefetch(2), epochs=2, verbose=0)
    assert private.steps == 80
    assert _max_difference(reference, model) <= 1e-5


def test_poisson_lots_are_the_librarys_draws():
    x, y = _data(n=50)
    generator = randomness.tf_generator(randomness.derive(randomness.noise_root(3), 1))
    expected = [poisson_lot(generator, num_examples=50, sampling_rate=0.2).numpy()
                for _ in range(4)]
    for (lot_x, lot_y), index in zip(poisson_dataset(x, y, sampling_rate=0.2, steps=4,
                                                     noise_seed=3), expected):
        np.testing.assert_array_equal(lot_y, y[index])
        np.testing.assert_array_equal(lot_x, x[index])


def test_lot_sizes_are_binomial_and_each_epoch_draws_new_lots():
    x, y = _data(n=200)
    lots = poisson_dataset(x, y, sampling_rate=0.1, steps=200)
    sizes = np.array([int(b.shape[0]) for _, b in lots])
    mean, se = 20.0, math.sqrt(200 * 0.1 * 0.9 / 200)
    assert abs(sizes.mean() - mean) < 5 * se
    again = np.array([int(b.shape[0]) for _, b in lots])
    assert not np.array_equal(sizes, again)  # a second pass (epoch) draws afresh


def test_poisson_dataset_reads_an_unbatched_dataset_and_refuses_a_batched_one():
    x, y = _data(n=30)
    pairs = tf.data.Dataset.from_tensor_slices((x, y))
    from_dataset = poisson_dataset(pairs, sampling_rate=0.5, steps=3, noise_seed=1)
    from_arrays = poisson_dataset(x, y, sampling_rate=0.5, steps=3, noise_seed=1)
    for (a, b), (c, d) in zip(from_dataset, from_arrays):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    with pytest.raises(ValueError, match="not a batched one"):
        poisson_dataset(pairs.batch(4), sampling_rate=0.5, steps=3)
    with pytest.raises(ValueError, match="y .* is required"):
        poisson_dataset(x, sampling_rate=0.5, steps=3)


def test_the_poisson_record_survives_lot_preserving_transformations_only():
    x, y = _data(n=30)
    lots = poisson_dataset(x, y, sampling_rate=0.5, steps=3)
    assert is_poisson_dataset(lots).sampling_rate == 0.5
    assert is_poisson_dataset(lots.map(lambda a, b: (2 * a, b)).prefetch(1).repeat(2).take(4))
    assert is_poisson_dataset(lots.unbatch().batch(15)) is None
    assert is_poisson_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(15)) is None


# ------------------------------------------------------------------------ the accountant
def test_the_callbacks_epsilon_is_the_accountants():
    x, y = _data(n=120)
    private = _private(BUILDERS["logistic"][0](), n=120, batch_size=12)
    history = private.fit(x, y, epochs=3, verbose=0, callbacks=[PrivacyCallback(delta=1e-4)])
    assert private.steps == 30
    expected = [accounting.dp_sgd_epsilon(sampling_rate=0.1, noise_multiplier=1.1,
                                          steps=10 * (e + 1), delta=1e-4) for e in range(3)]
    assert history.history["epsilon"] == expected
    assert private.epsilon(1e-4) == expected[-1]
    # a second fit continues the count: ε after 4 epochs in all
    history = private.fit(x, y, epochs=1, verbose=0, callbacks=[PrivacyCallback(delta=1e-4)])
    assert history.history["epsilon"] == [accounting.dp_sgd_epsilon(
        sampling_rate=0.1, noise_multiplier=1.1, steps=40, delta=1e-4)]


def test_budget_stop_halts_before_the_step_that_would_exceed_the_target(capsys):
    x, y = _data(n=200)
    private = _private(BUILDERS["logistic"][0](), n=200, batch_size=20, noise_multiplier=1.0)
    callback = PrivacyCallback(delta=1e-3, target_epsilon=2.0)
    history = private.fit(x, y, epochs=20, verbose=0, callbacks=[callback])
    steps = private.steps

    def eps(t):
        return accounting.dp_sgd_epsilon(sampling_rate=0.1, noise_multiplier=1.0, steps=t,
                                         delta=1e-3)

    assert eps(steps) <= 2.0 < eps(steps + 1)
    assert steps % 10 != 0  # it stopped mid-epoch, as stop="step" allows
    assert max(history.history["epsilon"]) <= 2.0
    assert history.history["epsilon"][-1] == eps(steps) == callback.epsilon
    assert len(history.history["epsilon"]) == math.ceil(steps / 10) < 20
    assert f"stopped after step {steps}" in callback.stopped
    assert f"step {steps + 1} would spend" in capsys.readouterr().out


def test_budget_stop_by_epoch_never_starts_an_epoch_that_would_exceed_the_target():
    x, y = _data(n=200)
    private = _private(BUILDERS["logistic"][0](), n=200, batch_size=20, noise_multiplier=1.0)
    callback = PrivacyCallback(delta=1e-3, target_epsilon=3.0, stop="epoch", verbose=0)
    history = private.fit(x, y, epochs=50, verbose=0, callbacks=[callback])

    def eps(t):
        return accounting.dp_sgd_epsilon(sampling_rate=0.1, noise_multiplier=1.0, steps=t,
                                         delta=1e-3)

    assert private.steps % 10 == 0
    assert eps(private.steps) <= 3.0 < eps(private.steps + 10)
    assert "epoch" in callback.stopped and max(history.history["epsilon"]) <= 3.0
    # the budget is spent: another fit is refused before it trains anything
    before = [w.copy() for w in private.model.get_weights()]
    with pytest.raises(ValueError, match="would be exceeded by the next epoch"):
        private.fit(x, y, epochs=1, verbose=0, callbacks=[
            PrivacyCallback(delta=1e-3, target_epsilon=3.0, stop="epoch")])
    for a, b in zip(before, private.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_target_below_one_step_is_refused():
    x, y = _data(n=100)
    private = _private(BUILDERS["logistic"][0](), n=100, batch_size=50)
    with pytest.raises(ValueError, match="target_epsilon=0.01 would be exceeded by the next step"):
        private.fit(x, y, epochs=1, verbose=0,
                    callbacks=[PrivacyCallback(delta=1e-3, target_epsilon=0.01)])
    assert private.steps == 0


def test_callback_checks_delta_and_model():
    x, y = _data(n=100)
    private = _private(BUILDERS["logistic"][0](), n=100)
    with pytest.raises(ValueError, match="delta"):
        private.fit(x, y, epochs=1, verbose=0, callbacks=[PrivacyCallback(delta=0.05)])
    plain = BUILDERS["logistic"][0]()
    plain.compile(optimizer="sgd", loss=CE)
    with pytest.raises(ValueError, match="needs a PrivateModel"):
        plain.fit(x, y, epochs=1, verbose=0, callbacks=[PrivacyCallback(delta=1e-3)])


# ------------------------------------------------------------------------ Keras workflow
def test_callbacks_validation_data_progress_bar_evaluate_and_predict(capsys):
    x, y = _data(n=120)
    x_val, y_val = _data(n=30)
    private = _private(BUILDERS["mlp"][0](), n=120)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs))

    history = private.fit(x, y, epochs=2, verbose=1, validation_data=(x_val, y_val),
                          callbacks=[PrivacyCallback(delta=1e-3), Record(),
                                     keras.callbacks.EarlyStopping("val_loss", patience=5)])
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "epsilon"}
    assert len(seen) == 2 and all("epsilon" in logs and "val_loss" in logs for logs in seen)
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "epsilon:" in out and "val_accuracy:" in out
    loss, accuracy = private.evaluate(x_val, y_val, verbose=0)
    logits = private.model(x_val, training=False)
    assert loss == pytest.approx(float(tf.reduce_mean(CE(y_val, logits))), rel=1e-5)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(private.predict(x_val, verbose=0), logits, rtol=1e-5, atol=1e-6)
    assert 0.0 <= accuracy <= 1.0


def test_two_runs_without_a_noise_seed_differ_even_after_global_seeding(capsys):
    x, y = _data(n=120)
    weights = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        model = BUILDERS["logistic"][0]()
        private = _private(model, n=120)
        assert private.noise_seed is None and not private.reproducible_noise
        private.fit(x, y, epochs=1, verbose=0)
        weights.append(model.get_weights())
    assert not np.allclose(weights[0][0], weights[1][0])
    assert "noise_seed" not in capsys.readouterr().out  # no notice for a private run
    _private(BUILDERS["logistic"][0](), n=120, noise_seed=4)
    assert randomness.noise_seed_notice(4) in capsys.readouterr().out


def test_seeded_runs_repeat_and_batched_noise_is_a_different_draw_of_the_same_law():
    x, y = _data(n=120)
    runs = {}
    for key, noise in (("a", "auto"), ("b", "per_variable"), ("c", "batched")):
        model = BUILDERS["logistic"][0]()
        private = _private(model, n=120, noise_seed=8, noise=noise)
        private.fit(x, y, epochs=1, verbose=0)
        runs[key] = model.get_weights()
    np.testing.assert_array_equal(runs["a"][0], runs["b"][0])
    assert not np.allclose(runs["a"][0], runs["c"][0])
    assert _private(BUILDERS["logistic"][0](), n=120).noise == "batched"  # the default, unseeded
    assert _private(BUILDERS["logistic"][0](), n=120, noise_multiplier=0.0).noise == "per_variable"
    # too large for 8 steps of noise in 2²² floats (P = 1,663,370): per variable, unseeded too
    assert make_private(models.mcmahan_cnn(), clip_norm=1.0, noise_multiplier=1.0, batch_size=10,
                        num_examples=100).noise == "per_variable"


def test_noise_buffer_draws_independent_gaussians_across_refills():
    variables = [tf.Variable(tf.zeros([3, 4])), tf.Variable(tf.zeros([5]))]
    buffer = NoiseBuffer(variables, stddev=2.0, generator=tf.random.Generator.from_seed(0),
                         rows=4)
    draw = tf.function(buffer.draw)
    noise = [draw() for _ in range(300)]
    assert [tuple(n.shape) for n in noise[0]] == [(3, 4), (5,)]
    flat = np.stack([np.concatenate([n.numpy().ravel() for n in step]) for step in noise])
    assert len({row.tobytes() for row in flat}) == 300  # no row used twice
    se = 2.0 / math.sqrt(2 * flat.size)
    assert abs(flat.std() - 2.0) < 5 * se and abs(flat.mean()) < 5 * 2.0 / math.sqrt(flat.size)
    assert abs(np.corrcoef(flat[:-1].ravel(), flat[1:].ravel())[0, 1]) < 5 / math.sqrt(flat.size)
    big = NoiseBuffer([tf.Variable(tf.zeros([3000, 1000]))], stddev=1.0,
                      generator=tf.random.Generator.from_seed(1))
    assert big.rows == 1 and NoiseBuffer(variables, stddev=1.0,
                                         generator=tf.random.Generator.from_seed(1)).rows == 64


def test_batched_noise_has_std_z_c_over_b_end_to_end():
    """With every example's gradient clipped away (C tiny compared to the noise), one step
    moves θ by −η·noise/B: its std is η·z·C/B per coordinate."""
    x, y = _data(n=100)
    model = models.mlp(5, num_classes=3, hidden_units=(64,), seed=1)
    private = make_private(model, clip_norm=1e-3, noise_multiplier=1000.0, batch_size=10,
                           num_examples=100, noise="batched")
    private.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss=CE)
    before = np.concatenate([w.ravel() for w in model.get_weights()])
    private.fit(x, y, epochs=1, steps_per_epoch=1, verbose=0)
    moved = np.concatenate([w.ravel() for w in model.get_weights()]) - before
    expected = 1.0 * 1000.0 * 1e-3 / 10
    assert abs(moved.std() / expected - 1) < 5 / math.sqrt(2 * moved.size) + 1e-3


# ---------------------------------------------------------------------------- refusals
def test_batch_normalization_is_refused_naming_the_layer():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4),
                              keras.layers.BatchNormalization(name="bn"), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="'bn' \\(BatchNormalization\\).*GroupNormalization"):
        make_private(model, clip_norm=1.0, noise_multiplier=1.0, batch_size=4, num_examples=40)


def test_regularisers_are_refused_naming_the_layer():
    model = keras.Sequential([keras.Input((5,)),
                              keras.layers.Dense(3, kernel_regularizer="l2", name="reg")])
    with pytest.raises(ValueError, match="'reg' \\(Dense\\) has kernel_regularizer"):
        make_private(model, clip_norm=1.0, noise_multiplier=1.0, batch_size=4, num_examples=40)


@pytest.mark.parametrize("loss, message", [
    ("sparse_categorical_crossentropy", "string form means from_logits=False"),
    (keras.losses.SparseCategoricalCrossentropy(), "from_logits=False"),
    (keras.losses.MeanSquaredError(), "'mean_squared_error'"),
    (keras.losses.CategoricalCrossentropy(from_logits=True), "'categorical_crossentropy'"),
    (lambda y, p: p, "'<lambda>'"),
    (keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
     "ignore_class"),
])
def test_unsupported_losses_are_refused_naming_the_loss(loss, message):
    private = make_private(BUILDERS["logistic"][0](), clip_norm=1.0, noise_multiplier=1.0,
                           batch_size=4, num_examples=40)
    with pytest.raises(ValueError, match=message):
        private.compile(optimizer="sgd", loss=loss)
    assert isinstance(check_supported_loss(None), keras.losses.SparseCategoricalCrossentropy)


def test_fit_refuses_what_breaks_the_accounting():
    x, y = _data(n=40)
    private = _private(BUILDERS["logistic"][0](), n=40, batch_size=8)
    cases = [
        (dict(x=tf.data.Dataset.from_tensor_slices((x, y)).shuffle(40).batch(8)),
         "not made by poisson_dataset.*Chua"),
        (dict(x=poisson_dataset(x, y, sampling_rate=0.5, steps=2)), "q=0.5"),
        (dict(x=x, y=y, batch_size=10), "batch_size=10 differs"),
        (dict(x=x[:30], y=y[:30]), "30 examples but make_private\\(num_examples=40"),
        (dict(x=x, y=y, sample_weight=np.ones(40)), "sample_weight"),
        (dict(x=x, y=y, class_weight={0: 1.0, 1: 2.0, 2: 1.0}), "class_weight"),
        (dict(x=x, y=y, validation_split=0.2), "validation_data instead"),
        (dict(x=(xi for xi in x)), "needs Poisson lots"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            private.fit(epochs=1, verbose=0, **kwargs)
    assert private.steps == 0


def test_make_private_checks_its_parameters():
    build = BUILDERS["logistic"][0]
    base = dict(clip_norm=1.0, noise_multiplier=1.0, batch_size=4, num_examples=40)
    for change, message in [
        (dict(batch_size=50), "batch_size must be <= num_examples"),
        (dict(clip_norm=math.inf), "clip_norm must be finite"),
        (dict(noise_multiplier=-1.0), "noise_multiplier"),
        (dict(method="ghost"), "method must be"),
        (dict(noise="fused"), "noise must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            make_private(build(), **{**base, **change})
    with pytest.raises(ValueError, match="build the model first"):
        make_private(keras.Sequential([keras.layers.Dense(2)]), **base)
    private = make_private(build(), **base)
    assert isinstance(private, PrivateModel) and private.model is not None
    assert private.sampling_rate == 0.1 and private.steps == 0 and private.epsilon(1e-3) == 0.0
    with pytest.raises(NotImplementedError, match="save private.model"):
        private.get_config()


def test_tied_weights_take_the_vectorized_path_and_say_why():
    private = make_private(_tied_model(), clip_norm=1.0, noise_multiplier=1.0, batch_size=4,
                           num_examples=40)
    assert private.method == "vectorized" and "more than once" in private.fast_path_reason
