"""The DP-SGD training loop: sample a lot, take a DP-SGD step, charge the privacy ledger.

Abadi et al. (2016), Algorithm 1, around the gradient step of ``fldp_teach.dpsgd``:

    for t ∈ [T]:  take a random sample L_t with sampling probability q = L/N;
                  g̃_t ← DP gradient of L_t (dpsgd.dp_gradient);  θ_{t+1} ← θ_t − η_t g̃_t
    output θ_T and the overall privacy cost (ε, δ) computed with a privacy accountant.

Two ways to draw the lots, and why the accountant must know which
-------------------------------------------------------------------
* ``sampling="poisson"``: each example joins each lot independently with probability
  q = B/N (so lots have *random* sizes, B on average). This is what the analysis of Abadi et al.
  and the RDP accountant of the subsampled Gaussian (Mironov, Talwar, Zhang 2019) assume; the
  randomness of *who is in the lot* amplifies privacy, so T steps at noise z cost far less
  than T full-batch Gaussian mechanisms. Event: ``SampledGaussian(z, q, T)``.
* ``sampling="shuffle"``: shuffle once per epoch and cut fixed-size batches of B — what almost
  every training script does. Each example then sits in exactly one batch per epoch, which is
  *not* Poisson sampling, and amplification by sampling does not apply as proved for it. We
  charge it soundly without amplification: per epoch every example is used once with
  sensitivity C and noise zC, i.e. one Gaussian mechanism of noise multiplier z (parallel
  composition over the disjoint batches), composed over the epochs. Event:
  ``ShuffledGaussian(z, B, N, epochs)``. Same code, same z, a much larger ε: the gap is the
  price of not sampling the way the proof assumes (Chua et al. 2024, "How private are DP-SGD
  implementations?", ICML).

In both cases the noisy sum is divided by the *expected* lot size (qN = B), not the realised
one (Alg. 1; see ``dpsgd.normalize``).

The same loop runs non-privately (``train_sgd`` / ``private=False``: mean gradient of the lot,
no clipping, no noise, ε = ∞) so that accuracy and step time can be compared one-to-one.
Recorded metrics (training loss/accuracy averaged over the epoch's lots, validation metrics,
ε) are for the teacher: releasing the training metrics would itself cost privacy.
Taught in the DP-SGD notebook.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from fldp_teach import accounting, randomness
from fldp_teach._validation import (
    check_seed,
    check_delta_for_size,
    check_non_negative,
    check_non_negative_int,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_unit_interval,
)
from fldp_teach.datasets import validate_xy
from fldp_teach.dpsgd import (default_noise, make_dp_train_step, make_sgd_train_step,
                              per_example_loss)
from fldp_teach.ghost_norms import ghost_norms_supported

# stream names under a run's root (fldp_teach.randomness.derive)
_LOTS, _NOISE = 1, 2
logger = logging.getLogger(__name__)

__all__ = [
    "TrainingHistory",
    "poisson_lot",
    "shuffled_batches",
    "evaluate",
    "train_dp_sgd",
    "train_sgd",
]


@dataclass(frozen=True)
class TrainingHistory:
    """One entry per epoch (validation entries are NaN without validation data).

    ``epsilon[e]``: ε(δ) spent after epoch e+1 (∞ when not private); ``step_time[e]``: median
    wall time of one training step (seconds) in that epoch (epoch 1 includes tracing);
    ``ledger``: the accountant's record of privacy events; ``method``: the gradient path that
    actually ran ("fast", "vectorized" or "non-private"); ``noise_seed``: None when the DP noise
    and the lots came from fresh OS entropy (a private run), else the seed that fixed them
    (reproducible, for teaching: not private against anyone who knows it). ``noise``: how the
    Gaussian noise was drawn, "batched" (many steps at once, :class:`fldp_teach.dpsgd.NoiseBuffer`:
    a run without a noise seed) or "per_variable" (each step, each variable: a seeded run, or
    z = 0 where nothing is drawn); None when not private.

    ``steps``: the steps actually trained, ``planned_steps``: epochs·⌈N/B⌉. ``max_epsilon``:
    the privacy budget the run was given (None: none); ``stopped``: None, or the sentence saying
    before which step the budget stopped the run and why (an epoch cut short by the budget
    still has its entry, over the steps it ran). ``epsilon_spent`` and ``epsilon_remaining``
    read the ledger's total. ``interrupted_steps``: steps charged before a crash whose result
    was lost and whose OS-entropy noise is not replayed (they stay charged: ε includes them)."""

    loss: tuple
    accuracy: tuple
    val_loss: tuple
    val_accuracy: tuple
    epsilon: tuple
    step_time: tuple
    noise_multiplier: float
    clip_norm: float
    delta: float | None
    sampling: str
    method: str
    steps: int
    ledger: tuple = ()
    noise_seed: int | None = None
    planned_steps: int | None = None
    max_epsilon: float | None = None
    stopped: str | None = None
    interrupted_steps: tuple = ()
    noise: str | None = None

    @property
    def epsilon_spent(self) -> float:
        """ε(δ) of everything charged (0 before the first private step, ∞ without privacy)."""
        if self.epsilon:
            return self.epsilon[-1]
        return math.inf if self.method == "non-private" else 0.0

    @property
    def epsilon_remaining(self) -> float | None:
        """``max_epsilon`` − ε spent (None without a budget)."""
        return None if self.max_epsilon is None else self.max_epsilon - self.epsilon_spent

    @property
    def reproducible_noise(self) -> bool:
        """True when a noise seed fixed the privacy coins (see :mod:`fldp_teach.randomness`)."""
        return self.noise_seed is not None

    @property
    def epochs(self) -> int:
        return len(self.loss)


# ------------------------------------------------------------------------------------ lots
def _int32(name, value) -> int:
    """A positive count that fits TensorFlow's int32 shapes."""
    value = check_positive_int(name, value)
    if value >= 2**31:
        raise ValueError(f"{name} must be < 2**31 (a TensorFlow dimension), got {value}")
    return value


