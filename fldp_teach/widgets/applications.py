"""The slider of notebook 14: move the fraud threshold and watch accuracy stay high while
recall collapses (a thin wrapper over ``fldp_teach.plots.applications.plot_fraud_threshold``).
Nothing is retrained: the scores are computed once in the notebook."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.plots.applications import plot_fraud_threshold, threshold_metrics

__all__ = ["fraud_threshold_explorer"]


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3f}"


def fraud_threshold_explorer(labels, scores_by_model: Mapping[str, Sequence[float]], *,
                             threshold: float = 0.5) -> widgets.VBox:
    """A "threshold" slider (0.01 … 0.99) → prints ``threshold``, then ``accuracy``,
    ``precision``, ``recall`` of the FIRST model in ``scores_by_model`` (one ``name = value``
    line each) and draws :func:`plot_fraud_threshold` for all models."""
    slider = widgets.FloatSlider(value=threshold, min=0.01, max=0.99, step=0.01, description="threshold",
                                 continuous_update=False, readout_format=".2f")
    first = next(iter(scores_by_model))

    def show(threshold):
        m = threshold_metrics(labels, scores_by_model[first], threshold)
        print(f"threshold = {threshold:.3f}")
        print(f"model: {first}")
        print(f"accuracy = {_fmt(m['accuracy'])}")
        print(f"precision = {_fmt(m['precision'])}")
        print(f"recall = {_fmt(m['recall'])}")
        print(f"flagged = {m['flagged']} of {len(labels)} transactions, {m['tp']} of them fraud")
        display(plot_fraud_threshold(labels, scores_by_model, threshold))

    return widgets.VBox([slider, widgets.interactive_output(show, {"threshold": slider})])
