"""FedAvg roles: hand-computed aggregation, FedSGD = centralized gradient descent, screening."""
import logging

import numpy as np
import pytest
import tensorflow as tf

from fldp_teach import models
from fldp_teach.datasets import ClientData
from fldp_teach.dp_fedavg import DPSGDConfig
from fldp_teach.fedavg import (
    ClientUpdate, aggregate, client_update, dp_sgd_noise, dp_sgd_noise_key, expected_lot_size, local_batches,
    sample_clients, screen_updates, fedavg_round, server_update, weights_nbytes)


def _u(value, n, cid=None):
    return ClientUpdate(update=[np.full((2, 3), value, np.float32), np.full(3, value, np.float32)],
                        num_examples=n, client_id=cid)


def test_aggregate_hand_computed_weighted_and_uniform():
    updates = [_u(1.0, 1), _u(0.0, 3)]
    weighted = aggregate(updates)  # (1·1 + 3·0) / 4
    uniform = aggregate(updates, weighting="uniform")  # (1 + 0) / 2
    for w, u in zip(weighted, uniform):
        np.testing.assert_allclose(w, 0.25)
        np.testing.assert_allclose(u, 0.5)
        assert w.dtype == np.float32


def test_aggregate_rejects_bad_weighting_and_empty():
    with pytest.raises(ValueError, match="weighting"):
        aggregate([_u(1.0, 1)], weighting="mean")
    with pytest.raises(ValueError, match="non-empty"):
        aggregate([])


def test_server_update_steps_by_server_learning_rate():
    g = [np.ones(3, np.float32)]
    np.testing.assert_allclose(server_update(g, [np.full(3, 0.5)])[0], 1.5)
    np.testing.assert_allclose(server_update(g, [np.full(3, 0.5)], server_learning_rate=0.2)[0], 1.1)
    with pytest.raises(ValueError, match="server_learning_rate"):
        server_update(g, [np.ones(3)], server_learning_rate=float("nan"))


def test_local_batches_are_permutations_per_epoch():
    batches = local_batches(10, batch_size=4, local_epochs=2, seed=3)
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    for epoch in (batches[:3], batches[3:]):
        assert sorted(np.concatenate(epoch).tolist()) == list(range(10))
    assert [len(b) for b in local_batches(10, batch_size=None, local_epochs=1, seed=0)] == [10]
    np.testing.assert_array_equal(np.concatenate(batches),
                                  np.concatenate(local_batches(10, batch_size=4, local_epochs=2, seed=3)))