def poisson_lot(generator, *, num_examples, sampling_rate):
    """Indices of one Poisson lot: example i is in it iff u_i < q, u_i ~ U(0, 1) i.i.d.
    (Abadi et al. 2016, Alg. 1, "take a random sample L_t with sampling probability q").
    The lot size is Binomial(N, q): it varies, and may be 0."""
    sampling_rate = check_unit_interval("sampling_rate", sampling_rate)
    keep = generator.uniform([_int32("num_examples", num_examples)]) < sampling_rate
    return tf.cast(tf.where(keep)[:, 0], tf.int32)


def shuffled_batches(generator, *, num_examples, batch_size):
    """One epoch of shuffled fixed-size batches: a uniformly random permutation (argsort of
    i.i.d. uniforms) cut into ⌈N/B⌉ batches of B indices (the last one may be smaller)."""
    num_examples = _int32("num_examples", num_examples)
    batch_size = _int32("batch_size", batch_size)
    order = tf.argsort(generator.uniform([num_examples]))
    return [order[i: i + batch_size] for i in range(0, num_examples, batch_size)]


def evaluate(model, x, y, *, batch_size=1024):
    """(mean loss, accuracy) of ``model`` on ``(x, y)``, forward passes in batches."""
    batch_size = check_positive_int("batch_size", batch_size)
    x, y = _check_data(model, x, y)
    loss, correct = 0.0, 0.0
    for i in range(0, len(y), batch_size):
        logits = model(x[i: i + batch_size], training=False)
        yb = y[i: i + batch_size]
        loss += float(tf.reduce_sum(per_example_loss(yb, logits)))
        correct += float(tf.reduce_sum(tf.cast(
            tf.argmax(logits, axis=-1, output_type=tf.int32) == yb, tf.float32)))
    return loss / len(y), correct / len(y)


# ------------------------------------------------------------------------------ validation
def _check_data(model, x, y, *, x_name="x", y_name="y"):
    """``datasets.validate_xy`` (non-empty, finite, integer labels in [0, num_classes)) plus
    x's shape against the model's input; returns (x as float32, y as int32)."""
    num_classes = int(model.output_shape[-1])
    x, y = validate_xy(x, y, num_classes=num_classes, x_name=x_name, y_name=y_name)
    expected = tuple(model.input_shape[1:])
    if len(expected) != x.ndim - 1 or any(e is not None and e != s
                                          for e, s in zip(expected, x.shape[1:])):
        raise ValueError(f"{x_name} must have shape (num_examples, "
                         f"{', '.join(map(str, expected))}) to fit the model, got {x.shape}")
    return x.astype(np.float32), y


