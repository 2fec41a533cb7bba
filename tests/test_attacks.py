"""Membership inference and gradient inversion (fldp_teach.membership, fldp_teach.inversion):
hand-computed ROC points, the (ε, δ)-DP region against a brute-force search, an overfit model that
leaks and DP-SGD models that stay under the bound, exact inversion of a single-example update,
the batch mix, and the noise that defeats it."""
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fldp_teach.membership import (
    advantage_confidence_margin,
    chance_advantage,
    dp_advantage_bound,
    dp_max_auc,
    dp_max_tpr,
    group_privacy,
    loss_threshold_attack,
    tpr_at_fpr,
)
from fldp_teach.membership_experiment import membership_experiment, membership_split


# ------------------------------------------------------------------------------ attack maths
def test_loss_threshold_attack_by_hand():
    # members' losses 0.1, 0.2, 0.9; non-members' 0.3, 0.8
    r = loss_threshold_attack([0.2, 0.1, 0.9], [0.8, 0.3])
    np.testing.assert_allclose(r.thresholds, [0.1, 0.2, 0.3, 0.8, 0.9, np.inf])
    np.testing.assert_allclose(r.tpr, [0, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 1])
    np.testing.assert_allclose(r.fpr, [0, 0, 0, 0.5, 1, 1])
    # "member iff loss < 0.3": TPR 2/3, FPR 0
    assert r.advantage == pytest.approx(2 / 3) and r.threshold == 0.3
    assert r.balanced_accuracy == pytest.approx(5 / 6)
    # pairs (m < n): 0.1<0.3, 0.1<0.8, 0.2<0.3, 0.2<0.8 → 4 of 6
    assert r.auc == pytest.approx(4 / 6)
    assert tpr_at_fpr(r, fpr=0.0) == pytest.approx(2 / 3)
    assert tpr_at_fpr(r, fpr=0.6) == pytest.approx(2 / 3) and tpr_at_fpr(r, fpr=1.0) == 1.0


def test_auc_is_mann_whitney_and_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    lm = np.round(rng.exponential(0.5, 300), 1)       # rounding makes many ties
    ln = np.round(rng.exponential(1.0, 200), 1)
    r = loss_threshold_attack(lm, ln)
    pairs = (lm[:, None] < ln[None, :]).mean() + 0.5 * (lm[:, None] == ln[None, :]).mean()
    assert r.auc == pytest.approx(pairs, abs=1e-12)
    labels = np.r_[np.ones(lm.size), np.zeros(ln.size)]
    assert r.auc == pytest.approx(roc_auc_score(labels, -np.r_[lm, ln]), abs=1e-12)
    # the advantage is the best threshold's TPR − FPR, found by brute force
    best = max((lm < t).mean() - (ln < t).mean() for t in np.r_[np.unique(np.r_[lm, ln]), np.inf])
    assert r.advantage == pytest.approx(best, abs=1e-12)


def test_dp_region_and_advantage_bound_against_brute_force():
    for eps, delta in [(0.5, 0.0), (1.0, 1e-5), (2.0, 0.05), (0.0, 0.1)]:
        grid = np.linspace(0, 1, 2001)
        f, t = np.meshgrid(grid, grid)
        inside = (t <= math.exp(eps) * f + delta + 1e-12) & (1 - f <= math.exp(eps) * (1 - t) + delta + 1e-12)
        brute = np.max(np.where(inside, t - f, -1))
        bound = dp_advantage_bound(epsilon=eps, delta=delta)
        assert bound == pytest.approx((math.exp(eps) - 1 + 2 * delta) / (math.exp(eps) + 1), abs=1e-12)
        assert brute == pytest.approx(bound, abs=2e-3)
        # the upper edge is the largest TPR inside the region at each FPR
        edge = dp_max_tpr(grid, epsilon=eps, delta=delta)
        np.testing.assert_allclose(edge, np.max(np.where(inside, t, -1), axis=0), atol=1e-3)
        assert np.max(edge - grid) == pytest.approx(bound, abs=1e-3)
    assert dp_advantage_bound(epsilon=1.0) == pytest.approx(math.tanh(0.5))
    assert dp_advantage_bound(epsilon=1000.0, delta=0.0) == 1.0          # no overflow
    assert dp_max_tpr(0.01, epsilon=1.0, delta=1e-5) == pytest.approx(math.e * 0.01 + 1e-5)


