"""DP-SGD inside ``model.fit``: the Keras 3 face of :mod:`fldp_teach.dpsgd`.

TF Privacy gave Keras 2 users ``DPKerasSGDOptimizer`` and ``DPSequential``; its last release
(0.9.0) does not import on TF ≥ 2.16 / Keras 3. This module gives Keras 3 users the same
workflow on the library's own step (docs/keras.md maps TF Privacy's names to ours)::

    private = make_private(model, clip_norm=1.0, noise_multiplier=1.1,
                           batch_size=32, num_examples=len(y_train))
    private.compile(optimizer=keras.optimizers.SGD(0.5),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    history = private.fit(x_train, y_train, epochs=30, validation_data=(x_test, y_test),
                          callbacks=[PrivacyCallback(delta=1e-5, target_epsilon=3.0)])
    history.history["epsilon"]        # ε after each epoch, from the accountant

What runs, and why it is the library's DP-SGD and not a second copy of it:

* ``PrivateModel.train_step`` is one call of :func:`fldp_teach.dpsgd.dp_gradient` (clip →
  sum → noise → divide by the *expected* lot size B = qN; ghost norms of
  :mod:`fldp_teach.ghost_norms`, with the vectorized fallback for the models they do not
  cover), then ``optimizer.apply_gradients`` — exactly what
  :func:`fldp_teach.training.train_dp_sgd` compiles for each step.
* Lots are Poisson samples (each example joins each lot independently with probability
  q = B/N), the sampling the accountant charges (``SampledGaussian``). ``fit`` on arrays
  draws them itself; a ``tf.data`` pipeline must come from :func:`poisson_dataset` (or
  :meth:`PrivateModel.poisson_dataset`): ``fit`` refuses shuffled fixed-size batches, whose
  ε the Poisson accountant would under-report (Chua et al. 2024, "How private are DP-SGD
  implementations?", ICML).
* The privacy coins follow :mod:`fldp_teach.randomness`: fresh OS entropy unless a
  ``noise_seed`` is passed (then the teaching notice is printed). The lots and the noise
  come from the same two streams as ``train_dp_sgd``'s (``derive(root, 1)`` and
  ``derive(root, 2)``), so the same ``noise_seed`` gives the same lots, the same noise and —
  to float rounding — the same weights (tests/test_keras_api.py checks it). Without a seed
  the noise is drawn for many steps at once (:class:`NoiseBuffer`, ``noise="batched"``):
  the same law, a smaller fixed cost per step.
* The same refusals as the library: BatchNormalization-like state
  (:func:`fldp_teach.dpsgd.check_dp_sgd_model`), losses other than softmax cross-entropy on
  logits, per-example weights, regularisation losses. Tied weights are not refused: as in
  the library they leave the ghost-norm path for the vectorized one (``private.method``
  says which ran, ``private.fast_path_reason`` why).

:class:`PrivacyCallback` writes ε into ``history.history["epsilon"]`` after every epoch
(``accounting.dp_sgd_epsilon`` of the steps actually run) and, given ``target_epsilon``,
stops *before* the step (or epoch) that would exceed it. The logged training loss and
accuracy are computed on the private lots and are for the teacher, as in ``train_dp_sgd``:
releasing them would itself cost privacy. Taught in the DP-SGD notebook.
"""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from fldp_teach import accounting, randomness
from fldp_teach._validation import (
    check_delta_for_size,
    check_non_negative,
    check_non_negative_int,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_unit_interval,
)
from fldp_teach.dpsgd import NoiseBuffer, check_dp_sgd_model, default_noise, dp_gradient
from fldp_teach.ghost_norms import ghost_norms_supported
from fldp_teach.training import _LOTS, _NOISE, _check_data, poisson_lot

__all__ = [
    "PrivateModel",
    "make_private",
    "poisson_dataset",
    "is_poisson_dataset",
    "check_supported_loss",
    "PrivacyCallback",
    "NoiseBuffer",
]


# ----------------------------------------------------------------------------------- lots
#: tf.data transformations that keep "one element = one Poisson lot": they change what is in
#: a lot element-wise, its timing or how many lots are taken, never who is in a lot.
_LOT_PRESERVING = ("MapDataset", "ParallelMapDataset", "PrefetchDataset", "OptionsDataset",
                   "RepeatDataset", "TakeDataset", "CacheDataset")


