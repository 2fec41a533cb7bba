"""Figures of notebook 13: ROC curves against the DP limit, advantage vs ε with the bound,
group privacy, reconstruction grids."""
import math

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from fldp_teach.membership_experiment import MembershipTrial
from fldp_teach.membership import (chance_advantage, dp_advantage_bound, dp_max_tpr,
                                   group_privacy, loss_threshold_attack)
from fldp_teach.plots.attacks import (plot_advantage_vs_epsilon, plot_batch_mix, plot_group_privacy,
                                      plot_inversion_at_noise, plot_reconstructions, plot_roc_curves)

matplotlib.use("Agg")


def _trial(label, epsilon, shift, seed):
    rng = np.random.default_rng(seed)
    lm, ln = rng.exponential(1.0, 50) * shift, rng.exponential(1.0, 60)
    return MembershipTrial(label=label, epsilon=epsilon, noise_multiplier=0.0, member_losses=lm,
                           nonmember_losses=ln, member_accuracy=1.0, nonmember_accuracy=0.8,
                           attack=loss_threshold_attack(lm, ln))


@pytest.fixture
def trials():
    return [_trial("no DP", math.inf, 0.2, 0), _trial("DP-SGD, ε = 2", 2.0, 0.8, 1),
            _trial("DP-SGD, ε = 0.5", 0.5, 1.0, 2)]


def _sweep():
    from fldp_teach.inversion import NoiseSweep

    rng = np.random.default_rng(0)
    x = rng.random(64)
    zs = np.array([0.0, 0.01, 0.1, 1.0])
    rec = x + zs[:, None, None] * rng.normal(size=(4, 3, 64)) * 10
    sim = np.array([[float(r @ x / np.linalg.norm(r) / np.linalg.norm(x)) for r in row] for row in rec])
    err = np.array([[float(np.linalg.norm(r - x) / np.linalg.norm(x)) for r in row] for row in rec])
    return NoiseSweep(noise_multipliers=zs, reconstructions=rec, similarity=sim, error=err, original=x,
                      raw=x.copy(), clip_norm=1.0, seed=0)


def test_roc_plot_has_one_line_per_model_and_the_dp_limit(trials):
    fig = plot_roc_curves(trials, epsilon=1.0, delta=1e-5)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [l.get_label() for l in ax.get_lines()]
    assert labels[:3] == [f"{t.label} (AUC = {t.attack.auc:.3f})" for t in trials]
    assert labels[3] == "guessing (TPR = FPR)" and labels[4] == "(1, 1e-05)-DP limit"
    x, y = ax.get_lines()[4].get_data()
    np.testing.assert_allclose(y, dp_max_tpr(x, epsilon=1.0, delta=1e-5))
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), trials[0].attack.fpr)
    assert "FPR" in ax.get_xlabel() and "TPR" in ax.get_ylabel()
    log = plot_roc_curves(trials, log=True).axes[0]
    assert log.get_xscale() == "log" and log.get_yscale() == "log" and len(log.get_lines()) == 4


def test_advantage_plot_shows_bound_points_and_chance(trials):
    ax = plot_advantage_vs_epsilon(trials, delta=1e-5).axes[0]
    lines = ax.get_lines()
    bound = lines[0]
    x, y = bound.get_data()
    np.testing.assert_allclose(y, [dp_advantage_bound(epsilon=e, delta=1e-5) for e in x])
    np.testing.assert_allclose(lines[1].get_xdata(), [2.0, 0.5])
    np.testing.assert_allclose(lines[1].get_ydata(), [trials[1].attack.advantage, trials[2].attack.advantage])
    assert lines[2].get_ydata()[0] == pytest.approx(trials[0].attack.advantage)   # non-private line
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    chance = chance_advantage(num_members=50, num_nonmembers=60)
    assert f"chance level (no information, 95 %): {chance:.2f}" in legend
    assert ax.get_xscale() == "log" and "varepsilon" in ax.get_xlabel()


def test_group_privacy_plot_grows_with_k():
    ax = plot_group_privacy(epsilon=0.5, delta=1e-5, max_group_size=6).axes[0]
    k, y = ax.get_lines()[0].get_data()
    np.testing.assert_array_equal(k, np.arange(1, 7))
    e3, d3 = group_privacy(epsilon=0.5, delta=1e-5, group_size=3)
    assert y[2] == pytest.approx(dp_advantage_bound(epsilon=e3, delta=d3))
    assert np.all(np.diff(y) > 0) and ax.get_xlabel().startswith("group size k")


def test_reconstruction_grid_and_inversion_figure():
    sweep = _sweep()
    fig = plot_reconstructions(sweep, noise_multipliers=[0.01, 1.0])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["original x", "raw update"]
    assert titles[2] == f"z = 0.01\nsim = {sweep.similarity[1, 0]:.2f}" and len(fig.axes) == 4
    np.testing.assert_allclose(fig.axes[3].get_images()[0].get_array(), sweep.reconstructions[3, 0].reshape(8, 8))
    fig = plot_inversion_at_noise(sweep, 0.1)
    curve = fig.axes[2]
    x, y = curve.get_lines()[0].get_data()
    np.testing.assert_allclose(x, [0.01, 0.1, 1.0])
    np.testing.assert_allclose(y, sweep.similarity[1:].mean(axis=1))
    assert fig.axes[1].get_title() == "from DP update, z = 0.1"
    assert curve.get_xscale() == "log" and "z" in curve.get_xlabel()


def test_batch_mix_figure():
    rng = np.random.default_rng(0)
    x = rng.random((3, 64))
    fig = plot_batch_mix(x, [4, 7, 1], x[::-1], [0.9, 1.2, 1.5])
    assert len(fig.axes) == 6
    assert fig.axes[1].get_title() == "example 0 (label 4)" or fig.axes[0].get_title() == "example 0 (label 4)"
    assert "w = 1.20" in " ".join(ax.get_title() for ax in fig.axes)