def test_randomized_response_attains_the_bound():
    # RR with truth probability p = e^ε/(1+e^ε): "member iff reported bit is 1" has
    # TPR = p, FPR = 1 − p, advantage 2p − 1 = tanh(ε/2), the δ = 0 bound.
    for eps in (0.3, 1.0, 3.0):
        p = math.exp(eps) / (1 + math.exp(eps))
        assert 2 * p - 1 == pytest.approx(dp_advantage_bound(epsilon=eps))
        assert p <= dp_max_tpr(1 - p, epsilon=eps) + 1e-12


def test_auc_bound_closed_form():
    for eps, delta in [(0.5, 0.0), (1.0, 1e-5), (3.0, 0.01), (0.0, 0.2)]:
        grid = np.linspace(0, 1, 200_001)
        numeric = np.trapezoid(dp_max_tpr(grid, epsilon=eps, delta=delta), grid)
        assert dp_max_auc(epsilon=eps, delta=delta) == pytest.approx(numeric, abs=1e-8)
    assert dp_max_auc(epsilon=1.0) == pytest.approx(math.e / (1 + math.e))
    assert dp_max_auc(epsilon=0.0) == pytest.approx(0.5)


def test_group_privacy_by_chaining():
    assert group_privacy(epsilon=0.5, delta=1e-5, group_size=1) == pytest.approx((0.5, 1e-5))
    eps_k, delta_k = group_privacy(epsilon=0.5, delta=1e-5, group_size=3)
    assert eps_k == 1.5
    assert delta_k == pytest.approx(1e-5 * (1 + math.exp(0.5) + math.exp(1.0)))
    assert delta_k <= 3 * math.exp(2 * 0.5) * 1e-5          # the usual looser form
    assert group_privacy(epsilon=0.0, delta=0.01, group_size=4) == (0.0, 0.04)


def test_margins():
    t = math.sqrt(math.log(4 / 0.05) / 200)
    assert advantage_confidence_margin(num_members=100, num_nonmembers=100) == pytest.approx(2 * t)
    assert chance_advantage(num_members=100, num_nonmembers=100) == pytest.approx(
        math.sqrt(math.log(20) / 2) * math.sqrt(0.02))
    # a no-information attacker: the 95 % quantile of its measured advantage is near the formula
    rng = np.random.default_rng(1)
    null = [loss_threshold_attack(rng.random(100), rng.random(100)).advantage for _ in range(600)]
    q95 = np.quantile(null, 0.95)
    assert q95 == pytest.approx(chance_advantage(num_members=100, num_nonmembers=100), rel=0.15)
    assert q95 <= advantage_confidence_margin(num_members=100, num_nonmembers=100)


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="epsilon"):
        dp_advantage_bound(epsilon=-1.0)
    with pytest.raises(ValueError, match="epsilon"):
        dp_advantage_bound(epsilon=float("nan"))
    with pytest.raises(ValueError, match="delta"):
        dp_advantage_bound(epsilon=1.0, delta=1.0)
    with pytest.raises(ValueError, match="fpr"):
        dp_max_tpr(1.5, epsilon=1.0)
    with pytest.raises(ValueError, match="group_size"):
        group_privacy(epsilon=1.0, delta=0.0, group_size=0)
    with pytest.raises(ValueError, match="member_losses"):
        loss_threshold_attack([], [1.0])
    with pytest.raises(ValueError, match="nonmember_losses"):
        loss_threshold_attack([1.0], [np.nan])
    with pytest.raises(ValueError, match="num_members"):
        membership_split(np.zeros((10, 2)), np.zeros(10), num_members=6, seed=0)
    with pytest.raises(ValueError, match="confidence"):
        advantage_confidence_margin(num_members=10, num_nonmembers=10, confidence=1.0)


# ------------------------------------------------------------------------------ the experiment
@pytest.fixture(scope="module")
def trials():
    from fldp_teach.data import load_digits

    ds = load_digits(seed=0, as_images=False)
    split = membership_split(ds.x_train, ds.y_train, num_members=100, seed=0)
    return split, membership_experiment(*split, target_epsilons=(None, 1.0), hidden_units=(64, 64),
                                        epochs=40, batch_size=25, learning_rate=0.005, seed=0)


