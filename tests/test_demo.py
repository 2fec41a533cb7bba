"""`fldp-teach demo`: the medical case study runs, prints its table and writes the PNG."""
import math

from fldp_teach.cli import main
from fldp_teach.demo import run_demo


def test_cli_demo_prints_table_and_writes_png(tmp_path, capsys):
    out = tmp_path / "fig" / "demo.png"
    assert main(["demo", "--rounds", "2", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Device: TensorFlow" in text and "ONE PATIENT" in text
    assert "How ε is accounted: every local step uses a Poisson lot" in text
    assert "round | no DP: acc" in text and f"Figure written to {out}" in text
    table = [line for line in text.splitlines() if line.strip()[:1].isdigit() and "|" in line]
    assert len(table) == 2


def test_user_level_mode_with_four_hospitals_warns_and_reports_large_epsilon(tmp_path):
    lines = []
    result = run_demo(clients=4, rounds=2, mode="central", output=tmp_path / "c.png", echo=lines.append)
    assert any("WARNING" in line and "whole hospital" in line for line in lines)
    eps = result.private.column("epsilon")
    assert result.private.settings["sampling_rate"] == 1.0 and eps[-1] > eps[0] > 1.0
    assert math.isinf(result.baseline.records[-1]["epsilon"])
    assert result.baseline.records[-1]["accuracy"] > 0.9
