"""Notebook-11 checkers accept answers written from the formula, reject typical wrong ones with
a hint, and refuse a wrapper of the library's answer."""
from __future__ import annotations

import math

from fldp_teach.exercises.distributed_dp import check_local_noise_ratio, check_share_stddev
from fldp_teach.plots.distributed_dp import noise_stddevs


def test_share_stddev_checker(capsys):
    assert check_share_stddev(lambda z, c, m: z * c / math.sqrt(m))
    assert "Correct." in capsys.readouterr().out
    assert not check_share_stddev(lambda z, c, m: z * c / m)
    assert "MEAN" in capsys.readouterr().out
    assert not check_share_stddev(lambda z, c, m: (z * c) ** 2 / m)
    assert "variance" in capsys.readouterr().out
    assert not check_share_stddev(lambda z, c, m: 2 * z * c / math.sqrt(m))
    assert "add/remove" in capsys.readouterr().out
    assert not check_share_stddev(lambda z, c, m: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_share_stddev_refuses_a_wrapper(capsys):
    def my_share_stddev(z, c, m):
        return noise_stddevs(noise_multiplier=z, clip_norm=c, clients_per_round=m)["distributed"][0]

    assert not check_share_stddev(my_share_stddev)
    assert capsys.readouterr().out.startswith("Not yet: my_share_stddev calls noise_stddevs from fldp_teach")


def test_local_noise_ratio_checker(capsys):
    assert check_local_noise_ratio(math.sqrt)
    assert not check_local_noise_ratio(lambda m: m)
    assert "not by m" in capsys.readouterr().out
    assert not check_local_noise_ratio(lambda m: 1 / math.sqrt(m))
    assert "inverted" in capsys.readouterr().out
    assert not check_local_noise_ratio(lambda m: [m])
    assert "not a number" in capsys.readouterr().out


def test_local_noise_ratio_refuses_a_wrapper(capsys):
    def my_local_noise_ratio(m):
        s = noise_stddevs(noise_multiplier=1.0, clip_norm=1.0, clients_per_round=m)
        return s["local"][1] / s["central"][1]

    assert not check_local_noise_ratio(my_local_noise_ratio)
    assert "calls noise_stddevs from fldp_teach" in capsys.readouterr().out
