"""Which models DP-SGD may train (fldp_teach.dpsgd.check_dp_sgd_model): no layer may keep
state that training updates outside the noisy gradient (BatchNormalization's moving
statistics), while frozen weights and Dropout's seed state stay allowed."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from fldp_teach.dpsgd import check_dp_sgd_model, dp_gradient, make_dp_train_step

RNG = np.random.default_rng(5)


def _lot(batch=16, dim=4):
    x = tf.constant(RNG.normal(5.0, 1.0, size=(batch, dim)).astype(np.float32))
    return x, tf.constant(RNG.integers(0, 2, batch).astype(np.int32))


def _with(layer, dim=4):
    return keras.Sequential([keras.Input((dim,)), keras.layers.Dense(8), layer,
                             keras.layers.Dense(2)])


def _one_dp_step(model):
    step = make_dp_train_step(model, keras.optimizers.SGD(0.1), clip_norm=1.0,
                              noise_multiplier=1.0, method="fast",
                              generator=tf.random.Generator.from_seed(0))
    x, y = _lot()
    return step(x, y, tf.constant(16.0))


@pytest.mark.parametrize("nested", [False, True])
def test_batch_norm_is_refused_with_its_name_and_a_replacement(nested):
    """BatchNormalization's moving mean/variance absorb the lot's raw statistics with no noise
    and ship with the model; before this check a DP-SGD step moved them (after 5 steps on
    inputs of mean 5, moving_mean[0] went 0 → 0.16) while ε was reported. Also inside a
    nested model."""
    bn = keras.layers.BatchNormalization(name="the_bn")
    model = _with(keras.Sequential([keras.Input((8,)), bn]) if nested else bn)
    for call in (lambda: check_dp_sgd_model(model), lambda: _one_dp_step(model),
                 lambda: dp_gradient(model, *_lot(), clip_norm=1.0, noise_multiplier=1.0,
                                     denominator=16.0, method="vectorized",
                                     generator=tf.random.Generator.from_seed(0))):
        with pytest.raises(ValueError, match="'the_bn'.*BatchNormalization") as error:
            call()
        assert "GroupNormalization" in str(error.value)
        assert "LayerNormalization" in str(error.value)
    np.testing.assert_array_equal(bn.moving_mean, np.zeros(8))  # untouched


def test_subclass_of_batch_norm_and_moving_statistics_are_refused():
    class MyNorm(keras.layers.BatchNormalization):
        pass

    with pytest.raises(ValueError, match="'mine' .MyNorm."):
        check_dp_sgd_model(_with(MyNorm(name="mine")))

    class RunningMean(keras.layers.Layer):
        """A home-made layer with a running statistic, not a BatchNormalization."""

        def build(self, input_shape):
            self.moving_average = self.add_weight(shape=input_shape[-1:], trainable=False,
                                                  initializer="zeros",
                                                  name="moving_average")

        def call(self, x):
            return x - self.moving_average

    with pytest.raises(ValueError, match="'running' .RunningMean.*moving_average"):
        check_dp_sgd_model(_with(RunningMean(name="running")))


@pytest.mark.parametrize("layer", [keras.layers.LayerNormalization(),
                                   keras.layers.GroupNormalization(groups=2)],
                         ids=["layer_norm", "group_norm"])
def test_layer_and_group_norm_train_under_dp_sgd(layer):
    """No running statistics: accepted, and a DP-SGD step changes the weights."""
    model = _with(layer)
    check_dp_sgd_model(model)
    before = [v.numpy().copy() for v in model.trainable_variables]
    loss, _, size = _one_dp_step(model)
    assert np.isfinite(float(loss)) and float(size) == 16.0
    assert all(not np.array_equal(b, v.numpy())
               for b, v in zip(before, model.trainable_variables))


def test_frozen_dense_and_dropout_are_accepted():
    """Non-trainable weights that training does not change (a frozen Dense) and Dropout's
    seed-generator state (random-number state, not data statistics) are allowed; the frozen
    kernel stays as it was after a DP-SGD step."""
    frozen = keras.layers.Dense(8, trainable=False)
    model = keras.Sequential([keras.Input((4,)), frozen, keras.layers.Dropout(0.3, seed=1),
                              keras.layers.Dense(2)])
    assert frozen.non_trainable_variables and model.layers[1].non_trainable_variables
    check_dp_sgd_model(model)
    kernel = frozen.kernel.numpy().copy()
    _one_dp_step(model)
    np.testing.assert_array_equal(frozen.kernel.numpy(), kernel)
