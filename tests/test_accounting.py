"""Events, the RDP accountant, DP-SGD ε, calibration, composition theorems (fldp_teach.accounting)."""
import json
import math
import os

import numpy as np
import pytest

from fldp_teach.accounting import (
    DEFAULT_ORDERS,
    Gaussian,
    Laplace,
    RdpAccountant,
    SampledGaussian,
    ShuffledGaussian,
    advanced_composition,
    calibrate_noise_multiplier,
    dp_sgd_epsilon,
    epsilon_from_rdp,
    event_rdp,
    naive_composition,
    poisson_equivalent,
    rdp_gaussian,
    rdp_sampled_gaussian,
)

TF_PRIVACY_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


@pytest.mark.parametrize(
    "z,epochs,published", [(1.1, 60, 3.01), (1.3, 15, 1.19), (0.7, 45, 7.10)]
)
def test_reproduces_tf_privacy_tutorial_figures(z, epochs, published):
    """TF Privacy's MNIST tutorial: N = 60000, batch 256, δ = 1e-5, classic conversion."""
    steps = math.ceil(epochs * 60000 / 256)
    acc = RdpAccountant(orders=TF_PRIVACY_ORDERS).compose(
        SampledGaussian(noise_multiplier=z, sampling_rate=256 / 60000, steps=steps))
    classic = acc.epsilon(delta=1e-5, conversion="classic")
    assert round(classic, 2) == published
    improved = acc.epsilon(delta=1e-5)
    assert improved < classic
    # the default orders and the improved conversion: smaller still, and what dp_sgd_epsilon says
    ours = dp_sgd_epsilon(sampling_rate=256 / 60000, noise_multiplier=z, steps=steps, delta=1e-5)
    assert ours <= improved + 1e-12
    assert ours == pytest.approx(RdpAccountant().compose(
        SampledGaussian(noise_multiplier=z, sampling_rate=256 / 60000, steps=steps)).epsilon(delta=1e-5))


def test_improved_conversion_values():
    # z = 1.1, 60 epochs: improved-conversion ε on the TF Privacy orders and on ours
    steps = math.ceil(60 * 60000 / 256)
    rdp = steps * rdp_sampled_gaussian(sampling_rate=256 / 60000, noise_multiplier=1.1,
                                       orders=TF_PRIVACY_ORDERS)
    assert round(epsilon_from_rdp(orders=TF_PRIVACY_ORDERS, rdp=rdp, delta=1e-5), 2) == 2.60
    assert round(dp_sgd_epsilon(sampling_rate=256 / 60000, noise_multiplier=1.1, steps=steps,
                                delta=1e-5), 2) == 2.60


def test_dp_sgd_epsilon_equals_dp_accounting_rdp_on_integer_orders():
    from dp_accounting import dp_event
    from dp_accounting.rdp import RdpAccountant as RefAccountant

    orders = list(range(2, 65)) + [128, 256]
    for q, z, steps in [(0.01, 1.0, 10000), (0.001, 0.7, 500)]:
        ref = RefAccountant(orders=orders)
        ref.compose(dp_event.SelfComposedDpEvent(
            dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(z)), steps))
        ours = RdpAccountant(orders=orders).compose(SampledGaussian(noise_multiplier=z, sampling_rate=q,
                                                                     steps=steps))
        np.testing.assert_allclose(ours.rdp, ref._rdp, rtol=1e-8)
        assert ours.epsilon(delta=1e-5) == pytest.approx(ref.get_epsilon(1e-5), rel=1e-8)


GRID = [(q, z, steps) for q, z in [(1e-3, 2.0), (0.01, 0.8), (0.1, 0.8), (0.1, 2.0), (1.0, 5.0)]
        for steps in [1, 1000, 100_000]]


