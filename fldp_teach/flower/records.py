"""Our weights (a list of arrays) ↔ Flower's ``ArrayRecord``, losslessly.

A Keras model's ``get_weights()`` is a list of NumPy arrays; Flower's messages carry an
``ArrayRecord``, a dict from names to serialized arrays. ``ArrayRecord(list_of_ndarrays)`` names
them ``"0", "1", ...`` and ``to_numpy_ndarrays()`` returns them in the dict's order. We read
them back by the *number* in the key (``"10"`` after ``"9"``, not after ``"1"``), so the order
survives any transport that sorts keys as strings; dtype and shape survive the ``np.save``
serialization Flower uses. Taught in notebooks/15_flower.ipynb.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["weights_to_record", "record_to_weights"]


def weights_to_record(weights: Sequence):
    """An ``ArrayRecord`` holding ``weights`` in order as ``"0", "1", ...`` (dtype and shape kept)."""
    from flwr.app import ArrayRecord

    return ArrayRecord([np.asarray(w) for w in weights])


def record_to_weights(record) -> list:
    """The list of arrays in ``record``: keys ``"0".."n-1"`` in numeric order; any other keys
    (a record built by someone else) in the record's own order."""
    keys = list(record.keys())
    if all(k.isdigit() for k in keys):
        keys = sorted(keys, key=int)
    return [record[k].numpy() for k in keys]
