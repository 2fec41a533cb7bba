"""Checkers of notebook 13 accept the library's answer and reject wrong ones with a hint."""
import math

import numpy as np

from fldp_teach.exercises.attacks import check_advantage_bound, check_dense_inversion
from fldp_teach.inversion import invert_dense_gradient
from fldp_teach.membership import dp_advantage_bound


def test_advantage_bound_checker(capsys):
    assert check_advantage_bound(lambda e, d: dp_advantage_bound(epsilon=e, delta=d))
    assert "Correct." in capsys.readouterr().out
    assert not check_advantage_bound(lambda e, d: math.tanh(e / 2))
    assert "δ" in capsys.readouterr().out
    assert not check_advantage_bound(lambda e, d: math.exp(e) / (1 + math.exp(e)))
    assert "success probability" in capsys.readouterr().out
    assert not check_advantage_bound(lambda e, d: ...)
    assert "nothing yet" in capsys.readouterr().out
    assert not check_advantage_bound(lambda e, d: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_dense_inversion_checker(capsys):
    assert check_dense_inversion(lambda G, g: invert_dense_gradient(G, g))
    assert "Correct." in capsys.readouterr().out
    assert not check_dense_inversion(lambda G, g: G[:, 0] / g[0])          # dead unit 0 in one case
    assert "nan" in capsys.readouterr().out or "nonzero" in capsys.readouterr().out
    assert not check_dense_inversion(lambda G, g: G[0, :] / g)             # a row, not a column
    assert "ROW" in capsys.readouterr().out
    assert not check_dense_inversion(lambda G, g: np.ones(G.shape[0]))
    assert "COLUMN" in capsys.readouterr().out
