"""exercises.gaussian: the checkers accept correct answers written from the formulas, reject wrong
ones with a hint, refuse wrappers of the library's answers, and never raise."""
import math

from fldp_teach.exercises.gaussian import check_analytic_gaussian_stddev, check_histogram_stddev, check_zero_test
from fldp_teach.mechanisms import analytic_gaussian_delta, analytic_gaussian_stddev, classic_gaussian_stddev


def test_histogram(capsys):
    root = lambda d: math.sqrt(2 * math.log(1.25 / d))  # noqa: E731
    assert check_histogram_stddev(lambda e, d, k: math.sqrt(k) * root(d) / e)
    assert "Correct." in capsys.readouterr().out
    assert not check_histogram_stddev(lambda e, d, k: k * root(d) / e)
    assert "L1 sensitivity" in capsys.readouterr().out
    assert not check_histogram_stddev(lambda e, d, k: root(d) / e)
    assert "not 1" in capsys.readouterr().out
    assert not check_histogram_stddev(lambda e, d, k: math.sqrt(k) * math.sqrt(2 * math.log(1 / d)) / e)
    assert "1.25/δ" in capsys.readouterr().out
    assert not check_histogram_stddev(lambda e, d, k: ...)
    assert "replace `...`" in capsys.readouterr().out


def test_histogram_refuses_a_wrapper_of_the_library(capsys):
    def my_histogram_stddev(epsilon, delta, bins_per_person):
        return classic_gaussian_stddev(epsilon=epsilon, delta=delta, l2_sensitivity=math.sqrt(bins_per_person))

    assert not check_histogram_stddev(my_histogram_stddev)
    assert capsys.readouterr().out.startswith(
        "Not yet: my_histogram_stddev calls classic_gaussian_stddev from fldp_teach")


def bisect(e, d, s):
    lo, hi = 1e-6, 1e6
    for _ in range(100):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if analytic_gaussian_delta(stddev=mid, epsilon=e, l2_sensitivity=s) > d else (lo, mid)
    return hi


def test_analytic(capsys):
    assert check_analytic_gaussian_stddev(bisect)          # uses analytic_gaussian_delta: allowed
    assert "Correct." in capsys.readouterr().out
    # too large (wasteful), too small (breaks the promise)
    assert not check_analytic_gaussian_stddev(lambda e, d, s: 1.5 * bisect(e, d, s))
    assert "Too large" in capsys.readouterr().out
    assert not check_analytic_gaussian_stddev(lambda e, d, s: 0.1 * bisect(e, d, s))
    assert "breaks the promise" in capsys.readouterr().out
    assert not check_analytic_gaussian_stddev(lambda e, d, s: -1.0)


def test_analytic_refuses_a_wrapper_of_the_library(capsys):
    def my_analytic_stddev(epsilon, delta, l2_sensitivity):
        return analytic_gaussian_stddev(epsilon=epsilon, delta=delta, l2_sensitivity=l2_sensitivity)

    assert not check_analytic_gaussian_stddev(my_analytic_stddev)
    assert capsys.readouterr().out.startswith(
        "Not yet: my_analytic_stddev calls analytic_gaussian_stddev from fldp_teach, which already computes the "
        "answer. Write it yourself with numpy or math (you may use analytic_gaussian_delta).")


def test_zero_test(capsys):
    assert check_zero_test(lambda y: y == 0.0)
    assert not check_zero_test(lambda y: abs(y) < 0.5)
    assert not check_zero_test(lambda y: None)
    assert not check_zero_test(lambda y: [][0])
