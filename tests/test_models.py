"""Models: parameter counts checked by hand, logits of the right shape, seeded initial weights."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fldp_teach import models


def _weights_equal(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_mcmahan_cnn_has_the_papers_parameter_count():
    # McMahan et al. 2017, §3: "a CNN with two 5x5 convolution layers ... (1,663,370 total parameters)".
    model = models.mcmahan_cnn()
    conv_1 = 5 * 5 * 1 * 32 + 32
    conv_2 = 5 * 5 * 32 * 64 + 64
    dense = 7 * 7 * 64 * 512 + 512
    logits = 512 * 10 + 10
    assert conv_1 + conv_2 + dense + logits == 1_663_370
    assert models.count_parameters(model) == 1_663_370
    assert model.count_params() == 1_663_370


def test_small_cnn_and_linear_models_parameter_counts_by_hand():
    assert models.count_parameters(models.small_cnn()) == (9 * 16 + 16) + (9 * 16 * 32 + 32) + (
        2 * 2 * 32 * 64 + 64
    ) + (64 * 10 + 10)
    assert models.count_parameters(models.logistic_regression(30)) == (30 + 1) * 2
    assert models.count_parameters(models.mlp(30, num_classes=2, hidden_units=(8, 4))) == (
        31 * 8 + 9 * 4 + 5 * 2
    )
    # GRU (Keras' reset_after=True): 3·(d·u + u·u + 2u); LSTM: 4·(d·u + u·u + u).
    d, u = 5, 7
    gru = models.rnn_classifier(input_shape=(11, d), num_classes=3, cell="gru", units=u)
    lstm = models.rnn_classifier(input_shape=(11, d), num_classes=3, cell="lstm", units=u)
    assert models.count_parameters(gru) == 3 * (d * u + u * u + 2 * u) + (u + 1) * 3
    assert models.count_parameters(lstm) == 4 * (d * u + u * u + u) + (u + 1) * 3


@pytest.mark.parametrize(
    "build, x_shape, num_classes",
    [
        (lambda: models.logistic_regression(30), (4, 30), 2),
        (lambda: models.mlp(13, num_classes=3, hidden_units=(16,)), (4, 13), 3),
        (lambda: models.mcmahan_cnn(), (2, 28, 28, 1), 10),
        (lambda: models.small_cnn(num_classes=5), (4, 8, 8, 1), 5),
        (lambda: models.rnn_classifier(input_shape=(6, 3), num_classes=2, cell="lstm"), (4, 6, 3), 2),
    ],
)
def test_models_output_unnormalized_logits(build, x_shape, num_classes):
    model = build()
    x = np.random.default_rng(0).normal(size=x_shape).astype("float32")
    logits = np.asarray(model(x))
    assert logits.shape == (x_shape[0], num_classes)
    assert logits.dtype == np.float32
    # Logits, not probabilities: no softmax layer, so rows do not sum to 1 and some are < 0.
    assert not np.allclose(logits.sum(axis=1), 1.0)
    assert (logits < 0).any()
    assert not any(isinstance(layer, keras.layers.Softmax) for layer in model.layers)
    assert model.layers[-1].get_config()["activation"] == "linear"


@pytest.mark.parametrize(
    "build",
    [
        lambda seed: models.logistic_regression(10, seed=seed),
        lambda seed: models.mlp(10, num_classes=2, hidden_units=(8, 8), seed=seed),
        lambda seed: models.small_cnn(seed=seed),
        lambda seed: models.rnn_classifier(input_shape=(5, 2), num_classes=2, seed=seed),
    ],
)
def test_same_seed_same_weights_different_seed_different_weights(build):
    a, b, c = build(3).get_weights(), build(3).get_weights(), build(4).get_weights()
    assert _weights_equal(a, b)
    kernels = [(x, z) for x, z in zip(a, c) if np.any(x != 0)]  # biases start at 0 for both
    assert kernels and all(not np.array_equal(x, z) for x, z in kernels)


def test_layers_of_one_model_get_different_streams():
    # Two same-shaped hidden layers: a shared seed would make their kernels identical.
    weights = models.mlp(8, num_classes=2, hidden_units=(8, 8), seed=0).get_weights()
    assert weights[0].shape == weights[2].shape == (8, 8)
    assert not np.allclose(weights[0], weights[2])


def test_seeding_does_not_touch_the_global_rng():
    state = np.random.get_state()[1].copy()
    models.mlp(4, num_classes=2, seed=0)
    assert np.array_equal(np.random.get_state()[1], state)


def test_no_batch_normalization_anywhere():
    for model in [models.mcmahan_cnn(), models.small_cnn(), models.mlp(3, num_classes=2),
                  models.rnn_classifier(input_shape=(4, 2), num_classes=2)]:
        assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def test_model_num_bytes_is_four_bytes_per_float32_parameter():
    model = models.mcmahan_cnn()
    assert models.model_num_bytes(model) == 4 * 1_663_370
    assert models.model_num_bytes(model.get_weights()) == 4 * 1_663_370
    assert models.model_num_bytes([np.zeros((3, 2), np.float64), np.zeros(5, np.float16)]) == 48 + 10


def test_compile_for_training_uses_logit_cross_entropy():
    model = models.compile_for_training(models.logistic_regression(3), learning_rate=0.1)
    assert model.loss.get_config()["from_logits"] is True
    x = np.zeros((2, 3), np.float32)
    y = np.array([0, 1])
    # Zero features → logits = bias = 0 → loss = ln 2 exactly, whatever the kernel.
    loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(np.log(2.0), rel=1e-6)
    with pytest.raises(ValueError, match="optimizer"):
        models.compile_for_training(models.logistic_regression(3), learning_rate=0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="learning_rate must be > 0, got -1"):
        models.compile_for_training(models.logistic_regression(3), learning_rate=-1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: models.logistic_regression(0), "input_dim must be an integer >= 1, got 0"),
        (lambda: models.logistic_regression(3, num_classes=1), "num_classes must be >= 2"),
        (lambda: models.mlp(3, num_classes=2, hidden_units=(0,)), "hidden_units"),
        (lambda: models.mcmahan_cnn(input_shape=(28, 28)), "input_shape"),
        (lambda: models.rnn_classifier(input_shape=(4, 2), num_classes=2, cell="rnn"), "cell"),
        (lambda: models.small_cnn(seed=-1), "seed must be >= 0, got -1"),
        (lambda: models.small_cnn(seed=1.5), "seed must be an int or None"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()
