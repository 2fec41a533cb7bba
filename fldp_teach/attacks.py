"""Attacks that show what differential privacy protects (article §3.3, claim C5), in one import:
``from fldp_teach.attacks import loss_threshold_attack, invert_dense_gradient``.

One module per concept, re-exported here:

* ``fldp_teach.membership``: the loss-threshold membership-inference attack (Yeom et al. 2018),
  ROC/AUC/advantage, TPR at low FPR (Carlini et al. 2022), and what (ε, δ)-DP allows: the
  hypothesis-testing region, the advantage bound (e^ε − 1 + 2δ)/(e^ε + 1), group privacy;
* ``fldp_teach.membership_experiment``: train overfit and DP-SGD target models and attack them;
* ``fldp_teach.inversion``: the analytic gradient inversion of a Dense layer (Phong et al. 2017),
  on raw updates and on DP-SGD's clipped, noised updates.

Importing this module imports TensorFlow (through ``inversion``); ``fldp_teach.membership``
and ``fldp_teach.membership_experiment`` alone do not. Taught in notebooks/13_what_dp_protects.ipynb.
"""
from fldp_teach.inversion import (
    NoiseSweep,
    cosine_similarity,
    dense_layer,
    dp_dense_gradient,
    invert_dense_gradient,
    inversion_vs_noise,
    mixing_weights,
    per_example_bias_gradients,
    raw_dense_gradient,
    relative_error,
)
from fldp_teach.membership import (
    AttackResult,
    advantage_confidence_margin,
    chance_advantage,
    dp_advantage_bound,
    dp_max_auc,
    dp_max_tpr,
    group_privacy,
    loss_threshold_attack,
    tpr_at_fpr,
)
from fldp_teach.membership_experiment import (
    MembershipTrial,
    membership_experiment,
    membership_split,
    per_example_losses,
)

__all__ = [
    "AttackResult", "MembershipTrial", "advantage_confidence_margin", "chance_advantage",
    "dp_advantage_bound", "dp_max_auc", "dp_max_tpr", "group_privacy", "loss_threshold_attack",
    "membership_experiment", "membership_split", "per_example_losses", "tpr_at_fpr",
    "NoiseSweep", "cosine_similarity", "dense_layer", "dp_dense_gradient", "invert_dense_gradient",
    "inversion_vs_noise", "mixing_weights", "per_example_bias_gradients", "raw_dense_gradient",
    "relative_error",
]
