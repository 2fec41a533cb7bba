"""Notebook-13 checkers accept the library's answers and reject typical wrong ones with a hint."""
from __future__ import annotations

from fldp_teach.dp_fedavg import central_epsilon
from fldp_teach.exercises.flower import check_flower_epsilon, check_node_config


def test_node_config_checker(capsys):
    assert check_node_config(lambda i, n: f"partition-id={i} num-partitions={n}")
    assert "Correct." in capsys.readouterr().out
    assert not check_node_config(lambda i, n: f"partition_id={i} num_partitions={n}")
    assert "dashes" in capsys.readouterr().out
    assert not check_node_config(lambda i, n: f"partition-id={i + 1} num-partitions={n}")
    assert "from 0" in capsys.readouterr().out
    assert not check_node_config(lambda i, n: f"partition-id={i},num-partitions={n}")
    assert "comma" in capsys.readouterr().out
    assert not check_node_config(lambda i, n: ...)
    assert "nothing yet" in capsys.readouterr().out
    assert not check_node_config(lambda i, n: 1 / 0)
    assert "raised" in capsys.readouterr().out


def _library(cfg, q=None, last=False):
    rounds = range(cfg["rounds"], cfg["rounds"] + 1) if last else range(1, cfg["rounds"] + 1)
    eps = [central_epsilon(noise_multipliers=[cfg["noise-multiplier"]] * r,
                           sampling_rate=cfg["sampling-rate"] if q is None else q, delta=cfg["delta"])
           for r in rounds]
    return eps * cfg["rounds"] if last else eps


def test_flower_epsilon_checker(capsys):
    assert check_flower_epsilon(_library)
    assert "Correct." in capsys.readouterr().out
    assert not check_flower_epsilon(lambda cfg: _library(cfg, q=1.0))
    assert "sampling rate" in capsys.readouterr().out
    assert not check_flower_epsilon(lambda cfg: _library(cfg, last=True))
    assert "first r rounds" in capsys.readouterr().out
    assert not check_flower_epsilon(lambda cfg: _library(cfg)[:1])
    assert "one ε per round" in capsys.readouterr().out
    assert not check_flower_epsilon(lambda cfg: ...)
    assert "nothing yet" in capsys.readouterr().out
