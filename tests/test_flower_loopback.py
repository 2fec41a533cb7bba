"""A real loopback federation: ``fldp-teach flower up 2`` (a SuperLink and 2 SuperNodes on
127.0.0.1), ``flwr run flower-app`` for 2 rounds of central DP-FedAvg on breast cancer, ``down``.
About 2 minutes on 2 CPU cores (every SuperNode message starts a fresh Python that imports
TensorFlow). Runs in ``make test``; skip it with ``-k "not loopback"``."""
import json
import os
from pathlib import Path

import pytest

pytest.importorskip("flwr")
from fldp_teach.flower import deploy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _ours_alive(state_dir: Path, port: int) -> list:
    """Processes whose command line names our SuperLink port or our state dir."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                stat = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if stat != "Z" and (f"127.0.0.1:{port}" in cmd or str(state_dir) in cmd):
                found.append((int(d.name), cmd))
    return found


@pytest.mark.timeout(420)
def test_two_rounds_of_central_dp_fedavg_on_a_loopback_federation(tmp_path):
    port = deploy.free_port()
    state_dir = tmp_path / "flower"
    result_file = tmp_path / "result.json"
    try:
        state = deploy.up(2, port=port, state_dir=state_dir, timeout_s=400)
        assert len(state["supernodes"]) == 2
        with pytest.raises(RuntimeError, match="already running"):
            deploy.up(2, port=deploy.free_port(), state_dir=state_dir, timeout_s=60)
        done = deploy.run_app(ROOT / "flower-app", state_dir=state_dir, timeout_s=360,
                              run_config={"rounds": 2, "mode": "central", "noise-multiplier": 0.2,
                                          "clip-norm": 1.0, "noise-seed": 0,
                                          "result-file": str(result_file)})
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        result = json.loads(result_file.read_text())
    finally:
        deploy.down(state_dir=state_dir)
    assert not _ours_alive(state_dir, port)
    assert deploy.status(state_dir=state_dir) is None
    losses = [result["initial"]["loss"]] + [r["loss"] for r in result["records"]]
    epsilons = [r["epsilon"] for r in result["records"]]
    assert len(result["records"]) == 2
    # z = 0.2 with a fixed noise seed (teaching; the test must not be a coin flip): with m = 2
    # clients, z = 1 adds noise of std zC/m = 0.5 per coordinate to the mean update, and whether
    # 2 such rounds lower the loss depends on the draw (one private run went 0.79 -> 2.44)
    assert losses[-1] < losses[0], losses
    assert 0 < epsilons[0] < epsilons[1], epsilons
    assert all(r["participants"] == 2 and not r["rejected"] for r in result["records"])
