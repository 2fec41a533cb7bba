"""Checkers of notebook 10 accept a correct answer written from the formula (or a search that
uses only the accountant's ε), reject typical wrong ones with a hint, and refuse a wrapper of
the library's answer."""
import math

from fldp_teach.accounting import calibrate_noise_multiplier, dp_sgd_epsilon
from fldp_teach.exercises.dp_fedavg import check_noise_for_target_epsilon, check_server_noise_stddev
from fldp_teach.plots.dp_fedavg import server_noise_stddev


def test_server_noise_checker(capsys):
    assert check_server_noise_stddev(lambda z, c, m: z * c / m)
    assert "Correct." in capsys.readouterr().out
    assert not check_server_noise_stddev(lambda z, c, m: z * c)
    assert "std on the sum" in capsys.readouterr().out
    assert not check_server_noise_stddev(lambda z, c, m: z * c / math.sqrt(m))
    assert "LOCAL DP" in capsys.readouterr().out
    assert not check_server_noise_stddev(lambda z, c, m: (z * c / m) ** 2)
    assert "variance" in capsys.readouterr().out
    assert not check_server_noise_stddev(lambda z, c, m: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_server_noise_refuses_a_wrapper(capsys):
    def my_server_noise_stddev(z, c, m):
        return server_noise_stddev(noise_multiplier=z, clip_norm=c, clients_per_round=m)

    assert not check_server_noise_stddev(my_server_noise_stddev)
    assert capsys.readouterr().out.startswith(
        "Not yet: my_server_noise_stddev calls server_noise_stddev from fldp_teach")


def bisect(target_epsilon, sampling_rate, rounds, delta, *, q_used=None, iterations=40):
    q = sampling_rate if q_used is None else q_used
    lo, hi = 0.05, 500.0
    for _ in range(iterations):
        mid = math.sqrt(lo * hi)
        if dp_sgd_epsilon(sampling_rate=q, noise_multiplier=mid, steps=rounds, delta=delta) <= target_epsilon:
            hi = mid
        else:
            lo = mid
    return hi


def test_noise_for_target_checker(capsys):
    assert check_noise_for_target_epsilon(bisect)
    assert "Correct." in capsys.readouterr().out
    assert not check_noise_for_target_epsilon(lambda e, q, t, d: bisect(e, q, t, d) * 0.95)
    assert "exceeds the target" in capsys.readouterr().out
    assert not check_noise_for_target_epsilon(lambda e, q, t, d: bisect(e, q, t, d) * 1.2)
    assert "more noise than needed" in capsys.readouterr().out
    assert not check_noise_for_target_epsilon(lambda e, q, t, d: bisect(e, q, t, d, q_used=1.0))
    assert "sampling_rate=q" in capsys.readouterr().out
    assert not check_noise_for_target_epsilon(lambda e, q, t, d: e)
    assert "not a noise multiplier" in capsys.readouterr().out
    assert not check_noise_for_target_epsilon(lambda e, q, t, d: ...)
    assert "nothing yet" in capsys.readouterr().out
    assert not check_noise_for_target_epsilon(lambda e, q, t, d: -1.0)
    assert "positive" in capsys.readouterr().out


def test_noise_for_target_refuses_a_wrapper_of_calibrate(capsys):
    def my_noise_for_epsilon(target_epsilon, sampling_rate, rounds, delta):
        return calibrate_noise_multiplier(target_epsilon=target_epsilon, sampling_rate=sampling_rate,
                                          steps=rounds, delta=delta)

    assert not check_noise_for_target_epsilon(my_noise_for_epsilon)
    out = capsys.readouterr().out
    assert out.startswith("Not yet: my_noise_for_epsilon calls calibrate_noise_multiplier from fldp_teach")
    assert "you may use dp_sgd_epsilon" in out
