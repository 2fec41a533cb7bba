"""Membership inference: the loss-threshold attack, and what (ε, δ)-DP says about it.

The question an attacker asks: *was this person's record in the training data?* (article §3.3,
claim C5: "DP protects only individuals"). Membership is exactly what DP is designed to hide.

The attack (Yeom, Giacomelli, Fredrikson & Jha 2018, "Privacy Risk in Machine Learning:
Analyzing the Connection to Overfitting", IEEE CSF, §3; the "LOSS attack" of Carlini et al.
2022): a model fits its training examples better than fresh ones, so

    guess "member"  ⇔  ℓ(θ, x) < τ          (ℓ = per-example cross-entropy, τ a threshold).

Over members (true positives) and non-members (false positives):

    TPR(τ) = P[ℓ < τ | member],   FPR(τ) = P[ℓ < τ | non-member],
    advantage(τ) = TPR(τ) − FPR(τ)          (Yeom et al. 2018, Def. 4, membership advantage),
    balanced accuracy = (TPR + 1 − FPR)/2 = (1 + advantage)/2.

Sweeping τ traces the ROC curve; its area (AUC) is P[ℓ_member < ℓ_non-member] (+ ½ of ties),
the Mann–Whitney statistic. Carlini, Chien, Nasr, Song, Terzis & Tramèr (2022), "Membership
Inference Attacks From First Principles", IEEE S&P, argue for reporting the TPR at a low FPR
(e.g. 1 %): an attack that is sure about a few people is worse than its AUC suggests.

What DP guarantees (the hypothesis-testing view). Kairouz, Oh & Viswanath (2015), "The
Composition Theorem for Differential Privacy", ICML, Thm 2.1 (after Wasserman & Zhou 2010):
a mechanism is (ε, δ)-DP iff every test between neighbouring data sets has

    TPR ≤ e^ε · FPR + δ      and      1 − FPR ≤ e^ε · (1 − TPR) + δ.                  (region)

Swapping a member for a fresh record from the same distribution gives a neighbouring data
set, so for i.i.d. records the attack's *expected* TPR and FPR obey the same region
(Humphries et al. 2023, "Investigating Membership Inference Attacks under Data
Dependencies", IEEE CSF, who also show it fails when records are dependent). The region's
corner farthest from the diagonal, FPR = (1 − δ)/(e^ε + 1), gives

    advantage ≤ (e^ε − 1 + 2δ)/(e^ε + 1) = (1 − δ)·tanh(ε/2) + δ,                       (bound)

and the area under the region's upper edge bounds the AUC (e^ε/(1 + e^ε) when δ = 0).
Layer 1: numpy only. The experiment that trains target models and attacks them is
:mod:`fldp_teach.membership_experiment`. Taught in notebooks/13_what_dp_protects.ipynb.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fldp_teach._validation import (
    check_non_negative,
    check_numbers,
    check_open_unit,
    check_positive_int,
    check_unit_interval,
)

__all__ = [
    "AttackResult",
    "loss_threshold_attack",
    "tpr_at_fpr",
    "dp_advantage_bound",
    "dp_max_tpr",
    "dp_max_auc",
    "group_privacy",
    "advantage_confidence_margin",
    "chance_advantage",
]


# ------------------------------------------------------------------------------ the attack
@dataclass(frozen=True, eq=False)
class AttackResult:
    """The loss-threshold attack on one model. ``fpr``, ``tpr``, ``thresholds``: the ROC
    curve, one point per threshold τ (rule ``loss < τ``), from (0, 0) to (1, 1);
    ``advantage``: max_τ TPR − FPR and ``threshold`` the τ attaining it;
    ``balanced_accuracy`` = (1 + advantage)/2; ``auc``: area under the ROC curve."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float
    advantage: float
    threshold: float
    balanced_accuracy: float
    num_members: int
    num_nonmembers: int


def _losses(name, values) -> np.ndarray:
    a = check_numbers(name, values).astype(np.float64).reshape(-1)
    if a.size == 0:
        raise ValueError(f"{name} must be a non-empty array of losses, got size 0")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {a[~np.isfinite(a)][:3]} among them")
    return a


