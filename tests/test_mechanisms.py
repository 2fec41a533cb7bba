"""Tests of fldp_teach.mechanisms: closed forms, an mpmath / dp-accounting cross-check of the
analytic Gaussian mechanism, and statistical tests of the noise at fixed seeds."""
import math
import subprocess
import sys

import mpmath
import numpy as np
import pytest
from scipy import stats

from fldp_teach import mechanisms as M

tf = pytest.importorskip("tensorflow")


# ----------------------------------------------------------------------------- layer 1
def test_module_does_not_import_tensorflow():
    code = "import sys, fldp_teach.mechanisms, fldp_teach.clipping; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- Laplace
def test_laplace_scale_closed_form():
    assert M.laplace_scale(epsilon=0.5, l1_sensitivity=2) == 4.0
    assert M.laplace_scale(epsilon=2.0, l1_sensitivity=1) == 0.5


@pytest.mark.parametrize("backend", ["numpy", "tf"])
def test_laplace_noise_is_laplace_with_scale_b(backend):
    b = 4.0
    zeros = np.zeros(20_000) if backend == "numpy" else tf.zeros(20_000, dtype=tf.float64)
    noise = np.asarray(M.add_laplace_noise(zeros, scale=b, seed=3))
    assert stats.kstest(noise, stats.laplace(scale=b).cdf).pvalue > 0.01
    assert abs(noise.mean()) < 4 * b * math.sqrt(2) / math.sqrt(noise.size)  # sd of Lap(b) is b·√2
    assert np.mean(np.abs(noise)) == pytest.approx(b, rel=0.03)  # E|Z| = b


def test_laplace_ks_test_can_fail():
    """The KS test above detects a wrong scale (it is not a test that cannot fail)."""
    noise = M.add_laplace_noise(np.zeros(20_000), scale=4.4, seed=3)
    assert stats.kstest(noise, stats.laplace(scale=4.0).cdf).pvalue < 1e-6


def test_laplace_mechanism_uses_delta1_over_epsilon():
    a = M.laplace_mechanism(np.full(5, 10.0), epsilon=0.5, l1_sensitivity=2, seed=7)
    b = 10.0 + M.add_laplace_noise(np.zeros(5), scale=4.0, seed=7)
    np.testing.assert_array_equal(a, b)


def test_laplace_privacy_loss_bounded_by_epsilon():
    y = np.linspace(-50, 50, 2001)
    loss = M.laplace_privacy_loss(y, value_a=0.0, value_b=2.0, scale=4.0)
    assert np.max(np.abs(loss)) == pytest.approx(0.5)  # |a - b|/b = ε
    # cross-check against scipy's densities
    ref = stats.laplace(0, 4).logpdf(y) - stats.laplace(2, 4).logpdf(y)
    np.testing.assert_allclose(loss, ref, atol=1e-12)


# ----------------------------------------------------------------------------- Gaussian calibration
def test_classic_gaussian_by_hand():
    # ε = 0.5, δ = 1e-5, Δ₂ = 1: sqrt(2 ln(125000))/0.5 = 2·sqrt(23.467...) = 9.6896105...
    assert M.classic_gaussian_stddev(epsilon=0.5, delta=1e-5, l2_sensitivity=1) == pytest.approx(
        2 * math.sqrt(2 * math.log(125000.0)), rel=1e-15)
    assert M.classic_gaussian_stddev(epsilon=0.5, delta=1e-5, l2_sensitivity=1) == pytest.approx(9.68961052521, rel=1e-11)
    assert M.classic_gaussian_stddev(epsilon=0.5, delta=1e-5, l2_sensitivity=3) == pytest.approx(3 * 9.68961052521)


def test_classic_gaussian_refuses_epsilon_at_least_one():
    with pytest.raises(ValueError, match="epsilon.*1.*analytic"):
        M.classic_gaussian_stddev(epsilon=1.0, delta=1e-5, l2_sensitivity=1)
    # and why: at ε = 10 the classic σ is not (ε, δ)-DP
    sigma = 0.1 * math.sqrt(2 * math.log(1.25e5))
    assert M.analytic_gaussian_delta(stddev=sigma, epsilon=10, l2_sensitivity=1) > 1e-5


def _mp_delta(s, eps):
    """Balle & Wang Thm 8 in 50-digit arithmetic (independent reference)."""
    mpmath.mp.dps = 50
    s, eps = mpmath.mpf(s), mpmath.mpf(eps)
    return mpmath.ncdf(1 / (2 * s) - eps * s) - mpmath.exp(eps) * mpmath.ncdf(-1 / (2 * s) - eps * s)


