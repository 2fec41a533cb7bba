"""Files that survive a crash: atomic writes, the privacy ledger on disk, run directories.

A privacy ledger that lives only in memory is forgotten when a laptop sleeps or a kernel
dies, and the next run starts again at ε = 0. :func:`fldp_teach.training.train_dp_sgd` and
:func:`fldp_teach.simulation.simulate` therefore take a ``checkpoint_dir``; this module holds
what both need and no TensorFlow (layer 1):

* :func:`atomic_write` — write to a temporary file in the same folder, flush, ``os.fsync``,
  ``os.replace`` over the old file, then fsync the folder so that the rename itself is on
  disk. A crash at any point leaves either the old file or the new one, never half of one.
* :class:`RunDirectory` — one run's folder::

      config.json   what the run is (hyperparameters, fingerprints of the data and model);
                    a resumed run must match it, else :class:`CheckpointMismatchError` lists
                    what changed
      ledger.json   the privacy ledger: every step or round charged so far, written
                    atomically *before* that step or round draws its noise ("charge first")
      state.npz     weights, optimizer state, sampling RNG state, step/round counter and the
                    records so far, written atomically after the step or round

  The ledger is written before the step, the state after it, so at any crash the ledger
  holds at least every step whose result exists, plus at most the one step that was running.
  A failed ledger write raises :class:`LedgerWriteError` and the step is not run: nothing is
  released that the ledger on disk does not cover.

What a resumed run does with a step that was charged but whose result was never saved is the
caller's business (see ``train_dp_sgd``): with a fixed ``noise_seed`` it reruns it with the
same coins, uncharged (same computation, same output); with noise from OS entropy the coins
are gone (they are never written to disk), so the step stays charged and is run again with
fresh coins and charged again.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "CONFIG_FILE",
    "LEDGER_FILE",
    "STATE_FILE",
    "CheckpointError",
    "CheckpointWriteError",
    "LedgerWriteError",
    "CheckpointMismatchError",
    "atomic_write",
    "fingerprint",
    "config_diff",
    "RunDirectory",
]

CONFIG_FILE, LEDGER_FILE, STATE_FILE = "config.json", "ledger.json", "state.npz"


class CheckpointError(Exception):
    """Base class of the errors of this module."""


class CheckpointWriteError(CheckpointError, RuntimeError):
    """A checkpoint file could not be written (the cause is chained)."""


class LedgerWriteError(CheckpointWriteError):
    """The privacy ledger could not be written: the step or round it was to charge did not run,
    and nothing of it was released."""


class CheckpointMismatchError(CheckpointError, ValueError):
    """``resume=True`` with a configuration that differs from the checkpoint's; ``diff`` lists
    the differences, one ``"name: saved -> now"`` line each."""

    def __init__(self, message, diff=()):
        super().__init__(message)
        self.diff = list(diff)


def _fsync_dir(folder: str) -> None:
    """fsync a folder so that a rename inside it is durable (a no-op where folders cannot be
    opened, e.g. on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, data) -> None:
    """Replace the file ``path`` by ``data`` (str: UTF-8, or bytes) atomically: a temporary file
    in the same folder, written, flushed and fsynced, then ``os.replace``d over ``path``, then
    the folder fsynced. On any error the temporary file is removed and the old ``path`` (if
    any) is left as it was; the error propagates."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + "-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def fingerprint(*arrays) -> str:
    """SHA-256 (hex, first 16 bytes) of arrays' dtypes, shapes and bytes, in order: a resumed
    run checks that it trains on the same data as the checkpoint (``None`` entries count)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"None;")
            continue
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


