"""A Flower strategy whose every private step is ours: :class:`DPFedAvg`.

Flower's ``FedAvg`` (``flwr.serverapp.strategy``) samples nodes with Python's global ``random``
and averages whatever weights the replies carry, weighted by the ``num-examples`` each client
*claims*. Flower's own DP wrappers draw their noise from NumPy's global RNG. For DP-FedAvg both
are wrong in the way :mod:`fldp_teach.randomness` explains: coins that anyone can reseed, and a
sensitivity that depends on what a client reports. :class:`DPFedAvg` keeps Flower's message
plumbing and replaces the two decisions:

* ``configure_train`` remembers θ_t (the weights it broadcasts) and draws the round's clients by
  **Poisson sampling** with rate q over the K clients, with the run's private coins
  ``derive(noise_root(noise_seed), round, SAMPLING_STREAM)`` — the same draw as
  :func:`fldp_teach.simulation.simulate`, so both pick the same clients at a fixed noise seed.
* ``aggregate_train`` screens the replies (:func:`fldp_teach.fedavg.screen_updates`: a NaN or
  wrong-shaped reply is rejected with a logged reason, the round goes on), turns them into
  updates Δθ_k = θ_k' − θ_t, and in ``mode="central"`` calls
  :func:`fldp_teach.dp_fedavg.central_dp_aggregate` (McMahan et al. 2018, Alg. 1): clip each
  Δθ_k to C, sum with weights w_k = 1, add N(0, z²C² I), divide by the *expected* m = qK — so
  the sensitivity is C/m whatever weights or example counts a client reports. ε after each
  round comes from :func:`fldp_teach.dp_fedavg.central_epsilon` (Poisson q, add/remove).

Replies carry the client's model θ_k' (Flower's convention, so Flower's own ``FedAvg`` can read
the same replies: a test checks that at z = 0 both give the same model). The client side is
:mod:`fldp_teach.flower.client`; the ServerApp that runs this strategy is
:mod:`fldp_teach.flower.server`. Taught in notebooks/15_flower.ipynb.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Iterable

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp.strategy import FedAvg

from fldp_teach import dp_fedavg as dpf
from fldp_teach._validation import check_non_negative, check_open_unit, check_positive, check_positive_int, \
    check_unit_interval
from fldp_teach.fedavg import SAMPLING_STREAM, ClientUpdate, aggregate, client_seed, sample_clients, \
    screen_updates, server_update
from fldp_teach.flower.records import record_to_weights, weights_to_record
from fldp_teach.randomness import derive, noise_root, noise_seed_notice

__all__ = ["DPFedAvg", "FLOWER_MODES", "server_noise_stream"]

#: the modes the Flower strategy runs ("distributed" needs secure aggregation: not wired here)
FLOWER_MODES = ("none", "central", "local", "dpsgd")
logger = logging.getLogger(__name__)


def server_noise_stream() -> int:
    """The stream id of the server's noise, shared with the simulator (one constant, one place)."""
    from fldp_teach.simulation import SERVER_NOISE_STREAM

    return SERVER_NOISE_STREAM


