"""Every equation and claim of the article (IDs E1–E8, C1–C7 of the seed notes) is treated in the
notebooks that notebooks/README.md names for it: the ID appears in each of those notebooks."""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "notebooks" / "README.md").read_text()
IDS = [f"E{i}" for i in range(1, 9)] + [f"C{i}" for i in range(1, 8)]


def _row(identifier: str) -> str:
    for line in README.splitlines():
        if line.startswith(f"| {identifier} |"):
            return line
    raise AssertionError(f"notebooks/README.md has no coverage row for {identifier}")


@pytest.mark.parametrize("identifier", IDS)
def test_each_id_is_mapped_and_treated(identifier):
    row = _row(identifier)
    mapped = sorted(set(re.findall(r"\b(\d\d) →", row)))
    assert mapped, f"{identifier}: no notebook named in its row"
    for number in mapped:
        [path] = (ROOT / "notebooks").glob(f"{number}_*.ipynb")
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        assert re.search(rf"\b{identifier}\b", text), f"{identifier} is not mentioned in {path.name}"


def _headings(path: Path) -> set[str]:
    nb = nbformat.read(path, as_version=4)
    return {line.lstrip("#").strip() for c in nb.cells if c.cell_type == "markdown"
            for line in c.source.splitlines() if re.match(r"#{2,4} ", line)}


def _segments(row: str):
    """("NN", ['quoted heading', ...]) for every 'NN → "…", "…"' part of a coverage row."""
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    for part in re.split(r";\s*", cells[-1]):
        m = re.match(r"(\d\d) →(.*)", part.strip())
        if m:
            yield m.group(1), re.findall(r'"([^"]+)"', m.group(2))


ROWS = [line for line in README.splitlines() if re.match(r"\| (E\d|C\d|§[^|]+) \|", line)]


@pytest.mark.parametrize("row", ROWS, ids=[r.split("|")[1].strip() for r in ROWS])
def test_every_section_named_in_the_coverage_map_exists(row):
    """Issue 11: the map names sections by their headings; a renumbered or renamed section must
    not leave the map pointing at nothing."""
    for number, titles in _segments(row):
        [path] = (ROOT / "notebooks").glob(f"{number}_*.ipynb")
        headings = _headings(path)
        missing = [t for t in titles if t not in headings]
        assert not missing, f"{path.name} has no heading {missing}; its headings: {sorted(headings)}"


def test_e7_is_taught_with_a_runnable_cell_and_an_exercise():
    """Issue 11: E7 is quoted (Chinese), explained, computed in a runnable cell and exercised."""
    row = _row("E7")
    assert "exercise" in row and "check_server_gradient" in row
    [path] = (ROOT / "notebooks").glob("05_*.ipynb")
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "在全局模型更新中，最小化损失函数" in text and r"\sum_{i=1}^{N} L_g" in text
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "server_gradient" in code and "check_server_gradient(my_server_gradient)" in code
