"""fldp_teach: federated learning with differential privacy, from scratch, for teaching.

Importing the package is cheap and does not import TensorFlow: the maths layer
(`mechanisms`, `clipping`, `accounting`) runs on numpy alone; the learning and federation
layers (`models`, `data`, `dpsgd`, `fedavg`, ...) import TensorFlow when you import them.
See DESIGN.md for the layers and README.md for the course.
"""
__version__ = "0.1.0"
