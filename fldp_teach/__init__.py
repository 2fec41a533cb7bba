"""fldp_teach: federated learning with differential privacy, from scratch, for teaching.

Importing the package is cheap and does not import TensorFlow: the maths layer
(`mechanisms`, `clipping`, `accounting`) runs on numpy alone; the learning and federation
layers (`models`, `data`, `dpsgd`, `fedavg`, ...) import TensorFlow when you import them.
See README.md for the layers and the course.

Importing it also filters TensorFlow's C++ start-up lines (CUDA and absl notices on a CPU
machine) out of stderr when TF is first imported, keeping every other line
(:mod:`fldp_teach._quiet_tf`; ``FLDP_SHOW_TF_STARTUP=1`` shows them).
"""
from fldp_teach import _quiet_tf

_quiet_tf.install()

__version__ = "0.1.0"
