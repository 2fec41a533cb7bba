"""RDP maths (fldp_teach.rdp): closed forms, an mpmath oracle, dp-accounting as a second reference."""
import math

import mpmath as mp
import numpy as np
import pytest

from fldp_teach.rdp import (
    DEFAULT_ORDERS,
    delta_and_order_from_rdp,
    delta_from_rdp,
    epsilon_and_order_from_rdp,
    epsilon_from_rdp,
    rdp_gaussian,
    rdp_laplace,
    rdp_sampled_gaussian,
)

mp.mp.dps = 30


def oracle_sgm_integral(q, sigma, alpha):
    """log(A_α)/(α−1) with A_α = ∫ N(x; 0, σ²)·((1−q) + q·exp((2x−1)/(2σ²)))^α dx, by mpmath
    quadrature at 30 digits, split at the points where the integrand changes shape; A − 1 is
    integrated (E[ρ] = 1) so that tiny A − 1 keeps its digits."""
    q, s, a = mp.mpf(q), mp.mpf(sigma), mp.mpf(alpha)

    def f(x):
        u = q * mp.expm1((2 * x - 1) / (2 * s**2))
        return mp.npdf(x, 0, s) * ((1 + u) ** a - 1 - a * u)

    z0 = s**2 * mp.log(1 / q - 1) + mp.mpf(1) / 2
    cuts = {-12 * s, 0, mp.mpf(1) / 2, a, a + 12 * s}
    if abs(z0) < 1e4:
        cuts.add(z0)
    pts = [-mp.inf] + sorted(cuts) + [mp.inf]
    return float(mp.log1p(mp.quad(f, pts)) / (a - 1))


def oracle_sgm_binomial(q, sigma, alpha):
    """The binomial sum (MTZ 2019 §3) at 30 digits, for integer α."""
    q, s = mp.mpf(q), mp.mpf(sigma)
    a_minus_1 = mp.fsum(
        mp.binomial(alpha, k) * (1 - q) ** (alpha - k) * q**k * mp.expm1((k * k - k) / (2 * s**2))
        for k in range(2, alpha + 1)
    )
    return float(mp.log1p(a_minus_1) / (alpha - 1))


Q_GRID = [1e-4, 1e-2, 0.2, 0.99]
Z_GRID = [0.3, 1.0, 20.0]


@pytest.mark.parametrize("q", Q_GRID)
@pytest.mark.parametrize("z", Z_GRID)
def test_sampled_gaussian_fractional_orders_match_quadrature(q, z):
    orders = np.array([1.05, 2.5, 9.9])
    ours = rdp_sampled_gaussian(sampling_rate=q, noise_multiplier=z, orders=orders)
    expected = [oracle_sgm_integral(q, z, a) for a in orders]
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


@pytest.mark.parametrize("q", Q_GRID)
@pytest.mark.parametrize("z", [0.3, 20.0])
def test_sampled_gaussian_integer_orders_match_binomial_sum(q, z):
    orders = [2, 3, 7, 32]
    ours = rdp_sampled_gaussian(sampling_rate=q, noise_multiplier=z, orders=orders)
    expected = [oracle_sgm_binomial(q, z, a) for a in orders]
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_sampled_gaussian_large_integer_order_matches_binomial_sum():
    ours = rdp_sampled_gaussian(sampling_rate=0.01, noise_multiplier=1.5, orders=[256, 1024])
    np.testing.assert_allclose(ours, [oracle_sgm_binomial(0.01, 1.5, 256),
                                      oracle_sgm_binomial(0.01, 1.5, 1024)], rtol=1e-10)


def test_sampled_gaussian_order_two_closed_form():
    # α = 2: A = (1−q)² + 2q(1−q) + q² e^{1/σ²} = 1 + q²(e^{1/σ²} − 1)
    q, z = 0.03, 0.8
    expected = math.log1p(q * q * math.expm1(1 / z**2))
    assert rdp_sampled_gaussian(sampling_rate=q, noise_multiplier=z, orders=[2])[0] == pytest.approx(
        expected, rel=1e-13
    )


