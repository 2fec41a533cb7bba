"""Checkers for the notebooks' exercises (layer 4). A checker takes the student's answer
(a number or a function), compares it with the library, prints a friendly verdict or a hint,
and returns True/False; it never raises for an unfinished exercise, so "Run All" works.

Import from the topic module, e.g. ``from fldp_teach.exercises.laplace import check_laplace_scale``.
"""
from __future__ import annotations

__all__ = ["report"]


def report(ok: bool, *, success: str, hint: str) -> bool:
    """Print ✅ + ``success`` or ❌ + ``hint`` and return ``ok`` (shared by every checker)."""
    print(("✅ " + success) if ok else ("❌ " + hint))
    return bool(ok)
