"""The simulate driver and its fast paths: fast == reference, accuracy, robustness, AUC."""
import functools
import logging

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fldp_teach import models
from fldp_teach.datasets import ClientData, load_breast_cancer
from fldp_teach.fedavg import client_update
from fldp_teach.partition import partition_iid
from fldp_teach.simulation import roc_auc, simulate
from fldp_teach.stacked_clients import OneFunctionRound, StackedDenseTrainer, batch_plan, dense_activations


def _clients(sizes, shape, num_classes, seed):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    y = rng.integers(0, num_classes, n).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return x, y, offsets


def _reference(model, weights, x, y, sizes, offsets, seeds, **kw):
    # with dp the lots and noise follow noise_seed (the private coins), as simulate passes them
    return [client_update(model, weights, ClientData(x[o:o + n], y[o:o + n]), seed=s,
                          noise_seed=s if kw.get("dp") is not None else None, **kw).update
            for n, o, s in zip(sizes, offsets, seeds)]


def _assert_same(stacked, reference, atol):
    for c, ref in enumerate(reference):
        for j, r in enumerate(ref):
            np.testing.assert_allclose(stacked[j][c], r, atol=atol)


def test_stacked_dense_path_equals_reference_client_update():
    sizes, seeds = [37, 50, 23], [11, 12, 13]
    x, y, offsets = _clients(sizes, (6,), 3, seed=0)
    model = models.mlp(6, num_classes=3, hidden_units=(8,), seed=1)
    g = model.get_weights()
    kw = dict(local_epochs=2, batch_size=10, learning_rate=0.1)
    idx, mask, active = batch_plan(sizes, offsets, batch_size=10, local_epochs=2, seeds=seeds)
    assert active.shape == (3, 10) and active.sum(axis=1).tolist() == [8, 10, 6]  # 2·⌈n/10⌉, rest padding
    fast = StackedDenseTrainer(dense_activations(model))(g, x, y, idx, mask, active, learning_rate=0.1)
    _assert_same(fast, _reference(model, g, x, y, sizes, offsets, seeds, **kw), atol=1e-5)


@pytest.mark.parametrize("noise_multiplier", [0.0, 1.3])
def test_stacked_dp_sgd_path_equals_the_reference_on_poisson_lots(noise_multiplier):
    """Same seeds ⇒ same Poisson lots, same clipping, same denominator b, same noise (empty lots
    included); padding steps of the clients with fewer steps do nothing."""
    from fldp_teach.dp_fedavg import DPSGDConfig
    from fldp_teach.fedavg import expected_lot_size

    sizes, seeds, b = [17, 9, 30], [3, 4, 5], 2
    x, y, offsets = _clients(sizes, (5,), 2, seed=1)
    model = models.mlp(5, num_classes=2, hidden_units=(4,), seed=2)
    g = model.get_weights()
    idx, mask, active = batch_plan(sizes, offsets, batch_size=b, local_epochs=1, seeds=seeds, sampling="poisson")
    assert active.sum(axis=1).tolist() == [9, 5, 15] and active.shape == (3, 15)
    assert np.any((mask.sum(axis=-1) == 0) & (active == 1))  # an empty Poisson lot is a step
    trainer = StackedDenseTrainer(dense_activations(model))
    fast = trainer(g, x, y, idx, mask, active, learning_rate=0.5, clip_norm=0.5, noise_multiplier=noise_multiplier,
                   denominators=[expected_lot_size(n, b) for n in sizes], seeds=seeds)
    ref = _reference(model, g, x, y, sizes, offsets, seeds, local_epochs=1, batch_size=b, learning_rate=0.5,
                     dp=DPSGDConfig(clip_norm=0.5, noise_multiplier=noise_multiplier))
    _assert_same(fast, ref, atol=1e-5)
    plain = trainer(g, x, y, idx, mask, active, learning_rate=0.5)
    assert np.abs(plain[0] - fast[0]).max() > 1e-3  # clipping (and noise) did bite


