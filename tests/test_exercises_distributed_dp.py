"""Notebook-09 checkers accept the library's answers and reject typical wrong ones with a hint."""
from __future__ import annotations

import math

from fldp_teach.exercises.distributed_dp import check_local_noise_ratio, check_share_stddev
from fldp_teach.plots.distributed_dp import noise_stddevs


def test_share_stddev_checker(capsys):
    assert check_share_stddev(lambda z, c, m: noise_stddevs(noise_multiplier=z, clip_norm=c,
                                                            clients_per_round=m)["distributed"][0])
    assert "Correct." in capsys.readouterr().out
    assert not check_share_stddev(lambda z, c, m: z * c / m)
    assert "MEAN" in capsys.readouterr().out
    assert not check_share_stddev(lambda z, c, m: (z * c) ** 2 / m)
    assert "variance" in capsys.readouterr().out
    assert not check_share_stddev(lambda z, c, m: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_local_noise_ratio_checker(capsys):
    assert check_local_noise_ratio(math.sqrt)
    assert not check_local_noise_ratio(lambda m: m)
    assert "not by m" in capsys.readouterr().out
    assert not check_local_noise_ratio(lambda m: 1 / math.sqrt(m))
    assert "inverted" in capsys.readouterr().out
    assert not check_local_noise_ratio(lambda m: [m])
    assert "not a number" in capsys.readouterr().out
