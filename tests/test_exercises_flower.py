"""Notebook-15 checkers accept a correct answer, reject typical wrong ones with a hint, and refuse a
wrapper of the library (the ε exercise may use central_epsilon, the accountant's tool it names)."""
from __future__ import annotations

from fldp_teach.dp_fedavg import central_epsilon, local_epsilon
from fldp_teach.exercises.flower import check_flower_epsilon, check_node_config
from fldp_teach.flower import FlowerRunConfig


def test_node_config_checker(capsys):
    assert check_node_config(lambda i, n: f"partition-id={i} num-partitions={n}")
    assert "Correct." in capsys.readouterr().out
    assert not check_node_config(lambda i, n: f"partition_id={i} num_partitions={n}")
    assert "dashes" in capsys.readouterr().out
    assert not check_node_config(lambda i, n: f"partition-id={i + 1} num-partitions={n}")
    assert "from 0" in capsys.readouterr().out
    assert not check_node_config(lambda i, n: f"partition-id={i},num-partitions={n}")
    assert "comma" in capsys.readouterr().out
    assert not check_node_config(lambda i, n: "partition-id=0 num-partitions=2")    # the notebook's own node
    assert "expected" in capsys.readouterr().out
    assert not check_node_config(lambda i, n: ...)
    assert "nothing yet" in capsys.readouterr().out
    assert not check_node_config(lambda i, n: 1 / 0)
    assert "raised" in capsys.readouterr().out


def test_node_config_refuses_an_answer_that_calls_the_library(capsys):
    def my_node_config(i, n):
        return f"partition-id={FlowerRunConfig().seed * 0 + i} num-partitions={n}"

    assert not check_node_config(my_node_config)
    assert capsys.readouterr().out.startswith("Not yet: my_node_config calls FlowerRunConfig from fldp_teach")


def _library(cfg, q=None, last=False):
    rounds = range(cfg["rounds"], cfg["rounds"] + 1) if last else range(1, cfg["rounds"] + 1)
    eps = [central_epsilon(noise_multipliers=[cfg["noise-multiplier"]] * r,
                           sampling_rate=cfg["sampling-rate"] if q is None else q, delta=cfg["delta"])
           for r in rounds]
    return eps * cfg["rounds"] if last else eps


def test_flower_epsilon_checker(capsys):
    assert check_flower_epsilon(_library)          # central_epsilon is the allowed tool
    assert "Correct." in capsys.readouterr().out
    assert not check_flower_epsilon(lambda cfg: _library(cfg, q=1.0))
    assert "sampling rate" in capsys.readouterr().out
    assert not check_flower_epsilon(lambda cfg: _library(cfg, last=True))
    assert "first r rounds" in capsys.readouterr().out
    assert not check_flower_epsilon(lambda cfg: _library(cfg)[:1])
    assert "one ε per round" in capsys.readouterr().out
    assert not check_flower_epsilon(lambda cfg: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_flower_epsilon_refuses_other_library_calls(capsys):
    def my_flower_epsilon(run_config):
        z = run_config["noise-multiplier"]
        return [local_epsilon(noise_multipliers=[z] * r, participations=[list(range(r))], delta=run_config["delta"])
                for r in range(1, run_config["rounds"] + 1)]

    assert not check_flower_epsilon(my_flower_epsilon)
    out = capsys.readouterr().out
    assert out.startswith("Not yet: my_flower_epsilon calls local_epsilon from fldp_teach")
    assert "(you may use central_epsilon)" in out

    def via_config(run_config):
        cfg = FlowerRunConfig.from_run_config(run_config)
        return [central_epsilon(noise_multipliers=[cfg.noise_multiplier] * r, sampling_rate=cfg.sampling_rate,
                                delta=cfg.delta) for r in range(1, cfg.rounds + 1)]

    assert not check_flower_epsilon(via_config)
    assert "calls FlowerRunConfig from fldp_teach" in capsys.readouterr().out
