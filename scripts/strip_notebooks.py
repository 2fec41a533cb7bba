"""Strip outputs and execution counts from notebooks (they are committed without outputs).

Usage: python scripts/strip_notebooks.py [notebooks/*.ipynb]
"""
import glob
import sys

import nbformat


def strip(path: str) -> bool:
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code":
            if cell.get("outputs") or cell.get("execution_count") is not None:
                changed = True
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in ("execution", "collapsed", "scrolled"):
            if key in cell.get("metadata", {}):
                del cell["metadata"][key]
                changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    paths = sys.argv[1:] or sorted(glob.glob("notebooks/*.ipynb"))
    for p in paths:
        if strip(p):
            print(f"stripped {p}")
