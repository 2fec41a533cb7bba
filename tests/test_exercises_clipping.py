"""exercises.clipping: checkers accept right answers written with numpy, reject wrong ones with a
hint (the naive 0/0 clip and per-layer clipping included), refuse wrappers of the library, and
never raise or warn."""
import math
import warnings

import numpy as np

from fldp_teach.clipping import adaptive_clip_norm_update, clip_by_l2_norm
from fldp_teach.exercises.clipping import adaptive_step, check_adaptive_step, check_clip_update, check_min_batch_size


def clip_update(layers, c):
    norm = math.sqrt(sum(float(np.sum(np.square(t))) for t in layers))
    factor = 1.0 if norm <= c else c / norm
    return [t * factor for t in layers]


def test_clip_update(capsys):
    assert check_clip_update(clip_update)
    assert "Correct." in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the naive answer's 0/0 must not escape as a RuntimeWarning

        def naive(layers, c):
            norm = math.sqrt(sum(float(np.sum(t * t)) for t in layers))
            return [t * min(1.0, c / np.float64(norm)) if norm else t / norm for t in layers]

        assert not check_clip_update(naive)
    assert "all-zero update" in capsys.readouterr().out

    def per_layer(layers, c):
        return [t * min(1.0, c / np.linalg.norm(t)) if np.linalg.norm(t) else t for t in layers]

    assert not check_clip_update(per_layer)
    assert "each layer to C on its own" in capsys.readouterr().out
    assert not check_clip_update(lambda layers, c: np.concatenate([np.ravel(t) for t in layers]))
    assert "original shape" in capsys.readouterr().out
    assert not check_clip_update(lambda layers, c: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_clip_update_refuses_a_wrapper_of_the_library(capsys):
    def my_clip_update(layers, clip_norm):
        return clip_by_l2_norm(layers, clip_norm=clip_norm)[0]

    assert not check_clip_update(my_clip_update)
    assert capsys.readouterr().out.startswith("Not yet: my_clip_update calls clip_by_l2_norm from fldp_teach")


def test_min_batch_size(capsys):
    assert check_min_batch_size(lambda z, c, d, t: math.ceil(math.sqrt(d) * z * c / t))
    assert "Correct." in capsys.readouterr().out
    assert not check_min_batch_size(lambda z, c, d, t: math.sqrt(d) * z * c / t)
    assert "round UP" in capsys.readouterr().out
    assert not check_min_batch_size(lambda z, c, d, t: math.floor(math.sqrt(d) * z * c / t))
    assert "ABOVE" in capsys.readouterr().out
    assert not check_min_batch_size(lambda z, c, d, t: math.ceil(z * c / t))
    assert "√d times" in capsys.readouterr().out
    assert not check_min_batch_size(lambda z, c, d, t: math.ceil(d * z * c / t))
    assert "√d, not d" in capsys.readouterr().out
    assert not check_min_batch_size(lambda z, c, d, t: math.ceil((math.sqrt(d) * z * c / t) ** 2))
    assert "not zC/√B" in capsys.readouterr().out
    assert not check_min_batch_size(lambda z, c, d, t: None)


def test_adaptive_step_reference_is_the_library_step():
    norms = np.abs(np.random.default_rng(0).normal(1.0, 1.0, size=50))
    for c, gamma, eta in ((1.0, 0.5, 0.2), (2.0, 0.9, 1.0)):
        want, _ = adaptive_clip_norm_update(norms, clip_norm=c, target_quantile=gamma, learning_rate=eta,
                                            count_stddev=0.0)
        assert math.isclose(adaptive_step(norms, clip_norm=c, target_quantile=gamma, learning_rate=eta,
                                          count_noise=0.0), want, rel_tol=1e-12)


def test_adaptive_step(capsys):
    def right(norms, c, gamma, eta, noise):
        b_tilde = np.mean(np.asarray(norms) <= c) + noise / len(norms)
        return c * math.exp(-eta * (b_tilde - gamma))

    assert check_adaptive_step(right)
    assert "Correct." in capsys.readouterr().out
    assert not check_adaptive_step(lambda n, c, g, e, z: c * math.exp(e * (np.mean(n <= c) + z / len(n) - g)))
    assert "SHRINK" in capsys.readouterr().out
    assert not check_adaptive_step(lambda n, c, g, e, z: c * math.exp(-e * (np.mean(n <= c) + z - g)))
    assert "divide it by m" in capsys.readouterr().out
    assert not check_adaptive_step(lambda n, c, g, e, z: c * math.exp(-e * (np.mean(n <= c) - g)))
    assert "bits are private" in capsys.readouterr().out
    assert not check_adaptive_step(lambda n, c, g, e, z: c * math.exp(-e * (np.mean(n < c) + z / len(n) - g)))
    assert "‖g‖ ≤ C" in capsys.readouterr().out
    assert not check_adaptive_step(lambda n, c, g, e, z: ...)


def test_adaptive_step_refuses_a_wrapper_of_the_library(capsys):
    def my_adaptive_step(norms, clip_norm, target_quantile, learning_rate, count_noise):
        return adaptive_clip_norm_update(norms, clip_norm=clip_norm, target_quantile=target_quantile,
                                         learning_rate=learning_rate, count_stddev=0.0)[0]

    assert not check_adaptive_step(my_adaptive_step)
    assert "calls adaptive_clip_norm_update from fldp_teach" in capsys.readouterr().out
