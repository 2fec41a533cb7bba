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
* **distributed DP**: each client adds only N(0, z²C²/m_min I), a share sized for the declared
  minimum number m_min of arrivals; the *sum* of n ≥ m_min shares carries at least
  N(0, z²C² I), the noise of central DP, and a round with fewer arrivals is dropped and
  releases nothing (:func:`distributed_dp_share`, :func:`secure_sum_release`). This is private only if the
  server learns nothing but the sum — that is what secure aggregation (Bonawitz et al. 2017,
  "Practical Secure Aggregation for Privacy-Preserving Machine Learning") provides: pairwise
  masks that cancel in the sum. Here :func:`secure_sum` *simulates* that by returning only the
  sum. A single client's message alone carries std zC/√m and is therefore NOT private at
  level z: seen alone it is a Gaussian mechanism with multiplier z/√m for sensitivity C (add/
  remove one client, the relation the sum is accounted under; notebook 11), and z/(2√m) under
  local DP's relation (any two data sets of the client, sensitivity 2C), worse still. It also
  assumes the other clients are honest and really add their share. Accounted like central DP
  (:func:`central_epsilon`) for the sum, every round charged (a dropped round too: whether it
  was dropped depends on who arrived).

What leaves a client in local and distributed mode is the privatized update alone (no loss, no
norm, no example count). What each mode treats as public, and what no mode covers, is in
``docs/privacy.md``.

Record-level DP inside a client (DP-SGD on its local data, Abadi et al. 2016) is configured by
:class:`DPSGDConfig` and used by :func:`fldp_teach.fedavg.client_update`; it protects one
patient's record rather than one hospital's whole data set. Its local lots are Poisson samples
and :func:`record_level_epsilon` charges them as sampled Gaussians (shuffled batches, if asked
for, are charged without amplification).

Taught in notebooks/10_central_dp_fedavg.ipynb (central DP, adaptive clipping); local and
distributed DP are compared with it in benchmarks/federated.py and the demo.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fldp_teach.accounting import _phases  # run-length encoding of a noise schedule
from fldp_teach._validation import (
    check_non_negative,
    check_non_negative_int,
    check_numbers,
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
    "secure_sum_release",
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
    seed: int | None = None,
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
    pre-clip norms and the noise std). ``seed`` seeds the noise: None (default) is fresh OS
    entropy; a fixed seed is for teaching only (:mod:`fldp_teach.randomness`). The info (the
    norms of raw updates) stays with the trusted server: it is not part of the release.
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
                    seed: int | None = None) -> ClientUpdate:
    """Client side of local DP (article Eq. 1, E1, made correct): clip Δθ_k to C, then add
    N(0, z²C² I) before upload, so the message is private on its own. Two data sets of the same
    client can give clipped updates up to 2C apart, so as a local-DP mechanism this is a
    Gaussian with effective multiplier z/2 (accounted by :func:`local_epsilon`).

    The returned message is what leaves the device, and it holds ONLY the privatized update:
    no training loss, no pre-clip norm, no example count (``num_examples=None``, ``metrics={}``)
    — each of those is a raw function of the client's data that the noise does not cover.
    Metrics the client computed stay on the client (``update`` is not modified). ``seed`` seeds
    the noise: None (default) is fresh OS entropy, a fixed seed is for teaching only."""
    c = check_positive("clip_norm", clip_norm)
    z = check_non_negative("noise_multiplier", noise_multiplier)
    clipped, _ = clip_update(update.update, clip_norm=c)
    noise = _gaussian(clipped, stddev=z * c, seed=seed) if z > 0 else [np.zeros_like(t) for t in clipped]
    noised = [(t + n).astype(t.dtype) for t, n in zip(clipped, noise)]
    return ClientUpdate(update=noised, num_examples=None, metrics={}, client_id=update.client_id)


def distributed_dp_share(update: ClientUpdate, *, clip_norm: float, noise_multiplier: float,
                         min_clients: int, seed: int | None = None) -> ClientUpdate:
    """Client side of distributed DP: clip to C and add N(0, z²C²/m_min I), a 1/m_min share of
    the noise, where m_min = ``min_clients`` is the declared MINIMUM number of shares a round
    needs to be released.

    Sizing the shares for m_min, not for the expected m, is what makes the sum deliver the
    noise that is charged: if n ≥ m_min clients arrive, the secure sum carries
    N(0, (n/m_min)·z²C² I), std zC·√(n/m_min) ≥ zC, at least central DP's noise; a round with
    n < m_min arrivals is dropped by the server and releases nothing
    (:func:`secure_sum_release`). Sized for the expected m instead, 12 or 5 arrivals of m = 20
    would leave std 0.77·zC or 0.5·zC in the sum while zC is charged. The price: with more
    arrivals than m_min the sum is noisier than it needs to be (a factor √(n/m_min)).

    PROVIDED the server only sees the sum (secure aggregation, :func:`secure_sum`): on its own
    one share is a Gaussian mechanism with multiplier z/√m_min only for sensitivity C (add/remove
    one client, the relation under which the sum is accounted), and z/(2√m_min) for local DP's
    sensitivity 2C — NOT private at level z; it also assumes the other clients are honest and
    really add their share. The message holds only the privatized share (see
    :func:`local_dp_update`). Taught in notebook 11."""
    m = check_positive_int("min_clients", min_clients)
    c = check_positive("clip_norm", clip_norm)
    z = check_non_negative("noise_multiplier", noise_multiplier)
    return local_dp_update(update, clip_norm=c, noise_multiplier=z / math.sqrt(m), seed=seed)