@pytest.mark.parametrize("epsilon", [0.01, 0.3, 1.0, 4.0, 20.0])
@pytest.mark.parametrize("delta", [1e-2, 1e-5, 1e-10, 1e-30])
def test_analytic_gaussian_meets_balle_wang_condition(epsilon, delta):
    sigma = M.analytic_gaussian_stddev(epsilon=epsilon, delta=delta, l2_sensitivity=2.0)
    d = _mp_delta(sigma / 2.0, epsilon)
    # relative 1e-9 in δ (meaningful also when δ = 1e-30)
    assert abs(d - delta) <= 1e-9 * delta
    # the next smaller σ (by 1e-9 relative) is no longer (ε, δ)-DP: σ is the smallest
    assert _mp_delta(sigma / 2.0 * (1 - 1e-9), epsilon) > delta


def test_analytic_gaussian_matches_dp_accounting():
    from dp_accounting.pld import privacy_loss_mechanism

    for eps, delta in [(0.5, 1e-5), (2.0, 1e-6), (8.0, 1e-3)]:
        sigma = M.analytic_gaussian_stddev(epsilon=eps, delta=delta, l2_sensitivity=1)
        ref = privacy_loss_mechanism.GaussianPrivacyLoss(sigma, sensitivity=1).get_delta_for_epsilon(eps)
        assert ref == pytest.approx(delta, rel=1e-8)


def test_analytic_below_classic_where_classic_valid():
    for eps in np.linspace(0.01, 0.99, 25):
        for delta in np.logspace(-10, -2, 17):
            a = M.analytic_gaussian_stddev(epsilon=eps, delta=delta, l2_sensitivity=1)
            c = M.classic_gaussian_stddev(epsilon=eps, delta=delta, l2_sensitivity=1)
            assert a < c, (eps, delta)


def test_analytic_gaussian_monotone_in_epsilon_and_delta():
    eps_grid = np.logspace(-2, 1.5, 30)
    s_eps = [M.analytic_gaussian_stddev(epsilon=e, delta=1e-6, l2_sensitivity=1) for e in eps_grid]
    assert np.all(np.diff(s_eps) < 0)
    delta_grid = np.logspace(-12, -1, 30)
    s_delta = [M.analytic_gaussian_stddev(epsilon=1.0, delta=d, l2_sensitivity=1) for d in delta_grid]
    assert np.all(np.diff(s_delta) < 0)


def test_analytic_gaussian_scales_linearly_in_sensitivity():
    s1 = M.analytic_gaussian_stddev(epsilon=1.0, delta=1e-5, l2_sensitivity=1)
    assert M.analytic_gaussian_stddev(epsilon=1.0, delta=1e-5, l2_sensitivity=3) == pytest.approx(3 * s1, rel=1e-14)


# ----------------------------------------------------------------------------- Gaussian noise
@pytest.mark.parametrize("backend", ["numpy", "tf"])
def test_gaussian_noise_has_stddev_sigma(backend):
    sigma = 2.5
    zeros = np.zeros(40_000) if backend == "numpy" else tf.zeros(40_000)
    noise = np.asarray(M.add_gaussian_noise(zeros, stddev=sigma, seed=11), dtype=float)
    # sd of the sample sd is about σ/sqrt(2n) = 0.0088: 5 of them is 0.044
    assert noise.std() == pytest.approx(sigma, abs=0.045)
    assert abs(noise.mean()) < 5 * sigma / math.sqrt(noise.size)
    assert stats.kstest(noise, stats.norm(scale=sigma).cdf).pvalue > 0.01


def test_gaussian_noise_preserves_dtype_and_shape():
    out = M.add_gaussian_noise(np.zeros((2, 3), dtype=np.float32), stddev=1.0, seed=0)
    assert out.dtype == np.float32 and out.shape == (2, 3)
    out = M.add_gaussian_noise(tf.zeros((2, 3), dtype=tf.float16), stddev=1.0, seed=0)
    assert out.dtype == tf.float16 and out.shape == (2, 3)


@pytest.mark.parametrize("make", [np.zeros, tf.zeros])
@pytest.mark.parametrize("add", [M.add_gaussian_noise, M.add_laplace_noise])
def test_noise_seeding(make, add):
    kw = {"stddev": 1.0} if add is M.add_gaussian_noise else {"scale": 1.0}
    a = np.asarray(add(make(50), seed=5, **kw))
    b = np.asarray(add(make(50), seed=5, **kw))
    c = np.asarray(add(make(50), seed=6, **kw))
    np.testing.assert_array_equal(a, b)
    assert not np.any(a == c)


