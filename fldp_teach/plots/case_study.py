"""Figures of notebook 12 (the medical case study, article §4.3 E8 and §5.2 C7): the privacy
cost of a noise schedule (claim C6) and the privacy–utility summary of the runs.

Record-level ε of a noise schedule. Hospital k with n_k patients runs DP-SGD with batch
b_k = min(B, n_k) for E local epochs per round, i.e. E·⌈n_k/b_k⌉ steps per round, each a
sampled Gaussian mechanism with rate q_k = b_k/n_k and the round's noise multiplier z_r
(Abadi et al. 2016, Alg. 1). RDP adds up over every step of every phase (Mironov 2017,
Prop. 1; Mironov, Talwar & Zhang 2019 for the sampled Gaussian), and the reported ε after
round r is the worst hospital's, exactly as :func:`fldp_teach.dp_fedavg.record_level_epsilon`
computes it. Changing z during training (the article's §3.2 Step 7: "在每次迭代中，可以调整
差分隐私的参数") is allowed — every phase is charged. Taught in
notebooks/12_medical_case_study.ipynb.
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_open_unit, check_positive_int
from fldp_teach.plots import integer_ticks, legend_below


__all__ = ["schedule_epsilons", "plot_noise_schedule", "plot_privacy_utility"]


def schedule_epsilons(noise_schedule: Sequence[float], *, num_examples: Sequence[int], batch_size: int,
                      local_epochs: int = 1, delta: float) -> np.ndarray:
    """ε after each round r = 1..R of record-level DP-SGD with z_r = ``noise_schedule[r-1]``,
    every hospital joining every round; the worst hospital's ε (module docstring), one value
    per round. (Results are memoized: the widget redraws the same schedules.)"""
    schedule = tuple(float(z) for z in noise_schedule)
    if not schedule:
        raise ValueError("noise_schedule must have at least one round, got an empty schedule")
    batch_size = check_positive_int("batch_size", batch_size)
    delta = check_open_unit("delta", delta)
    sizes = tuple(check_positive_int("num_examples", n) for n in num_examples)
    return np.array(_schedule_epsilons(schedule, sizes, batch_size, local_epochs, delta))


@functools.lru_cache(maxsize=256)
def _schedule_epsilons(schedule: tuple, sizes: tuple, batch_size: int, local_epochs: int, delta: float) -> tuple:
    from fldp_teach.dp_fedavg import record_level_epsilon

    return tuple(record_level_epsilon(noise_multipliers=schedule[:r], participations=[list(range(r))] * len(sizes),
                                      num_examples=sizes, batch_size=batch_size, local_epochs=local_epochs,
                                      delta=delta)
                 for r in range(1, len(schedule) + 1))


def plot_noise_schedule(noise_schedule: Sequence[float], *, num_examples: Sequence[int], batch_size: int,
                        local_epochs: int = 1, delta: float, constant: float | None = None, axes=None) -> Figure:
    """Left: z per round of the schedule (and the ``constant`` comparison). Right: ε after each
    round for the schedule and for the constant z (record-level, worst hospital, δ)."""
    schedule = np.asarray(noise_schedule, dtype=float)
    rounds = np.arange(1, len(schedule) + 1)
    if axes is None:
        fig = Figure(figsize=(11, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_z, ax_e = axes
    kw = dict(num_examples=num_examples, batch_size=batch_size, local_epochs=local_epochs, delta=delta)
    eps = schedule_epsilons(schedule, **kw)
    ax_z.step(rounds, schedule, where="mid", color="C1", lw=2.5, zorder=3, label="schedule")  # on top: visible where it equals the constant
    ax_e.plot(rounds, eps, "o-", ms=3, color="C1", lw=2, zorder=3, label=f"schedule: ε = {eps[-1]:.2f} after {len(rounds)} rounds")
    if constant is not None:
        eps_c = schedule_epsilons([constant] * len(schedule), **kw)
        ax_z.axhline(constant, color="C0", ls="--", label=f"constant z = {constant:.3f}")
        ax_e.plot(rounds, eps_c, "s--", ms=3, color="C0", label=f"constant z = {constant:.3f}: ε = {eps_c[-1]:.2f}")
    ax_z.set_xlabel("round")
    integer_ticks(ax_z)
    ax_z.set_ylabel("noise multiplier z = σ/C")
    ax_z.set_ylim(0, max(schedule.max(), constant or 0) * 1.15)
    ax_z.set_title("Noise schedule (article §3.2 Step 7, C6)")
    ax_e.set_xlabel("round")
    integer_ticks(ax_e)
    ax_e.set_ylabel(f"record-level ε spent (δ = {delta:g})")
    ax_e.set_title("The accountant charges every phase")
    for ax in (ax_z, ax_e):
        ax.legend()
        ax.grid(True, alpha=0.3)
    return ax_z.figure


def plot_privacy_utility(rows: Sequence[dict], *, axes=None) -> Figure:
    """``rows``: dicts with ``label``, ``epsilon`` (∞ for no privacy), ``accuracy``, ``auc``.
    Accuracy and AUC against ε (log axis) for the private rows; the non-private rows
    (ε = ∞) as horizontal lines."""
    if not rows:
        raise ValueError("rows must contain at least one run, got none")
    if axes is None:
        fig = Figure(figsize=(11, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("accuracy", "auc")):
        private = [r for r in rows if math.isfinite(r["epsilon"])]
        for i, r in enumerate(private):
            ax.plot([r["epsilon"]], [r[metric]], "o", color=f"C{i}", ms=7, label=r["label"])
        for r in rows:
            if not math.isfinite(r["epsilon"]):
                ax.axhline(r[metric], color="k", lw=1, ls="--", label=f"{r['label']} (ε = ∞)")
        ax.set_xscale("log")
        if private:
            lo, hi = min(r["epsilon"] for r in private), max(r["epsilon"] for r in private)
            ticks = [v * 10.0**k for k in range(-2, 4) for v in (1, 2, 5) if lo / 1.5 <= v * 10.0**k <= hi * 1.5]
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
        ax.set_xlabel("ε (δ = 1e-5)")
        ax.set_ylabel("test " + ("AUC" if metric == "auc" else "accuracy"))
        ax.set_title(f"{'AUC' if metric == 'auc' else 'Accuracy'} vs privacy spent")
        ax.grid(True, which="both", alpha=0.3)
    legend_below(axes[0], ncol=2)  # below the axes: it covered a point
    return axes[0].figure
