"""Seeded synthetic data for the article's finance and time-series cases (§3.4, §3.2 Step 2).

Real fraud records and patient monitors are exactly the data that cannot be shared, so the
course generates stand-ins whose generative model is written out below: students can check
what a model should be able to learn, and every number is reproducible from ``seed``.
Both generators return a :class:`~fldp_teach.datasets.Dataset` with a stratified split,
features standardized with training statistics only, and a natural client id per example
(``group_train``/``group_test``: the bank or hospital) for ``partition_by_feature``.
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach._validation import check_open_unit, check_positive_int, check_seed
from fldp_teach.datasets import Dataset, fit_standardizer, stratified_split

__all__ = ["make_fraud", "make_vital_signs", "FRAUD_FEATURES", "VITAL_SIGNS"]

FRAUD_FEATURES = ("log_amount", "hour_sin", "hour_cos", "merchant_risk", "log_distance_km",
                  "transactions_24h", "foreign")
VITAL_SIGNS = ("heart_rate", "systolic_bp", "respiratory_rate", "spo2", "temperature")


#: Most values a generated data set may hold (it is built in memory).
_MAX_VALUES = 10**8


def _check_size(**sizes) -> None:
    """The data set the sizes describe fits in memory: their product is at most _MAX_VALUES
    (the first size counts examples, groups may not outnumber them)."""
    names = list(sizes)
    if math.prod(sizes.values()) > _MAX_VALUES:
        raise ValueError(f"{' * '.join(names)} must be <= {_MAX_VALUES:.0e} (the data set is built in "
                         f"memory), got {' * '.join(str(v) for v in sizes.values())}")


def _exact_labels(rng, num_examples: int, rate: float, name: str) -> np.ndarray:
    """Exactly round(rate · n) ones at random positions (so the imbalance is what was asked)."""
    num_positive = int(round(rate * num_examples))
    if not 2 <= num_positive <= num_examples - 2:
        raise ValueError(f"{name} * num_examples must leave >= 2 examples of each class, "
                         f"got {name}={rate} with {num_examples} examples")
    y = np.zeros(num_examples, dtype=np.int32)
    y[rng.choice(num_examples, size=num_positive, replace=False)] = 1
    return y


def make_fraud(*, num_examples: int = 20000, fraud_rate: float = 0.02, num_features: int = 12,
               num_banks: int = 5, test_fraction: float = 0.25, seed: int | None = 0) -> Dataset:
    """Imbalanced card-fraud detection (label 1 = fraud), the article's finance case (§3.4).

    Generative model, per transaction (legitimate | fraud):

    1. label: exactly ``round(fraud_rate · num_examples)`` frauds at random positions;
    2. bank b ∈ {0, …, B−1}: legitimate traffic share ∝ 1/(b+1) (a few large banks),
       fraud share ∝ r_b/(b+1) with r_b evenly spaced from 0.5 to 2 (small banks attract
       relatively more fraud) — stored in ``group_train``/``group_test``, not a feature;
    3. ``log_amount`` ~ N(3.5 + 0.2·b, 1.0) | N(3.9 + 0.2·b, 1.2): log-normal amounts
       (median ≈ $33 | $49), customers of larger b spend more;
    4. hour ~ N(14, 4) | 0.6·N(3, 3) + 0.4·N(14, 4) (most frauds at night), taken mod 24 and encoded as ``hour_sin``, ``hour_cos``
       = sin, cos(2π·hour/24) so that 23:00 and 01:00 are close;
    5. ``merchant_risk`` ~ Beta(2, 8) | Beta(2.8, 7.2) (mean 0.20 | 0.28);
    6. ``log_distance_km`` from home ~ N(1.5, 1.0) | N(1.9, 1.2);
    7. ``transactions_24h`` ~ Poisson(3) | Poisson(4);
    8. ``foreign`` ~ Bernoulli(0.05) | Bernoulli(0.15);
    9. ``num_features − 7`` noise features ``noise_i`` ~ N(0, 1), independent of the label.

    Then a stratified split and standardization with the training mean/std. Class 1 is rare,
    so report AUC or precision/recall, not accuracy (98 % for "never fraud").
    """
    seed = check_seed("seed", seed)
    num_examples = check_positive_int("num_examples", num_examples)
    fraud_rate = check_open_unit("fraud_rate", fraud_rate)
    num_features = check_positive_int("num_features", num_features)
    num_banks = check_positive_int("num_banks", num_banks)
    _check_size(num_examples=num_examples, num_features=num_features, num_banks=num_banks)
    if num_features < len(FRAUD_FEATURES):
        raise ValueError(f"num_features must be >= {len(FRAUD_FEATURES)} (the informative "
                         f"features), got {num_features}")
    rng = np.random.default_rng(seed)
    y = _exact_labels(rng, num_examples, fraud_rate, "fraud_rate")
    fraud = y == 1
    n, m = num_examples, int(fraud.sum())

    def per_class(legit_draw, fraud_draw):
        out = np.empty(n)
        out[~fraud] = legit_draw(n - m)
        out[fraud] = fraud_draw(m)
        return out

    share = 1.0 / np.arange(1, num_banks + 1)
    risk = np.linspace(0.5, 2.0, num_banks)
    bank = per_class(lambda k: rng.choice(num_banks, size=k, p=share / share.sum()),
                     lambda k: rng.choice(num_banks, size=k, p=share * risk / (share * risk).sum()))
    bank = bank.astype(np.int32)
    log_amount = per_class(lambda k: rng.normal(3.5, 1.0, k), lambda k: rng.normal(3.9, 1.2, k))
    log_amount += 0.2 * bank
    hour = per_class(lambda k: rng.normal(14, 4, k),
                     lambda k: np.where(rng.random(k) < 0.6, rng.normal(3, 3, k),
                                        rng.normal(14, 4, k))) % 24
    columns = [
        log_amount,
        np.sin(2 * np.pi * hour / 24),
        np.cos(2 * np.pi * hour / 24),
        per_class(lambda k: rng.beta(2, 8, k), lambda k: rng.beta(2.8, 7.2, k)),
        per_class(lambda k: rng.normal(1.5, 1.0, k), lambda k: rng.normal(1.9, 1.2, k)),
        per_class(lambda k: rng.poisson(3, k), lambda k: rng.poisson(4, k)),
        per_class(lambda k: rng.random(k) < 0.05, lambda k: rng.random(k) < 0.15),
    ]
    num_noise = num_features - len(FRAUD_FEATURES)
    x = np.column_stack(columns + [rng.normal(size=n) for _ in range(num_noise)])
    train, test = stratified_split(y, test_fraction=test_fraction, seed=seed)
    scaler = fit_standardizer(x[train])
    return Dataset(
        scaler.transform(x[train]), y[train], scaler.transform(x[test]), y[test], num_classes=2,
        feature_names=FRAUD_FEATURES + tuple(f"noise_{i}" for i in range(num_noise)),
        class_names=("legitimate", "fraud"),
        description=f"synthetic card fraud, fraud_rate={fraud_rate:g}, {num_banks} banks "
                    f"(fldp_teach.synthetic.make_fraud, seed={seed})",
        group_train=bank[train], group_test=bank[test], group_name="bank_id",
    )


def make_vital_signs(*, num_patients: int = 1000, length: int = 48, positive_rate: float = 0.3,
                     num_hospitals: int = 4, test_fraction: float = 0.25,
                     seed: int | None = 0) -> Dataset:
    """Hourly vital signs of hospital patients, label 1 = the patient deteriorates; input
    for the RNN (shape ``(num_patients, length, 5)``, channels :data:`VITAL_SIGNS`).

    Generative model, per patient:

    1. label: exactly ``round(positive_rate · num_patients)`` deteriorating patients;
    2. hospital h uniform on {0, …, H−1} (``group_train``/``group_test``); monitors differ:
       heart rate reads +2·h bpm, temperature +0.1·h °C;
    3. baseline μ per channel ~ N(80, 10) bpm, N(120, 15) mmHg, N(16, 3) /min, N(97, 1.5) %,
       N(37, 0.4) °C;
    4. fluctuation: AR(1) e_t = 0.8·e_{t−1} + u_t with stationary std s = (5, 6, 1.5, 0.8,
       0.2) in the same units (u_t ~ N(0, s²·(1 − 0.8²)), e_0 ~ N(0, s²));
    5. deteriorating patients only: onset τ uniform on {⌊L/4⌋, …, ⌊3L/4⌋}, severity
       a ~ U(0.2, 1.0), and for t ≥ τ a linear drift a·(t − τ)/(L − τ) times
       (+10, −10, +3, −2, +0.5): tachycardia, hypotension, tachypnoea, desaturation, fever.

    x_t = μ + hospital offset + e_t + drift_t. Each channel is standardized with the training
    split's mean/std (over patients and time).
    """
    seed = check_seed("seed", seed)
    num_patients = check_positive_int("num_patients", num_patients)
    length = check_positive_int("length", length)
    num_hospitals = check_positive_int("num_hospitals", num_hospitals)
    positive_rate = check_open_unit("positive_rate", positive_rate)
    if length < 4:
        raise ValueError(f"length must be >= 4 time steps, got {length}")
    _check_size(num_patients=num_patients, length=length, num_hospitals=num_hospitals)
    rng = np.random.default_rng(seed)
    y = _exact_labels(rng, num_patients, positive_rate, "positive_rate")
    n = num_patients
    hospital = rng.integers(0, num_hospitals, size=n).astype(np.int32)
    mean = np.array([80.0, 120.0, 16.0, 97.0, 37.0])
    spread = np.array([10.0, 15.0, 3.0, 1.5, 0.4])
    baseline = rng.normal(mean, spread, size=(n, 5))
    baseline += np.outer(hospital, [2.0, 0.0, 0.0, 0.0, 0.1])
    stationary_std = np.array([5.0, 6.0, 1.5, 0.8, 0.2])
    phi = 0.8
    e = np.empty((n, length, 5))
    e[:, 0] = rng.normal(0.0, stationary_std, size=(n, 5))
    innovation = rng.normal(0.0, stationary_std * np.sqrt(1 - phi**2), size=(n, length, 5))
    for t in range(1, length):
        e[:, t] = phi * e[:, t - 1] + innovation[:, t]
    onset = rng.integers(length // 4, 3 * length // 4 + 1, size=n)
    severity = rng.uniform(0.2, 1.0, size=n)
    t = np.arange(length)
    ramp = np.clip((t[np.newaxis, :] - onset[:, np.newaxis]) / (length - onset[:, np.newaxis]),
                   0.0, None)
    ramp *= (severity * y)[:, np.newaxis]
    drift = ramp[:, :, np.newaxis] * np.array([10.0, -10.0, 3.0, -2.0, 0.5])
    x = baseline[:, np.newaxis, :] + e + drift
    train, test = stratified_split(y, test_fraction=test_fraction, seed=seed)
    scaler = fit_standardizer(x[train])
    return Dataset(
        scaler.transform(x[train]), y[train], scaler.transform(x[test]), y[test], num_classes=2,
        feature_names=VITAL_SIGNS, class_names=("stable", "deteriorates"),
        description=f"synthetic hourly vital signs, {length} h, {num_hospitals} hospitals "
                    f"(fldp_teach.synthetic.make_vital_signs, seed={seed})",
        group_train=hospital[train], group_test=hospital[test], group_name="hospital_id",
    )
