"""Figures of notebook 10: server noise, ε over rounds, one client's bounded influence,
privacy–utility curve, clip-norm trace."""
import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from fldp_teach.accounting import dp_sgd_epsilon
from fldp_teach.dp_fedavg import central_dp_aggregate
from fldp_teach.fedavg import ClientUpdate
from fldp_teach.plots.dp_fedavg import (
    epsilon_over_rounds, one_client_shift, plot_clip_norm_trace, plot_epsilon_over_rounds,
    plot_one_client_shift, plot_privacy_utility, server_noise_stddev)
from fldp_teach.simulation import History

matplotlib.use("Agg")


def test_server_noise_stddev_is_zC_over_m_and_matches_the_aggregator():
    assert server_noise_stddev(noise_multiplier=1.0, clip_norm=1.0, clients_per_round=100) == 0.01
    assert server_noise_stddev(noise_multiplier=1.1, clip_norm=0.5, clients_per_round=20) == pytest.approx(0.0275)
    ups = [ClientUpdate(update=[np.zeros(4000)], num_examples=1) for _ in range(20)]
    mean, info = central_dp_aggregate(ups, clip_norm=0.5, noise_multiplier=1.1,
                                      expected_clients_per_round=20, seed=3)
    assert info["noise_stddev_of_mean"] == pytest.approx(0.0275)
    assert np.std(mean[0]) == pytest.approx(0.0275, rel=0.05)     # 4000 draws: SE of the std ≈ 1.1 %
    with pytest.raises(ValueError, match="clients_per_round"):
        server_noise_stddev(noise_multiplier=1.0, clip_norm=1.0, clients_per_round=0)


def test_epsilon_over_rounds_equals_the_accountant_and_grows():
    rounds = [0, 1, 7, 50]
    eps = epsilon_over_rounds(noise_multiplier=1.3, sampling_rate=0.05, rounds=rounds, delta=1e-5)
    want = [dp_sgd_epsilon(sampling_rate=0.05, noise_multiplier=1.3, steps=t, delta=1e-5) for t in rounds]
    np.testing.assert_allclose(eps, want, rtol=1e-12)
    assert eps[0] == 0.0 and np.all(np.diff(eps) > 0)


def test_epsilon_plot_marks_the_chosen_setting():
    fig = plot_epsilon_over_rounds(noise_multiplier=1.0, sampling_rate=0.1, rounds=50, delta=1e-5)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [l.get_label() for l in ax.get_lines()]
    want = dp_sgd_epsilon(sampling_rate=0.1, noise_multiplier=1.0, steps=50, delta=1e-5)
    assert labels == ["z = 0.50", "z = 1.00", "z = 2.00", f"T = 50: ε = {want:.3f}"]
    assert tuple(ax.get_lines()[3].get_xydata()[0]) == (50.0, pytest.approx(want))
    # more noise, less ε, at every T
    y = [l.get_ydata() for l in ax.get_lines()[:3]]
    assert np.all(y[0] > y[1]) and np.all(y[1] > y[2])
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "rounds T"


def test_one_client_moves_the_clipped_mean_at_most_C_over_m():
    rng = np.random.default_rng(0)
    honest = [rng.normal(scale=0.1, size=5) for _ in range(9)]      # m = 10
    norms = [0.01, 0.5, 3.0, 1e3, 1e6]
    plain, clipped = one_client_shift(norms, honest_updates=honest, clip_norm=1.0)
    np.testing.assert_allclose(plain, np.array(norms) / 10, rtol=1e-9)            # ‖a‖/m
    np.testing.assert_allclose(clipped, np.minimum(norms, 1.0) / 10, rtol=1e-9)   # ‖clip(a)‖/m ≤ C/m
    # fixed denominator m = 100 while only 10 clients reported: the bound is C/m, not C/n
    plain, clipped = one_client_shift(norms, honest_updates=honest, clip_norm=1.0, clients_per_round=100)
    np.testing.assert_allclose(plain, np.array(norms) / 10, rtol=1e-9)
    np.testing.assert_allclose(clipped, np.minimum(norms, 1.0) / 100, rtol=1e-9)
    fig = plot_one_client_shift(norms, honest_updates=honest, clip_norm=1.0, clients_per_round=100)
    ax = fig.axes[0]
    assert "C/m = 0.01" in [l.get_label() for l in ax.get_lines()]
    assert ax.get_xscale() == ax.get_yscale() == "log"


def test_privacy_utility_plot_orders_points_by_epsilon_and_circles_the_highlight():
    points = {0.5: (25.0, 0.89), 1.0: (5.9, 0.87), 2.0: (1.8, 0.85)}
    fig = plot_privacy_utility(points, baseline_accuracy=0.92, highlight=1.0)
    ax = fig.axes[0]
    curve = ax.get_lines()[0]
    np.testing.assert_allclose(curve.get_xdata(), [1.8, 5.9, 25.0])
    np.testing.assert_allclose(curve.get_ydata(), [0.85, 0.87, 0.89])
    labels = [l.get_label() for l in ax.get_lines()]
    assert "z = 1" in labels and "no DP (ε = ∞): 0.920" in labels
    assert ax.get_xscale() == "log" and "varepsilon" in ax.get_xlabel()
    assert sorted(t.get_text() for t in ax.texts) == ["z=0.5", "z=1", "z=2"]


def test_clip_norm_trace_draws_each_run():
    runs = {label: History(records=[dict(round=r + 1, clip_norm=c * 0.9 ** r, accuracy=0.5 + 0.01 * r)
                                    for r in range(5)]) for label, c in (("fixed", 1.0), ("adaptive", 0.1))}
    fig = plot_clip_norm_trace(runs)
    ax_c, ax_a = fig.axes
    assert [l.get_label() for l in ax_c.get_lines()] == ["fixed", "adaptive"]
    np.testing.assert_allclose(ax_c.get_lines()[1].get_ydata(), 0.1 * 0.9 ** np.arange(5))
    assert ax_c.get_yscale() == "log"
