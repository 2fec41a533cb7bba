"""Sliders of notebook 09 (FedAvg): label skew per client, and local epochs vs rounds and
bytes to a target accuracy (thin wrappers over ``fldp_teach.plots.fedavg``; the training runs
are computed once in the notebook and only selected here)."""
from __future__ import annotations

from typing import Mapping

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.partition import partition_dirichlet, partition_iid
from fldp_teach.plots.fedavg import (
    MB,
    bytes_to_accuracy,
    plot_accuracy_and_bytes,
    plot_label_histogram,
    rounds_to_accuracy,
)

__all__ = ["label_skew_explorer", "local_epochs_explorer"]


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
