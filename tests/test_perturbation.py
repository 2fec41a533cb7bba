"""Output and objective perturbation (Chaudhuri, Monteleoni & Sarwate 2011): the objective and
its gradient, the minimizer against scikit-learn, the sensitivity bound 2/(nλ) of Corollary 8
on real neighbouring data sets, Algorithm 2's parameters by hand, the l2-Laplace noise
statistics at fixed seeds, seeding and validation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from fldp_teach.perturbation import (
    LOGISTIC_SMOOTHNESS,
    check_unit_ball,
    fit_regularized_logistic,
    objective_perturbation,
    objective_perturbation_parameters,
    output_perturbation,
    output_perturbation_sensitivity,
    predict_logistic,
    regularized_logistic_loss,
    sample_l2_laplace,
)


def _data(n=120, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    x /= np.maximum(1.0, np.linalg.norm(x, axis=1, keepdims=True))  # ‖x_i‖ ≤ 1
    w = rng.standard_normal(d)
    y = (x @ w + 0.3 * rng.standard_normal(n) > 0).astype(np.int32)
    return x, y


def test_loss_value_by_hand_and_gradient_by_finite_differences():
    x = np.array([[0.6, 0.0], [0.0, -0.8]])
    y = np.array([1, 0])  # signed: +1, −1
    theta = np.array([1.0, 2.0])
    lam = 0.5
    # margins: +1·0.6 = 0.6 and −1·(−1.6) = 1.6
    want = (math.log1p(math.exp(-0.6)) + math.log1p(math.exp(-1.6))) / 2 + 0.25 * 5.0
    value, grad = regularized_logistic_loss(theta, x, y, regularization=lam)
    assert value == pytest.approx(want, rel=1e-14)
    f = lambda t: regularized_logistic_loss(t, x, y, regularization=lam)[0]  # noqa: E731
    assert optimize.check_grad(f, lambda t: regularized_logistic_loss(t, x, y, regularization=lam)[1],
                               theta) < 1e-7
    # the two objective-perturbation terms: + bᵀθ/n + (Δ/2)‖θ‖²
    b = np.array([0.3, -2.0])
    v2, g2 = regularized_logistic_loss(theta, x, y, regularization=lam, linear_term=b,
                                       extra_regularization=0.1)
    assert v2 == pytest.approx(want + b @ theta / 2 + 0.05 * 5.0, rel=1e-14)
    np.testing.assert_allclose(g2, grad + b / 2 + 0.1 * theta, rtol=1e-14)


def test_minimizer_matches_scikit_learn():
    """sklearn minimizes C·Σ log(1 + e^{−y xᵀw}) + ½‖w‖²: the same minimizer for C = 1/(nλ)."""
    from sklearn.linear_model import LogisticRegression

    x, y = _data()
    lam = 0.01
    theta = fit_regularized_logistic(x, y, regularization=lam)
    sk = LogisticRegression(C=1 / (len(y) * lam), fit_intercept=False, tol=1e-12,
                            max_iter=100_000).fit(x, y)
    np.testing.assert_allclose(theta, sk.coef_[0], atol=1e-6)
    # first-order optimality at our solution
    assert np.max(np.abs(regularized_logistic_loss(theta, x, y, regularization=lam)[1])) < 1e-8


def test_adding_a_constant_to_the_objective_does_not_move_the_minimizer():
    """The article's §4.2 "argmin Σ L + ε_k": a constant changes the value, not the gradient."""
    x, y = _data(seed=1)
    theta = np.array([0.3, -0.2, 0.1, 0.0, 0.5])
    v, g = regularized_logistic_loss(theta, x, y, regularization=0.1)
    # a constant is not a linear term: only bᵀθ enters the gradient
    v2, g2 = regularized_logistic_loss(theta, x, y, regularization=0.1, linear_term=np.zeros(5))
    assert v2 == v and np.array_equal(g, g2)


@pytest.mark.parametrize("lam", [0.05, 0.5])
def test_sensitivity_bound_of_corollary_8_holds_on_neighbours(lam):
    """‖θ(D) − θ(D')‖ ≤ 2/(nλ) when D, D' differ in one example (replace-one), for the most
    damaging replacements we can think of: a unit-norm point with the opposite label."""
    x, y = _data(n=60, d=4, seed=2)
    n = len(y)
    bound = output_perturbation_sensitivity(num_examples=n, regularization=lam)
    assert bound == pytest.approx(2 / (n * lam))
    theta = fit_regularized_logistic(x, y, regularization=lam)
    worst = 0.0
    rng = np.random.default_rng(3)
    for i in range(0, n, 6):
        x2, y2 = x.copy(), y.copy()
        v = rng.standard_normal(4)
        x2[i] = v / np.linalg.norm(v)
        y2[i] = 1 - y[i]
        theta2 = fit_regularized_logistic(x2, y2, regularization=lam)
        worst = max(worst, float(np.linalg.norm(theta - theta2)))
    assert 0 < worst <= bound
    # and the bound is not absurdly loose: the worst move is a sizeable fraction of it
    assert worst > 0.05 * bound