@pytest.mark.parametrize("make", [np.zeros, tf.zeros])
def test_noise_on_a_list_of_weights(make):
    weights = [make((3, 4)), make((4,))]
    out = M.add_gaussian_noise(weights, stddev=1.0, seed=1)
    assert isinstance(out, list) and [tuple(o.shape) for o in out] == [(3, 4), (4,)]
    # each layer gets its own, independent draw (not the same stream restarted)
    assert not np.allclose(np.asarray(out[0])[0], np.asarray(out[1]))


def test_tf_noise_inside_tf_function_varies_with_seed_tensor():
    @tf.function
    def noisy(x, seed):
        return M.add_gaussian_noise(x, stddev=1.0, seed=seed)

    a = noisy(tf.zeros(8), tf.constant([1, 0]))
    b = noisy(tf.zeros(8), tf.constant([1, 0]))
    c = noisy(tf.zeros(8), tf.constant([2, 0]))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.any(a.numpy() == c.numpy())

    gen = tf.random.Generator.from_seed(0)
    d, e = M.add_gaussian_noise(tf.zeros(8), stddev=1.0, seed=gen), M.add_gaussian_noise(tf.zeros(8), stddev=1.0, seed=gen)
    assert not np.any(d.numpy() == e.numpy())


def test_tf_noise_refuses_seed_none_inside_tf_function():
    @tf.function
    def noisy(x):
        return M.add_gaussian_noise(x, stddev=1.0)

    with pytest.raises(ValueError, match="seed"):
        noisy(tf.zeros(3))


def test_gaussian_mechanism_calibrations():
    x = np.zeros(3)
    s = M.analytic_gaussian_stddev(epsilon=0.5, delta=1e-5, l2_sensitivity=1)
    np.testing.assert_array_equal(
        M.gaussian_mechanism(x, epsilon=0.5, delta=1e-5, l2_sensitivity=1, seed=2),
        M.add_gaussian_noise(x, stddev=s, seed=2))
    np.testing.assert_array_equal(
        M.gaussian_mechanism(x, epsilon=0.5, delta=1e-5, l2_sensitivity=1, calibration="classic", seed=2),
        M.add_gaussian_noise(x, stddev=9.689610525210778, seed=2))
    np.testing.assert_array_equal(M.gaussian_mechanism(x, stddev=3.0, seed=2), M.add_gaussian_noise(x, stddev=3.0, seed=2))
    with pytest.raises(ValueError, match="calibration"):
        M.gaussian_mechanism(x, epsilon=0.5, delta=1e-5, l2_sensitivity=1, calibration="optimal")
    with pytest.raises(ValueError, match="stddev"):
        M.gaussian_mechanism(x, stddev=1.0, epsilon=0.5)


def test_gaussian_privacy_loss_matches_densities():
    y = np.linspace(-20, 20, 101)
    ref = stats.norm(1, 3).logpdf(y) - stats.norm(-1, 3).logpdf(y)
    np.testing.assert_allclose(M.gaussian_privacy_loss(y, value_a=1, value_b=-1, stddev=3), ref, atol=1e-12)


# ----------------------------------------------------------------------------- randomized response
def test_randomized_response_truth_probability():
    assert M.randomized_response_truth_probability(epsilon=math.log(3)) == pytest.approx(0.75)  # Warner's coins


def test_randomized_response_flip_rate_and_seeding():
    bits = np.zeros(50_000, dtype=int)
    r = M.randomized_response(bits, epsilon=1.0, seed=0)
    p = math.e / (1 + math.e)
    assert r.mean() == pytest.approx(1 - p, abs=4 * math.sqrt(p * (1 - p) / bits.size))
    np.testing.assert_array_equal(r, M.randomized_response(bits, epsilon=1.0, seed=0))
    assert not np.array_equal(r, M.randomized_response(bits, epsilon=1.0, seed=1))


def test_randomized_response_estimator_unbiased_and_standard_error():
    rng = np.random.default_rng(10_000)  # not one of the response seeds below: U would be reused
    pi, n, eps = 0.3, 2000, 0.5
    bits = (rng.random(n) < pi).astype(int)
    truth = bits.mean()
    estimates = np.array([M.randomized_response_estimate(M.randomized_response(bits, epsilon=eps, seed=s), epsilon=eps)
                          for s in range(400)])
    se = M.randomized_response_standard_error(true_proportion=truth, num_examples=n, epsilon=eps)
    assert abs(estimates.mean() - truth) < 4 * se / math.sqrt(len(estimates))  # unbiased
    assert estimates.std(ddof=1) == pytest.approx(se, rel=0.1)  # SE formula matches the spread
    # hand value: p = e^.5/(1+e^.5) = 0.6224593, λ = 0.6224593·0.3... ; SE = sqrt(λ(1-λ)/n)/(2p-1)
    p = math.exp(0.5) / (1 + math.exp(0.5))
    lam = p * truth + (1 - p) * (1 - truth)
    assert se == pytest.approx(math.sqrt(lam * (1 - lam) / n) / (2 * p - 1), rel=1e-14)