def test_sampled_gaussian_special_cases():
    orders = np.array([1.5, 2.0, 10.0, np.inf])
    np.testing.assert_array_equal(rdp_sampled_gaussian(sampling_rate=0, noise_multiplier=1.0, orders=orders), 0)
    np.testing.assert_allclose(
        rdp_sampled_gaussian(sampling_rate=1, noise_multiplier=2.0, orders=orders[:-1]),
        orders[:-1] / 8,
    )
    assert np.all(np.isinf(rdp_sampled_gaussian(sampling_rate=0.1, noise_multiplier=0, orders=orders)))
    assert np.isinf(rdp_sampled_gaussian(sampling_rate=0.1, noise_multiplier=1, orders=orders)[-1])


def test_sampled_gaussian_monotone_in_order_and_noise():
    r = rdp_sampled_gaussian(sampling_rate=0.02, noise_multiplier=0.9, orders=DEFAULT_ORDERS)
    assert np.all(np.diff(r) > 0)  # Rényi divergence is non-decreasing in α
    r2 = rdp_sampled_gaussian(sampling_rate=0.02, noise_multiplier=1.0, orders=DEFAULT_ORDERS)
    assert np.all(r2 < r)
    # subsampling amplifies: never more than the plain Gaussian
    assert np.all(r <= rdp_gaussian(noise_multiplier=0.9, orders=DEFAULT_ORDERS))


def test_dp_accounting_agrees_at_integer_orders_and_is_conservative_at_fractional():
    from dp_accounting.rdp import rdp_privacy_accountant as ref

    orders = DEFAULT_ORDERS[DEFAULT_ORDERS <= 128]
    is_int = orders == np.floor(orders)
    for q, z in [(1e-3, 0.8), (0.1, 0.5), (0.3, 3.0)]:
        ours = rdp_sampled_gaussian(sampling_rate=q, noise_multiplier=z, orders=orders)
        theirs = ref._compute_rdp_poisson_subsampled_gaussian(q, z, orders)
        np.testing.assert_allclose(ours[is_int], theirs[is_int], rtol=1e-8)
        # their fractional series sums absolute values: an upper bound, never below the exact
        assert np.all(theirs[~is_int] >= ours[~is_int] * (1 - 1e-9))
    # the measured gap: ε at q = 0.1, z = 0.5, 10⁴ steps on the fractional orders
    frac = orders[~is_int]
    ours = 1e4 * rdp_sampled_gaussian(sampling_rate=0.1, noise_multiplier=0.5, orders=frac)
    theirs = 1e4 * ref._compute_rdp_poisson_subsampled_gaussian(0.1, 0.5, frac)
    assert epsilon_from_rdp(orders=frac, rdp=theirs, delta=1e-5) > 1.5 * epsilon_from_rdp(
        orders=frac, rdp=ours, delta=1e-5
    )


def test_gaussian_closed_form():
    assert rdp_gaussian(noise_multiplier=3.0, orders=[2])[0] == pytest.approx(2 / 18)
    np.testing.assert_allclose(rdp_gaussian(noise_multiplier=0.5, orders=[1, 4]), [2.0, 8.0])
    assert np.isinf(rdp_gaussian(noise_multiplier=0.0, orders=[2])[0])


def test_laplace_mironov_prop_6_and_limits():
    b, d = 2.0, 1.0  # λ = 2, ε = 1/λ = 0.5
    lam = b / d
    a = 3.0
    expected = math.log(a / (2 * a - 1) * math.exp((a - 1) / lam)
                        + (a - 1) / (2 * a - 1) * math.exp(-a / lam)) / (a - 1)
    r = rdp_laplace(scale=b, l1_sensitivity=d, orders=[1, a, np.inf])
    assert r[0] == pytest.approx(1 / lam + math.exp(-1 / lam) - 1, rel=1e-14)
    assert r[1] == pytest.approx(expected, rel=1e-14)
    assert r[2] == 1 / lam
    # continuity at both ends and agreement with dp-accounting
    near = rdp_laplace(scale=b, l1_sensitivity=d, orders=[1 + 1e-7, 1e7])
    assert near[0] == pytest.approx(r[0], rel=1e-5) and near[1] == pytest.approx(r[2], rel=1e-5)
    from dp_accounting.rdp.rdp_privacy_accountant import _laplace_rdp

    orders = [1.5, 2.0, 7.5, 64.0]
    np.testing.assert_allclose(rdp_laplace(scale=b, l1_sensitivity=d, orders=orders),
                               [_laplace_rdp(1 / lam, o) for o in orders], rtol=1e-12)


