"""Build the course as a static HTML book: both editions, executed, with an API reference.

    .venv/bin/python scripts/build_book.py                 # `make book`: all notebooks, full mode
    .venv/bin/python scripts/build_book.py --quick --notebooks 00 02 --out /tmp/book   # CI size

Steps:
1. **Execute** every English notebook (full mode unless ``--quick``) with nbclient, keeping the
   widgets' last state. Each executed notebook is cached in ``CACHE/<stem>-<key>.ipynb``, where
   the key hashes the notebook's code cells, the mode and the source of ``fldp_teach``: a rebuild
   after a Markdown edit executes nothing, a one-cell code change re-executes that notebook only,
   a library change re-executes all.
2. **Share the execution with the Chinese edition.** A twin's code cells are identical to the
   English ones (``scripts/zh_edition.py``, tested), so the twin gets the English outputs cell by
   cell (by cell id) instead of a second execution: same numbers under both languages, half the
   time.
3. **Stage** a source tree that mirrors the repository (``notebooks/``, ``notebooks/zh/``,
   ``docs/``, ``data/README.md``, ``README.zh.md``), so every relative link of the course resolves
   in the book exactly as on disk; add the two home pages and one API page per module.
4. **Build** with Sphinx + MyST-NB (``book/conf.py``; outputs are rendered, never re-executed
   there) and the sphinx-book-theme. ``book/_ext/edition_switch.py`` puts a switch to the other
   edition on every page. Each widget becomes a static snapshot of its last state (its control
   values, printed lines and figure; ``snapshot_widgets``): a static page has no kernel to redraw it.

Prints the time of each step and the size of the site; ``OUT/html/index.html`` is the entry.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(ROOT / "scripts"))
import zh_edition  # noqa: E402  (stdlib-only helper next to this script)

DOC_PAGES = ["docs/article.md", "docs/notation.md", "docs/glossary.md", "docs/privacy.md",
             "docs/keras.md", "docs/flower.md", "data/README.md"]


def library_hash() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "fldp_teach").rglob("*.py")):
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def execution_key(nb, *, quick: bool, lib: str) -> str:
    h = hashlib.sha256(f"quick={quick};lib={lib};".encode())
    for cell in nb.cells:
        if cell.cell_type == "code":
            h.update(cell.source.encode())
            h.update(b"\0")
    return h.hexdigest()[:16]


def execute(en_path: Path, *, quick: bool, cache: Path, lib: str, timeout: int):
    """The executed English notebook, from the cache when its key is there."""
    nb = nbformat.read(en_path, as_version=4)
    cached = cache / f"{en_path.stem}-{execution_key(nb, quick=quick, lib=lib)}.ipynb"
    if cached.exists():
        return nbformat.read(cached, as_version=4), 0.0
    env = {"FLDP_QUICK": "1" if quick else "0", "TF_CPP_MIN_LOG_LEVEL": "2",
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(en_path.parent)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    elapsed = time.perf_counter() - start
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob(f"{en_path.stem}-*.ipynb"):
        old.unlink()
    nbformat.write(nb, cached)
    return nb, elapsed


def with_shared_outputs(zh_path: Path, executed_en) -> nbformat.NotebookNode:
    """The notebook at ``zh_path`` (the Chinese twin, or the English notebook itself: a cached
    execution may predate a Markdown edit) carrying the execution's outputs, cell by cell."""
    zh = nbformat.read(zh_path, as_version=4)
    by_id = {c.id: c for c in executed_en.cells}
    for cell in zh.cells:
        en = by_id.get(cell.id)
        if cell.cell_type == "code":
            if en is None or en.source != cell.source:
                raise SystemExit(f"{zh_path.name}: code cell {cell.id} differs from the English one; "
                                 "run `python scripts/zh_edition.py sync`")
            cell.outputs = en.outputs
            cell.execution_count = en.execution_count
    if "widgets" in executed_en.metadata:
        zh.metadata["widgets"] = executed_en.metadata["widgets"]
    return zh


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SNAPSHOT_NOTE = {
    "en": "Widget, last state{controls}. A static snapshot: open the notebook in Jupyter to move the sliders.",
    "zh": "交互控件的最后状态{controls}。这是静态快照：在 Jupyter 中打开笔记本即可拖动滑块。",
}


