"""Figures of notebook 09: label histograms, rounds/bytes to a target accuracy."""
import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from fldp_teach.data import load_digits, partition_dirichlet, partition_iid
from fldp_teach.plots.fedavg import (
    bytes_to_accuracy, client_averages, cumulative_bytes, plot_accuracy_and_bytes, plot_label_histogram,
    plot_weighting, rounds_to_accuracy, synthetic_client_data)
from fldp_teach.simulation import History

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def digits():
    return load_digits(as_images=False)


def _history(accuracies, bytes_per_round):
    """A History as simulate() records it (only the columns these functions read)."""
    return History(records=[dict(round=r + 1, accuracy=a, bytes_down=bytes_per_round // 2,
                                 bytes_up=bytes_per_round // 2) for r, a in enumerate(accuracies)])


def test_label_histogram_bars_stack_to_client_sizes(digits):
    part = partition_dirichlet(digits.x_train, digits.y_train, num_clients=8, alpha=0.3, seed=0)
    fig = plot_label_histogram(part)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.patches) == 8 * 10          # one rectangle per client and class
    tops = np.zeros(8)
    for p in ax.patches:
        tops[int(round(p.get_x() + p.get_width() / 2))] = max(tops[int(round(p.get_x() + p.get_width() / 2))],
                                                          p.get_y() + p.get_height())
    np.testing.assert_array_equal(tops, part.sizes)
    assert "dirichlet(alpha=0.3)" in ax.get_title()
    assert f"{part.label_entropy.mean():.2f} bits" in ax.get_title()
    assert ax.get_xlabel() == "client k" and "n_k" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [str(c) for c in range(10)]


def test_iid_split_has_higher_entropy_title_than_skewed(digits):
    iid = partition_iid(digits.x_train, digits.y_train, num_clients=8, seed=0)
    skew = partition_dirichlet(digits.x_train, digits.y_train, num_clients=8, alpha=0.05, seed=0)
    assert iid.label_entropy.mean() > 3.2 > 1.5 > skew.label_entropy.mean()
    assert "iid" in plot_label_histogram(iid).axes[0].get_title()


def test_rounds_to_accuracy_by_hand():
    acc = [0.5, 0.7, 0.69, 0.9, 0.95]
    assert rounds_to_accuracy(acc, target=0.7) == 2
    assert rounds_to_accuracy(acc, target=0.9) == 4
    assert rounds_to_accuracy(acc, target=0.5) == 1
    assert rounds_to_accuracy(acc, target=0.96) is None
    with pytest.raises(ValueError, match="target"):
        rounds_to_accuracy(acc, target=1.5)


def test_bytes_to_accuracy_sums_down_and_up_until_the_round():
    h = _history([0.5, 0.8, 0.9], bytes_per_round=1000)
    np.testing.assert_array_equal(cumulative_bytes(h), [1000, 2000, 3000])
    assert bytes_to_accuracy(h, target=0.8) == 2000
    assert bytes_to_accuracy(h, target=0.99) is None


def test_accuracy_and_bytes_figure_has_one_line_per_run_and_target():
    runs = {"E = 1": _history([0.5, 0.6, 0.7, 0.8], 1000), "E = 5": _history([0.7, 0.85, 0.9, 0.92], 1000)}
    fig = plot_accuracy_and_bytes(runs, target=0.8, highlight="E = 5")
    ax_r, ax_b = fig.axes
    labels = [l.get_label() for l in ax_r.get_lines()]
    assert "E = 1" in labels and "E = 5" in labels and "target 0.80" in labels
    bold = {l.get_label(): l.get_linewidth() for l in ax_r.get_lines() if l.get_label().startswith("E")}
    assert bold["E = 5"] > bold["E = 1"]
    # markers where each run first reaches 0.8: round 4 for E=1, round 2 for E=5
    markers = sorted(tuple(l.get_xydata()[0]) for l in ax_r.get_lines() if l.get_marker() == "o")
    assert markers == [(2.0, 0.85), (4.0, 0.8)]
    assert ax_b.get_xscale() == "log" and "MB" in ax_b.get_xlabel()
    np.testing.assert_allclose(ax_b.get_lines()[0].get_xdata(), [0.001, 0.002, 0.003, 0.004])
    assert ax_r.get_xlabel() == "round r" and ax_r.get_ylabel() == "test accuracy"


# ----------------------------------------------------------------------------- E2: which average?
def test_client_averages_by_hand():
    # θ = (1, 2, 3, 6), n = (500, 300, 100, 20): unweighted 12/4 = 3, weighted 1520/920
    unweighted, weighted = client_averages([1.0, 2.0, 3.0, 6.0], [500, 300, 100, 20])
    assert unweighted == pytest.approx(3.0) and weighted == pytest.approx(1520 / 920)
    # equal n_k: the two agree (article Eq. 2 is FedAvg only then)
    assert client_averages([1.0, 2.0, 3.0, 6.0], [50] * 4) == pytest.approx((3.0, 3.0))


def test_weighted_mean_is_the_pooled_mean():
    values, sizes = [1.0, -2.0, 3.5, 6.0], [17, 1, 400, 33]
    data = synthetic_client_data(values, sizes, spread=2.0, seed=4)
    assert [len(x) for x in data] == sizes
    np.testing.assert_allclose([x.mean() for x in data], values, atol=1e-12)
    unweighted, weighted = client_averages(values, sizes)
    assert np.mean(np.concatenate(data)) == pytest.approx(weighted, abs=1e-12)
    assert abs(np.mean(np.concatenate(data)) - unweighted) > 0.5


def test_weighting_plot_draws_values_means_and_sizes():
    values, sizes = [1.0, 2.0, 3.0, 6.0], [500, 300, 100, 20]
    fig = plot_weighting(values, sizes)
    ax = fig.axes[0]
    unweighted, weighted = client_averages(values, sizes)
    lines = {l.get_label(): l for l in ax.get_lines()}
    assert lines["unweighted mean, article Eq. (2)"].get_ydata()[0] == pytest.approx(unweighted)
    weighted_line = next(l for k, l in lines.items() if k.startswith("weighted mean"))
    assert weighted_line.get_ydata()[0] == pytest.approx(weighted)
    assert lines["mean of the pooled data"].get_ydata()[0] == pytest.approx(weighted, abs=1e-12)
    (points,) = ax.collections
    np.testing.assert_allclose(points.get_offsets(), np.column_stack([[1, 2, 3, 4], values]))
    np.testing.assert_allclose(points.get_sizes() / sizes, points.get_sizes()[0] / sizes[0])  # area ∝ n_k
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1\nn = 500", "2\nn = 300", "3\nn = 100", "4\nn = 20"]
    assert ax.get_xlabel() and ax.get_ylabel() and "1.652" in ax.get_title()
    assert len(ax.get_legend().get_texts()) == 5


def test_weighting_rejects_bad_input():
    with pytest.raises(ValueError, match=r"num_examples\[2\] must be an integer >= 1, got 0"):
        client_averages([1.0, 2.0, 3.0], [10, 20, 0])
    with pytest.raises(ValueError, match=r"values\[1\] must be finite"):
        plot_weighting([1.0, float("inf")], [10, 20])
    with pytest.raises(ValueError, match="3 values and 2 num_examples"):
        plot_weighting([1.0, 2.0, 3.0], [10, 20])
    with pytest.raises(ValueError, match="got 0 values"):
        client_averages([], [])
    with pytest.raises(ValueError, match=r"spread must be >= 0, got -1"):
        synthetic_client_data([1.0], [5], spread=-1)
