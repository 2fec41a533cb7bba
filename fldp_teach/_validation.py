"""Loud, uniform checks of user-supplied parameters.

Every public function of fldp_teach validates its privacy and training arguments with these
helpers, so that a bad value always raises ``ValueError`` with the parameter's name and the
value, e.g. ``ValueError("epsilon must be > 0, got -1.0")``. NaN fails every check.
"""
from __future__ import annotations

import math
from numbers import Real

__all__ = [
    "check_finite",
    "check_positive",
    "check_non_negative",
    "check_open_unit",
    "check_unit_interval",
    "check_positive_int",
    "check_non_negative_int",
]


def _as_float(name: str, value) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not isinstance(value, Real):
        try:
            value = float(value)  # numpy / TF scalars
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real number, got {value!r}") from None
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got nan (check {name} for NaN)")
    return value


def check_finite(name: str, value) -> float:
    """Return ``value`` as a float; raise if it is NaN or ±inf."""
    v = _as_float(name, value)
    if math.isinf(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_positive(name: str, value, *, allow_inf: bool = False) -> float:
    """Return ``value`` as a float; raise unless 0 < value (< inf unless ``allow_inf``)."""
    v = _as_float(name, value)
    if not v > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if math.isinf(v) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_non_negative(name: str, value, *, allow_inf: bool = False) -> float:
    """Return ``value`` as a float; raise unless 0 <= value (< inf unless ``allow_inf``)."""
    v = _as_float(name, value)
    if not v >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    if math.isinf(v) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_open_unit(name: str, value) -> float:
    """Return ``value`` as a float; raise unless 0 < value < 1 (e.g. delta)."""
    v = _as_float(name, value)
    if not 0 < v < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return v


def check_unit_interval(name: str, value) -> float:
    """Return ``value`` as a float; raise unless 0 <= value <= 1 (e.g. sampling_rate)."""
    v = _as_float(name, value)
    if not 0 <= v <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return v


def _as_int(name: str, value) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if math.isnan(f) or math.isinf(f) or f != int(f):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(f)


def check_positive_int(name: str, value) -> int:
    """Return ``value`` as an int; raise unless it is an integer >= 1."""
    v = _as_int(name, value)
    if v < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return v


def check_non_negative_int(name: str, value) -> int:
    """Return ``value`` as an int; raise unless it is an integer >= 0."""
    v = _as_int(name, value)
    if v < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return v
