"""exercises.dp_basics: each checker accepts a correct answer written with math/numpy, rejects
wrong ones with a targeted hint, refuses a wrapper of the library, and does not raise on an
unfinished or crashing answer."""
import math

import numpy as np

from fldp_teach.exercises.dp_basics import check_max_posterior, check_randomized_response_estimate
from fldp_teach.mechanisms import randomized_response_estimate
from fldp_teach.plots.accounting import posterior_bound


def test_max_posterior(capsys):
    def right(prior, epsilon):
        odds = prior / (1 - prior) * math.exp(epsilon)
        return odds / (1 + odds)

    assert check_max_posterior(right)
    assert "Correct." in capsys.readouterr().out
    assert not check_max_posterior(lambda q, e: math.exp(e) / (1 + math.exp(e)))
    assert "50 % prior" in capsys.readouterr().out
    assert not check_max_posterior(lambda q, e: q * math.exp(e))
    assert "ODDS" in capsys.readouterr().out
    assert not check_max_posterior(lambda q, e: q * math.exp(e) / (1 - q))
    assert "posterior odds" in capsys.readouterr().out
    assert not check_max_posterior(lambda q, e: q * math.exp(-e) / (q * math.exp(-e) + 1 - q))
    assert "RAISE" in capsys.readouterr().out
    assert not check_max_posterior(lambda q, e: ...)
    assert "nothing yet" in capsys.readouterr().out
    assert not check_max_posterior(lambda q, e: 1 / 0)
    assert "Not yet:" in capsys.readouterr().out


def test_max_posterior_refuses_a_wrapper_of_the_library(capsys):
    def wrapper(prior, epsilon):
        return posterior_bound(epsilon=epsilon, prior=prior)

    assert not check_max_posterior(wrapper)
    out = capsys.readouterr().out
    assert out.startswith("Not yet: wrapper calls posterior_bound from fldp_teach")


def test_rr_estimate(capsys):
    def right(responses, epsilon):
        p = math.exp(epsilon) / (1 + math.exp(epsilon))
        return (np.mean(responses) - (1 - p)) / (2 * p - 1)

    assert check_randomized_response_estimate(right)
    assert "Correct." in capsys.readouterr().out
    assert not check_randomized_response_estimate(lambda r, e: np.mean(r))
    assert "biased" in capsys.readouterr().out
    assert not check_randomized_response_estimate(lambda r, e: None)
    assert "nothing yet" in capsys.readouterr().out


def test_rr_estimate_refuses_a_wrapper_of_the_library(capsys):
    def wrapper(responses, epsilon):
        return randomized_response_estimate(responses, epsilon=epsilon)

    assert not check_randomized_response_estimate(wrapper)
    assert "calls randomized_response_estimate from fldp_teach" in capsys.readouterr().out