def secure_sum_release(shares: Sequence[ClientUpdate], *, min_clients: int):
    """The server's side of distributed DP: the secure sum of the shares if at least
    ``min_clients`` arrived, else None (the round is dropped, nothing is released, because the
    sum would carry less noise than the accountant charges; see :func:`distributed_dp_share`).
    The number of arrivals is visible to the server in any real deployment (it knows who sent
    a share): it is treated as public (docs/privacy.md)."""
    m = check_positive_int("min_clients", min_clients)
    if len(shares) < m:
        return None
    return secure_sum(shares)


def secure_sum(updates: Sequence[ClientUpdate]) -> list:
    """Simulated secure aggregation: the server learns Σ_k Δθ_k and nothing else. (Real
    secure aggregation, Bonawitz et al. 2017, adds pairwise masks that cancel in the sum and
    works in modular integer arithmetic; here we simply only return the sum.)"""
    if not updates:
        raise ValueError("updates must be non-empty, got 0 updates")
    return [sum(np.asarray(u.update[j], dtype=np.float64) for u in updates).astype(np.asarray(updates[0].update[j]).dtype)
            for j in range(len(updates[0].update))]


def central_epsilon(*, noise_multipliers: Sequence[float], sampling_rate: float | None = None,
                    delta: float, return_ledger: bool = False, clients_per_round: int | None = None,
                    num_clients: int | None = None):
    """User-level ε after rounds with noise multipliers z_1..z_T (one entry per round; a constant
    schedule is ``[z] * rounds``), each round a sampled Gaussian mechanism with rate q = m/K.

    RDP composition (Mironov 2017, Prop. 1) of SampledGaussian(z, q) events (Mironov, Talwar &
    Zhang 2019), converted to (ε, δ). Consecutive rounds with the same z are one ledger entry,
    so a noise schedule (article §3.2 Step 7, claim C6) shows one line per phase.

    Two samplers, each charged under the neighbouring relation its bound is proved for:

    * ``sampling_rate=q``: Poisson sampling (each client joins with probability q; q = 1 is
      "every client every round"), add/remove neighbours, SampledGaussian(z, q).
    * ``clients_per_round=m`` with ``num_clients=K`` (m < K): exactly m of K clients drawn
      *without replacement*. Charging it as Poisson with q = m/K (McMahan et al. 2018's
      convention) is not proved; we charge the bound that is: Wang, Balle & Kasiviswanathan
      2019, "Subsampled Rényi Differential Privacy and Analytical Moments Accountant", Thm 9,
      under REPLACE-ONE neighbours (:func:`fldp_teach.accounting.fixed_size_sampling_epsilon`).
      Replacing one client's data moves a sum of updates clipped to C by up to 2C, so the base
      Gaussian has noise multiplier z/2 relative to that sensitivity (the accounting function
      applies it; pass our z = σ/C). The ε is much larger
      than the Poisson figure: sample clients with Poisson sampling when you can.
    """
    from fldp_teach.accounting import RdpAccountant, SampledGaussian, fixed_size_sampling_epsilon

    d = check_open_unit("delta", delta)
    if clients_per_round is not None:
        if sampling_rate is not None:
            raise ValueError("give sampling_rate (Poisson) or clients_per_round (fixed m), not both; got "
                             f"sampling_rate={sampling_rate!r}, clients_per_round={clients_per_round!r}")
        k = check_positive_int("num_clients", num_clients)
        m = check_positive_int("clients_per_round", clients_per_round)
        if m > k:
            raise ValueError(f"clients_per_round must be <= num_clients={k}, got {m}")
        if m < k:
            # z = σ/C; fixed_size_sampling_epsilon charges the replace-one sensitivity 2C itself
            return fixed_size_sampling_epsilon(
                noise_multipliers=list(noise_multipliers),
                sample_size=m, population_size=k, delta=d, return_ledger=return_ledger)
        sampling_rate = 1.0  # every client every round: no sampling at all
    if sampling_rate is None:
        raise ValueError("give sampling_rate (Poisson) or clients_per_round with num_clients, got neither")
    q = check_unit_interval("sampling_rate", sampling_rate)
    accountant = RdpAccountant()
    first = 1
    for z, steps in _phases(noise_multipliers):
        accountant.compose(SampledGaussian(noise_multiplier=z, sampling_rate=q, steps=steps),
                           label=f"rounds {first}-{first + steps - 1}: z={z:g}, q={q:g}")
        first += steps
    eps = accountant.epsilon(delta=d)
    return (eps, accountant.ledger) if return_ledger else eps


def _check_schedule(noise_multipliers, participations):
    """The per-round z's as a list (each > 0) and the participations as lists of valid round
    indices into it, named in the error."""
    schedule = [float(z) for z in check_numbers("noise_multipliers", noise_multipliers, ndim=1)]
    _phases(schedule)  # every z > 0, named noise_multipliers[i]
    if participations is None or isinstance(participations, (str, bytes)):
        raise TypeError(f"participations must list, per client, the rounds it joined, got {participations!r}")
    joined = []
    for k, rounds in enumerate(participations):
        rounds = [check_non_negative_int(f"participations[{k}]", r) for r in np.atleast_1d(rounds).tolist()] \
            if len(np.atleast_1d(rounds)) else []
        if rounds and max(rounds) >= len(schedule):
            raise ValueError(f"participations[{k}] names round {max(rounds)}, but noise_multipliers has "
                             f"only {len(schedule)} rounds")
        joined.append(rounds)
    return schedule, joined


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
    noise_multipliers, participations = _check_schedule(noise_multipliers, participations)
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
    noise_multipliers, participations = _check_schedule(noise_multipliers, participations)
    sizes = check_numbers("num_examples", num_examples, ndim=1, integer=True, non_negative=True)
    if len(sizes) != len(participations):
        raise ValueError(f"num_examples must have one count per client ({len(participations)} in "
                         f"participations), got {len(sizes)}")
    num_examples = [int(n) for n in sizes]
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
