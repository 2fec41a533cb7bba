"""``make tfp-check``: our DP-SGD and accountant against TF Privacy 0.9.0, on the same inputs.

TF Privacy's last release does not import with TF ≥ 2.16 / Keras 3, so it runs in a second,
pinned environment (``.venv-tfp``: ``requirements.txt`` beside this file, TF 2.15, Keras 2)
made with a Python 3.9–3.11 found on PATH (``TFP_PYTHON`` overrides). Where none is found
the check says so and exits 0 (skipped). Not part of ``make test``.

    .venv/bin/python scripts/tfp_check/tfp_check.py [--out artifacts/tfp-check]
        [--venv .venv-tfp] [--timing-models ...] [--min-time 3] [--no-timing]

Three comparisons, inputs and outputs exchanged as ``.npz`` (``--out``):

1. the clipped, summed, zero-noise gradient of one lot (logistic, MLP, small CNN; same
   weights, same lot, C = the median per-example norm so that about half the examples
   are clipped): ``DPKerasSGDOptimizer(num_microbatches=B)`` and ``DPSequential``'s fast
   clipping (``tfp_side.py``) against ``ghost_norms.clipped_gradient_sum_fast`` and
   ``dpsgd.clipped_gradient_sum_vectorized``;
2. ``compute_dp_sgd_privacy_statement`` and TF Privacy's RDP accountant (``dp_accounting``
   0.4.3, where ``compute_rdp``/``get_privacy_spent`` went) against
   ``accounting.dp_sgd_epsilon`` on a grid, each difference attributed (steps, orders,
   microbatching, shuffling);
3. step time DP / non-private at B = 128 of ``DPKerasSGDOptimizer`` and ``DPSequential``
   against ours (``fldp_teach.keras``; the bare step too), printed side by side.

Writes ``report.md`` in ``--out`` and prints it.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REQUIREMENTS = HERE / "requirements.txt"
PYTHONS = ("python3.11", "python3.10", "python3.9")
SUPPORTED = {(3, 9), (3, 10), (3, 11)}
STAMP = ".fldp-tfp-installed"
GRADIENT_MODELS = ("logistic", "mlp", "small_cnn")
TIMING_MODELS = ("logistic", "mlp", "small_cnn", "mcmahan_cnn")
#: (N, B, epochs, z, δ): MNIST as in Abadi et al. 2016 and TF Privacy's tutorial, the course's
#: breast-cancer runs (notebook 06), and a few corners (large and small z, many epochs)
GRID = (
    (60000, 256, 60, 1.1, 1e-5),
    (60000, 256, 15, 1.1, 1e-5),
    (60000, 250, 15, 1.3, 1e-5),
    (426, 32, 30, 1.0, 1e-5),
    (426, 32, 5, 1.0, 1e-5),
    (1000, 100, 20, 2.0, 1e-4),
    (10000, 64, 50, 0.7, 1e-6),
)


# ------------------------------------------------------------------- finding a Python
def parse_version(text):
    """``"3.11"`` (what the probe prints) → (3, 11); anything else → None."""
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def python_version(executable):
    """(major, minor) of ``executable``, or None if it does not run (a pyenv shim whose
    version is not installed exits non-zero)."""
    try:
        done = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_version(done.stdout) if done.returncode == 0 else None


def find_python(candidates=PYTHONS, *, environ=None, which=shutil.which,
                version_of=python_version):
    """The first Python 3.9–3.11 among ``$TFP_PYTHON`` and ``candidates`` (names on PATH or
    paths): (path, version), or (None, reason) where none runs."""
    environ = os.environ if environ is None else environ
    tried = []
    for name in ([environ["TFP_PYTHON"]] if environ.get("TFP_PYTHON") else []) + list(candidates):
        path = which(name)
        if path is None:
            tried.append(f"{name}: not found")
            continue
        version = version_of(path)
        if version in SUPPORTED:
            return path, version
        tried.append(f"{name}: " + ("does not run" if version is None
                                     else f"is {version[0]}.{version[1]}"))
    return None, "; ".join(tried)


def requirements_hash(path=REQUIREMENTS):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def venv_is_ready(venv, *, requirements=REQUIREMENTS):
    """True when ``venv`` was installed from these very requirements (its stamp matches)."""
    stamp = Path(venv) / STAMP
    return ((Path(venv) / "bin" / "python").exists() and stamp.exists()
            and stamp.read_text().strip() == requirements_hash(requirements))


def ensure_venv(python, venv, *, requirements=REQUIREMENTS, run=subprocess.run):
    """Create ``venv`` with ``python`` and install the pins (a few minutes the first time;
    nothing when the stamp matches). The venv ignores itself in git (``.gitignore``: *)."""
    venv = Path(venv)
    if venv_is_ready(venv, requirements=requirements):
        return
    print(f"tfp-check: creating {venv} with {python} and installing "
          f"{', '.join(Path(requirements).read_text().split())} (a few minutes)", flush=True)
    run([python, "-m", "venv", str(venv)], check=True)
    (venv / ".gitignore").write_text("*\n")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    run(["nice", "-n", "10", *pip, "--upgrade", "pip"], check=True)
    run(["nice", "-n", "10", *pip, "-r", str(requirements)], check=True)
    (venv / STAMP).write_text(requirements_hash(requirements) + "\n")


# ----------------------------------------------------------------------------- parsing
_STATEMENT = re.compile(
    r"Example-level DP.*?occurring once per epoch:\s+(?P<once>inf|[-+0-9.eE]+).*?"
    r"Poisson sampling \(\*\):\s+(?P<poisson>inf|[-+0-9.eE]+)", re.S)


def parse_statement(text):
    """The example-level ε of a ``compute_dp_sgd_privacy_statement`` text:
    ``{"once_per_epoch": ε without sampling, "poisson": ε assuming Poisson sampling}``
    (3 decimals, as printed). ValueError if the text has no such lines."""
    match = _STATEMENT.search(text or "")
    if match is None:
        raise ValueError("no example-level epsilon lines in the privacy statement")
    return {"once_per_epoch": float(match.group("once")),
            "poisson": float(match.group("poisson"))}


def parse_side_output(stdout):
    """The JSON of the last ``TFP_RESULT`` line of tfp_side.py's stdout (ValueError if none)."""
    for line in reversed((stdout or "").splitlines()):
        if line.startswith("TFP_RESULT "):
            return json.loads(line[len("TFP_RESULT "):])
    raise ValueError("tfp_side.py printed no TFP_RESULT line")


