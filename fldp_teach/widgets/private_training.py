"""DP-SGD trainer of notebook 06: sliders "noise z", "clip C", "batch B"; the planned ε updates
live, training runs only on the button (thin wrapper over ``fldp_teach.training`` and
``fldp_teach.plots.private_training``)."""
from __future__ import annotations

import math

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.accounting import dp_sgd_epsilon
from fldp_teach.plots.private_training import plot_training_run

__all__ = ["dp_sgd_trainer"]


def dp_sgd_trainer(dataset, *, baseline=None, epochs: int = 20, learning_rate: float = 0.5,
                   delta: float = 1e-5, seed: int = 0, noise_multiplier: float = 1.0,
                   clip_norm: float = 1.0, batch_size: int = 32,
                   max_epsilon: float | None = None) -> widgets.VBox:
    """Sliders → a live line ``ε_planned = …`` (``dp_sgd_epsilon`` for q = B/N and
    T = epochs·⌈N/B⌉, milliseconds); the "train" button trains a fresh
    ``models.logistic_regression`` on ``dataset`` with ``training.train_dp_sgd`` (Poisson lots)
    and prints ``ε = …``, ``accuracy = …`` (test) and ``train accuracy = …``, then draws
    :func:`~fldp_teach.plots.private_training.plot_training_run` against ``baseline``.
    ``max_epsilon``: a privacy budget passed to ``train_dp_sgd`` (training stops before the step
    that would exceed it); the lines then also print ``budget left = …``."""
    z = widgets.FloatSlider(value=noise_multiplier, min=0.0, max=4.0, step=0.1,
                            description="noise z", readout_format=".1f", continuous_update=False)
    c = widgets.FloatSlider(value=clip_norm, min=0.1, max=5.0, step=0.1, description="clip C",
                            readout_format=".1f", continuous_update=False)
    b = widgets.IntSlider(value=batch_size, min=8, max=128, step=8, description="batch B",
                          continuous_update=False)
    button = widgets.Button(description="train", button_style="primary",
                            tooltip=f"train {epochs} epochs of DP-SGD (a few seconds)")
    num_examples = len(dataset.y_train)

    def planned(noise_multiplier, clip_norm, batch_size):
        steps = epochs * math.ceil(num_examples / batch_size)
        eps = (dp_sgd_epsilon(sampling_rate=batch_size / num_examples,
                              noise_multiplier=noise_multiplier, steps=steps, delta=delta)
               if noise_multiplier > 0 else math.inf)
        print(f"ε_planned = {eps:.3f}   (q = B/N = {batch_size / num_examples:.3f}, "
              f"T = {steps} steps, δ = {delta:g}); press 'train' to train")
        if max_epsilon is not None:
            print(f"budget left = {max_epsilon - eps:.3f}   (max_epsilon = {max_epsilon:g}: "
                  f"{'training will stop before it' if eps > max_epsilon else 'within budget'})")

    preview = widgets.interactive_output(planned, {"noise_multiplier": z, "clip_norm": c,
                                                   "batch_size": b})
    result = widgets.Output()

    def train(_button=None):
        from fldp_teach.models import logistic_regression
        from fldp_teach.training import train_dp_sgd

        result.clear_output(wait=True)
        with result:
            model = logistic_regression(dataset.num_features, seed=seed)
            history = train_dp_sgd(
                model, dataset.x_train, dataset.y_train, epochs=epochs, batch_size=b.value,
                learning_rate=learning_rate, clip_norm=c.value, noise_multiplier=z.value,
                delta=delta, x_val=dataset.x_test, y_val=dataset.y_test, seed=seed,
                progress=False, max_epsilon=max_epsilon)
            print(f"ε = {history.epsilon_spent:.3f}")
            if max_epsilon is not None:
                print(f"budget left = {history.epsilon_remaining:.3f}")
                if history.stopped:
                    print(history.stopped)
            if not history.epochs:
                return
            print(f"accuracy = {history.val_accuracy[-1]:.3f}")
            print(f"train accuracy = {history.accuracy[-1]:.3f}")
            if baseline is not None:
                print(f"non-private accuracy = {baseline.val_accuracy[-1]:.3f}")
            display(plot_training_run(history, baseline=baseline))

    button.on_click(train)
    return widgets.VBox([widgets.HBox([z, c, b]), widgets.HBox([button, preview]), result])
