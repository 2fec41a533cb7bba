"""scripts/tfp_check/tfp_check.py without TF 2.15: finding a Python, the skip, the venv stamp,
parsing TF Privacy's statement and its side's output, the grid's step counts."""
import importlib.util
import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("tfp_check", ROOT / "scripts" / "tfp_check" / "tfp_check.py")
tfp_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tfp_check)

# compute_dp_sgd_privacy_statement(60000, 256, 60, 1.1, 1e-5, used_microbatching=False),
# TF Privacy 0.9.0, as printed by `make tfp-check`
STATEMENT = """\
DP-SGD performed over 60000 examples with 256 examples per iteration, noise
multiplier 1.1 for 60 epochs without microbatching, and no bound on number of
examples per user.

This privacy guarantee protects the release of all model checkpoints in addition
to the final model.

Example-level DP with add-or-remove-one adjacency at delta = 1e-05 computed with
RDP accounting:
    Epsilon with each example occurring once per epoch:        56.950
    Epsilon assuming Poisson sampling (*):                      2.597

No user-level privacy guarantee is possible without a bound on the number of
examples per user.

(*) Poisson sampling is not usually done in training pipelines, but assuming
that the data was randomly shuffled, it is believed that the actual epsilon
should be closer to this value than the conservative assumption of an arbitrary
data order.
"""


def test_parse_statement_reads_the_example_level_epsilons():
    assert tfp_check.parse_statement(STATEMENT) == {"once_per_epoch": 56.95, "poisson": 2.597}


def test_parse_statement_reads_inf_and_ignores_the_user_level_block():
    user_level = STATEMENT.replace("No user-level privacy guarantee is possible without a bound "
                                   "on the number of\nexamples per user.",
                                   "User-level DP with add-or-remove-one adjacency at delta = "
                                   "1e-05 computed using RDP accounting and group privacy:\n"
                                   "    Epsilon with each example occurring once per epoch:  "
                                   "    inf (**)\n    Epsilon assuming Poisson sampling (*):  "
                                   "             99.000")
    assert tfp_check.parse_statement(user_level) == {"once_per_epoch": 56.95, "poisson": 2.597}
    infinite = STATEMENT.replace("56.950", "inf")
    assert math.isinf(tfp_check.parse_statement(infinite)["once_per_epoch"])


@pytest.mark.parametrize("text", ["", "DP-SGD performed over 10 examples", None])
def test_parse_statement_refuses_text_without_epsilons(text):
    with pytest.raises(ValueError, match="no example-level epsilon"):
        tfp_check.parse_statement(text)


def test_parse_side_output_takes_the_last_result_line():
    stdout = "\n".join(["tfp timing mlp: plain 1.00 ms", "TFP_RESULT " + json.dumps({"a": 1}),
                        "noise", "TFP_RESULT " + json.dumps({"a": 2, "notes": []})])
    assert tfp_check.parse_side_output(stdout) == {"a": 2, "notes": []}
    with pytest.raises(ValueError, match="no TFP_RESULT"):
        tfp_check.parse_side_output("Traceback (most recent call last):\n  ...")


@pytest.mark.parametrize("text, version", [("3.11\n", (3, 11)), ("3.9", (3, 9)),
                                           ("Python 3.11", None), ("", None), (None, None)])
def test_parse_version(text, version):
    assert tfp_check.parse_version(text) == version


def test_find_python_takes_the_first_supported_one():
    where = {"python3.11": None, "python3.10": "/usr/bin/python3.10", "python3.9": "/p/3.9"}
    versions = {"/usr/bin/python3.10": (3, 10), "/p/3.9": (3, 9)}
    found = tfp_check.find_python(environ={}, which=where.get, version_of=versions.get)
    assert found == ("/usr/bin/python3.10", (3, 10))