def _make_optimizer(optimizer, learning_rate):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer
    optimizers = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}
    if optimizer not in optimizers:
        raise ValueError(f"optimizer must be 'sgd', 'adam' or a keras optimizer, "
                         f"got {optimizer!r}")
    return optimizers[optimizer](learning_rate=learning_rate)


# ------------------------------------------------------------------------------ the loop
def train_dp_sgd(model, x, y, *, epochs, batch_size, learning_rate, clip_norm,
                 noise_multiplier=None, delta, sampling="poisson", method="fast",
                 optimizer="sgd", target_epsilon=None, private=True, x_val=None,
                 y_val=None, seed=0, noise_seed=None, allow_large_delta=False,
                 progress=True, max_epsilon=None, checkpoint_dir=None,
                 resume=False) -> TrainingHistory:
    """Train ``model`` (logits, integer labels) in place with DP-SGD (Abadi et al. 2016,
    Alg. 1) for ``epochs`` passes, i.e. T = epochs·⌈N/B⌉ steps; returns a
    :class:`TrainingHistory` whose ``ledger`` is the privacy accountant's record.

    ``sampling``: "poisson" (rate q = B/N, what the accountant assumes) or "shuffle"
    (fixed-size batches, charged without amplification) — see the module docstring.
    ``method``: "fast" (ghost norms, ``fldp_teach.ghost_norms``) or "vectorized"
    (``tf.vectorized_map``); same result. ``target_epsilon``: calibrate z to reach this ε at
    ``delta`` after all epochs (then ``noise_multiplier`` must be None). ``private=False``
    runs the same loop with plain mean gradients (see :func:`train_sgd`).

    ``max_epsilon``: a privacy *budget* at ``delta``. Before each step the accountant computes
    the ε that step would bring (``RdpAccountant.epsilon_if``: every step is charged before it
    runs), and the run stops *before* the first step that would take ε above ``max_epsilon``;
    the history says so (``stopped``, ``epsilon_remaining``), as do the progress bar and a
    WARNING log, and the model keeps what was trained. With shuffled batches a whole epoch is
    one charge, so the run stops at an epoch boundary. It is a separate argument from
    ``target_epsilon`` on purpose: ``target_epsilon`` *chooses z* so that the planned epochs end
    at that ε (the run is then never stopped early), ``max_epsilon`` *caps* what a run may spend
    whatever z is; both can be given (then the cap only bites if the calibration's tolerance
    overshoots it).

    ``checkpoint_dir``: a folder (:class:`fldp_teach.checkpoint.RunDirectory`) where the
    run's configuration and its privacy ledger are kept. The ledger (``ledger.json``) is
    rewritten atomically — temporary file in the same folder, flush, ``os.fsync``,
    ``os.replace``, fsync of the folder — every time a step is charged, and a step is charged
    *before* its lot and its noise are drawn. If that write fails,
    :class:`fldp_teach.checkpoint.LedgerWriteError` is raised and the step is not run: no
    result exists that the ledger on disk does not cover. A folder that already holds a run
    is refused (its ledger must not be overwritten).

    Randomness (:mod:`fldp_teach.randomness`): in a private run the lots (whose secrecy
    amplification by sampling assumes) and the Gaussian noise come from ``noise_seed``:
    None (default) draws 128 bits of OS entropy, so two runs differ and nobody can regenerate
    the noise; an integer makes the run reproducible for teaching and is recorded in the
    history (not private against anyone who knows it). Without a noise seed the noise of many
    steps is drawn at once (:class:`fldp_teach.dpsgd.NoiseBuffer`: the same N(0, z²C²)
    coordinates, fewer ops per step) unless 8 steps' noise do not fit in one draw
    (:func:`fldp_teach.dpsgd.default_noise`); with one, each step draws per variable, the
    stream that the course's seeded figures come from. ``seed`` drives the lots of a
    non-private run only (the model's initial weights are the caller's). No global RNG is
    read. ``delta`` must be < 1/N unless ``allow_large_delta=True``."""
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    learning_rate = check_positive("learning_rate", learning_rate)
    seed, noise_seed = check_seed("seed", seed), check_seed("noise_seed", noise_seed)
    if sampling not in ("poisson", "shuffle"):
        raise ValueError(f"sampling must be 'poisson' or 'shuffle', got {sampling!r}")
    if method not in ("fast", "vectorized"):
        raise ValueError(f"method must be 'fast' or 'vectorized', got {method!r}")
    x, y = _check_data(model, x, y)
    validation = None
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val and y_val must be given together, got only one of them")
    if x_val is not None:
        validation = _check_data(model, x_val, y_val, x_name="x_val", y_name="y_val")
    num_examples = len(y)
    if batch_size > num_examples:
        raise ValueError(f"batch_size must be <= the number of examples ({num_examples}), "
                         f"got {batch_size}")
    steps_per_epoch = math.ceil(num_examples / batch_size)
    if epochs * steps_per_epoch > 10**9:
        raise ValueError(f"epochs must keep the run below 1e9 steps ({steps_per_epoch} per epoch), got {epochs}")
    sampling_rate = batch_size / num_examples
    opt = _make_optimizer(optimizer, learning_rate)
    if private:
        root = randomness.noise_root(noise_seed)
        lot_generator = randomness.tf_generator(randomness.derive(root, _LOTS))
        noise_generator = randomness.tf_generator(randomness.derive(root, _NOISE))
    else:
        noise_seed, noise_generator = None, None
        public = randomness.noise_root(None) if seed is None else seed
        lot_generator = randomness.tf_generator(randomness.derive(public, _LOTS))

    if private:
        delta = check_delta_for_size(check_open_unit("delta", delta), num_examples,
                                     allow_large_delta=allow_large_delta)
        clip_norm = check_positive("clip_norm", clip_norm, allow_inf=True)
        if target_epsilon is not None:
            if noise_multiplier is not None:
                raise ValueError("give noise_multiplier or target_epsilon, not both; got "
                                 f"noise_multiplier={noise_multiplier!r}")
            target_epsilon = check_positive("target_epsilon", target_epsilon)
            # Shuffled batches, charged without amplification, are epochs full-batch
            # Gaussian mechanisms: the q = 1 case of the sampled Gaussian.
            q, t = ((sampling_rate, epochs * steps_per_epoch) if sampling == "poisson"
                    else (1.0, epochs))
            noise_multiplier = accounting.calibrate_noise_multiplier(
                target_epsilon=target_epsilon, sampling_rate=q, steps=t, delta=delta)
        noise_multiplier = check_non_negative("noise_multiplier", noise_multiplier)
        if noise_multiplier > 0 and math.isinf(clip_norm):
            raise ValueError("clip_norm must be finite when noise_multiplier > 0, got inf")
        if method == "fast":
            method = method if ghost_norms_supported(model)[0] else "vectorized"
        step = make_dp_train_step(model, opt, clip_norm=clip_norm,
                                  noise_multiplier=noise_multiplier,
                                  generator=noise_generator, method=method,
                                  noise=default_noise(model.trainable_variables,
                                                      noise_seed=noise_seed))
    else:
        noise_multiplier, clip_norm, method = 0.0, math.inf, "non-private"
        step = make_sgd_train_step(model, opt)
    if max_epsilon is not None:
        max_epsilon = check_positive("max_epsilon", max_epsilon)
        if not private or noise_multiplier == 0:
            raise ValueError(f"max_epsilon={max_epsilon:g} cannot be met: a "
                             f"{'non-private run' if not private else 'run with noise_multiplier=0'}"
                             " spends epsilon = inf; give a private run with noise_multiplier > 0")
    accountant = accounting.RdpAccountant() if private and noise_multiplier > 0 else None
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir of the run to continue, got checkpoint_dir=None")
    run_dir = None
    if checkpoint_dir is not None:
        from fldp_teach.checkpoint import RunDirectory

        run_dir = RunDirectory(checkpoint_dir, resume=resume, config=_run_config(
            model, x, y, validation, epochs=epochs, batch_size=batch_size,
            learning_rate=learning_rate, clip_norm=clip_norm, noise_multiplier=noise_multiplier,
            target_epsilon=target_epsilon, delta=delta if private else None, sampling=sampling,
            method=method, optimizer=opt, private=private, seed=seed, noise_seed=noise_seed,
            max_epsilon=max_epsilon, allow_large_delta=allow_large_delta))

    x_all, y_all = tf.constant(x), tf.constant(y)
    denominator = tf.constant(float(batch_size))  # qN = B: the expected lot size
    totals = tf.Variable(tf.zeros([3]), trainable=False)  # Σ L_i, #correct, #examples

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)], jit_compile=False)
    def train_on(lot):
        """One step on the examples ``lot``, gathered and accounted for inside TF."""
        totals.assign_add(tf.stack(step(tf.gather(x_all, lot), tf.gather(y_all, lot),
                                        denominator)))

    @tf.function(input_signature=[], jit_compile=False)
    def train_on_poisson_lot():
        train_on(poisson_lot(lot_generator, num_examples=num_examples,
                             sampling_rate=sampling_rate))

    records = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy", "epsilon",
                               "step_time")}
    from tqdm.auto import tqdm

    planned = epochs * steps_per_epoch
    name = "DP-SGD" if private else "SGD"
    done, stopped = 0, None  # steps trained; the budget's sentence
    charged = 0               # steps the ledger has charged (> done after an interruption)
    interrupted = []          # steps charged whose result was lost in a crash (never replayed)
    first_epoch, first_index, order, times = 1, 0, None, []
    # sampling state that may be saved: the public lots of a non-private run, the coins of a
    # seeded (teaching) run; an OS-entropy run keeps its coins in memory only
    coins_on_disk = noise_seed is not None or not private
    generators = [g for g in (lot_generator, noise_generator) if g is not None]
    def save_state(epoch, index_in_epoch, epoch_order):
        """weights, optimizer, sampling coins (seeded runs only), counters and records: one
        atomic state.npz, written after each step."""
        arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
        arrays.update({f"optimizer_{i}": v.numpy() for i, v in enumerate(opt.variables)})
        if coins_on_disk:
            arrays.update({f"generator_{i}": g.state.numpy() for i, g in enumerate(generators)})
            if epoch_order is not None:
                arrays["order"] = np.asarray(epoch_order)
        run_dir.write_state(arrays, dict(done=done, epoch=epoch, index_in_epoch=index_in_epoch,
                                         optimizer_variables=len(opt.variables), records=records,
                                         totals=totals.numpy().tolist(), times=times))

    if run_dir is not None and run_dir.resumed:
        saved = run_dir.read_ledger() or {}
        charged = int(saved.get("through_step", 0))
        interrupted = list(saved.get("interrupted", []))
        if accountant is not None and saved.get("ledger"):
            accountant = accounting.RdpAccountant.from_json(json.dumps(saved))
        state = run_dir.read_state()
        if state is not None:
            arrays, meta = state
            done = int(meta["done"])
            records = {k: list(v) for k, v in meta["records"].items()}
            model.set_weights([arrays[f"weight_{i}"] for i in range(len(model.weights))])
            if not opt.built:
                opt.build(model.trainable_variables)
            for i in range(int(meta["optimizer_variables"])):  # iteration, learning rate, slots
                opt.variables[i].assign(arrays[f"optimizer_{i}"])
            if coins_on_disk:
                for i, g in enumerate(generators):
                    g.reset(arrays[f"generator_{i}"])
            first_epoch, first_index = int(meta["epoch"]), int(meta["index_in_epoch"])
            if first_index >= steps_per_epoch:
                first_epoch, first_index = first_epoch + 1, 0
            else:
                totals.assign(np.asarray(meta["totals"], np.float32))
                times = list(meta["times"])
                if "order" in arrays:
                    order = tf.constant(arrays["order"])
        if charged > done and not coins_on_disk:
            # the coins of those steps are gone with the process: they stay charged, and the
            # steps are run again with fresh coins (charged again); nothing is replayed
            lost = list(range(done + 1, charged + 1))
            interrupted += lost
            logger.warning("%s: step(s) %s were charged but interrupted before their result was "
                           "saved; their noise came from OS entropy and is not replayed: they stay "
                           "charged (epsilon includes them) and are run again with fresh noise",
                           name, lost)
            charged = done
            run_dir.write_ledger(_ledger_record(accountant, delta, charged, interrupted),
                                 pending=f"step {done + 1}")
        logger.info("%s: resuming %s after step %d of %d (%d charged)", name, run_dir.path, done,
                    planned, charged)
    elif run_dir is not None:
        save_state(1, 0, None)  # the initial weights: a resume never depends on the caller's model
        run_dir.write_ledger(_ledger_record(accountant, delta, 0), pending="the first step")
    fresh_segment = (sampling == "shuffle" and first_index > 0 and not coins_on_disk
                     and run_dir is not None and run_dir.resumed)

    bar = tqdm(total=planned, initial=done, disable=not progress, desc=name, unit="step")
    for epoch in range(first_epoch, epochs + 1):
        resuming_epoch = epoch == first_epoch and first_index > 0
        if sampling == "poisson":
            lots = [None] * steps_per_epoch  # drawn inside train_on_poisson_lot
        else:
            if not (resuming_epoch and order is not None):
                order = tf.argsort(lot_generator.uniform([num_examples]))  # shuffled_batches' draw
            lots = [order[i: i + batch_size] for i in range(0, num_examples, batch_size)]
        if not resuming_epoch:
            totals.assign(tf.zeros([3]))
            times = []
        for j in range(first_index if resuming_epoch else 0, len(lots)):
            lot = lots[j]
            # charge first: the step's event enters the ledger before its lot and noise are drawn
            event = _step_event(accountant, sampling, 0 if fresh_segment else j, noise_multiplier,
                                sampling_rate, batch_size, num_examples)
            label = f"DP-SGD epoch {epoch}" + (" (resumed, new shuffle)" if fresh_segment else "")
            fresh_segment = False
            if event is not None and done < charged:
                event = None  # charged before the interruption; rerun with the same coins
            if event is not None:
                if max_epsilon is not None:
                    after = accountant.epsilon_if(event, delta=delta, label=label, merge=True)
                    if after > max_epsilon:
                        spent = accountant.epsilon(delta=delta) if accountant.ledger else 0.0
                        stopped = _budget_sentence(done + 1, planned, after, max_epsilon, delta,
                                                   done, spent, sampling, epoch)
                        break
                accountant.compose(event, label=label, merge=True)
            if run_dir is not None and done >= charged:
                charged = done + 1
                if event is not None:  # on disk before the step draws anything
                    run_dir.write_ledger(_ledger_record(accountant, delta, charged, interrupted),
                                         pending=f"step {done + 1} (epoch {epoch})")
            start = time.perf_counter()
            if lot is None:
                train_on_poisson_lot()
            else:
                train_on(lot)
            times.append(time.perf_counter() - start)
            done += 1
            bar.update(1)
            if j + 1 == len(lots):
                _close_epoch(records, totals, times, model, validation, accountant, delta)
                bar.set_postfix_str(_postfix(records, max_epsilon))
            if run_dir is not None:
                save_state(epoch, j + 1, order if sampling == "shuffle" else None)
        if stopped is not None:
            if times:  # the epoch the budget cut short keeps its entry, over the steps it ran
                _close_epoch(records, totals, times, model, validation, accountant, delta)
            break
    if stopped is not None:
        logger.warning("%s: %s", name, stopped)
        bar.set_description(f"{name} stopped: ε budget")
        bar.set_postfix_str(_postfix(records, max_epsilon, stopped=True))
    bar.close()
    return TrainingHistory(
        **{k: tuple(v) for k, v in records.items()}, noise_multiplier=float(noise_multiplier),
        clip_norm=float(clip_norm), delta=delta if private else None, sampling=sampling,
        method=method, steps=done,
        ledger=tuple(accountant.ledger) if accountant is not None else (),
        noise_seed=noise_seed, planned_steps=planned, max_epsilon=max_epsilon, stopped=stopped,
        interrupted_steps=tuple(interrupted),
        noise=(None if not private else "batched" if step.noise_buffer is not None else "per_variable"))


