"""DP-FedAvg variants: bounded influence, noise levels at fixed seeds, and their accounting."""
import math

import numpy as np
import pytest

from fldp_teach import rdp
from fldp_teach.dp_fedavg import (
    AdaptiveClipping, central_dp_aggregate, central_epsilon, clip_update, distributed_dp_share,
    local_dp_update, local_epsilon, record_level_epsilon, secure_sum)
from fldp_teach.fedavg import ClientUpdate

ORDERS = np.concatenate([np.linspace(1.1, 10.9, 99), np.arange(11, 257)])


def _cu(vectors, cid=None):
    return ClientUpdate(update=[np.asarray(v, np.float64) for v in vectors], num_examples=5, client_id=cid)


def _norm(ts):
    return math.sqrt(sum(float(np.sum(np.square(t))) for t in ts))


def test_clip_update_uses_the_norm_over_all_tensors():
    clipped, norm = clip_update([np.array([3.0]), np.array([4.0])], clip_norm=1.0)
    assert norm == 5.0
    np.testing.assert_allclose(np.concatenate(clipped), [0.6, 0.8])


@pytest.mark.parametrize("noise_multiplier", [0.0, 1.0])
def test_a_million_times_larger_update_moves_the_mean_by_at_most_c_over_m(noise_multiplier):
    rng = np.random.default_rng(0)
    honest = [_cu([rng.normal(size=(4, 3)) * 0.1, rng.normal(size=3) * 0.1], k) for k in range(9)]
    attacker = _cu([np.full((4, 3), 1e6), np.full(3, -1e6)], 9)
    c, m = 0.5, 10
    kw = dict(clip_norm=c, noise_multiplier=noise_multiplier, expected_clients_per_round=m, seed=3)
    with_attacker, info = central_dp_aggregate(honest + [attacker], **kw)
    without, _ = central_dp_aggregate(honest, **kw)
    shift = _norm([a - b for a, b in zip(with_attacker, without)])
    assert shift <= c / m + 1e-9 and shift == pytest.approx(c / m)
    assert info["update_norms"][-1] > 1e6 and info["fraction_clipped"] >= 0.1


def test_server_noise_std_is_z_c_over_m_at_a_fixed_seed():
    z, c, m = 1.3, 0.7, 20
    zeros = [_cu([np.zeros(200_000)], k) for k in range(3)]
    mean, info = central_dp_aggregate(zeros, clip_norm=c, noise_multiplier=z, expected_clients_per_round=m, seed=0)
    # sample std of n = 2e5 normals has relative std 1/sqrt(2n) = 0.16 %: 1 % is > 6 sigma
    assert np.std(mean[0]) == pytest.approx(z * c / m, rel=0.01)
    assert abs(np.mean(mean[0])) < 5 * z * c / m / math.sqrt(200_000)
    assert info["noise_stddev_of_mean"] == pytest.approx(z * c / m)
    again, _ = central_dp_aggregate(zeros, clip_norm=c, noise_multiplier=z, expected_clients_per_round=m, seed=0)
    np.testing.assert_array_equal(mean[0], again[0])


def test_empty_round_still_releases_noise_of_the_right_shape():
    like = [np.zeros((3, 2), np.float32), np.zeros(2, np.float32)]
    mean, _ = central_dp_aggregate([], clip_norm=1.0, noise_multiplier=1.0, expected_clients_per_round=4,
                                   seed=1, like=like)
    assert [t.shape for t in mean] == [(3, 2), (2,)] and np.all(mean[0] != 0)
    with pytest.raises(ValueError, match="non-empty"):
        central_dp_aggregate([], clip_norm=1.0, noise_multiplier=1.0, expected_clients_per_round=4, seed=1)


def test_local_dp_update_clips_then_adds_z_c_noise():
    big = _cu([np.full(100_000, 3.0)])
    no_noise = local_dp_update(big, clip_norm=2.0, noise_multiplier=0.0, seed=0)
    assert _norm(no_noise.update) == pytest.approx(2.0)
    zero = _cu([np.zeros(100_000)])
    noised = local_dp_update(zero, clip_norm=2.0, noise_multiplier=1.5, seed=0)
    assert np.std(noised.update[0]) == pytest.approx(3.0, rel=0.015)
    with pytest.raises(ValueError, match="clip_norm"):
        local_dp_update(zero, clip_norm=-1.0, noise_multiplier=1.0, seed=0)


def test_distributed_shares_sum_to_central_noise_but_each_share_is_weak():
    z, c, m = 2.0, 1.0, 16
    zero = lambda k: _cu([np.zeros(50_000)], k)  # noqa: E731
    shares = [distributed_dp_share(zero(k), clip_norm=c, noise_multiplier=z, min_clients=m, seed=k)
              for k in range(m)]
    assert np.std(shares[0].update[0]) == pytest.approx(z * c / math.sqrt(m), rel=0.02)
    assert np.std(secure_sum(shares)[0]) == pytest.approx(z * c, rel=0.02)


def test_central_epsilon_equals_dp_sgd_epsilon_with_the_same_numbers():
    from fldp_teach.accounting import dp_sgd_epsilon

    q, z, rounds, delta = 0.2, 1.8, 20, 1e-5
    eps = central_epsilon(noise_multipliers=[z] * rounds, sampling_rate=q, delta=delta)
    assert eps == pytest.approx(dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=rounds, delta=delta),
                                rel=1e-9)
    # and against the RDP curve composed by hand
    curve = rounds * rdp.rdp_sampled_gaussian(sampling_rate=q, noise_multiplier=z, orders=ORDERS)
    assert eps == pytest.approx(rdp.epsilon_from_rdp(orders=ORDERS, rdp=curve, delta=delta), rel=1e-2)


