"""Sampling WITHOUT replacement (exactly m of K per round), replace-one neighbours: our
log-space Wang–Balle–Kasiviswanathan 2019 bound against dp-accounting, closed forms, edges."""
import math

import numpy as np
import pytest

dpa = pytest.importorskip("dp_accounting")
from dp_accounting.rdp import rdp_privacy_accountant as dp_rdp  # noqa: E402

from fldp_teach import rdp  # noqa: E402
from fldp_teach.accounting import (  # noqa: E402
    DEFAULT_ORDERS,
    RdpAccountant,
    SampledGaussian,
    SampledWithoutReplacementGaussian,
    dp_sgd_epsilon,
    event_rdp,
    fixed_size_sampling_epsilon,
)
from fldp_teach.rdp import rdp_sampled_gaussian_without_replacement as rdp_wor  # noqa: E402

INTEGER = DEFAULT_ORDERS[DEFAULT_ORDERS == np.floor(DEFAULT_ORDERS)]


def _dp_accountant(K, m, z, T, orders=DEFAULT_ORDERS):
    """dp-accounting's figure for our setting: its GaussianDpEvent's multiplier is relative to
    the replace-one sensitivity 2C, i.e. z/2 in our convention (z = σ/C)."""
    acc = dp_rdp.RdpAccountant(list(orders), neighboring_relation=dpa.NeighboringRelation.REPLACE_ONE)
    event = dpa.SampledWithoutReplacementDpEvent(K, m, dpa.GaussianDpEvent(z / 2))
    return acc.compose(dpa.SelfComposedDpEvent(event, T))


#: dp-accounting's float forward differences take ~12 s on all 353 default orders; the grid
#: uses 21 orders (integer and fractional, up to 1024), the review's figure below all of them
GRID_ORDERS = np.array([1.25, 1.5, 2, 2.5, 3, 4, 5.5, 8, 12, 16, 24, 32, 48, 64, 100, 128, 200,
                        256, 300, 512, 1024.0])
GRID = [(K, m, z, T, delta)
        for K, m in [(100, 20), (1000, 10), (50, 49), (10, 1), (10**6, 1000)]
        for z in (0.5, 1.0, 1.8, 4.0)
        for T, delta in [(1, 1e-5), (15, 1e-5), (500, 1e-8)]]


@pytest.mark.parametrize("K,m,z,T,delta", GRID)
def test_agrees_with_dp_accounting(K, m, z, T, delta):
    ours = RdpAccountant(orders=GRID_ORDERS).compose(SampledWithoutReplacementGaussian(z, m, K, steps=T))
    theirs = _dp_accountant(K, m, z, T, orders=GRID_ORDERS)
    integer = GRID_ORDERS == np.floor(GRID_ORDERS)
    np.testing.assert_allclose(ours.rdp[integer], theirs._rdp[integer], rtol=1e-9)
    np.testing.assert_allclose(ours.rdp, theirs._rdp, rtol=1e-9)  # same chord at fractional α
    # same orders, same (improved) conversion: the same ε
    assert ours.epsilon(delta=delta) == pytest.approx(theirs.get_epsilon(delta), rel=1e-9, abs=1e-12)


def test_the_reviews_figure_k100_m20_z18_15_rounds():
    eps = fixed_size_sampling_epsilon(noise_multipliers=[1.8] * 15, sample_size=20,
                                      population_size=100, delta=1e-5)
    assert eps == pytest.approx(11.5967, abs=1e-4)
    assert eps == pytest.approx(_dp_accountant(100, 20, 1.8, 15).get_epsilon(1e-5), rel=1e-9)
    # what the same run was charged as Poisson sampling (add/remove, q = m/K): far smaller
    assert dp_sgd_epsilon(sampling_rate=0.2, noise_multiplier=1.8, steps=15, delta=1e-5) < 2.6


