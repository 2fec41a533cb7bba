"""Checkers for the exercises of notebook 06 (DP-SGD): the clipped sum, and the noise on the
averaged gradient at a fixed ε.

Each checker tries inputs the notebook never shows, prints "Correct." or a hint and returns a
:class:`~fldp_teach.exercises.Verdict`. An answer that calls ``fldp_teach`` is refused, except
the accountant where the exercise asks for it (:func:`fldp_teach.exercises.exercise`).
"""
from __future__ import annotations

import math

import numpy as np

from fldp_teach.accounting import calibrate_noise_multiplier
from fldp_teach.clipping import clip_per_example
from fldp_teach.exercises import as_number, call_safely, exercise, report

__all__ = ["check_clipped_sum", "check_noise_on_average", "check_private_keras_model"]


@exercise()
def check_clipped_sum(my_clipped_sum) -> bool:
    """``my_clipped_sum(per_example_gradients, clip_norm)`` ([B, d] numpy array) must return
    Σ_i g_i·min(1, C/‖g_i‖) (Abadi et al. 2016, Alg. 1: clip each example, then sum)."""
    rng = np.random.default_rng(5)
    cases = [(rng.standard_normal((8, 5)) * rng.uniform(0.1, 3, (8, 1)), 1.0),
             (np.vstack([np.zeros((1, 3)), rng.standard_normal((4, 3))]), 0.5),
             (rng.standard_normal((16, 2)) * 0.01, 10.0)]
    for grads, clip in cases:
        got, err = call_safely(my_clipped_sum, grads.copy(), clip)
        if err is not None:
            return report(False, success="", hint=f"my_clipped_sum raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_clipped_sum returns nothing yet: clip each row, then sum.")
        try:
            value = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return report(False, success="", hint=f"return a vector, got {got!r}.")
        clipped, _ = clip_per_example(grads, clip_norm=clip)
        want = clipped.sum(axis=0)
        if value.shape != want.shape:
            return report(False, success="", hint=f"return one vector of shape {want.shape} (the sum over examples), "
                                                  f"got shape {value.shape}.")
        if not np.allclose(value, want, rtol=1e-9, atol=1e-12):
            hint = "the clipped sum does not match."
            total = grads.sum(axis=0)
            total_clipped = total * min(1.0, clip / max(np.linalg.norm(total), 1e-300))
            if np.allclose(value, total_clipped):
                hint += " You clipped the SUM; clip each example's gradient first (that bounds one person's influence)."
            elif np.allclose(value, want / len(grads)):
                hint += " You returned the mean; DP-SGD sums, adds noise, and only then divides by the lot size."
            elif np.any(~np.isfinite(value)):
                hint += " NaN/inf: a zero gradient has norm 0; min(1, C/0) must be 1 (use np.maximum on the norm)."
            return report(False, success="", hint=hint)
    return report(True, success="clip each example to norm ≤ C, then sum: one example moves the sum by at most C.",
                  hint="")


def noise_on_average(*, num_examples, epochs, target_epsilon, lot_size, clip_norm, delta) -> float:
    """zC/B: the per-coordinate standard deviation of the noise on DP-SGD's averaged gradient
    (Abadi et al. 2016, Alg. 1: N(0, z²C²) on the clipped sum, divided by the expected lot size
    qN = B), with z calibrated so that epochs·⌈N/B⌉ Poisson steps at q = B/N cost
    ``target_epsilon`` at ``delta`` (:func:`fldp_teach.accounting.calibrate_noise_multiplier`)."""
    steps = epochs * math.ceil(num_examples / lot_size)
    z = calibrate_noise_multiplier(target_epsilon=target_epsilon, sampling_rate=lot_size / num_examples,
                                   steps=steps, delta=delta)
    return z * clip_norm / lot_size


