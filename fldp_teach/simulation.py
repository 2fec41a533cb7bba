"""The driver: run FedAvg or DP-FedAvg for some rounds and record what happened.

:func:`simulate` wires the roles of :mod:`fldp_teach.fedavg` and the DP variants of
:mod:`fldp_teach.dp_fedavg` into rounds (McMahan et al. 2017, Alg. 1; McMahan et al. 2018,
Alg. 1) and returns a :class:`History` with, per round: test accuracy, loss, AUC (binary
tasks), the ε spent so far, and the bytes sent down and up (article §3.3, claim C3).

Modes (see :mod:`fldp_teach.dp_fedavg` for the maths and threat models):
``"none"`` plain FedAvg; ``"central"`` DP-FedAvg with server noise zC/m (user-level ε);
``"local"`` each client noises its own clipped update (per-client ε, max over clients);
``"distributed"`` each client adds a 1/m_min share of the noise, the server sees only the sum
and releases it only when at least m_min shares arrived (secure aggregation simulated; same ε
as central); ``"dpsgd"`` record-level DP-SGD inside each
client (ε per example, max over clients) — the right unit when the clients are a few hospitals.
In ``"dpsgd"`` the local lots are Poisson samples (each example with probability q = b/n_k, the
noisy sum divided by the expected lot size b), which is what the accountant charges
(:func:`~fldp_teach.dp_fedavg.record_level_epsilon`); the other modes train on shuffled batches.

Randomness (:mod:`fldp_teach.randomness`): ``seed`` (public) drives the initial weights, the
clients' non-private shuffling and, in mode ``"none"``, the choice of clients. In the private
modes the choice of clients, the DP-SGD lots and all DP noise come from ``noise_seed``: None
(default) is fresh OS entropy, so two runs differ; an integer makes the run reproducible for
teaching and is recorded in ``History.settings`` (not private against anyone who knows it).

Client sampling and its accounting (:func:`fldp_teach.dp_fedavg.central_epsilon`):
``sampling_rate=q`` is Poisson sampling (add/remove, the default to use); neither argument
means every client every round; ``clients_per_round=m < K`` samples exactly m without
replacement and is charged with the replace-one bound for that sampler, a larger ε.

Local training uses a fast path when it can (:mod:`fldp_teach.stacked_clients`: stacked
dense clients, or one ``tf.function`` per round) and the reference
:func:`~fldp_teach.fedavg.client_update` otherwise; ``fast=False`` forces the reference.
Used by notebooks/09_fedavg.ipynb, 10_central_dp_fedavg.ipynb and the demo (``fldp-teach demo``).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from fldp_teach._validation import (
    check_delta_for_size, check_non_negative, check_numbers, check_open_unit, check_positive, check_positive_int,
    check_seed, check_unit_interval)
from fldp_teach.randomness import derive, noise_root
from fldp_teach import dp_fedavg as dpf
from fldp_teach.fedavg import (
    SAMPLING_STREAM, ClientUpdate, aggregate, client_seed, expected_lot_size, sample_clients, screen_updates,
    server_update, weights_nbytes)

__all__ = ["History", "roc_auc", "evaluate", "simulate", "default_min_clients", "MODES",
           "SERVER_NOISE_STREAM"]

MODES = ("none", "central", "local", "distributed", "dpsgd")
# Independent random streams per round: client_seed(seed, round, stream); real clients use 0..K-1.
_SAMPLING, _SERVER_NOISE, _CLIP_COUNT = SAMPLING_STREAM, 2**30 + 1, 2**30 + 2
_CLIENT_NOISE = 2**29  # + client id: the client's own DP coins (local / distributed noise, DP-SGD lots and noise)
#: derive(noise_root(noise_seed), round, SERVER_NOISE_STREAM) seeds the server's noise of a round
SERVER_NOISE_STREAM = _SERVER_NOISE
logger = logging.getLogger(__name__)


@dataclass
class History:
    """Per-round records (dicts with ``round, accuracy, loss, auc, epsilon, bytes_down,
    bytes_up, participants, participant_ids, rejected, seconds``) plus the run's settings and final weights.

    ``stopped``: None, or the sentence saying before which round the privacy budget
    (``settings["max_epsilon"]``) stopped the run; ``epsilon_spent`` / ``epsilon_remaining``
    read the last record. ``interrupted_rounds``: rounds charged before a crash whose result
    was lost (OS-entropy coins, not replayed: they stay charged and ε includes them)."""

    records: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    final_weights: list | None = None
    stopped: str | None = None
    interrupted_rounds: list = field(default_factory=list)

    @property
    def epsilon_spent(self) -> float:
        """ε(δ) charged so far (0 before the first round of a private run, ∞ in mode "none")."""
        if self.records:
            return self.records[-1]["epsilon"]
        return math.inf if self.settings.get("mode") == "none" else 0.0

    @property
    def epsilon_remaining(self) -> float | None:
        """``max_epsilon`` − ε spent (None without a budget)."""
        budget = self.settings.get("max_epsilon")
        return None if budget is None else budget - self.epsilon_spent

    def column(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.records], dtype=float)

    def table(self) -> str:
        lines = [f"{'round':>5} {'accuracy':>8} {'AUC':>6} {'loss':>7} {'epsilon':>9} {'clients':>7}"]
        for r in self.records:
            eps = "inf" if math.isinf(r["epsilon"]) else f"{r['epsilon']:.3f}"
            auc = "  -  " if r["auc"] is None or math.isnan(r["auc"]) else f"{r['auc']:.3f}"
            lines.append(f"{r['round']:>5} {r['accuracy']:>8.4f} {auc:>6} {r['loss']:>7.4f} {eps:>9} "
                         f"{r['participants']:>7}")
        return "\n".join(lines)


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve by the Mann–Whitney U statistic (Hanley & McNeil 1982):
    AUC = (R₁ − n₁(n₁+1)/2) / (n₁ n₀), R₁ = sum of the ranks of the positives among all scores
    (ties get their average rank). NaN when one class is absent."""
    from scipy.stats import rankdata

    if labels is None or isinstance(labels, (str, bytes)):
        raise TypeError(f"labels must be an array of 0/1 labels, got {labels!r}")
    raw = np.asarray(labels)
    if raw.dtype.kind != "b":
        raw = check_numbers("labels", raw, ndim=1)
        if not np.all((raw == 0) | (raw == 1)):
            raise ValueError(f"labels must be 0/1, got values {np.unique(raw)[:5].tolist()}")
    elif raw.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {raw.shape}")
    labels = raw.astype(bool)
    values = check_numbers("scores", scores, ndim=1).astype(np.float64)
    if values.shape != labels.shape:
        raise ValueError(f"scores and labels must have the same length, got {values.size} scores and {labels.size} labels")
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(values)
    return float((ranks[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def evaluate(model, weights, x, y) -> dict:
    """Accuracy, mean cross-entropy and (two classes) AUC of P(y=1) = softmax(logits)₁."""
    import tensorflow as tf

    from fldp_teach.dpsgd import check_lot

    model.set_weights(weights)
    x, y = check_lot(model, x, y, allow_empty=False)
    y = y.numpy()
    logits = model(x, training=False)
    loss = float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant(y, tf.int32), logits=logits)))
    logits = np.asarray(logits)
    acc = float(np.mean(np.argmax(logits, axis=1) == np.asarray(y)))
    auc = roc_auc(y, logits[:, 1] - logits[:, 0]) if logits.shape[1] == 2 else None
    return {"accuracy": acc, "loss": loss, "auc": auc}


