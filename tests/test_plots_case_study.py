"""Record-level ε of a noise schedule against a ledger composed by hand, and the figures."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fldp_teach.accounting import RdpAccountant, SampledGaussian
from fldp_teach.plots.case_study import plot_noise_schedule, plot_privacy_utility, schedule_epsilons


def _by_hand(schedule, n, b, delta):
    acc = RdpAccountant()
    steps = math.ceil(n / min(b, n))
    for z in schedule:
        acc.compose(SampledGaussian(noise_multiplier=z, sampling_rate=min(b, n) / n, steps=steps))
    return acc.epsilon(delta=delta)


def test_schedule_epsilons_match_a_hand_ledger_and_worst_hospital():
    schedule = [3.0, 3.0, 1.0, 1.0]
    eps = schedule_epsilons(schedule, num_examples=[200, 50], batch_size=16, delta=1e-5)
    assert eps.shape == (4,) and np.all(np.diff(eps) > 0)
    for r in range(1, 5):  # the small hospital (q = 16/50) is the worst one
        want = max(_by_hand(schedule[:r], 50, 16, 1e-5), _by_hand(schedule[:r], 200, 16, 1e-5))
        assert eps[r - 1] == pytest.approx(want, rel=1e-12)
    # a batch larger than the hospital: one full-batch step per round (q = 1)
    assert schedule_epsilons([2.0], num_examples=[10], batch_size=64, delta=1e-5)[0] == pytest.approx(
        _by_hand([2.0], 10, 64, 1e-5))
    with pytest.raises(ValueError, match="noise_schedule"):
        schedule_epsilons([], num_examples=[10], batch_size=4, delta=1e-5)
    with pytest.raises(ValueError, match="delta"):
        schedule_epsilons([1.0], num_examples=[10], batch_size=4, delta=0.0)


def test_noise_schedule_figure():
    fig = plot_noise_schedule([4.0] * 3 + [1.5] * 3, num_examples=[100, 110], batch_size=16, delta=1e-5,
                              constant=2.75)
    ax_z, ax_e = fig.axes
    assert ax_z.get_ylabel().startswith("noise multiplier") and "ε" in ax_e.get_ylabel()
    lines = ax_e.get_lines()
    assert len(lines) == 2 and lines[0].get_label().startswith("schedule: ε = ")
    final = schedule_epsilons([4.0] * 3 + [1.5] * 3, num_examples=[100, 110], batch_size=16, delta=1e-5)[-1]
    assert lines[0].get_ydata()[-1] == pytest.approx(final)


def test_privacy_utility_figure():
    rows = [dict(label="no DP", epsilon=math.inf, accuracy=0.95, auc=0.99),
            dict(label="z = 2", epsilon=2.0, accuracy=0.9, auc=0.97),
            dict(label="z = 1", epsilon=8.0, accuracy=0.93, auc=0.98)]
    fig = plot_privacy_utility(rows)
    ax_acc, ax_auc = fig.axes
    assert ax_acc.get_xscale() == "log" and ax_auc.get_ylabel() == "test AUC"
    points = [l for l in ax_auc.get_lines() if l.get_linestyle() == "None"]
    assert [float(p.get_ydata()[0]) for p in points] == [0.97, 0.98]
    assert any("ε = ∞" in l.get_label() for l in ax_acc.get_lines())
    with pytest.raises(ValueError, match="rows"):
        plot_privacy_utility([])
