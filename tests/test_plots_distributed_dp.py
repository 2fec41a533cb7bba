"""Noise placement by formula and by simulation with the library's own mechanisms, the lone-share
ε, pairwise-mask secure aggregation, and the figures' lines/labels."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fldp_teach import dp_fedavg as dpf
from fldp_teach.accounting import Gaussian, RdpAccountant
from fldp_teach.fedavg import ClientUpdate
from fldp_teach.plots.distributed_dp import (
    decode_masked_sum, message_epsilon, noise_stddevs, pairwise_masked_messages, plot_equal_epsilon_utility,
    plot_noise_placement)
from fldp_teach.rdp import rdp_gaussian


def test_noise_table_closed_forms():
    s = noise_stddevs(noise_multiplier=2.0, clip_norm=0.5, clients_per_round=25)
    assert s["central"] == (0.0, pytest.approx(0.04))
    assert s["local"] == (pytest.approx(1.0), pytest.approx(0.2))
    assert s["distributed"] == (pytest.approx(0.2), pytest.approx(0.04))
    assert s["local"][1] / s["central"][1] == pytest.approx(5.0)  # sqrt(m)
    with pytest.raises(ValueError, match="clients_per_round"):
        noise_stddevs(noise_multiplier=1.0, clip_norm=1.0, clients_per_round=0)
    with pytest.raises(ValueError, match="noise_multiplier"):
        noise_stddevs(noise_multiplier=float("nan"), clip_norm=1.0, clients_per_round=3)


def test_table_matches_the_library_mechanisms_statistically():
    """Zero updates through dp_fedavg's real functions: the noise std of one share, of the
    secure sum / m and of the local mean match the table (20,000 coordinates, 3% tolerance)."""
    z, c, m, d = 1.5, 2.0, 16, 20_000
    zero = ClientUpdate(update=[np.zeros(d)], num_examples=1)
    shares = [dpf.distributed_dp_share(zero, clip_norm=c, noise_multiplier=z, min_clients=m, seed=k)
              for k in range(m)]
    local = [dpf.local_dp_update(zero, clip_norm=c, noise_multiplier=z, seed=100 + k) for k in range(m)]
    want = noise_stddevs(noise_multiplier=z, clip_norm=c, clients_per_round=m)
    assert np.std(shares[0].update[0]) == pytest.approx(want["distributed"][0], rel=0.03)
    assert np.std(dpf.secure_sum(shares)[0] / m) == pytest.approx(want["distributed"][1], rel=0.03)
    assert np.std(sum(u.update[0] for u in local) / m) == pytest.approx(want["local"][1], rel=0.03)
    central, _ = dpf.central_dp_aggregate([zero] * m, clip_norm=c, noise_multiplier=z,
                                          expected_clients_per_round=m, seed=7)
    assert np.std(central[0]) == pytest.approx(want["central"][1], rel=0.03)


def test_message_epsilon_is_the_gaussian_rdp_composed():
    acc = RdpAccountant().compose(Gaussian(noise_multiplier=0.5, steps=10))
    assert message_epsilon(noise_multiplier=0.5, rounds=10, delta=1e-5) == pytest.approx(acc.epsilon(delta=1e-5))
    np.testing.assert_allclose(acc.rdp, 10 * rdp_gaussian(orders=acc.orders, noise_multiplier=0.5))
    lone = message_epsilon(noise_multiplier=1.0 / math.sqrt(100), rounds=30, delta=1e-5)
    whole = message_epsilon(noise_multiplier=1.0, rounds=30, delta=1e-5)
    assert lone > 20 * whole  # one share alone is far less private than the sum


def test_pairwise_masks_cancel_and_hide():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 50))
    y = pairwise_masked_messages(x, seed=3)
    assert y.shape == x.shape and y.min() >= 0 and y.max() < 2**32
    np.testing.assert_allclose(decode_masked_sum(y), x.sum(axis=0), atol=6 / 2**16)
    # a masked message is (close to) uniform on [0, M): mean M/2, unrelated to x
    z = pairwise_masked_messages(np.zeros((3, 20_000)), seed=1)
    assert z[0].mean() / 2**32 == pytest.approx(0.5, abs=0.01)
    assert abs(np.corrcoef(y[0], x[0])[0, 1]) < 0.4
    # negative sums decode as negatives
    np.testing.assert_allclose(decode_masked_sum(pairwise_masked_messages(-np.ones((2, 3)), seed=0)), -2.0)
    with pytest.raises(ValueError, match="values"):
        pairwise_masked_messages(np.ones(3), seed=0)


def test_noise_placement_figure():
    fig = plot_noise_placement(1.0, 1.0, 100, rounds=10)
    ax_std, ax_eps = fig.axes
    labels = [l.get_label() for l in ax_std.get_lines()]
    assert any("central = distributed" in l for l in labels) and any("local" in l for l in labels)
    assert ax_std.get_xscale() == "log" and "clients per round" in ax_std.get_xlabel()
    assert "ε after 10 rounds" in ax_eps.get_ylabel()
    sum_line = [l for l in ax_eps.get_lines() if l.get_label() == "the secure sum (multiplier z)"][0]
    assert sum_line.get_ydata()[0] == pytest.approx(message_epsilon(noise_multiplier=1.0, rounds=10, delta=1e-5))


def test_equal_epsilon_figure_and_bad_epsilon():
    r = np.arange(1, 6)
    runs = {m: {1.0: (r, r / 10), 8.0: (r, r / 6)} for m in ("central", "distributed", "local")}
    fig = plot_equal_epsilon_utility(runs, 8.0, baseline=(r, r / 5))
    ax_r, ax_e = fig.axes
    assert [l.get_label() for l in ax_r.get_lines()] == ["central DP", "distributed DP", "local DP", "no DP"]
    np.testing.assert_allclose(ax_e.get_lines()[0].get_ydata(), [0.5, 5 / 6])
    assert ax_e.get_xscale() == "log"
    with pytest.raises(ValueError, match="epsilon must be one of"):
        plot_equal_epsilon_utility(runs, 2.0)
