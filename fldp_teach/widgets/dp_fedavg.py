"""Sliders of notebook 10 (central DP-FedAvg): user-level ε live from the accountant, and the
privacy–utility curve from runs computed once in the notebook (thin wrappers over
``fldp_teach.plots.dp_fedavg``)."""
from __future__ import annotations

from typing import Mapping

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.accounting import dp_sgd_epsilon
from fldp_teach.plots.dp_fedavg import plot_epsilon_over_rounds, plot_privacy_utility, server_noise_stddev

__all__ = ["central_dp_explorer", "privacy_utility_explorer"]


def central_dp_explorer(*, noise_multiplier: float = 1.0, rounds: int = 50, sampling_rate: float = 0.1,
                        num_clients: int = 1000, clip_norm: float = 1.0, delta: float = 1e-5,
                        max_rounds: int = 500) -> widgets.VBox:
    """Sliders "noise z", "rounds" and "q" (K = ``num_clients``, C = ``clip_norm`` and δ fixed).
    Prints exactly one line ``ε = …`` — the user-level ε of ``rounds`` rounds,
    ``dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=rounds, delta=δ)`` — then the
    expected clients per round m = qK and the server noise std zC/m, and draws
    :func:`fldp_teach.plots.dp_fedavg.plot_epsilon_over_rounds`. Everything is computed live
    (milliseconds: no training)."""
    z = widgets.FloatSlider(value=noise_multiplier, min=0.3, max=5.0, step=0.05, description="noise z",
                            continuous_update=False, readout_format=".2f")
    t = widgets.IntSlider(value=rounds, min=1, max=max_rounds, step=1, description="rounds",
                          continuous_update=False)
    q = widgets.FloatSlider(value=sampling_rate, min=0.01, max=1.0, step=0.01, description="q",
                            continuous_update=False, readout_format=".2f")

    def show(noise_multiplier, rounds, sampling_rate):
        eps = dp_sgd_epsilon(sampling_rate=sampling_rate, noise_multiplier=noise_multiplier,
                             steps=rounds, delta=delta)
        m = sampling_rate * num_clients
        print(f"ε = {eps:.3f}")
        print(f"(user-level, δ = {delta:g}, K = {num_clients} clients, C = {clip_norm:g})")
        print(f"clients per round m = qK = {m:.3f}")
        print(f"server noise σ = zC/m = {server_noise_stddev(noise_multiplier=noise_multiplier, clip_norm=clip_norm, clients_per_round=m):.3f}")
        display(plot_epsilon_over_rounds(noise_multiplier=noise_multiplier, sampling_rate=sampling_rate,
                                         rounds=rounds, delta=delta, max_rounds=max_rounds // 2))

    out = widgets.interactive_output(show, {"noise_multiplier": z, "rounds": t, "sampling_rate": q})
    return widgets.VBox([widgets.HBox([z, t, q]), out])


def privacy_utility_explorer(points: Mapping[float, tuple[float, float]], *,
                             baseline_accuracy: float | None = None) -> widgets.VBox:
    """Select one precomputed run with the "z of run" slider (``points`` maps z → (ε, final
    accuracy)); prints its ε and accuracy and draws
    :func:`fldp_teach.plots.dp_fedavg.plot_privacy_utility` with that run circled. Nothing is
    trained here."""
    options = sorted(points)
    slider = widgets.SelectionSlider(options=options, value=options[len(options) // 2],
                                     description="z of run", continuous_update=False)

    def show(z):
        eps, acc = points[z]
        print(f"z of run = {z:.3f}")
        print(f"user-level ε of this run = {eps:.3f}")
        print(f"test accuracy = {acc:.3f}")
        if baseline_accuracy is not None:
            print(f"accuracy lost to privacy = {baseline_accuracy - acc:.3f}")
        display(plot_privacy_utility(points, baseline_accuracy=baseline_accuracy, highlight=z))

    return widgets.VBox([slider, widgets.interactive_output(show, {"z": slider})])
