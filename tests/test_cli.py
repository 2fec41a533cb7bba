"""The real `fldp-teach privacy` command: main([...]) in process and `python -m` in a subprocess."""
import re
import subprocess
import sys

import pytest

from fldp_teach.accounting import calibrate_noise_multiplier, dp_sgd_epsilon
from fldp_teach.cli import main


def _numbers(text, key):
    return [float(m) for m in re.findall(rf"{key} = ([0-9.]+)", text)]


def test_privacy_reports_both_conversions_and_the_order(capsys):
    assert main(["privacy", "--sampling-rate", "0.004267", "--noise-multiplier", "1.1",
                 "--steps", "14063", "--delta", "1e-5"]) == 0
    out = capsys.readouterr().out
    improved, classic = _numbers(out, "epsilon")
    assert improved == pytest.approx(
        dp_sgd_epsilon(sampling_rate=0.004267, noise_multiplier=1.1, steps=14063, delta=1e-5), abs=1e-4)
    assert improved < classic
    assert "improved" in out and "classic" in out and "optimal order" in out


def test_batch_size_and_epochs_mean_q_b_over_n_and_ceil_steps(capsys):
    assert main(["privacy", "--batch-size", "256", "--num-examples", "60000", "--epochs", "60",
                 "--noise-multiplier", "1.1"]) == 0
    out = capsys.readouterr().out
    assert "steps T = 14063" in out
    assert _numbers(out, "epsilon")[0] == pytest.approx(
        dp_sgd_epsilon(sampling_rate=256 / 60000, noise_multiplier=1.1, steps=14063, delta=1e-5), abs=1e-4)


def test_target_epsilon_prints_the_calibrated_noise(capsys):
    assert main(["privacy", "--sampling-rate", "0.01", "--steps", "1000", "--target-epsilon", "2",
                 "--delta", "1e-6"]) == 0
    out = capsys.readouterr().out
    z = calibrate_noise_multiplier(target_epsilon=2.0, sampling_rate=0.01, steps=1000, delta=1e-6)
    assert _numbers(out, "noise multiplier z")[0] == pytest.approx(z, abs=1e-4)


@pytest.mark.parametrize("argv,needle", [
    (["privacy", "--sampling-rate", "1.5", "--noise-multiplier", "1", "--steps", "10"], "sampling_rate"),
    (["privacy", "--sampling-rate", "0.1", "--noise-multiplier", "-1", "--steps", "10"], "noise_multiplier"),
    (["privacy", "--sampling-rate", "0.1", "--noise-multiplier", "1", "--steps", "10", "--delta", "2"], "delta"),
    (["privacy", "--sampling-rate", "0.1", "--noise-multiplier", "1", "--steps", "-5"], "steps"),
    (["privacy", "--sampling-rate", "0.1", "--target-epsilon", "0", "--steps", "10"], "target_epsilon"),
    (["privacy", "--sampling-rate", "0.1", "--target-epsilon", "1e-4", "--steps", "10"], "cannot be reached"),
    (["privacy", "--noise-multiplier", "1", "--steps", "10"], "--sampling-rate"),
    (["privacy", "--sampling-rate", "0.1", "--noise-multiplier", "1"], "--steps"),
    (["privacy", "--sampling-rate", "0.1", "--steps", "10"], "--noise-multiplier"),
    (["privacy", "--batch-size", "300", "--num-examples", "100", "--noise-multiplier", "1", "--steps", "1"],
     "--batch-size"),
    (["privacy", "--sampling-rate", "0.1", "--noise-multiplier", "abc", "--steps", "10"], "noise-multiplier"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, needle):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err


def test_python_dash_m_runs_the_same_cli():
    ok = subprocess.run([sys.executable, "-m", "fldp_teach.cli", "privacy", "--sampling-rate", "0.01",
                         "--noise-multiplier", "1.0", "--steps", "100"], capture_output=True, text=True)
    assert ok.returncode == 0 and "epsilon = " in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "fldp_teach.cli", "privacy", "--sampling-rate", "-1",
                          "--noise-multiplier", "1.0", "--steps", "100"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "sampling_rate" in bad.stderr


# ------------------------------------------------------------ issue 9: no traceback, δ < 1/N
def test_the_reviews_overflow_case_now_calibrates(capsys):
    """v0.1: `privacy --sampling-rate 1e-4 --steps 1 --delta 1e-9 --target-epsilon 0.05` ended
    in an OverflowError traceback (log1p(-exp(-c)) overflowed inside the sampled-Gaussian sum)."""
    assert main(["privacy", "--sampling-rate", "1e-4", "--steps", "1", "--delta", "1e-9",
                 "--target-epsilon", "0.05"]) == 0
    z = _numbers(capsys.readouterr().out, "noise multiplier z")[0]
    assert dp_sgd_epsilon(sampling_rate=1e-4, noise_multiplier=z, steps=1, delta=1e-9) <= 0.05
    assert dp_sgd_epsilon(sampling_rate=1e-4, noise_multiplier=z * 0.99, steps=1, delta=1e-9) > 0.05


def test_delta_at_least_one_over_n_is_refused_unless_insisted(capsys):
    argv = ["privacy", "--batch-size", "10", "--num-examples", "1000", "--noise-multiplier", "1",
            "--steps", "10", "--delta", "1e-3"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "1/N" in err and "allow-large-delta" in err
    assert main(argv + ["--allow-large-delta"]) == 0
    with pytest.raises(SystemExit):  # without N, δ ≥ q already implies δ ≥ 1/N
        main(["privacy", "--sampling-rate", "0.01", "--noise-multiplier", "1", "--steps", "10", "--delta", "0.5"])


def test_sampling_without_replacement_prints_the_replace_one_bound(capsys):
    """The demo's fixed-m setting of the review (exactly 20 of 100, z = 1.8, 15 rounds): 11.6,
    dp-accounting's figure, not the Poisson 2.56."""
    assert main(["privacy", "--sampling", "without-replacement", "--batch-size", "20", "--num-examples", "100",
                 "--noise-multiplier", "1.8", "--steps", "15", "--delta", "1e-5"]) == 0
    out = capsys.readouterr().out
    assert _numbers(out, "epsilon")[0] == pytest.approx(11.5967, abs=1e-4) and "replace-one" in out


def test_no_input_ends_in_a_traceback():
    """Fuzz the privacy sub-command with hostile numbers: every run ends in exit code 0 or in a
    one-line usage error (SystemExit 2), never in another exception."""
    from hypothesis import given, settings, strategies as st

    numbers = st.sampled_from(["0", "-1", "1e-300", "1e300", "nan", "inf", "-inf", "1e-9", "0.5", "1",
                               "3", "1e5", "abc", ""])
    flags = st.sampled_from(["--sampling-rate", "--noise-multiplier", "--steps", "--delta", "--target-epsilon",
                             "--batch-size", "--num-examples", "--epochs"])

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(st.lists(st.tuples(flags, numbers), min_size=1, max_size=6), st.booleans())
    def run(pairs, wor):
        argv = ["privacy"] + [x for pair in pairs for x in pair] + (["--sampling", "without-replacement"] if wor else [])
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
        assert code in (0, 2), argv

    run()
