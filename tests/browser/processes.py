"""Process bookkeeping for the browser test: free ports, bounded waits, and stopping a process
together with everything it started (by PID, process group first, then any stray descendant)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A bounded wait ran out; the message says what was awaited and what was last seen."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(probe: Callable[[], T], *, timeout: float, what: str, interval: float = 0.25,
              describe: Callable[[], str] | None = None) -> T:
    """Call ``probe`` until it returns something truthy and return that; raise ``WaitTimeout``
    after ``timeout`` seconds, naming ``what`` and (if given) ``describe()`` of the last state."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            state = f"; last state: {describe()}" if describe else ""
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}{state}")
        time.sleep(interval)


def descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (Linux /proc), children before grandchildren.

    Needed because Jupyter starts each kernel in a session of its own (so killing the server's
    process group does not reach the kernels), and an orphan is re-parented to init: collect the
    tree *before* signalling anything."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name (field 2) may contain spaces and parentheses: split after the last ')'
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, frontier = [], [pid]
    while frontier:
        kids = [k for p in frontier for k in children.get(p, [])]
        found.extend(kids)
        frontier = kids
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_process_tree(proc: subprocess.Popen, *, grace: float = 10.0) -> None:
    """Stop ``proc`` (started with ``start_new_session=True``) and everything it started:
    SIGTERM to its process group and to every descendant, wait up to ``grace`` seconds,
    then SIGKILL whatever is left. Never touches processes it did not start."""
    tree = descendants(proc.pid)
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in tree:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.poll() is not None and not any(_alive(p) for p in tree):
            break
        time.sleep(0.1)
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in tree:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent
        pass
