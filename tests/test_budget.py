"""Privacy budgets (issue 14): train_dp_sgd and simulate take ``max_epsilon`` and stop *before*
the step or round that would exceed it: ε after the last one ≤ budget < ε after one more."""
import functools
import math

import numpy as np
import pytest

from fldp_teach import accounting, models
from fldp_teach.dp_fedavg import central_epsilon, local_epsilon, record_level_epsilon
from fldp_teach.simulation import simulate
from fldp_teach.training import train_dp_sgd

RNG = np.random.default_rng(14)
X = RNG.normal(size=(40, 5)).astype(np.float32)
Y = RNG.integers(0, 3, 40).astype(np.int32)
Z, Q, DELTA = 1.0, 0.25, 1e-5  # batch 10 of 40: 4 steps per epoch


def _eps(steps):
    return accounting.dp_sgd_epsilon(sampling_rate=Q, noise_multiplier=Z, steps=steps, delta=DELTA)


def _train(max_epsilon, **kw):
    model = models.logistic_regression(5, num_classes=3, seed=0)
    args = dict(epochs=5, batch_size=10, learning_rate=0.1, clip_norm=1.0, noise_multiplier=Z, delta=DELTA,
                noise_seed=1, progress=False, max_epsilon=max_epsilon)
    return model, train_dp_sgd(model, X, Y, **(args | kw))


# ----------------------------------------------------------------------------- DP-SGD
@pytest.mark.parametrize("allowed", [1, 7, 13])
def test_dp_sgd_stops_exactly_before_the_step_that_would_exceed_the_budget(allowed):
    budget = (_eps(allowed) + _eps(allowed + 1)) / 2
    _, h = _train(budget)
    assert h.steps == allowed and h.planned_steps == 20
    assert h.epsilon[-1] == pytest.approx(_eps(allowed), rel=1e-9)
    assert h.epsilon[-1] <= budget < _eps(h.steps + 1)
    assert h.epsilon_remaining == pytest.approx(budget - _eps(allowed))
    assert h.stopped.startswith(f"privacy budget reached: stopped before step {allowed + 1} of 20")
    # the epoch cut short keeps its entry; the ledger holds exactly the steps that ran
    assert h.epochs == math.ceil(allowed / 4)
    assert sum(e.event.steps for e in h.ledger) == allowed
    assert [e.label for e in h.ledger] == [f"DP-SGD epoch {i}" for i in range(1, h.epochs + 1)]


def test_a_budget_equal_to_epsilon_after_t_steps_allows_exactly_t():
    _, h = _train(_eps(6))
    assert h.steps == 6 and h.epsilon[-1] <= _eps(6)


def test_a_budget_the_run_never_reaches_changes_nothing():
    (m1, h1), (m2, h2) = _train(None), _train(_eps(20) * 1.001)
    assert h2.stopped is None and h1.steps == h2.steps == 20 and h1.epsilon == h2.epsilon
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_budget_below_one_step_trains_nothing():
    model = models.logistic_regression(5, num_classes=3, seed=0)
    before = model.get_weights()
    h = train_dp_sgd(model, X, Y, epochs=2, batch_size=10, learning_rate=0.1, clip_norm=1.0,
                     noise_multiplier=Z, delta=DELTA, progress=False, max_epsilon=_eps(1) / 2)
    assert h.steps == 0 and h.epochs == 0 and h.epsilon_spent == 0.0 and "before step 1 of 8" in h.stopped
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_shuffled_batches_stop_at_an_epoch_boundary():
    def eps(epochs):
        return accounting.RdpAccountant().compose(
            accounting.ShuffledGaussian(Z, 10, 40, epochs)).epsilon(delta=DELTA)

    model = models.logistic_regression(5, num_classes=3, seed=0)
    h = train_dp_sgd(model, X, Y, epochs=5, batch_size=10, learning_rate=0.1, clip_norm=1.0,
                     noise_multiplier=Z, delta=DELTA, sampling="shuffle", progress=False,
                     max_epsilon=(eps(2) + eps(3)) / 2)
    assert h.steps == 8 and h.epochs == 2 and h.epsilon[-1] == pytest.approx(eps(2))
    assert "stopped before epoch 3" in h.stopped