def grid_rows(grid=GRID):
    """The grid with both step counts: ours = epochs·⌈N/B⌉ (``train_dp_sgd``), TF Privacy's
    statement = ⌈epochs/q⌉ = ⌈epochs·N/B⌉."""
    return [{"n": n, "b": b, "epochs": e, "z": z, "delta": d,
             "steps": e * math.ceil(n / b), "steps_tfp": math.ceil(e / (b / n))}
            for n, b, e, z, d in grid]


# ----------------------------------------------------------------------------- our side
def _load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_dpsgd", ROOT / "benchmarks" / "dpsgd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def our_gradients(models=GRADIENT_MODELS, batch=32, seed=0):
    """(inputs for tfp_side.py, our clipped sums): weights of the course models, one lot,
    C = median per-example gradient norm of the lot."""
    import numpy as np
    import tensorflow as tf

    from fldp_teach.dpsgd import clipped_gradient_sum_vectorized, per_example_global_norms
    from fldp_teach.dpsgd import per_example_gradients
    from fldp_teach.ghost_norms import clipped_gradient_sum_fast

    bench = _load_benchmark()
    rng = np.random.default_rng(seed)
    inputs, ours = {"models": np.array(models)}, {}
    for name in models:
        build, shape, classes = bench.MODELS[name]
        model = build()
        x = rng.normal(size=(batch, *shape)).astype(np.float32)
        y = rng.integers(0, classes, batch).astype(np.int32)
        norms = tf.function(lambda a, b: per_example_global_norms(
            per_example_gradients(model, a, b)[0]))(tf.constant(x), tf.constant(y)).numpy()
        clip = float(np.median(norms))
        weights = model.get_weights()
        inputs.update({f"{name}/x": x, f"{name}/y": y, f"{name}/clip_norm": clip,
                       f"{name}/num_weights": len(weights)})
        inputs.update({f"{name}/w{k}": w for k, w in enumerate(weights)})
        for method, fn in (("fast", clipped_gradient_sum_fast),
                           ("vectorized", clipped_gradient_sum_vectorized)):
            result = tf.function(lambda a, b: fn(model, a, b, clip_norm=clip))(
                tf.constant(x), tf.constant(y))
            ours.update({f"{name}/{method}/{k}": g.numpy()
                         for k, g in enumerate(result.gradient_sum)})
        ours[f"{name}/clipped"] = int((norms > clip).sum())
    return inputs, ours


