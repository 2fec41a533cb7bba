"""Rounds per second of the FedAvg driver vs a naive loop of Keras ``fit`` calls, same process.

For K = 10 and K = 100 clients (all K train every round, E = 1, batch 16, SGD lr 0.1):
* MLP (30 → 64 → 2) on breast cancer: the driver's stacked-dense path (all clients in one
  tf.function, weights stacked along a client axis);
* small CNN on 8×8 digits: the driver's one-tf.function-per-round path.
The naive baseline is what a first FL simulation usually looks like: one compiled Keras model,
and per round and client ``set_weights`` → ``fit`` → ``get_weights``, then the weighted mean.
Both time steady state: the naive loop after a warm-up round, the driver as 1 / median round
time after its first round (which traces the tf.function). The driver's rounds include its per-round test
evaluation and accounting; the naive loop does no evaluation, so the ratio is conservative.

Then a privacy–utility table (breast cancer, 100 clients, δ = 1e-5): non-private FedAvg,
central DP-FedAvg, and local DP calibrated to the same ε, for three seeds.

Run: ``.venv/bin/python benchmarks/federated.py``. Prints ``uptime`` first: the machine may
be shared, which slows both columns alike.
"""
from __future__ import annotations

import functools
import os
import subprocess
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _naive_rounds_per_second(model_fn, clients, *, rounds, batch_size, learning_rate):
    import keras

    model = model_fn()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    weights = model.get_weights()

    def one_round(weights):
        new, sizes = [], []
        for c in clients:
            model.set_weights(weights)
            model.fit(c.x, c.y, batch_size=batch_size, epochs=1, verbose=0)
            new.append(model.get_weights())
            sizes.append(len(c.y))
        p = np.array(sizes) / sum(sizes)
        return [sum(pk * w[j] for pk, w in zip(p, new)) for j in range(len(weights))]

    weights = one_round(weights)  # warm-up: builds the train function
    start = time.perf_counter()
    for _ in range(rounds):
        weights = one_round(weights)
    return rounds / (time.perf_counter() - start)


def _driver_rounds_per_second(model_fn, part, test, *, rounds, batch_size, learning_rate):
    """1 / median wall time of a round after the first (which traces the tf.function)."""
    from fldp_teach.simulation import simulate

    h = simulate(model_fn, part, test, rounds=rounds + 1, batch_size=batch_size, learning_rate=learning_rate,
                 local_epochs=1, progress=False, seed=0)
    return 1.0 / float(np.median(h.column("seconds")[1:]))


def speed_table():
    from fldp_teach import models
    from fldp_teach.datasets import load_breast_cancer, load_digits
    from fldp_teach.partition import partition_iid

    cancer, digits = load_breast_cancer(seed=0), load_digits(seed=0)
    cases = [("MLP, breast cancer", cancer,
              functools.partial(models.mlp, cancer.num_features, num_classes=2, hidden_units=(64,), seed=0)),
             ("small CNN, digits", digits, functools.partial(models.small_cnn, seed=0))]
    print(f"{'model':<20} {'K':>4} {'n_k':>5} {'driver r/s':>11} {'naive r/s':>10} {'ratio':>8}")
    for name, ds, model_fn in cases:
        for k in (10, 100):
            part = partition_iid(ds.x_train, ds.y_train, num_clients=k, seed=0)
            naive_rounds = 3 if k == 10 else 1
            naive = _naive_rounds_per_second(model_fn, part.clients, rounds=naive_rounds, batch_size=16,
                                             learning_rate=0.1)
            driver = _driver_rounds_per_second(model_fn, part, (ds.x_test, ds.y_test), rounds=20 if "MLP" in name else 5,
                                               batch_size=16, learning_rate=0.1)
            print(f"{name:<20} {k:>4} {len(ds.y_train) // k:>5} {driver:>11.2f} {naive:>10.3f} {driver / naive:>7.0f}x",
                  flush=True)


def privacy_utility_table(seeds=(0, 1, 2)):
    from fldp_teach import models
    from fldp_teach.datasets import load_breast_cancer
    from fldp_teach.partition import partition_iid
    from fldp_teach.simulation import simulate

    ds = load_breast_cancer(seed=0)
    part = partition_iid(ds.x_train, ds.y_train, num_clients=100, seed=0)
    model_fn = functools.partial(models.logistic_regression, ds.num_features, seed=0)
    common = dict(rounds=20, clients_per_round=20, local_epochs=2, batch_size=None, learning_rate=0.5,
                  clip_norm=1.0, delta=1e-5, progress=False)
    test = (ds.x_test, ds.y_test)
    print("\nbreast cancer, K = 100, m = 20, 20 rounds, E = 2 full-batch, C = 1, delta = 1e-5 (user-level)")
    print(f"{'mode':<10} {'z':>7} {'seed':>4} {'epsilon':>8} {'accuracy':>8} {'AUC':>6}")
    for seed in seeds:
        central = simulate(model_fn, part, test, mode="central", noise_multiplier=1.8, seed=seed, **common)
        target = central.records[-1]["epsilon"]
        z_local = _calibrate_local(target, central, common["delta"])
        runs = [("none", 0.0, simulate(model_fn, part, test, seed=seed, **common)), ("central", 1.8, central),
                ("local", z_local, simulate(model_fn, part, test, mode="local", noise_multiplier=z_local, seed=seed,
                                             **common))]
        for mode, z, h in runs:
            r = h.records[-1]
            print(f"{mode:<10} {z:>7.2f} {seed:>4} {r['epsilon']:>8.2f} {r['accuracy']:>8.3f} {r['auc']:>6.3f}",
                  flush=True)


def _calibrate_local(target, history, delta):
    """Smallest z (bisection in log z) whose local-DP ε ≤ target for the same participation
    pattern (client sampling is seeded apart from the noise, so any mode with this seed samples
    the same clients)."""
    from fldp_teach.dp_fedavg import local_epsilon

    joined = {}
    for r, record in enumerate(history.records):
        for k in record["participant_ids"]:
            joined.setdefault(k, []).append(r)
    rounds = len(history.records)
    lo, hi = 0.1, 1000.0
    for _ in range(40):
        mid = (lo * hi) ** 0.5
        eps = local_epsilon(noise_multipliers=[mid] * rounds, participations=list(joined.values()), delta=delta)
        lo, hi = (lo, mid) if eps <= target else (mid, hi)
    return hi


if __name__ == "__main__":
    from fldp_teach.device import describe_device

    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(describe_device())
    speed_table()
    privacy_utility_table()