def test_laplace_large_order_does_not_overflow():
    r = rdp_laplace(scale=0.01, l1_sensitivity=1.0, orders=[1e4])
    assert np.isfinite(r[0]) and r[0] <= 100.0


def test_conversions_by_hand():
    orders, rdp = np.array([2.0, 11.0]), np.array([0.5, 1.0])
    d = 1e-5
    classic = min(0.5 + math.log(1 / d), 1.0 + math.log(1 / d) / 10)
    improved = min(r + math.log((a - 1) / a) - (math.log(d) + math.log(a)) / (a - 1)
                   for a, r in zip(orders, rdp))
    assert epsilon_from_rdp(orders=orders, rdp=rdp, delta=d, conversion="classic") == pytest.approx(classic)
    eps, order = epsilon_and_order_from_rdp(orders=orders, rdp=rdp, delta=d)
    assert eps == pytest.approx(improved) and order == 11.0
    assert improved < classic


@pytest.mark.parametrize("conversion", ["improved", "classic"])
@pytest.mark.parametrize("delta", [1e-3, 1e-5, 1e-9])
def test_epsilon_delta_round_trip(conversion, delta):
    rdp = 1000 * rdp_sampled_gaussian(sampling_rate=0.01, noise_multiplier=1.1, orders=DEFAULT_ORDERS)
    eps = epsilon_from_rdp(orders=DEFAULT_ORDERS, rdp=rdp, delta=delta, conversion=conversion)
    back, _ = delta_and_order_from_rdp(orders=DEFAULT_ORDERS, rdp=rdp, epsilon=eps, conversion=conversion)
    assert back == pytest.approx(delta, rel=1e-9)
    assert epsilon_from_rdp(orders=DEFAULT_ORDERS, rdp=rdp, delta=back,
                            conversion=conversion) == pytest.approx(eps, rel=1e-9)


def test_conversions_match_dp_accounting():
    from dp_accounting.rdp import rdp_privacy_accountant as ref

    rdp = 5000 * rdp_sampled_gaussian(sampling_rate=0.005, noise_multiplier=1.0, orders=DEFAULT_ORDERS)
    for delta in [1e-4, 1e-7]:
        assert epsilon_from_rdp(orders=DEFAULT_ORDERS, rdp=rdp, delta=delta) == pytest.approx(
            ref.compute_epsilon(DEFAULT_ORDERS, rdp, delta)[0], rel=1e-12)
    assert delta_from_rdp(orders=DEFAULT_ORDERS, rdp=rdp, epsilon=2.0) == pytest.approx(
        ref.compute_delta(DEFAULT_ORDERS, rdp, 2.0)[0], rel=1e-9)


def test_pure_dp_order_infinity():
    r = rdp_laplace(scale=1.0, l1_sensitivity=1.0, orders=[2.0, np.inf])
    assert epsilon_from_rdp(orders=[2.0, np.inf], rdp=r, delta=1e-300) == pytest.approx(1.0)
    assert delta_from_rdp(orders=[2.0, np.inf], rdp=r, epsilon=1.0) == 0.0


def test_default_orders_are_tight():
    """ε on DEFAULT_ORDERS is within 0.5% (or 1e-3 when ε is tiny) of ε on a dense grid."""
    dense = np.unique(np.concatenate([np.round(np.arange(1.01, 10, 0.01), 2),
                                      np.arange(10, 2049, 1.0)]))
    for q, z, steps, delta in [(0.004, 1.1, 14000, 1e-5), (0.01, 0.6, 1000, 1e-9),
                               (1e-3, 5.0, 10, 1e-3), (0.1, 0.5, 10000, 1e-5), (0.02, 2.0, 100000, 1e-7)]:
        coarse = epsilon_from_rdp(orders=DEFAULT_ORDERS, delta=delta,
                                  rdp=steps * rdp_sampled_gaussian(sampling_rate=q, noise_multiplier=z,
                                                                   orders=DEFAULT_ORDERS))
        fine = epsilon_from_rdp(orders=dense, delta=delta,
                                rdp=steps * rdp_sampled_gaussian(sampling_rate=q, noise_multiplier=z,
                                                                 orders=dense))
        assert fine <= coarse * (1 + 1e-9) and coarse <= 1.005 * fine + 1e-3, (q, z, steps, delta, coarse, fine)