def test_objective_perturbation_parameters_by_hand():
    # n = 100, λ = 0.01, c = 1/4: c/(nλ) = 0.25; ε' = ε − log(1.5625)
    eps_prime, extra, beta = objective_perturbation_parameters(
        epsilon=1.0, num_examples=100, regularization=0.01)
    assert eps_prime == pytest.approx(1.0 - math.log(1.5625), rel=1e-14)
    assert extra == 0.0 and beta == pytest.approx(eps_prime / 2, rel=1e-14)
    # ε = 0.3: ε' < 0, so Δ = c/(n(e^{ε/4} − 1)) − λ and ε' = ε/2
    eps_prime, extra, beta = objective_perturbation_parameters(
        epsilon=0.3, num_examples=100, regularization=0.01)
    assert eps_prime == 0.15 and beta == 0.075
    assert extra == pytest.approx(0.25 / (100 * (math.exp(0.075) - 1)) - 0.01, rel=1e-12)
    assert extra > 0
    assert LOGISTIC_SMOOTHNESS == 0.25


def test_l2_laplace_noise_statistics():
    """‖b‖ ~ Gamma(d, 1/β) (KS test) and the direction is uniform (mean ≈ 0, E[u uᵀ] = I/d)."""
    d, beta = 6, 2.5
    rng = np.random.default_rng(11)
    draws = np.array([sample_l2_laplace(dim=d, beta=beta, seed=rng) for _ in range(4000)])
    norms = np.linalg.norm(draws, axis=1)
    assert stats.kstest(norms, stats.gamma(a=d, scale=1 / beta).cdf).pvalue > 1e-3
    assert norms.mean() == pytest.approx(d / beta, rel=0.03)
    units = draws / norms[:, None]
    assert np.max(np.abs(units.mean(axis=0))) < 4 / math.sqrt(4000 * d)
    np.testing.assert_allclose(units.T @ units / len(units), np.eye(d) / d, atol=0.02)


def test_seeding_and_released_weights():
    x, y = _data(seed=4)
    a = output_perturbation(x, y, epsilon=1.0, regularization=0.1, seed=7)
    b = output_perturbation(x, y, epsilon=1.0, regularization=0.1, seed=7)
    c = output_perturbation(x, y, epsilon=1.0, regularization=0.1, seed=8)
    assert np.array_equal(a.weights, b.weights) and not np.array_equal(a.weights, c.weights)
    theta = fit_regularized_logistic(x, y, regularization=0.1)
    np.testing.assert_allclose(a.weights, theta + a.noise, rtol=1e-12)
    assert a.beta == pytest.approx(len(y) * 0.1 * 1.0 / 2)

    o = objective_perturbation(x, y, epsilon=1.0, regularization=0.1, seed=7)
    o2 = objective_perturbation(x, y, epsilon=1.0, regularization=0.1, seed=7)
    assert np.array_equal(o.weights, o2.weights)
    # the released θ is the minimizer of the perturbed objective: its gradient vanishes there
    g = regularized_logistic_loss(o.weights, x, y, regularization=0.1, linear_term=o.noise,
                                  extra_regularization=o.extra_regularization)[1]
    assert np.max(np.abs(g)) < 1e-7
    assert not np.allclose(o.weights, theta)


def test_objective_perturbation_beats_output_perturbation_on_average():
    """The paper's empirical finding (its §6), here on a separable-ish toy problem at ε = 1."""
    x, y = _data(n=400, d=5, seed=5)
    acc = {"out": [], "obj": []}
    for s in range(10):
        acc["out"].append(np.mean(predict_logistic(
            output_perturbation(x, y, epsilon=1.0, regularization=0.01, seed=s).weights, x) == y))
        acc["obj"].append(np.mean(predict_logistic(
            objective_perturbation(x, y, epsilon=1.0, regularization=0.01, seed=s).weights, x) == y))
    assert np.mean(acc["obj"]) > np.mean(acc["out"])


def test_validation():
    x, y = _data(n=10, d=3)
    with pytest.raises(ValueError, match=r"x rows must have L2 norm <= 1 .*got norm 2 in row 0"):
        check_unit_ball(np.vstack([[2.0, 0.0, 0.0], x[1:]]))
    with pytest.raises(ValueError, match="must be finite"):
        check_unit_ball(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="epsilon must be > 0, got -1.0"):
        output_perturbation(x, y, epsilon=-1.0, regularization=0.1)
    with pytest.raises(ValueError, match="epsilon must be a number, got nan"):
        objective_perturbation(x, y, epsilon=float("nan"), regularization=0.1)
    with pytest.raises(ValueError, match="regularization must be > 0, got 0"):
        output_perturbation_sensitivity(num_examples=10, regularization=0)
    with pytest.raises(ValueError, match="num_examples must be an integer >= 1, got 0"):
        objective_perturbation_parameters(epsilon=1.0, num_examples=0, regularization=0.1)
    with pytest.raises(ValueError, match="y must hold 0/1 labels"):
        output_perturbation(x, y + 2, epsilon=1.0, regularization=0.1)
    with pytest.raises(ValueError, match="y must be a vector of 10 labels"):
        regularized_logistic_loss(np.zeros(3), x, y[:5], regularization=0.1)
    with pytest.raises(ValueError, match="beta must be > 0"):
        sample_l2_laplace(dim=3, beta=0.0)
    with pytest.raises(ValueError, match="dim must be an integer >= 1"):
        sample_l2_laplace(dim=0, beta=1.0)
