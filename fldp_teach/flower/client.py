"""The client side on Flower: a ``ClientApp`` that runs our :func:`fldp_teach.fedavg.client_update`.

One node = one client k (its ``partition-id`` in the node config). For each TRAIN message it
reads θ_t and the round from the message, trains from θ_t (article Eq. 4, E4) and replies:

* ``mode="none"`` — θ_k' plus ``num-examples`` and ``train-loss`` (plain FedAvg, McMahan 2017);
* ``mode="central"`` — θ_k' only: the server clips, sums and noises (it must be trusted with
  the raw update; nothing else leaves the client);
* ``mode="local"`` (E1 done right) — θ_t + local_dp_update(Δθ_k): the update is clipped to C
  and noised with N(0, z²C² I) *before* it leaves (:func:`fldp_teach.dp_fedavg.local_dp_update`);
  the reply holds nothing else;
* ``mode="dpsgd"`` — record-level DP-SGD inside the client (Poisson lots, per-example clipping,
  noise), reply θ_k' and ``num-examples`` (treated as public, as the simulator does).

In the private modes the raw training loss and update norm stay on the client: they are logged
locally, never sent. The client's private coins come from ``noise_root(noise_seed)``: fresh OS
entropy per message, or — teaching only — the run config's ``noise-seed``, in which case client
k's noise in round r is ``derive(root, r, CLIENT_NOISE_STREAM + k)``, the simulator's draw.
Taught in notebooks/15_flower.ipynb.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from fldp_teach.simulation import _CLIENT_NOISE

__all__ = ["FlowerRunConfig", "CLIENT_NOISE_STREAM", "client_data", "train_reply", "make_client_app"]

#: client k's own DP coins in round r: derive(root, r, CLIENT_NOISE_STREAM + k), the simulator's stream
CLIENT_NOISE_STREAM = _CLIENT_NOISE
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowerRunConfig:
    """The ``[tool.flwr.app.config]`` of the Flower app, typed and validated. Names are the
    library's notation (z, C, q, δ) spelled out, with dashes, as Flower's config keys are written."""

    num_clients: int = 2
    rounds: int = 2
    mode: str = "central"
    sampling_rate: float = 1.0
    local_epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 0.1
    clip_norm: float = 1.0
    noise_multiplier: float = 1.0
    delta: float = 1e-5
    server_learning_rate: float = 1.0
    seed: int = 0
    noise_seed: int | None = None
    result_file: str = "flower_result.json"

    @classmethod
    def from_run_config(cls, run_config) -> "FlowerRunConfig":
        """From Flower's ``context.run_config`` (keys with dashes). ``noise-seed`` < 0 (the
        default, -1) means None: fresh OS entropy, a private run."""
        kwargs = {}
        for name, default in cls.__dataclass_fields__.items():
            key = name.replace("_", "-")
            if key in run_config:
                kwargs[name] = run_config[key]
        if "noise_seed" in kwargs and (kwargs["noise_seed"] is None or int(kwargs["noise_seed"]) < 0):
            kwargs["noise_seed"] = None
        for name in ("num_clients", "rounds", "local_epochs", "batch_size", "seed"):
            if name in kwargs:
                kwargs[name] = int(kwargs[name])
        for name in ("sampling_rate", "learning_rate", "clip_norm", "noise_multiplier", "delta",
                     "server_learning_rate"):
            if name in kwargs:
                kwargs[name] = float(kwargs[name])
        return cls(**kwargs)


def client_data(partition_id: int, num_partitions: int, *, seed: int = 0):
    """Client ``partition_id``'s share of breast cancer: ``load_breast_cancer(seed=seed)``'s
    training set split by ``partition_iid(num_clients=num_partitions, seed=seed)`` — the same
    split the simulator gets from the same two calls. (A real hospital loads its own data here.)"""
    from fldp_teach._validation import check_non_negative_int, check_positive_int
    from fldp_teach.datasets import load_breast_cancer
    from fldp_teach.partition import partition_iid

    num_partitions = check_positive_int("num_partitions", num_partitions)
    partition_id = check_non_negative_int("partition_id", partition_id)
    if partition_id >= num_partitions:
        raise ValueError(f"partition_id must be < num_partitions={num_partitions}, got {partition_id}")
    data = load_breast_cancer(seed=seed)
    if num_partitions > len(data.y_train):
        raise ValueError(f"num_partitions must be <= the {len(data.y_train)} training examples, got {num_partitions}")
    partition = partition_iid(data.x_train, data.y_train, num_clients=num_partitions, seed=seed)
    return partition.clients[partition_id], data.num_features


def train_reply(content, cfg: FlowerRunConfig, partition_id: int, num_partitions: int, *, data=None):
    """The ``RecordDict`` client ``partition_id`` sends back for a TRAIN message ``content``
    (pure function of its inputs and the client's private coins; see the module docstring)."""
    from flwr.app import MetricRecord, RecordDict

    from fldp_teach import dp_fedavg as dpf
    from fldp_teach.fedavg import client_seed, client_update
    from fldp_teach.flower.records import record_to_weights, weights_to_record
    from fldp_teach.models import logistic_regression
    from fldp_teach.randomness import derive, noise_root

    k = int(partition_id)
    r = int(content["config"]["server-round"]) - 1
    global_weights = record_to_weights(content["arrays"])
    if data is None:
        data, num_features = client_data(k, num_partitions, seed=cfg.seed)
    else:
        num_features = np.shape(data.x)[1]
    model = logistic_regression(num_features, seed=cfg.seed)
    private = cfg.mode != "none"
    coins = derive(noise_root(cfg.noise_seed), r, CLIENT_NOISE_STREAM + k) if private else None
    dp = dpf.DPSGDConfig(clip_norm=cfg.clip_norm, noise_multiplier=cfg.noise_multiplier) if cfg.mode == "dpsgd" else None
    update = client_update(model, global_weights, data, local_epochs=cfg.local_epochs, batch_size=cfg.batch_size,
                           learning_rate=cfg.learning_rate, seed=client_seed(cfg.seed, r, k), dp=dp,
                           noise_seed=coins if dp is not None else None, client_id=k)
    if cfg.mode == "local":
        update = dpf.local_dp_update(update, clip_norm=cfg.clip_norm, noise_multiplier=cfg.noise_multiplier,
                                     seed=coins)
    sent = [(np.asarray(g) + np.asarray(u)).astype(np.asarray(g).dtype)
            for g, u in zip(global_weights, update.update)]
    if private:  # raw metrics stay here
        logger.info("client %d, round %d (kept on the client): %s", k, r + 1, dict(update.metrics))
    reply = {"arrays": weights_to_record(sent)}
    if cfg.mode == "none":
        reply["metrics"] = MetricRecord({"num-examples": int(update.num_examples),
                                         "train-loss": float(update.metrics.get("train_loss", np.nan))})
    elif cfg.mode == "dpsgd":
        reply["metrics"] = MetricRecord({"num-examples": int(update.num_examples)})
    return RecordDict(reply)


def make_client_app():
    """A ``flwr.clientapp.ClientApp`` answering QUERY (its partition id, public) and TRAIN
    (:func:`train_reply`); configured by the run config (:class:`FlowerRunConfig`) and the node
    config (``partition-id``, ``num-partitions``)."""
    from flwr.app import ConfigRecord, Message, RecordDict
    from flwr.clientapp import ClientApp

    app = ClientApp()

    @app.query()
    def query(msg, context):
        node = {"partition-id": int(context.node_config["partition-id"]),
                "num-partitions": int(context.node_config["num-partitions"])}
        return Message(content=RecordDict({"node": ConfigRecord(node)}), reply_to=msg)

    @app.train()
    def train(msg, context):
        cfg = FlowerRunConfig.from_run_config(context.run_config)
        content = train_reply(msg.content, cfg, int(context.node_config["partition-id"]),
                              int(context.node_config["num-partitions"]))
        return Message(content=content, reply_to=msg)

    return app
