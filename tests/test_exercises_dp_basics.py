"""exercises.dp_basics: each checker accepts the library's answer, rejects a wrong one with a hint,
and does not raise on an unfinished or crashing answer."""
import math

import numpy as np

from fldp_teach.exercises.dp_basics import check_randomized_response_estimate, check_success_bound
from fldp_teach.mechanisms import randomized_response_estimate
from fldp_teach.plots.dp_basics import membership_success_bound


def test_success_bound(capsys):
    assert check_success_bound(lambda e: membership_success_bound(epsilon=e))
    assert "Correct." in capsys.readouterr().out
    assert not check_success_bound(math.exp)
    assert "odds ratio" in capsys.readouterr().out
    assert not check_success_bound(lambda e: ...)
    assert not check_success_bound(lambda e: 1 / 0)
    assert "Not yet:" in capsys.readouterr().out


def test_rr_estimate(capsys):
    assert check_randomized_response_estimate(lambda r, e: randomized_response_estimate(r, epsilon=e))
    assert not check_randomized_response_estimate(lambda r, e: np.mean(r))
    assert "biased" in capsys.readouterr().out
    assert not check_randomized_response_estimate(lambda r, e: None)
