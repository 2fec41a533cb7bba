"""Checkers of notebook 13 accept a correct answer written from the formula, reject wrong ones with a
hint, and refuse a wrapper of the library's answer."""
import math

import numpy as np

from fldp_teach.exercises.attacks import _CORNER_CASES, check_advantage_corner, check_dense_inversion
from fldp_teach.inversion import invert_dense_gradient
from fldp_teach.membership import dp_advantage_bound, dp_max_tpr


def corner(e, d):
    fpr = (1 - d) / (math.exp(e) + 1)
    return fpr, math.exp(e) * fpr + d


def test_advantage_corner_checker(capsys):
    assert check_advantage_corner(corner)
    assert "Correct." in capsys.readouterr().out
    assert not check_advantage_corner(lambda e, d: corner(e, d)[::-1])
    assert "swapped" in capsys.readouterr().out
    assert not check_advantage_corner(lambda e, d: corner(e, 0.0))
    assert "δ = 0" in capsys.readouterr().out
    assert not check_advantage_corner(lambda e, d: (0.1, math.exp(e) * 0.1 + d))     # on one edge only
    assert "the corner is on both" in capsys.readouterr().out
    assert not check_advantage_corner(lambda e, d: (math.exp(e) - 1 + 2 * d) / (math.exp(e) + 1))
    assert "not the advantage alone" in capsys.readouterr().out
    assert not check_advantage_corner(lambda e, d: ...)
    assert "nothing yet" in capsys.readouterr().out
    assert not check_advantage_corner(lambda e, d: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_the_corner_gives_the_advantage_bound_on_unseen_inputs():
    shown = {(eps, 1e-5) for eps in (0.1, 0.5, 1.0, 2.0, 4.0, 8.0)}     # the notebook's table
    for eps, d in _CORNER_CASES:
        assert (eps, d) not in shown
        fpr, tpr = corner(eps, d)
        assert math.isclose(tpr - fpr, dp_advantage_bound(epsilon=eps, delta=d), rel_tol=1e-12)


def test_advantage_corner_refuses_a_wrapper_of_the_library(capsys):
    def my_advantage_corner(epsilon, delta):
        fpr = (1 - delta) / (math.exp(epsilon) + 1)
        return fpr, fpr + dp_advantage_bound(epsilon=epsilon, delta=delta)

    assert not check_advantage_corner(my_advantage_corner)
    assert capsys.readouterr().out.startswith("Not yet: my_advantage_corner calls dp_advantage_bound from fldp_teach")

    def via_max_tpr(epsilon, delta):
        fpr = (1 - delta) / (math.exp(epsilon) + 1)
        return fpr, dp_max_tpr(fpr, epsilon=epsilon, delta=delta)

    assert not check_advantage_corner(via_max_tpr)
    assert "dp_max_tpr" in capsys.readouterr().out


def invert(G, g):
    j = int(np.argmax(np.abs(g)))
    return G[:, j] / g[j]


def test_dense_inversion_checker(capsys):
    assert check_dense_inversion(invert)
    assert "Correct." in capsys.readouterr().out
    assert not check_dense_inversion(lambda G, g: G[:, 0] / g[0])          # dead unit 0 in one case
    out = capsys.readouterr().out
    assert "nan" in out or "nonzero" in out
    assert not check_dense_inversion(lambda G, g: G[0, :] / g)             # a row, not a column
    assert "ROW" in capsys.readouterr().out
    assert not check_dense_inversion(lambda G, g: np.ones(G.shape[0]))
    assert "COLUMN" in capsys.readouterr().out


def test_dense_inversion_refuses_a_wrapper_of_the_library(capsys):
    def my_invert(grad_kernel, grad_bias):
        return invert_dense_gradient(grad_kernel, grad_bias)

    assert not check_dense_inversion(my_invert)
    assert capsys.readouterr().out.startswith("Not yet: my_invert calls invert_dense_gradient from fldp_teach")