def loss_threshold_attack(member_losses, nonmember_losses) -> AttackResult:
    """Yeom et al. (2018) loss-threshold attack, "member ⇔ loss < τ", for every τ.

    Candidate thresholds are the distinct losses and +∞ (every other τ gives one of these
    decisions). TPR(τ) = #{members with ℓ < τ}/n_m, FPR(τ) = #{non-members with ℓ < τ}/n_n.
    AUC is the trapezoid area under the ROC, which equals the Mann–Whitney probability
    P[ℓ_m < ℓ_n] + ½ P[ℓ_m = ℓ_n] over all (member, non-member) pairs.
    """
    members = np.sort(_losses("member_losses", member_losses))
    nonmembers = np.sort(_losses("nonmember_losses", nonmember_losses))
    thresholds = np.append(np.unique(np.concatenate([members, nonmembers])), np.inf)
    tpr = np.searchsorted(members, thresholds, side="left") / members.size
    fpr = np.searchsorted(nonmembers, thresholds, side="left") / nonmembers.size
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    gap = tpr - fpr
    best = int(np.argmax(gap))
    advantage = float(gap[best])
    return AttackResult(fpr=fpr, tpr=tpr, thresholds=thresholds, auc=auc, advantage=advantage,
                        threshold=float(thresholds[best]), balanced_accuracy=(1.0 + advantage) / 2.0,
                        num_members=members.size, num_nonmembers=nonmembers.size)


def tpr_at_fpr(result: AttackResult, *, fpr: float) -> float:
    """The largest TPR among thresholds whose FPR ≤ ``fpr`` (Carlini et al. 2022 recommend
    reporting TPR at a low FPR, e.g. 0.1 % or 1 %). With n non-members the smallest non-zero FPR is 1/n."""
    fpr = check_unit_interval("fpr", fpr)
    ok = result.fpr <= fpr + 1e-12
    return float(np.max(result.tpr[ok]))


# ------------------------------------------------------------------------------ what DP allows
def _check_epsilon_delta(epsilon, delta):
    epsilon = check_non_negative("epsilon", epsilon)
    delta = check_unit_interval("delta", delta)
    if delta == 1.0:
        raise ValueError(f"delta must be < 1, got {delta!r}")
    return epsilon, delta


def dp_advantage_bound(*, epsilon, delta=0.0) -> float:
    """max TPR − FPR over the (ε, δ)-DP region: (e^ε − 1 + 2δ)/(e^ε + 1) = (1 − δ)tanh(ε/2) + δ.

    The maximum of a linear function over the convex region of the module docstring sits at
    the corner where both edges meet: TPR = e^ε FPR + δ and 1 − FPR = e^ε(1 − TPR) + δ give
    FPR = (1 − δ)/(e^ε + 1), TPR = e^ε(1 − δ)/(e^ε + 1) + δ. (Kairouz et al. 2015, Thm 2.1;
    Humphries et al. 2023 state this advantage bound; δ = 0 gives tanh(ε/2), notebook 01.)"""
    epsilon, delta = _check_epsilon_delta(epsilon, delta)
    return (1.0 - delta) * math.tanh(epsilon / 2.0) + delta