def _plain(value):
    """A JSON-ready copy: tuples → lists, numpy scalars → Python numbers, keys → str."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def config_diff(saved: dict, current: dict) -> list[str]:
    """The differences between two configurations, one ``"key: saved -> current"`` line per
    key that differs (keys missing on one side show as ``<absent>``), sorted by key."""
    saved, current = _plain(saved), _plain(current)
    lines = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if not _same(a, b):
            lines.append(f"{key}: {a!r} -> {b!r}")
    return lines


class RunDirectory:
    """The checkpoint folder of one run (see the module docstring).

    ``RunDirectory(path, config=..., resume=False)`` creates the folder if needed. A fresh run
    (``resume=False``) refuses a folder that already holds a run (its ledger must not be
    overwritten: that would forget budget). ``resume=True`` continues the run the folder holds
    — refusing a different ``config`` with the diff — or starts a fresh one if the folder is
    empty (``resumed`` says which). ``kind`` ("dp-sgd" or "simulate") is part of the config.
    """

    def __init__(self, path, *, config: dict, resume: bool = False):
        if not isinstance(resume, bool):
            raise ValueError(f"resume must be True or False, got {resume!r}")
        self.path = Path(os.fspath(path))
        self.config = _plain(config)
        self.path.mkdir(parents=True, exist_ok=True)
        existing = [name for name in (CONFIG_FILE, LEDGER_FILE, STATE_FILE) if (self.path / name).exists()]
        if existing and not resume:
            raise CheckpointError(
                f"checkpoint_dir {str(self.path)!r} already holds a run ({', '.join(existing)}): pass "
                "resume=True to continue it, or choose an empty folder (a fresh run must not "
                "overwrite a privacy ledger)")
        self.resumed = bool(existing)
        for name in (CONFIG_FILE, LEDGER_FILE, STATE_FILE):  # half-written files of a killed run
            for stale in self.path.glob(f".{name}-*.tmp"):
                stale.unlink(missing_ok=True)
        if self.resumed:
            saved = self.read_json(CONFIG_FILE)
            if saved is None:
                raise CheckpointError(f"checkpoint_dir {str(self.path)!r} holds {', '.join(existing)} "
                                      f"but no {CONFIG_FILE}: cannot tell which run it is")
            diff = config_diff(saved, self.config)
            if diff:
                raise CheckpointMismatchError(
                    f"resume=True with a configuration that does not match the checkpoint in "
                    f"{str(self.path)!r}; changed:\n  " + "\n  ".join(diff) +
                    "\nResume with the saved settings, or start a new run in another folder.", diff)
        else:
            self._write(CONFIG_FILE, json.dumps(self.config, indent=1, sort_keys=True), CheckpointWriteError)

    # ------------------------------------------------------------------ files
    def _write(self, name, data, error) -> None:
        try:
            atomic_write(self.path / name, data)
        except OSError as err:
            raise error(f"could not write {self.path / name}: {err}") from err

    def read_json(self, name):
        try:
            text = (self.path / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return json.loads(text)

    def write_ledger(self, ledger: dict, *, pending: str) -> None:
        """Write the ledger atomically; ``pending`` names what it charges (for the error). On
        failure raise :class:`LedgerWriteError`: the caller must not run that step."""
        try:
            atomic_write(self.path / LEDGER_FILE, json.dumps(_plain(ledger), indent=1))
        except OSError as err:
            raise LedgerWriteError(
                f"could not write the privacy ledger {self.path / LEDGER_FILE} ({err}); {pending} was "
                "NOT run and nothing of it was released; the ledger on disk still holds what was "
                "charged before") from err

    def read_ledger(self) -> dict | None:
        return self.read_json(LEDGER_FILE)

    def write_state(self, arrays: dict, meta: dict) -> None:
        """Write arrays (name → array) and a JSON-ready ``meta`` dict as one ``state.npz``,
        atomically (one file: weights, RNG states and counters can never disagree)."""
        buffer = io.BytesIO()
        np.savez(buffer, __meta__=np.array(json.dumps(_plain(meta))),
                 **{k: np.asarray(v) for k, v in arrays.items()})
        self._write(STATE_FILE, buffer.getvalue(), CheckpointWriteError)

    def read_state(self):
        """(arrays, meta) of the last saved state, or None if no state was saved yet."""
        if not (self.path / STATE_FILE).exists():
            return None
        with np.load(self.path / STATE_FILE, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k != "__meta__"}
            meta = json.loads(str(data["__meta__"]))
        return arrays, meta
