"""Checkers for the exercises of notebook 09 (FedAvg without noise).

Each checker calls the student's function on several inputs, compares it with the library
(:func:`fldp_teach.fedavg.aggregate`, :func:`fldp_teach.fedavg.weights_nbytes`), prints "Correct." or a
hint through :func:`fldp_teach.exercises.report`, and returns True/False. It never raises, so an
unfinished exercise (``...`` returns None) just prints a hint.
"""
from __future__ import annotations

import numpy as np

from fldp_teach.exercises import call_safely, report
from fldp_teach.fedavg import ClientUpdate, aggregate, weights_nbytes

__all__ = ["check_weighted_average", "check_round_bytes"]


def _weighted_cases():
    rng = np.random.default_rng(7)
    yield [np.ones(3), np.zeros(3)], [1, 3]                      # the hand example: 0.25·ones
    yield [np.array([2.0, -1.0]), np.array([4.0, 5.0]), np.array([0.0, 1.0])], [10, 10, 10]
    yield [rng.normal(size=(4, 2)) for _ in range(5)], [int(n) for n in rng.integers(1, 200, size=5)]


def check_weighted_average(my_weighted_average) -> bool:
    """``my_weighted_average(updates, num_examples)`` must return Σ_k (n_k/n) Δθ_k with
    n = Σ_k n_k, for a list of equally shaped arrays Δθ_k (McMahan et al. 2017, Alg. 1) — what
    ``aggregate(..., weighting="num_examples")`` computes."""
    for updates, sizes in _weighted_cases():
        got, err = call_safely(my_weighted_average, [u.copy() for u in updates], list(sizes))
        if err is not None:
            return report(False, success="", hint=f"my_weighted_average raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_weighted_average returns nothing yet: replace `...`.")
        records = [ClientUpdate(update=[u], num_examples=n) for u, n in zip(updates, sizes)]
        want = aggregate(records, weighting="num_examples")[0]
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"my_weighted_average returned {got!r}, not an array.")
        if got.shape != want.shape:
            return report(False, success="", hint=f"your result has shape {got.shape}, expected {want.shape} "
                                                   "(one array shaped like each update).")
        if not np.allclose(got, want, rtol=1e-9, atol=1e-12):
            hint = (f"with n_k = {list(sizes)} you return {np.round(got, 4).tolist()}, expected "
                    f"{np.round(want, 4).tolist()}. Hint: weight client k by n_k / Σ_j n_j.")
            uniform = aggregate(records, weighting="uniform")[0]
            if np.allclose(got, uniform):
                hint += " You computed the unweighted mean (1/K) Σ_k Δθ_k, the article's Eq. (2)."
            elif np.allclose(got, sum(n * u for u, n in zip(updates, sizes))):
                hint += " You forgot to divide by n = Σ_k n_k."
            return report(False, success="", hint=hint)
    return report(True, success="Σ_k (n_k/n) Δθ_k — equal to the article's 1/K mean only when all n_k are equal.",
                  hint="")


def check_round_bytes(my_round_bytes) -> bool:
    """``my_round_bytes(num_parameters, clients_per_round)`` must return the bytes of one FedAvg
    round with float32 weights: m broadcasts of θ_g down plus m updates Δθ_k up, each
    4·P bytes, i.e. 2·m·4·P (what :func:`fldp_teach.fedavg.weights_nbytes` counts per message)."""
    for params, m in ((650, 10), (4810, 20), (13706, 1), (1_663_370, 100)):
        got, err = call_safely(my_round_bytes, params, m)
        if err is not None:
            return report(False, success="", hint=f"my_round_bytes({params}, {m}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_round_bytes returns nothing yet: replace `...`.")
        message = weights_nbytes([np.zeros(params, dtype=np.float32)])
        want = 2 * m * message
        try:
            value = float(got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"my_round_bytes returned {got!r}, not a number.")
        if value != want:
            hint = (f"for P = {params} parameters and m = {m} clients you return {value:g}, expected {want}. "
                    "Hint: a float32 parameter is 4 bytes; each client downloads θ_g and uploads Δθ_k.")
            if value == want / 2:
                hint += " You counted only one direction."
            elif value == want / 4:
                hint += " You counted parameters, not bytes."
            elif value == 2 * want:
                hint += " float32 is 4 bytes, not 8 (that would be float64)."
            return report(False, success="", hint=hint)
    return report(True, success="2·m·4·P bytes per round: the CNN of McMahan et al. (1.66 M parameters) "
                                "with 100 clients moves 1.33 GB per round.", hint="")
