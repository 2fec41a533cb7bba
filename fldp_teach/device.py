"""Which device TensorFlow computes on: printed by every notebook and by the CLI.

The library keeps its hot loops inside TensorFlow (``tf.function``), so the same code runs on
a GPU when TF sees one and on the CPU otherwise; this module only reports which.
"""
from __future__ import annotations


def describe_device() -> str:
    """One line naming the TF version and the device(s) TF will use, e.g.
    ``"TensorFlow 2.21.0 on CPU (no GPU visible)"`` or ``"TensorFlow 2.21.0 on GPU: /physical_device:GPU:0"``."""
    import tensorflow as tf

    from fldp_teach._quiet_tf import filtered_stderr

    with filtered_stderr():  # the first device query prints "failed call to cuInit" without CUDA
        gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = ", ".join(g.name for g in gpus)
        return f"TensorFlow {tf.__version__} on GPU: {names}"
    return f"TensorFlow {tf.__version__} on CPU (no GPU visible)"