class DPFedAvg(FedAvg):
    """(DP-)FedAvg on Flower, with our sampling, clipping, noise and accountant.

    ``num_clients`` K (the nodes must report ``partition-id`` 0..K-1 in their node config),
    ``sampling_rate`` q (Poisson; q = 1 takes every client every round), ``mode`` one of
    :data:`FLOWER_MODES`, ``clip_norm`` C, ``noise_multiplier`` z, ``delta`` δ, ``noise_seed``
    (None: 128 bits of OS entropy; an int: reproducible, teaching only), ``seed`` (public:
    sampling in mode ``"none"``). ``local_epochs``/``batch_size`` are needed only to account
    ``"dpsgd"``. ``history`` holds one dict per round (round, epsilon, participants, rejected,
    noise std, seconds).

    Hostile replies are rejected with a logged reason (the round's ``rejected``) and the round
    goes on with the others: error replies, replies without arrays or with unreadable ones,
    NaN/Inf, the wrong number of tensors, shapes or dtypes, a ``num-examples`` that is not a
    whole number in [1, ``max_num_examples``] (a missing one too where the mean is weighted by
    it: modes "none" and "dpsgd"), replies from nodes not asked this round or a second reply
    from the same node, and clients that never answered before Flower's round timeout. In
    local and dpsgd mode every client *sent* the model is charged, answered or not.
    """

    def __init__(self, *, num_clients: int, sampling_rate: float = 1.0, mode: str = "central",
                 clip_norm: float = math.inf, noise_multiplier: float = 0.0, delta: float = 1e-5,
                 noise_seed: int | None = None, seed: int | None = 0, server_learning_rate: float = 1.0,
                 weighting: str = "num_examples", local_epochs: int = 1, batch_size: int | None = 32,
                 query_timeout: float = 600.0, max_num_examples: int = 10**9):
        if mode not in FLOWER_MODES:
            raise ValueError(f"mode must be one of {FLOWER_MODES}, got {mode!r}")
        self.num_clients = check_positive_int("num_clients", num_clients)
        self.sampling_rate = check_unit_interval("sampling_rate", sampling_rate)
        self.mode = mode
        self.clip_norm = check_positive("clip_norm", clip_norm, allow_inf=True)
        self.noise_multiplier = check_non_negative("noise_multiplier", noise_multiplier)
        if mode in ("central", "local") and self.noise_multiplier > 0 and math.isinf(self.clip_norm):
            raise ValueError(f"mode={mode!r} with noise needs a finite clip_norm, got {clip_norm!r}")
        self.delta = check_open_unit("delta", delta)
        self.noise_seed = noise_seed
        self.seed = seed
        self.server_learning_rate = check_non_negative("server_learning_rate", server_learning_rate)
        self.weighting = weighting
        self.local_epochs, self.batch_size = local_epochs, batch_size
        self.query_timeout = query_timeout
        self.max_num_examples = check_positive_int("max_num_examples", max_num_examples)
        self._root = noise_root(noise_seed)  # the run's private coins: never a global RNG
        self._global = None                  # θ_t of the round in progress
        self._sent = {}                      # node id → client id, this round
        self._node_of = None                 # client id → node id
        self._sizes = {}                     # client id → n_k (only when a client reports it)
        self._participations = [[] for _ in range(self.num_clients)]
        self.history = []
        notice = noise_seed_notice(noise_seed)
        if notice:
            logger.warning(notice)
        super().__init__(fraction_train=self.sampling_rate, fraction_evaluate=0.0, min_train_nodes=0,
                         min_evaluate_nodes=0, min_available_nodes=self.num_clients)

    @property
    def expected_clients_per_round(self) -> float:
        """m = qK, the fixed denominator of the central estimator."""
        return self.sampling_rate * self.num_clients

    def summary(self) -> None:
        logger.info("DPFedAvg: mode=%s, K=%d, q=%g (Poisson, private coins), C=%g, z=%g, m=qK=%g, delta=%g",
                    self.mode, self.num_clients, self.sampling_rate, self.clip_norm, self.noise_multiplier,
                    self.expected_clients_per_round, self.delta)

    # ------------------------------------------------------------------ who is who
    def client_nodes(self, grid) -> dict:
        """{client id: node id}: waits for K nodes, asks each for its ``partition-id`` (a QUERY
        message; a node's id is random, its partition id is public and fixed), checks that they
        are 0..K-1 once each. Asked once per run."""
        if self._node_of is not None:
            return self._node_of
        deadline = time.monotonic() + self.query_timeout
        while len(node_ids := sorted(grid.get_node_ids())) < self.num_clients:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(node_ids)} of num_clients={self.num_clients} nodes connected")
            time.sleep(0.5)
        queries = [Message(content=RecordDict({"config": ConfigRecord({"ask": "partition-id"})}),
                           dst_node_id=n, message_type=MessageType.QUERY) for n in node_ids]
        node_of = {}
        for reply in grid.send_and_receive(queries, timeout=self.query_timeout):
            if reply.has_error():
                raise RuntimeError(f"node {reply.metadata.src_node_id} failed the query: {reply.error.reason}")
            k = int(reply.content["node"]["partition-id"])
            if k in node_of or not 0 <= k < self.num_clients:
                raise ValueError(f"partition-id must be 0..{self.num_clients - 1} once each, got {k} "
                                 f"(already: {sorted(node_of)})")
            node_of[k] = reply.metadata.src_node_id
        if len(node_of) != self.num_clients:
            raise RuntimeError(f"{len(node_of)} of {self.num_clients} nodes answered the query")
        self._node_of = node_of
        return node_of

    def sample(self, round_index: int) -> np.ndarray:
        """The clients of round ``round_index`` (0-based): Poisson with rate q. Private modes use
        the private coins ``derive(root, round, SAMPLING_STREAM)``; mode ``"none"`` the public
        ``client_seed(seed, round, SAMPLING_STREAM)``, as the simulator does."""
        seed = (client_seed(self.seed, round_index, SAMPLING_STREAM) if self.mode == "none"
                else derive(self._root, round_index, SAMPLING_STREAM))
        return sample_clients(self.num_clients, sampling_rate=self.sampling_rate, seed=seed)

    # ------------------------------------------------------------------ the round
    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid) -> Iterable[Message]:
        """Remember θ_t, Poisson-sample the clients with our coins, send θ_t to them."""
        self._global = record_to_weights(arrays)
        node_of = self.client_nodes(grid)
        ids = self.sample(server_round - 1)
        self._sent = {node_of[int(k)]: int(k) for k in ids}
        logger.info("round %d: %d of %d clients sampled (Poisson, q=%g)", server_round, len(ids),
                    self.num_clients, self.sampling_rate)
        config["server-round"] = server_round
        record = RecordDict({self.arrayrecord_key: arrays, self.configrecord_key: config})
        return self._construct_messages(record, list(self._sent), MessageType.TRAIN)

    def updates_from_replies(self, replies: Iterable[Message]) -> tuple[list, list]:
        """(accepted ClientUpdates with Δθ_k = θ_k' − θ_t, rejected (client id, reason)). A
        reply with an error, without arrays or with unreadable ones, with NaN/Inf, the wrong
        shapes or dtypes or a bad ``num-examples``, from a node not asked this round, or a second
        reply from one node is rejected and logged; a client asked but silent is rejected as
        "no reply"; every other reply is kept (see the class docstring)."""
        received, rejected, seen = [], [], set()

        def reject(who, reason):
            logger.warning("rejected client %s: %s", who, reason)
            rejected.append((who, reason))

        for msg in replies:
            node = msg.metadata.src_node_id
            who = self._sent.get(node, node)
            if node not in self._sent:
                reject(who, "reply from a node that was not asked this round")
                continue
            if node in seen:
                reject(who, "second reply from the same node this round")
                continue
            seen.add(node)
            if msg.has_error():
                reject(who, f"error reply: {msg.error.reason}")
                continue
            if self.arrayrecord_key not in msg.content.array_records:
                reject(who, f"no ArrayRecord {self.arrayrecord_key!r}")
                continue
            try:
                weights = record_to_weights(msg.content[self.arrayrecord_key])
            except Exception as err:  # noqa: BLE001 - whatever a hostile record makes numpy raise
                reject(who, f"unreadable arrays: {type(err).__name__}: {err}")
                continue
            metrics = next(iter(msg.content.metric_records.values()), {})
            n = metrics[self.weighted_by_key] if self.weighted_by_key in metrics else None
            received.append(ClientUpdate(update=weights, num_examples=n, client_id=who))
        for node, k in self._sent.items():
            if node not in seen:
                reject(k, "no reply (timed out or lost)")
        received.sort(key=lambda u: u.client_id)  # in client order, as the simulator sums them
        weighted = self.mode in ("none", "dpsgd") and self.weighting == "num_examples"
        screened, bad = screen_updates(received, self._global, max_num_examples=self.max_num_examples,
                                       need_num_examples=weighted)
        accepted = [ClientUpdate(update=[np.asarray(w) - np.asarray(g) for w, g in zip(u.update, self._global)],
                                 num_examples=u.num_examples, client_id=u.client_id) for u in screened]
        return accepted, rejected + bad

    def aggregate_train(self, server_round: int, replies: Iterable[Message]):
        """θ_{t+1} = θ_t + η_g Δ̄ with Δ̄ from our aggregator (central: clipped, fixed
        denominator, noised); returns (θ_{t+1} as ArrayRecord, metrics with ε so far)."""
        start = time.perf_counter()
        r = server_round - 1
        accepted, rejected = self.updates_from_replies(list(replies))
        for k in sorted(set(self._sent.values())):  # charged when sent the model, answered or not
            self._participations[k].append(r)
        for u in accepted:
            if isinstance(u.client_id, int) and 0 <= u.client_id < self.num_clients and u.num_examples:
                self._sizes[u.client_id] = u.num_examples
        info = {}
        if self.mode == "central":
            mean, info = dpf.central_dp_aggregate(
                accepted, clip_norm=self.clip_norm, noise_multiplier=self.noise_multiplier,
                expected_clients_per_round=self.expected_clients_per_round,
                seed=derive(self._root, r, server_noise_stream()), like=self._global)
        elif not accepted:
            mean = None
        elif self.mode == "local":
            mean = aggregate(accepted, weighting="uniform")  # already clipped and noised by the clients
        else:
            mean = aggregate(accepted, weighting=self.weighting)
        if mean is None:
            logger.warning("round %d: no client update accepted, global model unchanged", server_round)
            new = [np.asarray(w) for w in self._global]
        else:
            new = server_update(self._global, mean, server_learning_rate=self.server_learning_rate)
        epsilon = self.epsilon(server_round)
        record = dict(round=server_round, epsilon=epsilon, participants=len(accepted),
                      participant_ids=[u.client_id for u in accepted], rejected=[list(x) for x in rejected],
                      noise_stddev_of_mean=info.get("noise_stddev_of_mean", 0.0),
                      aggregation_seconds=time.perf_counter() - start)
        self.history.append(record)
        logger.info("round %d: %d accepted, %d rejected, epsilon=%.4g", server_round, len(accepted),
                    len(rejected), epsilon)
        metrics = MetricRecord({"epsilon": float(epsilon), "participants": len(accepted),
                                "rejected": len(rejected),
                                "noise-stddev-of-mean": float(record["noise_stddev_of_mean"])})
        return weights_to_record(new), metrics

    def epsilon(self, rounds: int) -> float:
        """ε after ``rounds`` rounds (δ = ``delta``), by the accountant of the mode (see
        :mod:`fldp_teach.dp_fedavg`); ∞ for ``"none"`` or z = 0."""
        if self.mode == "none" or self.noise_multiplier == 0:
            return math.inf
        schedule = [self.noise_multiplier] * rounds
        if self.mode == "central":
            return dpf.central_epsilon(noise_multipliers=schedule, sampling_rate=self.sampling_rate,
                                       delta=self.delta)
        if self.mode == "local":
            return dpf.local_epsilon(noise_multipliers=schedule, participations=self._participations,
                                     delta=self.delta)
        sizes = [self._sizes.get(k, 1) for k in range(self.num_clients)]
        return dpf.record_level_epsilon(noise_multipliers=schedule, participations=self._participations,
                                        num_examples=sizes, batch_size=self.batch_size,
                                        local_epochs=self.local_epochs, delta=self.delta, sampling="poisson")