def _clients_of(partition) -> list:
    """The clients as objects with ``x`` and ``y``; an empty client's ``x`` gets the feature
    shape of the others (so the stacked fast path can hold it)."""
    clients = [c if hasattr(c, "x") else _XY(*c) for c in getattr(partition, "clients", partition)]
    shape = next((np.shape(c.x)[1:] for c in clients if len(c.y)), None)
    return [c if len(c.y) or shape is None or np.shape(c.x)[1:] == shape
            else _XY(np.zeros((0, *shape), np.float32), np.zeros(0, np.int32)) for c in clients]


@dataclass(frozen=True)
class _XY:
    x: np.ndarray
    y: np.ndarray


def _train_clients(trainer, model, clients, ids, global_weights, *, round_index, seed, local_epochs,
                   batch_size, learning_rate, dp, fast, root=None) -> list:
    """Local training of the sampled clients, fast path if available; returns ClientUpdates.
    Non-private lots follow ``client_seed(seed, r, k)``; DP-SGD lots and noise follow the
    private ``derive(root, r, _CLIENT_NOISE + k)``."""
    from fldp_teach.fedavg import client_update
    from fldp_teach.stacked_clients import batch_plan

    if dp is None:
        seeds = [client_seed(seed, round_index, int(k)) for k in ids]
    else:
        seeds = [derive(root, round_index, _CLIENT_NOISE + int(k)) for k in ids]
    if not fast or (dp is not None and trainer["kind"] != "dense"):
        return [client_update(model, global_weights, clients[k], local_epochs=local_epochs,
                              batch_size=batch_size, learning_rate=learning_rate, seed=s, dp=dp,
                              noise_seed=s if dp is not None else None, client_id=int(k))
                for k, s in zip(ids, seeds)]
    x, y, offsets, sizes = trainer["x"], trainer["y"], trainer["offsets"], trainer["sizes"]
    # the same lots as client_update: shuffled batches, or Poisson lots for DP-SGD
    idx, mask, active = batch_plan([sizes[k] for k in ids], [offsets[k] for k in ids], batch_size=batch_size,
                                   local_epochs=local_epochs, seeds=seeds,
                                   sampling="shuffle" if dp is None else dp.sampling)
    if trainer["kind"] == "dense":
        kwargs = {} if dp is None else {
            "clip_norm": dp.clip_norm, "noise_multiplier": dp.noise_multiplier, "seeds": seeds,
            "denominators": [expected_lot_size(sizes[k], batch_size) for k in ids]}
        stacked = trainer["run"](global_weights, x, y, idx, mask, active, learning_rate=learning_rate, **kwargs)
    else:
        stacked = trainer["run"](global_weights, x, y, idx, mask, learning_rate=learning_rate)
    return [ClientUpdate(update=[s[i] for s in stacked], num_examples=sizes[k], client_id=int(k))
            for i, k in enumerate(ids)]