@pytest.mark.parametrize("z", [0.3, 1.0, 7.0])
def test_m_equals_k_is_the_plain_gaussian_with_sensitivity_2c(z):
    # replace-one moves a sum of C-clipped contributions by up to 2C: ρ(α) = α(2C)²/(2σ²) = 2α/z²
    got = rdp_wor(sample_size=30, population_size=30, noise_multiplier=z, orders=DEFAULT_ORDERS)
    np.testing.assert_allclose(got, 2 * DEFAULT_ORDERS / z**2, rtol=1e-15)
    np.testing.assert_allclose(got, rdp.rdp_gaussian(noise_multiplier=z / 2, orders=DEFAULT_ORDERS))


def test_monotone_in_the_sample_size():
    # m < K only: at m = K nothing is sampled and the exact Gaussian 2α/z² is used, which is
    # below WBK's bound at m close to K (e.g. 2.50 at m = 97 vs 0.93 at m = 100, α = 1.05)
    curves = [rdp_wor(sample_size=m, population_size=100, noise_multiplier=1.5, orders=DEFAULT_ORDERS)
              for m in range(1, 100, 3)]
    assert all((b >= a).all() for a, b in zip(curves, curves[1:]))


@pytest.mark.parametrize("K,m", [(100, 1), (100, 20), (100, 99), (10**5, 256)])
@pytest.mark.parametrize("z", [0.5, 1.1, 3.0, 10.0])
def test_never_below_the_poisson_add_remove_figure(K, m, z):
    wor = rdp_wor(sample_size=m, population_size=K, noise_multiplier=z, orders=DEFAULT_ORDERS)
    poisson = rdp.rdp_sampled_gaussian(sampling_rate=m / K, noise_multiplier=z, orders=DEFAULT_ORDERS)
    assert (wor >= poisson).all()
    for delta in (1e-5, 1e-9):
        assert rdp.epsilon_from_rdp(orders=DEFAULT_ORDERS, rdp=wor, delta=delta) >= \
            rdp.epsilon_from_rdp(orders=DEFAULT_ORDERS, rdp=poisson, delta=delta)


def test_central_moments_are_exact_where_dp_accounting_loses_digits():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 800
    for sigma in (0.15, 0.9, 5.0, 20.0):
        ours = rdp._log_even_central_moments(sigma, 256)
        c = mpmath.mpf(1) / (2 * mpmath.mpf(sigma) ** 2)
        for k in (2, 10, 64, 256):  # E[(ℓ − 1)^k] = Σ_j (−1)^{k−j} C(k, j) e^{c j(j−1)}
            exact = mpmath.log(mpmath.fsum((-1) ** (k - j) * mpmath.binomial(k, j) * mpmath.exp(c * j * (j - 1))
                                           for j in range(k + 1)))
            assert ours[k] == pytest.approx(float(exact), rel=1e-13)
    # at z = 40 (σ = 20 for the sensitivity 2C) dp-accounting's float forward differences are
    # rounding noise at large k: its bound is looser than ours, never tighter by more than its
    # own float rounding: ≤ 7e-12 relative at α = 49–51 on the machine this test was written on,
    # 5.8e-10 at α = 51–55 on an AVX-512 Intel machine (stop 18): the forward differences'
    # cancellation depends on the CPU's float kernels, so the tolerance is 2e-9)
    ours = rdp_wor(sample_size=20, population_size=100, noise_multiplier=40.0, orders=INTEGER)
    theirs = dp_rdp._compute_rdp_sample_wor_gaussian(0.2, 20.0, INTEGER)
    assert (ours <= theirs * (1 + 2e-9)).all() and (ours < 0.5 * theirs).any()


