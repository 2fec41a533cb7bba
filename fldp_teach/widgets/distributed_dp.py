"""Sliders of notebook 11 (thin wrappers over ``fldp_teach.plots.distributed_dp``): where the
noise goes for given z, C, m; and the precomputed equal-ε training runs, one ε at a time."""
from __future__ import annotations

import math
from typing import Mapping

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.plots.distributed_dp import (
    message_epsilon, noise_stddevs, plot_equal_epsilon_utility, plot_noise_placement)

__all__ = ["noise_placement_explorer", "equal_epsilon_explorer"]


def noise_placement_explorer(*, noise_multiplier: float = 1.0, clip_norm: float = 1.0,
                             clients_per_round: int = 100, rounds: int = 30, delta: float = 1e-5) -> widgets.VBox:
    """"noise z", "clip C" and "m" sliders → prints ``σ`` (noise std in the mean, central and
    distributed), ``σ local``, ``σ share`` (one distributed share), ``ε sum`` and ``ε share``
    (after ``rounds``), and draws :func:`plot_noise_placement`."""
    z = widgets.FloatSlider(value=noise_multiplier, min=0.3, max=5.0, step=0.1, description="noise z",
                            continuous_update=False, readout_format=".2f")
    c = widgets.FloatSlider(value=clip_norm, min=0.1, max=5.0, step=0.1, description="clip C",
                            continuous_update=False, readout_format=".2f")
    m = widgets.IntSlider(value=clients_per_round, min=2, max=1000, step=1, description="m",
                          continuous_update=False)

    def show(noise_multiplier, clip_norm, clients_per_round):
        s = noise_stddevs(noise_multiplier=noise_multiplier, clip_norm=clip_norm, clients_per_round=clients_per_round)
        print(f"σ = {s['central'][1]:.3f}   (noise std in the mean, central and distributed: zC/m)")
        print(f"σ local = {s['local'][1]:.3f}   (noise std in the mean, local: zC/√m)")
        print(f"σ share = {s['distributed'][0]:.3f}   (one distributed share alone: zC/√m)")
        print(f"ε sum = {message_epsilon(noise_multiplier=noise_multiplier, rounds=rounds, delta=delta):.3f}")
        eps_share = message_epsilon(noise_multiplier=noise_multiplier / math.sqrt(clients_per_round),
                                    rounds=rounds, delta=delta)
        print(f"ε share = {eps_share:.3f}   (after {rounds} rounds, δ = {delta:g})")
        display(plot_noise_placement(noise_multiplier, clip_norm, clients_per_round, rounds=rounds, delta=delta))

    out = widgets.interactive_output(show, {"noise_multiplier": z, "clip_norm": c, "clients_per_round": m})
    return widgets.VBox([widgets.HBox([z, c, m]), out])


def equal_epsilon_explorer(runs: Mapping[str, Mapping[float, tuple]], *, baseline: tuple | None = None,
                           epsilon: float | None = None) -> widgets.VBox:
    """An "ε" selection slider over the ε values that were trained (nothing is retrained) →
    prints ``ε`` and ``accuracy <mode>`` (final test accuracy) per mode, and draws
    :func:`plot_equal_epsilon_utility`."""
    options = sorted(set.intersection(*(set(v) for v in runs.values())))
    if not options:
        raise ValueError("runs must share at least one ε value across modes, got none in common")
    slider = widgets.SelectionSlider(options=options, value=epsilon if epsilon in options else options[(len(options) - 1) // 2],
                                     description="ε", continuous_update=False)

    def show(epsilon):
        print(f"ε = {epsilon:.3f}")
        for mode, by_eps in runs.items():
            print(f"accuracy {mode} = {by_eps[epsilon][1][-1]:.3f}")
        if baseline is not None:
            print(f"accuracy no DP = {baseline[1][-1]:.3f}")
        display(plot_equal_epsilon_utility(runs, epsilon, baseline=baseline))

    return widgets.VBox([slider, widgets.interactive_output(show, {"epsilon": slider})])