_EMPTY = "empty dataset: the client has no training examples (not trained, not charged)"


def _deliver(messages, tamper, round_index, timeout) -> tuple[list, list]:
    """What reaches the server: each message through ``tamper`` (see :func:`simulate`), with
    the server's own knowledge of who answered. Returns (arrived, rejected)."""
    if tamper is None:
        return list(messages), []
    arrived, rejected = [], []
    for message in messages:
        who = message.client_id
        box = {}

        def call(message=message, box=box):
            try:
                box["value"] = tamper(round_index, message)
            except Exception as err:  # a crashed client
                box["error"] = err

        if timeout is None:
            call()
        else:
            worker = threading.Thread(target=call, daemon=True, name=f"client {who}")
            worker.start()
            worker.join(timeout)
            if worker.is_alive():
                box = {"late": True}
        if box.get("late"):
            reason = f"no answer within client_timeout={timeout:g} s"
        elif "error" in box:
            reason = f"client error: {type(box['error']).__name__}: {box['error']}"
        elif box.get("value") is None:
            reason = "no answer (the client sent nothing)"
        elif not isinstance(box["value"], ClientUpdate):
            reason = f"sent a {type(box['value']).__name__}, not a ClientUpdate"
        else:
            value = box["value"]
            arrived.append(ClientUpdate(update=value.update, num_examples=value.num_examples,
                                        metrics=value.metrics, client_id=who))  # the server knows who it asked
            continue
        logger.warning("rejected client %s: %s", who, reason)
        rejected.append((who, reason))
    return arrived, rejected


def _make_trainer(model, clients):
    from fldp_teach.stacked_clients import OneFunctionRound, StackedDenseTrainer, dense_activations

    sizes = [len(c.y) for c in clients]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    x = np.concatenate([np.asarray(c.x, np.float32) for c in clients])
    y = np.concatenate([np.asarray(c.y, np.int32) for c in clients])
    acts = dense_activations(model)
    run = StackedDenseTrainer(acts) if acts is not None else OneFunctionRound(model)
    return {"kind": "dense" if acts is not None else "graph", "run": run, "x": x, "y": y,
            "offsets": offsets, "sizes": sizes}


def default_min_clients(num_clients: int, sampling_rate: float, *, dropped: float = 0.05) -> int:
    """m_min for distributed DP under Poisson sampling: the largest m with
    P(Binomial(K, q) < m) ≤ ``dropped`` (at most 5% of rounds dropped), at least 1; K when
    q = 1 (every client every round)."""
    from scipy.stats import binom

    k = check_positive_int("num_clients", num_clients)
    q = check_unit_interval("sampling_rate", sampling_rate)
    dropped = check_unit_interval("dropped", dropped)
    if k > 10**9:
        raise ValueError(f"num_clients must be <= 1e9, got {k}")
    if q >= 1:
        return k
    m = 1
    while m < k and binom.cdf(m, k, q) <= dropped:  # P(n < m + 1) = cdf(m)
        m += 1
    return m


