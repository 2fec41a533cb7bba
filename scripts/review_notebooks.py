"""The screenshot review: open every course notebook in JupyterLab in Chromium, as a student
would, run it, and save pictures to read.

    .venv/bin/python scripts/review_notebooks.py                 # all notebooks, quick mode
    .venv/bin/python scripts/review_notebooks.py 04 09 --full    # some notebooks, full mode
    .venv/bin/python scripts/review_notebooks.py --out artifacts/review

For each notebook NN_name it writes, under --out (default artifacts/review/):

* NN_name_page_KK.png: the notebook after Run All, screen by screen (JupyterLab renders only
  the cells on screen, so the script scrolls the notebook panel and shoots each screen);
* NN_name_widget_K_before.png / _after.png: each slider's cell before and after one ArrowRight;
* report.json: per notebook the run time, the stderr blocks, hidden solutions that show output,
  and the sliders moved.

It uses the browser harness of the tests (tests/browser: Debian's Chromium driven by Playwright
with executable_path, a private JupyterLab on 127.0.0.1) and needs `bash scripts/ensure_chromium.sh`.
It checks nothing itself: `tests/test_browser.py` fails on stderr blocks and visible solutions;
this script makes the pictures that the next review starts from.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser.chromium import find_chromium, playwright_browser  # noqa: E402
from browser.jupyterlab import running_jupyterlab  # noqa: E402
from browser.notebook import Notebook  # noqa: E402

VIEWPORT = {"width": 1280, "height": 900}


def _sliders(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .widget-slider")


def review(names, *, out: Path, full: bool, run_timeout: float) -> dict:
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found: run `bash scripts/ensure_chromium.sh` first")
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    with tempfile.TemporaryDirectory(prefix="fldp_review_") as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        for extra in ("docs", "flower-app", "data"):
            if (ROOT / extra).exists():
                (root / extra).symlink_to(ROOT / extra)
        env = {} if full else {"FLDP_QUICK": "1"}
        with running_jupyterlab(root, env=env, log_path=out / "jupyterlab.log") as lab, \
                playwright_browser(chromium, log_path=out / "chromium.log") as browser:
            for path in names:
                stem = path.stem
                context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
                page = context.new_page()
                page.set_default_timeout(30_000)
                entry = {}
                try:
                    notebook = Notebook.open(page, lab.notebook_url(f"notebooks/{path.name}"),
                                             path.name, timeout=run_timeout)
                    entry["run_all_s"] = round(notebook.run_all(timeout=run_timeout), 1)
                    entry["stderr"] = [t[:500] for t in notebook.stderr_outputs()]
                    entry["solutions_with_output"] = sum(1 for n in notebook.collapsed_cell_outputs() if n)
                    scroller = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer").first
                    height = scroller.evaluate("e => e.scrollHeight")
                    # the notebook scrolls inside its panel: stitch it page by page
                    for k, top in enumerate(range(0, int(height), VIEWPORT["height"] - 100)):
                        scroller.evaluate(f"e => e.scrollTop = {top}")
                        time.sleep(0.3)
                        page.screenshot(path=str(out / f"{stem}_page_{k:02d}.png"))
                    moved = []
                    for k in range(_sliders(page).count()):
                        slider = _sliders(page).nth(k)
                        slider.scroll_into_view_if_needed()
                        cell = slider.locator("xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '),"
                                              " ' jp-CodeCell ')]").first
                        label = slider.locator(".widget-label").first.inner_text().strip()
                        cell.screenshot(path=str(out / f"{stem}_widget_{k}_before.png"))
                        slider.locator(".noUi-handle").first.focus()
                        page.keyboard.press("ArrowRight")
                        time.sleep(2.0)
                        notebook.wait_idle(timeout=120)
                        time.sleep(0.5)
                        cell.screenshot(path=str(out / f"{stem}_widget_{k}_after.png"))
                        moved.append(label)
                    entry["sliders"] = moved
                except Exception as err:  # noqa: BLE001 - report and go on with the next notebook
                    entry["error"] = f"{type(err).__name__}: {err}"[:2000]
                    page.screenshot(path=str(out / f"{stem}_ERROR.png"))
                finally:
                    context.close()
                    lab.shutdown_kernels()
                report[path.name] = entry
                print(f"{path.name}: {json.dumps(entry, ensure_ascii=False)[:300]}", flush=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="two-digit numbers (e.g. 04 09); default: all")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "review")
    parser.add_argument("--full", action="store_true", help="full mode (default: quick mode, FLDP_QUICK=1)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for Run All per notebook")
    args = parser.parse_args(argv)
    every = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    chosen = [p for p in every if not args.notebooks or p.name[:2] in args.notebooks]
    if not chosen:
        parser.error(f"no notebook matches {args.notebooks}")
    report = review(chosen, out=args.out, full=args.full, run_timeout=args.timeout)
    bad = {k: v for k, v in report.items() if v.get("error") or v.get("stderr") or v.get("solutions_with_output")}
    print(f"{len(report)} notebooks reviewed, pictures in {args.out}; {len(bad)} with errors, stderr or visible solutions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
