"""Checkers of notebook 09 accept a correct answer written with numpy, reject typical wrong
ones with a hint, and refuse a wrapper of the library's answer."""
import numpy as np

from fldp_teach import fedavg
from fldp_teach.exercises.fedavg import (check_fedavg_from_broadcast, check_round_bytes, check_weighted_average,
                                         toy_fedavg)
from fldp_teach.models import count_parameters


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
    assert not check_weighted_average(lambda u, n: sum(k * x for k, x in zip(n, u)))
    assert "divide by n" in capsys.readouterr().out
    assert not check_weighted_average(unfinished)
    assert "nothing yet" in capsys.readouterr().out
    assert not check_weighted_average(broken)
    assert "KeyError" in capsys.readouterr().out


def test_weighted_average_refuses_a_wrapper_of_aggregate(capsys):
    def wrapper(updates, num_examples):
        records = [fedavg.ClientUpdate(update=[u], num_examples=n) for u, n in zip(updates, num_examples)]
        return fedavg.aggregate(records, weighting="num_examples")[0]

    assert not check_weighted_average(wrapper)
    out = capsys.readouterr().out
    assert out.startswith("Not yet: wrapper calls") and "fldp_teach" in out


def test_round_bytes_checker(capsys):
    assert check_round_bytes(lambda p, m: 2 * m * 4 * p)
    assert "Correct." in capsys.readouterr().out
    assert not check_round_bytes(lambda p, m: m * 4 * p)
    assert "one direction" in capsys.readouterr().out
    assert not check_round_bytes(lambda p, m: 2 * m * p)
    assert "parameters, not bytes" in capsys.readouterr().out
    assert not check_round_bytes(lambda p, m: 2 * m * 8 * p)
    assert "float64" in capsys.readouterr().out
    assert not check_round_bytes(lambda p, m: "many")
    assert "not a number" in capsys.readouterr().out


def test_round_bytes_refuses_a_wrapper_of_weights_nbytes(capsys):
    def wrapper(num_parameters, clients_per_round):
        return 2 * clients_per_round * fedavg.weights_nbytes([np.zeros(num_parameters, dtype=np.float32)])

    assert not check_round_bytes(wrapper)
    assert "Not yet: wrapper calls" in capsys.readouterr().out

    def counts(num_parameters, clients_per_round):   # any library name is refused, not only the answer's
        return count_parameters and 8 * num_parameters * clients_per_round

    assert not check_round_bytes(counts)
    assert "count_parameters" in capsys.readouterr().out


def fedavg_rounds(theta_0, centres, curvatures, rounds, local_steps, lr, sync=True):
    """The exercise's answer written out plainly (one client at a time)."""
    theta_g = np.array(theta_0, dtype=float)
    own = [theta_g.copy() for _ in centres]
    for _ in range(rounds):
        models = []
        for k, (c, a) in enumerate(zip(centres, curvatures)):
            theta = theta_g.copy() if sync else own[k]
            for _ in range(local_steps):
                theta = theta - lr * a * (theta - np.asarray(c))
            own[k] = theta
            models.append(theta)
        theta_g = np.mean(models, axis=0)
    return theta_g


def test_fedavg_from_broadcast_checker(capsys):
    assert check_fedavg_from_broadcast(fedavg_rounds)
    assert "Correct." in capsys.readouterr().out
    assert not check_fedavg_from_broadcast(lambda *args: fedavg_rounds(*args, sync=False))
    assert "broadcast" in capsys.readouterr().out
    assert not check_fedavg_from_broadcast(lambda t, c, a, r, s, lr: fedavg_rounds(t, c, a, r, 1, lr))
    assert "local_steps gradient steps" in capsys.readouterr().out
    assert not check_fedavg_from_broadcast(lambda t, c, a, r, s, lr: [fedavg_rounds(t, c, a, r, s, lr)] * r)
    assert "shape" in capsys.readouterr().out
    assert not check_fedavg_from_broadcast(lambda *args: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_fedavg_from_broadcast_refuses_library_calls(capsys):
    def wrapper(theta_0, centres, curvatures, rounds, local_steps, lr):
        return toy_fedavg(theta_0, centres, curvatures, rounds, local_steps, lr)

    assert not check_fedavg_from_broadcast(wrapper)
    assert "Not yet: wrapper calls toy_fedavg" in capsys.readouterr().out


def test_toy_fedavg_fixed_points():
    """One local step is gradient descent on (1/K) Σ F_k (minimum Σ a_k c_k / Σ a_k = 0.9 here);
    never synced, the average goes to the plain mean of the c_k (0.5); more local steps drift."""
    args = ([0.5], [[0.0], [1.0]], [1.0, 9.0], 400)
    assert np.allclose(toy_fedavg(*args, 1, 0.1), 0.9)
    assert np.allclose(toy_fedavg(*args, 1, 0.1, sync=False), 0.5)
    assert 0.5 < toy_fedavg(*args, 5, 0.1)[0] < 0.9