@pytest.mark.parametrize("q,z,steps", GRID)
def test_never_below_dp_accounting_pld(q, z, steps):
    """The PLD accountant's pessimistic estimate is an upper bound on the true ε that is much
    tighter than any RDP bound; an exact RDP accountant must never report less. Its
    discretization must be fine next to ε (rounding the loss up by up to the interval at every
    step inflates ε), hence 1e-4 below ε = 10 (converged: see the next test)."""
    from dp_accounting import dp_event
    from dp_accounting.pld import PLDAccountant

    rough = dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=steps, delta=1e-3)
    pld = PLDAccountant(value_discretization_interval=1e-4 if rough < 10 else 1e-3)
    pld.compose(dp_event.SelfComposedDpEvent(
        dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(z)), steps))
    for delta in [1e-3, 1e-6, 1e-9]:
        ours = dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=steps, delta=delta)
        assert ours >= pld.get_epsilon(delta), (delta, ours)


def test_pld_reference_is_converged():
    """The PLD comparison is valid: 5× finer discretization moves ε by < 1% (the hardest case
    of the grid: small q, many steps, small ε; at interval 1e-3 it is 30% too large there)."""
    from dp_accounting import dp_event
    from dp_accounting.pld import PLDAccountant

    event = dp_event.SelfComposedDpEvent(
        dp_event.PoissonSampledDpEvent(1e-3, dp_event.GaussianDpEvent(2.0)), 100_000)
    coarse, fine = PLDAccountant(value_discretization_interval=1e-4), PLDAccountant(
        value_discretization_interval=2e-5)
    coarse.compose(event)
    fine.compose(event)
    for delta in [1e-3, 1e-9]:
        assert fine.get_epsilon(delta) <= coarse.get_epsilon(delta) <= 1.01 * fine.get_epsilon(delta)


def test_steps_zero_and_sampling_zero_cost_nothing():
    assert dp_sgd_epsilon(sampling_rate=0.01, noise_multiplier=1.0, steps=0, delta=1e-5) == 0.0
    assert dp_sgd_epsilon(sampling_rate=0.0, noise_multiplier=1.0, steps=10, delta=1e-5) == 0.0
    assert np.all(RdpAccountant().compose(SampledGaussian(noise_multiplier=1.0, sampling_rate=0.1,
                                                          steps=0)).rdp == 0)


def test_no_noise_is_infinite_epsilon():
    assert math.isinf(dp_sgd_epsilon(sampling_rate=0.01, noise_multiplier=0.0, steps=1, delta=1e-5))


@pytest.mark.parametrize("target,q,steps,delta", [(3.0, 0.01, 10000, 1e-5), (0.5, 256 / 60000, 14063, 1e-5),
                                                  (8.0, 0.1, 100, 1e-6), (1.0, 1.0, 1, 1e-5),
                                                  (2000.0, 0.1, 10000, 1e-5)])
def test_calibration_is_the_smallest_noise_within_1e3(target, q, steps, delta):
    z = calibrate_noise_multiplier(target_epsilon=target, sampling_rate=q, steps=steps, delta=delta)
    assert dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=steps, delta=delta) <= target
    assert dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z * (1 - 1e-3), steps=steps,
                          delta=delta) > target


def test_calibration_unreachable_target_is_a_clear_error():
    with pytest.raises(ValueError, match="target_epsilon=0.001 cannot be reached"):
        calibrate_noise_multiplier(target_epsilon=0.001, sampling_rate=0.01, steps=100, delta=1e-5)


def test_event_cost_is_steps_times_one_step():
    one = event_rdp(SampledGaussian(noise_multiplier=1.0, sampling_rate=0.02))
    np.testing.assert_allclose(event_rdp(SampledGaussian(noise_multiplier=1.0, sampling_rate=0.02,
                                                         steps=777)), 777 * one)
    np.testing.assert_allclose(event_rdp(Gaussian(noise_multiplier=2.0, steps=3)),
                               3 * DEFAULT_ORDERS / 8)


