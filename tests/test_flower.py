"""fldp_teach.flower offline: records, the DPFedAvg strategy, the client replies, and the same job
in our simulator and through Flower's roles (in memory, no network, no processes)."""
import logging
import math
import random

import numpy as np
import pytest

pytest.importorskip("flwr")
from flwr.app import Array, ArrayRecord, ConfigRecord, Error, Message, MessageType, MetricRecord, RecordDict  # noqa: E402
from flwr.serverapp.strategy import FedAvg  # noqa: E402
from flwr.supercore.task_identity import TaskIdentity  # noqa: E402

from fldp_teach.fedavg import SAMPLING_STREAM, sample_clients  # noqa: E402
from fldp_teach.flower import DPFedAvg, FlowerRunConfig, record_to_weights, train_reply, weights_to_record  # noqa: E402
from fldp_teach.randomness import derive  # noqa: E402


@pytest.fixture(autouse=True)
def task_identity():
    """Messages read the run/node/task id of the process (a ServerApp sets them)."""
    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 0
    yield
    TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(30, 2)).astype(np.float32), rng.normal(size=(2,)).astype(np.float32)]


def _instruction(node_id, weights, server_round=1):
    return Message(content=RecordDict({"arrays": weights_to_record(weights)}), dst_node_id=node_id,
                   message_type=MessageType.TRAIN)


def _reply(node_id, weights, num_examples=None, server_round=1, global_weights=None):
    content = {"arrays": ArrayRecord([np.asarray(w) for w in weights])}
    if num_examples is not None:
        content["metrics"] = MetricRecord({"num-examples": num_examples})
    return Message(content=RecordDict(content), reply_to=_instruction(node_id, global_weights or weights))


def _started(strategy, global_weights, node_ids):
    """A strategy in the middle of round 1: θ_t known, clients k sent to node_ids[k]."""
    strategy._global = [np.asarray(w) for w in global_weights]
    strategy._node_of = dict(enumerate(node_ids))
    strategy._sent = {n: k for k, n in enumerate(node_ids)}
    return strategy


# ------------------------------------------------------------------------------ records
def test_records_keep_order_dtype_and_shape():
    weights = [(i + np.arange(int(np.prod(shape)))).astype(dt).reshape(shape) for i, (dt, shape) in enumerate(
        [(np.float32, (1,)), (np.float64, (2, 1)), (np.int32, (3,)), (np.float16, (2, 2))] * 3)]
    weights.append(np.float32(7.5).reshape(()))  # a scalar: 13 tensors, so "10" must follow "9"
    back = record_to_weights(weights_to_record(weights))
    assert len(back) == len(weights)
    for a, b in zip(weights, back):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    # a record whose keys arrive sorted as strings ("0", "1", "10", "11", "12", "2", ...)
    record = weights_to_record(weights)
    shuffled = ArrayRecord({k: Array(record[k].dtype, record[k].shape, record[k].stype, record[k].data)
                            for k in sorted(record.keys())})
    for a, b in zip(weights, record_to_weights(shuffled)):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ strategy
