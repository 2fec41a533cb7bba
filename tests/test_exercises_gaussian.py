"""exercises.gaussian: the checkers accept correct answers, reject wrong ones with a hint, never raise."""
import math

from fldp_teach.exercises.gaussian import (
    check_analytic_gaussian_stddev,
    check_classic_gaussian_stddev,
    check_zero_test,
)
from fldp_teach.mechanisms import analytic_gaussian_stddev, classic_gaussian_stddev


def test_classic(capsys):
    assert check_classic_gaussian_stddev(lambda e, d, s: classic_gaussian_stddev(epsilon=e, delta=d, l2_sensitivity=s))
    assert not check_classic_gaussian_stddev(lambda e, d, s: s * math.sqrt(2 * math.log(1 / d)) / e)
    assert "1.25/δ" in capsys.readouterr().out
    assert not check_classic_gaussian_stddev(lambda e, d, s: ...)


def test_analytic(capsys):
    assert check_analytic_gaussian_stddev(lambda e, d, s: analytic_gaussian_stddev(epsilon=e, delta=d, l2_sensitivity=s))
    # the classic σ is too large (wasteful), a tenth of the analytic σ breaks the promise
    assert not check_analytic_gaussian_stddev(lambda e, d, s: 1.5 * analytic_gaussian_stddev(
        epsilon=e, delta=d, l2_sensitivity=s))
    assert "Too large" in capsys.readouterr().out
    assert not check_analytic_gaussian_stddev(lambda e, d, s: 0.1 * analytic_gaussian_stddev(
        epsilon=e, delta=d, l2_sensitivity=s))
    assert "breaks the promise" in capsys.readouterr().out
    assert not check_analytic_gaussian_stddev(lambda e, d, s: -1.0)


def test_zero_test(capsys):
    assert check_zero_test(lambda y: y == 0.0)
    assert not check_zero_test(lambda y: abs(y) < 0.5)
    assert not check_zero_test(lambda y: None)
    assert not check_zero_test(lambda y: [][0])
