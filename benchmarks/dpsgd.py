"""How much does privacy cost per step? DP-SGD vs non-private SGD, step time.

Times one training step (median over repeats, after warm-up, all in this process) of

* ``sgd``:        the non-private step (mean gradient of the batch, ``make_sgd_train_step``);
* ``vectorized``: DP-SGD with per-example gradients from ``tf.vectorized_map``
                  (``dpsgd.clipped_gradient_sum_vectorized``, what the notebooks show);
* ``fast``:       DP-SGD with per-layer ghost norms + a second backward pass
                  (``ghost_norms.clipped_gradient_sum_fast``), noise drawn per variable (the
                  stream of a run with a noise seed);
* ``fast-b``:     the same with batched noise (``dpsgd.NoiseBuffer``, what ``train_dp_sgd``
                  uses without a noise seed); each sample is a block of as many steps as the
                  buffer has rows, so its refills are charged,

for the McMahan CNN (28×28×1, random data), the small CNN (8×8×1) and an MLP and a logistic
regression on 30 features (the breast-cancer shape), at B = 32/128/256, and prints the
ratio DP / non-private. Random data is enough: step time does not depend on the values.

    python benchmarks/dpsgd.py [--batch-sizes 32 128 256] [--min-time 2.0] [--models ...]

Other processes share the CPU: the script prints the load average; compare ratios, which
are measured back to back in the same process, rather than absolute times.

Second table (``--keras-batch-size``, default B = 128; ``--no-keras`` skips it): the Keras API
of ``fldp_teach.keras``, one step of Keras' own ``train_function`` (what ``fit`` runs per
step, fed by a ``tf.data`` iterator, loss and accuracy metrics updated), against a plain
compiled Keras model on the same lot:

* ``k-sgd``:   ``keras.Model`` compiled with SGD, non-private;
* ``k-dp``:    ``make_private(..., noise="per_variable")``: the library's step draw for draw;
* ``k-batch``: ``make_private(..., noise="batched")`` (the default without a noise seed):
               the noise of many steps drawn at once (``fldp_teach.dpsgd.NoiseBuffer``);
* ``fast0``:   the bare fast step with z = 0 (no noise is drawn), so that
               ``noise ms`` = fast − fast0 is the cost of drawing and adding the noise;

and prints ``k-dp/k-sgd`` and ``k-batch/k-sgd`` beside the bare ``fast/sgd``, and the
wrapper's own cost ``wrap ms`` = (k-dp − fast) − (k-sgd − sgd): what the Keras step costs
over the bare step beyond what Keras costs any model.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import tensorflow as tf

from fldp_teach import models
from fldp_teach.dpsgd import make_dp_train_step, make_sgd_train_step
from fldp_teach.keras import make_private

MODELS = {
    "mcmahan_cnn": (lambda: models.mcmahan_cnn(), (28, 28, 1), 10),
    "small_cnn": (lambda: models.small_cnn(), (8, 8, 1), 10),
    "mlp": (lambda: models.mlp(30, num_classes=2), (30,), 2),
    "logistic": (lambda: models.logistic_regression(30, num_classes=2), (30,), 2),
}


def time_steps(steps, x, y, *, min_time, min_repeats=7, warmup=2, block=1):
    """Median seconds per call of each ``step(x, y, B)`` in ``steps`` (a dict), after
    ``warmup`` calls each. The steps are called round-robin, so that a burst of load from
    other processes hits all of them alike and the ratios stay fair. Each sample is the mean
    of ``block`` consecutive calls: a step whose cost comes in bursts (the batched noise
    refills its buffer once every ``rows`` steps) is then charged its mean cost, which a
    median over single calls would leave out."""
    denominator = tf.constant(float(x.shape[0]))
    for step in steps.values():
        for _ in range(warmup):
            step(x, y, denominator)
    times = {name: [] for name in steps}
    start = time.perf_counter()
    while (min(len(t) for t in times.values()) < min_repeats
           or time.perf_counter() - start < min_time):
        for name, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(block):
                step(x, y, denominator)
            times[name].append((time.perf_counter() - t0) / block)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 256])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--min-time", type=float, default=2.0,
                        help="seconds of repeats per variant and configuration (default 2)")
    parser.add_argument("--keras-batch-size", type=int, default=128,
                        help="B of the Keras-API table (default 128)")
    parser.add_argument("--no-keras", action="store_true", help="skip the Keras-API table")
    parser.add_argument("--no-bare", action="store_true", help="skip the first table")
    args = parser.parse_args()

    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")
    rng = np.random.default_rng(0)
    if not args.no_bare:
        bare_table(args, rng)
    if not args.no_keras:
        keras_table(args, rng)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def _lot(rng, batch_size, shape, num_classes):
    x = tf.constant(rng.normal(size=(batch_size, *shape)).astype(np.float32))
    y = tf.constant(rng.integers(0, num_classes, batch_size).astype(np.int32))
    return x, y


def bare_table(args, rng):
    header = (f"{'model':<12} {'B':>4} {'sgd ms':>8} {'vect ms':>8} {'fast ms':>8} "
              f"{'fast-b ms':>9} {'vect/sgd':>8} {'fast/sgd':>8} {'fast-b/sgd':>10}")
    print(header)
    print("-" * len(header))
    for name in args.models:
        build, shape, num_classes = MODELS[name]
        for batch_size in args.batch_sizes:
            x, y = _lot(rng, batch_size, shape, num_classes)
            steps = {}
            for variant in ("sgd", "vectorized", "fast", "fast-b"):
                model = build()
                optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
                if variant == "sgd":
                    steps[variant] = make_sgd_train_step(model, optimizer)
                else:
                    steps[variant] = make_dp_train_step(
                        model, optimizer, clip_norm=1.0, noise_multiplier=1.0,
                        generator=tf.random.Generator.from_seed(0),
                        method="vectorized" if variant == "vectorized" else "fast",
                        noise="batched" if variant == "fast-b" else "per_variable")
            block = steps["fast-b"].noise_buffer.rows
            seconds = time_steps(steps, x, y, min_time=args.min_time * 3, block=block)
            ms = {variant: 1e3 * s for variant, s in seconds.items()}
            print(f"{name:<12} {batch_size:>4} {ms['sgd']:>8.2f} {ms['vectorized']:>8.2f} "
                  f"{ms['fast']:>8.2f} {ms['fast-b']:>9.2f} {ms['vectorized'] / ms['sgd']:>8.2f} "
                  f"{ms['fast'] / ms['sgd']:>8.2f} {ms['fast-b'] / ms['sgd']:>10.2f}", flush=True)


def _keras_step(model, x, y):
    """``step(x, y, B)`` running one step of ``model.train_function`` (Keras' compiled step,
    what ``fit`` calls) on the lot (x, y), fed by a tf.data iterator as in ``fit``."""
    iterator = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
    model.make_train_function()

    def step(x_, y_, denominator):
        del x_, y_, denominator
        return model.train_function(iterator)

    return step


def keras_table(args, rng):
    batch_size = args.keras_batch_size
    print(f"\nKeras API (fldp_teach.keras), B = {batch_size}: one step of train_function, "
          f"load average {os.getloadavg()[0]:.2f}")
    header = (f"{'model':<12} {'sgd ms':>7} {'fast ms':>7} {'k-sgd':>7} {'k-dp':>7} "
              f"{'k-batch':>7} {'fast/sgd':>8} {'k-dp/k-sgd':>10} {'k-batch/k-sgd':>13} "
              f"{'wrap ms':>7} {'noise ms':>8} {'noise %':>7} {'batch ms':>8}")
    print(header)
    print("-" * len(header))
    for name in args.models:
        build, shape, num_classes = MODELS[name]
        x, y = _lot(rng, batch_size, shape, num_classes)
        steps = {}
        for variant in ("sgd", "fast", "fast0"):
            model = build()
            optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
            if variant == "sgd":
                steps[variant] = make_sgd_train_step(model, optimizer)
            else:
                steps[variant] = make_dp_train_step(
                    model, optimizer, clip_norm=1.0,
                    noise_multiplier=1.0 if variant == "fast" else 0.0,
                    generator=tf.random.Generator.from_seed(0), method="fast")
        plain = build()
        plain.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.01),
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        steps["k-sgd"] = _keras_step(plain, x, y)
        block = 1
        for variant, noise in (("k-dp", "per_variable"), ("k-batch", "batched")):
            private = make_private(build(), clip_norm=1.0, noise_multiplier=1.0,
                                   batch_size=batch_size, num_examples=10 * batch_size,
                                   noise=noise)
            private.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.01),
                            metrics=["accuracy"])
            steps[variant] = _keras_step(private, x, y)
            if private._noise_buffer is not None:  # charge each refill: blocks of `rows` steps
                block = private._noise_buffer.rows
        seconds = time_steps(steps, x, y, min_time=args.min_time * 6, warmup=3, block=block)
        ms = {variant: 1e3 * s for variant, s in seconds.items()}
        wrapper = (ms["k-dp"] - ms["fast"]) - (ms["k-sgd"] - ms["sgd"])
        noise = ms["fast"] - ms["fast0"]
        print(f"{name:<12} {ms['sgd']:>7.2f} {ms['fast']:>7.2f} {ms['k-sgd']:>7.2f} "
              f"{ms['k-dp']:>7.2f} {ms['k-batch']:>7.2f} {ms['fast'] / ms['sgd']:>8.2f} "
              f"{ms['k-dp'] / ms['k-sgd']:>10.2f} {ms['k-batch'] / ms['k-sgd']:>13.2f} "
              f"{wrapper:>7.3f} {noise:>8.3f} {100 * noise / ms['fast']:>6.1f}% "
              f"{ms['k-dp'] - ms['k-batch']:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
