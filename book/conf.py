"""Sphinx configuration of the course book (`make book`, scripts/build_book.py).

The source tree is staged by scripts/build_book.py (executed notebooks of both editions, the
docs, one API page per module); this file only says how to render it. Notebooks are never
executed here (`nb_execution_mode = "off"`): build_book.py executes them once, with a cache,
and shares the outputs with the Chinese twins.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))          # fldp_teach, for the API reference
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

project = "fldp_teach: federated learning with differential privacy"
author = "fldp_teach contributors"
copyright = "2026, fldp_teach contributors"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "edition_switch",
]
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 4                       # GitHub-style anchors: docs link to article.md#e7--42-…
myst_fence_as_directive = ["mermaid"]
extensions.append("sphinxcontrib.mermaid")

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header", "misc.highlighting_failure"]

html_theme = "sphinx_book_theme"
html_title = "fldp_teach · FL + DP course"
html_static_path = [str(HERE / "_static")]
html_css_files = ["edition.css"]
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "home_page_in_toc": True,
}
html_last_updated_fmt = None

# Formulas: MathJax 2 served from the site itself when build_book.py staged it (no CDN needed).
if os.environ.get("FLDP_BOOK_MATHJAX"):
    html_static_path.append(os.environ["FLDP_BOOK_MATHJAX"])
    mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
    mathjax2_config = {
        "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                    "processRefs": False, "processEnvironments": False,
                    "ignoreClass": "document", "processClass": "math|output_area"},
        "HTML-CSS": {"availableFonts": ["STIX-Web"], "webFont": "STIX-Web", "imageFont": None},
    }
html_copy_source = False


def _docstring_as_text(app, what, name, obj, options, lines):
    """The library's docstrings are plain text written for `help()` and for reading the source
    (|x|, θ, Σ, aligned formulas), not reStructuredText: show them as written, in a literal block,
    instead of letting docutils misread `|a − b|` as a substitution."""
    if any(line.strip() for line in lines):
        text = [line.rstrip() for line in lines]
        lines[:] = ["::", ""] + ["    " + line if line else "" for line in text] + [""]


def setup(app):
    app.connect("autodoc-process-docstring", _docstring_as_text)