class _PoissonLots:
    """What :func:`poisson_dataset` records on the dataset it returns (``_fldp_poisson``)."""

    def __init__(self, sampling_rate, num_examples, noise_seed):
        self.sampling_rate, self.num_examples, self.noise_seed = (
            sampling_rate, num_examples, noise_seed)


def _examples_of(x, y):
    """(x, y) as arrays: arrays as given, or an *unbatched* ``tf.data.Dataset`` of (x_i, y_i)
    pairs read once into memory (a Poisson lot needs an independent coin per example, so the
    examples must be addressable)."""
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise ValueError("give y only with array inputs; a dataset carries its labels")
        if _is_batched(x):
            raise ValueError(
                "poisson_dataset needs the dataset of single examples (x_i, y_i), not a "
                "batched one: call it before .batch(), or pass the arrays")
        xs, ys = [], []
        for element in x.as_numpy_iterator():
            if not isinstance(element, tuple) or len(element) != 2:
                raise ValueError("the dataset must yield (x_i, y_i) pairs")
            xs.append(element[0])
            ys.append(element[1])
        return np.stack(xs), np.asarray(ys)
    if y is None:
        raise ValueError("y (the integer labels) is required with array inputs")
    return x, y


def _is_batched(dataset) -> bool:
    name = type(dataset).__name__
    return "Batch" in name or any(_is_batched(d) for d in _inputs(dataset))


def _inputs(dataset):
    try:
        return list(dataset._inputs())  # tf.data's own input chain (private but stable)
    except Exception:  # pragma: no cover - a future tf.data without _inputs
        return []


def _lots(x, y, *, sampling_rate, steps, generator, model=None):
    """``steps`` Poisson lots of (x, y) drawn with ``generator`` (``training.poisson_lot``:
    the draw ``train_dp_sgd`` makes for each of its steps, in the same order)."""
    if model is not None:
        x, y = _check_data(model, x, y)
    else:
        from fldp_teach.datasets import validate_xy

        x, y = validate_xy(x, y)
        x = x.astype(np.float32)
    num_examples = len(y)
    x_all, y_all = tf.constant(x), tf.constant(y)

    def draw(_):
        lot = poisson_lot(generator, num_examples=num_examples, sampling_rate=sampling_rate)
        return tf.gather(x_all, lot), tf.gather(y_all, lot)

    # no parallel calls: lots come out in the order the generator draws them
    return tf.data.Dataset.range(steps).map(draw).prefetch(1), num_examples


def poisson_dataset(x, y=None, *, sampling_rate, steps, noise_seed=None):
    """A ``tf.data.Dataset`` of ``steps`` Poisson lots of ``(x, y)``: in every lot each example
    is present independently with probability ``sampling_rate`` = q (lot sizes are
    Binomial(N, q) and may be 0), what :func:`fldp_teach.accounting.dp_sgd_epsilon` assumes.

    ``x``: an array (with ``y`` the integer labels) or an unbatched ``tf.data.Dataset`` of
    (x_i, y_i) pairs, read once into memory. Each pass over the dataset (each Keras epoch)
    draws fresh lots. The coins come from ``noise_seed`` as in
    :func:`fldp_teach.training.train_dp_sgd` (same stream: the same seed gives the same
    lots); None draws OS entropy, an integer prints the teaching notice. Lots stay lots
    through ``map``, ``prefetch``, ``repeat``, ``take`` and ``cache``; :class:`PrivateModel`
    ``.fit`` refuses any other dataset. Prefer :meth:`PrivateModel.poisson_dataset`, which
    takes q from the model."""
    sampling_rate = check_unit_interval("sampling_rate", sampling_rate)
    steps = check_positive_int("steps", steps)
    _print_notice(noise_seed)
    root = randomness.noise_root(noise_seed)
    generator = randomness.tf_generator(randomness.derive(root, _LOTS))
    x, y = _examples_of(x, y)
    dataset, num_examples = _lots(x, y, sampling_rate=sampling_rate, steps=steps,
                                  generator=generator)
    dataset._fldp_poisson = _PoissonLots(sampling_rate, num_examples, noise_seed)
    return dataset


