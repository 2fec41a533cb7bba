"""The Chinese edition of the course (`notebooks/zh/`): one twin per English notebook.

A twin has the English notebook's cells, in the same order and with the same cell ids; its code
cells are byte-for-byte the English ones (source, tags, metadata), and only the Markdown cells
are Chinese. So a code change is made once, in the English notebook, and copied with `sync`.
`tests/test_zh_edition.py` fails when the two drift.

Usage (stdlib only, no venv needed):
    python scripts/zh_edition.py export 01 > /tmp/01.md   # the English Markdown, cell by cell
    python scripts/zh_edition.py apply /tmp/01.zh.md        # write notebooks/zh/01_….ipynb from it
    python scripts/zh_edition.py sync                       # copy every English code cell into its twin
    python scripts/zh_edition.py sync --check               # exit 1 if a twin is out of date
    python scripts/zh_edition.py lint [01 ...]              # the twin's rules (below), every problem listed

The exchange file written by `export` and read by `apply`:
    <!-- notebook 01_what_dp_promises -->
    <!-- cell 0472a66e -->
    ...Markdown of that cell...
    <!-- code 4ec37627 (kept from the English edition; not applied) -->
    ...the code cell, for context only...
A new English Markdown cell makes `sync` stop and name it: export it, translate it, apply.

What `lint` checks in a twin (and `tests/test_zh_edition.py` with it):
  * it is in sync: same cells, same ids, same order, identical code cells;
  * every Markdown cell is translated (it contains Chinese);
  * the article is quoted in its own words: every quoted line (`> ...`) of the English cell that
    holds Chinese appears, character for character, in the twin's cell;
  * headings keep their level and number ("## 3. …", "### Exercise 2" → "### 练习 2");
  * the course IDs of a cell (E1–E8, C1–C7) appear in its twin;
  * the objectives cell has a "运行时间：" line with the figures of the English "Run time:" line;
  * relative links resolve from notebooks/zh/, and "笔记本 NN" names a notebook that exists.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EN_DIR = ROOT / "notebooks"
ZH_DIR = EN_DIR / "zh"
MARKER = re.compile(r"^<!-- (notebook|cell|code) ([0-9A-Za-z_.-]+)(?: .*)? -->$")


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def english_notebooks() -> list[Path]:
    return sorted(EN_DIR.glob("[0-9][0-9]_*.ipynb"))


def find_english(key: str) -> Path:
    """The English notebook named by its number ('01') or stem ('01_what_dp_promises')."""
    hits = [p for p in english_notebooks() if p.stem == key or p.stem.split("_", 1)[0] == key]
    if len(hits) != 1:
        raise SystemExit(f"no single English notebook matches {key!r} (found {[p.name for p in hits]})")
    return hits[0]


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write(nb: dict, path: Path) -> None:
    """Write like nbformat.write (sorted keys, indent 1, UTF-8 kept), so diffs stay small."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def as_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def export(en_path: Path) -> str:
    nb = read(en_path)
    out = [f"<!-- notebook {en_path.stem} -->"]
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            out.append(f"<!-- cell {cell['id']} -->")
        else:
            out.append(f"<!-- code {cell['id']} (kept from the English edition; not applied) -->")
        out.append(source(cell).rstrip("\n"))
    return "\n".join(out) + "\n"


def parse_exchange(text: str) -> tuple[str, dict[str, str]]:
    """(notebook stem, {cell id: Markdown}) from an exchange file; code sections are ignored."""
    stem, cells, current, kind, buf = None, {}, None, None, []

    def flush():
        if kind == "cell":
            if current in cells:
                raise SystemExit(f"cell {current} appears twice")
            cells[current] = "\n".join(buf).strip("\n")

    for line in text.splitlines():
        m = MARKER.match(line.strip())
        if m:
            flush()
            kind, current, buf = m.group(1), m.group(2), []
            if kind == "notebook":
                stem = current
            continue
        buf.append(line)
    flush()
    if stem is None:
        raise SystemExit("the exchange file has no '<!-- notebook NN_name -->' line")
    return stem, cells


def twin_path(en_path: Path) -> Path:
    return ZH_DIR / en_path.name


