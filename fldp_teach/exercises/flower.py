"""Checkers for the exercises of notebook 15 (the same DP-FedAvg on Flower): the node config a
SuperNode is started with, and the ε a Flower run reports, computed from its run config alone.
Each prints "Correct." or a hint via :func:`fldp_teach.exercises.report` and returns True/False; none
raises. The ε exercise may call ``central_epsilon`` (the accountant's tool the notebook names); any
other call into ``fldp_teach`` is refused, as is any call in the node-config exercise."""
from __future__ import annotations

import math

from fldp_teach.dp_fedavg import central_epsilon
from fldp_teach.exercises import as_number, call_safely, exercise, report

__all__ = ["check_node_config", "check_flower_epsilon"]


@exercise()
def check_node_config(my_node_config) -> bool:
    """``my_node_config(i, n)`` must return the ``--node-config`` string of SuperNode i of n, e.g.
    ``"partition-id=0 num-partitions=2"``: the keys the course's ClientApp reads to pick its
    partition (:func:`fldp_teach.flower.client.client_data`). Flower parses it as space-separated
    ``key=value`` pairs."""
    for i, n in ((0, 3), (2, 3), (7, 30)):          # the notebook starts 2 SuperNodes
        got, err = call_safely(my_node_config, i, n)
        if err is not None:
            return report(False, success="", hint=f"my_node_config raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_node_config returns nothing yet: return a string.")
        if not isinstance(got, str):
            return report(False, success="", hint=f"return a string, got {type(got).__name__}.")
        pairs = dict(p.partition("=")[::2] for p in got.split())
        want = {"partition-id": str(i), "num-partitions": str(n)}
        if pairs == want:
            continue
        hint = f"for SuperNode {i} of {n} expected {' '.join(f'{k}={v}' for k, v in want.items())!r}, got {got!r}."
        if any("_" in k for k in pairs) and {k.replace("_", "-") for k in pairs} == set(want):
            hint += " The keys use dashes, not underscores."
        elif pairs.get("partition-id") == str(i + 1):
            hint += " Partition ids count from 0."
        elif "," in got:
            hint += " Separate the pairs with a space, not a comma."
        return report(False, success="", hint=hint)
    return report(True, success="the SuperNode knows which partition of how many it holds: "
                  "flower-supernode ... --node-config \"partition-id=i num-partitions=n\".", hint="")


def _want(run_config) -> list:
    z, q, d, rounds = (run_config["noise-multiplier"], run_config["sampling-rate"], run_config["delta"],
                       run_config["rounds"])
    return [central_epsilon(noise_multipliers=[z] * r, sampling_rate=q, delta=d) for r in range(1, rounds + 1)]


@exercise(allowed=("central_epsilon",))
def check_flower_epsilon(my_flower_epsilon) -> bool:
    """``my_flower_epsilon(run_config)`` gets a run config as the Flower app reads it (keys with
    dashes: ``"noise-multiplier"``, ``"sampling-rate"``, ``"delta"``, ``"rounds"``, ...) and must
    return the list of user-level ε after rounds 1..T of central DP-FedAvg with Poisson client
    sampling (:func:`fldp_teach.dp_fedavg.central_epsilon` on the first r rounds), i.e. what the
    strategy reports: a function of the public configuration only, not of the replies."""
    # not the notebook's RUN_CONFIG (2 clients, q = 1, z = 0.2, δ = 1e-5, 2 or 5 rounds)
    configs = ({"num-clients": 3, "rounds": 3, "mode": "central", "sampling-rate": 1.0, "noise-multiplier": 0.7,
                "clip-norm": 1.0, "delta": 1e-5},
               {"num-clients": 100, "rounds": 4, "mode": "central", "sampling-rate": 0.1, "noise-multiplier": 1.2,
                "clip-norm": 0.5, "delta": 1e-6})
    for cfg in configs:
        got, err = call_safely(my_flower_epsilon, dict(cfg))
        if err is not None:
            return report(False, success="", hint=f"my_flower_epsilon raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_flower_epsilon returns nothing yet: return one ε per round.")
        try:
            values = [as_number(g) for g in got]
        except TypeError:
            return report(False, success="", hint=f"return a list with one ε per round, got {got!r}.")
        want = _want(cfg)
        if len(values) != len(want) or any(v is None for v in values):
            return report(False, success="", hint=f"expected {len(want)} numbers (one ε per round) for "
                          f"rounds={cfg['rounds']}, got {got!r}.")
        if all(math.isclose(v, w, rel_tol=1e-6) for v, w in zip(values, want)):
            continue
        hint = f"for {cfg}: expected {[round(w, 4) for w in want]}, got {[round(v, 4) for v in values]}."
        unsampled = [central_epsilon(noise_multipliers=[cfg["noise-multiplier"]] * r, sampling_rate=1.0,
                                     delta=cfg["delta"]) for r in range(1, cfg["rounds"] + 1)]
        if cfg["sampling-rate"] < 1 and all(math.isclose(v, u, rel_tol=1e-6) for v, u in zip(values, unsampled)):
            hint += " Pass the sampling rate q: each client joins a round with probability q."
        elif all(math.isclose(v, want[-1], rel_tol=1e-6) for v in values):
            hint += " That is the final ε for every round: charge only the first r rounds after round r."
        return report(False, success="", hint=hint)
    return report(True, success="ε depends only on z, q, δ and the number of rounds: the same whether "
                  "the messages travel inside one Python process or between machines.", hint="")