def test_calibrated_target_and_budget_together():
    _, h = _train(2.0, noise_multiplier=None, target_epsilon=2.0, epochs=2)
    assert h.stopped is None and h.steps == 8 and h.epsilon[-1] <= 2.0


def test_the_progress_bar_and_the_log_say_the_budget_stopped_the_run(capsys, caplog):
    _train((_eps(3) + _eps(4)) / 2, progress=True)
    err = capsys.readouterr().err
    assert "stopped: ε budget" in err and "budget reached" in err
    assert "privacy budget reached" in caplog.text


@pytest.mark.parametrize("change, message", [
    (dict(max_epsilon=0.0), "max_epsilon must be > 0, got 0.0"),
    (dict(max_epsilon=-1.0), "max_epsilon must be > 0"),
    (dict(max_epsilon=float("nan")), "max_epsilon must be a number, got nan"),
    (dict(max_epsilon=[3.0]), "max_epsilon must be a real number"),
    (dict(max_epsilon=3.0, noise_multiplier=0.0), "max_epsilon=3 cannot be met"),
    (dict(max_epsilon=3.0, private=False), "max_epsilon=3 cannot be met: a non-private run"),
])
def test_bad_budgets_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        _train(**({"max_epsilon": None} | change))


# ----------------------------------------------------------------------------- simulate
def _federation(num_clients=6, size=15):
    rng = np.random.default_rng(3)
    clients = [(rng.normal(size=(size, 4)).astype(np.float32), rng.integers(0, 2, size).astype(np.int32))
               for _ in range(num_clients)]
    test = (rng.normal(size=(30, 4)).astype(np.float32), rng.integers(0, 2, 30).astype(np.int32))
    return clients, test


MODEL = functools.partial(models.logistic_regression, 4, seed=0)


def _simulate(mode, budget, **kw):
    clients, test = _federation()
    args = dict(rounds=12, mode=mode, noise_multiplier=1.0, clip_norm=1.0, batch_size=5, learning_rate=0.1,
                delta=DELTA, noise_seed=5, progress=False, max_epsilon=budget)
    return simulate(MODEL, clients, test, **(args | kw))


def _central(rounds, **kw):
    return central_epsilon(noise_multipliers=[1.0] * rounds, delta=DELTA, **kw)


@pytest.mark.parametrize("mode", ["central", "distributed"])
@pytest.mark.parametrize("sampler", [dict(sampling_rate=0.5), dict(clients_per_round=3)], ids=["poisson", "fixed-m"])
def test_user_level_modes_stop_exactly_before_the_round_that_would_exceed(mode, sampler):
    account = dict(sampling_rate=0.5) if "sampling_rate" in sampler else dict(clients_per_round=3, num_clients=6)
    allowed = 4
    budget = (_central(allowed, **account) + _central(allowed + 1, **account)) / 2
    h = _simulate(mode, budget, **sampler)
    assert len(h.records) == allowed
    eps = h.column("epsilon")
    np.testing.assert_allclose(eps, [_central(r, **account) for r in range(1, allowed + 1)], rtol=1e-9)
    assert eps[-1] <= budget < _central(allowed + 1, **account)
    assert h.stopped.startswith(f"privacy budget reached: stopped before round {allowed + 1} of 12")
    assert h.epsilon_remaining == pytest.approx(budget - eps[-1])
    assert h.records[-1]["epsilon_remaining"] == pytest.approx(budget - eps[-1])


def test_local_mode_stops_before_a_round_that_could_exceed_for_its_worst_client():
    budget = 11.0  # the worst client may join 4 rounds (10.7), not 5 (12.3)
    h = _simulate("local", budget, sampling_rate=0.5, noise_multiplier=2.0)
    assert h.stopped is not None and 0 < len(h.records) < 12
    joined = [[r for r, rec in enumerate(h.records) if k in rec["participant_ids"]] for k in range(6)]
    spent = local_epsilon(noise_multipliers=[2.0] * len(h.records), participations=joined, delta=DELTA)
    assert h.records[-1]["epsilon"] == pytest.approx(spent) and spent <= budget
    worst_next = local_epsilon(noise_multipliers=[2.0] * (len(h.records) + 1),
                               participations=[j + [len(h.records)] for j in joined], delta=DELTA)
    assert worst_next > budget


