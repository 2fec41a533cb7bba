"""The privacy ledger on disk (issue 14): with ``checkpoint_dir`` every step or round is charged
in ``ledger.json`` (atomic: temp file, fsync, rename, fsync of the folder) *before* it runs;
a failed write raises LedgerWriteError and that step or round is not run."""
import functools
import json
import os
import tempfile

import numpy as np
import pytest

from fldp_teach import accounting, checkpoint, models, simulation
from fldp_teach.checkpoint import CheckpointError, LedgerWriteError, RunDirectory, atomic_write
from fldp_teach.simulation import simulate
from fldp_teach.training import train_dp_sgd

RNG = np.random.default_rng(2)
X = RNG.normal(size=(40, 5)).astype(np.float32)
Y = RNG.integers(0, 3, 40).astype(np.int32)
KW = dict(epochs=2, batch_size=10, learning_rate=0.1, clip_norm=1.0, noise_multiplier=1.0, delta=1e-5,
          noise_seed=4, progress=False)


def _model():
    return models.logistic_regression(5, num_classes=3, seed=0)


def _ledger(folder):
    return json.loads((folder / "ledger.json").read_text())


class _Replaces:
    """Wraps os.replace: records the target of every call, fails the n-th write of ledger.json."""

    def __init__(self, monkeypatch, fail_at=None):
        self.ledger_writes, self.fail_at, self.real = 0, fail_at, os.replace
        monkeypatch.setattr(checkpoint.os, "replace", self)

    def __call__(self, src, dst):
        if os.path.basename(dst) == "ledger.json":
            self.ledger_writes += 1
            if self.ledger_writes == self.fail_at:
                raise OSError(28, "No space left on device")
        return self.real(src, dst)


# ----------------------------------------------------------------------------- atomic_write
def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    atomic_write(path, "old")
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(checkpoint.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["f.json"]
    assert len(synced) == 2  # the file, then the folder (the rename)

    def boom(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(checkpoint.os, "replace", boom)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write(path, "newer")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["f.json"]


def test_a_folder_holding_a_run_is_not_overwritten(tmp_path):
    RunDirectory(tmp_path, config={"a": 1})
    with pytest.raises(CheckpointError, match="already holds a run"):
        RunDirectory(tmp_path, config={"a": 1})


# ----------------------------------------------------------------------------- DP-SGD
def test_dp_sgd_ledger_on_disk_is_the_accountants_after_every_step(tmp_path, monkeypatch):
    replaces = _Replaces(monkeypatch)
    h = train_dp_sgd(_model(), X, Y, checkpoint_dir=tmp_path, **KW)
    saved = _ledger(tmp_path)
    assert saved["charged_steps"] == h.steps == 8 and saved["epsilon"] == h.epsilon[-1]
    assert accounting.RdpAccountant.load(tmp_path / "ledger.json").epsilon(delta=1e-5) == h.epsilon[-1]
    assert replaces.ledger_writes == 1 + 8  # the empty ledger, then once per charged step
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


@pytest.mark.parametrize("fail_at", [2, 6])
def test_dp_sgd_step_whose_ledger_write_fails_is_not_run(tmp_path, monkeypatch, fail_at):
    """Write number fail_at charges step fail_at − 1: it fails, so that step must not run and
    the model must hold exactly the fail_at − 2 steps before it."""
    _Replaces(monkeypatch, fail_at=fail_at)
    model = _model()
    with pytest.raises(LedgerWriteError, match=rf"step {fail_at - 1} .* was NOT run"):
        train_dp_sgd(model, X, Y, checkpoint_dir=tmp_path, **KW)
    ran = fail_at - 2
    assert _ledger(tmp_path)["charged_steps"] == ran  # the old ledger is intact
    reference = _model()
    q = 10 / 40
    budget = accounting.dp_sgd_epsilon(sampling_rate=q, noise_multiplier=1.0, steps=ran, delta=1e-5) if ran else 1e-9
    h = train_dp_sgd(reference, X, Y, max_epsilon=budget, **KW)  # the same run, stopped after `ran` steps
    assert h.steps == ran
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_unwritable_folder_stops_the_run_before_its_first_step(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    real = tempfile.mkstemp

    def refuse(*args, dir=None, **kwargs):
        if dir is not None and os.path.abspath(dir) == str(folder) and folder.exists() and (folder / "config.json").exists():
            raise PermissionError(13, "Permission denied", dir)
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", refuse)
    model = _model()
    before = model.get_weights()
    with pytest.raises(checkpoint.CheckpointWriteError, match="Permission denied"):
        train_dp_sgd(model, X, Y, checkpoint_dir=folder, **KW)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- simulate
def _federation():
    rng = np.random.default_rng(3)
    clients = [(rng.normal(size=(15, 4)).astype(np.float32), rng.integers(0, 2, 15).astype(np.int32))
               for _ in range(6)]
    return clients, clients[0]


SIM = dict(rounds=4, noise_multiplier=1.0, clip_norm=1.0, batch_size=5, learning_rate=0.1, sampling_rate=0.5,
           delta=1e-5, noise_seed=5, progress=False)
MODEL = functools.partial(models.logistic_regression, 4, seed=0)


@pytest.mark.parametrize("mode", ["central", "local", "distributed", "dpsgd"])
def test_simulate_charges_each_round_on_disk_before_any_client_trains(tmp_path, monkeypatch, mode):
    real = simulation._train_clients
    seen = []

    def train(*args, round_index, **kwargs):  # the ledger must already hold this round
        seen.append((round_index, _ledger(tmp_path)["charged_rounds"]))
        return real(*args, round_index=round_index, **kwargs)

    monkeypatch.setattr(simulation, "_train_clients", train)
    clients, test = _federation()
    h = simulate(MODEL, clients, test, mode=mode, checkpoint_dir=tmp_path, **SIM)
    assert all(charged == r + 1 for r, charged in seen) and seen
    saved = _ledger(tmp_path)
    assert saved["charged_rounds"] == 4 and saved["epsilon"] == pytest.approx(h.records[-1]["epsilon"])
    if mode in ("central", "distributed"):
        assert accounting.RdpAccountant.from_json(json.dumps(saved)).epsilon(delta=1e-5) == pytest.approx(
            h.records[-1]["epsilon"])
    else:  # per client: the charged rounds it was sampled in
        sampled = [[r for r, rec in enumerate(h.records) if k in rec["participant_ids"]] for k in range(6)]
        assert saved["participations"] == sampled


def test_simulate_round_whose_ledger_write_fails_is_not_run(tmp_path, monkeypatch):
    _Replaces(monkeypatch, fail_at=3)  # writes: empty ledger, round 1, round 2 (fails)
    trained = []
    real = simulation._train_clients
    monkeypatch.setattr(simulation, "_train_clients",
                        lambda *a, round_index, **k: trained.append(round_index) or real(*a, round_index=round_index, **k))
    clients, test = _federation()
    with pytest.raises(LedgerWriteError, match=r"round 2 was NOT run"):
        simulate(MODEL, clients, test, mode="central", checkpoint_dir=tmp_path, **SIM)
    assert trained == [0] and _ledger(tmp_path)["charged_rounds"] == 1
