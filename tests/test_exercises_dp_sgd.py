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