def test_dpsgd_mode_stops_exactly_before_the_round_that_would_exceed():
    def eps(rounds):
        return record_level_epsilon(noise_multipliers=[1.0] * rounds, participations=[list(range(rounds))] * 6,
                                    num_examples=[15] * 6, batch_size=5, local_epochs=1, delta=DELTA)

    budget = (eps(2) + eps(3)) / 2
    h = _simulate("dpsgd", budget)
    assert len(h.records) == 2 and h.records[-1]["epsilon"] == pytest.approx(eps(2))
    assert h.records[-1]["epsilon"] <= budget < eps(3)


def test_a_budget_that_is_never_reached_changes_nothing_in_a_simulation():
    a = _simulate("central", None, sampling_rate=0.5, rounds=3)
    b = _simulate("central", 1e6, sampling_rate=0.5, rounds=3)
    assert b.stopped is None and a.column("epsilon").tolist() == b.column("epsilon").tolist()
    for x, y in zip(a.final_weights, b.final_weights):
        np.testing.assert_array_equal(x, y)


def test_simulate_budget_errors_and_progress_bar(capsys):
    with pytest.raises(ValueError, match="max_epsilon=1 needs a DP mode"):
        _simulate("none", 1.0, noise_multiplier=0.0, clip_norm=math.inf)
    with pytest.raises(ValueError, match="max_epsilon must be > 0"):
        _simulate("central", -2.0)
    h = _simulate("central", (_central(1, sampling_rate=0.5) + _central(2, sampling_rate=0.5)) / 2,
                  sampling_rate=0.5, progress=True)
    assert len(h.records) == 1
    assert "stopped: ε budget" in capsys.readouterr().err


# ----------------------------------------------------------------------------- accountant
def test_epsilon_if_is_the_epsilon_after_composing_and_charges_nothing():
    acc = accounting.RdpAccountant().compose(accounting.SampledGaussian(1.1, 0.01, 100))
    event = accounting.SampledGaussian(1.1, 0.01, 1)
    predicted = acc.epsilon_if(event, delta=1e-5)
    assert len(acc.ledger) == 1 and acc.ledger[0].event.steps == 100
    assert predicted == acc.compose(event).epsilon(delta=1e-5)
    with pytest.raises(ValueError, match="replace-one neighbours"):
        acc.epsilon_if(accounting.SampledWithoutReplacementGaussian(1.0, 2, 10), delta=1e-5)


def test_merge_keeps_one_ledger_line_per_label_and_the_same_curve():
    merged, plain = accounting.RdpAccountant(), accounting.RdpAccountant()
    for label in ["epoch 1"] * 3 + ["epoch 2"] * 2:
        merged.compose(accounting.SampledGaussian(1.1, 0.01, 1), label=label, merge=True)
    plain.compose(accounting.SampledGaussian(1.1, 0.01, 3), label="epoch 1")
    plain.compose(accounting.SampledGaussian(1.1, 0.01, 2), label="epoch 2")
    assert merged.ledger == plain.ledger
    np.testing.assert_allclose(merged.rdp, plain.rdp, rtol=1e-12)
    merged.compose(accounting.SampledGaussian(2.0, 0.01, 1), label="epoch 2", merge=True)  # another z: a new line
    merged.compose(accounting.ShuffledGaussian(1.0, 10, 100, 1), label="s", merge=True)
    merged.compose(accounting.ShuffledGaussian(1.0, 10, 100, 2), label="s", merge=True)
    assert [e.label for e in merged.ledger] == ["epoch 1", "epoch 2", "epoch 2", "s"]
    assert merged.ledger[-1].event.epochs == 3