def test_zero_noise_equals_flowers_fedavg_on_the_same_replies():
    theta = _weights(0)
    replies = [_reply(10 + k, _weights(k + 1), num_examples=50, global_weights=theta) for k in range(3)]
    ours = _started(DPFedAvg(num_clients=3, mode="central", noise_multiplier=0.0, noise_seed=0), theta, [10, 11, 12])
    new, metrics = ours.aggregate_train(1, replies)
    flower, _ = FedAvg().aggregate_train(1, replies)
    for a, b in zip(record_to_weights(new), flower.to_numpy_ndarrays()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert metrics["participants"] == 3 and math.isinf(metrics["epsilon"])
    # mode "none" weights by n_k exactly as Flower's FedAvg does, unequal n included
    replies = [_reply(10 + k, _weights(k + 1), num_examples=n, global_weights=theta) for k, n in enumerate([10, 30, 60])]
    plain = _started(DPFedAvg(num_clients=3, mode="none"), theta, [10, 11, 12])
    for a, b in zip(record_to_weights(plain.aggregate_train(1, replies)[0]),
                    FedAvg().aggregate_train(1, replies)[0].to_numpy_ndarrays()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_noise_std_is_z_c_over_m_and_fixed_by_the_noise_seed():
    theta = [np.zeros((200, 100), np.float32)]
    z, c, k = 1.5, 2.0, 4
    replies = [_reply(10 + i, theta, global_weights=theta) for i in range(k)]  # Δθ_k = 0: pure noise

    def run(noise_seed):
        strategy = _started(DPFedAvg(num_clients=k, mode="central", clip_norm=c, noise_multiplier=z,
                                     noise_seed=noise_seed), theta, [10, 11, 12, 13])
        new, metrics = strategy.aggregate_train(1, replies)
        return record_to_weights(new)[0], metrics

    first, metrics = run(7)
    assert first.std() == pytest.approx(z * c / k, rel=0.02)  # 20 000 draws: 2% is > 4 standard errors
    assert metrics["noise-stddev-of-mean"] == pytest.approx(z * c / k)
    np.testing.assert_array_equal(first, run(7)[0])
    assert not np.allclose(first, run(8)[0])
    random.seed(0), np.random.seed(0)  # global RNGs play no part
    np.testing.assert_array_equal(first, run(7)[0])


def test_sensitivity_is_c_over_m_whatever_a_client_reports():
    theta = _weights(0)
    huge = [t + 1e6 for t in theta]
    strategy = _started(DPFedAvg(num_clients=4, mode="central", clip_norm=1.0, noise_multiplier=0.0, noise_seed=0),
                        theta, [10, 11, 12, 13])
    new, _ = strategy.aggregate_train(1, [_reply(10, huge, num_examples=10**9, global_weights=theta)])
    moved = math.sqrt(sum(float(np.sum((a - b).astype(np.float64) ** 2))
                          for a, b in zip(record_to_weights(new), theta)))
    assert moved == pytest.approx(1.0 / 4, rel=1e-5)  # C/m, m = qK = 4


def test_nan_wrong_shape_and_error_replies_are_rejected_and_the_round_goes_on(caplog):
    theta = _weights(0)
    good = _weights(1)
    nan = [t.copy() for t in good]
    nan[0][0, 0] = np.nan
    wrong = [np.zeros((3, 2), np.float32), good[1]]
    replies = [_reply(10, good, num_examples=5, global_weights=theta),
               _reply(11, nan, num_examples=5, global_weights=theta),
               _reply(12, wrong, num_examples=5, global_weights=theta),
               Message(Error(code=0, reason="client crashed"), reply_to=_instruction(13, theta))]
    strategy = _started(DPFedAvg(num_clients=4, mode="none"), theta, [10, 11, 12, 13])
    with caplog.at_level(logging.WARNING):
        new, metrics = strategy.aggregate_train(1, replies)
    for a, b in zip(record_to_weights(new), good):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert metrics["participants"] == 1 and metrics["rejected"] == 3
    rejected = dict((k, reason) for k, reason in strategy.history[-1]["rejected"])
    assert "NaN" in rejected[1] and "shape" in rejected[2] and "crashed" in rejected[3]
    assert "rejected client 1" in caplog.text and "rejected client 2" in caplog.text


class _FakeGrid:
    """Answers QUERY with the node's partition id; TRAIN with ``train(message, k)``."""

    def __init__(self, node_ids, train=None):
        self.node_ids, self.train, self.sent = list(node_ids), train, []

    def get_node_ids(self):
        return list(self.node_ids)

    def send_and_receive(self, messages, timeout=None):
        replies = []
        for msg in messages:
            k = self.node_ids.index(msg.metadata.dst_node_id)
            if msg.metadata.message_type == MessageType.QUERY:
                replies.append(Message(content=RecordDict({"node": ConfigRecord(
                    {"partition-id": k, "num-partitions": len(self.node_ids)})}), reply_to=msg))
            else:
                self.sent.append(k)
                replies.append(self.train(msg, k))
        return replies


def test_configure_train_poisson_samples_with_the_private_coins():
    nodes = [901, 57, 333, 12, 4000, 77, 5, 8, 9, 10]  # node ids are random; partition ids are 0..9
    strategy = DPFedAvg(num_clients=10, sampling_rate=0.3, mode="central", clip_norm=1.0, noise_multiplier=1.0,
                        noise_seed=42)
    grid = _FakeGrid(nodes)
    random.seed(1), np.random.seed(1)
    for server_round in (1, 2, 3):
        messages = strategy.configure_train(server_round, weights_to_record(_weights()), ConfigRecord(), grid)
        expected = sample_clients(10, sampling_rate=0.3, seed=derive(42, server_round - 1, SAMPLING_STREAM))
        assert sorted(m.metadata.dst_node_id for m in messages) == sorted(nodes[k] for k in expected)
        assert all(m.content["config"]["server-round"] == server_round for m in messages)


def test_epsilon_per_round_is_central_epsilon():
    from fldp_teach.dp_fedavg import central_epsilon

    strategy = DPFedAvg(num_clients=10, sampling_rate=0.5, mode="central", clip_norm=1.0, noise_multiplier=1.1)
    for t in (1, 3):
        assert strategy.epsilon(t) == pytest.approx(central_epsilon(noise_multipliers=[1.1] * t,
                                                                    sampling_rate=0.5, delta=1e-5))


# ------------------------------------------------------------------------------ client
def test_private_replies_hold_only_the_privatized_update():
    from fldp_teach.flower.client import client_data
    from fldp_teach.models import logistic_regression

    data, num_features = client_data(0, 2, seed=0)
    theta = logistic_regression(num_features, seed=0).get_weights()
    content = RecordDict({"arrays": weights_to_record(theta), "config": ConfigRecord({"server-round": 1})})
    local = train_reply(content, FlowerRunConfig(mode="local", clip_norm=0.5, noise_multiplier=0.0), 0, 2, data=data)
    assert list(local.keys()) == ["arrays"] and not local.metric_records
    sent = record_to_weights(local["arrays"])
    norm = math.sqrt(sum(float(np.sum((a - b).astype(np.float64) ** 2)) for a, b in zip(sent, theta)))
    assert norm <= 0.5 + 1e-5  # clipped on the client before it left
    central = train_reply(content, FlowerRunConfig(mode="central"), 0, 2, data=data)
    assert list(central.keys()) == ["arrays"]
    plain = train_reply(content, FlowerRunConfig(mode="none"), 0, 2, data=data)
    assert plain["metrics"]["num-examples"] == len(data.y) and "train-loss" in plain["metrics"]


# ------------------------------------------------------------------------------ simulator == Flower roles
def _flower_in_memory(cfg: FlowerRunConfig):
    """DPFedAvg + train_reply wired by a fake grid: Flower's roles and messages, one process."""
    from fldp_teach.datasets import load_breast_cancer
    from fldp_teach.models import logistic_regression

    data = load_breast_cancer(seed=cfg.seed)
    theta = logistic_regression(data.num_features, seed=cfg.seed).get_weights()
    strategy = DPFedAvg(num_clients=cfg.num_clients, sampling_rate=cfg.sampling_rate, mode=cfg.mode,
                        clip_norm=cfg.clip_norm, noise_multiplier=cfg.noise_multiplier if cfg.mode != "none" else 0.0,
                        delta=cfg.delta, noise_seed=cfg.noise_seed, seed=cfg.seed)
    grid = _FakeGrid([100 + 7 * k for k in range(cfg.num_clients)],
                     train=lambda msg, k: Message(content=train_reply(msg.content, cfg, k, cfg.num_clients),
                                                  reply_to=msg))
    arrays = weights_to_record(theta)
    for server_round in range(1, cfg.rounds + 1):
        replies = grid.send_and_receive(strategy.configure_train(server_round, arrays, ConfigRecord(), grid))
        arrays, _ = strategy.aggregate_train(server_round, replies)
    return record_to_weights(arrays), strategy


def _simulate(cfg: FlowerRunConfig):
    from fldp_teach.datasets import load_breast_cancer
    from fldp_teach.models import logistic_regression
    from fldp_teach.partition import partition_iid
    from fldp_teach.simulation import simulate

    data = load_breast_cancer(seed=cfg.seed)
    partition = partition_iid(data.x_train, data.y_train, num_clients=cfg.num_clients, seed=cfg.seed)
    private = cfg.mode != "none"
    return simulate(lambda: logistic_regression(data.num_features, seed=cfg.seed), partition,
                    (data.x_test, data.y_test), rounds=cfg.rounds, sampling_rate=cfg.sampling_rate,
                    local_epochs=cfg.local_epochs, batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                    mode=cfg.mode, noise_multiplier=cfg.noise_multiplier if private else 0.0,
                    clip_norm=cfg.clip_norm if private else math.inf, delta=cfg.delta, seed=cfg.seed,
                    noise_seed=cfg.noise_seed if private else None, progress=False)


@pytest.mark.parametrize("cfg", [
    FlowerRunConfig(num_clients=2, rounds=2, mode="none"),
    FlowerRunConfig(num_clients=3, rounds=2, mode="central", sampling_rate=0.7, clip_norm=0.5,
                    noise_multiplier=0.8, noise_seed=11),
], ids=["none", "central-noise-seed"])
def test_simulator_and_flower_roles_give_the_same_model_and_epsilon(cfg):
    ours, strategy = _flower_in_memory(cfg)
    history = _simulate(cfg)
    for a, b in zip(ours, history.final_weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert [r["participant_ids"] for r in history.records] == [r["participant_ids"] for r in strategy.history]
    for sim, fl in zip(history.records, strategy.history):
        assert sim["epsilon"] == pytest.approx(fl["epsilon"]) or (math.isinf(sim["epsilon"]) and math.isinf(fl["epsilon"]))
