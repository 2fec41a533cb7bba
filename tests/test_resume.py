"""Checkpoint and resume (issue 14): a run killed at any point and resumed ends with the same ε
(and, at a fixed noise seed, the same weights) as an uninterrupted run; a changed configuration
is refused with a diff; OS-entropy noise is never replayed: a step or round charged before the
crash stays charged. Crashes are injected in-process here (an exception at a chosen write);
tests/test_resume_sigkill.py kills real processes."""
import functools
import json

import numpy as np
import pytest

from fldp_teach import accounting, checkpoint, models, randomness
from fldp_teach.checkpoint import CheckpointMismatchError, RunDirectory
from fldp_teach.dp_fedavg import AdaptiveClipping, central_epsilon
from fldp_teach.simulation import simulate
from fldp_teach.training import train_dp_sgd

RNG = np.random.default_rng(9)
X = RNG.normal(size=(40, 5)).astype(np.float32)
Y = RNG.integers(0, 3, 40).astype(np.int32)
KW = dict(epochs=3, batch_size=10, learning_rate=0.1, clip_norm=1.0, noise_multiplier=1.0, delta=1e-5,
          progress=False)


class _Crash(BaseException):
    """Stands for the process dying (not an Exception: nothing may catch it)."""


def _crash_at(monkeypatch, method, call, after=False):
    """Make RunDirectory.<method> die on its call-th call (before writing, or just after)."""
    real = getattr(RunDirectory, method)
    calls = {"n": 0}

    def wrapped(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call and not after:
            raise _Crash
        result = real(self, *args, **kwargs)
        if calls["n"] == call:
            raise _Crash
        return result

    monkeypatch.setattr(RunDirectory, method, wrapped)


def _model(seed=0, **kw):
    return models.logistic_regression(5, num_classes=3, seed=seed)


def _train(folder, model=None, **kw):
    model = model or _model()
    return model, train_dp_sgd(model, X, Y, checkpoint_dir=folder, **(KW | kw))


def _same_weights(a, b):
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)


# ----------------------------------------------------------------------------- DP-SGD
# where the process dies: (method, its call number, after the write?). write_ledger call 1 is
# the empty ledger, then one call per charge (Poisson: call k + 1 charges step k; shuffled
# batches: call e + 1 charges epoch e, at step 4e − 3); write_state call 1 is the initial
# state, call k + 1 saves step k.
CRASHES = [("write_state", 5, False),    # step 4 ran and was charged, its state not saved
           ("write_ledger", 1, False),   # the initial state saved, nothing charged
           ("write_ledger", 3, False),   # between steps: step 2 (epoch 2) not charged yet
           ("write_ledger", 3, True),    # step 2 (epoch 2) charged, nothing of it run
           ("write_state", 6, True),     # step 5 saved: the epoch-2 permutation is on disk
           ("write_state", 1, False)]    # before anything ran


@pytest.mark.parametrize("sampling", ["poisson", "shuffle"])
@pytest.mark.parametrize("crash", CRASHES, ids=lambda c: f"{c[0]}-{c[1]}-{'after' if c[2] else 'before'}")
def test_dp_sgd_resumed_at_a_fixed_noise_seed_equals_the_uninterrupted_run(tmp_path, monkeypatch, crash, sampling):
    reference, h_ref = _train(tmp_path / "ref", noise_seed=3, sampling=sampling)
    with monkeypatch.context() as m:
        _crash_at(m, *crash)
        with pytest.raises(_Crash):
            _train(tmp_path / "run", noise_seed=3, sampling=sampling)
    # the checkpoint's weights, not the new model's (unless the run died before saving any)
    model = _model(seed=0 if crash == ("write_state", 1, False) else 99)
    resumed, h = _train(tmp_path / "run", model=model, noise_seed=3, sampling=sampling, resume=True)
    _same_weights(resumed, reference)
    assert h.steps == h_ref.steps == 12 and h.ledger == h_ref.ledger
    np.testing.assert_array_equal(h.epsilon, h_ref.epsilon)
    assert h.loss == h_ref.loss and h.interrupted_steps == ()
    on_disk = json.loads((tmp_path / "run" / "ledger.json").read_text())
    assert on_disk["epsilon"] == h_ref.epsilon[-1]


def test_dp_sgd_resumed_twice_with_adam_equals_the_uninterrupted_run(tmp_path, monkeypatch):
    reference, h_ref = _train(tmp_path / "ref", noise_seed=5, optimizer="adam")
    for call in (4, 4):  # die at the 4th state write of each process
        with monkeypatch.context() as m:
            _crash_at(m, "write_state", call)
            with pytest.raises(_Crash):
                _train(tmp_path / "run", noise_seed=5, optimizer="adam", resume=True)
    resumed, h = _train(tmp_path / "run", noise_seed=5, optimizer="adam", resume=True)
    _same_weights(resumed, reference)
    assert h.epsilon == h_ref.epsilon and h.steps == 12


