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


def test_library_calls_names_what_an_answer_borrows():
    """Issue 11: an exercise passed by wrapping the library teaches nothing; the checkers'
    ``@exercise`` decorator refuses such answers and names the borrowed function."""
    import numpy as np

    import fldp_teach.mechanisms as mechanisms
    from fldp_teach.exercises import library_calls
    from fldp_teach.mechanisms import laplace_scale

    def direct(x):
        return laplace_scale(epsilon=1.0, l1_sensitivity=x)

    def through_module(x):
        return mechanisms.laplace_scale(epsilon=1.0, l1_sensitivity=x)

    def helper(x):
        return direct(x)

    def own(x):
        return np.abs(x) / 1.0

    assert library_calls(direct) == ["laplace_scale"]
    assert library_calls(through_module) == ["mechanisms.laplace_scale"]
    assert library_calls(helper) == ["laplace_scale"]          # through the student's own helper
    assert library_calls(lambda x: (lambda: laplace_scale(epsilon=1.0, l1_sensitivity=x))()) == ["laplace_scale"]
    assert library_calls(own) == []
    assert library_calls(direct, allowed=("laplace_scale",)) == []


def test_exercise_decorator_refuses_a_wrapper(capsys):
    from fldp_teach.exercises import exercise, report
    from fldp_teach.mechanisms import laplace_scale

    @exercise()
    def check(answer):
        return report(bool(answer(2.0) == 2.0), success="fine", hint="wrong")

    assert check(lambda x: x)
    assert "Correct." in capsys.readouterr().out
    assert not check(lambda x: laplace_scale(epsilon=1.0, l1_sensitivity=x))
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "laplace_scale from fldp_teach" in out


def test_every_checker_refuses_library_wrappers():
    """Issue 11: every checker whose answer is a function is decorated with ``@exercise``, so an
    answer that wraps the library function the notebook imported gets a "Not yet" line."""
    import importlib
    import inspect
    import pkgutil

    import fldp_teach.exercises as ex

    checkers = []
    for info in pkgutil.iter_modules(ex.__path__):
        module = importlib.import_module(f"fldp_teach.exercises.{info.name}")
        for name, fn in vars(module).items():
            if name.startswith("check_") and callable(fn) and fn.__module__ == module.__name__:
                checkers.append((module.__name__, name, fn))
    assert len(checkers) >= 30
    undecorated = [f"{m}.{n}" for m, n, fn in checkers
                   if next(iter(inspect.signature(fn).parameters)).startswith("my_")
                   and not hasattr(fn, "allowed_library_calls")]
    assert not undecorated, f"checkers without @exercise: {undecorated}"
