"""Figures of notebook 09 (FedAvg without noise): who holds which labels, and what rounds and
local epochs cost in accuracy and in bytes.

* :func:`plot_label_histogram` — the label histogram of every client of a
  :class:`fldp_teach.partition.Partition` (IID vs Dirichlet α label skew; Hsu, Qi & Brown 2019).
* :func:`rounds_to_accuracy`, :func:`bytes_to_accuracy` — read off a
  :class:`fldp_teach.simulation.History` how many rounds, and how many bytes sent down plus up,
  a run needed to first reach a test accuracy (the measure of McMahan et al. 2017, Tables 2–4,
  "rounds to reach a target accuracy"; bytes: article §3.3, claim C3).
* :func:`plot_accuracy_and_bytes` — test accuracy against rounds and against cumulative bytes
  for several runs (e.g. local epochs E = 1, 2, 5, 10).
* :func:`plot_weighting` — the article's unweighted average (Eq. 2, E2) vs FedAvg's n_k-weighted
  one, next to the mean of the pooled data (:func:`client_averages`, :func:`synthetic_client_data`).

Pure functions (no widgets, no training): each returns a matplotlib Figure. Taught in
notebooks/09_fedavg.ipynb.
"""
from __future__ import annotations

from typing import Mapping

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_finite, check_non_negative, check_positive_int, check_unit_interval
from fldp_teach.fedavg import ClientUpdate, aggregate
from fldp_teach.plots import integer_ticks, legend_below


__all__ = [
    "plot_label_histogram",
    "rounds_to_accuracy",
    "bytes_to_accuracy",
    "cumulative_bytes",
    "plot_accuracy_and_bytes",
    "client_averages",
    "synthetic_client_data",
    "plot_weighting",
]

MB = 1e6  # bytes per megabyte (SI), the unit of the communication plots


def _new_axes(ax, figsize=(7, 4)):
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    return ax.figure, ax