def gradient_table(ours, theirs, models=GRADIENT_MODELS):
    """Rows (model, ours, theirs, max |Δ|, max |Δ| / max |theirs|)."""
    import numpy as np

    rows = []
    for name in models:
        count = len([k for k in ours if k.startswith(f"{name}/fast/")])
        for mine in ("fast", "vectorized"):
            for other in ("optimizer", "dpsequential"):
                if f"{name}/{other}/0" not in theirs:
                    continue
                a = [ours[f"{name}/{mine}/{k}"] for k in range(count)]
                b = [theirs[f"{name}/{other}/{k}"] for k in range(count)]
                diff = max(float(np.max(np.abs(u - v))) for u, v in zip(a, b))
                scale = max(float(np.max(np.abs(v))) for v in b)
                rows.append((name, mine, other, diff, diff / scale))
    return rows


def our_privacy(rows, tfp_rows):
    """Our ε beside TF Privacy's, per grid row, with the reason for each difference."""
    import numpy as np

    from fldp_teach import accounting
    from fldp_teach.rdp import rdp_sampled_gaussian

    table = []
    for row, theirs in zip(rows, tfp_rows):
        q, z, delta = row["b"] / row["n"], row["z"], row["delta"]
        orders = np.array(theirs["rdp_orders"])
        ours = accounting.dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z,
                                         steps=row["steps"], delta=delta)
        ours_their_t = accounting.dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z,
                                                 steps=row["steps_tfp"], delta=delta)
        ours_their_orders = accounting.dp_sgd_epsilon(
            sampling_rate=q, noise_multiplier=z, steps=row["steps"], delta=delta,
            orders=orders)
        ours_their_t_orders = accounting.dp_sgd_epsilon(
            sampling_rate=q, noise_multiplier=z, steps=row["steps_tfp"], delta=delta,
            orders=orders)
        curve = row["steps"] * rdp_sampled_gaussian(sampling_rate=q, noise_multiplier=z,
                                                     orders=orders)
        their_curve = np.array(theirs["rdp"])
        finite = np.isfinite(their_curve) & (their_curve > 0)
        rdp_rel = float(np.max(np.abs(curve[finite] - their_curve[finite])
                               / their_curve[finite]))
        shuffled = accounting.RdpAccountant().compose(accounting.ShuffledGaussian(
            z, row["b"], row["n"], row["epochs"])).epsilon(delta=delta)
        statement = parse_statement(theirs["statement"])
        statement_micro = parse_statement(theirs["statement_microbatching"])
        table.append({**row, "ours": ours, "ours_their_t": ours_their_t,
                      "ours_their_orders": ours_their_orders,
                      "ours_their_t_orders": ours_their_t_orders, "rdp_rel": rdp_rel,
                      "dp_accounting": theirs["eps_accountant"], "eps_rdp": theirs["eps_rdp"],
                      "statement_poisson": statement["poisson"],
                      "statement_once": statement["once_per_epoch"],
                      "statement_micro_poisson": statement_micro["poisson"],
                      "ours_shuffled": shuffled})
    return table