def snapshot_widgets(nb, *, lang: str) -> int:
    """Replace every widget view by a static snapshot of its last state: the values of its
    controls and what its output area showed (the printed lines and the figure). A widget's plot
    is redrawn by the kernel, which a static page does not have, so the snapshot is the honest
    rendering of "the widget's last state"; it also needs no JavaScript from a CDN. Returns the
    number of widgets replaced."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if not view:
                outputs.append(out)
                continue
            controls, shown = [], []

            def collect(model_id: str) -> None:
                model = state.get(model_id.replace("IPY_MODEL_", ""))
                if model is None:
                    return
                st = model.get("state", {})
                if "value" in st and st.get("description") and not isinstance(st["value"], (list, dict)):
                    controls.append(f"{st['description']} = {st['value']}")
                if model.get("model_name") == "OutputModel":
                    shown.extend(nbformat.from_dict(o) for o in st.get("outputs", []))
                for child in st.get("children", []):
                    collect(child)

            collect(view["model_id"])
            sep = "：" if lang == "zh" else ": "
            note = SNAPSHOT_NOTE[lang].format(controls=(sep + ", ".join(controls)) if controls else "")
            outputs.append(nbformat.v4.new_output("display_data", data={"text/markdown": f"*{note}*",
                                                                         "text/plain": note}))
            outputs.extend(shown)
            replaced += 1
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return replaced


def _title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "markdown").source.splitlines()[0]
    return first.lstrip("# ").strip()


def stage(src: Path, stems: list[str], executed: dict, zh_executed: dict) -> None:
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks" / "zh").mkdir(parents=True)
    for stem in stems:
        snapshot_widgets(executed[stem], lang="en")
        nbformat.write(executed[stem], src / "notebooks" / f"{stem}.ipynb")
        if stem in zh_executed:
            snapshot_widgets(zh_executed[stem], lang="zh")
            nbformat.write(zh_executed[stem], src / "notebooks" / "zh" / f"{stem}.ipynb")
    for page in DOC_PAGES + ["README.md", "README.zh.md", "notebooks/README.md"]:
        if (ROOT / page).exists():
            (src / page).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / page, src / page)
    shutil.copytree(ROOT / "docs" / "img", src / "docs" / "img")

    en_toc = "\n".join(f"notebooks/{s}" for s in stems)
    zh_toc = "\n".join(f"notebooks/zh/{s}" for s in stems if s in zh_executed)
    docs_toc = "\n".join(p[:-3] for p in DOC_PAGES if (ROOT / p).exists())
    (src / "index.md").write_text(f"""# Federated learning with differential privacy, taught from scratch

A course on combining federated learning (FL) with differential privacy (DP), built on a small
readable library, `fldp_teach` (TensorFlow 2 / Keras 3). It follows a Chinese article on FL + DP
equation by equation: each equation as written, what is wrong or missing, and a correct,
runnable version. Every page below was executed in {"quick" if QUICK_MODE else "full"} mode; the
figures are the outputs of that run. **中文版：** [课程首页](zh.md) · 术语表：[glossary](docs/glossary.md).

To run the notebooks yourself: clone the repository, `make demo` (or `make test`), then
`.venv/bin/jupyter lab notebooks/`.

```{{toctree}}
:caption: Course (English)
:maxdepth: 1
{en_toc}
```

```{{toctree}}
:caption: 课程（中文）
:maxdepth: 1
{zh_toc}
```

```{{toctree}}
:caption: Reference
:maxdepth: 1
{docs_toc}
api/index
notebooks/README
```

```{{toctree}}
:hidden:
zh
README
```
""", encoding="utf-8")
    zh_list = "\n".join(f"- [{_title(src / 'notebooks' / 'zh' / f'{s}.ipynb')}](notebooks/zh/{s}.ipynb)"
                        for s in stems if s in zh_executed)
    (src / "zh.md").write_text(f"""# 联邦学习与差分隐私：从零讲起（中文版）

本课程逐式讲解一篇关于联邦学习（FL）与差分隐私（DP）结合的中文文章：先引用原文的公式和论断，再指出其中的
问题，最后给出正确、可运行的实现。每个笔记本的代码与英文版完全相同，页面上的输出来自同一次运行
（{"快速" if QUICK_MODE else "完整"}模式）。English edition: [home](index.md). 术语的中英对照见[术语表](docs/glossary.md)，
安装与命令见 [README.zh.md](README.zh.md)。