def dp_max_tpr(fpr, *, epsilon, delta=0.0):
    """The upper edge of the (ε, δ)-DP region: the largest TPR any attack can reach at ``fpr``,

        TPR_max(α) = min(1, e^ε α + δ, 1 − e^{−ε}(1 − δ − α)),   α = FPR ∈ [0, 1]

    (both inequalities of Kairouz et al. 2015, Thm 2.1, solved for TPR; equivalently 1 − f(α)
    for the trade-off function f_{ε,δ} of Dong, Roth & Su 2022, "Gaussian Differential
    Privacy", JRSS-B). At low FPR it is
    e^ε·FPR + δ: the TPR-at-low-FPR view of Carlini et al. (2022). Scalar in, float out."""
    epsilon, delta = _check_epsilon_delta(epsilon, delta)
    if isinstance(fpr, (bool, np.bool_)):
        raise TypeError(f"fpr must be a number in [0, 1], got {fpr!r}")
    alpha = check_numbers("fpr", fpr, finite=False).astype(np.float64)
    if np.any(np.isnan(alpha)) or np.any((alpha < 0) | (alpha > 1)):
        raise ValueError(f"fpr must be in [0, 1], got {fpr!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        first = np.where(alpha > 0, np.exp(epsilon) * alpha, 0.0) + delta
    second = 1.0 - np.exp(-epsilon) * (1.0 - delta - alpha)
    out = np.minimum(1.0, np.minimum(first, second))
    return float(out) if out.ndim == 0 else out


def dp_max_auc(*, epsilon, delta=0.0) -> float:
    """Area under :func:`dp_max_tpr`, an upper bound on the AUC of any membership test against
    an (ε, δ)-DP model. With α* = (1 − δ)/(e^ε + 1) (the corner) the edge is e^ε α + δ on
    [0, α*], 1 − e^{−ε}(1 − δ − α) on [α*, 1 − δ] and 1 on [1 − δ, 1], so

        AUC_max = e^ε α*²/2 + δ α* + (1 − δ − α*) − e^{−ε}(1 − δ − α*)²/2 + δ,

    which is e^ε/(1 + e^ε) for δ = 0 (the best success probability of notebook 01)."""
    epsilon, delta = _check_epsilon_delta(epsilon, delta)
    corner = (1.0 - delta) / (math.exp(epsilon) + 1.0) if epsilon < 700 else 0.0
    rest = 1.0 - delta - corner
    first = (math.exp(epsilon) * corner * corner / 2.0 if corner > 0 else 0.0) + delta * corner
    return first + rest - math.exp(-epsilon) * rest * rest / 2.0 + delta


def group_privacy(*, epsilon, delta, group_size) -> tuple[float, float]:
    """(ε_k, δ_k) for data sets that differ in k = ``group_size`` records: chaining the
    definition k times through k − 1 intermediate data sets,

        P[M(D_0) ∈ S] ≤ e^{kε} P[M(D_k) ∈ S] + δ (1 + e^ε + … + e^{(k−1)ε}),

    so ε_k = kε and δ_k = δ (e^{kε} − 1)/(e^ε − 1) (= kδ at ε = 0; ≤ k e^{(k−1)ε} δ, the form
    usually quoted). Dwork & Roth (2014), "The Algorithmic Foundations of Differential
    Privacy", Thm 2.2 (δ = 0). A family of k patients is protected k times more weakly."""
    epsilon = check_non_negative("epsilon", epsilon)
    delta = check_unit_interval("delta", delta)
    k = check_positive_int("group_size", group_size)
    if epsilon == 0:
        return 0.0, min(1.0, k * delta)
    delta_k = delta * math.expm1(k * epsilon) / math.expm1(epsilon) if k * epsilon < 700 else math.inf
    return k * epsilon, min(1.0, delta_k)


def advantage_confidence_margin(*, num_members, num_nonmembers, confidence=0.95) -> float:
    """t_m + t_n with t = sqrt(ln(4/(1 − confidence)) / (2n)): with probability ≥ ``confidence``
    the measured max_τ (TPR − FPR) exceeds the expected curve's by at most this much.

    The Dvoretzky–Kiefer–Wolfowitz inequality with Massart's (1990) constant,
    P[sup_τ |F̂_n(τ) − F(τ)| > t] ≤ 2 e^{−2nt²}, applied to the members' and the non-members'
    loss distributions with failure probability (1 − confidence)/2 each: a binomial margin
    made uniform over all thresholds, so it survives choosing τ after looking. (It treats
    the n losses as independent draws, which is an idealisation: they share one model.)"""
    n_m = check_positive_int("num_members", num_members)
    n_n = check_positive_int("num_nonmembers", num_nonmembers)
    confidence = check_open_unit("confidence", confidence)
    log_term = math.log(4.0 / (1.0 - confidence))
    return math.sqrt(log_term / (2 * n_m)) + math.sqrt(log_term / (2 * n_n))


def chance_advantage(*, num_members, num_nonmembers, level=0.05) -> float:
    """The advantage an attacker with *no* information still measures with probability
    ``level``: the (1 − level) quantile of max_τ (TPR − FPR) when members' and non-members'
    losses have the same distribution. That statistic is the one-sided two-sample
    Kolmogorov–Smirnov statistic D⁺, and Smirnov's asymptotic law P[D⁺ > c·sqrt((n+m)/(nm))]
    → e^{−2c²} gives c = sqrt(ln(1/level)/2). Measured advantages below this are noise."""
    n_m = check_positive_int("num_members", num_members)
    n_n = check_positive_int("num_nonmembers", num_nonmembers)
    level = check_open_unit("level", level)
    return math.sqrt(math.log(1.0 / level) / 2.0) * math.sqrt((n_m + n_n) / (n_m * n_n))