def _model_signature(model) -> list:
    """What a resumed run must share with the checkpoint's model: the layer types and each
    weight's shape and dtype, in order (not names: Keras numbers them per session)."""
    from fldp_teach.dpsgd import _sublayers

    return ([type(layer).__name__ for layer in _sublayers(model)[1:]]
            + [f"{tuple(w.shape)}:{w.dtype}" for w in model.weights])


def _optimizer_config(opt) -> dict:
    config = dict(opt.get_config()) if hasattr(opt, "get_config") else {}
    config.pop("name", None)
    return {"class": type(opt).__name__, **config}


def _run_config(model, x, y, validation, *, noise_seed, private, optimizer, **settings) -> dict:
    """The configuration stored in (and checked against) a checkpoint: every setting that
    changes what the run computes or charges, and fingerprints of the data and model."""
    from fldp_teach.checkpoint import fingerprint

    return dict(kind="train_dp_sgd", **settings, private=private, optimizer=_optimizer_config(optimizer),
                noise_seed=(noise_seed if noise_seed is not None else "os-entropy") if private else None,
                data=fingerprint(x, y), validation=None if validation is None else fingerprint(*validation),
                model=_model_signature(model))


def _ledger_record(accountant, delta, through_step, interrupted=()) -> dict:
    """What ``ledger.json`` holds: the accountant's JSON (``RdpAccountant.load`` reads it) plus
    ``through_step`` (the steps of the run's timeline charged so far), ``interrupted`` (steps
    charged before a crash whose result was lost; with OS-entropy noise they are run again
    and charged again), ``charged_steps`` (the two together) and ε(δ) so far."""
    record = (json.loads(accountant.to_json()) if accountant is not None
              else {"orders": [], "ledger": []})
    record.update(kind="train_dp_sgd", delta=delta, through_step=through_step,
                  charged_steps=through_step + len(interrupted), interrupted=list(interrupted),
                  epsilon=(accountant.epsilon(delta=delta) if accountant is not None and accountant.ledger
                           else 0.0 if accountant is not None else None))
    return record


