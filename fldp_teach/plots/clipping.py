"""Figures of notebook 04 (clipping): norm histograms, the bias–variance trade-off of the
clipped, noised mean, and adaptive quantile clipping.

The maths is in ``fldp_teach.clipping`` (this module only sweeps and draws it):

* clipping v ↦ v·min(1, C/‖v‖₂) bounds each contribution's norm, so the sum has Δ₂ = C
  (Abadi et al. 2016, Alg. 1; McMahan et al. 2018, Alg. 1);
* the DP mean (Σ_i clip(v_i, C) + N(0, z²C² I_d))/B has a **bias** ‖mean(clip(v_i)) − mean(v_i)‖₂
  that grows as C shrinks, and **noise** of std zC/B per coordinate (E‖noise‖² = d(zC/B)²) that
  grows with C; ``clipped_mean_bias_variance`` computes both, and the MSE = bias² + d(zC/B)² has a
  sweet spot in between;
* adaptive clipping (Andrew, Thakkar, McMahan & Ramaswamy 2021, NeurIPS, Alg. 1) moves C
  geometrically towards the γ-quantile of the norms: C ← C·exp(−η(b̃ − γ)).

Taught in notebooks/04_clipping.ipynb.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_non_negative, check_positive, check_positive_int, check_unit_interval
from fldp_teach.clipping import adaptive_clip_norm_update, clipped_mean_bias_variance
from fldp_teach.plots import MIN_FONT_SIZE


__all__ = [
    "clipping_tradeoff_curves",
    "plot_norm_histogram",
    "plot_clipping_tradeoff",
    "adaptive_clipping_trajectory",
    "plot_adaptive_clipping",
]


def _new_axes(ax, figsize=(7, 4)):
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    return ax.figure, ax


def _as_vectors(vectors) -> np.ndarray:
    v = np.asarray(vectors, dtype=float)
    if v.ndim != 2 or v.shape[0] == 0:
        raise ValueError(f"vectors must have shape [B, d] with B >= 1, got shape {v.shape}")
    return v


def clipping_tradeoff_curves(vectors, *, clip_norms, noise_multiplier) -> dict:
    """For each C in ``clip_norms``: the bias, the per-coordinate noise std zC/B, the RMSE
    sqrt(bias² + d(zC/B)²) and the fraction clipped of the DP mean of ``vectors`` ([B, d]),
    from ``clipping.clipped_mean_bias_variance``. Returns a dict of arrays (keys ``clip_norms``,
    ``bias``, ``noise_stddev``, ``rmse``, ``fraction_clipped``) and ``best_clip_norm`` (the C with
    the smallest RMSE, refined between the grid neighbours of the best grid point, so that it
    does not depend on the grid)."""
    from scipy.optimize import minimize_scalar

    v = _as_vectors(vectors)
    grid = np.asarray(clip_norms, dtype=float)
    errors = [clipped_mean_bias_variance(v, clip_norm=c, noise_multiplier=noise_multiplier) for c in grid]
    rmse = np.sqrt([e.mse for e in errors])
    # the sweet spot, refined between the grid neighbours of the best grid point (bounded Brent
    # search in log C): the same C whatever grid a table or a widget uses
    i = int(np.argmin(rmse))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = grid[i]
    if hi > lo:
        found = minimize_scalar(
            lambda log_c: clipped_mean_bias_variance(v, clip_norm=math.exp(log_c), noise_multiplier=noise_multiplier).mse,
            bounds=(math.log(lo), math.log(hi)), method="bounded", options={"xatol": 1e-6})
        if found.fun <= rmse[i] ** 2:
            best = math.exp(found.x)
    return {
        "clip_norms": grid,
        "bias": np.array([e.bias for e in errors]),
        "noise_stddev": noise_multiplier * grid / v.shape[0],
        "rmse": rmse,
        "fraction_clipped": np.array([e.fraction_clipped for e in errors]),
        "best_clip_norm": float(best),
    }


def plot_norm_histogram(norms, clip_norm, *, ax=None) -> Figure:
    """Histogram of per-example norms ‖g_i‖₂ with the clip norm C marked and the fraction of
    examples that clipping shrinks (‖g_i‖ > C) in the title."""
    clip_norm = check_positive("clip_norm", clip_norm)
    norms = np.asarray(norms, dtype=float).reshape(-1)
    fig, ax = _new_axes(ax)
    ax.hist(norms, bins=40, color="C0", alpha=0.7, label=f"{norms.size} examples")
    ax.axvline(clip_norm, color="C3", lw=2, label=f"clip norm C = {clip_norm:.2f}")
    ax.set_xlabel(r"per-example gradient norm $\|g_i\|_2$")
    ax.set_ylabel("number of examples")
    ax.set_title(f"{np.mean(norms > clip_norm):.0%} of the examples are clipped (‖g_i‖ > C)")
    ax.legend(fontsize=MIN_FONT_SIZE)
    return fig


def plot_clipping_tradeoff(vectors, clip_norm, *, noise_multiplier=1.0, clip_norms=None, axes=None) -> Figure:
    """Left: histogram of the norms of ``vectors`` ([B, d]) with C marked. Right: against C (log
    axis), the bias of the clipped mean, the noise std zC/B per coordinate, the total RMSE
    sqrt(bias² + d(zC/B)²), the chosen C and the sweet spot (smallest RMSE on the grid).

    ``axes``: two matplotlib Axes, or None for a new 11×4 figure. Returns the Figure."""
    clip_norm = check_positive("clip_norm", clip_norm)
    noise_multiplier = check_non_negative("noise_multiplier", noise_multiplier)
    v = _as_vectors(vectors)
    norms = np.linalg.norm(v, axis=1)
    if clip_norms is None:
        positive = norms[norms > 0]
        low = positive.min() / 10 if positive.size else 1e-3
        clip_norms = np.geomspace(low, norms.max() * 3, 60)
    curves = clipping_tradeoff_curves(v, clip_norms=clip_norms, noise_multiplier=noise_multiplier)
    if axes is None:
        fig = Figure(figsize=(11, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_h, ax_t = axes
    fig = ax_h.figure
    plot_norm_histogram(norms, clip_norm, ax=ax_h)

    grid = curves["clip_norms"]
    d = v.shape[1]
    ax_t.plot(grid, curves["bias"], color="C0", label=r"bias $\|\overline{\mathrm{clip}(g)} - \bar g\|_2$")
    ax_t.plot(grid, np.sqrt(d) * curves["noise_stddev"], color="C1",
              label=rf"noise $\sqrt{{d}}\,zC/B$ (d = {d}, B = {v.shape[0]}, z = {noise_multiplier:g})")
    ax_t.plot(grid, curves["rmse"], color="k", lw=2, label=r"RMSE $\sqrt{\mathrm{bias}^2 + d(zC/B)^2}$")
    best = curves["best_clip_norm"]
    ax_t.axvline(best, color="C2", ls="--", lw=1.5, label=f"sweet spot C ≈ {best:.2f}")
    ax_t.axvline(clip_norm, color="C3", lw=2, label=f"chosen C = {clip_norm:.2f}")
    ax_t.set_xscale("log")
    ax_t.set_yscale("log")
    ax_t.set_xlabel("clip norm C")
    ax_t.set_ylabel("error of the DP mean gradient (L2 norm)")
    ax_t.set_title("Clipping: bias falls, noise grows with C")
    low = min(curves["noise_stddev"][curves["noise_stddev"] > 0].min() * np.sqrt(d)
              if noise_multiplier > 0 else np.inf, curves["bias"][curves["bias"] > 0].min(initial=np.inf))
    if np.isfinite(low):
        ax_t.set_ylim(bottom=low / 100)  # free space under the curves for the legend
    ax_t.legend()
    ax_t.grid(True, which="both", alpha=0.3)
    return fig


def adaptive_clipping_trajectory(norms_per_round, *, clip_norm, target_quantile, learning_rate,
                                 count_stddev, seed=0) -> np.ndarray:
    """C_0 = ``clip_norm``, then C_{t+1} from ``clipping.adaptive_clip_norm_update`` on the norms
    of round t (a sequence of 1-d arrays). Returns the T + 1 values of C. Each round's count noise
    uses the seed ``seed + t``, so the trajectory is reproducible."""
    check_positive("clip_norm", clip_norm)
    check_unit_interval("target_quantile", target_quantile)
    values = [float(clip_norm)]
    for t, norms in enumerate(norms_per_round):
        new, _ = adaptive_clip_norm_update(np.asarray(norms, dtype=float), clip_norm=values[-1],
                                           target_quantile=target_quantile, learning_rate=learning_rate,
                                           count_stddev=count_stddev, seed=None if seed is None else seed + t)
        values.append(float(new))
    return np.array(values)


def plot_adaptive_clipping(norms, *, clip_norm, target_quantile=0.5, learning_rate=0.2, count_stddev=0.0,
                           rounds=60, batch_size=64, seed=0, ax=None) -> Figure:
    """Adaptive quantile clipping on batches of ``batch_size`` norms drawn (seeded) from ``norms``:
    the trajectory of C over ``rounds`` steps against the true γ-quantile of all the norms."""
    rounds = check_positive_int("rounds", rounds)
    batch_size = check_positive_int("batch_size", batch_size)
    norms = np.asarray(norms, dtype=float).reshape(-1)
    rng = np.random.default_rng(seed)
    batches = [rng.choice(norms, size=batch_size, replace=False if batch_size <= norms.size else True)
               for _ in range(rounds)]
    path = adaptive_clipping_trajectory(batches, clip_norm=clip_norm, target_quantile=target_quantile,
                                        learning_rate=learning_rate, count_stddev=count_stddev, seed=seed)
    fig, ax = _new_axes(ax)
    quantile = float(np.quantile(norms, target_quantile))
    ax.plot(np.arange(rounds + 1), path, color="C0", marker="o", ms=3, label="adaptive C_t")
    ax.axhline(quantile, color="C2", ls="--", label=f"true {target_quantile:.0%}-quantile of the norms = {quantile:.2f}")
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel("clip norm C_t")
    ax.set_title(rf"$C \leftarrow C\,\exp(-\eta(\tilde b - \gamma))$, γ = {target_quantile:g}, η = {learning_rate:g}, "
                 rf"$\sigma_b$ = {count_stddev:g}")
    ax.legend(fontsize=MIN_FONT_SIZE)
    ax.grid(True, which="both", alpha=0.3)
    return fig
