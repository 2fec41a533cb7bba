"""Running our (DP-)FedAvg on Flower (``pip install 'fldp_teach[flower]'``, Flower 1.42).

The simulator (:func:`fldp_teach.simulation.simulate`) runs every role in one process; Flower
runs the same roles as separate apps that exchange messages — on one machine (Flower's
simulation, or a loopback federation) or across machines. The maths stays ours:

* :mod:`~fldp_teach.flower.records` — weights ↔ ``ArrayRecord`` (order, dtype, shape kept);
* :mod:`~fldp_teach.flower.strategy` — :class:`DPFedAvg`, a ``flwr.serverapp.strategy.FedAvg``
  whose client sampling (Poisson, private coins), clipping, fixed-denominator aggregation, noise
  and accountant are this library's;
* :mod:`~fldp_teach.flower.client` — a ``ClientApp`` running :func:`fldp_teach.fedavg.client_update`
  (plain, local DP, or DP-SGD inside the client);
* :mod:`~fldp_teach.flower.server` — the ``ServerApp`` (evaluation, JSON result file);
* :mod:`~fldp_teach.flower.deploy` — ``fldp-teach flower up N`` / ``down``: a SuperLink and N
  SuperNodes on 127.0.0.1.

The app itself is ``flower-app/`` at the repository root. Importing this package imports
neither Flower nor TensorFlow; the names below are loaded on first use.
Taught in notebooks/15_flower.ipynb; commands in docs/flower.md.
"""
from __future__ import annotations

import importlib

__all__ = ["weights_to_record", "record_to_weights", "DPFedAvg", "FLOWER_MODES", "FlowerRunConfig",
           "client_data", "train_reply", "make_client_app", "make_server_app", "run_server",
           "up", "down", "status", "run_app"]

_WHERE = {"weights_to_record": "records", "record_to_weights": "records", "DPFedAvg": "strategy",
          "FLOWER_MODES": "strategy", "FlowerRunConfig": "client", "client_data": "client",
          "train_reply": "client", "make_client_app": "client", "make_server_app": "server",
          "run_server": "server", "up": "deploy", "down": "deploy", "status": "deploy", "run_app": "deploy"}


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'fldp_teach.flower' has no attribute {name!r}")
    try:
        module = importlib.import_module(f"fldp_teach.flower.{_WHERE[name]}")
    except ImportError as err:
        if "flwr" in str(err):
            raise ImportError("fldp_teach.flower needs Flower: pip install 'fldp_teach[flower]'") from err
        raise
    return getattr(module, name)
