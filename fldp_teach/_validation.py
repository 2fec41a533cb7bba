"""Loud, uniform checks of user-supplied parameters.

Every public function of fldp_teach validates its privacy and training arguments with these
helpers, so that a bad value always raises ``ValueError`` with the parameter's name and the
value, e.g. ``ValueError("epsilon must be > 0, got -1.0")``. NaN fails every check.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = [
    "check_finite",
    "check_positive",
    "check_non_negative",
    "check_open_unit",
    "check_unit_interval",
    "check_positive_int",
    "check_non_negative_int",
    "check_delta_for_size",
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
    if isinstance(value, Integral):
        return int(value)  # exactly, however large (e.g. a 128-bit noise seed; float() would round it)
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


def check_delta_for_size(delta, num_examples, *, allow_large_delta: bool = False,
                         what: str = "examples") -> float:
    """Return ``delta``; raise unless δ < 1/N, where N = ``num_examples`` (records, or clients
    for user-level DP).

    Why: the mechanism "publish one random record in full" is (0, 1/N)-DP, since each record
    is the one published with probability 1/N. With δ ≥ 1/N, an (ε, δ) guarantee therefore
    allows leaking a whole record outright (Dwork & Roth 2014, §2.3, the remark after
    Definition 2.4: δ should be less than the inverse of any polynomial in the database size).
    ``allow_large_delta=True`` skips the check, for teaching demonstrations only.
    """
    d = check_open_unit("delta", delta)
    n = check_positive_int(f"number of {what}", num_examples)
    if not allow_large_delta and d >= 1.0 / n:
        raise ValueError(
            f"delta must be < 1/N = 1/{n} = {1.0 / n:.3g} for N = {n} {what}, got {delta!r}: with "
            f"delta >= 1/N the guarantee allows publishing one of the {n} {what} in full. "
            f"Choose a smaller delta (e.g. {min(1e-5, 0.1 / n):.0e}), or pass "
            f"allow_large_delta=True for a teaching demonstration.")
    return d