def test_overfit_model_leaks_membership(trials):
    _, (plain, _) = trials
    assert plain.epsilon == math.inf and plain.member_accuracy == 1.0
    # clearly above what a no-information attacker measures at these sizes (0.17 at 95 %)
    chance = chance_advantage(num_members=100, num_nonmembers=100)
    assert plain.attack.advantage > chance + 0.1
    assert plain.attack.auc > 0.6
    assert np.median(plain.member_losses) < np.median(plain.nonmember_losses)


def test_dp_model_stays_under_the_bound(trials):
    (x_m, _, x_n, _), (_, private) = trials
    assert private.epsilon <= 1.0 and private.noise_multiplier > 1.0
    margin = advantage_confidence_margin(num_members=len(x_m), num_nonmembers=len(x_n))
    assert private.attack.advantage <= dp_advantage_bound(epsilon=private.epsilon, delta=1e-5) + margin
    assert private.attack.auc <= dp_max_auc(epsilon=private.epsilon, delta=1e-5) + margin
    assert private.attack.advantage < trials[1][0].attack.advantage


def test_membership_split_is_disjoint_and_seeded():
    x = np.arange(40, dtype=float).reshape(20, 2)
    y = np.arange(20)
    a = membership_split(x, y, num_members=8, seed=3)
    b = membership_split(x, y, num_members=8, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not set(a[1]) & set(a[3]) and len(a[1]) == len(a[3]) == 8


# ------------------------------------------------------------------------------ gradient inversion
@pytest.fixture(scope="module")
def digits():
    from fldp_teach.data import load_digits

    ds = load_digits(seed=0, as_images=False)
    return ds.x_train[:8], ds.y_train[:8]


@pytest.fixture(scope="module")
def models():
    from fldp_teach.models import logistic_regression, mlp

    return {"logistic": logistic_regression(64, num_classes=10, seed=0),
            "mlp": mlp(64, num_classes=10, hidden_units=(32,), seed=1)}


def test_invert_dense_gradient_by_hand():
    from fldp_teach.inversion import invert_dense_gradient

    x, g = np.array([1.0, -2.0, 0.5]), np.array([0.0, 3.0])
    G = np.outer(x, g)
    np.testing.assert_allclose(invert_dense_gradient(G, g), x)
    np.testing.assert_allclose(invert_dense_gradient(G, g, unit=1), x)
    with pytest.raises(ValueError, match="unit"):
        invert_dense_gradient(G, g, unit=0)            # zero bias gradient there
    with pytest.raises(ValueError, match="grad_bias"):
        invert_dense_gradient(G, np.zeros(2))
    with pytest.raises(ValueError, match="grad_bias"):
        invert_dense_gradient(G, np.zeros(3))
    with pytest.raises(ValueError, match="grad_kernel"):
        invert_dense_gradient(np.ones(3), g)


@pytest.mark.parametrize("name", ["logistic", "mlp"])
def test_single_example_update_gives_x_exactly(models, digits, name):
    from fldp_teach.inversion import dp_dense_gradient, invert_dense_gradient, raw_dense_gradient

    model = models[name]
    x, y = digits[0][:1], digits[1][:1]
    G, g = raw_dense_gradient(model, x, y)
    np.testing.assert_allclose(invert_dense_gradient(G, g), x[0], atol=1e-5)
    j = int(np.argmax(np.abs(g)))
    np.testing.assert_allclose(invert_dense_gradient(G, g, unit=j), x[0], atol=1e-5)
    # an FL update after one SGD step, −η·gradient: the same x
    np.testing.assert_allclose(invert_dense_gradient(-0.1 * G, -0.1 * g), x[0], atol=1e-5)
    # clipping alone scales both gradients by one factor: still exact
    Gc, gc = dp_dense_gradient(model, x, y, clip_norm=0.01, noise_multiplier=0.0)
    assert np.linalg.norm(np.r_[Gc.ravel(), gc]) <= 0.01 + 1e-7
    np.testing.assert_allclose(invert_dense_gradient(Gc, gc), x[0], atol=1e-5)


def test_batch_update_is_a_gradient_weighted_mix(models, digits):
    from fldp_teach.inversion import (invert_dense_gradient, mixing_weights,
                                      per_example_bias_gradients, raw_dense_gradient)

    model = models["logistic"]
    x, y = digits[0][:4], digits[1][:4]
    G, g = raw_dense_gradient(model, x, y)
    W = mixing_weights(per_example_bias_gradients(model, x, y))
    np.testing.assert_allclose(W.sum(axis=0), 1.0, atol=1e-9)
    for j in range(10):
        np.testing.assert_allclose(invert_dense_gradient(G, g, unit=j), W[:, j] @ x, atol=1e-4)
    # for the class of example n its own weight dominates (its ∂ℓ/∂b_y = p_y − 1 < 0)
    for n, label in enumerate(y):
        assert np.argmax(np.abs(W[:, label])) == n


def test_noise_is_dp_sgd_noise(models, digits):
    from fldp_teach.inversion import dp_dense_gradient

    model = models["logistic"]
    x, y = digits[0][:4], digits[1][:4]
    clean = dp_dense_gradient(model, x, y, clip_norm=1.0, noise_multiplier=0.0)
    noisy = dp_dense_gradient(model, x, y, clip_norm=1.0, noise_multiplier=2.0, seed=5)
    residual = np.r_[(noisy[0] - clean[0]).ravel(), noisy[1] - clean[1]]
    # std zC/B = 0.5 over 650 coordinates: the SE of the sample std is ≈ 0.5/sqrt(1300) = 0.014
    assert np.std(residual) == pytest.approx(0.5, abs=0.045)
    again = dp_dense_gradient(model, x, y, clip_norm=1.0, noise_multiplier=2.0, seed=5)
    np.testing.assert_array_equal(noisy[1], again[1])
    other = dp_dense_gradient(model, x, y, clip_norm=1.0, noise_multiplier=2.0, seed=6)
    assert abs(np.corrcoef(noisy[0].ravel() - clean[0].ravel(), other[0].ravel() - clean[0].ravel())[0, 1]) < 0.15


def test_reconstruction_degrades_with_noise(models, digits):
    from fldp_teach.inversion import dp_dense_gradient, invert_dense_gradient, inversion_vs_noise

    model = models["logistic"]
    x, y = digits[0][:1], digits[1][:1]
    zs = [0.0, 0.003, 0.03, 0.3, 3.0]
    sweep = inversion_vs_noise(model, x, y, clip_norm=1.0, noise_multipliers=zs, trials=4, seed=0)
    np.testing.assert_allclose(sweep.raw, x[0], atol=1e-5)
    assert sweep.error[0].max() < 1e-5 and sweep.similarity[0].min() > 1 - 1e-9
    mean_error = sweep.error.mean(axis=1)
    assert np.all(np.diff(mean_error) > 0), mean_error
    assert sweep.similarity[1].min() > 0.99                # z = 0.003: still a clear image
    assert abs(sweep.similarity[-1].mean()) < 0.3          # z = 3: noise
    # trial 0 at each z is the library's DP-SGD update with the same seed
    G, g = dp_dense_gradient(model, x, y, clip_norm=1.0, noise_multiplier=0.3, seed=0)
    np.testing.assert_allclose(sweep.reconstructions[3, 0], invert_dense_gradient(G, g), rtol=1e-6)


def test_inversion_bad_inputs(models, digits):
    import keras

    from fldp_teach.inversion import (cosine_similarity, dense_layer, dp_dense_gradient,
                                      inversion_vs_noise, relative_error)

    model = models["mlp"]
    x, y = digits
    with pytest.raises(ValueError, match="clip_norm"):
        dp_dense_gradient(model, x, y, clip_norm=0.0, noise_multiplier=1.0)
    with pytest.raises(ValueError, match="noise_multiplier"):
        dp_dense_gradient(model, x, y, clip_norm=1.0, noise_multiplier=-1.0)
    with pytest.raises(ValueError, match="noise_multipliers"):
        inversion_vs_noise(model, x, y, clip_norm=1.0, noise_multipliers=[1.0, float("nan")])
    no_bias = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, use_bias=False)])
    with pytest.raises(ValueError, match="layer"):
        dense_layer(no_bias)
    with pytest.raises(ValueError, match="x must"):
        dp_dense_gradient(model, x[:2], y[:3], clip_norm=1.0, noise_multiplier=1.0)
    with pytest.raises(ValueError, match="reconstruction"):
        cosine_similarity(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="original"):
        relative_error(np.ones(3), np.zeros(3))
