"""Start and stop a throw-away JupyterLab server for the browser test.

``running_jupyterlab(root_dir)`` starts the venv's ``jupyter lab`` on 127.0.0.1 with a free port,
a random token, and temporary settings, workspaces, runtime, config, data and IPython dirs, so
nothing in the user's home or the repository is read or written (open a COPY of the notebooks:
JupyterLab autosaves). The kernel is the venv's ``python3`` (found in ``sys.prefix/share/jupyter``).
On exit, also on failure, the server and every kernel it started are stopped by PID."""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from .processes import free_port, stop_process_tree, wait_for

# User settings written before start: no news toast, every cell attached to the DOM (the test
# reads prompts and outputs of all cells), no update check (no network here anyway).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab: where it listens and where its files and log are."""

    base_url: str   # http://127.0.0.1:PORT
    token: str
    root_dir: Path
    log_path: Path
    pid: int

    def notebook_url(self, relative_path: str) -> str:
        """URL that opens ``relative_path`` (relative to ``root_dir``) in a fresh workspace
        (``?reset``: a restored workspace could activate another tab)."""
        quoted = urllib.parse.quote(relative_path)
        return f"{self.base_url}/lab/tree/{quoted}?reset&token={self.token}"

    def api(self, method: str, path: str, *, timeout: float = 10.0) -> object:
        """Call the Jupyter REST API (``/api/...``) and return the decoded JSON (or None)."""
        request = urllib.request.Request(f"{self.base_url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self, *, timeout: float = 30.0) -> None:
        """Shut down every kernel of this server (between notebooks: TF kernels are large)."""
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _jupyter_executable() -> str:
    """The ``jupyter`` next to the running Python (the venv's), so the kernel is the venv's."""
    candidate = Path(sys.executable).with_name("jupyter")
    if not candidate.exists():
        raise RuntimeError(f"no jupyter next to {sys.executable}; install jupyterlab in this env")
    return str(candidate)


def _write_settings(settings_dir: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@contextlib.contextmanager
def running_jupyterlab(root_dir: Path, *, env: Mapping[str, str] | None = None,
                       log_path: Path | None = None, startup_timeout: float = 120.0,
                       ) -> Iterator[LabServer]:
    """Run JupyterLab serving ``root_dir`` for the duration of the ``with`` block.

    ``env`` adds variables for the server and hence for every kernel (e.g. ``FLDP_QUICK=1``).
    ``log_path`` receives the server's output (default: a file in a temporary dir)."""
    root_dir = Path(root_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="fldp_lab_") as tmp:
        tmp_path = Path(tmp)
        dirs = {name: tmp_path / name for name in
                ("settings", "workspaces", "runtime", "config", "data", "ipython")}
        for d in dirs.values():
            d.mkdir()
        _write_settings(dirs["settings"])
        log_path = Path(log_path) if log_path else tmp_path / "jupyterlab.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)

        port, token = free_port(), secrets.token_hex(16)
        server_env = dict(os.environ)
        server_env.update({
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "IPYTHONDIR": str(dirs["ipython"]),
            "JUPYTER_PLATFORM_DIRS": "0",
            "PYTHONUNBUFFERED": "1",
        })
        server_env.pop("JUPYTER_PATH", None)
        server_env.pop("JUPYTER_CONFIG_PATH", None)
        server_env.update(env or {})
        command = [
            _jupyter_executable(), "lab",
            "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root_dir}",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
            "--LabApp.news_url=",
            "--ServerApp.terminals_enabled=False",
        ]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command, cwd=root_dir, env=server_env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        server = LabServer(base_url=f"http://127.0.0.1:{port}", token=token, root_dir=root_dir,
                           log_path=log_path, pid=proc.pid)
        try:
            def ready() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n"
                                       f"{server.log_tail()}")
                try:
                    return server.api("GET", "/api/status", timeout=2.0) is not None
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    return False

            wait_for(ready, timeout=startup_timeout, what="JupyterLab to answer /api/status",
                     describe=server.log_tail)
            yield server
        finally:
            stop_process_tree(proc)
