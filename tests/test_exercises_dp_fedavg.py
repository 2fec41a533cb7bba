"""Checkers of notebook 10 accept the library's answer and reject wrong ones with a hint."""
import math

from fldp_teach.accounting import calibrate_noise_multiplier
from fldp_teach.exercises.dp_fedavg import check_noise_for_target_epsilon, check_server_noise_stddev


def test_server_noise_checker(capsys):
    assert check_server_noise_stddev(lambda z, c, m: z * c / m)
    assert "Correct." in capsys.readouterr().out
    assert not check_server_noise_stddev(lambda z, c, m: z * c)
    assert "std on the sum" in capsys.readouterr().out
    assert not check_server_noise_stddev(lambda z, c, m: z * c / math.sqrt(m))
    assert "LOCAL DP" in capsys.readouterr().out
    assert not check_server_noise_stddev(lambda z, c, m: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_noise_for_target_checker(capsys):
    setting = dict(target_epsilon=2.0, sampling_rate=0.01, rounds=200, delta=1e-5)
    best = calibrate_noise_multiplier(target_epsilon=2.0, sampling_rate=0.01, steps=200, delta=1e-5)
    assert check_noise_for_target_epsilon(best, **setting)
    assert "Correct." in capsys.readouterr().out
    assert not check_noise_for_target_epsilon(best * 0.9, **setting)
    assert "add more noise" in capsys.readouterr().out
    assert not check_noise_for_target_epsilon(best * 2, **setting)
    assert "more noise than needed" in capsys.readouterr().out
    assert not check_noise_for_target_epsilon(..., **setting)
    assert not check_noise_for_target_epsilon("lots", **setting)
    assert not check_noise_for_target_epsilon(-1.0, **setting)
