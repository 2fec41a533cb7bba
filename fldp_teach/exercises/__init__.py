"""Checkers for the notebooks' exercises (layer 4). A checker takes the student's answer
(a number or a function), compares it with the library, prints a friendly verdict or a hint,
and returns True/False; it never raises for an unfinished exercise, so "Run All" works.

Import from the topic module, e.g. ``from fldp_teach.exercises.laplace import check_laplace_scale``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["report", "call_safely", "as_number"]


def report(ok: bool, *, success: str, hint: str) -> bool:
    """Print ✅ + ``success`` or ❌ + ``hint`` and return ``ok`` (shared by every checker)."""
    print(("✅ " + success) if ok else ("❌ " + hint))
    return bool(ok)


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
