"""exercises.clipping: checkers accept the library's answers, reject wrong ones with a hint (the
naive 0/0 clip included) and never raise or warn."""
import math
import warnings

import numpy as np

from fldp_teach.clipping import adaptive_clip_norm_update, clip_by_l2_norm
from fldp_teach.exercises.clipping import check_adaptive_step, check_clip, check_noise_stddev


def test_clip(capsys):
    assert check_clip(lambda v, c: clip_by_l2_norm(v, clip_norm=c)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the naive answer's 0/0 must not escape as a RuntimeWarning
        # direction × length: 0/0 on the zero vector
        assert not check_clip(lambda v, c: v / np.linalg.norm(v) * min(np.linalg.norm(v), c))
    assert "zero vector" in capsys.readouterr().out
    assert not check_clip(lambda v, c: c * v / np.linalg.norm(v))
    assert "inside the ball" in capsys.readouterr().out
    assert not check_clip(lambda v, c: ...)


def test_noise_stddev(capsys):
    assert check_noise_stddev(lambda z, c, b: z * c / b)
    assert not check_noise_stddev(lambda z, c, b: z * c / math.sqrt(b))
    assert "√B" in capsys.readouterr().out
    assert not check_noise_stddev(lambda z, c, b: None)


def test_adaptive_step(capsys):
    assert check_adaptive_step(lambda n, c, g, e: adaptive_clip_norm_update(
        n, clip_norm=c, target_quantile=g, learning_rate=e, count_stddev=0.0)[0])
    assert not check_adaptive_step(lambda n, c, g, e: c * math.exp(e * (np.mean(n <= c) - g)))
    assert "SHRINK" in capsys.readouterr().out
    assert not check_adaptive_step(lambda n, c, g, e: ...)
