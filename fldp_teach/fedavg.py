"""Federated averaging (FedAvg) as three roles over small records: client, aggregator, server.

One round of FedAvg (McMahan, Moore, Ramage, Hampson & Agüera y Arcas 2017, "Communication-
Efficient Learning of Deep Networks from Decentralized Data", Algorithm 1):

1. the server samples clients and broadcasts the global weights θ_g          (article §4.1 Eq. 4, E4)
2. each sampled client k runs E local epochs of SGD from θ_g and sends back
   its update Δθ_k = θ_k' − θ_g together with its number of examples n_k     (article Eq. 1, E1)
3. the server averages the updates, weighted Σ_k (n_k/n) Δθ_k as in
   McMahan et al. 2017, or unweighted (1/K) Σ_k Δθ_k as in the article      (article Eq. 2, E2)
4. the server steps θ_g ← θ_g + η_g · mean update (η_g = 1 is FedAvg;
   Reddi et al. 2021, "Adaptive Federated Optimization", Alg. 1)

Each role is one function: :func:`client_update` → :class:`ClientUpdate` → :func:`aggregate`
→ :func:`server_update`. Keras models enter only through their weights (lists of arrays).
:func:`client_update` is the readable *reference* implementation; the fast paths that train all
sampled clients at once live in :mod:`fldp_teach.stacked_clients` and a test proves both compute
the same weights. The DP variants (clip, noise) are in :mod:`fldp_teach.dp_fedavg`; the driver
that runs rounds is :func:`fldp_teach.simulation.simulate`. Non-private clients train on shuffled
batches; DP-SGD clients on Poisson lots (:func:`local_batches`), the sampling their accountant
assumes.

FedSGD is the special case ``local_epochs=1, batch_size=None`` (full batch): each client takes
exactly one gradient step, so with equal n_k the weighted mean of the updates equals one step of
centralized full-batch gradient descent (a test checks this). Taught in
notebooks/09_fedavg.ipynb.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from fldp_teach._validation import (
    check_non_negative,
    check_non_negative_int,
    check_positive,
    check_positive_int,
    check_seed,
    check_unit_interval,
)

__all__ = [
    "ClientUpdate",
    "RoundResult",
    "client_seed",
    "expected_lot_size",
    "local_batches",
    "dp_sgd_noise_key",
    "dp_sgd_noise",
    "client_update",
    "screen_updates",
    "aggregate",
    "server_update",
    "sample_clients",
    "weights_nbytes",
    "fedavg_round",
    "SAMPLING_STREAM",
]

#: client_seed(seed, round, SAMPLING_STREAM) seeds the choice of clients in a round (real clients
#: use streams 0..K-1 for their local batches).
SAMPLING_STREAM = 2**30
#: Largest local plan (local epochs × examples, indices held in memory) and federation size.
_MAX_PLAN = 10**9

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientUpdate:
    """What a client sends up: Δθ_k = θ_k' − θ_g (list of arrays), n_k, and its metrics. A
    local-DP or distributed-DP message holds the privatized update only (``num_examples`` None,
    no metrics: :func:`fldp_teach.dp_fedavg.local_dp_update`)."""

    update: list
    num_examples: int | None
    metrics: Mapping = field(default_factory=dict)
    client_id: int | None = None


@dataclass(frozen=True)
class RoundResult:
    """What one round produced: the new θ_g, who took part, who was rejected and why, metrics."""

    round_index: int
    global_weights: list
    participants: tuple
    rejected: tuple  # ((client_id, reason), ...)
    metrics: Mapping = field(default_factory=dict)


def client_seed(seed: int | None, round_index: int, client_id: int) -> int | None:
    """A seed for client ``client_id`` in round ``round_index``, derived from the run's ``seed``
    by ``np.random.SeedSequence`` so that clients and rounds get independent streams. ``None``
    stays ``None`` (fresh entropy)."""
    seed = check_seed("seed", seed)
    round_index = check_non_negative_int("round_index", round_index)
    client_id = check_non_negative_int("client_id", client_id)
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, round_index, client_id]).generate_state(1)[0])


def expected_lot_size(num_examples: int, batch_size: int | None) -> int:
    """b = min(B, n_k), or n_k for ``batch_size`` None (full batch): the batch size of shuffled
    batches, the EXPECTED size q·n_k of a Poisson lot with q = b/n_k, and the fixed DP-SGD
    denominator (Abadi et al. 2016, Alg. 1: the noisy sum is divided by the lot size L = qN)."""
    n = check_positive_int("num_examples", num_examples)
    return n if batch_size is None else min(check_positive_int("batch_size", batch_size), n)


def local_batches(num_examples: int, *, batch_size: int | None, local_epochs: int, seed: int | None,
                  sampling: str = "shuffle") -> list:
    """The index arrays of a client's local steps, b = :func:`expected_lot_size`.

    * ``sampling="shuffle"`` (non-private training): for each of the E epochs a fresh
      permutation of ``range(n_k)`` cut into ⌈n_k/b⌉ consecutive batches (the last may be
      smaller).
    * ``sampling="poisson"`` (DP-SGD): E·⌈n_k/b⌉ independent lots, each example joining each lot
      with probability q = b/n_k (u_i < q, u_i ~ U(0, 1) i.i.d.; Abadi et al. 2016, Alg. 1, the
      rule of :func:`fldp_teach.training.poisson_lot`). A lot's size is Binomial(n_k, q): it
      varies and may be 0. This is the sampling the accountant's SampledGaussian assumes
      (:func:`fldp_teach.dp_fedavg.record_level_epsilon`); shuffled batches do not satisfy it
      (Chua et al. 2024, "How Private are DP-SGD Implementations?").

    ``batch_size`` None means full batch (FedSGD; q = 1 under Poisson). Reference and fast paths
    both use this, so they see the same lots for the same ``seed`` (drawn with
    ``np.random.default_rng(seed)``)."""
    n = check_positive_int("num_examples", num_examples)
    epochs = check_positive_int("local_epochs", local_epochs)
    b = expected_lot_size(n, batch_size)
    if epochs * n > _MAX_PLAN:
        raise ValueError(f"local_epochs * num_examples must be <= {_MAX_PLAN:.0e} (the index arrays of "
                         f"one client's local steps are held in memory), got local_epochs={epochs} and "
                         f"num_examples={n}")
    rng = np.random.default_rng(check_seed("seed", seed))
    if sampling == "poisson":
        q = b / n
        return [np.flatnonzero(rng.random(n) < q) for _ in range(epochs * math.ceil(n / b))]
    if sampling != "shuffle":
        raise ValueError(f"sampling must be 'shuffle' or 'poisson', got {sampling!r}")
    batches = []
    for _ in range(epochs):
        order = rng.permutation(n)
        batches.extend(order[i : i + b] for i in range(0, n, b))
    return batches


def dp_sgd_noise_key(seed: int | None) -> np.ndarray:
    """The stateless-RNG key (2 int64, all 128 bits used) of a client's DP-SGD noise:
    ``SeedSequence([seed, 1])``, a stream independent of its lots (``default_rng(seed)``).
    ``None`` draws fresh OS entropy."""
    seed = check_seed("seed", seed)
    entropy = np.random.SeedSequence(None if seed is None else [seed, 1])
    return entropy.generate_state(2, dtype=np.uint64).view(np.int64)


def _check_noise_args(shape, stddev, key, step, tensor):
    """Eager Python/numpy arguments of :func:`dp_sgd_noise` (tensors are TF's to check)."""
    from fldp_teach._validation import check_numbers

    def plain(v):
        return not type(v).__module__.startswith(("tensorflow", "keras"))

    if plain(stddev):
        check_non_negative("stddev", stddev)
    for name, v in (("step", step), ("tensor", tensor)):
        if plain(v) and check_non_negative_int(name, v) >= 2**31:
            raise ValueError(f"{name} must be < 2**31 (an int32 of the noise's seed), got {v!r}")
    if plain(key):
        k = check_numbers("key", key, integer=True)
        if k.shape != (2,):
            raise ValueError(f"key must be 2 integers (dp_sgd_noise_key), got shape {k.shape}")
    if plain(shape):
        dims = check_numbers("shape", shape, ndim=1, integer=True, non_negative=True)
        if dims.size and float(np.prod(dims.astype(float))) > 2**31:
            raise ValueError(f"shape must hold at most 2**31 values, got {tuple(dims)}")


def dp_sgd_noise(shape, *, stddev, key, step, tensor):
    """N(0, stddev² I) of the given shape for trainable tensor ``tensor`` of local step ``step``
    of the client whose noise key is ``key`` (:func:`dp_sgd_noise_key`): a stateless normal
    seeded by fold_in(fold_in(key, step), tensor). The reference :func:`client_update` and the
    stacked fast path (:class:`fldp_teach.stacked_clients.StackedDenseTrainer`) both draw their
    noise here, so with the same seeds they add the same noise (a test checks it)."""
    import tensorflow as tf

    _check_noise_args(shape, stddev, key, step, tensor)
    fold = tf.random.experimental.stateless_fold_in
    seed = fold(fold(tf.cast(key, tf.int64), tf.cast(step, tf.int32)), tf.cast(tensor, tf.int32))
    return stddev * tf.random.stateless_normal(shape, seed=seed, dtype=tf.float32)


def client_update(
    model,
    global_weights: Sequence,
    client_data,
    *,
    local_epochs: int,
    batch_size: int | None,
    learning_rate: float,
    seed: int | None,
    dp=None,
    client_id: int | None = None,
    noise_seed: int | None = None,
) -> ClientUpdate:
    """Reference client: E epochs of minibatch SGD from θ_g, return Δθ_k = θ_k' − θ_g.

    Without ``dp`` each step is θ ← θ − η ∇_θ (1/|B|) Σ_{i∈B} ℓ(y_i, f(x_i; θ)) over shuffled
    batches, ℓ the softmax cross-entropy on logits (McMahan et al. 2017, Alg. 1, ClientUpdate).
    The client starts from the broadcast global weights (article Eq. 4, E4), not from its own
    previous model.

    ``model`` is a Keras model returning logits (or a zero-argument function building one);
    ``client_data`` has ``.x`` and ``.y`` (integer labels). ``dp`` = a
    :class:`fldp_teach.dp_fedavg.DPSGDConfig` makes the local steps DP-SGD, record-level DP
    inside the client (Abadi et al. 2016, Alg. 1) — the article's "noise in local training"
    (E1) done right. For each of the E·⌈n_k/b⌉ lots L_t (Poisson by default, ``dp.sampling``):

        g̃_t = (1/b) (Σ_{i∈L_t} clip(∇ℓ_i, C) + N(0, z²C² I)),   θ ← θ − η g̃_t,

    with b = qn_k the EXPECTED lot size (:func:`expected_lot_size`), a public constant: the
    realised size of a Poisson lot is data-dependent and dividing by it would leak it. An empty
    lot is still a step: zero sum plus noise (skipping it would reveal that it was empty). The
    phases are :mod:`fldp_teach.dpsgd`'s; the noise comes from :func:`dp_sgd_noise`.

    Randomness: without ``dp`` the shuffled batches follow ``seed``. With ``dp`` the Poisson
    lots and the noise follow ``noise_seed`` instead (:mod:`fldp_teach.randomness`): None, the
    default, is fresh OS entropy; a fixed value is for teaching only. With ``dp`` the returned
    message carries Δθ_k, n_k (treated as public: the server weights by it, docs/privacy.md)
    and the number of steps (a function of n_k); the training loss, a raw function of the
    records, stays on the client (logged at DEBUG level).
    """
    import tensorflow as tf

    lr = check_positive("learning_rate", learning_rate)
    seed = check_seed("seed", seed)
    if callable(model) and not hasattr(model, "trainable_variables"):
        model = model()
    model.set_weights([np.asarray(w) for w in global_weights])
    x = np.asarray(client_data.x, dtype=np.float32)
    y = np.asarray(client_data.y, dtype=np.int32)
    sampling = "shuffle" if dp is None else dp.sampling
    if dp is not None:
        from fldp_teach.dpsgd import check_dp_sgd_model
        from fldp_teach.randomness import noise_root

        check_dp_sgd_model(model)
        seed = noise_root(noise_seed)  # the private coins: lots and noise
    batches = local_batches(len(y), batch_size=batch_size, local_epochs=local_epochs, seed=seed,
                            sampling=sampling)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if dp is not None:
        from fldp_teach.dpsgd import clipped_gradient_sum_vectorized, normalize

        key = dp_sgd_noise_key(seed)
        denominator = float(expected_lot_size(len(y), batch_size))
    losses = []
    for step, idx in enumerate(batches):
        xb, yb = tf.constant(x[idx]), tf.constant(y[idx])
        if dp is None:
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
        else:
            clipped = clipped_gradient_sum_vectorized(model, xb, yb, clip_norm=dp.clip_norm)  # 0 if empty
            stddev = dp.noise_multiplier * dp.clip_norm
            noisy = [s + dp_sgd_noise(tf.shape(s), stddev=stddev, key=key, step=step, tensor=j)
                     for j, s in enumerate(clipped.gradient_sum)]
            grads = normalize(noisy, denominator=denominator)
            loss = tf.reduce_mean(clipped.losses)
        for var, g in zip(model.trainable_variables, grads):
            var.assign_sub(lr * g)
        if len(idx):
            losses.append(float(loss))
    update = [np.asarray(w) - np.asarray(g) for w, g in zip(model.get_weights(), global_weights)]
    train_loss = float(np.mean(losses)) if losses else math.nan
    if dp is not None:  # raw loss stays on the client
        logger.debug("client %s: local DP-SGD train loss %.4f (not sent)", client_id, train_loss)
        metrics = {"steps": len(batches)}
    else:
        metrics = {"train_loss": train_loss, "steps": len(batches)}
    return ClientUpdate(update=update, num_examples=len(y), metrics=metrics, client_id=client_id)


def _count_problem(n, *, max_num_examples, need: bool):
    """(n as an int, None) for a sound example count, else (None, the reason)."""
    if n is None:
        return (None, "num_examples missing (weighting by n_k needs it)") if need else (None, None)
    value = None
    if isinstance(n, (bool, np.bool_)) or isinstance(n, (str, bytes)):
        pass
    elif isinstance(n, (int, np.integer)):
        value = int(n)
    else:
        try:
            f = float(n)
        except (TypeError, ValueError):
            f = math.nan
        if math.isfinite(f) and f == int(f):
            value = int(f)
    if value is None:
        return None, f"num_examples must be a whole number, got {n!r}"
    if value < 1:
        return None, f"num_examples must be >= 1, got {value} (an empty or lying client)"
    if max_num_examples is not None and value > max_num_examples:
        return None, f"num_examples={value} exceeds max_num_examples={max_num_examples}"
    return value, None


def _tensor_problem(j, t, shape, dtype):
    """(t as an array of the global dtype, None), or (None, the reason it is refused)."""
    try:
        a = np.asarray(t)
    except (TypeError, ValueError) as err:  # ragged lists and the like
        return None, f"tensor {j} is not an array ({type(err).__name__})"
    if a.dtype.kind != "f":
        return None, f"tensor {j} has dtype {a.dtype}, expected a floating dtype ({np.dtype(dtype)})"
    if a.shape != shape:
        return None, f"tensor {j} has shape {a.shape}, expected {shape}"
    with np.errstate(over="ignore"):
        a = a.astype(dtype, copy=False)  # float64 beyond float32's range becomes inf: refused below
    if not np.all(np.isfinite(a)):
        return None, f"tensor {j} contains NaN or Inf"
    return a, None


def screen_updates(updates: Sequence[ClientUpdate], global_weights: Sequence, *,
                   max_num_examples: int | None = None, need_num_examples: bool = False) -> tuple[list, list]:
    """Split updates into (accepted, rejected); a rejected entry is ``(client_id, reason)``.

    A client is rejected when what it sent is not a :class:`ClientUpdate` holding a list of
    tensors, when its update has the wrong number of tensors, a tensor that is not an array of
    floats (int, bool, complex, object, str), of the wrong shape, or with any NaN/Inf entry —
    averaging it would corrupt θ_g for everyone (a single NaN makes the mean NaN) — or when it
    reports a ``num_examples`` that is not a whole number ≥ 1 or exceeds ``max_num_examples``
    (huge counts would dominate a weighted mean; zero or negative ones are an empty or lying
    client). ``need_num_examples``: a missing count is refused too (weighting by n_k needs it).
    Each rejection is logged at WARNING with its reason; the round goes on with the others.
    Accepted updates come back with each tensor cast to the dtype of θ_g (float64 → float32)
    and ``num_examples`` as an int.
    """
    if max_num_examples is not None:
        max_num_examples = check_positive_int("max_num_examples", max_num_examples)
    shapes = [np.shape(w) for w in global_weights]
    dtypes = [np.asarray(w).dtype for w in global_weights]
    accepted, rejected = [], []
    for position, u in enumerate(updates):
        who = getattr(u, "client_id", None)
        who = who if who is not None else position
        reason, clean = None, []
        tensors = getattr(u, "update", None)
        if not isinstance(u, ClientUpdate):
            reason = f"sent a {type(u).__name__}, not a ClientUpdate"
        elif isinstance(tensors, (str, bytes, np.ndarray)) or not isinstance(tensors, Sequence):
            reason = f"update is not a list of tensors, got {type(tensors).__name__}"
        elif len(tensors) != len(shapes):
            reason = f"update has {len(tensors)} tensors, expected {len(shapes)}"
        else:
            for j, (t, shape, dtype) in enumerate(zip(tensors, shapes, dtypes)):
                a, reason = _tensor_problem(j, t, shape, dtype)
                if reason is not None:
                    break
                clean.append(a)
        count = None
        if reason is None:
            count, reason = _count_problem(u.num_examples, max_num_examples=max_num_examples,
                                           need=need_num_examples)
        if reason is None:
            accepted.append(ClientUpdate(update=clean, num_examples=count, metrics=u.metrics,
                                         client_id=u.client_id))
        else:
            logger.warning("rejected client %s: %s", who, reason)
            rejected.append((who, reason))
    return accepted, rejected


def aggregate(updates: Sequence[ClientUpdate], *, weighting: str = "num_examples") -> list:
    """Average client updates.

    ``weighting="num_examples"``: Σ_k (n_k / n) Δθ_k with n = Σ_k n_k (McMahan et al. 2017,
    Alg. 1). ``weighting="uniform"``: (1/K) Σ_k Δθ_k, the article's Eq. (2) (§4.1, E2) — equal to
    the weighted mean only when all n_k are equal. Example: ones with n=1 and zeros with n=3
    average to 0.25·ones weighted and 0.5·ones uniform.
    """
    if not updates:
        raise ValueError("updates must be non-empty, got 0 updates")
    if weighting == "num_examples":
        if any(u.num_examples is None for u in updates):
            raise ValueError("weighting='num_examples' needs every update's num_examples; local-DP "
                             "messages carry none (use weighting='uniform'), got "
                             f"{[u.num_examples for u in updates]}")
        weights = np.array([u.num_examples for u in updates], dtype=np.float64)
    elif weighting == "uniform":
        weights = np.ones(len(updates))
    else:
        raise ValueError(f"weighting must be 'num_examples' or 'uniform', got {weighting!r}")
    weights = weights / weights.sum()
    return [
        sum(w * np.asarray(u.update[j], dtype=np.float64) for w, u in zip(weights, updates)).astype(
            np.asarray(updates[0].update[j]).dtype
        )
        for j in range(len(updates[0].update))
    ]


def server_update(global_weights: Sequence, mean_update: Sequence, *, server_learning_rate: float = 1.0) -> list:
    """θ_g ← θ_g + η_g · Δ̄ (Reddi et al. 2021, Alg. 1 with SGD as server optimizer; η_g = 1 is
    plain FedAvg, where θ_g becomes the average of the client models)."""
    eta = check_non_negative("server_learning_rate", server_learning_rate)
    return [np.asarray(w) + np.asarray(eta * np.asarray(d), dtype=np.asarray(w).dtype)
            for w, d in zip(global_weights, mean_update)]


def sample_clients(
    num_clients: int,
    *,
    clients_per_round: int | None = None,
    sampling_rate: float | None = None,
    seed: int | None,
) -> np.ndarray:
    """Which clients take part in a round (sorted ids).

    Exactly one of: ``clients_per_round`` = m, a uniformly random subset of size m without
    replacement (McMahan et al. 2017); or ``sampling_rate`` = q, each client independently with
    probability q (Poisson sampling, the scheme the privacy accountant's amplification by
    sampling assumes; McMahan et al. 2018, Alg. 1). Poisson rounds may be empty.
    """
    k = check_positive_int("num_clients", num_clients)
    if (clients_per_round is None) == (sampling_rate is None):
        raise ValueError("give exactly one of clients_per_round and sampling_rate, got "
                         f"clients_per_round={clients_per_round!r}, sampling_rate={sampling_rate!r}")
    if k > _MAX_PLAN:
        raise ValueError(f"num_clients must be <= {_MAX_PLAN:.0e}, got {k}")
    rng = np.random.default_rng(check_seed("seed", seed))
    if clients_per_round is not None:
        m = check_positive_int("clients_per_round", clients_per_round)
        if m > k:
            raise ValueError(f"clients_per_round must be <= num_clients={k}, got {m}")
        return np.sort(rng.choice(k, size=m, replace=False))
    q = check_unit_interval("sampling_rate", sampling_rate)
    return np.flatnonzero(rng.random(k) < q)


def weights_nbytes(weights: Sequence) -> int:
    """Bytes needed to send these weights (Σ nbytes): the communication cost per message
    (article §3.3, claim C3)."""
    return int(sum(np.asarray(w).nbytes for w in weights))


def fedavg_round(model, global_weights: Sequence, clients: Sequence, *, round_index: int, clients_per_round: int,
                 local_epochs: int, batch_size: int | None, learning_rate: float, seed: int | None,
                 weighting: str = "num_examples", server_learning_rate: float = 1.0) -> RoundResult:
    """One round of FedAvg, reference form (McMahan et al. 2017, Alg. 1): sample m clients,
    :func:`client_update` each from θ_g, :func:`screen_updates`, :func:`aggregate`,
    :func:`server_update`. If every update is rejected θ_g is returned unchanged and
    ``metrics["model_unchanged"]`` says so. Seeds match :func:`fldp_teach.simulation.simulate`,
    so a simulated round and this one compute the same weights."""
    round_index = check_non_negative_int("round_index", round_index)
    seed = check_seed("seed", seed)
    ids = sample_clients(len(clients), clients_per_round=clients_per_round,
                         seed=client_seed(seed, round_index, SAMPLING_STREAM))
    updates = [client_update(model, global_weights, clients[k], local_epochs=local_epochs, batch_size=batch_size,
                             learning_rate=learning_rate, seed=client_seed(seed, round_index, int(k)),
                             client_id=int(k)) for k in ids]
    accepted, rejected = screen_updates(updates, global_weights)
    if accepted:
        new = server_update(global_weights, aggregate(accepted, weighting=weighting),
                            server_learning_rate=server_learning_rate)
    else:
        logger.warning("round %d: no client update accepted, global model unchanged", round_index)
        new = [np.asarray(w) for w in global_weights]
    return RoundResult(round_index=round_index, global_weights=new,
                       participants=tuple(u.client_id for u in accepted), rejected=tuple(rejected),
                       metrics={"model_unchanged": not accepted,
                                "train_loss": [u.metrics.get("train_loss") for u in accepted]})