def test_phases_add_up_in_the_ledger():
    """Adjusting the noise during training (article §3.2 step 7): phases add their RDP."""
    a, b = (SampledGaussian(noise_multiplier=1.5, sampling_rate=0.01, steps=2000),
            SampledGaussian(noise_multiplier=0.9, sampling_rate=0.01, steps=500))
    acc = RdpAccountant().compose(a, label="warm-up").compose(b, label="fine-tune")
    assert [e.label for e in acc.ledger] == ["warm-up", "fine-tune"]
    assert [e.event for e in acc.ledger] == [a, b]
    np.testing.assert_allclose(acc.rdp, event_rdp(a) + event_rdp(b))
    one_phase = RdpAccountant().compose(a)
    assert one_phase.epsilon(delta=1e-5) < acc.epsilon(delta=1e-5)


def test_shuffled_batches_are_charged_without_amplification():
    event = ShuffledGaussian(noise_multiplier=1.1, batch_size=256, num_examples=60000, epochs=60)
    acc = RdpAccountant().compose(event)
    np.testing.assert_allclose(acc.rdp, rdp_gaussian(noise_multiplier=1.1, orders=DEFAULT_ORDERS) * 60)
    poisson = poisson_equivalent(event)
    assert poisson == SampledGaussian(noise_multiplier=1.1, sampling_rate=256 / 60000, steps=14063)
    eps_poisson = RdpAccountant().compose(poisson).epsilon(delta=1e-5)
    # the sound charge is much larger than the (unsound for shuffling) Poisson number
    assert acc.epsilon(delta=1e-5) > 5 * eps_poisson


def test_laplace_event_converges_to_pure_dp():
    acc = RdpAccountant(orders=np.append(DEFAULT_ORDERS, np.inf)).compose(
        Laplace(scale=10.0, l1_sensitivity=1.0, steps=5))
    assert acc.epsilon(delta=1e-12) <= 0.5 + 1e-12  # never worse than 5 × (1/10) pure DP


def test_json_round_trip_and_atomic_save(tmp_path):
    acc = (RdpAccountant()
           .compose(SampledGaussian(noise_multiplier=1.1, sampling_rate=0.01, steps=100), label="a")
           .compose(Gaussian(noise_multiplier=5.0), label=None)
           .compose(Laplace(scale=3.0, l1_sensitivity=1.0, steps=2), label="counts")
           .compose(ShuffledGaussian(noise_multiplier=2.0, batch_size=10, num_examples=100, epochs=3)))
    again = RdpAccountant.from_json(acc.to_json())
    assert again.ledger == acc.ledger
    np.testing.assert_array_equal(again.rdp, acc.rdp)
    path = tmp_path / "ledger.json"
    path.write_text("old ledger")
    acc.save(path)
    assert RdpAccountant.load(path).epsilon(delta=1e-5) == acc.epsilon(delta=1e-5)
    assert json.loads(path.read_text())["ledger"][0]["label"] == "a"
    assert os.listdir(tmp_path) == ["ledger.json"]  # no temporary file left behind

    class Boom(Exception):
        pass

    def fail():
        raise Boom

    acc.to_json = fail  # a crash while writing must leave the old file intact
    before = path.read_text()
    with pytest.raises(Boom):
        acc.save(path)
    assert path.read_text() == before and os.listdir(tmp_path) == ["ledger.json"]


def test_naive_and_advanced_composition_by_hand():
    assert naive_composition(epsilon=0.1, delta=1e-6, steps=100) == pytest.approx((10.0, 1e-4))
    e, d = advanced_composition(epsilon=0.1, delta=1e-6, steps=100, delta_prime=1e-5)
    assert e == pytest.approx(0.1 * math.sqrt(200 * math.log(1e5)) + 100 * 0.1 * math.expm1(0.1))
    assert d == pytest.approx(100 * 1e-6 + 1e-5)
    assert e < 10.0  # advanced beats naive for many small steps