def _step_event(accountant, sampling, index_in_epoch, noise_multiplier, sampling_rate,
                batch_size, num_examples):
    """The privacy event of one step, charged before it runs (None: nothing to charge). Poisson:
    one sampled Gaussian per step. Shuffled batches: the epoch's first step charges the whole
    epoch (one Gaussian per example, ``ShuffledGaussian``), its other steps nothing more."""
    if accountant is None:
        return None
    if sampling == "poisson":
        return accounting.SampledGaussian(noise_multiplier, sampling_rate, 1)
    if index_in_epoch == 0:
        return accounting.ShuffledGaussian(noise_multiplier, batch_size, num_examples, 1)
    return None


def _budget_sentence(step, planned, after, budget, delta, done, spent, sampling, epoch) -> str:
    what = f"epoch {epoch}" if sampling == "shuffle" else f"step {step} of {planned}"
    return (f"privacy budget reached: stopped before {what}, which would bring epsilon to "
            f"{after:.4g} > max_epsilon={budget:g} (delta={delta:g}); {done} of {planned} steps "
            f"trained, epsilon spent {spent:.4g}, {budget - spent:.4g} left")


def _close_epoch(records, totals, times, model, validation, accountant, delta) -> None:
    """Append the epoch's entry: mean loss/accuracy over its lots, validation, ε so far."""
    loss_sum, correct, count = (float(v) for v in totals.numpy())
    records["loss"].append(loss_sum / count if count else math.nan)
    records["accuracy"].append(correct / count if count else math.nan)
    val = evaluate(model, *validation) if validation else (math.nan, math.nan)
    records["val_loss"].append(val[0])
    records["val_accuracy"].append(val[1])
    records["step_time"].append(float(np.median(times)))
    records["epsilon"].append(float(accountant.epsilon(delta=delta)) if accountant is not None
                              else math.inf)


