"""Checkers of notebook 08 accept right answers written from the formulas (or with the allowed
accountant), reject wrong ones with a hint, and refuse wrappers of the library's answers."""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.accounting import (DEFAULT_ORDERS, calibrate_noise_multiplier, dp_sgd_epsilon, epsilon_from_rdp,
                                   rdp_gaussian)
from fldp_teach.exercises.accounting import check_gaussian_rdp_epsilon, check_noise_for_target, gaussian_rdp_epsilon


def closed_form(z, k, delta):
    return k / (2 * z * z) + math.sqrt(2 * k * math.log(1 / delta)) / z


def test_gaussian_rdp_epsilon_checker(capsys):
    assert check_gaussian_rdp_epsilon(closed_form)
    assert "Correct." in capsys.readouterr().out

    def fine_search(z, k, delta):                  # numerically, over a fine grid of real orders
        alphas = 1 + np.geomspace(1e-4, 1e4, 2_000_001)
        return float(np.min(k * alphas / (2 * z * z) + math.log(1 / delta) / (alphas - 1)))

    assert check_gaussian_rdp_epsilon(fine_search)
    capsys.readouterr()
    assert not check_gaussian_rdp_epsilon(lambda z, k, d: closed_form(z, 1, d))
    assert "ONE query" in capsys.readouterr().out
    assert not check_gaussian_rdp_epsilon(lambda z, k, d: k * closed_form(z, 1, d))
    assert "naive composition" in capsys.readouterr().out

    def coarse(z, k, delta):
        return min(k * a / (2 * z * z) + math.log(1 / delta) / (a - 1) for a in (1.5, 2, 4, 8, 16, 32, 64))

    assert not check_gaussian_rdp_epsilon(coarse)
    assert "every real α" in capsys.readouterr().out
    assert not check_gaussian_rdp_epsilon(lambda z, k, d: ...)
    assert "nothing yet" in capsys.readouterr().out
    assert not check_gaussian_rdp_epsilon(lambda z, k, d: 1 / 0)


def test_gaussian_rdp_epsilon_is_below_the_library_grid():
    for z, k, delta in ((1.1, 1000, 1e-5), (2.0, 50, 1e-6)):
        grid = epsilon_from_rdp(orders=DEFAULT_ORDERS, rdp=k * rdp_gaussian(noise_multiplier=z, orders=DEFAULT_ORDERS),
                                delta=delta, conversion="classic")
        exact = gaussian_rdp_epsilon(noise_multiplier=z, queries=k, delta=delta)
        assert exact <= grid <= exact * 1.01


def test_gaussian_rdp_epsilon_refuses_a_wrapper_of_the_library(capsys):
    def my_gaussian_rdp_epsilon(noise_multiplier, k, delta):
        rho = k * rdp_gaussian(noise_multiplier=noise_multiplier, orders=DEFAULT_ORDERS)
        return epsilon_from_rdp(orders=DEFAULT_ORDERS, rdp=rho, delta=delta, conversion="classic")

    assert not check_gaussian_rdp_epsilon(my_gaussian_rdp_epsilon)
    out = capsys.readouterr().out
    assert out.startswith("Not yet: my_gaussian_rdp_epsilon calls ") and "from fldp_teach" in out
    assert "rdp_gaussian" in out and "epsilon_from_rdp" in out


def bisection(target, q, t, delta):
    def eps(z):
        return dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=t, delta=delta)

    low, high = 0.1, 1.0
    while eps(high) > target:
        low, high = high, 2 * high
    while high / low > 1.001:
        mid = math.sqrt(low * high)
        low, high = (low, mid) if eps(mid) <= target else (mid, high)
    return high


def test_noise_for_target_checker(capsys):
    assert check_noise_for_target(bisection)        # calls dp_sgd_epsilon: allowed
    assert "Correct." in capsys.readouterr().out
    assert not check_noise_for_target(lambda *a: 0.9 * bisection(*a))
    assert "exceeds the target" in capsys.readouterr().out
    assert not check_noise_for_target(lambda *a: 1.5 * bisection(*a))
    assert "more noise than needed" in capsys.readouterr().out
    assert not check_noise_for_target(lambda *a: None)


def test_noise_for_target_refuses_a_wrapper_of_the_library(capsys):
    def my_noise_for_target(target_epsilon, sampling_rate, steps, delta):
        return calibrate_noise_multiplier(target_epsilon=target_epsilon, sampling_rate=sampling_rate,
                                          steps=steps, delta=delta)

    assert not check_noise_for_target(my_noise_for_target)
    assert capsys.readouterr().out.startswith(
        "Not yet: my_noise_for_target calls calibrate_noise_multiplier from fldp_teach, which already computes the "
        "answer. Write it yourself with numpy or math (you may use dp_sgd_epsilon).")
