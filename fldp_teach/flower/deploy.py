"""A loopback federation on this machine: one SuperLink and N SuperNodes on 127.0.0.1.

``fldp-teach flower up N`` (:func:`up`) starts them, ``fldp-teach flower down`` (:func:`down`)
stops them, :func:`run_app` runs ``flower-app/`` on them with ``flwr run``. What a class runs
across machines is the same three commands with real addresses (docs/flower.md).

Safety rules, each kept here:

* everything listens on 127.0.0.1 only and runs ``--insecure`` (plain HTTP: fine on loopback,
  never across a network without TLS — see docs/flower.md);
* every process runs under coreutils ``timeout`` (``timeout_s``, default one hour) in its own
  process group, so a forgotten federation dies by itself;
* PIDs (with their start times, against PID reuse) go to a state file; a second :func:`up`
  refuses while one is running; :func:`up` returns only once the SuperLink answers ``/health``
  and every SuperNode's own HTTP API answers too, and cleans up if that fails;
* :func:`down` stops the process groups *and* every descendant found under them (Flower starts
  its SuperExec helpers in sessions of their own), waits, kills what is left and checks that
  nothing remains.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

__all__ = ["default_state_dir", "up", "down", "status", "run_app", "run_simulation", "free_port", "write_flwr_config",
           "DEFAULT_PORT", "CONNECTION"]

DEFAULT_PORT = 9092
#: the name of the loopback connection in $FLWR_HOME/config.toml
CONNECTION = "fldp-loopback"
STATE_FILE = "state.json"


def default_state_dir() -> Path:
    """``$FLDP_FLOWER_STATE_DIR``, else ``~/.cache/fldp_teach/flower``."""
    return Path(os.environ.get("FLDP_FLOWER_STATE_DIR", Path.home() / ".cache" / "fldp_teach" / "flower"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exe(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: pip install 'fldp_teach[flower]'")
    return found


def _child_env(flwr_home: Path) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", FLWR_HOME=str(flwr_home),
               FLWR_TELEMETRY_ENABLED="0", FLWR_DISABLE_UPDATE_CHECK="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks): with the PID, names a process
    uniquely. None when the process is gone (or a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def _alive(entry: dict) -> bool:
    return _start_time(entry["pid"]) == entry["start"]


def _descendants(pids) -> set:
    """Every live process whose parent chain reaches one of ``pids`` (from /proc)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = set(), set(pids)
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier and p not in found}
        found |= frontier
    return found


