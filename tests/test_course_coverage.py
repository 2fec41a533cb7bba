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