def test_edges():
    assert np.isinf(rdp_wor(sample_size=1, population_size=5, noise_multiplier=0.0, orders=[2.0])).all()
    assert np.isinf(rdp_wor(sample_size=1, population_size=5, noise_multiplier=1.0, orders=[2.0, math.inf])[1])
    tiny = rdp_wor(sample_size=1, population_size=10**9, noise_multiplier=1e3, orders=DEFAULT_ORDERS)
    assert np.isfinite(tiny).all() and (tiny >= 0).all() and tiny.max() < 1e-12
    big = rdp_wor(sample_size=5, population_size=10, noise_multiplier=1e-6, orders=DEFAULT_ORDERS)
    assert (big > 1e10).all()
    # fractional orders lie on the chord of log A between ⌊α⌋ and ⌈α⌉ (WBK 2019, Cor. 10)
    r = rdp_wor(sample_size=3, population_size=10, noise_multiplier=1.0, orders=[3.0, 3.25, 4.0])
    assert r[1] * 2.25 == pytest.approx(0.75 * r[0] * 2 + 0.25 * r[2] * 3, rel=1e-14)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(sample_size=11, population_size=10, noise_multiplier=1.0), "sample_size"),
    (dict(sample_size=0, population_size=10, noise_multiplier=1.0), "sample_size"),
    (dict(sample_size=2.5, population_size=10, noise_multiplier=1.0), "sample_size"),
    (dict(sample_size=2, population_size=0, noise_multiplier=1.0), "population_size"),
    (dict(sample_size=2, population_size=10, noise_multiplier=-1.0), "noise_multiplier"),
    (dict(sample_size=2, population_size=10, noise_multiplier=float("nan")), "noise_multiplier"),
])
def test_bad_input_names_the_parameter(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        rdp_wor(orders=DEFAULT_ORDERS, **kwargs)


def test_event_validation_json_and_no_mixing_of_neighbour_relations():
    with pytest.raises(ValueError, match="sample_size must be <= population_size"):
        SampledWithoutReplacementGaussian(noise_multiplier=1.0, sample_size=5, population_size=4)
    with pytest.raises(ValueError, match="noise_multiplier must be > 0"):
        SampledWithoutReplacementGaussian(noise_multiplier=0.0, sample_size=1, population_size=4)
    event = SampledWithoutReplacementGaussian(noise_multiplier=1.2, sample_size=3, population_size=40, steps=7)
    np.testing.assert_allclose(event_rdp(event), 7 * rdp_wor(sample_size=3, population_size=40,
                                                             noise_multiplier=1.2, orders=DEFAULT_ORDERS))
    acc = RdpAccountant().compose(event, label="phase 1")
    again = RdpAccountant.from_json(acc.to_json())
    assert again.ledger == acc.ledger and again.epsilon(delta=1e-5) == acc.epsilon(delta=1e-5)
    with pytest.raises(ValueError, match="add/remove.*replace-one"):
        acc.compose(SampledGaussian(noise_multiplier=1.0, sampling_rate=0.1))


def test_fixed_size_helper_merges_phases_like_central_epsilon():
    eps, ledger = fixed_size_sampling_epsilon(noise_multipliers=[2.0] * 5 + [1.0] * 3 + [2.0],
                                              sample_size=10, population_size=200, delta=1e-6,
                                              return_ledger=True)
    assert [(e.event.noise_multiplier, e.event.steps) for e in ledger] == [(2.0, 5), (1.0, 3), (2.0, 1)]
    assert ledger[1].label == "rounds 6-8: z=1, m=10 of K=200 without replacement"
    by_hand = RdpAccountant()
    for z, t in [(2.0, 6), (1.0, 3)]:
        by_hand.compose(SampledWithoutReplacementGaussian(z, 10, 200, steps=t))
    assert eps == pytest.approx(by_hand.epsilon(delta=1e-6), rel=1e-12)
    assert fixed_size_sampling_epsilon(noise_multipliers=[], sample_size=1, population_size=2, delta=1e-5) == 0.0
    for bad, needle in [(dict(noise_multipliers=1.0), "noise_multipliers"),
                        (dict(noise_multipliers=[1.0, 0.0]), "noise_multiplier"),
                        (dict(noise_multipliers=[1.0], sample_size=3), "sample_size"),
                        (dict(noise_multipliers=[1.0], delta=1.0), "delta")]:
        kwargs = dict(sample_size=2, population_size=2, delta=1e-5) | bad
        with pytest.raises(ValueError, match=needle):
            fixed_size_sampling_epsilon(**kwargs)
