"""Figures of notebook 11 (local vs central vs distributed DP): where the noise goes, what a
single message reveals, secure aggregation, and utility at equal ε.

Noise in the three modes, for m clients per round, clip norm C and noise multiplier z
(McMahan et al. 2018 for central DP; Kairouz, Liu & Steinke 2021, "The Distributed Discrete
Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML, for distributed DP):

    mode          each client's message         noise std in the mean of m updates
    central       clip(Δθ_k, C)  (no noise)     zC/m   (server adds N(0, z²C²) to the sum)
    local         clip(Δθ_k, C) + N(0, z²C²)    zC/√m  (m independent draws, averaged)
    distributed   clip(Δθ_k, C) + N(0, z²C²/m)  zC/m   (the m shares add up to N(0, z²C²))

So at the same z, local DP leaves √m times more noise in the mean than central DP; distributed
DP matches central DP, but one share alone is a Gaussian mechanism with multiplier z/√m only:
it is private at level z only if nobody sees it alone — secure aggregation (Bonawitz et al.
2017, CCS) makes the server learn just the sum. Here the ε of a message is computed for
sensitivity C (one client's clipped update present or absent, as for the sum), so the lone
share and the sum differ exactly by the factor √m in z; with sensitivity 2C (a client known to
take part changes its data, :func:`fldp_teach.dp_fedavg.local_epsilon`) the lone share is
worse still.

Secure aggregation, simulated with its core trick (Bonawitz et al. 2017, §3, "masking with
one-time pads"): every pair of clients u < v shares a random mask s_uv uniform on Z_M; client u
sends y_u = x_u + Σ_{v>u} s_uv − Σ_{v<u} s_vu (mod M), with x_u its update in fixed point. Each
y_u alone is uniform on Z_M^d (a one-time pad); in Σ_u y_u every mask appears once with + and
once with −, so the sum is Σ_u x_u mod M. (The real protocol derives s_uv from Diffie–Hellman
key agreement and a PRG, and secret-shares the keys so that dropped clients' masks can be
removed; this simulation keeps only the cancellation.) Taught in
notebooks/11_local_vs_central_vs_distributed.ipynb.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_non_negative, check_open_unit, check_positive, check_positive_int
from fldp_teach.plots import MIN_FONT_SIZE, integer_ticks


__all__ = [
    "noise_stddevs",
    "message_epsilon",
    "pairwise_masked_messages",
    "decode_masked_sum",
    "plot_noise_placement",
    "plot_equal_epsilon_utility",
]

MODES = ("central", "local", "distributed")


def noise_stddevs(*, noise_multiplier, clip_norm, clients_per_round) -> dict:
    """Per-coordinate noise std of one client's message and of the mean of m messages in each
    mode (table in the module docstring): ``{mode: (message_stddev, mean_stddev)}``."""
    z = check_non_negative("noise_multiplier", noise_multiplier)
    c = check_positive("clip_norm", clip_norm)
    m = check_positive("clients_per_round", clients_per_round)
    return {"central": (0.0, z * c / m), "local": (z * c, z * c / math.sqrt(m)),
            "distributed": (z * c / math.sqrt(m), z * c / m)}


def message_epsilon(*, noise_multiplier, rounds, delta) -> float:
    """ε after ``rounds`` releases of a Gaussian mechanism with noise multiplier z (noise std
    zC for L2 sensitivity C, no sampling): RDP α·rounds/(2z²) (Mironov 2017, Prop. 7 and
    Prop. 1), converted to (ε, δ) by :class:`fldp_teach.accounting.RdpAccountant`."""
    from fldp_teach.accounting import Gaussian, RdpAccountant

    z = check_positive("noise_multiplier", noise_multiplier)
    t = check_positive_int("rounds", rounds)
    d = check_open_unit("delta", delta)
    return RdpAccountant().compose(Gaussian(noise_multiplier=z, steps=t)).epsilon(delta=d)


def pairwise_masked_messages(values, *, seed, scale: float = 2.0**16, modulus: int = 2**32) -> np.ndarray:
    """Encode each row x_u of ``values`` (shape (m, d)) in fixed point, round(x·scale) mod M,
    and add the pairwise masks of the module docstring. Returns the masked messages, integers
    in [0, M) of shape (m, d): each alone is uniformly distributed, their sum is not."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"values must have shape (clients >= 2, d), got {x.shape}")
    scale = check_positive("scale", scale)
    modulus = check_positive_int("modulus", modulus)
    if modulus > 2**62:
        raise ValueError(f"modulus must be <= 2**62 (int64 arithmetic), got {modulus}")
    encoded = np.mod(np.rint(x * scale).astype(np.int64), modulus)
    rng = np.random.default_rng(seed)
    m, d = x.shape
    out = encoded.copy()
    for u in range(m):
        for v in range(u + 1, m):
            s = rng.integers(0, modulus, size=d, dtype=np.int64)
            out[u] = np.mod(out[u] + s, modulus)
            out[v] = np.mod(out[v] - s, modulus)
    return out


