"""Data records, input validation and the real-data loaders (all offline except MNIST).

Conventions shared by every loader and generator (see also ``fldp_teach.models``):

* features are ``float32``, labels are ``int32`` integers ``0 .. num_classes - 1``, also for
  binary tasks (``num_classes=2``, class 1 = the "positive" event: malignant, fraud, ...);
* the train/test split is **stratified** (same class proportions in both) and seeded;
* tabular features are standardized with a mean and standard deviation fitted on the
  **training split only** (``fit_standardizer``): using test statistics would leak
  information about the test set into training.

Loaders: ``load_breast_cancer`` (article §4.2/§4.3 medical case) and ``load_digits`` (8×8
images). MNIST lives in ``fldp_teach.mnist``, synthetic generators in
``fldp_teach.synthetic``, partitioners in ``fldp_teach.partition``; ``fldp_teach.data``
re-exports them all.
"""
from __future__ import annotations

import dataclasses
import numpy as np

from fldp_teach._validation import check_numbers, check_open_unit, check_positive_int, check_seed

__all__ = [
    "ClientData",
    "Dataset",
    "DatasetUnavailableError",
    "Standardizer",
    "validate_xy",
    "fit_standardizer",
    "stratified_split",
    "load_breast_cancer",
    "load_digits",
]


# ---------------------------------------------------------------------------- validation
def validate_xy(x, y, *, num_classes: int | None = None, x_name: str = "x", y_name: str = "y"):
    """Check a labelled sample and return it as ``(x, y)`` numpy arrays, ``y`` as ``int32``
    and floating (or boolean) ``x`` as ``float32`` (integer ``x``, e.g. token ids, keeps its
    dtype).

    Raises ``ValueError`` naming the parameter and the offending value when: ``x`` is empty;
    ``y`` is not 1-D; the numbers of examples differ; ``x`` holds NaN or ±inf; a label is not
    an integer; a label lies outside ``[0, num_classes - 1]``.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{x_name} must contain at least one example, got shape {x.shape}")
    if y.ndim != 1:
        raise ValueError(f"{y_name} must be a 1-D array of integer labels, got shape {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of examples, "
            f"got {x.shape[0]} and {y.shape[0]}"
        )
    if x.dtype == bool:
        x = x.astype(np.float32)
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{x_name} must be numeric, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.floating):
        finite = np.isfinite(x)
        if not finite.all():
            where = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValueError(f"{x_name} must be finite, got {x[where]} at index {where}")
        x = x.astype(np.float32, copy=False)
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(f"{y_name} must hold integer labels, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating):
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{y_name} must hold integer labels, got {y[i]} at index {i}")
    if num_classes is not None:
        num_classes = check_positive_int("num_classes", num_classes)
    high = np.inf if num_classes is None else num_classes - 1
    bad = (y < 0) | (y > high)
    if bad.any():
        i = int(np.argmax(bad))
        allowed = ">= 0" if num_classes is None else f"in [0, {num_classes - 1}]"
        raise ValueError(f"{y_name} labels must be {allowed}, got {y[i]} at index {i}")
    return x, y.astype(np.int32)


# ---------------------------------------------------------------------------- records
@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class ClientData:
    """The examples one client holds: features ``x`` (first axis = examples), labels ``y``."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        x, y = validate_xy(self.x, self.y)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def num_examples(self) -> int:
        """n_k, the number of examples at this client (FedAvg's weight, McMahan et al. 2017)."""
        return int(self.y.shape[0])

    def __len__(self) -> int:
        return self.num_examples

    def __repr__(self) -> str:
        return f"ClientData(x: {self.x.shape} {self.x.dtype}, y: {self.y.shape} {self.y.dtype})"


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A train/test split plus what a notebook needs to describe it.

    ``group_train``/``group_test`` optionally give each example's natural client (a bank id,
    a hospital id) for ``partition_by_feature``; ``group_name`` says what the group is.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    feature_names: tuple[str, ...] | None = None
    class_names: tuple[str, ...] | None = None
    description: str = ""
    group_train: np.ndarray | None = None
    group_test: np.ndarray | None = None
    group_name: str | None = None

    def __post_init__(self):
        num_classes = check_positive_int("num_classes", self.num_classes)
        x_train, y_train = validate_xy(self.x_train, self.y_train, num_classes=num_classes,
                                       x_name="x_train", y_name="y_train")
        x_test, y_test = validate_xy(self.x_test, self.y_test, num_classes=num_classes,
                                     x_name="x_test", y_name="y_test")
        if x_train.shape[1:] != x_test.shape[1:]:
            raise ValueError(
                f"x_train and x_test must have the same example shape, "
                f"got {x_train.shape[1:]} and {x_test.shape[1:]}"
            )
        for name, names, expected in [("feature_names", self.feature_names, x_train.shape[-1]),
                                      ("class_names", self.class_names, num_classes)]:
            if names is not None and len(names) != expected:
                raise ValueError(f"{name} must have {expected} entries, got {len(names)}")
        for name, group, n in [("group_train", self.group_train, len(y_train)),
                               ("group_test", self.group_test, len(y_test))]:
            if group is not None and np.shape(group) != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {np.shape(group)}")
        for name, value in [("x_train", x_train), ("y_train", y_train), ("x_test", x_test),
                            ("y_test", y_test), ("num_classes", num_classes)]:
            object.__setattr__(self, name, value)

    @property
    def num_features(self) -> int:
        """Size of the last feature axis (columns, pixels per row, or vital signs)."""
        return int(self.x_train.shape[-1])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, what the model builders take."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (f"Dataset({self.description.splitlines()[0] if self.description else ''!r}, "
                f"train={self.x_train.shape}, test={self.x_test.shape}, "
                f"num_classes={self.num_classes}, train class counts="
                f"{np.bincount(self.y_train, minlength=self.num_classes).tolist()})")


