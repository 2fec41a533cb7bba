"""Checkers for the exercises of notebook 11 (local vs central vs distributed DP). Each prints
"Correct." or a hint via :func:`fldp_teach.exercises.report` and returns True/False; none raises."""
from __future__ import annotations

import math

from fldp_teach.exercises import report
from fldp_teach.plots.distributed_dp import noise_stddevs

__all__ = ["check_share_stddev", "check_local_noise_ratio"]

_CASES = ((1.0, 1.0, 100), (1.2, 0.5, 10), (3.0, 2.0, 7), (0.7, 1.5, 1000))


def _number(fn, *args):
    try:
        got = fn(*args)
    except Exception as exc:  # noqa: BLE001 - a student's error becomes a hint
        return None, f"raised {exc!r}"
    if got is None or got is Ellipsis:
        return None, "returns nothing yet: replace `...` by a formula"
    try:
        return float(got), None
    except (TypeError, ValueError):
        return None, f"returned {got!r}, not a number"


def check_share_stddev(my_share_stddev) -> bool:
    """``my_share_stddev(noise_multiplier, clip_norm, clients_per_round)`` must return the std
    zC/√m of the Gaussian noise ONE client adds in distributed DP, so that m shares add up to
    N(0, z²C²) (:func:`fldp_teach.dp_fedavg.distributed_dp_share`)."""
    for z, c, m in _CASES:
        got, err = _number(my_share_stddev, z, c, m)
        if err:
            return report(False, success="", hint=f"my_share_stddev({z}, {c}, {m}) {err}.")
        want = noise_stddevs(noise_multiplier=z, clip_norm=c, clients_per_round=m)["distributed"][0]
        if math.isclose(got, want, rel_tol=1e-9):
            continue
        hint = f"for z = {z}, C = {c}, m = {m} expected {want:.4f}, got {got:.4f}."
        if math.isclose(got, z * c / m, rel_tol=1e-9):
            hint += " zC/m is the std of the noise in the MEAN; each share must make the SUM have variance z²C²."
        elif math.isclose(got, z * c, rel_tol=1e-9):
            hint += " zC is what a local-DP client adds; here m shares must add up to zC in total."
        elif math.isclose(got, (z * c) ** 2 / m, rel_tol=1e-9):
            hint += " That is the variance; return the standard deviation."
        else:
            hint += " Variances of independent Gaussians add: m · σ_share² = z²C²."
        return report(False, success="", hint=hint)
    return report(True, success="σ_share = zC/√m: m shares sum to variance z²C², central DP's noise.", hint="")


def check_local_noise_ratio(my_local_noise_ratio) -> bool:
    """``my_local_noise_ratio(clients_per_round)`` must return (noise std in the mean under
    local DP) / (noise std in the mean under central DP) at the same noise multiplier z:
    (zC/√m)/(zC/m) = √m."""
    for m in (4, 10, 100, 1000):
        got, err = _number(my_local_noise_ratio, m)
        if err:
            return report(False, success="", hint=f"my_local_noise_ratio({m}) {err}.")
        s = noise_stddevs(noise_multiplier=1.0, clip_norm=1.0, clients_per_round=m)
        want = s["local"][1] / s["central"][1]
        if math.isclose(got, want, rel_tol=1e-9):
            continue
        hint = f"for m = {m} expected {want:.4f}, got {got:.4f}."
        if math.isclose(got, m, rel_tol=1e-9):
            hint += " Averaging m independent noises divides the std by √m, not by m."
        elif math.isclose(got, 1 / want, rel_tol=1e-9):
            hint += " You inverted it: local DP has MORE noise in the mean."
        return report(False, success="", hint=hint)
    return report(True, success="√m: every local client carries the full noise zC, and averaging m "
                  "independent noises only divides the std by √m.", hint="")