def decode_masked_sum(messages, *, scale: float = 2.0**16, modulus: int = 2**32) -> np.ndarray:
    """Σ_u y_u mod M, read as a signed fixed-point number (values ≥ M/2 are negative) and
    divided by ``scale``: the sum of the clients' values, to within m/(2·scale) per coordinate,
    provided |Σ x|·scale < M/2."""
    y = np.asarray(messages, dtype=np.int64)
    modulus = check_positive_int("modulus", modulus)
    total = np.zeros(y.shape[1], dtype=np.int64)
    for row in y:  # add one message at a time, reducing mod M: no int64 overflow for M <= 2**62
        total = np.mod(total + row, modulus)
    signed = np.where(total >= modulus // 2, total - modulus, total)
    return signed / check_positive("scale", scale)


def plot_noise_placement(noise_multiplier, clip_norm, clients_per_round, *, rounds=30, delta=1e-5,
                         axes=None) -> Figure:
    """Left: noise std in the mean of m updates vs m (central = distributed = zC/m, local =
    zC/√m) and the std of one distributed share (zC/√m), marked at ``clients_per_round``.
    Right: ε after ``rounds`` of one distributed share seen alone (multiplier z/√m) vs the ε of
    the securely aggregated sum (multiplier z), against m."""
    z = check_positive("noise_multiplier", noise_multiplier)
    c = check_positive("clip_norm", clip_norm)
    m = check_positive_int("clients_per_round", clients_per_round)
    if axes is None:
        fig = Figure(figsize=(11, 4.2), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_std, ax_eps = axes
    grid = np.unique(np.round(np.logspace(0, 3, 60)).astype(int))
    ax_std.plot(grid, z * c / grid, color="C0", label=r"mean, central = distributed: $zC/m$")
    ax_std.plot(grid, z * c / np.sqrt(grid), color="C3", label=r"mean, local: $zC/\sqrt{m}$")
    ax_std.plot(grid, z * c / np.sqrt(grid), color="C2", ls=":", lw=2.5,
                label=r"one distributed share alone: $zC/\sqrt{m}$")
    ax_std.axhline(z * c, color="0.5", ls="--", lw=1, label=r"one local message: $zC$")
    s = noise_stddevs(noise_multiplier=z, clip_norm=c, clients_per_round=m)
    ax_std.plot([m], [s["central"][1]], "o", color="C0")
    ax_std.plot([m], [s["local"][1]], "o", color="C3")
    ax_std.axvline(m, color="k", lw=0.8, alpha=0.5)
    ax_std.set_xscale("log")
    ax_std.set_yscale("log")
    ax_std.set_xlabel("clients per round m")
    ax_std.set_ylabel("noise std per coordinate")
    ax_std.set_title(f"Where the noise ends up (z = {z:.2f}, C = {c:.2f})")
    ax_std.legend(fontsize=MIN_FONT_SIZE, loc="lower left")
    ax_std.grid(True, which="both", alpha=0.3)

    eps_sum = message_epsilon(noise_multiplier=z, rounds=rounds, delta=delta)
    coarse = np.unique(np.round(np.logspace(0, 3, 25)).astype(int))
    eps_share = [message_epsilon(noise_multiplier=z / math.sqrt(k), rounds=rounds, delta=delta) for k in coarse]
    ax_eps.plot(coarse, eps_share, "o-", ms=3, color="C2", label=r"one share seen alone (multiplier $z/\sqrt{m}$)")
    ax_eps.axhline(eps_sum, color="C0", label="the secure sum (multiplier z)")
    ax_eps.plot([m], [message_epsilon(noise_multiplier=z / math.sqrt(m), rounds=rounds, delta=delta)], "s",
                color="C2", ms=8, mfc="none")
    ax_eps.axvline(m, color="k", lw=0.8, alpha=0.5)
    ax_eps.set_xscale("log")
    ax_eps.set_yscale("log")
    ax_eps.set_xlabel("clients per round m")
    ax_eps.set_ylabel(f"ε after {rounds} rounds (δ = {delta:g})")
    ax_eps.set_title("Distributed DP needs secure aggregation")
    ax_eps.legend(fontsize=MIN_FONT_SIZE, loc="upper left")
    ax_eps.grid(True, which="both", alpha=0.3)
    return ax_std.figure


def plot_equal_epsilon_utility(runs: Mapping[str, Mapping[float, tuple]], epsilon: float, *,
                               baseline: tuple | None = None, axes=None) -> Figure:
    """``runs[mode][ε] = (rounds, accuracy)`` from training runs whose noise was calibrated to
    ε. Left: accuracy vs round of every mode at ``epsilon`` (and the non-private ``baseline``
    (rounds, accuracy)). Right: final accuracy vs ε per mode, ``epsilon`` marked."""
    if not runs:
        raise ValueError("runs must contain at least one mode, got none")
    if axes is None:
        fig = Figure(figsize=(11, 4.2), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_r, ax_e = axes
    colours = {"central": "C0", "distributed": "C2", "local": "C3"}
    styles = {"central": "-", "distributed": "--", "local": "-"}
    for i, (mode, by_eps) in enumerate(runs.items()):
        colour = colours.get(mode, f"C{i + 4}")
        if epsilon not in by_eps:
            raise ValueError(f"epsilon must be one of the computed values {sorted(by_eps)} for mode "
                             f"{mode!r}, got {epsilon!r}")
        r, acc = by_eps[epsilon]
        ax_r.plot(r, acc, styles.get(mode, "-"), color=colour, label=f"{mode} DP")
        eps = sorted(by_eps)
        ax_e.plot(eps, [by_eps[e][1][-1] for e in eps], "o" + styles.get(mode, "-"), ms=4, color=colour,
                  label=f"{mode} DP")
    if baseline is not None:
        ax_r.plot(*baseline, color="k", lw=1, label="no DP")
        ax_e.axhline(baseline[1][-1], color="k", lw=1, label="no DP")
    ax_e.axvline(epsilon, color="k", lw=0.8, alpha=0.5)
    ax_r.set_xlabel("round")
    integer_ticks(ax_r)
    ax_r.set_ylabel("test accuracy")
    ax_r.set_title(f"Same privacy, ε = {epsilon:g}: accuracy per round")
    ax_e.set_xscale("log")
    all_eps = sorted({e for by_eps in runs.values() for e in by_eps})
    ax_e.set_xticks(all_eps, [f"{e:g}" for e in all_eps])
    ax_e.minorticks_off()
    ax_e.set_xlabel("ε (user-level, δ = 1e-5)")
    ax_e.set_ylabel("final test accuracy")
    ax_e.set_title("Final accuracy at equal ε")
    for ax in (ax_r, ax_e):
        ax.set_ylim(0, 1)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=MIN_FONT_SIZE, loc="lower right")
    return ax_r.figure
