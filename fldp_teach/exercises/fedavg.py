"""Checkers for the exercises of notebook 09 (FedAvg without noise): the weighted average (E2),
the bytes of a round (claim C3) and a round that starts from the broadcast model (E4).

Each checker calls the student's function on inputs the notebook never shows, compares it with a
numpy reference, prints "Correct." or a hint through :func:`fldp_teach.exercises.report`, and
returns a :class:`~fldp_teach.exercises.Verdict`. It never raises, so an unfinished exercise
(``...`` returns None) just prints a "Not yet" line. An answer that calls ``fldp_teach`` (e.g.
``fedavg.aggregate``) is refused (:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import numpy as np

from fldp_teach.exercises import as_number, call_safely, exercise, report

__all__ = ["check_weighted_average", "check_round_bytes", "check_fedavg_from_broadcast", "toy_fedavg"]


def _weighted_cases():
    rng = np.random.default_rng(7)
    yield [np.array([2.0, -1.0]), np.array([4.0, 5.0]), np.array([0.0, 1.0])], [10, 10, 10]
    yield [np.array([1.0, 0.0, -2.0]), np.array([-3.0, 4.0, 0.5])], [5, 45]
    yield [rng.normal(size=(4, 2)) for _ in range(5)], [int(n) for n in rng.integers(1, 200, size=5)]


@exercise()
def check_weighted_average(my_weighted_average) -> bool:
    """``my_weighted_average(updates, num_examples)`` must return Σ_k (n_k/n) Δθ_k with
    n = Σ_k n_k, for a list of equally shaped arrays Δθ_k (McMahan et al. 2017, Alg. 1) — what
    ``fedavg.aggregate(..., weighting="num_examples")`` computes."""
    for updates, sizes in _weighted_cases():
        got, err = call_safely(my_weighted_average, [u.copy() for u in updates], list(sizes))
        if err is not None:
            return report(False, success="", hint=f"my_weighted_average raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_weighted_average returns nothing yet: replace `...`.")
        n = np.asarray(sizes, dtype=float)
        want = sum((n_k / n.sum()) * u for n_k, u in zip(n, updates))
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
            if np.allclose(got, sum(updates) / len(updates)):
                hint += " You computed the unweighted mean (1/K) Σ_k Δθ_k, the article's Eq. (2)."
            elif np.allclose(got, sum(n_k * u for n_k, u in zip(n, updates))):
                hint += " You forgot to divide by n = Σ_k n_k."
            return report(False, success="", hint=hint)
    return report(True, success="Σ_k (n_k/n) Δθ_k — equal to the article's 1/K mean only when all n_k are equal.",
                  hint="")


@exercise()
def check_round_bytes(my_round_bytes) -> bool:
    """``my_round_bytes(num_parameters, clients_per_round)`` must return the bytes of one FedAvg
    round with float32 weights: m broadcasts of θ_g down plus m updates Δθ_k up, each
    4·P bytes, i.e. 2·m·4·P (what :func:`fldp_teach.fedavg.weights_nbytes` counts per message)."""
    for params, m in ((1000, 7), (4096, 25), (123_457, 3), (2_500_000, 50)):
        got, err = call_safely(my_round_bytes, params, m)
        if err is not None:
            return report(False, success="", hint=f"my_round_bytes({params}, {m}) raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_round_bytes returns nothing yet: replace `...`.")
        want = 2 * m * 4 * params
        value = as_number(got)
        if value is None:
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


def toy_fedavg(theta_0, centres, curvatures, rounds, local_steps, lr, *, sync: bool = True) -> np.ndarray:
    """FedAvg on a toy federation without Keras (notebook 09, Exercise 3, E4). Client k's loss is
    F_k(θ) = (a_k/2)‖θ − c_k‖² (gradient a_k(θ − c_k)). Each round every client starts from the
    broadcast θ_g (``sync=True``, FedAvg; ``sync=False`` keeps each client's own model from the
    previous round: the article's Eq. (4) θ_k = f_k(θ_k′) read literally), takes ``local_steps``
    gradient steps θ ← θ − lr·a_k(θ − c_k), and the server sets θ_g to the unweighted mean of the
    clients' models (Eq. (2)). Returns θ_g after ``rounds`` rounds.

    With one local step FedAvg is gradient descent on (1/K) Σ_k F_k and converges to its minimum
    Σ_k a_k c_k / Σ_k a_k; with s steps its fixed point weights c_k by 1 − (1 − lr·a_k)^s (client
    drift); never synced, every client converges to its own c_k and the average to their plain mean."""
    theta = np.asarray(theta_0, dtype=float).copy()
    c = np.asarray(centres, dtype=float)
    a = np.asarray(curvatures, dtype=float).reshape((-1,) + (1,) * (c.ndim - 1))
    local = np.repeat(theta[None], len(c), axis=0)
    for _ in range(rounds):
        if sync:
            local = np.repeat(theta[None], len(c), axis=0)      # the broadcast: θ_k ← θ_g
        for _ in range(local_steps):
            local = local - lr * a * (local - c)
        theta = local.mean(axis=0)                             # Eq. (2), unweighted
    return theta


def _fedavg_cases():
    rng = np.random.default_rng(11)
    yield np.zeros(2), [[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]], [1.0, 4.0, 0.5], 1, 3, 0.2
    yield np.zeros(2), [[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]], [1.0, 4.0, 0.5], 6, 3, 0.2
    yield [0.5], [[-1.0], [2.0]], [2.0, 6.0], 20, 1, 0.1
    yield rng.normal(size=3), rng.normal(size=(4, 3)) * 3, [0.3, 1.0, 2.0, 5.0], 8, 5, 0.15


@exercise()
def check_fedavg_from_broadcast(my_fedavg) -> bool:
    """``my_fedavg(theta_0, centres, curvatures, rounds, local_steps, lr)`` must return
    :func:`toy_fedavg` (every client starts each round from the broadcast θ_g) on federations the
    notebook never shows; an answer whose clients keep their own models is told so (E4)."""
    for theta_0, centres, curv, rounds, steps, lr in _fedavg_cases():
        args = (np.array(theta_0, dtype=float), np.array(centres, dtype=float), list(curv), rounds, steps, lr)
        call = f"my_fedavg(K = {len(centres)} clients, rounds={rounds}, local_steps={steps}, lr={lr})"
        got, err = call_safely(my_fedavg, *(x.copy() if isinstance(x, np.ndarray) else x for x in args))
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_fedavg returns nothing yet: replace `...` by the rounds.")
        want = toy_fedavg(*args)
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"my_fedavg returned {got!r}, not an array.")
        if got.shape != want.shape:
            return report(False, success="", hint=f"{call} returned shape {got.shape}, expected {want.shape}: "
                                                   "return θ_g after the last round, shaped like theta_0.")
        if np.allclose(got, want, rtol=1e-9, atol=1e-12):
            continue
        hint = f"{call} returned {np.round(got, 4).tolist()}, expected {np.round(want, 4).tolist()}."
        if np.allclose(got, toy_fedavg(*args, sync=False), rtol=1e-9, atol=1e-12):
            hint += (" Your clients continue from their own models of the previous round (Eq. (4) read "
                     "literally, θ_k = f_k(θ_k′)). In FedAvg each round starts from the broadcast: θ_k ← θ_g.")
        elif np.allclose(got, toy_fedavg(*args[:4], 1, lr), rtol=1e-9, atol=1e-12):
            hint += " Each client takes local_steps gradient steps per round, not one."
        else:
            hint += " Per round: θ_k ← θ_g for every k; local_steps times θ_k ← θ_k − lr·a_k(θ_k − c_k); θ_g ← mean of the θ_k."
        return report(False, success="", hint=hint)
    return report(True, success="every round starts from the broadcast θ_g — Eq. (4) done right.", hint="")
