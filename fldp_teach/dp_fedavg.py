"""Differentially private FedAvg: where the noise goes, and what it buys.

Three places to add Gaussian noise to federated averaging, each with its own threat model and
its own privacy accounting over rounds (all for the *unit of privacy = one client's whole data*,
"user-level DP", unless said otherwise):

* **central DP** (article §4.1 Eq. 3, E3; McMahan, Ramage, Talwar & Zhang 2018, "Learning
  Differentially Private Recurrent Language Models", Alg. 1 DP-FedAvg with the fixed-
  denominator estimator): the server clips each update to norm C, sums, adds N(0, z²C² I) and
  divides by the *expected* number of participants m (not the realised one: with a fixed
  denominator one client changes the sum by at most C, so the mean's sensitivity is C/m):

      Δ̄ = (1/m) [ Σ_k clip(Δθ_k, C) + N(0, z²C² I) ],   noise std on the mean = zC/m.

  The server must be trusted with the raw updates. Privacy: a sampled Gaussian mechanism per
  round with sampling rate q = m/K and noise multiplier z, composed over the rounds by the RDP
  accountant (:func:`central_epsilon`).
* **local DP** (article Eq. 1, E1): each client clips its own update and adds N(0, z²C² I)
  *before* upload, so the server only ever sees noised updates. Every client must carry the
  full noise, so the mean's noise std is zC/√m — √m times more than central DP for the same
  z, and for the same ε local DP needs a larger z still (sensitivity 2C, no amplification by
  sampling). Privacy: a Gaussian mechanism per participation with sensitivity 2C (any two data sets
  of the client; no amplification: the client knows it took part), composed over the rounds
  that client joined (:func:`local_epsilon`).
* **distributed DP**: each of the m clients adds only N(0, z²C²/m I); the *sum* of m such
  shares carries N(0, z²C² I), the same noise as central DP. This is private only if the
  server learns nothing but the sum — that is what secure aggregation (Bonawitz et al. 2017,
  "Practical Secure Aggregation for Privacy-Preserving Machine Learning") provides: pairwise
  masks that cancel in the sum. Here :func:`secure_sum` *simulates* that by returning only the
  sum. A single client's message alone carries std zC/√m and is therefore NOT private at
  level z (on its own it is a Gaussian mechanism with std zC/√m and sensitivity 2C, i.e.
  multiplier z/(2√m)); it also assumes the other clients are honest and really add their
  share. Accounted like central DP (:func:`central_epsilon`) for the sum.

Record-level DP inside a client (DP-SGD on its local data, Abadi et al. 2016) is configured by
:class:`DPSGDConfig` and used by :func:`fldp_teach.fedavg.client_update`; it protects one
patient's record rather than one hospital's whole data set. Its local lots are Poisson samples
and :func:`record_level_epsilon` charges them as sampled Gaussians (shuffled batches, if asked
for, are charged without amplification).

Taught in notebooks/08_central_dp_fedavg.ipynb (central DP, adaptive clipping); local and
distributed DP are compared with it in benchmarks/federated.py and the demo.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fldp_teach._validation import (
    check_non_negative,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_unit_interval,
)
from fldp_teach.fedavg import ClientUpdate

__all__ = [
    "DPSGDConfig",
    "clip_update",
    "central_dp_aggregate",
    "local_dp_update",
    "distributed_dp_share",
    "secure_sum",
    "central_epsilon",
    "local_epsilon",
    "record_level_epsilon",
    "AdaptiveClipping",
]


@dataclass(frozen=True)
class DPSGDConfig:
    """Record-level DP-SGD inside a client: per-example clip norm C, noise multiplier z, and how
    the local lots are drawn: ``sampling="poisson"`` (each example joins each lot with
    probability q = b/n_k, what :func:`record_level_epsilon`'s SampledGaussian assumes; the
    default) or ``"shuffle"`` (fixed-size shuffled batches, charged without amplification by
    ``record_level_epsilon(sampling="shuffle")``)."""

    clip_norm: float
    noise_multiplier: float
    sampling: str = "poisson"

    def __post_init__(self):
        check_positive("clip_norm", self.clip_norm)
        check_non_negative("noise_multiplier", self.noise_multiplier)
        if self.sampling not in ("poisson", "shuffle"):
            raise ValueError(f"sampling must be 'poisson' or 'shuffle', got {self.sampling!r}")


def clip_update(update: Sequence, *, clip_norm: float) -> tuple[list, float]:
    """Δθ ← Δθ · min(1, C / ‖Δθ‖₂), with the L2 norm over ALL tensors of the update together
    (McMahan et al. 2018, Alg. 1, ``ClipFn``). Returns (clipped update, norm before clipping).
    ``clip_norm=inf`` leaves the update unchanged."""
    from fldp_teach.clipping import clip_by_l2_norm

    clipped, norm = clip_by_l2_norm([np.asarray(t) for t in update], clip_norm=clip_norm)
    return [np.asarray(t) for t in clipped], float(norm)


def _gaussian(shape_like: Sequence, *, stddev: float, seed: int | None) -> list:
    from fldp_teach.mechanisms import add_gaussian_noise

    zeros = [np.zeros_like(np.asarray(t), dtype=np.float64) for t in shape_like]
    return [np.asarray(t) for t in add_gaussian_noise(zeros, stddev=stddev, seed=seed)]


def central_dp_aggregate(
    updates: Sequence[ClientUpdate],
    *,
    clip_norm: float,
    noise_multiplier: float,
    expected_clients_per_round: float,
    seed: int | None,
    like: Sequence | None = None,
) -> tuple[list, dict]:
    """Server side of DP-FedAvg (McMahan et al. 2018, Alg. 1, fixed-denominator estimator with
    all client weights w_k = 1):

        Δ̄ = (1/m) Σ_k clip(Δθ_k, C) + N(0, (zC/m)² I),   m = ``expected_clients_per_round``.

    m is fixed in advance (clients_per_round, or qK under Poisson sampling) and does NOT depend
    on how many clients actually reported: that keeps the sensitivity of Δ̄ at C/m. One client
    can therefore move the mean by at most C/m plus noise, whatever it sends (a test sends a
    10⁶× update). With no update at all (an empty Poisson round, or every client rejected) the
    server still releases (0 + noise)/m, shaped ``like`` the global weights: skipping the
    release would itself reveal that the round was empty. Returns (noised mean, info with the
    pre-clip norms and the noise std).
    """
    c = check_positive("clip_norm", clip_norm, allow_inf=True)
    z = check_non_negative("noise_multiplier", noise_multiplier)
    m = check_positive("expected_clients_per_round", expected_clients_per_round)
    if z > 0 and math.isinf(c):
        raise ValueError("clip_norm must be finite when noise_multiplier > 0, got inf")
    if updates:
        clipped, norms = zip(*(clip_update(u.update, clip_norm=c) for u in updates))
        total = [sum(np.asarray(t[j], dtype=np.float64) for t in clipped) for j in range(len(clipped[0]))]
        dtype = np.asarray(updates[0].update[0]).dtype
    elif like is not None:
        norms, total, dtype = (), [np.zeros(np.shape(w)) for w in like], np.asarray(like[0]).dtype
    else:
        raise ValueError("updates must be non-empty (or give like=global_weights), got 0 updates")
    stddev = z * c if z > 0 else 0.0
    noise = _gaussian(total, stddev=stddev, seed=seed) if stddev > 0 else [np.zeros_like(t) for t in total]
    mean = [((t + n) / m).astype(dtype) for t, n in zip(total, noise)]
    info = {"update_norms": list(norms), "noise_stddev_of_mean": stddev / m,
            "fraction_clipped": float(np.mean([n > c for n in norms])) if norms else 0.0}
    return mean, info


def local_dp_update(update: ClientUpdate, *, clip_norm: float, noise_multiplier: float,
                    seed: int | None) -> ClientUpdate:
    """Client side of local DP (article Eq. 1, E1, made correct): clip Δθ_k to C, then add
    N(0, z²C² I) before upload, so the message is private on its own. Two data sets of the same
    client can give clipped updates up to 2C apart, so as a local-DP mechanism this is a
    Gaussian with effective multiplier z/2 (accounted by :func:`local_epsilon`)."""
    c = check_positive("clip_norm", clip_norm)
    z = check_non_negative("noise_multiplier", noise_multiplier)
    clipped, norm = clip_update(update.update, clip_norm=c)
    noise = _gaussian(clipped, stddev=z * c, seed=seed) if z > 0 else [np.zeros_like(t) for t in clipped]
    noised = [(t + n).astype(t.dtype) for t, n in zip(clipped, noise)]
    metrics = dict(update.metrics, update_norm=norm)
    return ClientUpdate(update=noised, num_examples=update.num_examples, metrics=metrics,
                        client_id=update.client_id)


def distributed_dp_share(update: ClientUpdate, *, clip_norm: float, noise_multiplier: float,
                         clients_per_round: float, seed: int | None) -> ClientUpdate:
    """Client side of distributed DP: clip to C and add N(0, z²C²/m I), a 1/m share of the
    noise. The sum of the m shares has N(0, z²C² I) — central-DP noise without a trusted
    server, PROVIDED the server only sees the sum (secure aggregation). On its own this message
    is a Gaussian mechanism with multiplier z/√m only: NOT private at level z. If fewer than m
    clients report (dropouts), the sum carries less noise than accounted — real deployments
    add noise for dropouts or over-provision shares. ``clients_per_round`` is the expected m
    (qK under Poisson sampling)."""
    m = check_positive("clients_per_round", clients_per_round)
    c = check_positive("clip_norm", clip_norm)
    z = check_non_negative("noise_multiplier", noise_multiplier)
    return local_dp_update(update, clip_norm=c, noise_multiplier=z / math.sqrt(m), seed=seed)


def secure_sum(updates: Sequence[ClientUpdate]) -> list:
    """Simulated secure aggregation: the server learns Σ_k Δθ_k and nothing else. (Real
    secure aggregation, Bonawitz et al. 2017, adds pairwise masks that cancel in the sum and
    works in modular integer arithmetic; here we simply only return the sum.)"""
    if not updates:
        raise ValueError("updates must be non-empty, got 0 updates")
    return [sum(np.asarray(u.update[j], dtype=np.float64) for u in updates).astype(np.asarray(updates[0].update[j]).dtype)
            for j in range(len(updates[0].update))]


def central_epsilon(*, noise_multipliers: Sequence[float], sampling_rate: float, delta: float,
                    return_ledger: bool = False):
    """User-level ε after rounds with noise multipliers z_1..z_T (one entry per round; a constant
    schedule is ``[z] * rounds``), each round a sampled Gaussian mechanism with rate q = m/K.

    RDP composition (Mironov 2017, Prop. 1) of SampledGaussian(z, q) events (Mironov, Talwar &
    Zhang 2019), converted to (ε, δ). Consecutive rounds with the same z are one ledger entry,
    so a noise schedule (article §3.2 Step 7, claim C6) shows one line per phase.

    Sampling a fixed m of K clients *without replacement* is accounted here as Poisson sampling
    with q = m/K, as McMahan et al. 2018 do. The two schemes are not identical: the sampled
    Gaussian RDP bound is proved for Poisson sampling (add/remove neighbours); for fixed-size
    sampling a replace-one bound applies and is somewhat larger, so the reported ε is the
    conventional figure, not a proof for the fixed-m sampler.
    """
    from fldp_teach.accounting import RdpAccountant, SampledGaussian

    q = check_unit_interval("sampling_rate", sampling_rate)
    d = check_open_unit("delta", delta)
    accountant = RdpAccountant()
    first = 1
    for z, steps in _phases(noise_multipliers):
        accountant.compose(SampledGaussian(noise_multiplier=z, sampling_rate=q, steps=steps),
                           label=f"rounds {first}-{first + steps - 1}: z={z:g}, q={q:g}")
        first += steps
    eps = accountant.epsilon(delta=d)
    return (eps, accountant.ledger) if return_ledger else eps


def local_epsilon(*, noise_multipliers: Sequence[float], participations: Sequence[Sequence[int]],
                  delta: float) -> float:
    """Local-DP ε, the max over clients of each client's own ε.

    In local DP the neighbouring inputs are ANY two data sets of the same client (it always
    sends a message, so there is no "absent" neighbour). Two clipped updates can be 2C apart
    (opposite points of the ball of radius C), so the L2 sensitivity is 2C and noise
    N(0, z²C² I) is a Gaussian mechanism with effective multiplier z/2 (Dwork & Roth 2014,
    Thm A.1 uses σ/Δ₂). Client k composes one such Gaussian event per round it joined (no
    amplification by sampling: the client knows it was sampled); RDP composition
    (Mironov 2017, Prop. 1). ``noise_multipliers`` is the per-round schedule; ``participations``
    lists, per client, the indices of the rounds it joined.
    """
    from fldp_teach.accounting import Gaussian, RdpAccountant

    d = check_open_unit("delta", delta)
    worst = 0.0
    for key in {tuple(p) for p in participations if len(p)}:
        accountant = RdpAccountant()
        for z, steps in _phases([noise_multipliers[r] for r in key]):
            accountant.compose(Gaussian(noise_multiplier=z / 2, steps=steps))
        worst = max(worst, accountant.epsilon(delta=d))
    return worst


def record_level_epsilon(*, noise_multipliers: Sequence[float], participations: Sequence[Sequence[int]],
                         num_examples: Sequence[int], batch_size: int | None, local_epochs: int,
                         delta: float, sampling: str = "poisson") -> float:
    """Record-level ε of DP-SGD run inside each client, max over clients (Abadi et al. 2016).
    The unit of privacy is one example (one patient record), not the whole client.

    Client k with n_k examples and b_k = min(B, n_k) (:func:`fldp_teach.fedavg.expected_lot_size`)
    takes E·⌈n_k/b_k⌉ DP-SGD steps per round it joins, each with noise N(0, z²C² I) on the sum of
    clipped gradients (sensitivity C), and the rounds it joined compose (RDP, Mironov 2017,
    Prop. 1; ``noise_multipliers`` is the per-round schedule, ``participations`` the rounds
    each client joined):

    * ``sampling="poisson"`` (what :func:`fldp_teach.fedavg.client_update` and
      :func:`fldp_teach.simulation.simulate` draw for DP-SGD): every step is a sampled Gaussian
      mechanism with rate q_k = b_k/n_k (Mironov, Talwar & Zhang 2019), charged exactly as
      ``SampledGaussian(z, q_k, steps = rounds joined · E · ⌈n_k/b_k⌉)``; this equals
      :func:`fldp_teach.accounting.dp_sgd_epsilon` for a single client. It is correct because
      the lots really are Poisson samples (:func:`fldp_teach.fedavg.local_batches`).
    * ``sampling="shuffle"``: fixed-size shuffled batches are NOT Poisson samples, and charging
      them as such can under-report ε (Chua et al. 2024, "How Private are DP-SGD
      Implementations?"). They are charged soundly, without amplification: each epoch is one
      Gaussian mechanism of multiplier z per example, ``ShuffledGaussian(z, b_k, n_k, epochs =
      rounds joined · E)`` (:class:`fldp_teach.accounting.ShuffledGaussian`) — a larger ε.
    """
    from fldp_teach.accounting import RdpAccountant, SampledGaussian, ShuffledGaussian
    from fldp_teach.fedavg import expected_lot_size

    d = check_open_unit("delta", delta)
    epochs = check_positive_int("local_epochs", local_epochs)
    if sampling not in ("poisson", "shuffle"):
        raise ValueError(f"sampling must be 'poisson' or 'shuffle', got {sampling!r}")
    worst = 0.0
    for joined, n in zip(participations, num_examples):
        if not len(joined):
            continue
        b = expected_lot_size(n, batch_size)
        accountant = RdpAccountant()
        for z, rounds in _phases([noise_multipliers[r] for r in joined]):
            if sampling == "poisson":
                event = SampledGaussian(noise_multiplier=z, sampling_rate=b / n,
                                        steps=rounds * epochs * math.ceil(n / b))
            else:
                event = ShuffledGaussian(noise_multiplier=z, batch_size=b, num_examples=n,
                                         epochs=rounds * epochs)
            accountant.compose(event)
        worst = max(worst, accountant.epsilon(delta=d))
    return worst


def _phases(noise_multipliers: Sequence[float]) -> list:
    """Run-length encode a per-round schedule: [1,1,2] → [(1, 2), (2, 1)]."""
    out = []
    for z in noise_multipliers:
        z = check_positive("noise_multiplier", z)
        if out and out[-1][0] == z:
            out[-1][1] += 1
        else:
            out.append([z, 1])
    return [(z, n) for z, n in out]


@dataclass(frozen=True)
class AdaptiveClipping:
    """Adaptive quantile clipping for central DP-FedAvg (Andrew, Thakkar, McMahan & Ramaswamy
    2021, "Differentially Private Learning with Adaptive Clipping", Alg. 1): after each round
    C ← C·exp(−η_C (b̃ − γ)) with b̃ the noised fraction of unclipped updates
    (:func:`fldp_teach.clipping.adaptive_clip_norm_update`). Releasing b̃ costs privacy, paid
    for by raising the update noise to z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2)
    (:func:`fldp_teach.clipping.adaptive_clipping_noise_multiplier`, Thm 1), so the round
    still counts as ONE sampled Gaussian with multiplier z in the accountant.
    ``count_stddev`` None means the paper's suggestion σ_b = m/20."""

    target_quantile: float = 0.5
    learning_rate: float = 0.2
    count_stddev: float | None = None

    def update_noise_multiplier(self, *, noise_multiplier: float, clients_per_round: float) -> float:
        from fldp_teach.clipping import adaptive_clipping_noise_multiplier

        return adaptive_clipping_noise_multiplier(noise_multiplier=noise_multiplier,
                                                  count_stddev=self.sigma_b(clients_per_round))

    def sigma_b(self, clients_per_round: float) -> float:
        return clients_per_round / 20 if self.count_stddev is None else self.count_stddev

    def next_clip_norm(self, norms, *, clip_norm: float, clients_per_round: float, seed: int | None) -> float:
        from fldp_teach.clipping import adaptive_clip_norm_update

        new, _ = adaptive_clip_norm_update(np.asarray(norms, dtype=float), clip_norm=clip_norm,
                                           target_quantile=self.target_quantile,
                                           learning_rate=self.learning_rate,
                                           count_stddev=self.sigma_b(clients_per_round),
                                           clients_per_round=clients_per_round, seed=seed)
        return float(new)
