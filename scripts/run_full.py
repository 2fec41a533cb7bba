"""Execute course notebooks in FULL mode (what a student runs) and record how long each takes.

    .venv/bin/python scripts/run_full.py [notebooks/NN_*.ipynb ...] [--out artifacts/full]

Writes the executed notebook (with outputs, for checking the figures quoted in the prose) to
``OUT/NAME.ipynb``, per-cell times to ``OUT/NAME.cells.json`` and the wall time of every notebook
to ``OUT/full_times.json``. Not part of ``make test`` (the full course takes about an hour on two
cores); authors run it before quoting full-run figures or run times in a notebook.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def _cell_seconds(cell) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run(path: Path, out: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    env_quick = os.environ.pop("FLDP_QUICK", None)
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        client.execute()
        elapsed = time.perf_counter() - start
    finally:
        if env_quick is not None:
            os.environ["FLDP_QUICK"] = env_quick
    nbformat.write(nb, out / path.name)
    cells = [{"index": i, "seconds": _cell_seconds(c), "head": c.source.splitlines()[0][:80] if c.source else ""}
             for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    (out / f"{path.stem}.cells.json").write_text(json.dumps(cells, indent=1, ensure_ascii=False))
    return elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "full")
    parser.add_argument("--timeout", type=int, default=7200, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    times_file = args.out / "full_times.json"
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    for path in paths:
        print(f"{path.name} ...", flush=True)
        elapsed = run(path.resolve(), args.out, args.timeout)
        times[path.name] = {"seconds": round(elapsed, 1), "cpus": os.cpu_count(),
                            "machine": platform.processor() or platform.machine(),
                            "date": dt.date.today().isoformat()}
        times_file.write_text(json.dumps(times, indent=1, sort_keys=True))
        print(f"{path.name}: {elapsed / 60:.1f} min in full mode", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
