"""Kill real training processes with SIGKILL at random points and resume them (issue 14).

Each run is ``fldp-teach train dpsgd|fedavg ... --checkpoint-dir DIR --resume`` (the CLI's
``main``) in a child process. The children are forked from a multiprocessing *forkserver* that
imported TensorFlow once, so a child starts in milliseconds instead of the seconds an import
takes (a fresh interpreter per run would not fit the time budget on two cores). A child is
killed with SIGKILL once the ledger shows a random number of charged steps/rounds, after a
further random delay (so kills land inside steps and inside writes), twice per seed; then a last
child resumes the run to the end. The finished run must have the same total ε, the same number
of steps/rounds and — at a fixed noise seed — the same weights as an uninterrupted run; with
OS-entropy noise ε is that of the run plus the steps/rounds lost in the kills, as the ledger
lists them.
"""
import json
import multiprocessing
import os
import random
import signal
import time

import numpy as np
import pytest

from fldp_teach.accounting import dp_sgd_epsilon
from fldp_teach.cli import main
from fldp_teach.dp_fedavg import central_epsilon

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL") or "forkserver" not in
                                multiprocessing.get_all_start_methods(), reason="needs SIGKILL and fork")

# DP-SGD: 60 examples, B = 6 → 10 Poisson lots per epoch, 3 epochs = 30 steps.
# FedAvg (central): 6 clients of 15 examples, q = 0.5, 8 rounds.
RUNS = {
    "dpsgd": (["train", "dpsgd", "--epochs", "3", "--limit", "60", "--batch-size", "6"], 30, "through_step"),
    "fedavg": (["train", "fedavg", "--mode", "central", "--clients", "6", "--limit", "90", "--rounds", "8",
                "--batch-size", "5", "--noise-multiplier", "1.0"], 8, "charged_rounds"),
}
SEEDS = [11, 12, 13]


@pytest.fixture(scope="module")
def ctx():
    """A forkserver that has imported TensorFlow and the library (children fork from it)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["fldp_teach.cli", "fldp_teach.training", "fldp_teach.simulation",
                                    "fldp_teach.models", "fldp_teach.datasets", "fldp_teach.partition"])
    yield context
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)
    if stop is not None:
        stop()


def _charged(folder, key):
    try:
        return json.loads((folder / "ledger.json").read_text())[key]
    except (FileNotFoundError, ValueError, KeyError):  # not written yet (or read mid-replace)
        return -1


def _run(ctx, argv, folder, kill_after=None, key=None, rng=None, timeout=120):
    """Run ``main(argv)`` in a child; with ``kill_after`` = k, SIGKILL it once the ledger holds k
    charges and a further random 0-40 ms have passed. Returns the exit code (−9: killed)."""
    child = ctx.Process(target=main, args=(argv + ["--checkpoint-dir", str(folder), "--resume"],))
    child.start()
    deadline = time.monotonic() + timeout
    if kill_after is not None:
        while child.is_alive() and _charged(folder, key) < kill_after and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.04))
        if child.is_alive():
            os.kill(child.pid, signal.SIGKILL)
    child.join(max(1.0, deadline - time.monotonic()))
    assert not child.is_alive(), "the child did not finish in time"
    return child.exitcode


def _final(folder):
    ledger = json.loads((folder / "ledger.json").read_text())
    with np.load(folder / "state.npz") as state:
        meta = json.loads(str(state["__meta__"]))
        weights = [state[k] for k in sorted((k for k in state.files if k.startswith("weight_")),
                                            key=lambda k: int(k.split("_")[1]))]
    return ledger, meta, weights


@pytest.mark.parametrize("algorithm", ["dpsgd", "fedavg"])
def test_sigkill_at_random_points_then_resume_gives_the_uninterrupted_result(ctx, tmp_path, algorithm):
    argv, total, key = RUNS[algorithm]
    argv = argv + ["--noise-seed", "7"]
    assert _run(ctx, argv, tmp_path / "reference") == 0
    reference, ref_meta, ref_weights = _final(tmp_path / "reference")
    assert ref_meta["done"] == total
    kills = 0
    for seed in SEEDS:
        rng = random.Random(seed)
        folder = tmp_path / f"seed{seed}"
        for _ in range(2):
            code = _run(ctx, argv, folder, kill_after=rng.randrange(total), key=key, rng=rng)
            kills += code == -signal.SIGKILL
        assert _run(ctx, argv, folder) == 0
        ledger, meta, weights = _final(folder)
        assert meta["done"] == total, seed  # the same number of steps/rounds
        assert ledger["epsilon"] == reference["epsilon"], seed  # the same total ε, exactly
        assert ledger["interrupted"] == [] and ledger.get("ledger") == reference.get("ledger")
        for a, b in zip(weights, ref_weights):  # the same weights (seeded noise)
            np.testing.assert_array_equal(a, b)
        assert not list(folder.glob(".*.tmp"))  # half-written files of the kills were cleared
    assert kills >= 4  # most kills landed while training (a few may find the run finished)


@pytest.mark.parametrize("algorithm", ["dpsgd", "fedavg"])
def test_sigkill_with_os_entropy_noise_charges_what_was_lost(ctx, tmp_path, algorithm):
    argv, total, key = RUNS[algorithm]
    rng = random.Random(5)
    folder = tmp_path / "run"
    for _ in range(2):
        _run(ctx, argv, folder, kill_after=rng.randrange(1, total), key=key, rng=rng)
    assert _run(ctx, argv, folder) == 0
    ledger, meta, _ = _final(folder)
    lost = len(ledger["interrupted"])
    assert meta["done"] == total
    if algorithm == "dpsgd":
        assert ledger["charged_steps"] == total + lost
        want = dp_sgd_epsilon(sampling_rate=6 / 60, noise_multiplier=1.1, steps=total + lost, delta=1e-5)
    else:
        assert ledger["charged_rounds"] == total + lost
        want = central_epsilon(noise_multipliers=[1.0] * (total + lost), sampling_rate=0.5, delta=1e-5)
    assert ledger["epsilon"] == pytest.approx(want, rel=1e-12)
