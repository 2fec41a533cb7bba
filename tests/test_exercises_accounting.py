"""Checkers of notebook 08 accept the library's answer and reject wrong ones with a hint."""
from __future__ import annotations

from fldp_teach.accounting import calibrate_noise_multiplier, naive_composition
from fldp_teach.exercises.accounting import check_naive_composition, check_noise_for_target


def test_naive_composition_checker(capsys):
    assert check_naive_composition(lambda e, d, k: naive_composition(epsilon=e, delta=d, steps=k))
    assert not check_naive_composition(lambda e, d, k: (e * k ** 0.5, d * k))
    assert "ADVANCED" in capsys.readouterr().out
    assert not check_naive_composition(lambda e, d, k: (e * k, d))
    assert "δ's add up" in capsys.readouterr().out
    assert not check_naive_composition(lambda e, d, k: ...)
    assert not check_naive_composition(lambda e, d, k: 1 / 0)


def test_noise_for_target_checker(capsys):
    def right(target, q, t, delta):
        return calibrate_noise_multiplier(target_epsilon=target, sampling_rate=q, steps=t, delta=delta)

    assert check_noise_for_target(right)
    assert not check_noise_for_target(lambda *a: 0.9 * right(*a))
    assert "exceeds the target" in capsys.readouterr().out
    assert not check_noise_for_target(lambda *a: 1.5 * right(*a))
    assert "more noise than needed" in capsys.readouterr().out
    assert not check_noise_for_target(lambda *a: None)
