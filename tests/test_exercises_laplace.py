"""exercises.laplace: checkers accept a right answer written with math, reject wrong ones with a
targeted hint, refuse a wrapper of the library, and never raise."""
import math

from fldp_teach.exercises.laplace import (check_laplace_scale, check_laplace_tail, check_mean_sensitivity,
                                          check_sum_scale)
from fldp_teach.mechanisms import laplace_scale


def test_scale(capsys):
    assert check_laplace_scale(lambda e, d: d / e)
    assert not check_laplace_scale(lambda e, d: e / d)
    assert "MORE noise" in capsys.readouterr().out
    assert not check_laplace_scale(lambda e, d: ...)
    assert not check_laplace_scale(lambda e, d: "b")


def test_scale_refuses_a_wrapper_of_the_library(capsys):
    def my_laplace_scale(epsilon, l1_sensitivity):
        return laplace_scale(epsilon=epsilon, l1_sensitivity=l1_sensitivity)

    assert not check_laplace_scale(my_laplace_scale)
    assert capsys.readouterr().out.startswith("Not yet: my_laplace_scale calls laplace_scale from fldp_teach")


def test_sum_scale(capsys):
    assert check_sum_scale(lambda e, lo, hi: max(abs(lo), abs(hi)) / e)
    assert "Correct." in capsys.readouterr().out
    assert not check_sum_scale(lambda e, lo, hi: (hi - lo) / e)
    assert "REPLACING" in capsys.readouterr().out
    assert not check_sum_scale(lambda e, lo, hi: hi / e)
    assert "as far from 0" in capsys.readouterr().out
    assert not check_sum_scale(lambda e, lo, hi: max(abs(lo), abs(hi)) * e)
    assert "MORE noise" in capsys.readouterr().out
    assert not check_sum_scale(lambda e, lo, hi: ...)
    assert not check_sum_scale(lambda e, lo: 0)     # wrong signature: a hint, no exception
    assert "raised" in capsys.readouterr().out


def test_sum_scale_refuses_a_wrapper_of_the_library(capsys):
    def my_sum_scale(epsilon, lower, upper):
        return laplace_scale(epsilon=epsilon, l1_sensitivity=max(abs(lower), abs(upper)))

    assert not check_sum_scale(my_sum_scale)
    assert "my_sum_scale calls laplace_scale from fldp_teach" in capsys.readouterr().out


def test_mean_sensitivity(capsys):
    assert check_mean_sensitivity(lambda lo, hi, n: (hi - lo) / n)
    assert not check_mean_sensitivity(lambda lo, hi, n: hi - lo)
    assert "SUM" in capsys.readouterr().out
    assert not check_mean_sensitivity(lambda lo, hi, n: hi / n)
    assert not check_mean_sensitivity(lambda lo, hi: 0)  # wrong signature: hint, no exception


def test_laplace_tail(capsys):
    assert check_laplace_tail(lambda t, b: math.exp(-t / b))
    assert "Correct." in capsys.readouterr().out
    assert not check_laplace_tail(lambda t, b: 0.5 * math.exp(-t / b))
    assert "one tail" in capsys.readouterr().out
    assert not check_laplace_tail(lambda t, b: 1 - math.exp(-t / b))
    assert "SMALL error" in capsys.readouterr().out
    assert not check_laplace_tail(lambda t, b: math.exp(-t * b))
    assert "−t/b" in capsys.readouterr().out
    assert not check_laplace_tail(lambda t, b: ...)
