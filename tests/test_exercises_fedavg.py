"""Checkers of notebook 09 accept the library's answer and reject wrong ones with a hint."""
import numpy as np

from fldp_teach.exercises.fedavg import check_round_bytes, check_weighted_average


def test_weighted_average_checker(capsys):
    def right(updates, num_examples):
        n = np.asarray(num_examples, dtype=float)
        return sum(w * u for w, u in zip(n / n.sum(), updates))

    def unweighted(updates, num_examples):
        return sum(updates) / len(updates)

    def unfinished(updates, num_examples):
        ...

    def broken(updates, num_examples):
        raise KeyError("x")

    assert check_weighted_average(right)
    assert "Correct." in capsys.readouterr().out
    assert not check_weighted_average(unweighted)
    assert "unweighted mean" in capsys.readouterr().out
    assert not check_weighted_average(unfinished)
    assert "nothing yet" in capsys.readouterr().out
    assert not check_weighted_average(broken)
    assert "KeyError" in capsys.readouterr().out


def test_round_bytes_checker(capsys):
    assert check_round_bytes(lambda p, m: 2 * m * 4 * p)
    assert "Correct." in capsys.readouterr().out
    assert not check_round_bytes(lambda p, m: m * 4 * p)
    assert "one direction" in capsys.readouterr().out
    assert not check_round_bytes(lambda p, m: 2 * m * p)
    assert "parameters, not bytes" in capsys.readouterr().out
    assert not check_round_bytes(lambda p, m: "many")
    assert "not a number" in capsys.readouterr().out