def test_fedsgd_equals_one_step_of_centralized_gradient_descent():
    """E = 1, full batch, equal n_k, no clipping or noise: Σ (n_k/n) (−η ∇L_k) = −η ∇L."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = rng.integers(0, 2, 40).astype(np.int32)
    model = models.logistic_regression(5, seed=1)
    g = model.get_weights()
    updates = [client_update(model, g, ClientData(x[i::4], y[i::4]), local_epochs=1, batch_size=None,
                             learning_rate=0.5, seed=i) for i in range(4)]
    fedsgd = server_update(g, aggregate(updates))
    model.set_weights(g)
    with tf.GradientTape() as tape:
        loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x))
    central = [w - 0.5 * gr.numpy() for w, gr in zip(g, tape.gradient(loss, model.trainable_variables))]
    for a, b in zip(fedsgd, central):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert updates[0].metrics["steps"] == 1 and updates[0].num_examples == 10


def test_poisson_lot_sizes_are_binomial_at_a_fixed_seed():
    n, b, epochs = 200, 20, 50  # q = 0.1, 10 steps per epoch
    lots = local_batches(n, batch_size=b, local_epochs=epochs, seed=4, sampling="poisson")
    assert len(lots) == epochs * 10
    for lot in lots:  # a subset: sorted distinct indices in range
        assert np.all(np.diff(lot) > 0) and (len(lot) == 0 or 0 <= lot[0] <= lot[-1] < n)
    sizes = np.array([len(lot) for lot in lots])
    # Binomial(200, 0.1): mean 20, variance 18. Mean of 500 draws: std 0.19 (0.8 is > 4 sigma);
    # sample variance: relative std sqrt(2/500) = 6.3 % (25 % is 4 sigma)
    assert abs(sizes.mean() - 20) < 0.8
    assert sizes.var(ddof=1) == pytest.approx(18, rel=0.25)
    counts = np.bincount(np.concatenate(lots), minlength=n)  # each example: Binomial(500, 0.1)
    assert counts.min() > 20 and counts.max() < 85  # mean 50, std 6.7: both bounds > 4.4 sigma
    again = local_batches(n, batch_size=b, local_epochs=epochs, seed=4, sampling="poisson")
    assert all(np.array_equal(u, v) for u, v in zip(lots, again))
    # small q: empty lots happen (P = 0.9^10 = 0.35 each) and are kept as steps
    small = local_batches(10, batch_size=1, local_epochs=3, seed=0, sampling="poisson")
    assert len(small) == 30 and any(len(lot) == 0 for lot in small)
    assert [len(lot) for lot in local_batches(7, batch_size=None, local_epochs=2, seed=0, sampling="poisson")] == [7, 7]
    assert expected_lot_size(7, None) == 7 and expected_lot_size(7, 16) == 7 and expected_lot_size(70, 16) == 16
    with pytest.raises(ValueError, match="sampling must be 'shuffle' or 'poisson', got 'random'"):
        local_batches(10, batch_size=2, local_epochs=1, seed=0, sampling="random")
    with pytest.raises(ValueError, match="sampling"):
        DPSGDConfig(clip_norm=1.0, noise_multiplier=1.0, sampling="batches")


def test_client_update_starts_from_global_weights_and_dp_with_no_noise_and_huge_clip_is_sgd():
    """Shuffled full batches (n = 10, B = 5): DP-SGD with z = 0, C = 10⁶ divides by B = |batch|."""
    rng = np.random.default_rng(1)
    data = ClientData(rng.normal(size=(10, 4)).astype(np.float32), rng.integers(0, 2, 10).astype(np.int32))
    model = models.logistic_regression(4, seed=2)
    g = model.get_weights()
    model.set_weights([w + 5.0 for w in g])  # stale local state must be ignored
    plain = client_update(model, g, data, local_epochs=2, batch_size=5, learning_rate=0.3, seed=7)
    dp = client_update(model, g, data, local_epochs=2, batch_size=5, learning_rate=0.3, seed=7, noise_seed=7,
                       dp=DPSGDConfig(clip_norm=1e6, noise_multiplier=0.0, sampling="shuffle"))
    for a, b in zip(plain.update, dp.update):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert max(np.abs(t).max() for t in plain.update) < 2.0


def test_dp_client_update_on_poisson_lots_divides_by_b_and_noises_empty_lots():
    """By hand, on the client's own Poisson lots: θ ← θ − η (Σ_{i∈L_t} clip(∇ℓ_i, C) + noise_t)/b
    with b = qn = 2 whatever |L_t| is, and a noisy step on an empty lot too."""
    rng = np.random.default_rng(2)
    n, b, eta, c, z, seed = 20, 2, 0.5, 0.3, 0.8, 5
    data = ClientData(rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 2, n).astype(np.int32))
    model = models.logistic_regression(3, seed=1)
    g = model.get_weights()
    got = client_update(model, g, data, local_epochs=1, batch_size=b, learning_rate=eta, seed=None,
                        noise_seed=seed, dp=DPSGDConfig(clip_norm=c, noise_multiplier=z))  # the private coins
    lots = local_batches(n, batch_size=b, local_epochs=1, seed=seed, sampling="poisson")
    sizes = [len(lot) for lot in lots]
    assert got.metrics["steps"] == 10 == len(lots) and 0 in sizes and any(s > b for s in sizes)
    key = dp_sgd_noise_key(seed)
    w = [np.array(t, dtype=np.float64) for t in g]
    for t, lot in enumerate(lots):
        model.set_weights([v.astype(np.float32) for v in w])
        total = [np.zeros_like(v) for v in w]
        for i in lot:
            with tf.GradientTape() as tape:
                loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
                    data.y[i:i + 1], model(data.x[i:i + 1]))
            grads = [gr.numpy() for gr in tape.gradient(loss, model.trainable_variables)]
            norm = np.sqrt(sum(np.sum(gr.astype(np.float64) ** 2) for gr in grads))
            total = [s + gr * min(1.0, c / norm) for s, gr in zip(total, grads)]
        noise = [dp_sgd_noise(v.shape, stddev=z * c, key=key, step=t, tensor=j).numpy() for j, v in enumerate(w)]
        w = [v - eta * (s + e) / b for v, s, e in zip(w, total, noise)]  # divide by b, not len(lot)
    for u, v, w0 in zip(got.update, w, g):
        np.testing.assert_allclose(u, v - w0, atol=1e-5)


def test_dp_sgd_noise_is_seeded_per_client_step_and_tensor():
    key = dp_sgd_noise_key(3)
    a = dp_sgd_noise([100_000], stddev=0.7, key=key, step=2, tensor=1).numpy()
    np.testing.assert_array_equal(a, dp_sgd_noise([100_000], stddev=0.7, key=key, step=2, tensor=1).numpy())
    assert np.std(a) == pytest.approx(0.7, rel=0.015)  # relative std of the sample std: 0.22 %
    others = [dp_sgd_noise([100_000], stddev=0.7, key=k, step=s, tensor=t).numpy()
              for k, s, t in ((key, 3, 1), (key, 2, 0), (dp_sgd_noise_key(4), 2, 1))]
    for o in others:  # independent streams: correlation ~ N(0, 1/n), |r| < 0.02 is 6 sigma
        assert abs(np.corrcoef(a, o)[0, 1]) < 0.02
    assert not np.array_equal(dp_sgd_noise_key(None), dp_sgd_noise_key(None))


def test_screen_updates_rejects_nan_inf_and_wrong_shape_with_logged_reason(caplog):
    good = _u(1.0, 2, cid=0)
    nan = _u(1.0, 2, cid=1)
    nan.update[0][0, 0] = np.nan
    inf = _u(1.0, 2, cid=2)
    inf.update[1][1] = np.inf
    shape = ClientUpdate(update=[np.ones((3, 2)), np.ones(3)], num_examples=2, client_id=3)
    missing = ClientUpdate(update=[np.ones((2, 3))], num_examples=2, client_id=4)
    with caplog.at_level(logging.WARNING, logger="fldp_teach.fedavg"):
        accepted, rejected = screen_updates([good, nan, inf, shape, missing], good.update)
    assert [u.client_id for u in accepted] == [0]
    reasons = dict(rejected)
    assert "NaN or Inf" in reasons[1] and "NaN or Inf" in reasons[2]
    assert "shape (3, 2)" in reasons[3] and "1 tensors" in reasons[4]
    assert sum("rejected client" in r.message for r in caplog.records) == 4


def test_sample_clients_fixed_and_poisson():
    ids = sample_clients(100, clients_per_round=10, seed=0)
    assert len(ids) == 10 == len(set(ids.tolist())) and ids.max() < 100
    np.testing.assert_array_equal(ids, sample_clients(100, clients_per_round=10, seed=0))
    sizes = [len(sample_clients(1000, sampling_rate=0.1, seed=s)) for s in range(50)]
    # Binomial(1000, 0.1): mean 100, std 9.5; the mean of 50 draws has std 1.34
    assert abs(np.mean(sizes) - 100) < 5
    with pytest.raises(ValueError, match="exactly one"):
        sample_clients(10, clients_per_round=2, sampling_rate=0.1, seed=0)
    with pytest.raises(ValueError, match="clients_per_round"):
        sample_clients(10, clients_per_round=11, seed=0)
    with pytest.raises(ValueError, match="sampling_rate"):
        sample_clients(10, sampling_rate=float("nan"), seed=0)


def test_weights_nbytes():
    assert weights_nbytes([np.zeros((2, 3), np.float32), np.zeros(3, np.float32)]) == 36


def test_reference_round_matches_the_simulated_round():
    from fldp_teach.simulation import simulate

    rng = np.random.default_rng(3)
    clients = [ClientData(rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 2, n).astype(np.int32))
               for n in (8, 12, 5, 9)]
    model_fn = lambda: models.logistic_regression(4, seed=0)  # noqa: E731
    result = fedavg_round(model_fn(), model_fn().get_weights(), clients, round_index=0, clients_per_round=3,
                          local_epochs=2, batch_size=4, learning_rate=0.2, seed=5)
    h = simulate(model_fn, clients, (clients[0].x, clients[0].y), rounds=1, clients_per_round=3, local_epochs=2,
                 batch_size=4, learning_rate=0.2, seed=5, progress=False)
    assert len(result.participants) == 3 and not result.metrics["model_unchanged"]
    assert list(result.participants) == h.records[0]["participant_ids"]
    for a, b in zip(result.global_weights, h.final_weights):
        np.testing.assert_allclose(a, b, atol=1e-6)
