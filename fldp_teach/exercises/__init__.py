"""Checkers for the notebooks' exercises (layer 4). A checker takes the student's answer
(a number or a function), compares it with the library, prints a friendly verdict or a hint,
and returns True/False; it never raises for an unfinished exercise, so "Run All" works.

Import from the topic module, e.g. ``from fldp_teach.exercises.laplace import check_laplace_scale``.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import io
import types

import numpy as np

__all__ = ["Verdict", "report", "verify", "call_safely", "as_number", "library_calls", "exercise"]


class Verdict:
    """A checker's result: true or false like a bool (``assert check_x(...)`` works), but shown
    as nothing in a notebook. The checker has already printed its one line, so an unfinished
    exercise shows "Not yet: ..." and not also a bare ``False`` under it."""

    __slots__ = ("ok",)

    def __init__(self, ok: bool):
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other) -> bool:
        return self.ok == bool(other) if isinstance(other, (bool, Verdict)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.ok)

    def __repr__(self) -> str:
        return f"Verdict({self.ok})"

    def _ipython_display_(self) -> None:  # IPython calls this instead of printing the repr
        return None


def report(ok: bool, *, success: str, hint: str) -> Verdict:
    """Print "Correct. " + ``success`` or "Not yet: " + ``hint`` (plain text: no emoji, which
    render as boxes without an emoji font) and return a :class:`Verdict` (shared by every checker)."""
    print(("Correct. " + success) if ok else ("Not yet: " + hint))
    return Verdict(ok)


def call_safely(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), None)``, or ``(None, exception)`` if the student's function raised:
    checkers turn errors into hints and never raise. numpy's floating-point warnings are
    silenced (a wrong answer gets a hint instead of a warning)."""
    try:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - any student error becomes a hint
        return None, exc


def as_number(got):
    """``float(got)``, or None if the student returned nothing (None, ``...``) or a non-number."""
    if got is None or got is Ellipsis:
        return None
    try:
        return float(got)
    except (TypeError, ValueError):
        return None


def verify(checker, answer) -> None:
    """Run ``checker(answer)`` silently and raise ``AssertionError`` (with the checker's hint) if
    it fails. Solution cells use it, so that "Run All" checks every solution without printing
    anything under the exercise that would give the answer away."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ok = checker(answer)
    if not ok:
        raise AssertionError(f"{getattr(checker, '__name__', 'checker')} rejected the solution: {out.getvalue().strip()}")


def _is_library(obj) -> bool:
    if isinstance(obj, types.ModuleType):
        return obj.__name__.split(".")[0] == "fldp_teach"
    module = getattr(obj, "__module__", None) or ""
    return callable(obj) and module.split(".")[0] == "fldp_teach"


def _code_names(code: types.CodeType):
    yield from code.co_names
    yield from code.co_freevars
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def library_calls(fn, *, allowed=()) -> list[str]:
    """The ``fldp_teach`` functions, classes and modules that the student's ``fn`` refers to,
    other than those in ``allowed`` (by name), following the student's own helper functions.

    An exercise asks the student to *write* a formula or an algorithm; a function that calls
    the library's version of it would pass every numerical check without teaching anything
    (issue 11). The check reads the names the compiled function uses (its ``co_names`` and
    those of nested functions) and looks each up in the function's globals and closure, so
    ``import fldp_teach.mechanisms as m; m.laplace_scale(...)`` is caught as well as a bare
    name. numpy, math and the student's own helpers are fine."""
    found: list[str] = []
    seen: set[int] = set()

    def visit(f):
        f = inspect.unwrap(f) if callable(f) else f
        code = getattr(f, "__code__", None)
        if code is None or id(code) in seen:
            return
        seen.add(id(code))
        scope = dict(getattr(f, "__globals__", {}))
        closure = getattr(f, "__closure__", None) or ()
        for name, cell in zip(code.co_freevars, closure):
            with contextlib.suppress(ValueError):
                scope[name] = cell.cell_contents
        names = list(_code_names(code))
        for name in names:
            if name not in scope:
                continue
            obj = scope[name]
            if _is_library(obj):
                if isinstance(obj, types.ModuleType):
                    # ``m.laplace_scale(...)``: name the attributes used, not the module
                    used = [a for a in names if a != name and _is_library(getattr(obj, a, None))]
                    labels = [f"{obj.__name__.rsplit('.', 1)[-1]}.{a}" for a in used if a not in allowed] \
                        if used else [obj.__name__]
                else:
                    labels = [] if name in allowed else [getattr(obj, "__name__", name)]
                for label in labels:
                    if label.rsplit(".", 1)[-1] not in allowed and label not in found:
                        found.append(label)
            elif isinstance(obj, types.FunctionType):
                visit(obj)              # the student's own helper: look inside it too

    visit(fn)
    return found


def exercise(*, allowed=()):
    """Decorator for a checker whose answer is a function: before any numerical test, refuse an
    answer that calls ``fldp_teach`` (except the tools named in ``allowed``), with a "Not yet:"
    line that names what it called. See :func:`library_calls`."""
    def decorate(checker):
        @functools.wraps(checker)
        def wrapped(answer, *args, **kwargs):
            if callable(answer):
                used = library_calls(answer, allowed=allowed)
                if used:
                    name = getattr(answer, "__name__", "your function")
                    tools = f" (you may use {', '.join(allowed)})" if allowed else ""
                    return report(False, success="", hint=(
                        f"{name} calls {', '.join(used)} from fldp_teach, which already computes the answer. "
                        f"Write it yourself with numpy or math{tools}."))
            return checker(answer, *args, **kwargs)
        wrapped.allowed_library_calls = tuple(allowed)
        return wrapped
    return decorate