def plot_label_histogram(partition, *, class_names=None, max_clients: int = 30, ax=None) -> Figure:
    """Stacked bars, one per client k: the number of examples of each class at k (the matrix
    ``partition.label_counts``), so the bar height is n_k. The title gives the partition method
    and the mean label entropy H̄ = (1/K) Σ_k H_k in bits (log₂(#classes) when every client is
    balanced, 0 when each holds one class). At most ``max_clients`` bars are drawn."""
    counts = partition.label_counts[:max_clients]
    fig, ax = _new_axes(ax)
    num_classes = counts.shape[1]
    names = class_names if class_names is not None else [str(c) for c in range(num_classes)]
    cmap = matplotlib.colormaps["tab10" if num_classes <= 10 else "tab20"]
    bottom = np.zeros(len(counts))
    clients = np.arange(len(counts))
    for c in range(num_classes):
        ax.bar(clients, counts[:, c], bottom=bottom, color=cmap(c % cmap.N), width=0.85,
               label=names[c])
        bottom += counts[:, c]
    entropy = float(partition.label_entropy.mean())
    ax.set_xlabel("client k")
    ax.set_ylabel(r"examples per class (bar height = $n_k$)")
    shown = "" if partition.num_clients <= max_clients else f", first {max_clients} of {partition.num_clients}"
    ax.set_title(f"{partition.method}: mean label entropy {entropy:.2f} bits "
                 f"(max {np.log2(num_classes):.2f}){shown}")
    ax.set_xticks(clients if len(clients) <= 20 else clients[::5])
    ax.legend(title="class", ncol=1 if num_classes <= 10 else 2,
              loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def rounds_to_accuracy(accuracies, *, target: float) -> int | None:
    """The first round r (1-based) with test accuracy ≥ ``target``, or None if never reached.
    ``accuracies[r - 1]`` is the accuracy after round r (``History.column("accuracy")``)."""
    target = check_unit_interval("target", target)
    hits = np.flatnonzero(np.asarray(accuracies, dtype=float) >= target)
    return int(hits[0]) + 1 if hits.size else None


def cumulative_bytes(history) -> np.ndarray:
    """Bytes sent down (broadcast θ_g to the sampled clients) plus up (their updates), summed
    over rounds 1..r, for every r: ``cumsum(bytes_down + bytes_up)``."""
    return np.cumsum(history.column("bytes_down") + history.column("bytes_up"))


def bytes_to_accuracy(history, *, target: float) -> int | None:
    """Total bytes (down + up) sent until the first round that reaches ``target`` test
    accuracy, or None if the run never reaches it (article §3.3, claim C3)."""
    r = rounds_to_accuracy(history.column("accuracy"), target=target)
    return None if r is None else int(cumulative_bytes(history)[r - 1])


def plot_accuracy_and_bytes(histories: Mapping[str, object], *, target: float | None = None,
                            highlight: str | None = None, axes=None) -> Figure:
    """Left: test accuracy against the round; right: test accuracy against the cumulative
    megabytes sent (down + up, log scale). One line per run in ``histories`` (label → History);
    ``highlight`` draws one run bold, the others thin. ``target`` draws the target accuracy and
    marks where each run first reaches it."""
    if axes is None:
        fig = Figure(figsize=(11, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_r, ax_b = axes
    fig = ax_r.figure
    for i, (label, h) in enumerate(histories.items()):
        acc = h.column("accuracy")
        rounds = h.column("round")
        mb = cumulative_bytes(h) / MB
        bold = highlight is None or label == highlight
        style = dict(color=f"C{i}", lw=2.2 if bold else 1.0, alpha=1.0 if bold else 0.45)
        ax_r.plot(rounds, acc, label=label, **style)
        ax_b.plot(mb, acc, label=label, **style)
        if target is not None:
            r = rounds_to_accuracy(acc, target=target)
            if r is not None:
                ax_r.plot([r], [acc[r - 1]], "o", color=f"C{i}", alpha=style["alpha"])
                ax_b.plot([mb[r - 1]], [acc[r - 1]], "o", color=f"C{i}", alpha=style["alpha"])
    for ax in axes:
        if target is not None:
            ax.axhline(target, color="0.4", ls="--", lw=1, label=f"target {target:.2f}")
        ax.set_ylabel("test accuracy")
        ax.grid(True, alpha=0.3)
    ax_r.set_xlabel("round r")
    integer_ticks(ax_r)
    ax_r.set_title("Accuracy per round")
    ax_b.set_xscale("log")
    ax_b.set_xlabel("megabytes sent so far, down + up (MB, log scale)")
    ax_b.set_title("Accuracy per megabyte (article §3.3, C3)")
    legend_below(ax_r, ncol=3)  # many runs: below the axes, off the curves
    return fig


# ----------------------------------------------------------------------------- E2: which average?
#: Marker area (points²) per example in :func:`plot_weighting`: area ∝ n_k, 600 pt² at n_k = 1000.
AREA_PER_EXAMPLE = 0.6


def _check_clients(values, num_examples):
    values = [check_finite(f"values[{k}]", v) for k, v in enumerate(values)]
    sizes = [check_positive_int(f"num_examples[{k}]", n) for k, n in enumerate(num_examples)]
    if not values:
        raise ValueError("values must hold one value per client, got 0 values")
    if len(values) != len(sizes):
        raise ValueError(f"values and num_examples must have one entry per client, got {len(values)} "
                         f"values and {len(sizes)} num_examples")
    return values, sizes


def client_averages(values, num_examples) -> tuple[float, float]:
    """(unweighted, weighted) average of the clients' values θ_k, computed by the library's
    server aggregation :func:`fldp_teach.fedavg.aggregate`:

    * unweighted (1/K) Σ_k θ_k — the article's Eq. (2), θ_g = (1/K) Σ_k θ_k′ (§4.1, E2);
    * weighted Σ_k n_k θ_k / Σ_k n_k — FedAvg (McMahan et al. 2017, Algorithm 1, n_k/n weights).

    They agree when all n_k are equal. ``num_examples``: n_k, integers ≥ 1."""
    values, sizes = _check_clients(values, num_examples)
    updates = [ClientUpdate(update=[np.array(v, dtype=np.float64)], num_examples=n)
               for v, n in zip(values, sizes)]
    return (float(aggregate(updates, weighting="uniform")[0]),
            float(aggregate(updates, weighting="num_examples")[0]))


def synthetic_client_data(values, num_examples, *, spread: float = 1.0, seed: int = 0) -> list:
    """One array per client k: n_k examples (normal, standard deviation ``spread``, shifted) whose
    mean is exactly θ_k = ``values[k]`` (up to rounding). Pooling them, the overall mean is
    Σ_k n_k θ_k / Σ_k n_k — the weighted average, not the unweighted one."""
    values, sizes = _check_clients(values, num_examples)
    spread = check_non_negative("spread", spread)
    rng = np.random.default_rng(seed)
    data = []
    for v, n in zip(values, sizes):
        x = rng.normal(0.0, spread, n)
        data.append(x - x.mean() + v)
    return data


def plot_weighting(values, num_examples, *, spread: float = 1.0, seed: int = 0, ax=None) -> Figure:
    """Article Eq. (2) vs FedAvg: each client k's value θ_k (marker area ∝ n_k, the faint dots are its
    n_k examples from :func:`synthetic_client_data`), and three horizontal lines: the unweighted
    mean (1/K) Σ θ_k (article Eq. 2), the weighted mean Σ n_k θ_k / Σ n_k (McMahan et al. 2017,
    Alg. 1; both by :func:`client_averages`), and the mean of all examples pooled on one server,
    computed from the pooled data — it lies on the weighted mean, not on the unweighted one.

    ``ax``: a matplotlib Axes, or None for a new 7×4.5 figure. Returns the Figure."""
    values, sizes = _check_clients(values, num_examples)
    unweighted, weighted = client_averages(values, sizes)
    data = synthetic_client_data(values, sizes, spread=spread, seed=seed)
    pooled = float(np.mean(np.concatenate(data)))
    fig, ax = _new_axes(ax, figsize=(7, 4.5))
    clients = np.arange(1, len(values) + 1)
    rng = np.random.default_rng(seed + 1)
    for k, x in zip(clients, data):
        ax.plot(k + rng.uniform(-0.25, 0.25, len(x)), x, ".", color="0.55", ms=2, alpha=0.35,
                label="examples (synthetic)" if k == 1 else None)
    ax.axhline(unweighted, color="C3", ls="--", lw=2, label="unweighted mean, article Eq. (2)")
    ax.axhline(weighted, color="C0", lw=3, label=r"weighted mean $\Sigma\, n_k\theta_k\, /\, \Sigma\, n_k$ (FedAvg)")
    ax.axhline(pooled, color="k", ls=":", lw=1.5, label="mean of the pooled data")
    ax.scatter(clients, values, s=AREA_PER_EXAMPLE * np.asarray(sizes, dtype=float), color="C1",
               edgecolor="k", zorder=3, label=r"client value $\theta_k$ (area ∝ $n_k$)")
    ax.set_xticks(clients, [f"{k}\nn = {n}" for k, n in zip(clients, sizes)])
    ax.set_xlim(0.4, len(values) + 0.6)
    ax.set_xlabel(r"client $k$ (e.g. a hospital) and its number of examples $n_k$")
    ax.set_ylabel(r"value $\theta_k$ (e.g. a local mean)")
    ax.set_title(f"Averaging K = {len(values)} clients: unweighted {unweighted:.3f}, "
                 f"weighted {weighted:.3f}")
    ax.grid(True, axis="y", alpha=0.3)
    legend_below(ax, ncol=2, markerscale=1.0)
    return fig
