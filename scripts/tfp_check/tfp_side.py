"""TF Privacy's side of ``make tfp-check``: runs in the pinned environment (.venv-tfp:
tensorflow==2.15.*, tensorflow-privacy==0.9.0, Keras 2), never imports fldp_teach.

    .venv-tfp/bin/python scripts/tfp_check/tfp_side.py --inputs inputs.npz --out tfp.npz \
        --grid grid.json [--timing-models logistic mlp small_cnn mcmahan_cnn] [--min-time 3]

Reads the models' weights and one lot per model from ``inputs.npz`` (written by
scripts/tfp_check/tfp_check.py) and writes to ``tfp.npz``:

1. ``<model>/optimizer/<k>``: the clipped, summed, zero-noise gradient of the lot from
   ``DPKerasSGDOptimizer(l2_norm_clip=C, noise_multiplier=0, num_microbatches=B)``
   (its ``_compute_gradients`` returns sum/num_microbatches: we multiply by B), and
   ``<model>/dpsequential/<k>`` the same from ``DPSequential``'s fast clipping
   (``clip_grads.compute_clipped_gradients_and_outputs``, mean-reduced loss: times B), for
   the models its default layer registry covers (Dense and Embedding only).
2. The privacy grid (``grid.json``): ``compute_dp_sgd_privacy_statement`` (its text, with and
   without microbatching) and the RDP accountant of TF Privacy's pinned ``dp_accounting``
   (0.4.3; TF Privacy 0.9.0 no longer has ``compute_rdp``/``get_privacy_spent``, which moved
   there): the RDP of the Poisson-sampled Gaussian on its default orders and ε from it.
3. Step times at B of ``train_function`` (what ``fit`` runs per step) for a plain Keras 2
   model, the same model compiled with ``DPKerasSGDOptimizer`` (vector loss, as TF Privacy's
   tutorials) and ``DPSequential`` with the default layer registry (XLA on, its default).

The last line of stdout is ``TFP_RESULT <json>`` (versions, statements, timings, notes).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SHAPES = {"logistic": ((30,), 2), "mlp": ((30,), 2), "small_cnn": ((8, 8, 1), 10),
          "mcmahan_cnn": ((28, 28, 1), 10)}


def layers_of(name):
    """The Keras 2 layers of the course models (fldp_teach.models), same order of weights."""
    shape, classes = SHAPES[name]
    L = tf.keras.layers
    if name == "logistic":
        body = [L.Dense(classes)]
    elif name == "mlp":
        body = [L.Dense(64, activation="relu"), L.Dense(classes)]
    elif name == "small_cnn":
        body = [L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
                L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
                L.Flatten(), L.Dense(64, activation="relu"), L.Dense(classes)]
    else:
        body = [L.Conv2D(32, 5, padding="same", activation="relu"), L.MaxPooling2D(2),
                L.Conv2D(64, 5, padding="same", activation="relu"), L.MaxPooling2D(2),
                L.Flatten(), L.Dense(512, activation="relu"), L.Dense(classes)]
    return [L.InputLayer(input_shape=shape)] + body


def weights_of(inputs, name):
    count = int(inputs[f"{name}/num_weights"])
    return [inputs[f"{name}/w{k}"] for k in range(count)]


def optimizer_gradient_sum(name, inputs):
    from tensorflow_privacy import DPKerasSGDOptimizer

    model = tf.keras.Sequential(layers_of(name))
    model.set_weights(weights_of(inputs, name))
    x, y = tf.constant(inputs[f"{name}/x"]), tf.constant(inputs[f"{name}/y"])
    clip, batch = float(inputs[f"{name}/clip_norm"]), int(x.shape[0])
    optimizer = DPKerasSGDOptimizer(l2_norm_clip=clip, noise_multiplier=0.0,
                                    num_microbatches=batch, learning_rate=1.0)
    with tf.GradientTape(persistent=True) as tape:
        logits = model(x, training=True)
        loss = tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    grads_and_vars = optimizer._compute_gradients(loss, model.trainable_variables, tape=tape)
    return [g.numpy() * batch for g, _ in grads_and_vars]  # their sum / num_microbatches


def dpsequential_gradient_sum(name, inputs):
    """DPSequential's fast clipping, or None when its registry does not cover the model."""
    from tensorflow_privacy.privacy.fast_gradient_clipping import clip_grads, layer_registry
    from tensorflow_privacy.privacy.keras_models.dp_keras_model import DPSequential

    registry = layer_registry.make_default_layer_registry()
    clip = float(inputs[f"{name}/clip_norm"])
    model = DPSequential(l2_norm_clip=clip, noise_multiplier=0.0,
                         layers=layers_of(name), layer_registry=registry, use_xla=False)
    if not model._enable_fast_peg_computation:
        return None
    model.compile(optimizer=tf.keras.optimizers.legacy.SGD(1.0),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.set_weights(weights_of(inputs, name))
    x, y = tf.constant(inputs[f"{name}/x"]), tf.constant(inputs[f"{name}/y"])
    grads, _, _ = clip_grads.compute_clipped_gradients_and_outputs(
        model, clip, registry, x, y,
        clipping_loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return [g.numpy() * int(x.shape[0]) for g in grads]  # gradient of the mean: times B


def privacy(grid):
    import dp_accounting
    from dp_accounting.rdp import rdp_privacy_accountant as rdp
    from tensorflow_privacy import compute_dp_sgd_privacy_statement

    rows = []
    for row in grid:
        n, b, epochs, z, delta = (row[k] for k in ("n", "b", "epochs", "z", "delta"))
        statements = {
            str(micro): compute_dp_sgd_privacy_statement(
                number_of_examples=n, batch_size=b, num_epochs=epochs, noise_multiplier=z,
                delta=delta, used_microbatching=micro)
            for micro in (True, False)}
        q, steps = b / n, row["steps"]
        orders = np.array(rdp.DEFAULT_RDP_ORDERS)
        curve = steps * rdp._compute_rdp_poisson_subsampled_gaussian(q, z, orders)
        eps, order = rdp.compute_epsilon(orders, curve, delta)
        accountant = rdp.RdpAccountant()
        accountant.compose(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)),
                           steps)
        rows.append({**row, "statement_microbatching": statements["True"],
                     "statement": statements["False"], "rdp_orders": orders.tolist(),
                     "rdp": np.asarray(curve).tolist(), "eps_rdp": float(eps),
                     "eps_order": float(order),
                     "eps_accountant": float(accountant.get_epsilon(delta))})
    return rows


