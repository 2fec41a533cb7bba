"""Figures of notebook 02 (the Laplace mechanism).

For a query f with L1 sensitivity Δ₁ = max over neighbours ‖f(D) − f(D')‖₁, the mechanism
M(D) = f(D) + Lap(b) with b = Δ₁/ε is ε-DP (Dwork, McSherry, Nissim & Smith 2006; Dwork & Roth
2014, Thm 3.6). The proof is one line: the output densities p_D(y) ∝ exp(−|y − f(D)|/b) of two
neighbours have the log ratio (the *privacy loss*)

    ln p_D(y)/p_D'(y) = (|y − f(D')| − |y − f(D)|)/b  ∈  [−Δ₁/b, Δ₁/b] = [−ε, ε]

for every output y (triangle inequality). The figure shows both densities and this loss.
The formulas live in ``fldp_teach.mechanisms`` (``laplace_scale``, ``laplace_privacy_loss``);
this module only draws them. Taught in notebooks/02_laplace_mechanism.ipynb.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_finite, check_positive
from fldp_teach.mechanisms import laplace_privacy_loss, laplace_scale
from fldp_teach.plots import MIN_FONT_SIZE

__all__ = ["laplace_density", "plot_laplace"]


def laplace_density(y, *, center, scale) -> np.ndarray:
    """The Lap(center, b) density exp(−|y − center|/b)/(2b) (Dwork & Roth 2014, Def. 3.2)."""
    scale = check_positive("scale", scale)
    y = np.asarray(y, dtype=float)
    return np.exp(-np.abs(y - center) / scale) / (2.0 * scale)


def plot_laplace(epsilon, *, l1_sensitivity=1.0, value=0.0, axes=None) -> Figure:
    """Left: densities of f(D) + Lap(b) and f(D') + Lap(b) with f(D) = ``value``,
    f(D') = ``value`` + Δ₁ and b = Δ₁/ε. Right: the privacy loss ln p_D(y)/p_D'(y) with the band
    [−ε, ε] it never leaves.

    ``axes``: two matplotlib Axes, or None for a new 11×4 figure. Returns the Figure."""
    epsilon = check_positive("epsilon", epsilon)
    value = check_finite("value", value)
    b = laplace_scale(epsilon=epsilon, l1_sensitivity=l1_sensitivity)
    d1 = float(l1_sensitivity)
    if axes is None:
        fig = Figure(figsize=(11, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_pdf, ax_loss = axes
    fig = ax_pdf.figure
    a, a2 = value, value + d1
    y = np.linspace(a - 6 * b - d1, a2 + 6 * b + d1, 1201)
    ax_pdf.plot(y, laplace_density(y, center=a, scale=b), color="C0", label=f"f(D) + Lap(b), f(D) = {a:g}")
    ax_pdf.plot(y, laplace_density(y, center=a2, scale=b), color="C1", ls="--",
                label=f"f(D') + Lap(b), f(D') = {a2:g}")
    ax_pdf.set_xlabel("released value y")
    ax_pdf.set_ylabel("density p(y)")
    ax_pdf.set_title(f"Neighbours' output densities: ε = {epsilon:.2f}, Δ₁ = {d1:g}, b = Δ₁/ε = {b:.2f}")
    ax_pdf.legend(fontsize=MIN_FONT_SIZE, loc="upper right")

    loss = laplace_privacy_loss(y, value_a=a, value_b=a2, scale=b)
    ax_loss.plot(y, loss, color="C2", label=r"privacy loss $\ln\,p_D(y)/p_{D'}(y)$")
    ax_loss.axhspan(-epsilon, epsilon, color="C2", alpha=0.12, label=r"$[-\varepsilon, \varepsilon]$")
    ax_loss.axhline(epsilon, color="C3", lw=1, ls=":")
    ax_loss.axhline(-epsilon, color="C3", lw=1, ls=":")
    ax_loss.set_ylim(-1.5 * epsilon - 0.1, 1.5 * epsilon + 0.1)
    ax_loss.set_xlabel("released value y")
    ax_loss.set_ylabel("privacy loss (nats)")
    ax_loss.set_title("The log ratio never leaves [−ε, ε]")
    ax_loss.legend(fontsize=MIN_FONT_SIZE, loc="upper right")
    ax_loss.grid(True, alpha=0.3)
    return fig
