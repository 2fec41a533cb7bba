"""The Chinese edition (issue 13): every English notebook has a twin in notebooks/zh/ whose code
cells are identical and whose Markdown is translated (rules: scripts/zh_edition.py).

How the twins are executed: they are not executed a second time. Their code is identical to the
English notebooks' (tested here, cell by cell), and tests/test_notebooks.py executes the English
notebooks in quick mode, so each twin's code has run; the book (scripts/build_book.py) gives each
twin the outputs of its English notebook's run."""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import zh_edition  # noqa: E402

ENGLISH = zh_edition.english_notebooks()


def test_every_english_notebook_has_a_twin():
    twins = sorted(p.name for p in zh_edition.ZH_DIR.glob("*.ipynb"))
    assert twins == [p.name for p in ENGLISH]


@pytest.mark.parametrize("path", ENGLISH, ids=lambda p: p.stem)
def test_twin_follows_the_rules(path):
    assert zh_edition.lint_twin(path) == []


@pytest.mark.parametrize("path", ENGLISH, ids=lambda p: p.stem)
def test_code_cells_are_identical(path):
    """The direct statement of the rule, independent of the linter: same code, same order."""
    def code(p):
        return [(c["id"], zh_edition.source(c), c["metadata"]) for c in zh_edition.read(p)["cells"]
                if c["cell_type"] == "code"]
    assert code(zh_edition.twin_path(path)) == code(path)


def test_sync_check_passes():
    assert zh_edition.sync(check=True) == 0


