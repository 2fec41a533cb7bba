"""The article's code (§5.2, explained in §5.3), made runnable: same names, same roles.

The article sketches ``federated_learning_and_differential_privacy`` with inner functions
``local_train_fn``, ``global_merge_fn``, ``local_update_fn``, ``train_fn``, ``train_process``,
a ``LocalModel`` class, an Adam ``optimizer`` and ``preprocess_data``. As printed it cannot run
(claim C7):

* ``tff.tf_server.Server``, ``tff.federated_model.Model``,
  ``tfp.differential_privacy.BatchLaplaceNoiseSampler`` and
  ``tfp.differential_privacy.compute_sensitivity`` do not exist in TensorFlow Federated or
  TensorFlow Privacy (and ``tensorflow_probability``, conventionally ``tfp``, is another library);
* ``epsilon = 1e-6`` is used as the *noise scale*: noise of size 10⁻⁶ on weights of size ~1
  hides nothing — the resulting privacy loss ε is astronomically large (see
  :func:`article_noise_epsilon`);
* ``(local_model_weights + delta) / state`` divides by the global weights: it is not an
  average (FedAvg divides the sum of K updates by K, article Eq. 2);
* ``LocalModel.call`` returns its input (a model that computes nothing); ``local_train_fn``
  calls ``fit(x=..., y=...)``; the inner functions reassign their own names
  (``local_update_fn = local_update_fn`` raises UnboundLocalError); the text calls it
  "PyTorch code".

Here each name is a thin, documented wrapper over the library's federated core
(:mod:`fldp_teach.fedavg`, :mod:`fldp_teach.dp_fedavg`) with the role the article gives it.
The noise is local DP (the article adds noise on each device, Eq. 1, E1): each device clips its
update to C and adds Gaussian noise N(0, z²C²), and ε is accounted over the rounds.
Taught in the notebook on the article's code (§5.2/§5.3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import keras

from fldp_teach._validation import check_non_negative, check_non_negative_int, check_numbers, check_positive, check_seed
from fldp_teach.datasets import ClientData
from fldp_teach.fedavg import ClientUpdate, aggregate, client_seed, server_update

__all__ = [
    "preprocess_data", "LocalModel", "optimizer", "compute_sensitivity", "BatchLaplaceNoiseSampler",
    "article_noise_epsilon", "FederatedLearningParameters", "DifferentialPrivacyParameters",
    "local_train_fn", "global_merge_fn", "local_update_fn", "train_fn", "train_process",
    "federated_learning_and_differential_privacy",
]


def preprocess_data(data, *, mean=None, std=None) -> ClientData:
    """Article: "对数据进行预处理" (clean, standardize) — body ``...``, ``return data``.

    Here: validate, cast to float32 features / int32 labels, and standardize as
    (x − mean)/std with statistics *given* to the device. Each device must use the same
    statistics (or its features mean something different on each device), and statistics
    computed from all devices' raw data would themselves need privacy; passing them in makes
    that choice explicit. ``data`` is ``(x, y)`` or a ClientData."""
    from fldp_teach.datasets import validate_xy

    x, y = (data.x, data.y) if hasattr(data, "x") else data
    x, y = validate_xy(x, y)
    x = x.astype(np.float32)
    if (mean is None) != (std is None):
        raise ValueError(f"mean and std must be given together, got mean={mean!r} and std={std!r}")
    if mean is not None:
        features = x.shape[1:]
        mu = check_numbers("mean", mean, allow_empty=False).astype(np.float32)
        sd = check_numbers("std", std, allow_empty=False).astype(np.float32)
        for name, a in (("mean", mu), ("std", sd)):
            if a.shape not in ((), features, features[-1:]):
                raise ValueError(f"{name} must be a scalar or have shape {features} (the features), got {a.shape}")
        if np.any(sd <= 0):
            raise ValueError(f"std must be > 0 everywhere, got {sd[sd <= 0].flat[0]}")
        x = ((x - mu) / sd).astype(np.float32)
    return ClientData(x, y)


class LocalModel(keras.Model):
    """Article: ``class LocalModel(tf.keras.Model)`` whose ``call`` returns ``x`` unchanged.

    Here: an MLP (``hidden_units=()`` gives logistic regression) that outputs logits for
    ``SparseCategoricalCrossentropy(from_logits=True)``. (The article's
    ``BinaryCrossentropy()`` expects one probability per example; with two logits the sparse
    categorical loss on logits is the consistent choice.) Weights are seeded."""

    def __init__(self, input_dim: int, *, num_classes: int = 2, hidden_units: Sequence[int] = (), seed: int = 0):
        super().__init__()
        seeds = np.random.SeedSequence(seed).generate_state(len(hidden_units) + 1)
        self.hidden = [keras.layers.Dense(h, activation="relu",
                                          kernel_initializer=keras.initializers.GlorotUniform(int(s)))
                       for h, s in zip(hidden_units, seeds)]
        self.logits = keras.layers.Dense(num_classes, kernel_initializer=keras.initializers.GlorotUniform(int(seeds[-1])))
        self(keras.ops.zeros((1, input_dim)))  # build the weights now

    def call(self, x):
        for layer in self.hidden:
            x = layer(x)
        return self.logits(x)


def optimizer(*, learning_rate: float = 1e-3) -> keras.optimizers.Optimizer:
    """Article: ``optimizer = tf.keras.optimizers.Adam()``, one global object for all devices.

    Here a function returning a FRESH Adam (Kingma & Ba 2015) per device and round: a shared
    optimizer would carry one device's moment estimates into the next device's training
    (state leaking between clients) and is global state. Adam is the article's choice;
    FedAvg's analysis (McMahan et al. 2017) uses plain SGD, which the core library uses."""
    return keras.optimizers.Adam(learning_rate=check_positive("learning_rate", learning_rate))


