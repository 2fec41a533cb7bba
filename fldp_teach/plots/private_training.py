"""Figures of notebooks 05–07 (private training for the medical binary task): accuracy against ε
for output perturbation, objective perturbation and DP-SGD; one DP-SGD run against its
non-private baseline; measured train/test gaps with and without DP; the cost of privacy in
training time (claim C4): step-time ratios and test accuracy per epoch.

Also the one formula this notebook states about generalization, the "transfer" bound of
differential privacy (Dwork, Feldman, Hardt, Pitassi, Reingold & Roth 2015, "Generalization in
adaptive data analysis and holdout reuse", NeurIPS; Bassily, Nissim, Smith, Steinke, Stemmer &
Ullman 2016, "Algorithmic stability for adaptive data analysis", STOC): if a training algorithm
is (ε, δ)-DP for REPLACE-ONE neighbours and the loss takes values in [0, 1], then

    | E[test loss] − E[train loss] | ≤ e^ε − 1 + δ,

because swapping any one training example for a fresh one changes the probability of every
event by at most a factor e^ε (plus δ). The proof is three lines (in the notebook); the bound is
in expectation over the data and the algorithm's coins. Taught in
notebooks/05_perturbation.ipynb, 06_dp_sgd.ipynb and 07_cost_of_privacy.ipynb.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_non_negative, check_unit_interval
from fldp_teach.plots import MIN_FONT_SIZE, integer_ticks


__all__ = [
    "dp_generalization_bound",
    "replace_one_from_add_remove",
    "plot_accuracy_vs_epsilon",
    "plot_training_run",
    "plot_generalization_gaps",
    "epochs_to_accuracy",
    "plot_step_time_ratios",
    "plot_accuracy_per_epoch",
]


def _new_axes(ax, figsize=(7, 4)):
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    return ax.figure, ax


def dp_generalization_bound(*, epsilon, delta=0.0) -> float:
    """e^ε − 1 + δ: the largest expected train/test gap of a [0, 1]-valued loss that
    replace-one (ε, δ)-DP allows (module docstring). Vacuous (≥ 1) once ε ≥ ln 2 ≈ 0.69."""
    eps = check_non_negative("epsilon", epsilon, allow_inf=True)
    d = check_unit_interval("delta", delta)
    return math.expm1(eps) + d if math.isfinite(eps) else math.inf


def replace_one_from_add_remove(*, epsilon, delta) -> tuple[float, float]:
    """An add/remove (ε, δ)-DP algorithm is replace-one (2ε, (1 + e^ε)δ)-DP: replacing x by x'
    is removing x, then adding x' (group privacy for 2 steps; Dwork & Roth 2014, Thm 2.2's
    argument applied to (ε, δ))."""
    eps = check_non_negative("epsilon", epsilon, allow_inf=True)
    d = check_unit_interval("delta", delta)
    return 2 * eps, min(1.0, (1 + math.exp(eps)) * d) if math.isfinite(eps) else 1.0


def plot_accuracy_vs_epsilon(results: dict, *, baseline=None, ax=None) -> Figure:
    """``results`` maps a method name to ``(epsilons, accuracies)`` where ``accuracies`` has one
    row per ε and one column per seed; draws mean ± one standard deviation over seeds against ε
    (log axis), and the non-private ``baseline`` accuracy as a dashed line."""
    fig, ax = _new_axes(ax)
    ticks = set()
    for name, (epsilons, accuracies) in results.items():
        ticks.update(float(e) for e in epsilons)
        acc = np.atleast_2d(np.asarray(accuracies, dtype=float))
        if acc.shape[0] != len(epsilons):
            acc = acc.T
        mean = acc.mean(axis=1)
        std = acc.std(axis=1, ddof=1) if acc.shape[1] > 1 else np.zeros_like(mean)
        ax.errorbar(epsilons, mean, yerr=std, marker="o", capsize=3, label=name)
    if baseline is not None:
        ax.axhline(baseline, color="black", ls="--", lw=1, label="non-private")
    ax.set_xscale("log")
    ax.set_xticks(sorted(ticks), [f"{t:g}" for t in sorted(ticks)])
    ax.minorticks_off()
    ax.set_xlabel("privacy budget ε")
    ax.set_ylabel("test accuracy")
    ax.set_title("Three correct ways to train privately (breast cancer, logistic regression)")
    ax.set_ylim(0.3, 1.0)
    ax.legend(fontsize=MIN_FONT_SIZE, loc="lower right")
    ax.grid(alpha=0.3, which="both")
    return fig


def plot_training_run(history, *, baseline=None, ax=None) -> Figure:
    """Training and test accuracy per epoch of a ``TrainingHistory`` (DP-SGD), with the
    ``baseline`` history (non-private) dashed; the title states the final ε."""
    fig, ax = _new_axes(ax)
    epochs = np.arange(1, history.epochs + 1)
    ax.plot(epochs, history.accuracy, color="tab:blue", label="DP-SGD, train")
    ax.plot(epochs, history.val_accuracy, color="tab:orange", label="DP-SGD, test")
    if baseline is not None:
        be = np.arange(1, baseline.epochs + 1)
        ax.plot(be, baseline.accuracy, color="tab:blue", ls="--", alpha=0.6, label="non-private, train")
        ax.plot(be, baseline.val_accuracy, color="tab:orange", ls="--", alpha=0.6,
                label="non-private, test")
    eps = history.epsilon[-1] if history.epsilon else math.inf
    ax.set_xlabel("epoch")
    integer_ticks(ax)
    ax.set_ylabel("accuracy")
    ax.set_title(f"DP-SGD: z = {history.noise_multiplier:g}, C = {history.clip_norm:g}, "
                 f"ε = {eps:.2f} at δ = {history.delta:g}" if history.delta else "SGD (non-private)")
    ax.set_ylim(0.5, 1.0)
    ax.legend(fontsize=MIN_FONT_SIZE, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def plot_generalization_gaps(rows, *, ax=None) -> Figure:
    """``rows``: ``(label, gaps)`` pairs, ``gaps`` the measured test − train loss of each seed.
    Draws one bar per setting (mean over seeds) with the seeds as dots."""
    fig, ax = _new_axes(ax)
    labels = [r[0] for r in rows]
    for i, (_, gaps) in enumerate(rows):
        g = np.asarray(gaps, dtype=float)
        ax.bar(i, g.mean(), color="tab:blue", alpha=0.6)
        ax.plot(np.full(g.shape, i), g, "k.", ms=6)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(rows)), labels, fontsize=MIN_FONT_SIZE)
    ax.set_ylabel("test loss − train loss (nats)")
    ax.set_xlabel("training (MLP, breast cancer)")
    ax.set_title("Measured generalization gap, one dot per seed")
    ax.grid(alpha=0.3, axis="y")
    return fig


def epochs_to_accuracy(accuracies, *, target):
    """The first epoch e (counted from 1) with ``accuracies[e - 1] >= target``, or None if the
    run never reaches ``target``. "Epochs to accuracy" of notebook 07, claim C4; the training
    time to reach it is e × (steps per epoch) × (time per step)."""
    target = check_unit_interval("target", target)
    for epoch, accuracy in enumerate(np.asarray(accuracies, dtype=float).ravel(), start=1):
        if accuracy >= target:  # NaN (no validation data) never counts as reached
            return epoch
    return None


def plot_step_time_ratios(step_times: dict, *, baseline="non-private", ax=None) -> Figure:
    """``step_times`` maps a configuration (e.g. "logistic, B = 32") to ``{variant: seconds}``,
    one entry being ``baseline``; draws, per configuration, one bar per other variant with the
    ratio t_variant / t_baseline (printed on the bar) and a line at 1 (no slowdown)."""
    fig, ax = _new_axes(ax)
    groups = list(step_times)
    variants = [v for v in step_times[groups[0]] if v != baseline]
    width = 0.8 / len(variants)
    for j, variant in enumerate(variants):
        ratios = [step_times[g][variant] / step_times[g][baseline] for g in groups]
        bars = ax.bar(np.arange(len(groups)) + (j - (len(variants) - 1) / 2) * width, ratios,
                      width, label=variant)
        ax.bar_label(bars, [f"{r:.2f}×" for r in ratios], fontsize=MIN_FONT_SIZE, padding=2, rotation=90)
    ax.axhline(1.0, color="black", ls="--", lw=1, label=f"{baseline} (= 1)")
    ax.set_xticks(range(len(groups)), groups, fontsize=MIN_FONT_SIZE)
    ax.set_ylabel(f"median step time / {baseline} step time")
    ax.set_xlabel("model and batch size B")
    ax.set_title("Per-step cost of DP-SGD (median wall time per step, ratio)")
    ax.margins(y=0.2)
    ax.legend(fontsize=MIN_FONT_SIZE, loc="upper left")
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_accuracy_per_epoch(curves: dict, *, target, ax=None, title=None) -> Figure:
    """``curves`` maps a setting to test accuracies, one row per seed and one column per epoch;
    draws the mean over seeds per epoch (band: min to max over seeds), a dashed line at
    ``target`` and a dot where the mean first reaches it (:func:`epochs_to_accuracy`, stated in
    the legend)."""
    fig, ax = _new_axes(ax)
    lowest = target
    for name, accuracies in curves.items():
        acc = np.atleast_2d(np.asarray(accuracies, dtype=float))
        mean, epochs = acc.mean(axis=0), np.arange(1, acc.shape[1] + 1)
        reached = epochs_to_accuracy(mean, target=target)
        label = f"{name}: {reached} epoch{'s' if reached != 1 else ''}" if reached else f"{name}: not reached"
        (line,) = ax.plot(epochs, mean, label=label)
        ax.fill_between(epochs, acc.min(axis=0), acc.max(axis=0), color=line.get_color(), alpha=0.15)
        if reached:
            ax.plot(reached, mean[reached - 1], "o", color=line.get_color())
        lowest = min(lowest, float(np.nanmin(acc)))
    ax.axhline(target, color="black", ls="--", lw=1)
    ax.set_xlabel("epoch")
    integer_ticks(ax)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(max(0.0, lowest - 0.02), 1.0)
    ax.set_title(title or f"Epochs until the mean test accuracy reaches {target:g}")
    ax.legend(fontsize=MIN_FONT_SIZE, loc="lower right", title=f"epochs to {target:g}", title_fontsize=MIN_FONT_SIZE)
    ax.grid(alpha=0.3)
    return fig