def _launch(cmd, *, log: Path, env, timeout_s: float) -> dict:
    wrapped = ["timeout", "--kill-after=10", str(int(timeout_s)), *cmd]
    with open(log, "wb") as out:
        proc = subprocess.Popen(wrapped, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    time.sleep(0.05)
    return {"pid": proc.pid, "start": _start_time(proc.pid), "log": str(log), "cmd": cmd}


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def _tail(path, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def status(*, state_dir=None) -> dict | None:
    """The state of the running federation (with ``alive`` per process), or None."""
    path = Path(state_dir or default_state_dir()) / STATE_FILE
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    for entry in [state["superlink"], *state["supernodes"]]:
        entry["alive"] = _alive(entry)
    return state


def up(num_supernodes: int, *, port: int = DEFAULT_PORT, state_dir=None, timeout_s: float = 3600,
       health_timeout_s: float = 120) -> dict:
    """Start a SuperLink on 127.0.0.1:``port`` and ``num_supernodes`` SuperNodes (node config
    ``partition-id=i num-partitions=N``, their own HTTP APIs on the next free ports), each under
    ``timeout_s``; wait until all answer ``/health``; record them in the state file. Refuses if
    a federation recorded in ``state_dir`` is still running."""
    n = int(num_supernodes)
    if n < 1:
        raise ValueError(f"num_supernodes must be >= 1, got {num_supernodes}")
    state_dir = Path(state_dir or default_state_dir())
    state_dir.mkdir(parents=True, exist_ok=True)
    current = status(state_dir=state_dir)
    if current is not None:
        alive = [e["pid"] for e in [current["superlink"], *current["supernodes"]] if e["alive"]]
        if alive:
            raise RuntimeError(f"a Flower federation is already running (PIDs {alive}, state "
                               f"{state_dir / STATE_FILE}); stop it first: fldp-teach flower down")
        (state_dir / STATE_FILE).unlink()
    flwr_home = state_dir / "flwr_home"
    flwr_home.mkdir(exist_ok=True)
    env = _child_env(flwr_home)
    state = {"port": int(port), "address": f"127.0.0.1:{int(port)}", "state_dir": str(state_dir),
             "flwr_home": str(flwr_home), "timeout_s": timeout_s, "started": time.time(),
             "superlink": None, "supernodes": []}

    def save():
        (state_dir / STATE_FILE).write_text(json.dumps(state, indent=1))

    try:
        state["superlink"] = _launch([_exe("flower-superlink"), "--insecure", "--host", "127.0.0.1",
                                      "--port", str(port), "--disable-runtime-dependency-installation"],
                                     log=state_dir / "superlink.log", env=env, timeout_s=timeout_s)
        save()
        _wait_healthy([(state["superlink"], f"http://127.0.0.1:{port}/health")], health_timeout_s)
        used = {int(port)}
        for i in range(n):
            node_port = free_port()
            while node_port in used:
                node_port = free_port()
            used.add(node_port)
            entry = _launch([_exe("flower-supernode"), "--insecure", "--superlink", f"127.0.0.1:{port}",
                             "--host", "127.0.0.1", "--port", str(node_port),
                             "--node-config", f"partition-id={i} num-partitions={n}"],
                            log=state_dir / f"supernode-{i}.log", env=env, timeout_s=timeout_s)
            entry.update(port=node_port, partition_id=i)
            state["supernodes"].append(entry)
            save()
        _wait_healthy([(e, f"http://127.0.0.1:{e['port']}/health") for e in state["supernodes"]],
                      health_timeout_s)
    except BaseException:
        save()
        down(state_dir=state_dir)
        raise
    write_flwr_config(flwr_home, port)
    save()
    return state


def _wait_healthy(checks, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(checks)
    while pending:
        for entry, url in list(pending):
            if not _alive(entry):
                raise RuntimeError(f"{Path(entry['cmd'][0]).name} exited early; log {entry['log']}:\n"
                                   f"{_tail(entry['log'])}")
            if _http_ok(url):
                pending.remove((entry, url))
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"not healthy after {timeout_s:g} s: {[u for _, u in pending]}")
        if pending:
            time.sleep(0.3)


def down(*, state_dir=None, grace_s: float = 10) -> list:
    """Stop the federation recorded in ``state_dir``: SIGTERM to each process group and every
    descendant, SIGKILL after ``grace_s``; remove the state file. Returns the PIDs stopped
    (empty when nothing was running). Raises if a process survives SIGKILL."""
    state_dir = Path(state_dir or default_state_dir())
    state = status(state_dir=state_dir)
    if state is None:
        return []
    roots = [e for e in [state["superlink"], *state["supernodes"]] if e and e.get("alive")]
    root_pids = [e["pid"] for e in roots]
    targets = {p: _start_time(p) for p in _descendants(root_pids) | set(root_pids)}
    stopped = sorted(targets)

    def still_alive():
        return [p for p, start in targets.items() if start is not None and _start_time(p) == start]

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in root_pids:
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in still_alive():
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 5)
        while still_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not still_alive():
            break
    left = still_alive()
    if left:
        raise RuntimeError(f"processes survived SIGKILL: {left}")
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return stopped


def write_flwr_config(flwr_home, port: int, *, name: str = CONNECTION) -> Path:
    """``$FLWR_HOME/config.toml`` with one connection ``name`` to the SuperLink at
    127.0.0.1:``port`` (insecure: loopback only)."""
    path = Path(flwr_home) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[superlink]\ndefault = "{name}"\n\n[superlink.{name}]\n'
                    f'address = "127.0.0.1:{int(port)}"\ninsecure = true\n')
    return path


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def run_app(app_dir, *, state_dir=None, run_config: dict | None = None, timeout_s: float = 900) -> subprocess.CompletedProcess:
    """``flwr run <app_dir> fldp-loopback --stream`` against the federation of ``state_dir``
    (blocks until the run ends, under ``timeout_s``). ``run_config`` overrides keys of the
    app's ``[tool.flwr.app.config]``."""
    state = status(state_dir=state_dir)
    if state is None or not state["superlink"]["alive"]:
        raise RuntimeError("no Flower federation is running: fldp-teach flower up N")
    cmd = [_exe("flwr"), "run", str(Path(app_dir).resolve()), CONNECTION, "--stream"]
    if run_config:
        cmd += ["--run-config", " ".join(f"{k}={_toml_value(v)}" for k, v in run_config.items())]
    return subprocess.run(cmd, env=_child_env(Path(state["flwr_home"])), capture_output=True, text=True,
                          timeout=timeout_s, start_new_session=True)


def _processes_naming(text: str) -> dict:
    """{pid: start time} of live processes whose command line contains ``text``."""
    found = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            start = _start_time(int(d.name))
            if start is not None and text in cmd:
                found[int(d.name)] = start
    return found


def run_simulation(app_dir, *, num_supernodes: int, run_config: dict | None = None, flwr_home=None,
                   timeout_s: float = 900) -> subprocess.CompletedProcess:
    """``flwr run <app_dir> fldp-simulation --stream`` in Flower's Simulation Runtime with
    ``num_supernodes`` virtual SuperNodes, in a private ``$FLWR_HOME`` (default: a new
    temporary folder). Flower starts a local SuperLink for it and leaves it running; we stop
    it (and everything else naming that ``$FLWR_HOME``) when the run ends, also on error.
    ``FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1``: the app runs in this environment
    (Flower would otherwise try to install ``fldp_teach[flower]`` into a fresh one per run)."""
    import tempfile

    n = int(num_supernodes)
    if n < 1:
        raise ValueError(f"num_supernodes must be >= 1, got {num_supernodes}")
    home = Path(flwr_home) if flwr_home is not None else Path(tempfile.mkdtemp(prefix="fldp-flwr-sim-"))
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        '[superlink]\ndefault = "fldp-simulation"\n\n[superlink.fldp-simulation]\n'
        f'address = ":local:"\noptions.num-supernodes = {n}\n')
    env = dict(_child_env(home), FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1")
    cmd = [_exe("flwr"), "run", str(Path(app_dir).resolve()), "fldp-simulation", "--stream"]
    if run_config:
        cmd += ["--run-config", " ".join(f"{k}={_toml_value(v)}" for k, v in run_config.items())]
    try:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s,
                              start_new_session=True, cwd=str(home))
    finally:
        left = _processes_naming(str(home))
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid, start in left.items():
                if _start_time(pid) == start:
                    try:
                        os.kill(pid, sig)
                    except (ProcessLookupError, PermissionError):
                        pass
            deadline = time.monotonic() + 10
            while any(_start_time(p) == s for p, s in left.items()) and time.monotonic() < deadline:
                time.sleep(0.1)