def compute_sensitivity(*, clip_norm: float, neighbouring: str = "replace") -> float:
    """Article: ``tfp.differential_privacy.compute_sensitivity(...)`` — no such function exists.

    The L2 sensitivity of a model update is unbounded until the update is CLIPPED to norm C.
    After clipping, two data sets of one device can give updates up to 2C apart
    (``neighbouring="replace"``, the local-DP notion); adding or removing a whole client
    changes a sum of clipped updates by at most C (``"add_remove"``, central DP-FedAvg)."""
    c = check_positive("clip_norm", clip_norm)
    if neighbouring == "replace":
        return 2 * c
    if neighbouring == "add_remove":
        return c
    raise ValueError(f"neighbouring must be 'replace' or 'add_remove', got {neighbouring!r}")


class BatchLaplaceNoiseSampler:
    """Article: ``tfp.differential_privacy.BatchLaplaceNoiseSampler()`` — no such class exists.

    Here: adds i.i.d. Laplace(b) noise to every tensor of a batch of tensors
    (:func:`fldp_teach.mechanisms.add_laplace_noise`). Laplace noise is ε-DP only with
    b = Δ₁/ε, the L1 sensitivity; an L2 clip C bounds Δ₁ only by √d·C for d parameters, so
    for models the Gaussian mechanism (L2) is the usual choice and what this module uses."""

    def __init__(self, *, scale: float, seed: int | None):
        self.scale = check_non_negative("scale", scale)
        self._rng = np.random.default_rng(seed)

    def __call__(self, tensors):
        from fldp_teach.mechanisms import add_laplace_noise

        return add_laplace_noise([np.asarray(t) for t in tensors], scale=self.scale, seed=self._rng)


def article_noise_epsilon(*, noise: float = 1e-6, clip_norm: float = 1.0, rounds: int = 1, delta: float = 1e-5,
                          neighbouring: str = "replace") -> float:
    """ε of the article's ``epsilon = 1e-6`` used as a Gaussian noise std on one device's update
    clipped to C, composed over ``rounds`` (RDP accountant, Mironov 2017, Prop. 7).

    The noise protects that device's data against a change of its *whole* data set, the local-DP
    relation of :func:`compute_sensitivity`'s default (``neighbouring="replace"``: sensitivity 2C,
    so the effective noise multiplier is noise/(2C), as in ``dp_fedavg.local_epsilon``);
    ``"add_remove"`` uses sensitivity C (multiplier noise/C). For the article's numbers ε is
    astronomically large either way (about 2.1·10¹² and 5.3·10¹¹ for one round): no privacy."""
    from fldp_teach.accounting import Gaussian, RdpAccountant

    rounds = check_non_negative_int("rounds", rounds)
    sensitivity = compute_sensitivity(clip_norm=clip_norm, neighbouring=neighbouring)
    z = check_positive("noise", noise) / sensitivity
    return RdpAccountant().compose(Gaussian(noise_multiplier=z, steps=rounds)).epsilon(delta=delta)


