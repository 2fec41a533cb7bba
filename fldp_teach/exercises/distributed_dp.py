"""Checkers for the exercises of notebook 11 (local vs central vs distributed DP): the noise of
one distributed-DP share and the √m between local and central noise.

The course's relation for user-level DP of a federation is add/remove one client: the sum of
clipped updates moves by at most C, and central DP adds N(0, z²C²) to it (docs/notation.md).
Each checker tries inputs the notebook never shows, prints "Correct." or a hint via
:func:`fldp_teach.exercises.report` and returns a :class:`~fldp_teach.exercises.Verdict`; none
raises. An answer that calls ``fldp_teach`` is refused (:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import math

from fldp_teach.exercises import as_number, call_safely, exercise, report

__all__ = ["check_share_stddev", "check_local_noise_ratio"]

_CASES = ((1.3, 1.0, 64), (1.2, 0.5, 10), (3.0, 2.0, 7), (0.7, 1.5, 1000))


def _number(fn, *args):
    got, err = call_safely(fn, *args)
    if err is not None:
        return None, f"raised {err!r}"
    if got is None or got is Ellipsis:
        return None, "returns nothing yet: replace `...` by a formula"
    value = as_number(got)
    return (value, None) if value is not None else (None, f"returned {got!r}, not a number")


@exercise()
def check_share_stddev(my_share_stddev) -> bool:
    """``my_share_stddev(noise_multiplier, clip_norm, clients_per_round)`` must return the std
    zC/√m of the Gaussian noise ONE client adds in distributed DP, so that the m shares add up to
    N(0, z²C²): central DP's noise for the sum's sensitivity C under add/remove one client
    (:func:`fldp_teach.dp_fedavg.distributed_dp_share` with ``min_clients=m``)."""
    for z, c, m in _CASES:
        got, err = _number(my_share_stddev, z, c, m)
        if err:
            return report(False, success="", hint=f"my_share_stddev({z}, {c}, {m}) {err}.")
        want = z * c / math.sqrt(m)
        if math.isclose(got, want, rel_tol=1e-9):
            continue
        hint = f"for z = {z}, C = {c}, m = {m} expected {want:.4f}, got {got:.4f}."
        if math.isclose(got, z * c / m, rel_tol=1e-9):
            hint += " zC/m is the std of the noise in the MEAN; each share must make the SUM have variance z²C²."
        elif math.isclose(got, z * c, rel_tol=1e-9):
            hint += " zC is what a local-DP client adds; here m shares must add up to zC in total."
        elif math.isclose(got, (z * c) ** 2 / m, rel_tol=1e-9):
            hint += " That is the variance; return the standard deviation."
        elif math.isclose(got, 2 * want, rel_tol=1e-9):
            hint += (" 2C is the sensitivity under replace-one; the course accounts the sum under add/remove one "
                     "client, sensitivity C, so the m shares must sum to N(0, z²C²).")
        else:
            hint += " Variances of independent Gaussians add: m · σ_share² = z²C²."
        return report(False, success="", hint=hint)
    return report(True, success="σ_share = zC/√m: m shares sum to variance z²C², central DP's noise for "
                                "sensitivity C (add/remove one client).", hint="")


@exercise()
def check_local_noise_ratio(my_local_noise_ratio) -> bool:
    """``my_local_noise_ratio(clients_per_round)`` must return (noise std in the mean under
    local DP) / (noise std in the mean under central DP) at the same noise multiplier z:
    (zC/√m)/(zC/m) = √m."""
    for m in (9, 50, 250, 2000):
        got, err = _number(my_local_noise_ratio, m)
        if err:
            return report(False, success="", hint=f"my_local_noise_ratio({m}) {err}.")
        want = math.sqrt(m)
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