def test_stacked_dp_sgd_noises_an_empty_lot_with_std_zc_over_b_and_skips_padding_steps():
    """One step on an EMPTY lot (active, no real example): Δθ = −η N(0, (zC/b)² I) for every
    client; a second, padding step (active = 0) changes nothing."""
    d, m, z, c, eta = 3000, 4, 1.5, 0.8, 0.1
    b = np.array([4.0, 8.0, 16.0, 32.0])
    model = models.logistic_regression(d, seed=0)
    g = model.get_weights()
    x, y = np.ones((1, d), np.float32), np.zeros(1, np.int32)
    idx, mask = np.zeros((m, 2, 1), np.int32), np.zeros((m, 2, 1), np.float32)
    active = np.array([[1.0, 0.0]] * m, np.float32)
    trainer = StackedDenseTrainer(dense_activations(model))
    kw = dict(learning_rate=eta, clip_norm=c, noise_multiplier=z, denominators=b, seeds=[0, 1, 2, 3])
    two = trainer(g, x, y, idx, mask, active, **kw)
    one = trainer(g, x, y, idx[:, :1], mask[:, :1], active[:, :1], **kw)
    for a, o in zip(two, one):
        np.testing.assert_array_equal(a, o)
    for k in range(m):  # 2d + 2 = 6002 values: relative std of the sample std 0.9 %, 5 % is > 5 sigma
        noise = np.concatenate([t[k].ravel() for t in two]) / -eta
        assert np.std(noise) == pytest.approx(z * c / b[k], rel=0.05)
        assert abs(np.mean(noise)) < 5 * z * c / b[k] / np.sqrt(noise.size)
    with pytest.raises(ValueError, match="one denominator and one seed per client"):
        trainer(g, x, y, idx, mask, active, learning_rate=eta, clip_norm=c, noise_multiplier=z)


def test_one_function_cnn_round_equals_reference_client_update():
    sizes, seeds = [9, 14, 6], [5, 6, 7]
    x, y, offsets = _clients(sizes, (8, 8, 1), 10, seed=2)
    model = models.small_cnn(input_shape=(8, 8, 1), num_classes=10, seed=3)
    g = model.get_weights()
    idx, mask, _ = batch_plan(sizes, offsets, batch_size=4, local_epochs=1, seeds=seeds)
    fast = OneFunctionRound(models.small_cnn(input_shape=(8, 8, 1), num_classes=10, seed=3))(
        g, x, y, idx, mask, learning_rate=0.05)
    ref = _reference(model, g, x, y, sizes, offsets, seeds, local_epochs=1, batch_size=4, learning_rate=0.05)
    _assert_same(fast, ref, atol=1e-5)


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(seed=0)


def _logreg(ds):
    return functools.partial(models.logistic_regression, ds.num_features, seed=0)


def test_fast_and_reference_simulations_agree(cancer):
    part = partition_iid(cancer.x_train, cancer.y_train, num_clients=4, seed=0)
    kw = dict(rounds=2, local_epochs=1, batch_size=32, learning_rate=0.1, progress=False, seed=1)
    fast = simulate(_logreg(cancer), part, (cancer.x_test, cancer.y_test), **kw)
    slow = simulate(_logreg(cancer), part, (cancer.x_test, cancer.y_test), fast=False, **kw)
    for a, b in zip(fast.final_weights, slow.final_weights):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_dpsgd_simulation_fast_equals_reference_and_charges_poisson_lots(cancer):
    from fldp_teach.dp_fedavg import record_level_epsilon

    part = partition_iid(cancer.x_train, cancer.y_train, num_clients=4, seed=0)
    kw = dict(rounds=2, local_epochs=1, batch_size=32, learning_rate=0.1, progress=False, seed=1, mode="dpsgd",
              noise_multiplier=1.1, clip_norm=1.0, delta=1e-5, noise_seed=1)  # same private coins for both
    fast = simulate(_logreg(cancer), part, (cancer.x_test, cancer.y_test), **kw)
    slow = simulate(_logreg(cancer), part, (cancer.x_test, cancer.y_test), fast=False, **kw)
    for a, b in zip(fast.final_weights, slow.final_weights):
        np.testing.assert_allclose(a, b, atol=1e-5)
    sizes = [c.num_examples for c in part.clients]
    assert fast.records[-1]["epsilon"] == record_level_epsilon(
        noise_multipliers=[1.1] * 2, participations=[[0, 1]] * 4, num_examples=sizes, batch_size=32,
        local_epochs=1, delta=1e-5, sampling="poisson")


