"""The demo figure of notebook 00 (how a slider drives a figure).

One picture, one formula: ε-differential privacy (Dwork, McSherry, Nissim & Smith, TCC 2006,
Def. 1; Dwork & Roth 2014, Def. 2.4) says that for neighbouring datasets D, D' and every set
of outputs S,

    P[M(D) ∈ S] ≤ e^ε · P[M(D') ∈ S].

So e^ε is the largest factor by which one person can change the probability of anything the
mechanism outputs. The figure plots that factor against ε and marks the chosen ε.
Taught in notebooks/00_setup_and_tour.ipynb (and defined properly in 01_what_dp_promises).
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_positive

__all__ = ["plot_privacy_factor"]


def plot_privacy_factor(epsilon: float, *, max_epsilon: float = 5.0, ax=None) -> Figure:
    """Plot the DP likelihood-ratio bound e^ε for ε in (0, ``max_epsilon``] and mark ``epsilon``.

    Returns the Figure (a new 7×4 one unless ``ax`` is given)."""
    epsilon = check_positive("epsilon", epsilon)
    max_epsilon = check_positive("max_epsilon", max_epsilon)
    if ax is None:
        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.add_subplot()
    grid = np.linspace(0.0, max(max_epsilon, epsilon), 300)
    ax.plot(grid, np.exp(grid), color="C0", label=r"bound $e^{\varepsilon}$")
    ax.axhline(1.0, color="0.6", lw=1, ls="--", label="1 (perfect privacy, ε = 0)")
    factor = math.exp(epsilon)
    ax.plot([epsilon], [factor], "o", color="C3", label=rf"chosen ε = {epsilon:.2f}: $e^\varepsilon$ = {factor:.2f}")
    ax.set_yscale("log")
    ax.set_xlabel(r"privacy parameter $\varepsilon$ (nats)")
    ax.set_ylabel(r"max. ratio $P[M(D)\in S]\,/\,P[M(D')\in S]$")
    ax.set_title("How much one person can change any output probability")
    ax.legend(loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    return ax.figure
