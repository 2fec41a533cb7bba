"""The membership-inference experiment: train target models on a member set, with and without
DP-SGD, and attack each with the loss-threshold attack of :mod:`fldp_teach.membership`.

Design (notebooks/13_what_dp_protects.ipynb, article §3.3 claim C5): members and non-members are
drawn from the same data, disjoint and of equal size; every target model is the same
over-parameterized MLP trained the same way, so that the only difference is DP-SGD's clipping and
noise (Abadi et al. 2016, Alg. 1, via ``fldp_teach.training``). Without DP a small member set is
memorised and the attack succeeds (Yeom et al. 2018: overfitting drives membership advantage);
with DP-SGD the advantage must stay under (e^ε − 1 + 2δ)/(e^ε + 1) in expectation.

Layer 2: importing this module is cheap; the functions import TensorFlow when called.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fldp_teach._validation import check_open_unit, check_positive, check_positive_int, check_seed
from fldp_teach.membership import AttackResult, loss_threshold_attack

__all__ = ["MembershipTrial", "membership_split", "per_example_losses", "membership_experiment"]


# ------------------------------------------------------------------------------ the experiment
@dataclass(frozen=True, eq=False)
class MembershipTrial:
    """One target model of :func:`membership_experiment`. ``epsilon`` = ∞ for the non-private
    model; ``attack``: :func:`loss_threshold_attack` on its member/non-member losses."""

    label: str
    epsilon: float
    noise_multiplier: float
    member_losses: np.ndarray
    nonmember_losses: np.ndarray
    member_accuracy: float
    nonmember_accuracy: float
    attack: AttackResult


def membership_split(x, y, *, num_members, seed):
    """Draw 2·``num_members`` distinct examples at random: the first half are the members
    (the training set of the target model), the second half the non-members (same
    distribution, never trained on). Returns ``(x_members, y_members, x_nonmembers,
    y_nonmembers)``."""
    from fldp_teach.datasets import validate_xy

    n = check_positive_int("num_members", num_members)
    x, y = validate_xy(x, y)
    if 2 * n > len(y):
        raise ValueError(f"num_members must be <= half the examples ({len(y) // 2}), got {n}")
    order = np.random.default_rng(check_seed("seed", seed)).permutation(len(y))
    members, nonmembers = order[:n], order[n:2 * n]
    return x[members], y[members], x[nonmembers], y[nonmembers]


def per_example_losses(model, x, y) -> np.ndarray:
    """ℓ(θ, x_i) = −log softmax(f(x_i))[y_i] for every example: what the attacker computes
    (it needs the model's outputs on x and the true label; ``fldp_teach.dpsgd.per_example_loss``)."""
    from fldp_teach.dpsgd import check_lot, per_example_loss

    x, y = check_lot(model, x, y)
    return np.asarray(per_example_loss(y, model(x, training=False)), dtype=np.float64)


def _accuracy(model, x, y) -> float:
    logits = np.asarray(model(np.asarray(x, dtype=np.float32), training=False))
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(y)))


def membership_experiment(x_members, y_members, x_nonmembers, y_nonmembers, *,
                          target_epsilons=(None, 8.0, 2.0, 1.0), delta=1e-5,
                          hidden_units=(128, 128), epochs=100, batch_size=50,
                          learning_rate=0.005, optimizer="adam", clip_norm=1.0,
                          seed=0, noise_seed=None, progress=False) -> tuple[MembershipTrial, ...]:
    """Train one target model per entry of ``target_epsilons`` on the members and attack it.

    Every model is the same over-parameterized MLP (``fldp_teach.models.mlp``, seed ``seed``),
    trained with the same optimizer, epochs and batch size by ``fldp_teach.training``:
    ``None`` → non-private (``train_sgd``, shuffled batches; it overfits), a number ε →
    DP-SGD (``train_dp_sgd``, Poisson lots, clip ``clip_norm``, noise calibrated to reach ε at
    ``delta`` after all epochs). Each model is then attacked with
    :func:`loss_threshold_attack` on members vs non-members. ``seed`` fixes the models'
    initial weights and the non-private batches; the DP-SGD noise and lots follow
    ``noise_seed`` (None: fresh OS entropy; fixed: reproducible, for teaching only)."""
    from fldp_teach.models import mlp
    from fldp_teach.training import train_dp_sgd, train_sgd

    from fldp_teach.datasets import validate_xy

    check_open_unit("delta", delta)
    seed, noise_seed = check_seed("seed", seed), check_seed("noise_seed", noise_seed)
    x_m, y_m = validate_xy(x_members, y_members, x_name="x_members", y_name="y_members")
    x_n, y_n = validate_xy(x_nonmembers, y_nonmembers, x_name="x_nonmembers", y_name="y_nonmembers")
    if x_m.shape[1:] != x_n.shape[1:]:
        raise ValueError(f"x_nonmembers must have the feature shape of x_members {x_m.shape[1:]}, got {x_n.shape[1:]}")
    x_m = x_m.astype(np.float32)
    x_nonmembers, y_nonmembers = x_n.astype(np.float32), y_n
    if target_epsilons is None or isinstance(target_epsilons, (str, bytes)) or not hasattr(target_epsilons, "__iter__"):
        raise TypeError(f"target_epsilons must be a sequence of None (no DP) and epsilons, got {target_epsilons!r}")
    target_epsilons = [None if t is None else check_positive(f"target_epsilons[{i}]", t)
                       for i, t in enumerate(target_epsilons)]
    if not target_epsilons:
        raise ValueError("target_epsilons must name at least one model (None or an epsilon), got none")
    num_classes = int(max(np.max(y_m), np.max(y_n))) + 1
    if num_classes > 2**16:
        raise ValueError(f"y_members and y_nonmembers must be class labels < 2**16 (one logit each), "
                         f"got {num_classes - 1}")
    trials = []
    for target in target_epsilons:
        model = mlp(x_m.shape[1], num_classes=max(num_classes, 2), hidden_units=hidden_units,
                    seed=seed)
        common = dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                      optimizer=optimizer, seed=seed, progress=progress)
        if target is None:
            train_sgd(model, x_m, y_m, **common)
            epsilon, z, label = math.inf, 0.0, "no DP"
        else:
            try:
                history = train_dp_sgd(model, x_m, y_m, clip_norm=clip_norm, delta=delta,
                                       target_epsilon=target, noise_seed=noise_seed, **common)
            except ValueError as err:
                if "target_epsilon" not in str(err):
                    raise
                raise ValueError(f"target_epsilons: {err}") from None
            epsilon, z = history.epsilon[-1], history.noise_multiplier
            label = f"DP-SGD, ε = {epsilon:.2g}"
        lm = per_example_losses(model, x_m, y_m)
        ln = per_example_losses(model, x_nonmembers, y_nonmembers)
        trials.append(MembershipTrial(
            label=label, epsilon=float(epsilon), noise_multiplier=float(z), member_losses=lm,
            nonmember_losses=ln, member_accuracy=_accuracy(model, x_m, y_m),
            nonmember_accuracy=_accuracy(model, x_nonmembers, y_nonmembers),
            attack=loss_threshold_attack(lm, ln)))
    return tuple(trials)