def _postfix(records, budget, stopped=False) -> str:
    """The progress bar's right part: loss, accuracy, ε and (with a budget) what is left."""
    if not records["epsilon"]:
        return f"budget {budget:g}: nothing trained" if stopped else ""
    eps = records["epsilon"][-1]
    text = (f"loss={records['loss'][-1]:.3f}, acc={records['accuracy'][-1]:.3f}, "
            f"epsilon={eps:.3g}")
    if budget is not None:
        text += f" of {budget:.4g} ({budget - eps:.3g} left{', budget reached' if stopped else ''})"
    return text


def train_sgd(model, x, y, *, epochs, batch_size, learning_rate, sampling="shuffle",
              optimizer="sgd", x_val=None, y_val=None, seed=0,
              progress=True) -> TrainingHistory:
    """The non-private baseline: the loop of :func:`train_dp_sgd` with the mean gradient of
    each lot (no clipping, no noise, ε = ∞), for one-to-one comparisons."""
    return train_dp_sgd(model, x, y, epochs=epochs, batch_size=batch_size,
                        learning_rate=learning_rate, clip_norm=None, noise_multiplier=None,
                        delta=None, sampling=sampling, optimizer=optimizer, private=False,
                        x_val=x_val, y_val=y_val, seed=seed, progress=progress)