def test_an_accountant_rebuilt_from_its_ledger_reports_the_same_epsilon_to_the_last_bit():
    """A resumed run rebuilds its accountant from ledger.json; the step-by-step accountant merged
    30 one-step charges into one entry. ρ is a function of the ledger alone (count × one-step
    curve), so both report the same bits (the SIGKILL test found a last-bit difference when ρ
    was summed step by step). epsilon_if(merge=True) is the same arithmetic as compose."""
    live = accounting.RdpAccountant()
    for step in range(30):
        event = accounting.SampledGaussian(1.1, 0.1, 1)
        label = f"epoch {step // 10 + 1}"
        predicted = live.epsilon_if(event, delta=1e-5, label=label, merge=True)
        assert predicted == live.compose(event, label=label, merge=True).epsilon(delta=1e-5)
        rebuilt = accounting.RdpAccountant.from_json(live.to_json())
        assert rebuilt.ledger == live.ledger
        assert rebuilt.epsilon(delta=1e-5) == live.epsilon(delta=1e-5), step
        np.testing.assert_array_equal(rebuilt.rdp, live.rdp)
    assert [e.event.steps for e in live.ledger] == [10, 10, 10]
    # a ledger interrupted at any step and then continued gives the same bits too
    for cut in range(1, 30):
        resumed = accounting.RdpAccountant()
        for step in range(cut):
            resumed.compose(accounting.SampledGaussian(1.1, 0.1, 1), label=f"epoch {step // 10 + 1}", merge=True)
        resumed = accounting.RdpAccountant.from_json(resumed.to_json())
        for step in range(cut, 30):
            resumed.compose(accounting.SampledGaussian(1.1, 0.1, 1), label=f"epoch {step // 10 + 1}", merge=True)
        assert resumed.epsilon(delta=1e-5) == live.epsilon(delta=1e-5), cut


# ----------------------------------------------------------------------------- CLI and widget
def test_cli_privacy_prints_the_remaining_budget_and_the_steps_that_fit(capsys):
    from fldp_teach.cli import main

    assert main(["privacy", "--sampling-rate", "0.01", "--noise-multiplier", "1.1", "--steps", "1000",
                 "--max-epsilon", "2"]) == 0
    out = capsys.readouterr().out
    spent = accounting.dp_sgd_epsilon(sampling_rate=0.01, noise_multiplier=1.1, steps=1000, delta=1e-5)
    assert f"remaining {2 - spent:.4f}" in out
    fit = int(out.split("steps within the budget: ")[1].split()[0])
    assert accounting.dp_sgd_epsilon(sampling_rate=0.01, noise_multiplier=1.1, steps=fit, delta=1e-5) <= 2
    assert accounting.dp_sgd_epsilon(sampling_rate=0.01, noise_multiplier=1.1, steps=fit + 1, delta=1e-5) > 2
    with pytest.raises(SystemExit):
        main(["privacy", "--sampling-rate", "0.01", "--target-epsilon", "1", "--steps", "10", "--max-epsilon", "2"])
    with pytest.raises(SystemExit):
        main(["privacy", "--sampling-rate", "0.01", "--noise-multiplier", "1", "--steps", "10", "--max-epsilon", "-2"])


@pytest.mark.parametrize("argv, unit", [
    (["train", "dpsgd", "--epochs", "3", "--limit", "120", "--max-epsilon", "4"], "steps"),
    (["train", "fedavg", "--mode", "central", "--clients", "10", "--rounds", "6", "--limit", "120",
      "--noise-multiplier", "2", "--max-epsilon", "3"], "rounds"),
])
def test_cli_train_prints_epsilon_and_what_is_left_and_stops_at_the_budget(capsys, argv, unit):
    from fldp_teach.cli import main

    assert main(argv + ["--noise-seed", "3"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "left)" in line]
    assert lines and all("(of " in line for line in lines)
    assert "privacy budget reached" in out and f"done: " in out and unit in out.splitlines()[-1]
    remaining = [float(line.split(": ")[-1].split()[0]) for line in lines]
    assert all(r >= 0 for r in remaining)


def test_widget_prints_the_budget_left(capsys):
    from fldp_teach.data import load_breast_cancer
    from fldp_teach.widgets.private_training import dp_sgd_trainer

    box = dp_sgd_trainer(load_breast_cancer(seed=0), epochs=2, seed=0, max_epsilon=1.0)
    capsys.readouterr()
    box.children[1].children[0].click()
    text = capsys.readouterr().out
    assert "budget left = " in text and "privacy budget reached" in text