@dataclass(frozen=True)
class FederatedLearningParameters:
    """Article: ``federated_learning_parameters = ...``."""

    rounds: int = 5
    local_epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 1e-2  # Adam


@dataclass(frozen=True)
class DifferentialPrivacyParameters:
    """Article: ``differential_privacy_parameters = ...`` (noise multiplier z, clip norm C, δ)."""

    noise_multiplier: float = 1.0
    clip_norm: float = 1.0
    delta: float = 1e-5


def local_train_fn(state, local_data, *, model, fl: FederatedLearningParameters,
                   dp: DifferentialPrivacyParameters, seed: int | None, client_id: int = 0,
                   noise_seed: int | None = None) -> ClientUpdate:
    """Article: ``local_train_fn(state)`` sets the weights, compiles with Adam, fits, and returns
    ``(weights, delta)`` with ``delta = epsilon * compute_sensitivity(...)``.

    Here: start from the global weights ``state`` (E4), train E epochs with a fresh Adam
    (Keras ``fit``, our own seeded shuffling; the model is compiled once and the Adam state
    reset to zero for each device, which equals a fresh optimizer without retracing), then clip the update Δθ = θ' − θ_g to C and add
    N(0, z²C²) on the device (local DP, E1; :func:`fldp_teach.dp_fedavg.local_dp_update`).
    Returns the noised :class:`~fldp_teach.fedavg.ClientUpdate` — the only thing that leaves
    the device. ``seed`` orders the local batches; the noise follows ``noise_seed`` (None: fresh
    OS entropy; fixed: teaching only, :mod:`fldp_teach.randomness`)."""
    from fldp_teach.dp_fedavg import local_dp_update
    from fldp_teach.dpsgd import check_lot

    seed, noise_seed = check_seed("seed", seed), check_seed("noise_seed", noise_seed)
    client_id = check_non_negative_int("client_id", client_id)
    check_lot(model, local_data.x, local_data.y, allow_empty=False)
    model.set_weights(state)
    if getattr(model, "compiled_learning_rate", None) != fl.learning_rate:
        model.compile(optimizer=optimizer(learning_rate=fl.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.compiled_learning_rate = fl.learning_rate
    else:  # same as a fresh Adam, without recompiling: zero its moments and step counter
        for v in model.optimizer.variables:
            if not v.path.endswith("learning_rate"):
                v.assign(np.zeros(v.shape, dtype=v.dtype))
    rng = np.random.default_rng(seed)
    for _ in range(fl.local_epochs):
        order = rng.permutation(len(local_data.y))
        model.fit(local_data.x[order], local_data.y[order], batch_size=fl.batch_size, epochs=1,
                  shuffle=False, verbose=0)
    update = ClientUpdate([w - g for w, g in zip(model.get_weights(), state)], len(local_data.y),
                          client_id=client_id)
    return local_dp_update(update, clip_norm=dp.clip_norm, noise_multiplier=dp.noise_multiplier,
                           seed=noise_seed)


def global_merge_fn(inputs: Sequence[ClientUpdate], state):
    """Article: ``global_model_weights = (local_model_weights + delta) / state`` — divides by the
    global weights, which is not an average.

    Here: θ_g' = θ_g + (1/K) Σ_k Δθ̃_k, the unweighted mean of the (already noised) updates
    (article Eq. 2; FedAvg with η_g = 1). Returns ``(new_state, new_state)`` like the article."""
    new = server_update(state, aggregate(list(inputs), weighting="uniform"))
    return new, new


def local_update_fn(state, output):
    """Article: ``local_model_weights = global_model_weights`` (from ``output[0]``) — the one
    correct function: every device restarts from the broadcast global model (Eq. 4, E4)."""
    return [np.array(w, copy=True) for w in output[0]]


def train_fn(inputs: Sequence[ClientData], state, *, model, fl, dp, round_index: int, seed: int | None,
             noise_root: int | None = None):
    """Article: ``train_fn(inputs, state)`` returns the weights and ``local_update_fn``.

    Here one round: every device runs :func:`local_train_fn` from ``state``, the server merges
    with :func:`global_merge_fn`, and :func:`local_update_fn` gives the devices their new
    starting weights. Returns the new global weights. ``noise_root``
    (:func:`fldp_teach.randomness.noise_root`) roots the devices' noise; None: fresh entropy."""
    from fldp_teach.randomness import derive

    round_index = check_non_negative_int("round_index", round_index)
    noise_root = check_seed("noise_root", noise_root)
    updates = [local_train_fn(state, data, model=model, fl=fl, dp=dp, client_id=k,
                              seed=client_seed(seed, round_index, k),
                              noise_seed=None if noise_root is None else derive(noise_root, round_index, k))
               for k, data in enumerate(inputs)]
    output = global_merge_fn(updates, state)
    return local_update_fn(state, output)


def train_process(inputs: Sequence[ClientData], state, *, model, fl, dp, seed: int | None,
                  noise_seed: int | None = None) -> tuple[list, list]:
    """Article: ``train_process(inputs)`` wires the functions together (and never loops).

    Here: ``fl.rounds`` rounds of :func:`train_fn`; returns (final weights, per-round weights).
    The noise of every device and round is rooted in ``noise_seed`` (None: fresh OS entropy)."""
    from fldp_teach.randomness import noise_root

    root = noise_root(noise_seed)
    trajectory = []
    for r in range(fl.rounds):
        state = train_fn(inputs, state, model=model, fl=fl, dp=dp, round_index=r, seed=seed, noise_root=root)
        trajectory.append(state)
    return state, trajectory


def federated_learning_and_differential_privacy(local_dataset, federated_learning_parameters=None,
                                                differential_privacy_parameters=None,
                                                global_model_parameters=None, *, seed: int | None = 0,
                                                noise_seed: int | None = None) -> dict:
    """The article's entry point, called as in §5.2 with ``local_device_count = 4``.

    ``local_dataset``: one ``(x, y)`` (or ClientData) per device; the parameters are the two
    records above (or dicts with their fields); ``global_model_parameters``: initial global
    weights, default those of a seeded :class:`LocalModel`. Returns a dict with the final
    ``global_weights``, the ``trajectory`` of weights per round, the local-DP ``epsilon`` after
    all rounds (each device joins every round: ``rounds`` Gaussian releases with sensitivity
    2C, :func:`fldp_teach.dp_fedavg.local_epsilon`) and ``delta``. ``seed`` fixes the model and
    the batches; the noise follows ``noise_seed`` (None: fresh OS entropy, a private run; an
    integer: reproducible, for teaching only)."""
    from fldp_teach.dp_fedavg import local_epsilon

    seed, noise_seed = check_seed("seed", seed), check_seed("noise_seed", noise_seed)
    fl = _record(FederatedLearningParameters, federated_learning_parameters)
    dp = _record(DifferentialPrivacyParameters, differential_privacy_parameters)
    devices = [preprocess_data(d) for d in local_dataset]
    model = LocalModel(devices[0].x.shape[1], seed=0 if seed is None else seed)
    state = model.get_weights() if global_model_parameters is None else [np.asarray(w) for w in global_model_parameters]
    final, trajectory = train_process(devices, state, model=model, fl=fl, dp=dp, seed=seed, noise_seed=noise_seed)
    eps = (local_epsilon(noise_multipliers=[dp.noise_multiplier] * fl.rounds,
                         participations=[list(range(fl.rounds))], delta=dp.delta)
           if dp.noise_multiplier > 0 else math.inf)
    return {"global_weights": final, "trajectory": trajectory, "epsilon": eps, "delta": dp.delta, "model": model,
            "noise_seed": noise_seed}


def _record(cls, value):
    if value is None:
        return cls()
    return value if isinstance(value, cls) else cls(**dict(value))