BAD = [
    (rdp_gaussian, dict(noise_multiplier=-1.0, orders=[2]), "noise_multiplier"),
    (rdp_gaussian, dict(noise_multiplier=float("nan"), orders=[2]), "noise_multiplier"),
    (rdp_gaussian, dict(noise_multiplier=1.0, orders=[]), "orders"),
    (rdp_gaussian, dict(noise_multiplier=1.0, orders=[0.5]), "orders"),
    (rdp_laplace, dict(scale=0.0, l1_sensitivity=1.0, orders=[2]), "scale"),
    (rdp_laplace, dict(scale=1.0, l1_sensitivity=-1.0, orders=[2]), "l1_sensitivity"),
    (rdp_sampled_gaussian, dict(sampling_rate=1.5, noise_multiplier=1.0, orders=[2]), "sampling_rate"),
    (rdp_sampled_gaussian, dict(sampling_rate=float("nan"), noise_multiplier=1.0, orders=[2]), "sampling_rate"),
    (rdp_sampled_gaussian, dict(sampling_rate=0.1, noise_multiplier=-0.1, orders=[2]), "noise_multiplier"),
    (rdp_sampled_gaussian, dict(sampling_rate=0.1, noise_multiplier=1.0, orders=[1.0]), "orders"),
    (rdp_sampled_gaussian, dict(sampling_rate=0.1, noise_multiplier=1.0, orders=[float("nan")]), "orders"),
    (epsilon_from_rdp, dict(orders=[2], rdp=[1.0], delta=0.0), "delta"),
    (epsilon_from_rdp, dict(orders=[2], rdp=[1.0], delta=1.0), "delta"),
    (epsilon_from_rdp, dict(orders=[2], rdp=[1.0], delta=1e-5, conversion="fancy"), "conversion"),
    (epsilon_from_rdp, dict(orders=[2], rdp=[float("nan")], delta=1e-5), "rdp"),
    (epsilon_from_rdp, dict(orders=[2, 3], rdp=[1.0], delta=1e-5), "rdp"),
    (delta_from_rdp, dict(orders=[2], rdp=[1.0], epsilon=0.0), "epsilon"),
    (delta_from_rdp, dict(orders=[2], rdp=[1.0], epsilon=-1.0), "epsilon"),
]


@pytest.mark.parametrize("fn,kwargs,name", BAD, ids=[f"{f.__name__}-{n}-{i}" for i, (f, _, n) in enumerate(BAD)])
def test_bad_parameters_raise_value_error_naming_them(fn, kwargs, name):
    with pytest.raises(ValueError, match=name):
        fn(**kwargs)


def test_positional_privacy_arguments_are_refused():
    with pytest.raises(TypeError):
        rdp_gaussian(1.0, [2.0])


@pytest.mark.parametrize("q,z", [(1e-4, 0.3), (0.01, 1.0), (0.3, 0.5), (0.9, 20.0), (0.01, 0.05)])
def test_quadrature_and_binomial_sum_agree_at_integer_orders(q, z):
    """The two independent code paths (trapezoidal rule, binomial sum) meet at integer α."""
    from fldp_teach.rdp import _log_a_minus_one_fractional, _log_a_minus_one_integer

    orders = np.array([2.0, 3.0, 8.0, 20.0])
    np.testing.assert_allclose(_log_a_minus_one_fractional(q, z, orders),
                               _log_a_minus_one_integer(q, z, orders), rtol=1e-9, atol=1e-9)


def test_very_small_noise_stays_finite_and_exact():
    """z = 0.05: μ₁/μ₀ overflows a float on the quadrature grid; logs keep it exact."""
    ours = rdp_sampled_gaussian(sampling_rate=0.01, noise_multiplier=0.05, orders=[1.5, 4.5])
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, [oracle_sgm_integral(0.01, 0.05, a) for a in [1.5, 4.5]], rtol=1e-6)
