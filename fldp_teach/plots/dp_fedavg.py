"""Figures of notebook 10 (central DP-FedAvg): the server's noise, the user-level ε over rounds,
how far one client can move the model, and the privacy–utility curve.

Central DP-FedAvg (McMahan, Ramage, Talwar & Zhang 2018, ICLR, Alg. 1; article §4.1 Eq. (3), E3):
each sampled client's update is clipped to L2 norm C, the clipped updates are summed, Gaussian
noise N(0, z²C² I) is added and the sum is divided by a FIXED m (the expected number of clients
per round, qK):

    Δ̄ = (1/m) [ Σ_k clip(Δθ_k, C) + N(0, z²C² I) ]          (noise std on Δ̄: zC/m)

One client changes the clipped sum by at most C, so it changes Δ̄ by at most C/m — whatever it
sends (:func:`one_client_shift`). Each round is a sampled Gaussian mechanism (q = m/K, z); the
RDP accountant composes the rounds into a user-level (ε, δ)
(:func:`fldp_teach.accounting.dp_sgd_epsilon`, Mironov, Talwar & Zhang 2019).

Pure functions returning matplotlib Figures (no widgets, no training). Taught in
notebooks/10_central_dp_fedavg.ipynb.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_non_negative, check_open_unit, check_positive, check_positive_int
from fldp_teach.accounting import DEFAULT_ORDERS, dp_sgd_epsilon, epsilon_from_rdp, rdp_sampled_gaussian
from fldp_teach.dp_fedavg import central_dp_aggregate
from fldp_teach.fedavg import ClientUpdate, aggregate
from fldp_teach.plots import MIN_FONT_SIZE, integer_ticks


__all__ = [
    "server_noise_stddev",
    "epsilon_over_rounds",
    "plot_epsilon_over_rounds",
    "one_client_shift",
    "plot_one_client_shift",
    "plot_privacy_utility",
    "plot_clip_norm_trace",
]


def _new_axes(ax, figsize=(7, 4)):
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    return ax.figure, ax


def server_noise_stddev(*, noise_multiplier: float, clip_norm: float, clients_per_round: float) -> float:
    """σ = zC/m: the std of the Gaussian noise on each coordinate of the averaged update Δ̄ in
    central DP-FedAvg (McMahan et al. 2018, Alg. 1: noise N(0, z²C²) on the sum of m clipped
    updates, then divide by the fixed m). This is the vector the article calls δ in Eq. (3)."""
    z = check_non_negative("noise_multiplier", noise_multiplier)
    c = check_positive("clip_norm", clip_norm)
    m = check_positive("clients_per_round", clients_per_round)
    return z * c / m


def epsilon_over_rounds(*, noise_multiplier: float, sampling_rate: float, rounds: Sequence[int],
                        delta: float) -> np.ndarray:
    """User-level ε after each number of rounds T in ``rounds``: T sampled Gaussian mechanisms
    with rate q and multiplier z composed in RDP, ρ_T(α) = T·ρ_1(α) (Mironov 2017, Prop. 1),
    then converted to (ε, δ) — the same computation as
    :func:`fldp_teach.accounting.dp_sgd_epsilon` (a test checks equality), with the one-round
    RDP curve computed once for the whole list."""
    check_open_unit("delta", delta)
    one_round = rdp_sampled_gaussian(sampling_rate=sampling_rate, noise_multiplier=noise_multiplier,
                                     orders=DEFAULT_ORDERS)
    return np.array([0.0 if int(t) == 0 else
                     epsilon_from_rdp(orders=DEFAULT_ORDERS, rdp=int(t) * one_round, delta=delta)
                     for t in rounds])


def plot_epsilon_over_rounds(*, noise_multiplier: float, sampling_rate: float, rounds: int,
                             delta: float, max_rounds: int | None = None, points: int = 40,
                             ax=None) -> Figure:
    """ε against the number of rounds T for z (bold) and, for comparison, z/2 and 2z, at
    sampling rate q; a marker at (``rounds``, ε). Log-scaled y axis."""
    z = check_positive("noise_multiplier", noise_multiplier)
    rounds = check_positive_int("rounds", rounds)
    top = max(rounds, max_rounds or 0, 10)
    grid = np.unique(np.linspace(1, top, points).round().astype(int))
    fig, ax = _new_axes(ax)
    for factor, style in ((0.5, dict(color="C3", lw=1, ls="--")), (1.0, dict(color="C0", lw=2.2)),
                          (2.0, dict(color="C2", lw=1, ls="--"))):
        eps = epsilon_over_rounds(noise_multiplier=z * factor, sampling_rate=sampling_rate,
                                  rounds=grid, delta=delta)
        ax.plot(grid, eps, label=f"z = {z * factor:.2f}", **style)
    here = dp_sgd_epsilon(sampling_rate=sampling_rate, noise_multiplier=z, steps=rounds, delta=delta)
    ax.plot([rounds], [here], "o", color="C0", ms=8, label=f"T = {rounds}: ε = {here:.3f}")
    ax.set_yscale("log")
    ax.set_xlabel("rounds T")
    ax.set_ylabel(r"user-level $\varepsilon$ (log scale)")
    ax.set_title(f"Central DP-FedAvg: ε over rounds at q = {sampling_rate:.2f}, δ = {delta:g}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=MIN_FONT_SIZE, loc="lower right")
    return fig


def one_client_shift(attacker_norms: Sequence[float], *, honest_updates: Sequence[np.ndarray],
                     clip_norm: float, clients_per_round: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How far one extra client moves the average, as a function of the norm of what it sends.

    The honest clients send ``honest_updates``; one more client sends a vector of norm ‖a‖
    (along the first axis). With n = len(honest_updates) + 1 reports and the fixed denominator
    m = ``clients_per_round`` (default n), returns two arrays over ``attacker_norms``:

    * plain FedAvg (uniform mean over the n reports, :func:`fldp_teach.fedavg.aggregate`):
      shift = ‖a‖/n against the same mean with the client's update replaced by 0 — unbounded;
    * central DP-FedAvg without noise (:func:`fldp_teach.dp_fedavg.central_dp_aggregate`, z = 0,
      denominator m): shift = ‖clip(a, C)‖/m ≤ C/m against the mean without the client.

    C/m is the sensitivity of the fixed-denominator estimator (McMahan et al. 2018, §2), the
    quantity the server noise zC/m is calibrated to.
    """
    c = check_positive("clip_norm", clip_norm)
    honest = [ClientUpdate(update=[np.asarray(u, dtype=float)], num_examples=1) for u in honest_updates]
    m = float(len(honest) + 1) if clients_per_round is None else check_positive("clients_per_round",
                                                                                 clients_per_round)
    dim = np.asarray(honest_updates[0]).shape
    zero = ClientUpdate(update=[np.zeros(dim)], num_examples=1)
    base_plain = aggregate(honest + [zero], weighting="uniform")[0]
    base_dp, _ = central_dp_aggregate(honest, clip_norm=c, noise_multiplier=0.0,
                                      expected_clients_per_round=m, seed=0)
    plain, clipped = [], []
    for a in attacker_norms:
        vec = np.zeros(dim)
        vec.flat[0] = float(a)
        attacker = ClientUpdate(update=[vec], num_examples=1)
        plain.append(np.linalg.norm(aggregate(honest + [attacker], weighting="uniform")[0] - base_plain))
        dp_mean, _ = central_dp_aggregate(honest + [attacker], clip_norm=c, noise_multiplier=0.0,
                                          expected_clients_per_round=m, seed=0)
        clipped.append(np.linalg.norm(dp_mean[0] - base_dp[0]))
    return np.array(plain), np.array(clipped)


