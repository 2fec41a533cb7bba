"""exercises.laplace: checkers accept the right answer, reject wrong ones with a targeted hint,
and never raise."""
import math

from fldp_teach.exercises.laplace import check_laplace_scale, check_laplace_stddev, check_mean_sensitivity
from fldp_teach.mechanisms import laplace_scale


def test_scale(capsys):
    assert check_laplace_scale(lambda e, d: laplace_scale(epsilon=e, l1_sensitivity=d))
    assert not check_laplace_scale(lambda e, d: e / d)
    assert "MORE noise" in capsys.readouterr().out
    assert not check_laplace_scale(lambda e, d: ...)
    assert not check_laplace_scale(lambda e, d: "b")


def test_mean_sensitivity(capsys):
    assert check_mean_sensitivity(lambda lo, hi, n: (hi - lo) / n)
    assert not check_mean_sensitivity(lambda lo, hi, n: hi - lo)
    assert "SUM" in capsys.readouterr().out
    assert not check_mean_sensitivity(lambda lo, hi, n: hi / n)
    assert not check_mean_sensitivity(lambda lo, hi: 0)  # wrong signature: hint, no exception


def test_stddev(capsys):
    assert check_laplace_stddev(lambda b: math.sqrt(2) * b)
    assert not check_laplace_stddev(lambda b: b)
    assert "2b²" in capsys.readouterr().out
    assert not check_laplace_stddev(lambda b: 2 * b * b)
