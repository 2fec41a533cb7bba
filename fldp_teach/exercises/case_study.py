"""Checkers for the exercises of notebook 12 (the medical case study): repair the article's
``global_merge_fn`` and charge a noise schedule with the accountant. Each prints "Correct." or a hint
via :func:`fldp_teach.exercises.report` and returns True/False; none raises. Both refuse an answer
that calls the library's own version (``global_merge_fn``, ``record_level_epsilon``, ...): the
schedule exercise may use the accountant's building blocks ``RdpAccountant`` and ``SampledGaussian``."""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.dp_fedavg import record_level_epsilon
from fldp_teach.exercises import call_safely, exercise, report
from fldp_teach.fedavg import ClientUpdate
from fldp_teach.seed_api import global_merge_fn

__all__ = ["check_global_merge", "check_schedule_epsilon"]


@exercise()
def check_global_merge(my_global_merge) -> bool:
    """``my_global_merge(updates, state)``: ``updates`` is a list of K client updates (each a
    list of arrays Δθ_k), ``state`` the global weights θ_g (list of arrays); must return
    θ_g + (1/K) Σ_k Δθ_k (article Eq. 2, unweighted; FedAvg with η_g = 1), the repaired version
    of the article's ``(local_model_weights + delta) / state``."""
    rng = np.random.default_rng(10)
    state = [rng.normal(size=(3, 2)), rng.normal(size=2)]
    updates = [[rng.normal(size=(3, 2)), rng.normal(size=2)] for _ in range(4)]
    want = global_merge_fn([ClientUpdate(u, num_examples=1) for u in updates], state)[0]
    got, err = call_safely(my_global_merge, updates, state)
    if err is not None:
        return report(False, success="", hint=f"my_global_merge raised {err!r}.")
    if got is None or got is Ellipsis:
        return report(False, success="", hint="my_global_merge returns nothing yet: return a list of arrays "
                      "shaped like state.")
    try:
        got = [np.asarray(g, dtype=float) for g in got]
        ok = len(got) == len(want) and all(g.shape == w.shape for g, w in zip(got, want))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        return report(False, success="", hint="return a list with one array per weight tensor, shaped like state.")
    if all(np.allclose(g, w) for g, w in zip(got, want)):
        return report(True, success="θ_g + mean of the updates: an average, unlike the article's division by the "
                      "weights.", hint="")
    mean = [sum(u[j] for u in updates) / len(updates) for j in range(len(state))]
    if all(np.allclose(g, m) for g, m in zip(got, mean)):
        return report(False, success="", hint="that is the mean UPDATE; the new global weights are θ_g + mean.")
    if all(np.allclose(g, s + m * len(updates)) for g, s, m in zip(got, state, mean)):
        return report(False, success="", hint="you added the SUM of the updates; divide it by K.")
    return report(False, success="", hint="expected θ_g + (1/K) Σ_k Δθ_k, tensor by tensor. Dividing by the "
                  "weights (as the article does) is not an average.")


@exercise(allowed=("RdpAccountant", "SampledGaussian"))
def check_schedule_epsilon(my_schedule_epsilon) -> bool:
    """``my_schedule_epsilon(noise_schedule, num_examples, batch_size, delta)`` must return the
    record-level ε of ONE hospital with ``num_examples`` patients after DP-SGD with one local
    epoch per round and z_r = ``noise_schedule[r]``: ⌈n/B⌉ sampled-Gaussian steps per round
    at rate q = B/n, composed over all phases (:func:`fldp_teach.dp_fedavg.record_level_epsilon`)."""
    # not the notebook's schedule (4 → 1.5 over 15 rounds, hospitals of 106–107 patients)
    cases = (([5.0] * 3 + [2.0] * 6, 93, 16, 1e-5), ([2.0, 2.0, 1.0], 300, 32, 1e-5), ([1.2] * 4, 50, 16, 1e-6))
    for schedule, n, b, d in cases:
        got, err = call_safely(my_schedule_epsilon, schedule, n, b, d)
        if err is not None:
            return report(False, success="", hint=f"my_schedule_epsilon raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_schedule_epsilon returns nothing yet: compose one "
                          "SampledGaussian event per phase in an RdpAccountant.")
        try:
            got = float(got)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"return ε as a number, got {got!r}.")
        want = record_level_epsilon(noise_multipliers=schedule, participations=[list(range(len(schedule)))],
                                    num_examples=[n], batch_size=b, local_epochs=1, delta=d)
        if math.isclose(got, want, rel_tol=1e-6):
            continue
        one_step = record_level_epsilon(noise_multipliers=schedule, participations=[list(range(len(schedule)))],
                                        num_examples=[n], batch_size=n, local_epochs=1, delta=d)
        hint = f"for {len(schedule)} rounds, n = {n}, B = {b}: expected ε = {want:.4f}, got {got:.4f}."
        if math.isclose(got, one_step, rel_tol=1e-6):
            hint += " Each round is ⌈n/B⌉ DP-SGD steps at q = B/n, not one step at q = 1."
        elif got < want:
            hint += " Did you charge every phase (and every step of each round)?"
        else:
            hint += " Use the sampled Gaussian with q = B/n (amplification by sampling)."
        return report(False, success="", hint=hint)
    return report(True, success="every phase charged: ε of a schedule = the RDP sum of its phases, converted once.",
                  hint="")
