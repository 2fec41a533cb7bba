"""Figures of notebook 13 (what DP protects, article §3.3, claim C5): membership-inference ROC
curves against the (ε, δ)-DP region, the attack's advantage against ε with the bound
(e^ε − 1 + 2δ)/(e^ε + 1), group privacy, and gradient inversion on raw vs DP-SGD updates.

The maths is in :mod:`fldp_teach.membership` and :mod:`fldp_teach.inversion`; these pure
functions take results computed there and return matplotlib Figures (no training).
Taught in notebooks/13_what_dp_protects.ipynb.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_non_negative, check_open_unit, check_positive_int
from fldp_teach.membership import (
    chance_advantage,
    dp_advantage_bound,
    dp_max_tpr,
    group_privacy,
)
from fldp_teach.membership_experiment import MembershipTrial
from fldp_teach.plots import MIN_FONT_SIZE

__all__ = [
    "plot_roc_curves",
    "plot_advantage_vs_epsilon",
    "plot_group_privacy",
    "plot_reconstructions",
    "plot_batch_mix",
    "plot_inversion_at_noise",
]


def _new_axes(ax, figsize=(7, 4)):
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    return ax.figure, ax


def _image(v):
    """A flat 64-vector as an 8×8 image (other sizes: the nearest square, else one row)."""
    v = np.asarray(v, dtype=float).reshape(-1)
    side = int(round(math.sqrt(v.size)))
    return v.reshape(side, side) if side * side == v.size else v.reshape(1, -1)


# ------------------------------------------------------------------------------ membership
def plot_roc_curves(trials: Sequence[MembershipTrial], *, epsilon=None, delta=1e-5, log=False,
                    ax=None) -> Figure:
    """ROC curves of the loss-threshold attack, one line per target model (label: model and
    AUC), the diagonal (guessing) and, when ``epsilon`` is given, the upper edge of the
    (ε, δ)-DP region, ``dp_max_tpr`` (shaded above: no attack on an (ε, δ)-DP model gets
    there). ``log=True``: log–log axes, the low-FPR view of Carlini et al. (2022)."""
    fig, ax = _new_axes(ax)
    grid = np.logspace(-3, 0, 400) if log else np.linspace(0, 1, 401)
    for i, t in enumerate(trials):
        ax.plot(t.attack.fpr, t.attack.tpr, color=f"C{i}", lw=1.8, drawstyle="steps-post",
                label=f"{t.label} (AUC = {t.attack.auc:.3f})")
    ax.plot(grid, grid, color="0.5", ls="--", lw=1, label="guessing (TPR = FPR)")
    if epsilon is not None:
        eps = check_non_negative("epsilon", epsilon)
        edge = dp_max_tpr(grid, epsilon=eps, delta=delta)
        ax.plot(grid, edge, color="k", lw=2, label=f"({eps:.2g}, {delta:g})-DP limit")
        ax.fill_between(grid, edge, 1.0, color="0.85", alpha=0.6, label="impossible under DP")
    if log:
        if trials:
            floor = 1.0 / trials[0].attack.num_nonmembers
            ax.axvspan(1e-3, floor, color="C0", alpha=0.08, hatch="//",
                       label=f"FPR < 1/{trials[0].attack.num_nonmembers}: not measurable")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(1e-3, 1)
        ax.set_ylim(1e-3, 1.02)
    else:
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
    ax.set_xlabel("false positive rate FPR (non-members called members)")
    ax.set_ylabel("true positive rate TPR")
    ax.set_title("Membership inference: loss-threshold attack" + (" (log–log)" if log else ""))
    ax.legend(loc="lower right", fontsize=MIN_FONT_SIZE)
    ax.grid(True, alpha=0.3)
    return fig


def plot_advantage_vs_epsilon(trials: Sequence[MembershipTrial], *, delta=1e-5, ax=None) -> Figure:
    """Measured advantage max_τ(TPR − FPR) of every DP model at its ε (points), the non-private
    model's (horizontal line), the DP bound (e^ε − 1 + 2δ)/(e^ε + 1) over ε, and the band an
    attacker with no information measures by chance (95 %, ``chance_advantage``)."""
    delta = check_open_unit("delta", delta)
    fig, ax = _new_axes(ax)
    private = [t for t in trials if math.isfinite(t.epsilon)]
    plain = [t for t in trials if not math.isfinite(t.epsilon)]
    hi = max([t.epsilon for t in private] + [10.0]) * 1.5
    grid = np.logspace(-2, math.log10(hi), 300)
    ax.plot(grid, [dp_advantage_bound(epsilon=e, delta=delta) for e in grid], color="k", lw=2,
            label=r"DP bound $(e^\varepsilon-1+2\delta)/(e^\varepsilon+1)$")
    if private:
        ax.plot([t.epsilon for t in private], [t.attack.advantage for t in private], "o", color="C1",
                ms=8, label="DP-SGD models (measured)")
    for i, t in enumerate(plain):
        ax.axhline(t.attack.advantage, color="C3", ls="-.", lw=1.5,
                   label=f"{t.label}: advantage {t.attack.advantage:.2f}" if i == 0 else None)
    n = trials[0].attack
    chance = chance_advantage(num_members=n.num_members, num_nonmembers=n.num_nonmembers)
    ax.axhspan(0, chance, color="C0", alpha=0.15,
               label=f"chance level (no information, 95 %): {chance:.2f}")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(r"privacy parameter $\varepsilon$ (δ = " + f"{delta:g})")
    ax.set_ylabel("membership advantage TPR − FPR")
    ax.set_title("Membership advantage shrinks with ε and stays under the DP bound")
    ax.legend(loc="upper left", fontsize=MIN_FONT_SIZE)
    ax.grid(True, which="both", alpha=0.3)
    return fig


def plot_group_privacy(*, epsilon, delta=1e-5, max_group_size=10, ax=None) -> Figure:
    """The advantage bound for telling apart data sets that differ in k records (a family, a
    ward), k = 1 … ``max_group_size``: ``dp_advantage_bound`` at ``group_privacy(ε, δ, k)``."""
    eps = check_non_negative("epsilon", epsilon)
    kmax = check_positive_int("max_group_size", max_group_size)
    fig, ax = _new_axes(ax)
    ks = np.arange(1, kmax + 1)
    bounds = []
    for k in ks:
        eps_k, delta_k = group_privacy(epsilon=eps, delta=delta, group_size=int(k))
        bounds.append(1.0 if delta_k >= 1 else dp_advantage_bound(epsilon=eps_k, delta=delta_k))
    ax.plot(ks, bounds, "o-", color="C2", label=f"bound at (kε, δ_k), ε = {eps:g}")
    ax.axhline(1.0, color="0.5", ls="--", lw=1, label="certain identification")
    ax.set_xlabel("group size k (records that differ)")
    ax.set_ylabel("advantage bound")
    ax.set_ylim(0, 1.05)
    ax.set_title("Group privacy: protection fades as kε")
    ax.legend(loc="lower right", fontsize=MIN_FONT_SIZE)
    ax.grid(True, alpha=0.3)
    return fig


# ------------------------------------------------------------------------------ inversion
def plot_reconstructions(sweep, *, noise_multipliers=None, trial=0) -> Figure:
    """Image grid: the original example, the reconstruction from the raw update, and from
    DP-SGD updates at each z in ``noise_multipliers`` (default: all of ``sweep``'s), each titled
    with its cosine similarity to the original. ``sweep`` is a
    :class:`fldp_teach.inversion.NoiseSweep`."""
    zs = list(sweep.noise_multipliers) if noise_multipliers is None else list(noise_multipliers)
    index = [int(np.argmin(np.abs(sweep.noise_multipliers - z))) for z in zs]
    panels = [("original x", sweep.original), ("raw update", sweep.raw)]
    panels += [(f"z = {sweep.noise_multipliers[k]:g}\nsim = {sweep.similarity[k, trial]:.2f}",
                sweep.reconstructions[k, trial]) for k in index]
    fig = Figure(figsize=(1.5 * len(panels) + 0.5, 2.3), layout="constrained")
    axes = fig.subplots(1, len(panels))
    for ax, (title, img) in zip(np.atleast_1d(axes), panels):
        ax.imshow(_image(img), cmap="gray_r")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"Inverting a Dense layer's update (clip C = {sweep.clip_norm:g}, DP-SGD noise z)",
                 fontsize=10)
    return fig


def plot_batch_mix(x, labels, reconstructions, weights) -> Figure:
    """Top row: the B examples of a batch; bottom row: what column j = label of example n
    returns from the batch update, x̂_j = Σ_m w_{mj} x_m, titled with example n's own weight."""
    x = np.asarray(x)
    b = len(x)
    fig = Figure(figsize=(1.7 * b + 0.5, 4.0), layout="constrained")
    axes = fig.subplots(2, b, squeeze=False)
    for n in range(b):
        axes[0, n].imshow(_image(x[n]), cmap="gray_r")
        axes[0, n].set_title(f"example {n} (label {int(labels[n])})", fontsize=9)
        axes[1, n].imshow(_image(reconstructions[n]), cmap="gray_r")
        axes[1, n].set_title(f"unit {int(labels[n])}: w = {weights[n]:.2f}", fontsize=9)
        for ax in axes[:, n]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("A batch update returns gradient-weighted mixes of its examples", fontsize=10)
    return fig


def plot_inversion_at_noise(sweep, noise_multiplier, *, trial=0) -> Figure:
    """Left: original and the reconstruction at ``noise_multiplier`` (one of the sweep's z);
    right: cosine similarity against z (mean ± std over the sweep's trials, log axis; the
    clipping-only point z = 0 drawn as a dotted line), the chosen z marked."""
    k = int(np.argmin(np.abs(sweep.noise_multipliers - noise_multiplier)))
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    grid = fig.add_gridspec(1, 4)
    ax_o, ax_r, ax_c = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[0, 2:])
    ax_o.imshow(_image(sweep.original), cmap="gray_r")
    ax_o.set_title("original x")
    ax_r.imshow(_image(sweep.reconstructions[k, trial]), cmap="gray_r")
    ax_r.set_title(f"from DP update, z = {sweep.noise_multipliers[k]:g}")
    for ax in (ax_o, ax_r):
        ax.set_xticks([])
        ax.set_yticks([])
    zs, sim = sweep.noise_multipliers, sweep.similarity
    positive = zs > 0
    mean, std = sim.mean(axis=1), sim.std(axis=1)
    ax_c.plot(zs[positive], mean[positive], "o-", color="C0",
              label=f"mean over {sim.shape[1]} noise draws")
    ax_c.fill_between(zs[positive], (mean - std)[positive], (mean + std)[positive], color="C0", alpha=0.2)
    if np.any(~positive):
        ax_c.axhline(mean[~positive][0], color="C2", ls=":", lw=1.5, label="z = 0 (clipping only)")
    ax_c.axhline(0.0, color="0.5", lw=1)
    if zs[k] > 0:
        ax_c.plot([zs[k]], [sim[k, trial]], "s", color="C3", ms=9, mfc="none", label="shown image")
    ax_c.set_xscale("log")
    ax_c.set_ylim(-0.5, 1.05)
    ax_c.set_xlabel("noise multiplier z (noise std zC on the summed update)")
    ax_c.set_ylabel(r"cosine similarity $\cos\angle(\hat x, x)$")
    ax_c.set_title("Reconstruction quality vs DP-SGD noise")
    ax_c.legend(loc="lower left", fontsize=MIN_FONT_SIZE)
    ax_c.grid(True, which="both", alpha=0.3)
    return fig
