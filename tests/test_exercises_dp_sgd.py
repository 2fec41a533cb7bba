"""Checkers of notebook 06 (DP-SGD) accept a correct answer written from the formula, reject
wrong ones with a hint, and refuse a wrapper of the library's answer."""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.accounting import calibrate_noise_multiplier
from fldp_teach.clipping import clip_per_example
from fldp_teach.exercises.dp_sgd import check_clipped_sum, check_noise_on_average


def numpy_clipped_sum(g, c):
    norms = np.linalg.norm(g, axis=1, keepdims=True)
    return (g * np.minimum(1.0, c / np.maximum(norms, 1e-300))).sum(axis=0)


def test_clipped_sum_checker(capsys):
    assert check_clipped_sum(numpy_clipped_sum)
    assert "Correct." in capsys.readouterr().out

    def clip_the_sum(g, c):
        s = g.sum(axis=0)
        return s * min(1.0, c / np.linalg.norm(s))

    assert not check_clipped_sum(clip_the_sum)
    assert "clipped the SUM" in capsys.readouterr().out
    assert not check_clipped_sum(lambda g, c: numpy_clipped_sum(g, c) / len(g))
    assert "returned the mean" in capsys.readouterr().out
    assert not check_clipped_sum(lambda g, c: None)
    assert "nothing yet" in capsys.readouterr().out


def test_clipped_sum_refuses_a_wrapper_of_the_library(capsys):
    assert not check_clipped_sum(lambda g, c: clip_per_example(g, clip_norm=c)[0].sum(axis=0))
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "clip_per_example" in out and "fldp_teach" in out


def solution(n, epochs, eps, b, clip, delta):
    z = calibrate_noise_multiplier(target_epsilon=eps, sampling_rate=b / n, steps=epochs * math.ceil(n / b),
                                   delta=delta)
    return z * clip / b


def test_noise_on_average_checker_allows_the_accountant(capsys):
    assert check_noise_on_average(solution)
    assert "Correct." in capsys.readouterr().out


def test_noise_on_average_hints(capsys):
    assert not check_noise_on_average(lambda n, e, eps, b, c, d: solution(n, e, eps, b, c, d) * b)
    assert "noise on the SUM" in capsys.readouterr().out
    assert not check_noise_on_average(lambda n, e, eps, b, c, d: solution(n, e, eps, b, c, d) / c)
    assert "Where is C" in capsys.readouterr().out

    def epochs_as_steps(n, epochs, eps, b, clip, delta):
        return calibrate_noise_multiplier(target_epsilon=eps, sampling_rate=b / n, steps=epochs, delta=delta) * clip / b

    assert not check_noise_on_average(epochs_as_steps)
    assert "⌈N/B⌉" in capsys.readouterr().out
    assert not check_noise_on_average(lambda *a: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_private_keras_model_checker(capsys):
    """Exercise 3 of notebook 06 (issue 12): a private Keras model on digits, ε ≤ 3, accuracy ≥ 0.90."""
    import keras

    from fldp_teach.exercises.dp_sgd import check_private_keras_model
    from fldp_teach.keras import PrivacyCallback, make_private
    from fldp_teach.models import mlp

    def build(x_train, y_train, *, z=None, epochs=20, budget=True):
        n, b = len(y_train), 128
        if z is None:
            z = calibrate_noise_multiplier(target_epsilon=3.0, sampling_rate=b / n,
                                           steps=epochs * math.ceil(n / b), delta=1e-5)
        net = make_private(mlp(x_train.shape[1], num_classes=10, hidden_units=(64,), seed=0), clip_norm=1.0,
                           noise_multiplier=z, batch_size=b, num_examples=n, noise_seed=0)
        net.compile(optimizer=keras.optimizers.SGD(1.0),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        callbacks = [PrivacyCallback(delta=1e-5, target_epsilon=3.0, verbose=0)] if budget else []
        net.fit(x_train, y_train, epochs=epochs, verbose=0, callbacks=callbacks)
        return net

    assert check_private_keras_model(build)
    assert "Correct." in capsys.readouterr().out
    assert not check_private_keras_model(lambda x, y: build(x, y, z=0.8, epochs=5, budget=False))
    assert "> 3" in capsys.readouterr().out
    assert not check_private_keras_model(lambda x, y: build(x, y).model)
    assert "return the PrivateModel" in capsys.readouterr().out
    assert not check_private_keras_model(lambda x, y: ...)
    assert "nothing yet" in capsys.readouterr().out
