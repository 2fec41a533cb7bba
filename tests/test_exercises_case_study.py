"""Notebook-10 checkers accept the library's answers and reject typical wrong ones with a hint."""
from __future__ import annotations

from fldp_teach.dp_fedavg import record_level_epsilon
from fldp_teach.exercises.case_study import check_global_merge, check_schedule_epsilon
from fldp_teach.fedavg import ClientUpdate
from fldp_teach.seed_api import global_merge_fn


def test_global_merge_checker(capsys):
    assert check_global_merge(lambda u, s: global_merge_fn([ClientUpdate(x, num_examples=1) for x in u], s)[0])
    assert "Correct." in capsys.readouterr().out
    assert not check_global_merge(lambda u, s: [(sum(x[j] for x in u) + 0.0) / w for j, w in enumerate(s)])
    assert "not an average" in capsys.readouterr().out
    assert not check_global_merge(lambda u, s: [w + sum(x[j] for x in u) for j, w in enumerate(s)])
    assert "SUM" in capsys.readouterr().out
    assert not check_global_merge(lambda u, s: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_schedule_epsilon_checker(capsys):
    def library(schedule, n, b, d):
        return record_level_epsilon(noise_multipliers=schedule, participations=[list(range(len(schedule)))],
                                    num_examples=[n], batch_size=b, local_epochs=1, delta=d)
    assert check_schedule_epsilon(library)
    assert "Correct." in capsys.readouterr().out
    assert not check_schedule_epsilon(lambda s, n, b, d: library(s, n, n, d))
    assert "not one step" in capsys.readouterr().out
    assert not check_schedule_epsilon(lambda s, n, b, d: library(s[:1], n, b, d))
    assert "every phase" in capsys.readouterr().out
