"""The server side on Flower: a ``ServerApp`` that runs :class:`~fldp_teach.flower.strategy.DPFedAvg`.

It builds the model (``logistic_regression``, public ``seed``), starts the strategy for
``rounds`` rounds, evaluates θ_t on the server's test set after every round (the clients do no
evaluation: metrics on their raw data stay with them) and writes a JSON result file: one record
per round with accuracy, loss, AUC, ε, participants and seconds, plus the settings and the time
of the whole run. Taught in notebooks/15_flower.ipynb.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

from fldp_teach.flower.client import FlowerRunConfig

__all__ = ["run_server", "make_server_app"]
logger = logging.getLogger(__name__)


def _json_number(x):
    return None if isinstance(x, float) and math.isinf(x) else x


def run_server(grid, cfg: FlowerRunConfig, *, result_file: str | None = None) -> dict:
    """Run ``cfg.rounds`` rounds on ``grid`` and return (and write) the result dict."""
    from flwr.app import ConfigRecord, MetricRecord

    from fldp_teach.datasets import load_breast_cancer
    from fldp_teach.flower.records import record_to_weights, weights_to_record
    from fldp_teach.flower.strategy import DPFedAvg
    from fldp_teach.models import logistic_regression
    from fldp_teach.simulation import evaluate

    start = time.perf_counter()
    data = load_breast_cancer(seed=cfg.seed)
    model = logistic_regression(data.num_features, seed=cfg.seed)
    strategy = DPFedAvg(num_clients=cfg.num_clients, sampling_rate=cfg.sampling_rate, mode=cfg.mode,
                        clip_norm=cfg.clip_norm, noise_multiplier=cfg.noise_multiplier if cfg.mode != "none" else 0.0,
                        delta=cfg.delta, noise_seed=cfg.noise_seed, seed=cfg.seed,
                        server_learning_rate=cfg.server_learning_rate, local_epochs=cfg.local_epochs,
                        batch_size=cfg.batch_size)
    evaluations = {}

    def evaluate_fn(server_round, arrays):
        evaluations[server_round] = evaluate(model, record_to_weights(arrays), data.x_test, data.y_test)
        evaluations[server_round]["seconds"] = time.perf_counter() - start
        return MetricRecord({k: float(v) for k, v in evaluations[server_round].items() if v is not None})

    outcome = strategy.start(grid=grid, initial_arrays=weights_to_record(model.get_weights()),
                             num_rounds=cfg.rounds, train_config=ConfigRecord({}), evaluate_fn=evaluate_fn)
    records = []
    for entry in strategy.history:
        record = dict(entry, **evaluations.get(entry["round"], {}))
        record["epsilon"] = _json_number(record["epsilon"])
        records.append(record)
    result = {"settings": asdict(cfg), "initial": evaluations.get(0), "records": records,
              "final_weights": [w.tolist() for w in record_to_weights(outcome.arrays)],
              "seconds": time.perf_counter() - start}
    path = Path(result_file or cfg.result_file).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    logger.info("result written to %s", path)
    return result


def make_server_app():
    """A ``flwr.serverapp.ServerApp`` whose main reads the run config
    (:class:`~fldp_teach.flower.client.FlowerRunConfig`) and calls :func:`run_server`."""
    from flwr.serverapp import ServerApp

    app = ServerApp()

    @app.main()
    def main(grid, context):
        run_server(grid, FlowerRunConfig.from_run_config(context.run_config))

    return app