def is_poisson_dataset(dataset):
    """The record of :func:`poisson_dataset` behind ``dataset`` (through lot-preserving
    transformations only), or None: a plain ``shuffle().batch()`` pipeline gives None."""
    record = getattr(dataset, "_fldp_poisson", None)
    if record is not None:
        return record
    if type(dataset).__name__.lstrip("_") not in _LOT_PRESERVING:
        return None
    inputs = _inputs(dataset)
    return is_poisson_dataset(inputs[0]) if len(inputs) == 1 else None


def _print_notice(noise_seed):
    notice = randomness.noise_seed_notice(noise_seed)
    if notice:
        print(notice)


# ----------------------------------------------------------------------------------- loss
def check_supported_loss(loss):
    """The loss :class:`PrivateModel` trains with, or ValueError naming the one refused.

    DP-SGD here clips the gradient of L_i = −log softmax(f(x_i))[y_i] (``dpsgd.per_example_loss``:
    logits, integer labels). Accepted: None (that loss) and
    ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``. Refused: the string
    "sparse_categorical_crossentropy" and ``from_logits=False`` (they read the logits as
    probabilities), ``ignore_class``, and every other loss."""
    if loss is None:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        config = loss.get_config()
        if not config.get("from_logits", False):
            raise ValueError(
                "loss SparseCategoricalCrossentropy(from_logits=False) reads the model's "
                "outputs as probabilities; DP-SGD here trains models that output logits: "
                "use keras.losses.SparseCategoricalCrossentropy(from_logits=True)")
        if config.get("ignore_class") is not None:
            raise ValueError(
                f"loss SparseCategoricalCrossentropy(ignore_class={config['ignore_class']!r}) "
                "is not supported: the per-example loss of DP-SGD counts every example")
        return loss
    name = (loss if isinstance(loss, str)
            else getattr(loss, "name", None) or getattr(loss, "__name__", None)
            or type(loss).__name__)
    hint = (" (the string form means from_logits=False)"
            if isinstance(loss, str) and "sparse_categorical" in loss else "")
    raise ValueError(
        f"loss {name!r}{hint} is not supported by DP-SGD here, which clips the gradient of the "
        "softmax cross-entropy on logits with integer labels (dpsgd.per_example_loss); use "
        "keras.losses.SparseCategoricalCrossentropy(from_logits=True) or loss=None")


def _check_no_regularizers(model):
    """Regularisation losses are not part of L_i (``dpsgd``: ``model.losses`` are ignored by
    the library's step); for a Keras user they would be silently dropped, so refuse them."""
    from fldp_teach.dpsgd import _sublayers

    for layer in _sublayers(model):
        for attribute in ("kernel_regularizer", "bias_regularizer", "embeddings_regularizer",
                          "recurrent_regularizer", "depthwise_regularizer",
                          "pointwise_regularizer", "activity_regularizer", "gamma_regularizer",
                          "beta_regularizer"):
            if getattr(layer, attribute, None) is not None:
                raise ValueError(
                    f"layer {layer.name!r} ({type(layer).__name__}) has {attribute}: DP-SGD "
                    "clips and noises the gradient of the per-example loss only, and the "
                    "library's step leaves model.losses out; remove the regulariser (use "
                    "the optimizer's weight_decay, which does not read the data)")
    if isinstance(model, keras.layers.ActivityRegularization) or any(
            isinstance(layer, keras.layers.ActivityRegularization)
            for layer in _sublayers(model)):
        raise ValueError("ActivityRegularization layers add a data-dependent loss outside "
                         "DP-SGD's clipped per-example loss: remove them")