class DatasetUnavailableError(OSError):
    """A dataset could not be read: not cached and no network, or a missing extra package."""


# ---------------------------------------------------------------------------- split and scaling
def stratified_split(y, *, test_fraction: float, seed: int | None):
    """Indices ``(train_idx, test_idx)`` of a seeded split that keeps class proportions
    (scikit-learn's ``train_test_split(..., stratify=y)``); both sorted ascending."""
    from sklearn.model_selection import train_test_split

    test_fraction = check_open_unit("test_fraction", test_fraction)
    seed = check_seed("seed", seed)
    y = check_numbers("y", y, ndim=1, allow_empty=False)
    index = np.arange(len(y))
    # scikit-learn takes seeds below 2**32: larger ones are folded (the same split for smaller)
    train_idx, test_idx = train_test_split(index, test_size=test_fraction, stratify=y,
                                           random_state=None if seed is None else seed % 2**32)
    return np.sort(train_idx), np.sort(test_idx)


@dataclasses.dataclass(frozen=True, eq=False)
class Standardizer:
    """z = (x − mean) / std, per feature, with mean and std of the TRAINING split."""

    mean: np.ndarray
    std: np.ndarray

    def transform(self, x) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.std).astype(np.float32)


def fit_standardizer(x_train) -> Standardizer:
    """Fit per-feature mean and (population) std over axis 0 of ``x_train`` (and the time axis
    for sequences, i.e. all axes but the last). A constant feature gets std 1, so it maps to 0
    instead of dividing by zero."""
    x = check_numbers("x_train", x_train, allow_empty=False).astype(np.float64)
    if x.ndim < 2:
        raise ValueError(f"x_train must have shape (num_examples, ..., num_features), got {x.shape}")
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes)
    std = x.std(axis=axes)
    return Standardizer(mean=mean, std=np.where(std > 0, std, 1.0))


# ---------------------------------------------------------------------------- loaders
def load_breast_cancer(*, test_fraction: float = 0.25, seed: int | None = 0) -> Dataset:
    """Wisconsin diagnostic breast cancer (569 patients, 30 features of cell nuclei, shipped
    with scikit-learn, offline): the binary medical case of article §4.2/§4.3.

    Labels: **1 = malignant** (212 patients), 0 = benign (357). scikit-learn codes it the
    other way round (0 = malignant); we flip it so that the positive class is the disease and
    AUC uses P(malignant). Stratified split, features standardized with the training split's
    mean and std only.
    """
    seed = check_seed("seed", seed)
    from sklearn import datasets as skd

    raw = skd.load_breast_cancer()
    y = (1 - raw.target).astype(np.int32)
    train, test = stratified_split(y, test_fraction=test_fraction, seed=seed)
    scaler = fit_standardizer(raw.data[train])
    return Dataset(
        scaler.transform(raw.data[train]), y[train], scaler.transform(raw.data[test]), y[test],
        num_classes=2, feature_names=tuple(str(f) for f in raw.feature_names),
        class_names=("benign", "malignant"),
        description="Wisconsin diagnostic breast cancer (scikit-learn); 1 = malignant; "
                    "features standardized with training mean/std",
    )


def _image_layout(images: np.ndarray, *, as_images: bool, as_sequences: bool) -> np.ndarray:
    """(n, h, w) → (n, h, w, 1) images, (n, h, w) sequences of rows, or (n, h·w) flat."""
    if as_sequences:
        return images
    if as_images:
        return images[..., np.newaxis]
    return images.reshape(len(images), -1)


def load_digits(*, test_fraction: float = 0.25, seed: int | None = 0, as_images: bool = True,
                as_sequences: bool = False) -> Dataset:
    """scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes, offline), pixels
    scaled from 0..16 to [0, 1].

    Shapes: ``(n, 8, 8, 1)`` for the CNN (``as_images=True``, default); ``(n, 64)`` when
    ``as_images=False``; ``(n, 8, 8)`` — each image read row by row as 8 time steps of 8
    pixels, for the RNN — when ``as_sequences=True`` (it overrides ``as_images``).
    """
    seed = check_seed("seed", seed)
    from sklearn import datasets as skd

    raw = skd.load_digits()
    y = raw.target.astype(np.int32)
    images = (raw.images / 16.0).astype(np.float32)
    train, test = stratified_split(y, test_fraction=test_fraction, seed=seed)
    x = _image_layout(images, as_images=as_images, as_sequences=as_sequences)
    return Dataset(
        x[train], y[train], x[test], y[test], num_classes=10,
        class_names=tuple(str(d) for d in range(10)),
        description="scikit-learn 8x8 digits, pixels in [0, 1]",
    )