def test_a_noise_schedule_adds_up_every_phase():
    from fldp_teach.accounting import dp_sgd_epsilon

    schedule = [3.0] * 5 + [1.5] * 10
    eps, ledger = central_epsilon(noise_multipliers=schedule, sampling_rate=0.1, delta=1e-5, return_ledger=True)
    assert len(ledger) == 2
    low = dp_sgd_epsilon(sampling_rate=0.1, noise_multiplier=1.5, steps=10, delta=1e-5)
    high = dp_sgd_epsilon(sampling_rate=0.1, noise_multiplier=1.5, steps=15, delta=1e-5)
    assert low < eps < high


def test_local_epsilon_is_a_gaussian_with_sensitivity_2c_per_participation():
    z, delta = 6.0, 1e-5
    eps = local_epsilon(noise_multipliers=[z] * 10, participations=[[0, 3, 7], [1], []], delta=delta)
    # three Gaussian releases with sigma/sensitivity = z/2: RDP = 3 * alpha / (2 (z/2)^2)
    curve = 3 * ORDERS / (2 * (z / 2) ** 2)
    assert eps == pytest.approx(rdp.epsilon_from_rdp(orders=ORDERS, rdp=curve, delta=delta), rel=1e-2)
    assert local_epsilon(noise_multipliers=[z] * 10, participations=[[], []], delta=delta) == 0.0


def test_record_level_epsilon_is_dp_sgd_inside_the_largest_exposure_client():
    from fldp_teach.accounting import dp_sgd_epsilon

    eps = record_level_epsilon(noise_multipliers=[1.1] * 5, participations=[[0, 1, 2, 3, 4], [0, 1]],
                               num_examples=[100, 40], batch_size=10, local_epochs=2, delta=1e-5)
    client0 = dp_sgd_epsilon(sampling_rate=0.1, noise_multiplier=1.1, steps=5 * 2 * 10, delta=1e-5)
    client1 = dp_sgd_epsilon(sampling_rate=0.25, noise_multiplier=1.1, steps=2 * 2 * 4, delta=1e-5)
    assert eps == pytest.approx(max(client0, client1), rel=1e-9)


def test_record_level_epsilon_of_one_client_is_dp_sgd_epsilon_on_its_poisson_lots():
    from fldp_teach.accounting import dp_sgd_epsilon

    n, b, z, epochs, joined, delta = 107, 16, 2.5, 2, [0, 2, 3, 6], 1e-5  # ⌈107/16⌉ = 7 steps per epoch
    eps = record_level_epsilon(noise_multipliers=[z] * 8, participations=[joined], num_examples=[n],
                               batch_size=b, local_epochs=epochs, delta=delta)
    want = dp_sgd_epsilon(sampling_rate=b / n, noise_multiplier=z, steps=len(joined) * epochs * 7, delta=delta)
    assert eps == pytest.approx(want, rel=1e-12) and 0 < eps < math.inf


def test_shuffled_batches_are_charged_without_amplification_and_never_below_poisson():
    z, n, b, epochs, rounds, delta = 1.1, 100, 10, 2, 5, 1e-5
    kw = dict(noise_multipliers=[z] * rounds, participations=[list(range(rounds))], num_examples=[n],
              batch_size=b, local_epochs=epochs, delta=delta)
    shuffled = record_level_epsilon(sampling="shuffle", **kw)
    poisson = record_level_epsilon(sampling="poisson", **kw)
    # rounds·E = 10 full-batch Gaussian mechanisms of multiplier z: RDP 10 α / (2 z²)
    curve = rounds * epochs * ORDERS / (2 * z ** 2)
    assert shuffled == pytest.approx(rdp.epsilon_from_rdp(orders=ORDERS, rdp=curve, delta=delta), rel=1e-2)
    assert shuffled > 2 * poisson  # 16.9 vs 6.6: the price of not sampling as the proof assumes
    # b | n: both use each example once per epoch (in expectation for Poisson), shuffled never charges less.
    # (Not so for b ∤ n: n = 50, b = 49 gives Poisson 2 steps per epoch at q = 0.98, about two uses.)
    for zz, nn, bb in ((0.6, 50, 25), (4.0, 1000, 1), (1.0, 30, 30), (2.0, 64, 8), (0.8, 600, 60)):
        args = dict(kw, noise_multipliers=[zz] * rounds, num_examples=[nn], batch_size=bb)
        shuffled, poisson = (record_level_epsilon(sampling=way, **args) for way in ("shuffle", "poisson"))
        assert shuffled >= poisson - 1e-9
    with pytest.raises(ValueError, match="sampling must be 'poisson' or 'shuffle', got 'fixed'"):
        record_level_epsilon(sampling="fixed", **kw)


def test_adaptive_clipping_pays_with_more_update_noise_and_tracks_the_quantile():
    ac = AdaptiveClipping(target_quantile=0.5, learning_rate=0.2)
    z_update = ac.update_noise_multiplier(noise_multiplier=1.0, clients_per_round=100)  # sigma_b = 5
    assert z_update == pytest.approx((1.0 - 1 / 100) ** -0.5)
    c = 10.0
    norms = np.linspace(0.5, 1.5, 100)  # median 1.0
    for r in range(60):
        c = ac.next_clip_norm(norms, clip_norm=c, clients_per_round=100, seed=r)
    assert 0.8 < c < 1.25