def test_find_python_skips_shims_that_do_not_run_and_wrong_versions():
    where = {"python3.11": "/shim/python3.11", "python3.10": "/x/python3.10", "python3.9": None}
    versions = {"/shim/python3.11": None, "/x/python3.10": (3, 12)}
    path, why = tfp_check.find_python(environ={}, which=where.get, version_of=versions.get)
    assert path is None
    assert "python3.11: does not run" in why and "python3.10: is 3.12" in why
    assert "python3.9: not found" in why


def test_tfp_python_overrides_the_search():
    where = {"/opt/py39/bin/python": "/opt/py39/bin/python", "python3.11": "/usr/bin/python3.11"}
    versions = {"/opt/py39/bin/python": (3, 9), "/usr/bin/python3.11": (3, 11)}
    found = tfp_check.find_python(environ={"TFP_PYTHON": "/opt/py39/bin/python"},
                                  which=where.get, version_of=versions.get)
    assert found == ("/opt/py39/bin/python", (3, 9))


def test_main_skips_with_exit_0_when_no_python_is_found(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(tfp_check, "find_python", lambda: (None, "python3.11: not found"))
    monkeypatch.setattr(tfp_check, "ensure_venv", lambda *a, **k: pytest.fail("must not install"))
    assert tfp_check.main(["--out", str(tmp_path / "out"), "--venv", str(tmp_path / "v")]) == 0
    out = capsys.readouterr().out
    assert "tfp-check: skipped: no Python 3.9-3.11 found" in out and "python3.11: not found" in out
    assert not (tmp_path / "out").exists() and not (tmp_path / "v").exists()


def test_python_version_of_a_missing_executable_is_none(tmp_path):
    assert tfp_check.python_version(str(tmp_path / "no-such-python")) is None


def test_venv_stamp_decides_whether_to_install(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tensorflow==2.15.*\ntensorflow-privacy==0.9.0\n")
    venv = tmp_path / "venv"
    calls = []

    def fake_run(command, check):
        calls.append(command)
        if command[1:3] == ["-m", "venv"]:
            (venv / "bin").mkdir(parents=True)
            (venv / "bin" / "python").write_text("")

    tfp_check.ensure_venv("/usr/bin/python3.11", venv, requirements=requirements, run=fake_run)
    assert calls[0] == ["/usr/bin/python3.11", "-m", "venv", str(venv)]
    assert calls[-1][-2:] == ["-r", str(requirements)] and calls[-1][:3] == ["nice", "-n", "10"]
    assert (venv / ".gitignore").read_text() == "*\n"  # the venv never shows in git status
    assert tfp_check.venv_is_ready(venv, requirements=requirements)
    calls.clear()
    tfp_check.ensure_venv("/usr/bin/python3.11", venv, requirements=requirements, run=fake_run)
    assert calls == []  # stamp matches: nothing to do
    requirements.write_text("tensorflow==2.15.*\ntensorflow-privacy==0.8.0\n")
    assert not tfp_check.venv_is_ready(venv, requirements=requirements)


def test_the_pins_are_the_issues():
    pins = (ROOT / "scripts" / "tfp_check" / "requirements.txt").read_text().split()
    assert pins == ["tensorflow==2.15.*", "tensorflow-privacy==0.9.0"]


def test_grid_rows_count_steps_both_ways():
    rows = tfp_check.grid_rows([(426, 32, 30, 1.0, 1e-5), (60000, 250, 15, 1.3, 1e-5)])
    assert (rows[0]["steps"], rows[0]["steps_tfp"]) == (420, 400)  # 30·⌈426/32⌉ vs ⌈30·426/32⌉
    assert rows[1]["steps"] == rows[1]["steps_tfp"] == 3600
    assert all(row["delta"] < 1 / row["n"] for row in tfp_check.grid_rows())


def test_the_side_script_does_not_import_fldp_teach():
    import ast

    tree = ast.parse((ROOT / "scripts" / "tfp_check" / "tfp_side.py").read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names]
    imported += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert imported and not any(name.startswith("fldp_teach") for name in imported)