{zh_list}

```{{toctree}}
:hidden:
README.zh
```
""", encoding="utf-8")
    api = src / "api"
    api.mkdir()
    modules = api_modules()
    (api / "index.md").write_text("# API reference\n\nGenerated from the docstrings of `fldp_teach`.\n\n"
                                  "```{toctree}\n:maxdepth: 1\n" + "\n".join(modules) + "\n```\n",
                                  encoding="utf-8")
    for mod in modules:
        (api / f"{mod}.md").write_text(f"# `{mod}`\n\n```{{eval-rst}}\n.. automodule:: {mod}\n"
                                       "   :members:\n   :show-inheritance:\n```\n", encoding="utf-8")


def stage_mathjax(out: Path) -> Path | None:
    """MathJax 2 from the pip package jupyter-server-mathjax (the copy Jupyter serves; HTML-CSS
    output with the STIX-Web fonts), so that formulas render without a CDN (offline, in CI's
    browser test). None if the package is missing: conf.py then falls back to Sphinx's CDN."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    dest = out / "mathjax-static"
    if dest.exists():
        shutil.rmtree(dest)

    def ignore(folder, names):   # the SVG output is not used (HTML-CSS with the STIX-Web fonts is)
        return {"SVG"} if Path(folder).relative_to(static).as_posix() == "jax/output" else set()

    shutil.copytree(static, dest / "mathjax", ignore=ignore)
    return dest


def api_modules() -> list[str]:
    """Every public module of fldp_teach, by file (no import needed to list them)."""
    mods = []
    pkg = ROOT / "fldp_teach"
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        mods.append(".".join(parts))
    return mods


QUICK_MODE = False


def main(argv=None) -> int:
    global QUICK_MODE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="execute in quick mode (FLDP_QUICK=1)")
    ap.add_argument("--notebooks", nargs="*", help="numbers or stems (default: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts" / "book")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = ap.parse_args(argv)
    QUICK_MODE = args.quick
    out = args.out.resolve()
    en_paths = ([zh_edition.find_english(k) for k in args.notebooks] if args.notebooks
                else zh_edition.english_notebooks())
    t0 = time.perf_counter()
    lib = library_hash()
    cache = out / ("cache-quick" if args.quick else "cache-full")
    executed, zh_executed, ran = {}, {}, []
    for p in en_paths:
        nb, seconds = execute(p, quick=args.quick, cache=cache, lib=lib, timeout=args.timeout)
        executed[p.stem] = with_shared_outputs(p, nb)
        ran.append((p.stem, seconds))
        print(f"  {p.stem}: {'cached' if seconds == 0 else f'executed in {seconds:.0f} s'}", flush=True)
        zh_path = zh_edition.twin_path(p)
        if zh_path.exists():
            zh_executed[p.stem] = with_shared_outputs(zh_path, nb)
    t1 = time.perf_counter()
    src = out / "src"
    stage(src, [p.stem for p in en_paths], executed, zh_executed)
    html = out / "html"
    if html.exists():
        shutil.rmtree(html)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(BOOK), str(src), str(html),
           "-d", str(out / "doctrees")]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    mathjax = stage_mathjax(out)
    if mathjax is not None:
        env["FLDP_BOOK_MATHJAX"] = str(mathjax)
    proc = subprocess.run(cmd, env=env, cwd=ROOT, text=True, capture_output=True)
    warnings = [l for l in (proc.stderr or "").splitlines() if "WARNING" in l or "ERROR" in l]
    (out / "sphinx-warnings.txt").write_text("\n".join(warnings) + "\n", encoding="utf-8")
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        return proc.returncode
    t2 = time.perf_counter()
    size = sum(f.stat().st_size for f in html.rglob("*") if f.is_file())
    print(f"executed {sum(1 for _, s in ran if s > 0)} of {len(ran)} notebooks "
          f"({len(zh_executed)} Chinese twins share their outputs) in {t1 - t0:.0f} s; "
          f"Sphinx in {t2 - t1:.0f} s; {len(warnings)} Sphinx warnings (sphinx-warnings.txt)")
    print(f"site: {html / 'index.html'}  ({size / 1e6:.1f} MB, "
          f"{sum(1 for _ in html.rglob('*.html'))} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
