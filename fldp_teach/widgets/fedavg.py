"""Sliders of notebook 09 (FedAvg): label skew per client, and local epochs vs rounds and
bytes to a target accuracy (thin wrappers over ``fldp_teach.plots.fedavg``; the training runs
are computed once in the notebook and only selected here). Article Eq. (2): "n_1" … "n_4" →
unweighted vs n_k-weighted average of the clients' values (``plot_weighting``)."""
from __future__ import annotations

from typing import Mapping

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from fldp_teach.partition import partition_dirichlet, partition_iid
from fldp_teach.plots.fedavg import (
    MB,
    bytes_to_accuracy,
    client_averages,
    plot_accuracy_and_bytes,
    plot_label_histogram,
    plot_weighting,
    rounds_to_accuracy,
    synthetic_client_data,
)

__all__ = ["label_skew_explorer", "local_epochs_explorer", "weighting_explorer"]


def label_skew_explorer(x, y, *, num_clients: int = 10, alpha: float = 0.5, seed: int = 0,
                        class_names=None) -> widgets.VBox:
    """"α" slider (log scale, 0.01 … 100) → Dirichlet label-skew partition of (x, y) among
    ``num_clients`` clients (:func:`fldp_teach.partition.partition_dirichlet`, instant) →
    prints ``α``, the mean label entropy and the smallest/largest n_k, and draws
    :func:`fldp_teach.plots.fedavg.plot_label_histogram`."""
    slider = widgets.FloatLogSlider(value=alpha, base=10, min=-2, max=2, step=0.25, description="α",
                                    continuous_update=False, readout_format=".3f")

    iid_entropy = partition_iid(x, y, num_clients=num_clients, seed=seed).label_entropy.mean()

    def show(alpha):
        part = partition_dirichlet(x, y, num_clients=num_clients, alpha=alpha, seed=seed)
        print(f"α = {alpha:.3f}")
        print(f"mean label entropy = {part.label_entropy.mean():.3f}  (bits; IID split: {iid_entropy:.3f})")
        print(f"n_k from {part.sizes.min()} to {part.sizes.max()} examples")
        display(plot_label_histogram(part, class_names=class_names))

    return widgets.VBox([slider, widgets.interactive_output(show, {"alpha": slider})])


def local_epochs_explorer(histories: Mapping[int, object], *, target: float = 0.9) -> widgets.VBox:
    """Select among precomputed runs (local epochs E → History) with an "E" slider and set the
    target accuracy with a "target" slider; prints ``E``, the rounds and megabytes that run
    needed to reach the target, and draws :func:`fldp_teach.plots.fedavg.plot_accuracy_and_bytes`
    with the selected run in bold. Nothing is trained here."""
    keys = list(histories)
    e_slider = widgets.SelectionSlider(options=keys, value=keys[0], description="E",
                                       continuous_update=False)
    t_slider = widgets.FloatSlider(value=target, min=0.5, max=0.99, step=0.01, description="target",
                                   continuous_update=False, readout_format=".2f")
    labelled = {f"E = {k}": h for k, h in histories.items()}

    def show(local_epochs, target):
        h = histories[local_epochs]
        r = rounds_to_accuracy(h.column("accuracy"), target=target)
        print(f"E = {local_epochs}")
        if r is None:
            print(f"target {target:.2f} not reached in {len(h.records)} rounds")
        else:
            print(f"rounds to target = {r}")
            print(f"MB to target = {bytes_to_accuracy(h, target=target) / MB:.3f}")
        display(plot_accuracy_and_bytes(labelled, target=target, highlight=f"E = {local_epochs}"))

    out = widgets.interactive_output(show, {"local_epochs": e_slider, "target": t_slider})
    return widgets.VBox([widgets.HBox([e_slider, t_slider]), out])


def weighting_explorer(values=(1.0, 2.0, 3.0, 6.0), num_examples=(500, 300, 100, 20), *,
                       spread: float = 1.0, seed: int = 0) -> widgets.VBox:
    """Article Eq. (2) (E2): one "n_k" slider per client ("n_1" … "n_K", integers 10 … 1000) for
    fixed client values θ_k = ``values`` → prints ``n_1`` … ``n_K``, ``unweighted mean`` ((1/K) Σ θ_k,
    article Eq. 2), ``weighted mean`` (Σ n_k θ_k / Σ n_k, McMahan et al. 2017, Alg. 1) and
    ``pooled-data mean`` (equal to the weighted one), and draws
    :func:`fldp_teach.plots.fedavg.plot_weighting`. Instant: nothing is trained."""
    values = list(values)
    client_averages(values, num_examples)  # validates both before any slider is built
    sliders = {f"n_{k}": widgets.IntSlider(value=int(n), min=min(10, int(n)), max=max(1000, int(n)), step=10,
                                           description=f"n_{k}", continuous_update=False)
               for k, n in enumerate(num_examples, start=1)}

    def show(**sizes):
        n = [sizes[f"n_{k}"] for k in range(1, len(values) + 1)]
        unweighted, weighted = client_averages(values, n)
        pooled = float(np.mean(np.concatenate(synthetic_client_data(values, n, spread=spread, seed=seed))))
        for k, n_k in enumerate(n, start=1):
            print(f"n_{k} = {n_k}")
        print(f"unweighted mean = {unweighted:.3f}")
        print(f"weighted mean = {weighted:.3f}")
        print(f"pooled-data mean = {pooled:.3f}")
        display(plot_weighting(values, n, spread=spread, seed=seed))

    row = list(sliders.values())
    rows = [widgets.HBox(row[i:i + 2]) for i in range(0, len(row), 2)]
    return widgets.VBox([*rows, widgets.interactive_output(show, sliders)])
