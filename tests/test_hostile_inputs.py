"""Hostile federated inputs (issue 14), in the simulator and in the Flower strategy: NaN/Inf,
wrong shapes, dtypes and tensor counts, empty datasets, huge/zero/negative/fractional
num_examples, a client that never answers, a crashing client. Each is rejected with a logged
reason in the round's ``rejected``; the round goes on with the others, and when too few are
left it is dropped and still charged."""
import dataclasses
import functools
import logging
import math
import threading
import time

import numpy as np
import pytest

from fldp_teach import models
from fldp_teach.dp_fedavg import central_epsilon
from fldp_teach.fedavg import ClientUpdate, screen_updates
from fldp_teach.simulation import simulate


def _federation(num_clients=5, size=16, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=4)
    clients = []
    for _ in range(num_clients):
        x = rng.normal(size=(size, 4)).astype(np.float32)
        clients.append((x, (x @ w > 0).astype(np.int32)))
    x = rng.normal(size=(60, 4)).astype(np.float32)
    return clients, (x, (x @ w > 0).astype(np.int32))


MODEL = functools.partial(models.logistic_regression, 4, seed=0)
ARGS = dict(rounds=2, batch_size=8, learning_rate=0.5, progress=False)
DP = dict(noise_multiplier=0.5, clip_norm=1.0, delta=1e-5, noise_seed=3)


def _corrupt(target, change):
    """A tamper hook: client ``target`` sends ``change(message)`` instead of its message."""
    def tamper(round_index, message):
        return change(message) if message.client_id == target else message
    return tamper


def _with_update(fn):
    return lambda m: dataclasses.replace(m, update=fn([np.asarray(t) for t in m.update]))


def _nan(update):
    update[0] = update[0].copy()
    update[0][0, 0] = np.nan
    return update


def _inf(update):
    update[1] = np.full_like(update[1], -np.inf)
    return update


