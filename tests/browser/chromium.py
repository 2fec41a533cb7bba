"""Debian's Chromium, started by us and driven by Playwright over the DevTools protocol.

We start the browser ourselves (not ``playwright.chromium.launch``) so that we hold its PID and
process group and can always stop it; Playwright attaches with ``connect_over_cdp``.
``playwright install`` is never used: it downloads browsers, which cannot happen here."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from .processes import stop_process_tree, wait_for

CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--no-default-browser-check", "--disable-dev-shm-usage", "--mute-audio",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """Path of a Chromium executable: ``$FLDP_CHROMIUM``, else Debian's ``/usr/bin/chromium``,
    else ``chromium``/``chromium-browser`` on PATH; None if there is none."""
    explicit = os.environ.get("FLDP_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_version(executable: str) -> str:
    out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


@contextlib.contextmanager
def running_chromium(executable: str, *, log_path: Path | None = None,
                     startup_timeout: float = 60.0, env: dict | None = None) -> Iterator[str]:
    """Run headless Chromium with a temporary profile; yield its DevTools HTTP endpoint
    (``http://127.0.0.1:PORT``). On exit the browser and all its processes are stopped.
    ``env``: extra environment variables (e.g. ``FONTCONFIG_FILE`` to hide fonts)."""
    with tempfile.TemporaryDirectory(prefix="fldp_chromium_") as profile:
        log_path = Path(log_path) if log_path else Path(profile) / "chromium.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [executable, *CHROMIUM_ARGS, "--remote-debugging-address=127.0.0.1",
                   "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    env={**os.environ, **(env or {})})
        try:
            port_file = Path(profile) / "DevToolsActivePort"

            def port() -> str | None:
                if proc.poll() is not None:
                    raise RuntimeError(f"chromium exited with {proc.returncode}:\n"
                                       + log_path.read_text(errors="replace")[-3000:])
                if port_file.exists():
                    lines = port_file.read_text().splitlines()
                    return lines[0] if lines and lines[0].isdigit() else None
                return None

            found = wait_for(port, timeout=startup_timeout, what="Chromium's DevToolsActivePort")
            yield f"http://127.0.0.1:{found}"
        finally:
            stop_process_tree(proc)


@contextlib.contextmanager
def playwright_browser(executable: str, *, log_path: Path | None = None,
                       env: dict | None = None) -> Iterator[object]:
    """A Playwright ``Browser`` attached to a Chromium we started (see ``running_chromium``)."""
    from playwright.sync_api import sync_playwright

    with running_chromium(executable, log_path=log_path, env=env) as endpoint:
        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(endpoint, timeout=60_000)
            try:
                yield browser
            finally:
                browser.close()
