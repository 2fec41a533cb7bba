"""Checkers of notebook 05 (noise in the objective: E6, E7) accept a correct answer written from
the formula, reject wrong ones with a hint, and refuse a wrapper of the library's answer."""
from __future__ import annotations

import numpy as np

from fldp_teach.exercises.perturbation import check_sensitivity, check_server_gradient
from fldp_teach.perturbation import output_perturbation_sensitivity


def test_sensitivity_checker(capsys):
    assert check_sensitivity(lambda n, lam, r, lip: 2 * lip * r / (n * lam))
    assert "Correct." in capsys.readouterr().out
    assert not check_sensitivity(lambda n, lam, r, lip: lip * r / (n * lam))
    assert "factor 2" in capsys.readouterr().out
    assert not check_sensitivity(lambda n, lam, r, lip: 2 / (n * lam))
    assert "R = L = 1 case" in capsys.readouterr().out
    assert not check_sensitivity(lambda n, lam, r, lip: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_sensitivity_refuses_a_wrapper_of_the_library(capsys):
    def wrapper(n, lam, r, lip):
        return output_perturbation_sensitivity(num_examples=n, regularization=lam) * r * lip

    assert not check_sensitivity(wrapper)
    assert "output_perturbation_sensitivity" in capsys.readouterr().out


def server(theta, messages, lam):
    return sum(n * np.asarray(g) for g, n in messages) / sum(n for _, n in messages) + lam * np.asarray(theta)


def test_server_gradient_checker(capsys):
    assert check_server_gradient(server)
    assert "Correct." in capsys.readouterr().out

    def unweighted(theta, messages, lam):
        return np.mean([g for g, n in messages if n], axis=0) + lam * theta

    assert not check_server_gradient(unweighted)
    assert "equal weights" in capsys.readouterr().out

    def as_sums(theta, messages, lam):          # the notebook's server_gradient takes SUMS
        return sum(np.asarray(g) for g, _ in messages) / sum(n for _, n in messages) + lam * theta

    assert not check_server_gradient(as_sums)
    assert "MEAN gradients" in capsys.readouterr().out
    assert not check_server_gradient(lambda t, m, lam: server(t, m, lam) - lam * t)
    assert "λθ" in capsys.readouterr().out
    assert not check_server_gradient(lambda t, m, lam: ...)
    assert "nothing yet" in capsys.readouterr().out