def test_non_private_fedavg_on_breast_cancer_reaches_95_percent(cancer):
    part = partition_iid(cancer.x_train, cancer.y_train, num_clients=4, seed=0)
    h = simulate(_logreg(cancer), part, (cancer.x_test, cancer.y_test), rounds=10, local_epochs=1,
                 batch_size=16, learning_rate=0.1, progress=False, seed=0)
    assert h.records[-1]["accuracy"] >= 0.95 and h.records[-1]["auc"] > 0.98
    assert np.isinf(h.records[-1]["epsilon"])
    n_bytes = (cancer.num_features + 1) * 2 * 4
    assert h.records[0]["bytes_down"] == 4 * n_bytes == h.records[0]["bytes_up"]
    assert "accuracy" in h.table().splitlines()[0] and len(h.table().splitlines()) == 11


def test_central_dp_fedavg_100_clients_reaches_90_percent_at_epsilon_below_3(cancer):
    part = partition_iid(cancer.x_train, cancer.y_train, num_clients=100, seed=0)
    h = simulate(_logreg(cancer), part, (cancer.x_test, cancer.y_test), rounds=20, sampling_rate=0.2,
                 local_epochs=2, batch_size=None, learning_rate=0.5, mode="central", noise_multiplier=1.8,
                 clip_norm=1.0, delta=1e-5, progress=False, seed=0, noise_seed=0)
    assert h.records[-1]["epsilon"] <= 3.0
    assert h.records[-1]["accuracy"] >= 0.90
    assert np.all(np.diff(h.column("epsilon")) > 0)


def test_nan_and_wrong_clients_are_rejected_and_the_round_goes_on(cancer, caplog):
    x, y = cancer.x_train[:200], cancer.y_train[:200]
    bad_x = x[150:].copy()
    bad_x[0, 0] = np.nan
    clients = [(x[:50], y[:50]), (x[50:100], y[50:100]), (x[100:150], y[100:150]), (bad_x, y[150:])]
    with caplog.at_level(logging.WARNING):
        h = simulate(_logreg(cancer), clients, (cancer.x_test, cancer.y_test), rounds=2, batch_size=16,
                     progress=False)
    assert h.records[0]["participants"] == 3
    assert h.records[0]["rejected"] == [(3, "tensor 0 contains NaN or Inf")]
    assert any("rejected client 3" in r.message for r in caplog.records)
    assert h.records[-1]["accuracy"] > 0.9

    initial = models.logistic_regression(cancer.num_features, seed=0).get_weights()
    h = simulate(_logreg(cancer), [(bad_x, y[150:])], (cancer.x_test, cancer.y_test), rounds=1, progress=False)
    assert h.records[0]["model_unchanged"] and h.records[0]["participants"] == 0
    for a, b in zip(h.final_weights, initial):
        np.testing.assert_array_equal(a, b)


