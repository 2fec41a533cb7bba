"""plots.clipping: the trade-off curves are the library's bias/variance, with hand-checkable
limits; the adaptive trajectory is the library's update iterated; figures are labelled."""
import math

import numpy as np
import pytest

from fldp_teach.clipping import adaptive_clip_norm_update, clipped_mean_bias_variance
from fldp_teach.plots.clipping import (
    adaptive_clipping_trajectory,
    clipping_tradeoff_curves,
    plot_adaptive_clipping,
    plot_clipping_tradeoff,
    plot_norm_histogram,
)


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    return rng.normal(size=(200, 5)) * rng.exponential(1.0, size=(200, 1)) + 0.3


def test_curves_by_hand(vectors):
    b, d = vectors.shape
    norms = np.linalg.norm(vectors, axis=1)
    grid = np.array([1e-6, 0.5, 1.0, norms.max() * 1.01])
    c = clipping_tradeoff_curves(vectors, clip_norms=grid, noise_multiplier=2.0)
    np.testing.assert_allclose(c["noise_stddev"], 2.0 * grid / b)           # zC/B
    assert c["bias"][-1] == 0.0 and c["fraction_clipped"][-1] == 0.0        # C above every norm
    # C → 0: the clipped mean vanishes, the bias is ‖mean‖
    assert math.isclose(c["bias"][0], np.linalg.norm(vectors.mean(axis=0)), rel_tol=1e-4)
    e = clipped_mean_bias_variance(vectors, clip_norm=1.0, noise_multiplier=2.0)
    assert math.isclose(c["rmse"][2], math.sqrt(e.bias**2 + d * (2.0 * 1.0 / b) ** 2))
    i = int(np.argmin(c["rmse"]))
    best = c["best_clip_norm"]
    assert grid[max(i - 1, 0)] <= best <= grid[min(i + 1, len(grid) - 1)]
    assert clipped_mean_bias_variance(vectors, clip_norm=best, noise_multiplier=2.0).mse <= c["rmse"][i] ** 2


def test_the_sweet_spot_does_not_depend_on_the_grid():
    """Issue 15: notebook 04's table (200-point grid) said C ≈ 7.67 and its widget (60 points)
    C ≈ 7.60; the refined minimiser is the same C on both grids."""
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(64, 20)) * rng.lognormal(1.0, 0.8, size=(64, 1))
    fine = clipping_tradeoff_curves(vectors, clip_norms=np.geomspace(0.05, 50, 200), noise_multiplier=1.0)
    coarse = clipping_tradeoff_curves(vectors, clip_norms=np.geomspace(0.03, 80, 60), noise_multiplier=1.0)
    assert f"{fine['best_clip_norm']:.2f}" == f"{coarse['best_clip_norm']:.2f}"


def test_plots_are_labelled(vectors):
    fig = plot_clipping_tradeoff(vectors, 1.0, noise_multiplier=1.0)
    ax_h, ax_t = fig.axes
    labels = [l.get_label() for l in ax_t.get_lines()]
    assert any(s.startswith("bias") for s in labels) and any(s.startswith("noise") for s in labels)
    assert any(s.startswith("RMSE") for s in labels) and any("sweet spot" in s for s in labels)
    assert all(a.get_xlabel() and a.get_ylabel() and a.get_title() for a in fig.axes)
    fig = plot_norm_histogram(np.array([0.5, 1.5, 2.5, 3.5]), 2.0)
    assert fig.axes[0].get_title().startswith("50%")
    with pytest.raises(ValueError, match="clip_norm"):
        plot_norm_histogram(np.ones(3), 0.0)
    with pytest.raises(ValueError, match="vectors"):
        plot_clipping_tradeoff(np.ones(3), 1.0)


def test_adaptive_trajectory_iterates_the_library_update():
    rng = np.random.default_rng(1)
    batches = [rng.exponential(2.0, size=32) for _ in range(5)]
    path = adaptive_clipping_trajectory(batches, clip_norm=1.0, target_quantile=0.5, learning_rate=0.2,
                                        count_stddev=1.6, seed=7)
    c = 1.0
    for t, norms in enumerate(batches):
        c, _ = adaptive_clip_norm_update(norms, clip_norm=c, target_quantile=0.5, learning_rate=0.2,
                                         count_stddev=1.6, seed=7 + t)
        assert math.isclose(path[t + 1], c)


def test_adaptive_clipping_reaches_the_median():
    norms = np.random.default_rng(2).exponential(3.0, size=1000)
    fig = plot_adaptive_clipping(norms, clip_norm=0.1, rounds=120, batch_size=100, seed=0)
    path = fig.axes[0].get_lines()[0].get_ydata()
    median = np.median(norms)
    assert abs(np.log(np.mean(path[-30:]) / median)) < 0.15