def test_os_entropy_noise_is_never_replayed_and_the_lost_step_stays_charged(tmp_path, monkeypatch):
    roots = []
    real_root = randomness.noise_root
    monkeypatch.setattr(randomness, "noise_root", lambda seed=None: roots.append(real_root(seed)) or roots[-1])
    with monkeypatch.context() as m:
        _crash_at(m, "write_state", 5)  # step 4 charged and run, then the process dies
        with pytest.raises(_Crash):
            _train(tmp_path / "run")
    with np.load(tmp_path / "run" / "state.npz") as saved:
        assert not [k for k in saved.files if k.startswith("generator")]  # no private coins on disk
    _, h = _train(tmp_path / "run", resume=True)
    assert len(roots) == 2 and roots[0] != roots[1]  # fresh coins after the resume
    assert h.steps == 12 and h.interrupted_steps == (4,)
    q = 10 / 40
    want = accounting.dp_sgd_epsilon(sampling_rate=q, noise_multiplier=1.0, steps=13, delta=1e-5)
    assert h.epsilon[-1] == pytest.approx(want, rel=1e-12)  # 12 steps + the lost one
    assert json.loads((tmp_path / "run" / "ledger.json").read_text())["charged_steps"] == 13


def test_os_entropy_shuffle_resumed_mid_epoch_charges_a_new_epoch(tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        _crash_at(m, "write_state", 4, after=True)  # steps 1-3 saved, then the process dies
        with pytest.raises(_Crash):
            _train(tmp_path / "run", sampling="shuffle")
    _, h = _train(tmp_path / "run", sampling="shuffle", resume=True)
    labels = [e.label for e in h.ledger]
    assert labels == ["DP-SGD epoch 1", "DP-SGD epoch 1 (resumed, new shuffle)", "DP-SGD epoch 2",
                      "DP-SGD epoch 3"]
    want = accounting.RdpAccountant().compose(accounting.ShuffledGaussian(1.0, 10, 40, 4)).epsilon(delta=1e-5)
    assert h.steps == 12 and h.epsilon[-1] == pytest.approx(want)


def test_a_budget_spans_the_interruption(tmp_path, monkeypatch):
    q = 10 / 40
    budget = (accounting.dp_sgd_epsilon(sampling_rate=q, noise_multiplier=1.0, steps=9, delta=1e-5)
              + accounting.dp_sgd_epsilon(sampling_rate=q, noise_multiplier=1.0, steps=10, delta=1e-5)) / 2
    with monkeypatch.context() as m:
        _crash_at(m, "write_state", 6)
        with pytest.raises(_Crash):
            _train(tmp_path / "run", noise_seed=1, max_epsilon=budget)
    _, h = _train(tmp_path / "run", noise_seed=1, max_epsilon=budget, resume=True)
    assert h.steps == 9 and "before step 10 of 12" in h.stopped
    _, again = _train(tmp_path / "run", noise_seed=1, max_epsilon=budget, resume=True)
    assert again.steps == 9 and again.epsilon == h.epsilon  # resuming a finished run trains nothing


def test_a_changed_configuration_is_refused_with_a_diff(tmp_path):
    _train(tmp_path / "run", noise_seed=1, epochs=1)
    with pytest.raises(CheckpointMismatchError) as err:
        _train(tmp_path / "run", noise_seed=1, epochs=1, learning_rate=0.2, max_epsilon=50.0, resume=True)
    assert "learning_rate: 0.1 -> 0.2" in str(err.value) and "max_epsilon: None -> 50.0" in str(err.value)
    assert len(err.value.diff) == 3  # learning_rate, max_epsilon and the optimizer's learning rate
    with pytest.raises(CheckpointMismatchError, match="data: "):
        train_dp_sgd(_model(), X + 1, Y, checkpoint_dir=tmp_path / "run", noise_seed=1, resume=True,
                     **(KW | dict(epochs=1)))
    with pytest.raises(CheckpointMismatchError, match="noise_seed: 1 -> 'os-entropy'"):
        _train(tmp_path / "run", epochs=1, resume=True)
    with pytest.raises(checkpoint.CheckpointError, match="already holds a run"):
        _train(tmp_path / "run", noise_seed=1, epochs=1)


def test_resume_needs_a_folder_and_an_empty_folder_starts_fresh(tmp_path):
    with pytest.raises(ValueError, match="resume=True needs the checkpoint_dir"):
        train_dp_sgd(_model(), X, Y, resume=True, **KW)
    (tmp_path / "empty").mkdir()
    fresh, h = _train(tmp_path / "empty", noise_seed=2, resume=True)
    plain = _model()
    h2 = train_dp_sgd(plain, X, Y, noise_seed=2, **KW)
    _same_weights(fresh, plain)
    assert h.epsilon == h2.epsilon


# ----------------------------------------------------------------------------- simulate
def _federation():
    rng = np.random.default_rng(4)
    clients = [(rng.normal(size=(15, 4)).astype(np.float32), rng.integers(0, 2, 15).astype(np.int32))
               for _ in range(6)]
    return clients, clients[1]


MODEL = functools.partial(models.logistic_regression, 4, seed=0)
SIM = dict(rounds=5, noise_multiplier=1.0, clip_norm=1.0, batch_size=5, learning_rate=0.2, sampling_rate=0.5,
           delta=1e-5, progress=False)


def _sim(folder, **kw):
    clients, test = _federation()
    return simulate(MODEL, clients, test, checkpoint_dir=folder, **(SIM | kw))


@pytest.mark.parametrize("mode", ["none", "central", "local", "distributed", "dpsgd"])
@pytest.mark.parametrize("crash", [("write_state", 3, False), ("write_ledger", 3, True), ("write_ledger", 4, False)],
                         ids=["after-round-2-ran", "round-2-charged", "between-rounds"])
def test_simulate_resumed_at_a_fixed_noise_seed_equals_the_uninterrupted_run(tmp_path, monkeypatch, mode, crash):
    kw = dict(mode=mode, noise_seed=7) if mode != "none" else dict(mode="none", noise_multiplier=0.0,
                                                                    clip_norm=float("inf"))
    if mode == "none" and crash[0] == "write_ledger":
        crash = ("write_state", 2, True)  # mode none charges nothing: die after round 1 is saved
    reference = _sim(tmp_path / "ref", **kw)
    with monkeypatch.context() as m:
        _crash_at(m, *crash)
        with pytest.raises(_Crash):
            _sim(tmp_path / "run", **kw)
    h = _sim(tmp_path / "run", resume=True, **kw)
    assert len(h.records) == 5 and h.interrupted_rounds == []
    assert h.column("epsilon").tolist() == reference.column("epsilon").tolist()
    assert [r["participant_ids"] for r in h.records] == [r["participant_ids"] for r in reference.records]
    for a, b in zip(h.final_weights, reference.final_weights):
        np.testing.assert_array_equal(a, b)


def test_simulate_adaptive_clipping_resumes_its_clip_norm(tmp_path, monkeypatch):
    kw = dict(mode="central", noise_seed=2, adaptive_clipping=AdaptiveClipping(count_stddev=1.0))
    reference = _sim(tmp_path / "ref", **kw)
    with monkeypatch.context() as m:
        _crash_at(m, "write_state", 4)
        with pytest.raises(_Crash):
            _sim(tmp_path / "run", **kw)
    h = _sim(tmp_path / "run", resume=True, **kw)
    assert h.column("clip_norm").tolist() == reference.column("clip_norm").tolist()
    for a, b in zip(h.final_weights, reference.final_weights):
        np.testing.assert_array_equal(a, b)


def test_simulate_os_entropy_round_lost_in_a_crash_stays_charged(tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        _crash_at(m, "write_state", 3)  # round 2 charged and run, not saved
        with pytest.raises(_Crash):
            _sim(tmp_path / "run", mode="central")
    h = _sim(tmp_path / "run", mode="central", resume=True)
    assert len(h.records) == 5 and h.interrupted_rounds == [2]
    assert h.records[-1]["epsilon"] == pytest.approx(
        central_epsilon(noise_multipliers=[1.0] * 6, sampling_rate=0.5, delta=1e-5))
    saved = json.loads((tmp_path / "run" / "ledger.json").read_text())
    assert saved["charged_rounds"] == 6 and saved["charged_round"] == [0, -1, 1, 2, 3, 4]


def test_simulate_refuses_a_changed_configuration_with_a_diff(tmp_path):
    _sim(tmp_path / "run", mode="central", noise_seed=1, rounds=1)
    with pytest.raises(CheckpointMismatchError) as err:
        _sim(tmp_path / "run", mode="central", noise_seed=1, rounds=1, noise_multiplier=0.5, resume=True)
    assert err.value.diff == ["noise_schedule: [1.0] -> [0.5]"]
    clients, test = _federation()
    clients[0] = (clients[0][0] * 2, clients[0][1])
    with pytest.raises(CheckpointMismatchError, match="data: "):
        simulate(MODEL, clients, test, checkpoint_dir=tmp_path / "run", resume=True,
                 **(SIM | dict(mode="central", noise_seed=1, rounds=1)))


# ----------------------------------------------------------------------------- CLI
def test_cli_train_checkpoint_and_resume(tmp_path, capsys):
    from fldp_teach.cli import main

    argv = ["train", "fedavg", "--clients", "6", "--rounds", "3", "--limit", "90", "--noise-seed", "4",
            "--checkpoint-dir", str(tmp_path / "run")]
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[-1]
    assert main(argv + ["--resume"]) == 0  # a finished run: nothing more to train, same result
    out = capsys.readouterr().out
    assert "(resuming)" in out and out.splitlines()[-1] == first
    with pytest.raises(SystemExit) as stop:
        main(argv[:5] + ["5"] + argv[6:] + ["--resume"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "rounds: 3 -> 5" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as stop:
        main(argv)  # a fresh run into a folder that holds one
    assert stop.value.code == 2 and "already holds a run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "dpsgd", "--resume"])
    assert "--resume needs --checkpoint-dir" in capsys.readouterr().err