def test_randomized_response_accepts_booleans():
    out = M.randomized_response(np.array([True, False] * 50), epsilon=20.0, seed=0)  # p = 1 - 2e-9
    np.testing.assert_array_equal(out, np.array([1, 0] * 50))


def test_randomized_response_rejects_non_bits():
    with pytest.raises(ValueError, match="bits"):
        M.randomized_response(np.array([0, 2]), epsilon=1.0)


# ----------------------------------------------------------------------------- multiplicative noise (not DP)
def test_multiplicative_noise_releases_zero_exactly():
    out = M.multiplicative_noise(np.array([0.0, 0.0, 5.0]), stddev=0.5, seed=0)
    assert out[0] == 0.0 and out[1] == 0.0 and out[2] != 5.0
    out_tf = M.multiplicative_noise([tf.zeros(3), tf.ones(3)], stddev=0.5, seed=0)
    assert np.all(out_tf[0].numpy() == 0.0) and np.all(out_tf[1].numpy() != 1.0)


def test_multiplicative_noise_spread_reveals_the_value():
    y_small = M.multiplicative_noise(np.full(10_000, 1.0), stddev=0.1, seed=1)
    y_large = M.multiplicative_noise(np.full(10_000, 100.0), stddev=0.1, seed=2)
    assert y_small.std() == pytest.approx(0.1, rel=0.05)
    assert y_large.std() == pytest.approx(10.0, rel=0.05)


def test_multiplicative_privacy_loss_is_unbounded():
    loss = M.multiplicative_privacy_loss(np.array([0.0, 0.3]), value_a=0.0, value_b=1.0, stddev=0.1)
    assert loss[0] == np.inf and loss[1] == -np.inf
    y = np.array([1.0, 10.0, 100.0])
    loss = M.multiplicative_privacy_loss(y, value_a=1.0, value_b=2.0, stddev=0.1)
    ref = stats.norm(1, 0.1).logpdf(y) - stats.norm(2, 0.2).logpdf(y)
    np.testing.assert_allclose(loss, ref, rtol=1e-12)
    assert loss[2] < -1e5  # grows without bound: no ε can cover it


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("call, name", [
    (lambda: M.laplace_scale(epsilon=0, l1_sensitivity=1), "epsilon"),
    (lambda: M.laplace_scale(epsilon=-1.0, l1_sensitivity=1), "epsilon"),
    (lambda: M.laplace_scale(epsilon=float("nan"), l1_sensitivity=1), "epsilon"),
    (lambda: M.laplace_scale(epsilon=1, l1_sensitivity=0), "l1_sensitivity"),
    (lambda: M.add_laplace_noise(np.zeros(2), scale=-1), "scale"),
    (lambda: M.add_laplace_noise(np.zeros(2), scale=float("nan")), "scale"),
    (lambda: M.add_gaussian_noise(np.zeros(2), stddev=-0.1), "stddev"),
    (lambda: M.add_gaussian_noise(np.zeros(2), stddev=1, seed=-3), "seed"),
    (lambda: M.add_gaussian_noise(tf.zeros(2), stddev=float("nan")), "stddev"),
    (lambda: M.classic_gaussian_stddev(epsilon=0.5, delta=0, l2_sensitivity=1), "delta"),
    (lambda: M.classic_gaussian_stddev(epsilon=0.5, delta=1, l2_sensitivity=1), "delta"),
    (lambda: M.analytic_gaussian_stddev(epsilon=0, delta=1e-5, l2_sensitivity=1), "epsilon"),
    (lambda: M.analytic_gaussian_stddev(epsilon=1, delta=1.5, l2_sensitivity=1), "delta"),
    (lambda: M.analytic_gaussian_stddev(epsilon=1, delta=float("nan"), l2_sensitivity=1), "delta"),
    (lambda: M.analytic_gaussian_stddev(epsilon=1, delta=1e-5, l2_sensitivity=-2), "l2_sensitivity"),
    (lambda: M.randomized_response([0, 1], epsilon=0), "epsilon"),
    (lambda: M.randomized_response_estimate([0, 1], epsilon=-2), "epsilon"),
    (lambda: M.randomized_response_standard_error(true_proportion=1.2, num_examples=10, epsilon=1), "true_proportion"),
    (lambda: M.randomized_response_standard_error(true_proportion=0.2, num_examples=0, epsilon=1), "num_examples"),
    (lambda: M.multiplicative_noise(np.ones(2), stddev=-1), "stddev"),
])
def test_bad_parameters_raise_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