def simulate(model_fn: Callable, partition, test_data, *, rounds: int, clients_per_round: int | None = None,
             sampling_rate: float | None = None, local_epochs: int = 1, batch_size: int | None = 32,
             learning_rate: float = 0.1, mode: str = "none", noise_multiplier: float = 0.0,
             clip_norm: float = math.inf, delta: float = 1e-5, server_learning_rate: float = 1.0,
             weighting: str = "num_examples", seed: int | None = 0, progress: bool = True,
             noise_schedule: Sequence[float] | None = None, adaptive_clipping=None,
             fast: bool = True, noise_seed: int | None = None, min_clients: int | None = None,
             allow_large_delta: bool = False, max_epsilon: float | None = None,
             checkpoint_dir=None, resume: bool = False, tamper: Callable | None = None,
             client_timeout: float | None = None, max_num_examples: int | None = None) -> History:
    """Run ``rounds`` rounds of (DP-)FedAvg and return a :class:`History` (see module doc).

    ``model_fn()`` builds the Keras model (logits); its initial weights are θ_g at round 0.
    Clients per round: ``sampling_rate`` = q (Poisson; the fixed denominator is qK), or
    ``clients_per_round`` = m fixed (without replacement; in the user-level modes charged with
    the replace-one bound for that sampler, :func:`fldp_teach.dp_fedavg.central_epsilon`), or
    neither: every client every round. ``noise_seed``: see the module docstring (None, the
    default, is a private run). ``min_clients`` (distributed mode): m_min, the fewest shares a
    round needs to be released (default :func:`default_min_clients`, or m with fixed m);
    shares are sized for it, so every released sum carries noise std ≥ zC.
    ``delta`` must be < 1/N for the unit of privacy (K clients; the smallest n_k in
    ``"dpsgd"``) unless ``allow_large_delta=True``. ``noise_schedule`` gives z per round (article §3.2 Step 7, claim C6;
    overrides ``noise_multiplier``); ε adds up every phase. In the DP modes aggregation is
    uniform over clipped updates (McMahan et al. 2018, w_k = 1); ``weighting`` applies to
    ``"none"`` and ``"dpsgd"``. ``adaptive_clipping`` (a
    :class:`fldp_teach.dp_fedavg.AdaptiveClipping`, central mode only) adapts C each round.

    ``max_epsilon`` (DP modes): a privacy budget at ``delta``. Every round is charged before
    its clients are sampled and its noise drawn, and the run stops *before* the first round
    that could take ε above ``max_epsilon``: in central and distributed mode ε does not depend
    on who is sampled, so that is exactly the round that would exceed it; in local and dpsgd
    mode (ε is the worst client's) the check assumes the worst, that every client joins the
    next round. ``History.stopped`` says where and why (also the progress bar and a WARNING
    log); the history and ``final_weights`` hold the rounds that ran. (A name apart from the
    ``target_epsilon`` of :func:`fldp_teach.training.train_dp_sgd`, which calibrates z.)

    Charging: central and distributed mode charge every round; local and dpsgd mode charge
    each *sampled* client for the round (it trained and sent a privatized message, whether or
    not the server then kept it).

    ``checkpoint_dir``: a folder (:class:`fldp_teach.checkpoint.RunDirectory`) holding the
    run's configuration and its privacy ledger. A round is charged after its clients are
    sampled and *before* any of them trains or any noise is drawn, and the ledger
    (``ledger.json``: the charged rounds' z, who was sampled in each, ε so far) is rewritten
    atomically (temporary file, fsync, rename, fsync of the folder) at that moment. If the
    write fails, :class:`fldp_teach.checkpoint.LedgerWriteError` is raised and the round is not
    run. A folder that already holds a run is refused. After each round the state is saved
    (``state.npz``: θ_g, the round counter, the records, the adaptive clip norm).

    ``resume=True`` continues the run saved in ``checkpoint_dir`` (a different configuration is
    refused with the list of what changed, :class:`fldp_teach.checkpoint.CheckpointMismatchError`;
    an empty folder starts a new run). The sampling and noise coins of round r are
    ``derive(noise_root(noise_seed), r, ...)``: with a fixed ``noise_seed`` nothing else needs
    saving, and a round charged before a crash but not saved is rerun with the same coins
    (same round, same output) without a second charge, so the resumed run ends with the same
    ε and the same weights as an uninterrupted one. With OS-entropy coins (``noise_seed=None``)
    the root is never written to disk: the resumed run draws a fresh root, and a round that was
    charged but not saved stays charged (``History.interrupted_rounds``) and is run again with
    fresh coins and charged again — no noise is ever replayed.

    Hostile clients. ``tamper(round_index, message) -> message`` stands between each sampled
    client and the server (the network, or a client that lies): it receives the
    :class:`~fldp_teach.fedavg.ClientUpdate` the honest client would send (in local and
    distributed mode already privatized) and returns what the server receives; raising is a
    crashed client, returning None a silent one. With ``client_timeout`` (seconds) it runs in a
    thread and a client that has not answered by then is dropped ("no answer within ...").
    The server identifies a message by the client it asked, not by the id the message claims.
    What arrives is screened (:func:`~fldp_teach.fedavg.screen_updates`): NaN/Inf, wrong number
    of tensors, shapes or dtypes, and an example count that is not a whole number in
    [1, ``max_num_examples``] (default: all the examples of the federation) are rejected with
    a logged reason and listed in the round's ``rejected``; a client whose dataset is empty is
    rejected without training (and not charged). The round goes on with the rest: in central
    mode it is always released (zero or more clipped updates plus the full noise: dropping it
    would reveal how many answered), in distributed mode it is dropped (nothing released, still
    charged) when fewer than ``min_clients`` shares arrive, in the other modes the model stays
    unchanged when nothing is left.
    """
    from tqdm.auto import tqdm

    if adaptive_clipping is not None and mode != "central":
        raise ValueError(f"adaptive_clipping needs mode='central', got mode={mode!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    rounds = check_positive_int("rounds", rounds)
    if rounds > 10**7:
        raise ValueError(f"rounds must be <= 1e7 (a schedule entry and a record are kept per round), got {rounds}")
    seed = check_seed("seed", seed)
    noise_seed = check_seed("noise_seed", noise_seed)
    if tamper is not None and not callable(tamper):
        raise ValueError(f"tamper must be a function (round_index, message) -> message, got {tamper!r}")
    if client_timeout is not None:
        client_timeout = check_positive("client_timeout", client_timeout)
    learning_rate = check_positive("learning_rate", learning_rate)
    local_epochs = check_positive_int("local_epochs", local_epochs)
    batch_size = None if batch_size is None else check_positive_int("batch_size", batch_size)
    check_non_negative("server_learning_rate", server_learning_rate)
    d = check_open_unit("delta", delta)
    clients = _clients_of(partition)
    k_total = len(clients)
    sizes = [len(cl.y) for cl in clients]
    if k_total == 0 or not any(sizes):
        raise ValueError(f"partition must hold at least one client with examples, got {k_total} clients "
                         f"with sizes {sizes[:10]}")
    if max_num_examples is None:
        max_num_examples = sum(sizes)  # no honest client holds more than the whole federation
    max_num_examples = check_positive_int("max_num_examples", max_num_examples)
    schedule = [noise_multiplier] * rounds if noise_schedule is None else list(noise_schedule)
    if len(schedule) != rounds:
        raise ValueError(f"noise_schedule must have rounds={rounds} entries, got {len(schedule)}")
    schedule = [check_non_negative("noise_multiplier", z) for z in schedule]
    c = check_positive("clip_norm", clip_norm, allow_inf=True)
    if mode != "none" and (math.isinf(c) or min(schedule) <= 0):
        raise ValueError(f"mode={mode!r} needs a finite clip_norm and noise_multiplier > 0, got "
                         f"clip_norm={clip_norm!r}, noise multipliers {sorted(set(schedule))}")
    if clients_per_round is None and sampling_rate is None:
        clients_per_round = k_total
    if clients_per_round is not None:
        m_expected = float(check_positive_int("clients_per_round", clients_per_round))
        if m_expected > k_total:
            raise ValueError(f"clients_per_round must be <= the number of clients ({k_total}), "
                             f"got {clients_per_round}")
        q = m_expected / k_total
    else:
        q = check_unit_interval("sampling_rate", sampling_rate)
        m_expected = q * k_total
        if mode != "none" and m_expected <= 0:
            raise ValueError(f"sampling_rate must be > 0 in mode={mode!r}, got {sampling_rate!r}")
    private = mode != "none"
    if max_epsilon is not None:
        max_epsilon = check_positive("max_epsilon", max_epsilon)
        if not private:
            raise ValueError(f"max_epsilon={max_epsilon:g} needs a DP mode: mode='none' spends epsilon = inf")
    if private:
        unit_size = min(n for n in sizes if n) if mode == "dpsgd" else k_total
        check_delta_for_size(d, unit_size, allow_large_delta=allow_large_delta,
                             what="examples at the smallest client" if mode == "dpsgd" else "clients")
    if mode == "distributed":
        if min_clients is None:
            min_clients = (int(m_expected) if clients_per_round is not None
                           else default_min_clients(k_total, q))
        min_clients = check_positive_int("min_clients", min_clients)
        if min_clients > k_total:
            raise ValueError(f"min_clients must be <= the number of clients ({k_total}), got {min_clients}")
    elif min_clients is not None:
        raise ValueError(f"min_clients is for mode='distributed', got mode={mode!r}")
    root = noise_root(noise_seed) if private else None
    model = model_fn()
    eval_model = model_fn()
    global_weights = [np.asarray(w) for w in model.get_weights()]
    trainer = _make_trainer(model, clients) if fast else {"kind": "reference"}
    x_test, y_test = (test_data.x, test_data.y) if hasattr(test_data, "x") else test_data
    history = History(settings=dict(mode=mode, rounds=rounds, num_clients=k_total,
                                    clients_per_round=clients_per_round, sampling_rate=q,
                                    local_epochs=local_epochs, batch_size=batch_size,
                                    learning_rate=learning_rate, clip_norm=c, delta=d, seed=seed,
                                    noise_schedule=schedule, server_learning_rate=server_learning_rate,
                                    noise_seed=noise_seed if private else None, min_clients=min_clients,
                                    max_epsilon=max_epsilon,
                                    client_sampling=("all" if clients_per_round is None and q >= 1 else
                                                     "poisson" if clients_per_round is None else
                                                     "all" if m_expected >= k_total else "fixed")))
    participations = [[] for _ in range(k_total)]  # per client, the charges (indices) it was sampled in
    charged = []       # z of every charged round, in order (lost ones included)
    charged_round = []  # the round (0-based) each charge was for
    account = dict(mode=mode, q=q, delta=d, clients=clients, batch_size=batch_size, local_epochs=local_epochs,
                   client_sampling=history.settings["client_sampling"], clients_per_round=int(m_expected))
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir of the run to continue, got checkpoint_dir=None")
    run_dir, first_round = None, 0
    if checkpoint_dir is not None:
        from fldp_teach.checkpoint import RunDirectory

        run_dir = RunDirectory(checkpoint_dir, resume=resume, config=_run_config(
            model, clients, (x_test, y_test), mode=mode, rounds=rounds, num_clients=k_total,
            clients_per_round=clients_per_round, sampling_rate=q, local_epochs=local_epochs,
            batch_size=batch_size, learning_rate=learning_rate, clip_norm=c, delta=d, seed=seed,
            noise_schedule=schedule, server_learning_rate=server_learning_rate, weighting=weighting,
            adaptive_clipping=None if adaptive_clipping is None else repr(adaptive_clipping), fast=fast,
            noise_seed=(noise_seed if noise_seed is not None else "os-entropy") if private else None,
            min_clients=min_clients, max_epsilon=max_epsilon, allow_large_delta=allow_large_delta))

    def write_ledger(pending):
        run_dir.write_ledger(_ledger_record(charged, participations, account, charged_round,
                                            history.interrupted_rounds), pending=pending)

    def save_state(rounds_done):
        run_dir.write_state({f"weight_{i}": w for i, w in enumerate(global_weights)},
                            dict(done=rounds_done, clip_norm=c, records=history.records))

    if run_dir is not None and run_dir.resumed:
        saved = run_dir.read_ledger() or {}
        charged = list(saved.get("noise_multipliers", []))
        charged_round = list(saved.get("charged_round", []))
        history.interrupted_rounds = list(saved.get("interrupted", []))
        participations = [list(p) for p in saved.get("participations", participations)]
        state = run_dir.read_state()
        if state is not None:
            arrays, meta = state
            first_round = int(meta["done"])
            global_weights = [arrays[f"weight_{i}"] for i in range(len(global_weights))]
            c = float(meta["clip_norm"])
            history.records = [_record_from_json(r) for r in meta["records"]]
        lost = [k for k, r in enumerate(charged_round) if r >= first_round]
        if lost and noise_seed is None:
            # OS-entropy coins died with the process: those rounds stay charged, are never
            # replayed, and are run again with fresh coins (charged again)
            lost_rounds = [charged_round[k] + 1 for k in lost]
            history.interrupted_rounds += lost_rounds
            for k in lost:
                charged_round[k] = -1  # still in the accountant, no longer a round of this run
            logger.warning("round(s) %s were charged but interrupted before their result was saved; "
                           "their noise came from OS entropy and is not replayed: they stay charged "
                           "(epsilon includes them) and are run again with fresh noise", lost_rounds)
            write_ledger(pending=f"round {first_round + 1}")
        logger.info("resuming %s after round %d of %d", run_dir.path, first_round, rounds)
    elif run_dir is not None:
        save_state(0)
        write_ledger(pending="the first round")
    bar = tqdm(total=rounds, initial=first_round, desc=f"FedAvg ({mode})", disable=not progress, unit="round")
    for r in range(first_round, rounds):
        round_start = time.perf_counter()
        z = schedule[r]
        replay = r in charged_round  # charged before a crash, seeded coins: rerun, not recharged
        if max_epsilon is not None and not replay:
            # worst case for the per-client accountants: every client joins this round
            after = _epsilon(noise_multipliers=charged + [z],
                             participations=[p + [len(charged)] if n else p for p, n in zip(participations, sizes)],
                             **account)
            if after > max_epsilon:
                spent = history.epsilon_spent
                history.stopped = (
                    f"privacy budget reached: stopped before round {r + 1} of {rounds}, which "
                    f"{'could' if mode in ('local', 'dpsgd') else 'would'} bring epsilon to {after:.4g} > "
                    f"max_epsilon={max_epsilon:g} (delta={d:g}); {r} rounds run, epsilon spent "
                    f"{spent:.4g}, {max_epsilon - spent:.4g} left")
                break
        ids = sample_clients(k_total, clients_per_round=clients_per_round,
                             sampling_rate=None if clients_per_round else q,
                             seed=derive(root, r, _SAMPLING) if private else client_seed(seed, r, _SAMPLING))
        dp = dpf.DPSGDConfig(clip_norm=c, noise_multiplier=z) if mode == "dpsgd" else None
        if replay:
            k = charged_round.index(r)
            if mode in ("local", "dpsgd") and [i for i, p in enumerate(participations) if k in p] != [
                    int(i) for i in ids if sizes[i] > 0]:
                raise RuntimeError(f"round {r + 1} sampled other clients than when it was charged: the "
                                   "checkpoint does not match this run")
        elif private:  # charge first: before any client trains or any noise is drawn
            for k in ids:
                if sizes[k] > 0:  # an empty client trains on nothing and sends nothing
                    participations[int(k)].append(len(charged))
            charged.append(z)
            charged_round.append(r)
            if run_dir is not None:
                write_ledger(pending=f"round {r + 1}")
        empty = [int(k) for k in ids if sizes[k] == 0]
        trained_ids = [k for k in ids if sizes[k] > 0]
        updates = _train_clients(trainer, model, clients, trained_ids, global_weights, round_index=r, seed=seed,
                                 local_epochs=local_epochs, batch_size=batch_size,
                                 learning_rate=learning_rate, dp=dp, fast=fast, root=root) if trained_ids else []
        # what leaves each client: the privatized message in local and distributed mode
        if mode == "local":
            updates = [dpf.local_dp_update(u, clip_norm=c, noise_multiplier=z,
                                           seed=derive(root, r, _CLIENT_NOISE + u.client_id)) for u in updates]
        elif mode == "distributed":
            updates = [dpf.distributed_dp_share(u, clip_norm=c, noise_multiplier=z, min_clients=min_clients,
                                                seed=derive(root, r, _CLIENT_NOISE + u.client_id)) for u in updates]
        arrived, rejected = _deliver(updates, tamper, r, client_timeout)
        for k in empty:
            logger.warning("rejected client %s: %s", k, _EMPTY)
        rejected = [(k, _EMPTY) for k in empty] + rejected
        accepted, bad = screen_updates(arrived, global_weights, max_num_examples=max_num_examples,
                                       need_num_examples=mode in ("none", "dpsgd") and weighting == "num_examples")
        rejected = sorted(rejected + bad, key=lambda x: x[0])
        server_noise_seed = derive(root, r, _SERVER_NOISE) if private else None
        dropped = False
        if mode == "central":
            z_update = z if adaptive_clipping is None else adaptive_clipping.update_noise_multiplier(
                noise_multiplier=z, clients_per_round=m_expected)
            mean, info = dpf.central_dp_aggregate(accepted, clip_norm=c, noise_multiplier=z_update,
                                                  expected_clients_per_round=m_expected,
                                                  seed=server_noise_seed, like=global_weights)
        elif mode == "distributed":
            total = dpf.secure_sum_release(accepted, min_clients=min_clients) if accepted else None
            dropped = total is None
            mean = None if dropped else [t / m_expected for t in total]
        elif not accepted:
            mean = None
        elif mode == "local":
            mean = aggregate(accepted, weighting="uniform")
        else:
            mean = aggregate(accepted, weighting=weighting)
        clip_used = c
        if mode == "central" and adaptive_clipping is not None:
            c = adaptive_clipping.next_clip_norm(info["update_norms"], clip_norm=c,
                                                 clients_per_round=m_expected, seed=derive(root, r, _CLIP_COUNT))
        if dropped:
            logger.warning("round %d: %d shares arrived, fewer than min_clients=%d: round dropped, "
                           "nothing released (still charged)", r, len(accepted), min_clients)
        elif mean is None:
            logger.warning("round %d: no client update accepted, global model unchanged", r)
        else:
            global_weights = server_update(global_weights, mean, server_learning_rate=server_learning_rate)
        record = dict(round=r + 1, participants=len(accepted), rejected=list(rejected),
                      participant_ids=[u.client_id for u in accepted],
                      model_unchanged=mean is None, dropped=dropped, clip_norm=clip_used,
                      noise_multiplier=z if mode != "none" else 0.0,
                      noise_stddev_of_sum=_noise_stddev_of_sum(mode, z, clip_used, len(accepted), min_clients,
                                                               dropped),
                      bytes_down=len(ids) * weights_nbytes(global_weights),
                      bytes_up=len(arrived) * weights_nbytes(global_weights),  # rejected ones were sent too
                      epsilon=_epsilon(noise_multipliers=charged, participations=participations, **account)
                      if private else math.inf)
        if max_epsilon is not None:
            record["epsilon_remaining"] = max_epsilon - record["epsilon"]
        record.update(evaluate(eval_model, global_weights, x_test, y_test))
        record["seconds"] = time.perf_counter() - round_start  # training, aggregation, accounting, evaluation
        history.records.append(record)
        if run_dir is not None:
            save_state(r + 1)
        bar.update(1)
        if max_epsilon is not None:
            bar.set_postfix_str(f"epsilon={record['epsilon']:.3g} of {max_epsilon:.4g} "
                                f"({record['epsilon_remaining']:.3g} left)")
    if history.stopped is not None:
        logger.warning("FedAvg (%s): %s", mode, history.stopped)
        bar.set_description(f"FedAvg ({mode}) stopped: ε budget")
        bar.set_postfix_str(f"epsilon={history.epsilon_spent:.3g} of {max_epsilon:.4g}, budget reached")
    bar.close()
    history.final_weights = global_weights
    return history


def _run_config(model, clients, test, **settings) -> dict:
    """The configuration stored in (and checked against) a checkpoint: the settings, and
    fingerprints of every client's data, the test data and the model's weight shapes."""
    from fldp_teach.checkpoint import fingerprint
    from fldp_teach.training import _model_signature

    return dict(kind="simulate", **settings,
                data=fingerprint(*[a for c in clients for a in (c.x, c.y)]), test=fingerprint(*test),
                model=_model_signature(model))


def _record_from_json(record: dict) -> dict:
    """A round record read back from a checkpoint (JSON lists → the tuples the run made)."""
    record = dict(record)
    record["rejected"] = [tuple(x) for x in record.get("rejected", [])]
    return record


def _ledger_record(charged, participations, account, charged_round=None, interrupted=()) -> dict:
    """What ``ledger.json`` holds for a simulation: the z of every charged round
    (``noise_multipliers``) and which round each charge was for (``charged_round``, 0-based;
    −1: a round lost in a crash, listed 1-based in ``interrupted``), the charges each client
    was sampled in (local, dpsgd), ε(δ) so far and, for central and distributed mode, the
    accountant's ledger (``RdpAccountant.from_json`` reads it)."""
    import json

    from fldp_teach.accounting import RdpAccountant

    mode = account["mode"]
    record = dict(kind="simulate", mode=mode, delta=account["delta"], charged_rounds=len(charged),
                  noise_multipliers=list(charged),
                  charged_round=list(charged_round if charged_round is not None else range(len(charged))),
                  interrupted=list(interrupted),
                  epsilon=_epsilon(noise_multipliers=charged, participations=participations, **account))
    if mode in ("local", "dpsgd"):
        record["participations"] = [list(p) for p in participations]
    elif mode != "none" and charged:
        if account["client_sampling"] == "fixed":
            _, ledger = dpf.central_epsilon(noise_multipliers=charged, clients_per_round=account["clients_per_round"],
                                            num_clients=len(account["clients"]), delta=account["delta"],
                                            return_ledger=True)
        else:
            _, ledger = dpf.central_epsilon(noise_multipliers=charged, sampling_rate=account["q"],
                                            delta=account["delta"], return_ledger=True)
        accountant = RdpAccountant()
        for entry in ledger:
            accountant.compose(entry.event, label=entry.label)
        record.update(json.loads(accountant.to_json()))
    return record


def _noise_stddev_of_sum(mode, z, c, arrived, min_clients, dropped) -> float:
    """Std of the noise in the released sum of a round: zC (central), zC·√(n/m_min)
    (distributed, n shares arrived), NaN when nothing of that kind was released."""
    if mode == "central":
        return z * c
    if mode == "distributed" and not dropped and arrived:
        return z * c * math.sqrt(arrived / min_clients)
    return math.nan


def _epsilon(*, mode, noise_multipliers, q, delta, participations, clients, batch_size, local_epochs,
             client_sampling="poisson", clients_per_round=None) -> float:
    """ε spent after the charged rounds whose noise multipliers are ``noise_multipliers``;
    ``participations[k]`` lists the charged rounds (indices into it) client k was sampled in
    (see each accountant's docstring)."""
    schedule = list(noise_multipliers)
    if mode == "none":
        return math.inf
    if not schedule:
        return 0.0
    if mode in ("central", "distributed"):
        if client_sampling == "fixed":
            return dpf.central_epsilon(noise_multipliers=schedule, clients_per_round=clients_per_round,
                                       num_clients=len(clients), delta=delta)
        return dpf.central_epsilon(noise_multipliers=schedule, sampling_rate=q, delta=delta)
    if mode == "local":
        return dpf.local_epsilon(noise_multipliers=schedule, participations=participations, delta=delta)
    return dpf.record_level_epsilon(noise_multipliers=schedule, participations=participations,
                                    num_examples=[len(c.y) for c in clients], batch_size=batch_size,
                                    local_epochs=local_epochs, delta=delta, sampling="poisson")
