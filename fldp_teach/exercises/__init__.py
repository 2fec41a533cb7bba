"""Checkers for the notebooks' exercises (layer 4). A checker takes the student's answer
(a number or a function), compares it with the library, prints a friendly verdict or a hint,
and returns True/False; it never raises for an unfinished exercise, so "Run All" works.

Import from the topic module, e.g. ``from fldp_teach.exercises.laplace import check_laplace_scale``.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np

__all__ = ["Verdict", "report", "verify", "call_safely", "as_number"]


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