# what client 2 sends instead, and the start of the reason the server logs
HOSTILE = {
    "nan": (_with_update(_nan), "tensor 0 contains NaN or Inf"),
    "inf": (_with_update(_inf), "tensor 1 contains NaN or Inf"),
    "float64 overflow": (_with_update(lambda u: [u[0].astype(np.float64) * 1e300, u[1]]),
                         "tensor 0 contains NaN or Inf"),
    "wrong shape": (_with_update(lambda u: [u[0][:3], u[1]]), "tensor 0 has shape (3, 2), expected (4, 2)"),
    "wrong count": (_with_update(lambda u: u[:1]), "update has 1 tensors, expected 2"),
    "int dtype": (_with_update(lambda u: [u[0].astype(np.int32), u[1]]), "tensor 0 has dtype int32"),
    "complex dtype": (_with_update(lambda u: [u[0].astype(np.complex64), u[1]]), "tensor 0 has dtype complex64"),
    "object dtype": (_with_update(lambda u: [np.array([["a"] * 2] * 4, dtype=object), u[1]]),
                     "tensor 0 has dtype object"),
    "ragged": (_with_update(lambda u: [[[1.0], [1.0, 2.0]], u[1]]), "tensor 0 is not an array"),
    "not a list": (lambda m: dataclasses.replace(m, update="weights"), "update is not a list of tensors"),
    "not an update": (lambda m: [np.asarray(t) for t in m.update], "sent a list, not a ClientUpdate"),
    "silent": (lambda m: None, "no answer (the client sent nothing)"),
    "zero examples": (lambda m: dataclasses.replace(m, num_examples=0), "num_examples must be >= 1, got 0"),
    "negative examples": (lambda m: dataclasses.replace(m, num_examples=-16), "num_examples must be >= 1, got -16"),
    "huge examples": (lambda m: dataclasses.replace(m, num_examples=10**12),
                      "num_examples=1000000000000 exceeds max_num_examples=80"),
    "infinite examples": (lambda m: dataclasses.replace(m, num_examples=math.inf),
                          "num_examples must be a whole number, got inf"),
    "nan examples": (lambda m: dataclasses.replace(m, num_examples=math.nan),
                     "num_examples must be a whole number, got nan"),
    "fractional examples": (lambda m: dataclasses.replace(m, num_examples=2.5),
                            "num_examples must be a whole number, got 2.5"),
    "bool examples": (lambda m: dataclasses.replace(m, num_examples=True),
                      "num_examples must be a whole number, got True"),
    "missing examples": (lambda m: dataclasses.replace(m, num_examples=None),
                         "num_examples missing (weighting by n_k needs it)"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_simulator_rejects_each_hostile_message_and_the_round_goes_on(kind, caplog):
    change, reason = HOSTILE[kind]
    clients, test = _federation()
    with caplog.at_level(logging.WARNING):
        h = simulate(MODEL, clients, test, tamper=_corrupt(2, change), **ARGS)
    for record in h.records:
        assert len(record["rejected"]) == 1 and record["rejected"][0][0] == 2
        assert record["rejected"][0][1].startswith(reason), record["rejected"]
        assert record["participant_ids"] == [0, 1, 3, 4] and not record["model_unchanged"]
    assert f"rejected client 2: {reason}" in caplog.text
    assert all(np.isfinite(w).all() for w in h.final_weights) and h.records[-1]["accuracy"] > 0.7


def test_a_crashing_client_and_one_that_never_answers_are_dropped(caplog):
    release = threading.Event()

    def tamper(round_index, message):
        if message.client_id == 1:
            raise ConnectionResetError("peer went away")
        if message.client_id == 3:
            release.wait(30)  # never answers within the timeout
        return message

    clients, test = _federation()
    start = time.perf_counter()
    try:
        with caplog.at_level(logging.WARNING):
            h = simulate(MODEL, clients, test, tamper=tamper, client_timeout=0.3, **ARGS)
    finally:
        release.set()
    assert time.perf_counter() - start < 15  # two rounds, 0.3 s of waiting each
    for record in h.records:
        assert record["rejected"] == [(1, "client error: ConnectionResetError: peer went away"),
                                      (3, "no answer within client_timeout=0.3 s")]
        assert record["participant_ids"] == [0, 2, 4]
    assert "rejected client 3: no answer within client_timeout=0.3 s" in caplog.text


def test_a_message_claiming_another_clients_id_is_counted_for_the_client_asked():
    clients, test = _federation()
    h = simulate(MODEL, clients, test, tamper=_corrupt(2, lambda m: dataclasses.replace(m, client_id=0)), **ARGS)
    assert h.records[0]["participant_ids"] == [0, 1, 2, 3, 4]


def test_an_empty_client_is_rejected_without_training_and_not_charged(caplog):
    clients, test = _federation()
    clients[1] = (np.zeros((0, 4), np.float32), np.zeros(0, np.int32))
    clients[3] = ([], [])  # empty lists, no feature shape at all
    with caplog.at_level(logging.WARNING):
        h = simulate(MODEL, clients, test, mode="dpsgd", **ARGS, **DP)
    empty = "empty dataset: the client has no training examples (not trained, not charged)"
    assert h.records[0]["rejected"] == [(1, empty), (3, empty)]
    assert h.records[0]["participant_ids"] == [0, 2, 4]
    assert "rejected client 1: empty dataset" in caplog.text
    with pytest.raises(ValueError, match="at least one client with examples"):
        simulate(MODEL, [clients[1], clients[3]], test, **ARGS)


@pytest.mark.parametrize("mode", ["central", "local", "distributed", "dpsgd"])
def test_every_dp_mode_rejects_a_nan_message(mode):
    clients, test = _federation()
    h = simulate(MODEL, clients, test, mode=mode, tamper=_corrupt(0, _with_update(_nan)),
                 **(ARGS | dict(batch_size=None if mode != "dpsgd" else 8)), **DP)
    for record in h.records:
        assert record["rejected"] == [(0, "tensor 0 contains NaN or Inf")]
        assert record["participants"] == 4
    assert all(np.isfinite(w).all() for w in h.final_weights)


def test_distributed_round_with_too_few_valid_shares_is_dropped_and_still_charged():
    clients, test = _federation()
    hostile = lambda r, m: m if m.client_id in (0, 1) else dataclasses.replace(m, update=_nan(list(m.update)))
    kw = ARGS | dict(batch_size=None) | DP
    h = simulate(MODEL, clients, test, mode="distributed", min_clients=3, tamper=hostile, **kw)
    initial = MODEL().get_weights()
    assert all(r["dropped"] and r["model_unchanged"] and r["participants"] == 2 for r in h.records)
    for a, b in zip(h.final_weights, initial):
        np.testing.assert_array_equal(a, b)
    assert h.column("epsilon").tolist() == [central_epsilon(noise_multipliers=[0.5] * t, sampling_rate=1.0,
                                                            delta=1e-5) for t in (1, 2)]
    ok = simulate(MODEL, clients, test, mode="distributed", min_clients=3,
                  tamper=lambda r, m: m if m.client_id != 4 else None, **kw)
    assert not any(r["dropped"] for r in ok.records) and ok.records[0]["participants"] == 4


def test_central_mode_releases_every_round_even_with_no_valid_update():
    clients, test = _federation()
    h = simulate(MODEL, clients, test, mode="central", tamper=lambda r, m: None, **(ARGS | dict(batch_size=None)), **DP)
    initial = MODEL().get_weights()
    assert all(r["participants"] == 0 and len(r["rejected"]) == 5 and not r["dropped"] for r in h.records)
    assert not np.allclose(h.final_weights[0], initial[0])  # the noise was released: (0 + N(0, z²C²))/m
    assert h.records[-1]["epsilon"] == central_epsilon(noise_multipliers=[0.5] * 2, sampling_rate=1.0, delta=1e-5)


def test_screen_updates_casts_what_it_accepts_and_checks_its_bound():
    theta = [np.zeros((2, 2), np.float32)]
    accepted, rejected = screen_updates([ClientUpdate([np.ones((2, 2))], 5.0, client_id=7)], theta)
    assert accepted[0].update[0].dtype == np.float32 and accepted[0].num_examples == 5 and not rejected
    with pytest.raises(ValueError, match="max_num_examples must be an integer >= 1"):
        screen_updates([], theta, max_num_examples=0)


def test_simulate_validates_the_hostile_input_options():
    clients, test = _federation()
    with pytest.raises(ValueError, match="client_timeout must be > 0"):
        simulate(MODEL, clients, test, client_timeout=0.0, **ARGS)
    with pytest.raises(ValueError, match="tamper must be a function"):
        simulate(MODEL, clients, test, tamper="evil", **ARGS)
    with pytest.raises(ValueError, match="max_num_examples must be an integer >= 1"):
        simulate(MODEL, clients, test, max_num_examples=-1, **ARGS)


# ----------------------------------------------------------------------------- Flower
flwr = pytest.importorskip("flwr")


@pytest.fixture()
def flower():
    from flwr.app import ArrayRecord, Error, Message, MessageType, MetricRecord, RecordDict
    from flwr.supercore.task_identity import TaskIdentity

    from fldp_teach.flower import DPFedAvg, weights_to_record

    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 0
    theta = [np.zeros((4, 2), np.float32), np.zeros(2, np.float32)]

    def reply(node, weights=None, num_examples=16, error=None):
        instruction = Message(content=RecordDict({"arrays": weights_to_record(theta)}), dst_node_id=node,
                              message_type=MessageType.TRAIN)
        if error is not None:
            return Message(Error(code=0, reason=error), reply_to=instruction)
        content = {"arrays": ArrayRecord([np.asarray(w) for w in (weights or [t + 0.1 for t in theta])])}
        if num_examples is not None:
            content["metrics"] = MetricRecord({"num-examples": num_examples})
        return Message(content=RecordDict(content), reply_to=instruction)

    def strategy(mode="none", **kw):
        s = DPFedAvg(num_clients=5, mode=mode, **kw)
        s._global = [t.copy() for t in theta]
        s._node_of = {k: 10 + k for k in range(5)}
        s._sent = {10 + k: k for k in range(5)}
        return s

    yield reply, strategy, theta
    TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


FLOWER_HOSTILE = {
    "nan": (dict(weights=[np.full((4, 2), np.nan, np.float32), np.zeros(2, np.float32)]), "contains NaN or Inf"),
    "inf": (dict(weights=[np.zeros((4, 2), np.float32), np.full(2, np.inf, np.float32)]), "contains NaN or Inf"),
    "wrong shape": (dict(weights=[np.zeros((3, 2), np.float32), np.zeros(2, np.float32)]), "has shape (3, 2)"),
    "wrong count": (dict(weights=[np.zeros((4, 2), np.float32)]), "update has 1 tensors, expected 2"),
    "int dtype": (dict(weights=[np.zeros((4, 2), np.int64), np.zeros(2, np.float32)]), "has dtype int64"),
    "bool dtype": (dict(weights=[np.zeros((4, 2), bool), np.zeros(2, np.float32)]), "has dtype bool"),
    "empty dataset": (dict(num_examples=0), "num_examples must be >= 1, got 0"),
    "negative examples": (dict(num_examples=-3), "num_examples must be >= 1, got -3"),
    "huge examples": (dict(num_examples=10**12), "exceeds max_num_examples=1000000000"),
    "nan examples": (dict(num_examples=float("nan")), "num_examples must be a whole number, got nan"),
    "fractional examples": (dict(num_examples=7.5), "num_examples must be a whole number, got 7.5"),
    "missing examples": (dict(num_examples=None), "num_examples missing"),
    "error reply": (dict(error="client crashed"), "error reply: client crashed"),
}


@pytest.mark.parametrize("kind", list(FLOWER_HOSTILE))
def test_flower_strategy_rejects_each_hostile_reply_and_the_round_goes_on(flower, kind, caplog):
    reply, strategy, theta = flower
    change, reason = FLOWER_HOSTILE[kind]
    s = strategy()
    replies = [reply(10 + k) for k in (0, 1, 3, 4)] + [reply(12, **change)]
    with caplog.at_level(logging.WARNING):
        _, metrics = s.aggregate_train(1, replies)
    record = s.history[-1]
    assert metrics["participants"] == 4 and metrics["rejected"] == 1
    assert record["rejected"][0][0] == 2 and reason in record["rejected"][0][1]
    assert "rejected client 2" in caplog.text


def test_flower_strategy_silent_unasked_and_duplicate_replies(flower):
    from fldp_teach.flower import record_to_weights

    reply, strategy, theta = flower
    s = strategy()
    replies = [reply(10), reply(11), reply(11), reply(99)]  # 12, 13, 14 never answer
    new, metrics = s.aggregate_train(1, replies)
    rejected = dict((k, why) for k, why in s.history[-1]["rejected"])
    assert rejected[99] == "reply from a node that was not asked this round"
    assert rejected[1] == "second reply from the same node this round"
    assert all(rejected[k] == "no reply (timed out or lost)" for k in (2, 3, 4))
    assert metrics["participants"] == 2
    np.testing.assert_allclose(record_to_weights(new)[0], theta[0] + 0.1, rtol=1e-6)


def test_flower_local_mode_charges_every_client_sent_the_model(flower):
    reply, strategy, theta = flower
    s = strategy(mode="local", clip_norm=1.0, noise_multiplier=2.0)
    s.aggregate_train(1, [reply(10, num_examples=None)])  # four clients silent or lost
    assert s._participations == [[0]] * 5
