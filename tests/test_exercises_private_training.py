"""Checkers of notebook 05 accept the library's answer and reject wrong ones with a hint."""
from __future__ import annotations

import numpy as np

from fldp_teach.clipping import clip_per_example
from fldp_teach.exercises.private_training import check_clipped_sum, check_output_perturbation_sensitivity
from fldp_teach.perturbation import output_perturbation_sensitivity


def test_sensitivity_checker(capsys):
    assert check_output_perturbation_sensitivity(
        lambda n, lam: output_perturbation_sensitivity(num_examples=n, regularization=lam))
    assert not check_output_perturbation_sensitivity(lambda n, lam: 1 / (n * lam))
    assert "factor 2" in capsys.readouterr().out
    assert not check_output_perturbation_sensitivity(lambda n, lam: 2 / n)
    assert "Where is λ" in capsys.readouterr().out
    assert not check_output_perturbation_sensitivity(lambda n, lam: ...)


def test_clipped_sum_checker(capsys):
    assert check_clipped_sum(lambda g, c: clip_per_example(g, clip_norm=c)[0].sum(axis=0))

    def clip_the_sum(g, c):
        s = g.sum(axis=0)
        return s * min(1.0, c / np.linalg.norm(s))

    assert not check_clipped_sum(clip_the_sum)
    assert "clipped the SUM" in capsys.readouterr().out
    assert not check_clipped_sum(lambda g, c: clip_per_example(g, clip_norm=c)[0].mean(axis=0))
    assert "returned the mean" in capsys.readouterr().out
    assert not check_clipped_sum(lambda g, c: None)