# ----------------------------------------------------------------------------- the model
class PrivateModel(keras.Model):
    """A Keras model whose ``fit`` trains ``model`` with DP-SGD (Abadi et al. 2016, Alg. 1).

    It wraps ``model`` (whose variables it trains in place: ``private.model`` is the model
    you passed, to save or deploy) and overrides ``train_step``; ``compile``, ``fit`` (with
    callbacks, ``validation_data``, the progress bar), ``evaluate`` and ``predict`` are
    Keras'. Make it with :func:`make_private`. Attributes: ``clip_norm`` C,
    ``noise_multiplier`` z, ``batch_size`` B (the expected lot size, the denominator of the
    noisy mean), ``num_examples`` N, ``sampling_rate`` q = B/N, ``method`` ("fast" or
    "vectorized", what runs), ``noise_seed``, ``steps`` (DP-SGD steps taken so far) and
    :meth:`epsilon`."""

    def __init__(self, model, *, clip_norm, noise_multiplier, batch_size, num_examples,
                 noise_seed=None, method="fast", noise="auto", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, keras.Model):
            raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
        if not model.built:
            raise ValueError("build the model first (give it a keras.Input, or call it on a "
                             "batch): DP-SGD needs its variables to exist")
        check_dp_sgd_model(model)
        _check_no_regularizers(model)
        if len(model.outputs or [None]) != 1 or len(model.output_shape) != 2:
            raise ValueError(f"the model must have one output of shape (batch, num_classes) "
                             f"(logits), got output shape {model.output_shape}")
        clip_norm = check_positive("clip_norm", clip_norm, allow_inf=True)
        noise_multiplier = check_non_negative("noise_multiplier", noise_multiplier)
        if noise_multiplier > 0 and math.isinf(clip_norm):
            raise ValueError("clip_norm must be finite when noise_multiplier > 0, got inf")
        num_examples = check_positive_int("num_examples", num_examples)
        batch_size = check_positive_int("batch_size", batch_size)
        if batch_size > num_examples:
            raise ValueError(f"batch_size must be <= num_examples ({num_examples}), "
                             f"got {batch_size}")
        if method not in ("fast", "vectorized"):
            raise ValueError(f"method must be 'fast' or 'vectorized', got {method!r}")
        self.fast_path_reason = ""
        if method == "fast":
            supported, self.fast_path_reason = ghost_norms_supported(model)
            method = "fast" if supported else "vectorized"
        self.model = model
        self.clip_norm, self.noise_multiplier = clip_norm, noise_multiplier
        self.batch_size, self.num_examples = batch_size, num_examples
        self.sampling_rate = batch_size / num_examples
        self.method, self.noise_seed = method, noise_seed
        _print_notice(noise_seed)
        root = randomness.noise_root(noise_seed)  # one run's private coins, as train_dp_sgd
        self._lot_generator = randomness.tf_generator(randomness.derive(root, _LOTS))
        self._noise_generator = randomness.tf_generator(randomness.derive(root, _NOISE))
        self._denominator = tf.constant(float(batch_size))  # qN = B, the expected lot size
        if noise not in ("auto", "per_variable", "batched"):
            raise ValueError(f"noise must be 'auto', 'per_variable' or 'batched', got {noise!r}")
        if noise == "auto":  # a seeded run reproduces train_dp_sgd; a private one is faster
            noise = default_noise(model.trainable_variables, noise_seed=noise_seed)
        if noise_multiplier == 0:
            noise = "per_variable"  # nothing is drawn
        self.noise = noise
        self._noise_buffer = (NoiseBuffer(model.trainable_variables,
                                          stddev=noise_multiplier * clip_norm,
                                          generator=self._noise_generator)
                              if noise == "batched" else None)
        self._dp_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="dp_steps")
        self.built = True

    # ---- what Keras calls
    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, *, jit_compile=False,
                **kwargs):
        """``keras.Model.compile`` with the loss checked (:func:`check_supported_loss`; None
        means softmax cross-entropy on logits) and XLA off by default, as in the library's
        step (on CPUs it slows convolutions down)."""
        for name in ("loss_weights",):
            if kwargs.get(name) is not None:
                raise ValueError(f"{name} is not supported by DP-SGD (one output, one loss)")
        super().compile(optimizer=optimizer, loss=check_supported_loss(loss),
                        metrics=metrics, jit_compile=jit_compile, **kwargs)

    def train_step(self, data):
        """One DP-SGD step on the lot ``data``: ``dpsgd.dp_gradient`` then the optimizer, as
        ``dpsgd.make_dp_train_step``; the loss and metrics of the lot are logged."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError("sample_weight / class_weight are not supported by DP-SGD: "
                             "each example's clipped gradient enters the sum with weight 1")
        noisy_gradient, result = dp_gradient(  # the library's step (noise from the buffer if batched)
            self.model, x, y, clip_norm=self.clip_norm,
            noise_multiplier=self.noise_multiplier, denominator=self._denominator,
            generator=self._noise_generator, method=self.method, noise_buffer=self._noise_buffer)
        self.optimizer.apply_gradients(zip(noisy_gradient, self.model.trainable_variables))
        self._dp_steps.assign_add(1)
        count = tf.shape(result.losses)[0]
        mean_loss = tf.reduce_sum(result.losses) / tf.cast(tf.maximum(count, 1), tf.float32)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(mean_loss, sample_weight=count)
        return self.compute_metrics(x, y, result.logits)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, *, sample_weight=None,
            class_weight=None, validation_split=0.0, steps_per_epoch=None, shuffle=True,
            **kwargs):
        """``keras.Model.fit`` on Poisson lots. Arrays ``(x, y)``: N examples (the
        ``num_examples`` of :func:`make_private`), ⌈N/B⌉ lots per epoch (as ``train_dp_sgd``)
        unless ``steps_per_epoch`` says otherwise; ``batch_size`` may only repeat B. A
        ``tf.data.Dataset`` must come from :func:`poisson_dataset` at this model's q and N.
        Refused: ``sample_weight``, ``class_weight``, ``validation_split`` (it would change
        N; pass ``validation_data``), and any other input (generators, ``PyDataset``, a
        shuffled-and-batched ``tf.data`` pipeline: not Poisson sampling)."""
        del shuffle  # Poisson lots are drawn afresh every epoch
        if sample_weight is not None or class_weight is not None:
            raise ValueError("sample_weight / class_weight are not supported by DP-SGD: "
                             "each example's clipped gradient enters the sum with weight 1")
        if validation_split:
            raise ValueError("validation_split would train on fewer than num_examples="
                             f"{self.num_examples} examples (q = B/N changes): pass "
                             "validation_data instead")
        if isinstance(x, tf.data.Dataset):
            if y is not None or batch_size is not None:
                raise ValueError("with a dataset, give neither y nor batch_size: the "
                                 "dataset's elements are the lots")
            self._check_lots(x)
            data = x
        elif isinstance(x, (np.ndarray, tf.Tensor, list)) or hasattr(x, "__array__"):
            if batch_size is not None and batch_size != self.batch_size:
                raise ValueError(
                    f"batch_size={batch_size} differs from the expected lot size B="
                    f"{self.batch_size} given to make_private (q = B/N is what the "
                    "accountant charges); leave batch_size out")
            if y is not None and len(y) != self.num_examples:
                raise ValueError(
                    f"fit got {len(y)} examples but make_private(num_examples="
                    f"{self.num_examples}): q = B/N and δ < 1/N are set from N")
            data = self.poisson_dataset(x, y, steps=steps_per_epoch)
            steps_per_epoch = None  # the dataset has exactly that many lots
        else:
            raise ValueError(
                f"fit got {type(x).__name__}: DP-SGD needs Poisson lots; pass arrays (x, y) or "
                "a dataset made by private.poisson_dataset(...) / poisson_dataset(...)")
        return super().fit(data, epochs=epochs, steps_per_epoch=steps_per_epoch, shuffle=False,
                           **kwargs)

    # ---- the library's side
    def poisson_dataset(self, x, y=None, *, steps=None):
        """:func:`poisson_dataset` at this model's q = B/N with this model's lot coins (so
        ``fit`` on it draws the lots ``train_dp_sgd`` would at the same ``noise_seed``);
        ``steps`` defaults to ⌈N/B⌉ (one epoch). ``x`` as in :func:`poisson_dataset`."""
        steps = (math.ceil(self.num_examples / self.batch_size) if steps is None
                 else check_positive_int("steps", steps))
        x, y = _examples_of(x, y)
        if len(y) != self.num_examples:
            raise ValueError(f"got {len(y)} examples but make_private(num_examples="
                             f"{self.num_examples})")
        dataset, _ = _lots(x, y, sampling_rate=self.sampling_rate, steps=steps,
                           generator=self._lot_generator, model=self.model)
        dataset._fldp_poisson = _PoissonLots(self.sampling_rate, self.num_examples,
                                             self.noise_seed)
        return dataset

    def _check_lots(self, dataset):
        record = is_poisson_dataset(dataset)
        if record is None:
            raise ValueError(
                "fit got a tf.data.Dataset that was not made by poisson_dataset: shuffled "
                "fixed-size batches are not Poisson sampling, and the accountant's epsilon "
                "(SampledGaussian, q = B/N) would not hold for them (Chua et al. 2024). Make "
                "the lots with private.poisson_dataset(x, y) or "
                "fldp_teach.keras.poisson_dataset(...) (after it only map, prefetch, repeat, "
                "take, cache), or pass the arrays to fit")
        if (record.num_examples != self.num_examples
                or not math.isclose(record.sampling_rate, self.sampling_rate, rel_tol=1e-12)):
            raise ValueError(
                f"the dataset's lots have q={record.sampling_rate:g} over N="
                f"{record.num_examples} examples, but the model was made private with "
                f"q = B/N = {self.sampling_rate:g}, N={self.num_examples}: the accountant "
                "would charge the wrong rate")

    @property
    def steps(self) -> int:
        """DP-SGD steps taken so far (all ``fit`` calls): what the accountant charges."""
        return int(self._dp_steps.numpy())

    @property
    def reproducible_noise(self) -> bool:
        return self.noise_seed is not None

    def epsilon(self, delta, *, steps=None) -> float:
        """ε(δ) after ``steps`` DP-SGD steps (default: those taken), Poisson rate q, noise z:
        ``accounting.dp_sgd_epsilon`` (∞ without noise)."""
        steps = self.steps if steps is None else check_non_negative_int("steps", steps)
        if self.noise_multiplier == 0:
            return math.inf if steps else 0.0
        return accounting.dp_sgd_epsilon(sampling_rate=self.sampling_rate,
                                         noise_multiplier=self.noise_multiplier,
                                         steps=steps, delta=delta)

    def get_config(self):
        raise NotImplementedError(
            "a PrivateModel is a training wrapper: save private.model, the trained model")


def make_private(model, *, clip_norm, noise_multiplier, batch_size, num_examples,
                 noise_seed=None, method="fast", noise="auto") -> PrivateModel:
    """Wrap a built Keras 3 ``model`` (logits, integer labels) so that ``fit`` trains it with
    DP-SGD: Poisson lots at q = ``batch_size``/``num_examples``, each lot's per-example
    gradients clipped to ``clip_norm`` C, Gaussian noise of std ``noise_multiplier``·C on the
    sum, divided by ``batch_size`` B (the expected lot size). Returns a
    :class:`PrivateModel` sharing ``model``'s variables: compile it and call ``fit``.

    ``method``: "fast" (ghost norms; models they do not cover — tied weights, recurrent
    layers, non-Sequential models — fall back to "vectorized") or "vectorized". ``noise_seed``:
    None (default) = OS entropy; an integer fixes the lots and the noise for teaching and
    prints :func:`fldp_teach.randomness.noise_seed_notice`. ``noise``: "per_variable" draws
    it as ``dpsgd.add_noise`` does (a seeded run then matches ``train_dp_sgd`` draw for draw),
    "batched" draws many steps' noise at once (:class:`NoiseBuffer`, same distribution,
    faster for small models), "auto" (default) = "per_variable" when ``noise_seed`` is given or
    the model is too large for 8 steps' noise to fit in one draw, else "batched"
    (:func:`fldp_teach.dpsgd.default_noise`). Raises ValueError for BatchNormalization-like layers, regularisers, or a
    bad parameter."""
    return PrivateModel(model, clip_norm=clip_norm, noise_multiplier=noise_multiplier,
                        batch_size=batch_size, num_examples=num_examples,
                        noise_seed=noise_seed, method=method, noise=noise)


# --------------------------------------------------------------------------- the callback
def _largest_steps_within(target, epsilon_of):
    """The largest T ≥ 0 with ε(T) ≤ target (ε non-decreasing in T), by doubling then
    bisection; ``epsilon_of(0)`` is 0."""
    if epsilon_of(1) > target:
        return 0
    high = 1
    while epsilon_of(2 * high) <= target:
        high *= 2
        if high > 2 ** 40:
            return high
    low, high = high, 2 * high  # ε(low) ≤ target < ε(high)
    while high - low > 1:
        middle = (low + high) // 2
        if epsilon_of(middle) <= target:
            low = middle
        else:
            high = middle
    return low


class PrivacyCallback(keras.callbacks.Callback):
    """Logs ε(δ) after every epoch into the logs (so ``history.history["epsilon"]`` and the
    progress bar show it) and, with ``target_epsilon``, stops training before it is exceeded.

    ε is ``accounting.dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=T, delta)`` for
    the T DP-SGD steps the :class:`PrivateModel` has taken (across ``fit`` calls): the value
    ``train_dp_sgd`` records. ``stop``: "step" (default) ends training after the last step
    whose ε stays ≤ target (mid-epoch; Keras still validates and ends that epoch), "epoch"
    only at the end of an epoch, before an epoch that would exceed it. Either way ε never
    exceeds ``target_epsilon``. With ``steps_per_execution`` = k > 1 Keras runs k steps per
    call, so the stop is checked k steps ahead. ``fit`` raises if the very next step would
    already exceed the target. After training: ``epsilon`` (last ε), ``stopped`` (None or a
    sentence saying where and why it stopped, also printed when ``verbose``)."""

    def __init__(self, delta, target_epsilon=None, *, stop="step", verbose=1,
                 allow_large_delta=False):
        super().__init__()
        self.delta = check_open_unit("delta", delta)
        self.target_epsilon = (None if target_epsilon is None
                               else check_positive("target_epsilon", target_epsilon))
        if stop not in ("step", "epoch"):
            raise ValueError(f"stop must be 'step' or 'epoch', got {stop!r}")
        self.stop, self.verbose = stop, verbose
        self.allow_large_delta = allow_large_delta
        self.epsilon, self.stopped, self.max_steps = None, None, None
        # the per-step check must run before the next step: no asynchronous dispatch then
        self.async_safe = self.target_epsilon is None or stop == "epoch"

    def _epsilon(self, steps):
        return self.model.epsilon(self.delta, steps=steps)

    def on_train_begin(self, logs=None):
        if not isinstance(self.model, PrivateModel):
            raise ValueError("PrivacyCallback needs a PrivateModel (fldp_teach.keras."
                             f"make_private), got {type(self.model).__name__}")
        check_delta_for_size(self.delta, self.model.num_examples,
                             allow_large_delta=self.allow_large_delta)
        self.stopped, self._steps = None, self.model.steps
        self.epsilon = self._epsilon(self._steps)
        if self.target_epsilon is None:
            return
        self.max_steps = _largest_steps_within(self.target_epsilon, self._epsilon)
        ahead = self._per_call() if self.stop == "step" else self._per_epoch()
        if self._steps + ahead > self.max_steps:
            what = "step" if self.stop == "step" else f"epoch ({ahead} steps)"
            raise ValueError(
                f"target_epsilon={self.target_epsilon:g} would be exceeded by the next {what}: "
                f"ε = {self._epsilon(self._steps + ahead):.4g} after {self._steps + ahead} "
                f"steps at δ={self.delta:g} (spent so far: ε = {self.epsilon:.4g} in "
                f"{self._steps} steps); nothing was trained")

    def _per_epoch(self):
        steps = (self.params or {}).get("steps")
        if not steps:
            raise ValueError("stop='epoch' needs the number of steps per epoch; give fit "
                             "steps_per_epoch or a dataset of known length")
        return int(steps)

    def _per_call(self):
        return max(1, int(getattr(self.model, "steps_per_execution", 1) or 1))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start, self._epoch = self._steps, epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.target_epsilon is None or self.stop != "step":
            return
        self._steps = self._epoch_start + batch + 1
        if self._steps + self._per_call() > self.max_steps and not self.model.stop_training:
            self.model.stop_training = True
            self.stopped = (
                f"PrivacyCallback: stopped after step {self._steps} (epoch "
                f"{self._epoch + 1}, step {batch + 1}): step {self._steps + 1} would spend "
                f"ε = {self._epsilon(self._steps + 1):.4g} > target_epsilon="
                f"{self.target_epsilon:g}")

    def on_epoch_end(self, epoch, logs=None):
        self._steps = self.model.steps
        self.epsilon = self._epsilon(self._steps)
        if logs is not None:
            logs["epsilon"] = self.epsilon
        if self.target_epsilon is not None and self.stop == "epoch":
            per_epoch = self._per_epoch()
            if self._steps + per_epoch > self.max_steps:
                self.model.stop_training = True
                self.stopped = (
                    f"PrivacyCallback: stopped after epoch {epoch + 1} ({self._steps} steps): "
                    f"epoch {epoch + 2} would spend ε = "
                    f"{self._epsilon(self._steps + per_epoch):.4g} > target_epsilon="
                    f"{self.target_epsilon:g}")
        if self.stopped and self.model.stop_training:
            self.stopped += f"; ε spent = {self.epsilon:.4g} at δ={self.delta:g}"
            if self.verbose:
                print(self.stopped)
