"""Sliders of notebook 01: the membership game and randomized response (thin wrappers over
``fldp_teach.plots.dp_basics``)."""
from __future__ import annotations

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.mechanisms import randomized_response_standard_error
from fldp_teach.plots.dp_basics import (
    laplace_count_attack_success,
    membership_success_bound,
    plot_membership_game,
    plot_randomized_response,
    simulate_laplace_count_game,
    simulate_randomized_response_estimates,
)

__all__ = ["membership_game_explorer", "randomized_response_explorer"]


def _epsilon_slider(value: float) -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=0.05, max=5.0, step=0.05, description="ε",
                               continuous_update=False, readout_format=".2f")


def membership_game_explorer(*, epsilon: float = 1.0, trials: int = 20_000, seed: int = 0) -> widgets.VBox:
    """"ε" slider → prints ``ε``, ``bound`` (e^ε/(1+e^ε)), the Laplace-count attack's success
    (formula and simulated) and draws ``plot_membership_game``."""
    slider = _epsilon_slider(epsilon)

    def show(epsilon):
        print(f"ε = {epsilon:.3f}")
        print(f"bound = {membership_success_bound(epsilon=epsilon):.3f}")
        print(f"Laplace attack (formula) = {laplace_count_attack_success(epsilon=epsilon):.3f}")
        print(f"Laplace attack (simulated) = "
              f"{simulate_laplace_count_game(epsilon=epsilon, trials=trials, seed=seed + 1):.3f}")
        display(plot_membership_game(epsilon, trials=trials, seed=seed))

    return widgets.VBox([slider, widgets.interactive_output(show, {"epsilon": slider})])


def randomized_response_explorer(*, epsilon: float = 1.0, num_examples: int = 1000,
                                 true_proportion: float = 0.3, repeats: int = 400, seed: int = 0) -> widgets.VBox:
    """"ε" and "n" sliders → prints ``ε``, ``SE (formula)``, ``SE (empirical)`` and draws
    ``plot_randomized_response``."""
    eps = _epsilon_slider(epsilon)
    n = widgets.IntSlider(value=num_examples, min=100, max=10_000, step=100, description="n",
                          continuous_update=False)

    def show(epsilon, num_examples):
        est = simulate_randomized_response_estimates(epsilon=epsilon, num_examples=num_examples,
                                                     true_proportion=true_proportion, repeats=repeats, seed=seed)
        se = randomized_response_standard_error(true_proportion=true_proportion, num_examples=num_examples, epsilon=epsilon)
        print(f"ε = {epsilon:.3f}")
        print(f"SE (formula) = {se:.3f}")
        print(f"SE (empirical) = {est.std(ddof=1):.3f}")
        display(plot_randomized_response(epsilon, num_examples=num_examples, true_proportion=true_proportion,
                                         repeats=repeats, seed=seed))

    out = widgets.interactive_output(show, {"epsilon": eps, "num_examples": n})
    return widgets.VBox([widgets.HBox([eps, n]), out])