@pytest.mark.parametrize("path", ENGLISH, ids=lambda p: p.stem)
def test_twin_is_committed_without_outputs(path):
    for cell in zh_edition.read(zh_edition.twin_path(path))["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


# ------------------------------------------------------------------ the coverage map, both editions
README = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
IDS = [f"E{i}" for i in range(1, 9)] + [f"C{i}" for i in range(1, 8)]


@pytest.mark.parametrize("identifier", IDS)
def test_coverage_ids_are_treated_in_the_twins(identifier):
    row = next(l for l in README.splitlines() if l.startswith(f"| {identifier} |"))
    for number in sorted(set(re.findall(r"\b(\d\d) →", row))):
        [path] = zh_edition.ZH_DIR.glob(f"{number}_*.ipynb")
        text = "\n".join(zh_edition.source(c) for c in zh_edition.read(path)["cells"])
        assert re.search(rf"(?<![A-Za-z0-9]){identifier}(?![0-9])", text), f"{identifier} missing from zh/{path.name}"


@pytest.mark.parametrize("identifier", IDS)
def test_coverage_sections_have_numbered_twins(identifier):
    """Each section the map names (by its English heading) has a Chinese heading with the same
    number, in the cell with the same id."""
    row = next(l for l in README.splitlines() if l.startswith(f"| {identifier} |"))
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    for part in re.split(r";\s*", cells[-1]):
        m = re.match(r"(\d\d) →(.*)", part.strip())
        if not m:
            continue
        [en_path] = (ROOT / "notebooks").glob(f"{m.group(1)}_*.ipynb")
        zh_cells = {c["id"]: zh_edition.source(c) for c in zh_edition.read(zh_edition.twin_path(en_path))["cells"]}
        for title in re.findall(r'"([^"]+)"', m.group(2)):
            cell = next((c for c in zh_edition.read(en_path)["cells"] if c["cell_type"] == "markdown"
                         and re.search(rf"^#{{2,4}} {re.escape(title)}\s*$", zh_edition.source(c), re.M)), None)
            assert cell is not None, f"{en_path.name}: no heading {title!r}"
            number = re.match(r"(\d+\.|Exercise \d+)", title)
            zh_text = zh_cells[cell["id"]]
            assert re.search(r"^#{2,4} ", zh_text, re.M), f"zh/{en_path.name} cell {cell['id']} lost its heading"
            if number and number.group(1)[0].isdigit():
                assert re.search(rf"^#{{2,4}} {re.escape(number.group(1))}", zh_text, re.M)
            if number and number.group(1).startswith("Exercise"):
                assert re.search(rf"^#{{2,4}} 练习\s*{number.group(1).split()[1]}", zh_text, re.M)


# ------------------------------------------------------------------ the linter catches drift
@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A scratch copy of the course (both editions); the tests edit notebook 02."""
    en_dir, zh_dir = tmp_path / "notebooks", tmp_path / "notebooks" / "zh"
    zh_dir.mkdir(parents=True)
    for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy2(path, en_dir / path.name)
        shutil.copy2(zh_edition.twin_path(path), zh_dir / path.name)
    [en] = en_dir.glob("02_*.ipynb")
    (tmp_path / "docs").mkdir()
    for doc in (ROOT / "docs").glob("*.md"):
        shutil.copy2(doc, tmp_path / "docs" / doc.name)
    monkeypatch.setattr(zh_edition, "EN_DIR", en_dir)
    monkeypatch.setattr(zh_edition, "ZH_DIR", zh_dir)
    return en_dir / en.name, zh_dir / en.name


def _edit(path: Path, fn) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    fn(nb["cells"])
    zh_edition.write(nb, path)


def test_a_code_change_in_one_edition_is_caught_and_synced(scratch):
    en, zh = scratch
    assert zh_edition.lint_twin(en) == []

    def change_code(cells):
        cell = next(c for c in cells if c["cell_type"] == "code" and "import" in zh_edition.source(c))
        cell["source"] = zh_edition.source(cell) + "\nprint('edited')"
    _edit(en, change_code)
    assert any("out of sync" in p for p in zh_edition.lint_twin(en))
    assert zh_edition.sync(check=True) == 1
    assert zh_edition.sync(check=False) == 0            # copies the English code into the twin
    assert zh_edition.lint_twin(en) == []
    assert "print('edited')" in zh.read_text(encoding="utf-8")


def test_an_untranslated_or_misquoted_cell_is_caught(scratch):
    en, zh = scratch
    en_cells = {c["id"]: c for c in zh_edition.read(en)["cells"]}

    def revert_one(cells):
        quote_cell = next(c for c in cells if c["cell_type"] == "markdown"
                          and any(l.startswith(">") for l in zh_edition.source(en_cells[c["id"]]).splitlines()))
        quote_cell["source"] = "## 1. 原文怎么说\n\n> 加性噪声：在模型输出中加入噪声。"   # a shortened quote
        last = [c for c in cells if c["cell_type"] == "markdown"][-1]
        last["source"] = zh_edition.source(en_cells[last["id"]])                     # left in English
    _edit(zh, revert_one)
    problems = "\n".join(zh_edition.lint_twin(en))
    assert "not quoted as written" in problems
    assert "not translated" in problems


def test_a_new_english_cell_stops_sync_with_its_id(scratch):
    en, _ = scratch

    def add_cell(cells):
        cells.insert(1, {"cell_type": "markdown", "id": "newcell1", "metadata": {}, "source": ["More text."]})
    _edit(en, add_cell)
    with pytest.raises(SystemExit, match="newcell1"):
        zh_edition.sync(check=True)


def test_export_and_apply_round_trip(scratch, tmp_path):
    en, zh = scratch
    exported = zh_edition.export(en)
    stem, cells = zh_edition.parse_exchange(exported)
    assert stem == en.stem and len(cells) == sum(c["cell_type"] == "markdown" for c in zh_edition.read(en)["cells"])
    rebuilt = zh_edition.build_twin(zh_edition.read(en), cells, en.name)
    assert [c for c in rebuilt["cells"]] == zh_edition.read(en)["cells"]   # untranslated: the English cells


# ------------------------------------------------------------------ the glossary
GLOSSARY = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
REQUIRED_TERMS = ["隐私预算", "敏感度", "裁剪范数", "噪声乘子", "采样率", "记录级", "用户级", "邻接数据集",
                  "Rényi 差分隐私", "隐私会计", "安全聚合", "本地差分隐私", "中心差分隐私", "分布式差分隐私", "联邦平均"]


def test_glossary_has_the_terms_the_issue_names():
    missing = [t for t in REQUIRED_TERMS if t not in GLOSSARY]
    assert not missing


def test_glossary_rows_name_a_symbol_or_keyword_and_an_existing_notebook():
    rows = [l for l in GLOSSARY.splitlines() if l.startswith("| ") and not l.startswith("| English")
            and not set(l) <= set("|- ")]
    assert len(rows) >= 60
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        where = cells[-1]
        for number in re.findall(r"\b(\d\d)\b", where):
            assert list((ROOT / "notebooks").glob(f"{number}_*.ipynb")), row


def test_glossary_keywords_exist_in_the_library():
    """Every `name` in the keyword column is a name defined or used in fldp_teach."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "fldp_teach").rglob("*.py"))
    for row in GLOSSARY.splitlines():
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) != 5 or cells[0] == "English":
            continue
        for code in re.findall(r"`([^`]+)`", cells[3]):
            name = re.split(r"[=(]", code.split(".")[-1])[0].strip()
            assert re.search(rf"\b{re.escape(name)}\b", source), f"{name} (glossary) is not in fldp_teach"


def test_both_editions_and_readmes_link_the_glossary():
    assert "docs/glossary.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/glossary.md" in (ROOT / "README.zh.md").read_text(encoding="utf-8")
    for path in (ROOT / "notebooks" / "00_setup_and_tour.ipynb", zh_edition.ZH_DIR / "00_setup_and_tour.ipynb"):
        assert "docs/glossary.md" in path.read_text(encoding="utf-8"), path
    assert "README.zh.md" in (ROOT / "README.md").read_text(encoding="utf-8")