def our_timings(models, batch, min_time):
    """Our DP / non-private ratios at B: bare steps (fast/sgd) and the Keras API
    (train_function of make_private vs a plain compiled Keras 3 model)."""
    import numpy as np
    import tensorflow as tf

    from fldp_teach.dpsgd import make_dp_train_step, make_sgd_train_step
    from fldp_teach.keras import make_private

    bench = _load_benchmark()
    rng = np.random.default_rng(0)
    out = {}
    for name in models:
        build, shape, classes = bench.MODELS[name]
        x, y = bench._lot(rng, batch, shape, classes)
        steps = {"sgd": make_sgd_train_step(build(), tf.keras.optimizers.SGD(0.01)),
                 "fast": make_dp_train_step(build(), tf.keras.optimizers.SGD(0.01),
                                            clip_norm=1.0, noise_multiplier=1.0,
                                            generator=tf.random.Generator.from_seed(0))}
        plain = build()
        plain.compile(optimizer=tf.keras.optimizers.SGD(0.01),
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        steps["k-sgd"] = bench._keras_step(plain, x, y)
        private = make_private(build(), clip_norm=1.0, noise_multiplier=1.0, batch_size=batch,
                               num_examples=10 * batch)
        private.compile(optimizer=tf.keras.optimizers.SGD(0.01), metrics=["accuracy"])
        steps["k-dp"] = bench._keras_step(private, x, y)
        seconds = bench.time_steps(steps, x, y, min_time=min_time, min_repeats=5, warmup=3)
        out[name] = {k: 1e3 * v for k, v in seconds.items()}
        print(f"our timing {name}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in out[name].items()),
              flush=True)
    return out


# ------------------------------------------------------------------------------ report
def format_report(gradients, privacy_rows, ours_t, theirs_t, result, notes):
    lines = ["# make tfp-check", "",
             f"TF Privacy side: Python {result['versions']['python']}, TensorFlow "
             f"{result['versions']['tensorflow']}, tensorflow-privacy "
             f"{result['versions']['tensorflow_privacy']}.", "",
             "## 1. Clipped, summed, zero-noise gradient of one lot (B = 32, C = median norm)",
             "", "| model | ours | TF Privacy | max abs diff | max abs diff / max abs |",
             "|---|---|---|---|---|"]
    for name, mine, other, diff, rel in gradients:
        label = {"optimizer": "DPKerasSGDOptimizer(num_microbatches=B)",
                 "dpsequential": "DPSequential fast clipping"}[other]
        lines.append(f"| {name} | {mine} | {label} | {diff:.2e} | {rel:.2e} |")
    lines += [f"* {note}" for note in notes]
    lines += ["", "## 2. ε against TF Privacy's accountant", "",
              "T = epochs·⌈N/B⌉ (ours) or ⌈epochs·N/B⌉ (TF Privacy's statement). Columns: ours "
              "(`dp_sgd_epsilon`, our orders); ours on TF Privacy's orders; dp_accounting 0.4.3 "
              "RdpAccountant (what replaced `compute_rdp`/`get_privacy_spent`), same T; the "
              "statement's Poisson ε with `used_microbatching=False` and with the default "
              "`True`; ours for shuffled batches (`ShuffledGaussian`) against the statement's "
              "'each example once per epoch'.", "",
              "| N | B | epochs | z | δ | T ours / stmt | ours | ours, their orders | "
              "dp_accounting | RDP rel diff | stmt Poisson | ours, stmt T+orders | "
              "stmt Poisson, microbatching | ours shuffled | stmt once/epoch |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in privacy_rows:
        lines.append(
            f"| {r['n']} | {r['b']} | {r['epochs']} | {r['z']} | {r['delta']:g} | "
            f"{r['steps']} / {r['steps_tfp']} | {r['ours']:.4f} | {r['ours_their_orders']:.4f} | "
            f"{r['dp_accounting']:.4f} | {r['rdp_rel']:.1e} | {r['statement_poisson']:.3f} | "
            f"{r['ours_their_t_orders']:.4f} | {r['statement_micro_poisson']:.3f} | "
            f"{r['ours_shuffled']:.3f} | {r['statement_once']:.3f} |")
    lines += ["", "Why they differ:",
              "* same T and orders: ours = dp_accounting to the printed digits (same RDP of the "
              "sampled Gaussian, same improved conversion, Balle et al. 2020);",
              "* our default orders are denser (1.05 … 10 by 0.1/0.05, every integer to 256, "
              "then 320 … 1024) than dp_accounting's (1.1 … 10.9, 11 … 63, 128, 256, 512, "
              "1024): our ε is the same or slightly smaller (a minimum over more orders);",
              "* the statement counts T = ⌈epochs·N/B⌉, `train_dp_sgd` runs epochs·⌈N/B⌉ "
              "steps (≥, so our ε is the same or larger where N/B is not an integer);",
              "* `used_microbatching=True` (the statement's default) halves z (sensitivity 2C "
              "for microbatches of more than one example): with num_microbatches = B, as "
              "`fldp_teach` does, `False` is the matching setting;",
              "* 'each example once per epoch' is epochs Gaussian mechanisms with no "
              "amplification: our `ShuffledGaussian`, what `train_dp_sgd(sampling='shuffle')` "
              "charges; 'assuming Poisson sampling' holds only for Poisson lots, which "
              "`fldp_teach.keras` draws and TF Privacy's Keras examples do not (they shuffle)."]
    lines += ["", "## 3. Step time, DP / non-private, B = 128 (train_function of fit; medians)",
              "", "| model | TF Privacy DPKerasSGDOptimizer / plain | TF Privacy DPSequential / "
              "plain | ours make_private / plain Keras | ours bare fast / sgd |",
              "|---|---|---|---|---|"]
    for name in theirs_t:
        t, o = theirs_t[name], ours_t.get(name)
        fast = "" if t["dpsequential_fast_path"] else " (no fast path: vectorized)"
        ours_cols = (f"{o['k-dp'] / o['k-sgd']:.2f} ({o['k-dp']:.2f} ms) | "
                     f"{o['fast'] / o['sgd']:.2f}" if o else "– | –")
        lines.append(f"| {name} | {t['optimizer'] / t['plain']:.2f} ({t['optimizer']:.2f} ms) | "
                     f"{t['dpsequential'] / t['plain']:.2f} ({t['dpsequential']:.2f} ms){fast} | "
                     f"{ours_cols} |")
    lines += ["", f"Load average (TF Privacy side): {' '.join(f'{v:.2f}' for v in result['loadavg'])}; "
              f"at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}. Ratios are measured "
              "within each process; the two TensorFlow versions run one after the other."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "tfp-check"))
    parser.add_argument("--venv", default=str(ROOT / ".venv-tfp"))
    parser.add_argument("--timing-models", nargs="*", default=list(TIMING_MODELS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--min-time", type=float, default=3.0)
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args(argv)

    python, why = find_python()
    if python is None:
        print(f"tfp-check: skipped: no Python 3.9-3.11 found for TensorFlow 2.15 ({why}); "
              "install one (e.g. pyenv install 3.11) or set TFP_PYTHON")
        return 0
    print(f"tfp-check: using {python} (Python {why[0]}.{why[1]})", flush=True)
    ensure_venv(python, args.venv)

    import numpy as np

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    inputs, ours = our_gradients()
    np.savez(out / "inputs.npz", **inputs)
    np.savez(out / "ours.npz", **ours)
    rows = grid_rows()
    (out / "grid.json").write_text(json.dumps(rows))
    models = [] if args.no_timing else args.timing_models
    command = ["nice", "-n", "5", str(Path(args.venv) / "bin" / "python"),
               str(HERE / "tfp_side.py"), "--inputs", str(out / "inputs.npz"),
               "--out", str(out / "tfp.npz"), "--grid", str(out / "grid.json"),
               "--batch-size", str(args.batch_size), "--min-time", str(args.min_time),
               "--timing-models", *models]
    print("tfp-check: TF Privacy's side (stderr in tfp_side.log):", flush=True)
    with open(out / "tfp_side.log", "w") as log:
        side = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        lines = []
        for line in side.stdout:  # its progress lines as they come
            lines.append(line)
            if not line.startswith("TFP_RESULT "):
                print("  " + line, end="", flush=True)
        side.wait()
    if side.returncode != 0:
        print(f"tfp-check: TF Privacy's side failed (exit {side.returncode}); its stderr is in "
              f"{out / 'tfp_side.log'}")
        return 1
    result = parse_side_output("".join(lines))
    theirs = dict(np.load(out / "tfp.npz"))
    gradients = gradient_table(ours, theirs)
    privacy_rows = our_privacy(rows, result["privacy"])
    ours_t = {} if args.no_timing else our_timings(models, args.batch_size, args.min_time)
    report = format_report(gradients, privacy_rows, ours_t, result["timing"], result,
                           result["notes"] + [f"{m}: {ours[f'{m}/clipped']} of 32 examples "
                                              "clipped" for m in GRADIENT_MODELS])
    (out / "report.md").write_text(report)
    print(report)
    worst = max(rel for *_, rel in gradients)
    if worst > 1e-4:
        print(f"tfp-check: FAILED: gradients differ (max relative difference {worst:.2e})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