@exercise(allowed=("calibrate_noise_multiplier",))
def check_noise_on_average(my_noise_on_average) -> bool:
    """``my_noise_on_average(num_examples, epochs, target_epsilon, lot_size, clip_norm, delta)``
    must return :func:`noise_on_average` on budgets and data sizes the notebook never uses."""
    cases = ((2000, 3, 2.0, 50, 0.5, 1e-5), (60_000, 1, 1.0, 600, 1.0, 1e-6), (333, 4, 8.0, 40, 2.0, 1e-3))
    for n, epochs, eps, b, clip, delta in cases:
        call = f"my_noise_on_average({n}, {epochs}, {eps}, {b}, {clip}, {delta})"
        got, err = call_safely(my_noise_on_average, n, epochs, eps, b, clip, delta)
        if err is not None:
            return report(False, success="", hint=f"{call} raised {err!r}.")
        if got is None or got is Ellipsis:
            return report(False, success="", hint="my_noise_on_average returns nothing yet: calibrate z, then z·C/B.")
        value = as_number(got)
        if value is None:
            return report(False, success="", hint=f"return a number, got {got!r}.")
        want = noise_on_average(num_examples=n, epochs=epochs, target_epsilon=eps, lot_size=b, clip_norm=clip,
                                delta=delta)
        if not math.isclose(value, want, rel_tol=1e-3):
            hint = f"{call} returned {value:.5g}, expected {want:.5g}."
            z = want * b / clip
            if math.isclose(value, z * clip, rel_tol=1e-3):
                hint += " That is the noise on the SUM (zC); the step divides the sum by the expected lot size B."
            elif math.isclose(value, z / b, rel_tol=1e-3):
                hint += " Where is C? The noise has standard deviation z·C."
            elif math.isclose(value, z, rel_tol=1e-3):
                hint += " That is z itself: the noise on the averaged gradient is z·C/B."
            else:
                wrong_steps = calibrate_noise_multiplier(target_epsilon=eps, sampling_rate=b / n, steps=epochs,
                                                         delta=delta) * clip / b
                if math.isclose(value, wrong_steps, rel_tol=1e-3):
                    hint += " steps = epochs × ⌈N/B⌉, not the number of epochs."
            return report(False, success="", hint=hint)
    return report(True, success="at a fixed ε, z grows more slowly than B: larger lots give quieter steps "
                                "(and fewer of them).", hint="")


#: Exercise 3 of notebook 06: a private Keras model on the 8×8 digits, ε ≤ 3 at δ = 10⁻⁵.
KERAS_TARGET_EPSILON, KERAS_DELTA, KERAS_TARGET_ACCURACY = 3.0, 1e-5, 0.90


@exercise(allowed=("make_private", "PrivacyCallback", "poisson_dataset", "calibrate_noise_multiplier",
                   "dp_sgd_epsilon", "logistic_regression", "mlp", "small_cnn", "mcmahan_cnn"))
def check_private_keras_model(my_private_model) -> bool:
    """``my_private_model(x_train, y_train)`` must return a fitted ``fldp_teach.keras.PrivateModel``
    trained on exactly these examples, whose ε — recomputed here from its own sampling rate,
    noise multiplier and step count with the RDP accountant (Mironov, Talwar & Zhang 2019) —
    is at most 3 at δ = 10⁻⁵, and whose accuracy on the digits' held-out test split (which the
    student's function never sees) is at least 0.90."""
    from fldp_teach.accounting import dp_sgd_epsilon
    from fldp_teach.datasets import load_digits
    from fldp_teach.keras import PrivateModel

    data = load_digits(seed=0, as_images=False)
    got, err = call_safely(my_private_model, data.x_train.copy(), data.y_train.copy())
    if err is not None:
        return report(False, success="", hint=f"my_private_model raised {err!r}.")
    if got is None or got is Ellipsis:
        return report(False, success="", hint="my_private_model returns nothing yet: build a Keras model, "
                                              "make_private(...), compile, fit, and return the private model.")
    if not isinstance(got, PrivateModel):
        return report(False, success="", hint=f"return the PrivateModel that make_private gave you (after fit), "
                                              f"got {type(got).__name__}.")
    if got.num_examples != len(data.y_train):
        return report(False, success="", hint=f"make_private was told num_examples = {got.num_examples}, but the "
                                              f"training set has {len(data.y_train)}: q = B/N must be the real one.")
    if got.steps == 0:
        return report(False, success="", hint="the model has not been trained yet: call fit before returning it.")
    if got.noise_multiplier <= 0:
        return report(False, success="", hint="noise_multiplier = 0 adds no noise: ε is infinite.")
    eps = dp_sgd_epsilon(sampling_rate=got.sampling_rate, noise_multiplier=got.noise_multiplier, steps=got.steps,
                         delta=KERAS_DELTA)
    if eps > KERAS_TARGET_EPSILON + 1e-9:
        return report(False, success="", hint=(
            f"{got.steps} steps at q = {got.sampling_rate:.4f} and z = {got.noise_multiplier:.3f} spend "
            f"ε = {eps:.3f} > {KERAS_TARGET_EPSILON:g}: raise z (calibrate_noise_multiplier), train fewer "
            f"steps, or stop in time with PrivacyCallback(delta=1e-5, target_epsilon=3)."))
    predictions = np.argmax(got.predict(data.x_test, verbose=0), axis=-1)
    accuracy = float(np.mean(predictions == data.y_test))
    if accuracy < KERAS_TARGET_ACCURACY:
        return report(False, success="", hint=(
            f"test accuracy {accuracy:.3f} < {KERAS_TARGET_ACCURACY:.2f} at ε = {eps:.3f}. Try larger lots "
            f"(B = 128: fewer, quieter steps at the same ε), a hidden layer, a larger learning rate, or "
            f"more epochs with z re-calibrated for them."))
    return report(True, success=f"ε = {eps:.3f} ≤ 3 at δ = 10⁻⁵ (recomputed from your run) and test accuracy "
                                f"{accuracy:.3f} on digits your function never saw.", hint="")
