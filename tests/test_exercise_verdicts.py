"""A checker's verdict prints one plain line and shows nothing more in a notebook; solution cells
check silently with ``verify`` (issue 15: solutions gave the answers away under every exercise)."""
import pytest

from fldp_teach.exercises import Verdict, report, verify
from fldp_teach.exercises.laplace import check_laplace_scale


def test_verdict_is_a_bool_that_displays_nothing(capsys):
    v = report(False, success="", hint="divide by ε.")
    assert capsys.readouterr().out == "Not yet: divide by ε.\n"
    assert not v and v == False and isinstance(v, Verdict)  # noqa: E712
    assert v._ipython_display_() is None
    assert report(True, success="right.", hint="") and capsys.readouterr().out == "Correct. right.\n"


def test_verify_is_silent_on_a_right_answer_and_raises_with_the_hint(capsys):
    verify(check_laplace_scale, lambda epsilon, l1_sensitivity: l1_sensitivity / epsilon)
    assert capsys.readouterr().out == ""
    with pytest.raises(AssertionError, match="Not yet"):
        verify(check_laplace_scale, lambda epsilon, l1_sensitivity: epsilon / l1_sensitivity)


def test_no_course_notebook_prints_emoji_marks_or_runs_a_loud_solution():
    import json
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            src = "".join(cell["source"])
            assert "✅" not in src and "❌" not in src, path.name
            if "solution" in cell.get("metadata", {}).get("tags", []):
                assert "assert check_" not in src, f"{path.name}: use verify(check_x, solution_x) in solutions"