def test_simulate_validates_its_arguments(cancer):
    part = [(cancer.x_train[:20], cancer.y_train[:20])]
    test = (cancer.x_test, cancer.y_test)
    with pytest.raises(ValueError, match="mode"):
        simulate(_logreg(cancer), part, test, rounds=1, mode="global", progress=False)
    with pytest.raises(ValueError, match="clip_norm"):
        simulate(_logreg(cancer), part, test, rounds=1, mode="central", noise_multiplier=1.0, progress=False)
    with pytest.raises(ValueError, match="noise_schedule"):
        simulate(_logreg(cancer), part, test, rounds=2, mode="central", clip_norm=1.0,
                 noise_schedule=[1.0], progress=False)
    with pytest.raises(ValueError, match="delta"):
        simulate(_logreg(cancer), part, test, rounds=1, delta=float("nan"), progress=False)
    with pytest.raises(ValueError, match="learning_rate must be > 0, got -0.1"):
        simulate(_logreg(cancer), part, test, rounds=1, learning_rate=-0.1, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        simulate(_logreg(cancer), part, test, rounds=1, batch_size=0, progress=False)


def test_roc_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)  # rounding creates ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert roc_auc([1, 1, 0, 0], [0.9, 0.8, 0.1, 0.2]) == 1.0
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))


Z_LOCAL = 9.5


def test_dp_modes_noise_schedule_and_adaptive_clipping(cancer):
    from fldp_teach.dp_fedavg import AdaptiveClipping, central_epsilon, local_epsilon

    part = partition_iid(cancer.x_train, cancer.y_train, num_clients=100, seed=0)
    test = (cancer.x_test, cancer.y_test)
    kw = dict(rounds=20, sampling_rate=0.2, local_epochs=2, batch_size=None, learning_rate=0.5, clip_norm=1.0,
              delta=1e-5, progress=False, seed=0, noise_seed=0)  # a fixed noise seed: the accuracies are exact
    central = simulate(_logreg(cancer), part, test, mode="central", noise_multiplier=1.8, **kw)
    distributed = simulate(_logreg(cancer), part, test, mode="distributed", noise_multiplier=1.8, **kw)
    assert distributed.records[-1]["epsilon"] == central.records[-1]["epsilon"]
    assert distributed.records[-1]["accuracy"] >= 0.9
    # local DP at (at most) the same epsilon needs z ≈ 9.5 here (the most-sampled client of this
    # Poisson run joined 8 of 20 rounds) and is measurably worse
    local = simulate(_logreg(cancer), part, test, mode="local", noise_multiplier=Z_LOCAL, **kw)
    joined = {}
    for r, rec in enumerate(local.records):
        for k in rec["participant_ids"]:
            joined.setdefault(k, []).append(r)
    assert local.records[-1]["epsilon"] == local_epsilon(noise_multipliers=[Z_LOCAL] * 20,
                                                         participations=list(joined.values()), delta=1e-5)
    assert local.records[-1]["epsilon"] <= central.records[-1]["epsilon"] * 1.01
    assert local.records[-1]["accuracy"] < central.records[-1]["accuracy"] - 0.05

    schedule = [3.0] * 10 + [1.5] * 10
    sched = simulate(_logreg(cancer), part, test, mode="central", noise_schedule=schedule,
                     adaptive_clipping=AdaptiveClipping(target_quantile=0.5, count_stddev=5.0), **kw)
    assert sched.column("noise_multiplier").tolist() == schedule
    assert sched.records[-1]["epsilon"] == pytest.approx(
        central_epsilon(noise_multipliers=schedule, sampling_rate=0.2, delta=1e-5))
    clip = sched.column("clip_norm")
    assert clip[0] == 1.0 and len(set(clip.tolist())) > 10  # C adapts every round

    poisson = simulate(_logreg(cancer), part, test, mode="central", noise_multiplier=1.8,
                       **dict(kw, rounds=3))
    assert poisson.records[-1]["epsilon"] == pytest.approx(
        central_epsilon(noise_multipliers=[1.8] * 3, sampling_rate=0.2, delta=1e-5))
    assert len({r["participants"] for r in poisson.records}) > 1  # Poisson: the count varies