def _train_function_step(model, x, y):
    iterator = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
    function = model.make_train_function()
    return lambda: function(iterator)


def timings(models, batch, min_time, clip=1.0, z=1.0):
    from tensorflow_privacy import DPKerasSGDOptimizer
    from tensorflow_privacy.privacy.fast_gradient_clipping import layer_registry
    from tensorflow_privacy.privacy.keras_models.dp_keras_model import DPSequential

    rng = np.random.default_rng(0)
    out = {}
    for name in models:
        shape, classes = SHAPES[name]
        x = tf.constant(rng.normal(size=(batch, *shape)).astype(np.float32))
        y = tf.constant(rng.integers(0, classes, batch).astype(np.int32))
        loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        vector_loss = tf.keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=tf.keras.losses.Reduction.NONE)
        steps = {}
        plain = tf.keras.Sequential(layers_of(name))
        plain.compile(optimizer=tf.keras.optimizers.legacy.SGD(0.01), loss=loss,
                      metrics=["accuracy"])
        steps["plain"] = _train_function_step(plain, x, y)
        dp_opt = tf.keras.Sequential(layers_of(name))
        dp_opt.compile(optimizer=DPKerasSGDOptimizer(l2_norm_clip=clip, noise_multiplier=z,
                                                     num_microbatches=batch,
                                                     learning_rate=0.01),
                       loss=vector_loss, metrics=["accuracy"])
        steps["optimizer"] = _train_function_step(dp_opt, x, y)
        dp_seq = DPSequential(l2_norm_clip=clip, noise_multiplier=z, layers=layers_of(name),
                              layer_registry=layer_registry.make_default_layer_registry())
        dp_seq.compile(optimizer=tf.keras.optimizers.legacy.SGD(0.01), loss=loss,
                       metrics=["accuracy"])
        steps["dpsequential"] = _train_function_step(dp_seq, x, y)
        fast = bool(dp_seq._enable_fast_peg_computation)
        for step in steps.values():
            for _ in range(3):
                step()
        times = {k: [] for k in steps}
        start = time.perf_counter()
        while min(len(t) for t in times.values()) < 5 or time.perf_counter() - start < min_time:
            for k, step in steps.items():
                t0 = time.perf_counter()
                step()
                times[k].append(time.perf_counter() - t0)
        ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        out[name] = {**ms, "dpsequential_fast_path": fast}
        print(f"tfp timing {name}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items())
              + f" (DPSequential fast path: {fast})", flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--grid", required=True)
    parser.add_argument("--timing-models", nargs="*", default=list(SHAPES))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--min-time", type=float, default=3.0)
    args = parser.parse_args(argv)

    import tensorflow_privacy

    print(f"TensorFlow {tf.__version__}, tensorflow-privacy {tensorflow_privacy.__version__}",
          flush=True)
    inputs = np.load(args.inputs)
    arrays, notes = {}, []
    for name in [str(n) for n in inputs["models"]]:
        for k, g in enumerate(optimizer_gradient_sum(name, inputs)):
            arrays[f"{name}/optimizer/{k}"] = g
        sequential = dpsequential_gradient_sum(name, inputs)
        if sequential is None:
            notes.append(f"{name}: DPSequential's default layer registry (Dense, Embedding) "
                         "does not cover it: its fast path is off, no fast-clipping gradient")
        else:
            for k, g in enumerate(sequential):
                arrays[f"{name}/dpsequential/{k}"] = g
    np.savez(args.out, **arrays)
    print("gradients of one lot: done", flush=True)
    with open(args.grid, encoding="utf-8") as f:
        grid = json.load(f)
    result = {
        "versions": {"python": sys.version.split()[0], "tensorflow": tf.__version__,
                     "tensorflow_privacy": tensorflow_privacy.__version__,
                     "keras": tf.keras.__version__ if hasattr(tf.keras, "__version__") else "?"},
        "privacy": privacy(grid),
        "timing": None,
        "notes": notes,
        "loadavg": os.getloadavg(),
    }
    print("privacy grid: done", flush=True)
    result["timing"] = timings(args.timing_models, args.batch_size, args.min_time)
    result["loadavg"] = os.getloadavg()  # after the timings
    print("TFP_RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
