"""The course's text points only at things that exist (issue 11).

* "notebook NN" / "notebooks NN–MM" name notebooks that exist;
* "notebook NN, section K" and a bare "section K" (this notebook) name a heading "## K." that exists;
* "§N.N" names a section of the article (listed in docs/article.md), unless it follows a paper
  citation ("McMahan et al. 2017, §2") or is the article's *missing* §5.4;
* every relative link in a notebook or in the Markdown documentation resolves inside the repository;
* no notebook has more than 2,500 words of prose, and no Markdown holds control characters;
* every notebook states its full-mode run time.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NUMBERS = {p.name[:2] for p in NOTEBOOKS}
DOCS = [ROOT / "README.md", ROOT / "notebooks" / "README.md", ROOT / "notebooks" / "AUTHORING.md",
        *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "data").glob("*.md"))]
MAX_WORDS = 2500

# The article's sections (its headings: §1–§5.3). §5.4 does not exist; the course says so.
ARTICLE_SECTIONS = {"1", "2", "2.1", "2.2", "2.2.1", "2.2.2", "2.2.3", "2.3", "3", "3.1", "3.2", "3.3", "3.4",
                    "4", "4.1", "4.2", "4.3", "5", "5.1", "5.2", "5.3"}
CITATION_BEFORE = re.compile(r"(et al\.|\b(19|20)\d\d[a-z]?\)?|Thm\.? ?\d+|Theorem \d+|Lemma \d+|NIID-Bench|"
                             r"Corollary \d+|Algorithm \d+|[A-Z][a-z]+ & [A-Z][a-z]+)[^.;\n§]{0,25}$")


def _markdown(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def _headings(path: Path) -> set[str]:
    """Section numbers of a notebook's numbered headings: "## 4. Weighted …" → "4", "### 2.1 Time" → "2.1"."""
    found = set()
    for text in _markdown(path):
        for line in text.splitlines():
            m = re.match(r"#{2,4} (\d+(?:\.\d+)*)\.? ", line)
            if m:
                found.add(m.group(1))
    return found


def _number_lists(text: str):
    for m in re.finditer(r"(?i)\bnotebooks?\s+(\d\d(?:\s*(?:[–\-]|,|and|or)\s*\d\d)*)", text):
        yield m, re.findall(r"\d\d", m.group(1))


def _prose(text: str) -> str:
    """Markdown without code spans and fenced blocks (names like `notebook_05` are not references)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


@pytest.mark.parametrize("path", NOTEBOOKS + DOCS, ids=lambda p: p.name)
def test_notebook_references_exist(path):
    texts = _markdown(path) if path.suffix == ".ipynb" else [path.read_text()]
    bad = []
    for text in map(_prose, texts):
        for m, numbers in _number_lists(text):
            bad += [f"{m.group(0)!r}: no notebook {n}" for n in numbers if n not in NUMBERS]
            # "notebook NN, section K" / "notebook NN §K" → heading K in notebook NN
            tail = text[m.end():m.end() + 20]
            s = re.match(r",? (?:section|§) ?(\d+(?:\.\d+)?)", tail)
            if s and len(numbers) == 1 and numbers[0] in NUMBERS:
                [target] = [p for p in NOTEBOOKS if p.name.startswith(numbers[0])]
                if s.group(1) not in _headings(target):
                    bad.append(f"{m.group(0)}{s.group(0)!r}: {target.name} has no section {s.group(1)}")
    assert not bad, f"{path.name}:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_own_section_references_exist(path):
    """A bare "section K" inside a notebook means this notebook's heading K."""
    headings = _headings(path)
    bad = []
    for text in map(_prose, _markdown(path)):
        for m in re.finditer(r"(?i)(?<!notebook \d\d, )\bsections? (\d+(?:\.\d+)?)\b", text):
            before = text[max(0, m.start() - 16):m.start()]
            if re.search(r"(?i)notebooks? \d\d,? $", before):
                continue  # handled by test_notebook_references_exist
            if m.group(1) not in headings:
                bad.append(f"{text[max(0, m.start() - 30):m.end()]!r}: no section {m.group(1)} here")
    assert not bad, f"{path.name}:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS + DOCS, ids=lambda p: p.name)
def test_article_section_references_exist(path):
    texts = _markdown(path) if path.suffix == ".ipynb" else [path.read_text()]
    bad = []
    for text in map(_prose, texts):
        for m in re.finditer(r"§\s?([0-9IVX]+(?:[.\-–][0-9A-Z]+)*)", text):
            before = text[max(0, m.start() - 60):m.start()]
            if CITATION_BEFORE.search(before):
                continue  # a paper's section, e.g. "(McMahan et al. 2017, §3)"
            for ref in re.split(r"[–\-]", m.group(1)):
                ref = ref.rstrip(".")
                if not ref:
                    continue
                if ref == "5.4" and re.search(r"(?i)missing|never|does not exist|no §5\.4", text[max(0, m.start() - 200):m.end() + 200]):
                    continue
                if ref not in ARTICLE_SECTIONS:
                    bad.append(f"{text[max(0, m.start() - 40):m.end() + 10]!r}: the article has no §{ref}")
    assert not bad, f"{path.name}:\n" + "\n".join(bad)


def test_article_sections_match_docs_article():
    """docs/article.md lists the article's sections; the list above must agree with it."""
    text = (ROOT / "docs" / "article.md").read_text()
    listed = set(re.findall(r"§(\d+(?:\.\d+)*)", text))
    assert ARTICLE_SECTIONS <= listed | {"2.2"}, sorted(ARTICLE_SECTIONS - listed)


@pytest.mark.parametrize("path", NOTEBOOKS + DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(path):
    texts = _markdown(path) if path.suffix == ".ipynb" else [path.read_text()]
    bad = []
    for text in texts:
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            resolved = (path.parent / target.split("#")[0]).resolve()
            if not resolved.exists() or ROOT not in resolved.parents and resolved != ROOT:
                bad.append(target)
    assert not bad, f"{path.name}: links that do not resolve inside the repository: {bad}"


@pytest.mark.parametrize("path", NOTEBOOKS + DOCS, ids=lambda p: p.name)
def test_no_control_characters(path):
    texts = _markdown(path) if path.suffix == ".ipynb" else [path.read_text()]
    bad = [t[:60] for t in texts if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", t)]
    assert not bad, f"{path.name}: control characters in {bad}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_length_and_run_time(path):
    text = "\n".join(_markdown(path))
    words = len(re.findall(r"\S+", text))
    assert words <= MAX_WORDS, f"{path.name}: {words} words of prose (at most {MAX_WORDS}): split or trim"
    assert re.search(r"Run time: full mode (about \d+ min|under a minute)", text), \
        f"{path.name} does not state its full-mode run time ('Run time: full mode about N min …')"