def plot_one_client_shift(attacker_norms: Sequence[float], *, honest_updates: Sequence[np.ndarray],
                          clip_norm: float, clients_per_round: float | None = None, ax=None) -> Figure:
    """Log–log plot of :func:`one_client_shift`: the plain mean moves by ‖a‖/n without bound,
    the clipped fixed-denominator mean by at most C/m (dashed line)."""
    plain, clipped = one_client_shift(attacker_norms, honest_updates=honest_updates, clip_norm=clip_norm,
                                      clients_per_round=clients_per_round)
    n = len(honest_updates) + 1
    m = float(n) if clients_per_round is None else float(clients_per_round)
    fig, ax = _new_axes(ax)
    ax.plot(attacker_norms, plain, "o-", color="C3", label=rf"FedAvg mean of n = {n} reports: shift $=\|a\|/n$")
    ax.plot(attacker_norms, clipped, "s-", color="C0",
            label=rf"clip to C, divide by fixed m = {m:g}: shift $\leq C/m$")
    ax.axhline(clip_norm / m, color="0.3", ls="--", lw=1, label=f"C/m = {clip_norm / m:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"norm $\|a\|$ of the update one client sends")
    ax.set_ylabel(r"shift of the averaged update $\|\bar\Delta - \bar\Delta_{-k}\|$")
    ax.set_title(f"One client's influence, clip norm C = {clip_norm:g}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=MIN_FONT_SIZE, loc="upper left")
    return fig


def plot_privacy_utility(points: Mapping[float, tuple[float, float]], *, baseline_accuracy: float | None = None,
                         highlight: float | None = None, ax=None) -> Figure:
    """Test accuracy against user-level ε (log scale), one point per noise multiplier z:
    ``points`` maps z → (ε, accuracy). ``baseline_accuracy`` (non-private FedAvg, ε = ∞) is a
    dashed line; ``highlight`` circles one z."""
    fig, ax = _new_axes(ax)
    zs = sorted(points, reverse=True)                       # small ε (large z) first
    eps = np.array([points[z][0] for z in zs])
    acc = np.array([points[z][1] for z in zs])
    ax.plot(eps, acc, "o-", color="C0", label="central DP-FedAvg")
    for z, e, a in zip(zs, eps, acc):
        ax.annotate(f"z={z:g}", (e, a), textcoords="offset points", xytext=(4, -12), fontsize=MIN_FONT_SIZE)
    if highlight is not None:
        e, a = points[highlight]
        ax.plot([e], [a], "o", ms=14, mfc="none", mec="C3", mew=2, label=f"z = {highlight:g}")
    if baseline_accuracy is not None:
        ax.axhline(baseline_accuracy, color="0.3", ls="--", lw=1,
                   label=f"no DP (ε = ∞): {baseline_accuracy:.3f}")
    ax.set_xscale("log")
    ax.margins(x=0.1)                                       # room for the z labels at both ends
    ax.set_xlabel(r"user-level $\varepsilon$ after all rounds (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Privacy–utility trade-off")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=MIN_FONT_SIZE, loc="lower right")
    return fig


def plot_clip_norm_trace(histories: Mapping[str, object], *, axes=None) -> Figure:
    """Left: the clip norm C used in each round (``History`` column ``clip_norm``); right: test
    accuracy per round. One line per run (label → History), e.g. fixed C vs adaptive clipping
    (Andrew et al. 2021)."""
    if axes is None:
        fig = Figure(figsize=(11, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_c, ax_a = axes
    for i, (label, h) in enumerate(histories.items()):
        ax_c.plot(h.column("round"), h.column("clip_norm"), color=f"C{i}", label=label)
        ax_a.plot(h.column("round"), h.column("accuracy"), color=f"C{i}", label=label)
    ax_c.set_yscale("log")
    ax_c.set_xlabel("round r")
    integer_ticks(ax_c)
    ax_c.set_ylabel("clip norm C (log scale)")
    ax_c.set_title("Clip norm per round")
    ax_a.set_xlabel("round r")
    integer_ticks(ax_a)
    ax_a.set_ylabel("test accuracy")
    ax_a.set_title("Accuracy per round")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=MIN_FONT_SIZE)
    return ax_c.figure
