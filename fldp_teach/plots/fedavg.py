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

Pure functions (no widgets, no training): each returns a matplotlib Figure. Taught in
notebooks/09_fedavg.ipynb.
"""
from __future__ import annotations

from typing import Mapping

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_unit_interval
from fldp_teach.plots import integer_ticks, legend_below


__all__ = [
    "plot_label_histogram",
    "rounds_to_accuracy",
    "bytes_to_accuracy",
    "cumulative_bytes",
    "plot_accuracy_and_bytes",
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