def build_twin(en_nb: dict, zh_markdown: dict[str, str], name: str) -> dict:
    """The twin: the English notebook with each Markdown cell's source replaced by its Chinese."""
    twin = copy.deepcopy(en_nb)
    md_ids = [c["id"] for c in en_nb["cells"] if c["cell_type"] == "markdown"]
    missing = [i for i in md_ids if i not in zh_markdown]
    extra = sorted(set(zh_markdown) - set(md_ids))
    if missing or extra:
        raise SystemExit(f"{name}: Markdown cells without a translation: {missing}; "
                         f"translations of no English Markdown cell: {extra}")
    for cell in twin["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = as_lines(zh_markdown[cell["id"]])
    twin["metadata"]["fldp_edition"] = {"language": "zh-CN", "english": f"../{name}"}
    return twin


def apply(exchange: Path) -> Path:
    stem, cells = parse_exchange(exchange.read_text(encoding="utf-8"))
    en_path = find_english(stem)
    twin = build_twin(read(en_path), cells, en_path.name)
    write(twin, twin_path(en_path))
    return twin_path(en_path)


def synced(en_path: Path) -> dict:
    """The twin rebuilt from the current English notebook and the twin's own Markdown."""
    zh_path = twin_path(en_path)
    if not zh_path.exists():
        raise SystemExit(f"{_rel(zh_path)} is missing: export {en_path.stem}, translate, apply")
    zh_md = {c["id"]: source(c) for c in read(zh_path)["cells"] if c["cell_type"] == "markdown"}
    en_nb = read(en_path)
    en_md_ids = {c["id"] for c in en_nb["cells"] if c["cell_type"] == "markdown"}
    zh_md = {k: v for k, v in zh_md.items() if k in en_md_ids}  # an English cell that was deleted
    return build_twin(en_nb, zh_md, en_path.name)


def sync(check: bool) -> int:
    stale = []
    for en_path in english_notebooks():
        new = synced(en_path)
        zh_path = twin_path(en_path)
        if read(zh_path) != new:
            stale.append(_rel(zh_path))
            if not check:
                write(new, zh_path)
    verb = "out of date" if check else "updated"
    for p in stale:
        print(f"{verb}: {p}")
    return 1 if (check and stale) else 0


CJK = re.compile(r"[\u4e00-\u9fff]")
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
NUMBERED = re.compile(r"^(\d+)\.\s")
EXERCISE_EN = re.compile(r"^Exercise (\d+)")
EXERCISE_ZH = re.compile(r"^练习\s*(\d+)")
COURSE_ID = re.compile(r"(?<![A-Za-z0-9_])([EC][1-8])(?![0-9])")
LINK = re.compile(r"\]\(([^)\s]+)\)")
ZH_NOTEBOOK_REF = re.compile(r"笔记本\s*(\d{2})")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _headings(text: str) -> list[tuple[int, str]]:
    return [(len(m.group(1)), m.group(2).strip()) for line in FENCE.sub("", text).splitlines()
            if (m := HEADING.match(line))]


def lint_twin(en_path: Path) -> list[str]:
    """Every rule a twin breaks, as readable lines (empty: the twin is fine)."""
    name, zh_path = en_path.stem, twin_path(en_path)
    if not zh_path.exists():
        return [f"{name}: notebooks/zh/{en_path.name} is missing"]
    problems = []
    try:
        if read(zh_path) != synced(en_path):
            problems.append(f"{name}: out of sync with the English notebook (run `sync`)")
    except SystemExit as exc:
        problems.append(f"{name}: {exc}")
    en_cells = {c["id"]: c for c in read(en_path)["cells"]}
    run_time_seen = False
    for cell in read(zh_path)["cells"]:
        en = en_cells.get(cell["id"])
        if cell["cell_type"] != "markdown" or en is None:
            continue
        zh_text, en_text, where = source(cell), source(en), f"{name} cell {cell['id']}"
        if re.search(r"[A-Za-z]{3}", en_text) and not CJK.search(zh_text):
            problems.append(f"{where}: not translated")
        zh_compact = re.sub(r"\s+", "", zh_text)
        for line in en_text.splitlines():
            if line.startswith(">") and CJK.search(line):
                quote = re.sub(r"\s+", "", line.lstrip("> "))
                if quote not in zh_compact:
                    problems.append(f"{where}: the article's words are not quoted as written: {line[:60]!r}")
        en_h, zh_h = _headings(en_text), _headings(zh_text)
        if [lvl for lvl, _ in en_h] != [lvl for lvl, _ in zh_h]:
            problems.append(f"{where}: heading levels {[l for l, _ in en_h]} became {[l for l, _ in zh_h]}")
        else:
            for (_, e), (_, z) in zip(en_h, zh_h):
                if (m := NUMBERED.match(e)) and not z.startswith(m.group(0)):
                    problems.append(f"{where}: heading {e!r} lost its number: {z!r}")
                if (m := EXERCISE_EN.match(e)) and not ((n := EXERCISE_ZH.match(z)) and n.group(1) == m.group(1)):
                    problems.append(f"{where}: heading {e!r} should start '练习 {m.group(1)}': {z!r}")
        missing_ids = sorted(set(COURSE_ID.findall(en_text)) - set(COURSE_ID.findall(zh_text)))
        if missing_ids:
            problems.append(f"{where}: course IDs {missing_ids} of the English cell are missing")
        for line in en_text.splitlines():
            if line.startswith("Run time:"):
                run_time_seen = True
                zh_line = next((l for l in zh_text.splitlines() if l.startswith("运行时间：")), None)
                if zh_line is None:
                    problems.append(f"{where}: no line starting '运行时间：' (the English has {line!r})")
                elif not set(re.findall(r"\d+", line)) <= set(re.findall(r"\d+", zh_line)):
                    problems.append(f"{where}: '运行时间：' line does not give the figures of {line!r}")
        for target in LINK.findall(FENCE.sub("", zh_text)):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            if not (zh_path.parent / target.split("#")[0]).exists():
                problems.append(f"{where}: link {target!r} does not resolve from notebooks/zh/")
        for num in ZH_NOTEBOOK_REF.findall(zh_text):
            if not list(EN_DIR.glob(f"{num}_*.ipynb")):
                problems.append(f"{where}: 笔记本 {num} does not exist")
    if not run_time_seen:
        problems.append(f"{name}: the English notebook has no 'Run time:' line")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("notebook")
    a = sub.add_parser("apply")
    a.add_argument("exchange", type=Path)
    s = sub.add_parser("sync")
    s.add_argument("--check", action="store_true")
    li = sub.add_parser("lint")
    li.add_argument("notebooks", nargs="*")
    args = ap.parse_args(argv)
    if args.cmd == "lint":
        paths = [find_english(k) for k in args.notebooks] or english_notebooks()
        problems = [p for path in paths for p in lint_twin(path)]
        print("\n".join(problems) or f"{len(paths)} twin(s): no problems")
        return 1 if problems else 0
    if args.cmd == "export":
        sys.stdout.write(export(find_english(args.notebook)))
        return 0
    if args.cmd == "apply":
        print(f"wrote {_rel(apply(args.exchange))}")
        return 0
    return sync(args.check)


if __name__ == "__main__":
    sys.exit(main())
