"""Loud, uniform checks of user-supplied parameters.

Every public function of fldp_teach validates its privacy and training arguments with these
helpers, so that a bad value always raises ``ValueError`` with the parameter's name and the
value, e.g. ``ValueError("epsilon must be > 0, got -1.0")``. NaN fails every check.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

__all__ = [
    "check_finite",
    "check_positive",
    "check_non_negative",
    "check_open_unit",
    "check_unit_interval",
    "check_positive_int",
    "check_non_negative_int",
    "check_delta_for_size",
    "check_seed",
    "check_numbers",
]


def _as_float(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
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
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
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
    n = check_positive_int(f"num_examples (the number of {what})", num_examples)
    if not allow_large_delta and d >= 1.0 / n:
        raise ValueError(
            f"delta must be < 1/N = 1/{n} = {1.0 / n:.3g} for N = {n} {what}, got {delta!r}: with "
            f"delta >= 1/N the guarantee allows publishing one of the {n} {what} in full. "
            f"Choose a smaller delta (e.g. {min(1e-5, 0.1 / n):.0e}), or pass "
            f"allow_large_delta=True for a teaching demonstration.")
    return d


def check_seed(name: str, value):
    """Return ``value`` (None, or an int >= 0 of any size); raise unless it is None or a whole
    number >= 0 (a bool, a fraction, a string or a negative number is refused)."""
    if value is None:
        return None
    return check_non_negative_int(name, value)


def _is_symbolic(value) -> bool:
    """True for a TF tensor without a value yet (inside ``tf.function``): checked by TF later."""
    module = type(value).__module__
    if not (module.startswith("tensorflow") or module.startswith("keras")):
        return False
    try:
        value.numpy()
    except Exception:  # noqa: BLE001 - symbolic tensors raise various errors here
        return True
    return False


def check_numbers(name: str, value, *, ndim=None, allow_empty: bool = True, finite: bool = True,
                  integer: bool = False, non_negative: bool = False, low=None, high=None):
    """Return ``value`` as a numpy array of real numbers (a TF tensor is read with ``.numpy()``;
    a symbolic one, inside ``tf.function``, is returned unchanged for TF to check); raise
    ``ValueError``/``TypeError`` naming ``name`` unless it holds only real numbers (not str,
    None, objects, complex, bool), has ``ndim`` dimensions (an int or a tuple of allowed
    ones), is non-empty unless ``allow_empty``, and every entry is finite, a whole number
    (``integer``), ≥ 0 (``non_negative``) and within [``low``, ``high``] as asked."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got {value!r}")
    if _is_symbolic(value):
        return value
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    try:
        a = np.asarray(value)
        if a.dtype == object:
            a = a.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers (not ragged, no None or text), "
                        f"got {type(value).__name__}") from None
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if ndim is not None and a.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {a.shape}")
    if not allow_empty and a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    if a.size and a.dtype.kind == "f":
        bad = ~np.isfinite(a) if finite else np.isnan(a)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} must be {'finite' if finite else 'a number'}, got "
                             f"{a[where]} at index {where}")
    if integer and a.size and a.dtype.kind == "f" and np.any(a != np.floor(a)):
        raise ValueError(f"{name} must hold whole numbers, got {a[a != np.floor(a)].flat[0]}")
    for bound, ok, word in ((0 if non_negative else None, lambda: a >= 0, ">= 0"),
                            (low, lambda: a >= low, f">= {low}"), (high, lambda: a <= high, f"<= {high}")):
        if bound is not None and a.size and not np.all(ok()):
            raise ValueError(f"{name} must be {word}, got {a[~ok()].flat[0]}")
    return a