BAD = [
    (dp_sgd_epsilon, dict(sampling_rate=-0.1, noise_multiplier=1.0, steps=10, delta=1e-5), "sampling_rate"),
    (dp_sgd_epsilon, dict(sampling_rate=0.1, noise_multiplier=-1.0, steps=10, delta=1e-5), "noise_multiplier"),
    (dp_sgd_epsilon, dict(sampling_rate=0.1, noise_multiplier=float("nan"), steps=10, delta=1e-5), "noise_multiplier"),
    (dp_sgd_epsilon, dict(sampling_rate=0.1, noise_multiplier=1.0, steps=-1, delta=1e-5), "steps"),
    (dp_sgd_epsilon, dict(sampling_rate=0.1, noise_multiplier=1.0, steps=2.5, delta=1e-5), "steps"),
    (dp_sgd_epsilon, dict(sampling_rate=0.1, noise_multiplier=1.0, steps=10, delta=1.5), "delta"),
    (dp_sgd_epsilon, dict(sampling_rate=0.1, noise_multiplier=1.0, steps=10, delta=float("nan")), "delta"),
    (calibrate_noise_multiplier, dict(target_epsilon=0.0, sampling_rate=0.1, steps=10, delta=1e-5), "target_epsilon"),
    (calibrate_noise_multiplier, dict(target_epsilon=-1.0, sampling_rate=0.1, steps=10, delta=1e-5), "target_epsilon"),
    (calibrate_noise_multiplier, dict(target_epsilon=1.0, sampling_rate=0.1, steps=10, delta=0.0), "delta"),
    (SampledGaussian, dict(noise_multiplier=1.0, sampling_rate=2.0), "sampling_rate"),
    (SampledGaussian, dict(noise_multiplier=-1.0, sampling_rate=0.5), "noise_multiplier"),
    (Gaussian, dict(noise_multiplier=1.0, steps=-3), "steps"),
    (Laplace, dict(scale=0.0), "scale"),
    (ShuffledGaussian, dict(noise_multiplier=1.0, batch_size=0, num_examples=10), "batch_size"),
    (ShuffledGaussian, dict(noise_multiplier=1.0, batch_size=20, num_examples=10), "batch_size"),
    (RdpAccountant, dict(orders=[]), "orders"),
    (RdpAccountant, dict(orders=[1.0, 2.0]), "orders"),
    (naive_composition, dict(epsilon=0.0, delta=0.0, steps=1), "epsilon"),
    (advanced_composition, dict(epsilon=0.1, delta=0.0, steps=1, delta_prime=0.0), "delta_prime"),
]


@pytest.mark.parametrize("fn,kwargs,name", BAD, ids=[f"{f.__name__}-{n}-{i}" for i, (f, _, n) in enumerate(BAD)])
def test_bad_parameters_raise_value_error_naming_them(fn, kwargs, name):
    with pytest.raises(ValueError, match=name):
        fn(**kwargs)


def test_accountant_bad_delta_and_bad_event():
    acc = RdpAccountant()
    with pytest.raises(ValueError, match="delta"):
        acc.epsilon(delta=0.0)
    with pytest.raises(ValueError, match="event"):
        acc.compose("a string is not an event")
    assert acc.ledger == []  # a refused event leaves no trace


def test_import_does_not_pull_tensorflow():
    import subprocess
    import sys

    code = "import sys, fldp_teach.accounting, fldp_teach.rdp, fldp_teach.cli; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_events_store_plain_numbers_so_numpy_inputs_serialise():
    event = SampledGaussian(noise_multiplier=np.float32(1.5), sampling_rate=np.float64(0.01),
                            steps=np.int64(10))
    assert type(event.noise_multiplier) is float and type(event.steps) is int
    assert event == SampledGaussian(noise_multiplier=1.5, sampling_rate=0.01, steps=10)
    again = RdpAccountant.from_json(RdpAccountant().compose(event).to_json())
    assert again.ledger[0].event == event


def test_module_docstring_example_runs():
    import doctest

    import fldp_teach.accounting as module

    result = doctest.testmod(module)
    assert result.attempted >= 3 and result.failed == 0
