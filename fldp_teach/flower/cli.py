"""``fldp-teach flower up N | down | status | run | simulate N``: a loopback Flower federation, or
Flower's Simulation Runtime with N virtual SuperNodes (see
:mod:`fldp_teach.flower.deploy`). Importing this module imports neither Flower nor TensorFlow."""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["register_flower", "run_flower"]

_APP = Path(__file__).resolve().parents[2] / "flower-app"


def register_flower(sub):
    p = sub.add_parser(
        "flower",
        help="start/stop a Flower SuperLink and N SuperNodes on 127.0.0.1, run the course's Flower app",
        description="A loopback Flower federation (insecure, 127.0.0.1 only; every process under a "
        "timeout, PIDs in a state file). `up N` starts a SuperLink and N SuperNodes and returns when "
        "all are healthy; `down` stops them and everything they started; `run` runs flower-app/ on "
        "them (flwr run); `simulate N` runs flower-app/ in Flower's Simulation Runtime with N virtual "
        "SuperNodes instead. Needs: pip install 'fldp_teach[flower]'. See docs/flower.md.",
    )
    p.add_argument("action", choices=["up", "down", "status", "run", "simulate"])
    p.add_argument("num_supernodes", nargs="?", type=int, help="N, for `up` and `simulate` (SuperNodes 0..N-1)")
    p.add_argument("--port", type=int, default=None, help="SuperLink port for `up` (default 9092)")
    p.add_argument("--state-dir", default=None,
                   help="where PIDs and logs go (default $FLDP_FLOWER_STATE_DIR or ~/.cache/fldp_teach/flower)")
    p.add_argument("--timeout", type=float, default=3600,
                   help="seconds after which every started process is killed (default 3600)")
    p.add_argument("--app", default=str(_APP), help="the Flower app folder for `run` (default flower-app/)")
    p.add_argument("--run-config", default=None,
                   help='overrides for `run`, e.g. "noise-multiplier=0.5 rounds=5"')
    return p


def run_flower(args, parser) -> int:
    from fldp_teach.flower import deploy

    if args.action == "up":
        if args.num_supernodes is None or args.num_supernodes < 1:
            parser.error(f"`up` needs the number of SuperNodes N >= 1, got {args.num_supernodes}")
        try:
            state = deploy.up(args.num_supernodes, port=args.port or deploy.DEFAULT_PORT,
                              state_dir=args.state_dir, timeout_s=args.timeout)
        except (RuntimeError, TimeoutError, FileNotFoundError) as err:
            print(f"fldp-teach flower up: {err}")
            return 1
        print(f"SuperLink {state['address']} (pid {state['superlink']['pid']}), "
              f"{len(state['supernodes'])} SuperNodes (pids {[e['pid'] for e in state['supernodes']]}); "
              f"insecure, loopback only; all stop after {args.timeout:g} s at the latest.")
        print(f"state: {Path(state['state_dir']) / deploy.STATE_FILE}; run the app: fldp-teach flower run")
        return 0
    if args.action == "down":
        stopped = deploy.down(state_dir=args.state_dir)
        print(f"stopped {len(stopped)} processes" if stopped else "no Flower federation was running")
        return 0
    if args.action == "status":
        state = deploy.status(state_dir=args.state_dir)
        if state is None:
            print("no Flower federation recorded")
            return 0
        print(json.dumps({k: state[k] for k in ("address", "superlink", "supernodes")}, indent=1))
        return 0
    overrides = {}
    for item in (args.run_config or "").split():
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value) if value[:1] in "-0123456789tf[" else value.strip('"')
        except ValueError:
            parser.error(f"--run-config: cannot read the value of {key!r}: {value!r}")
    if args.action == "simulate":
        if args.num_supernodes is None or args.num_supernodes < 1:
            parser.error(f"`simulate` needs the number of SuperNodes N >= 1, got {args.num_supernodes}")
        overrides.setdefault("num-clients", args.num_supernodes)
        done = deploy.run_simulation(args.app, num_supernodes=args.num_supernodes, run_config=overrides,
                                     timeout_s=args.timeout)
        print(done.stdout[-4000:])
        return done.returncode
    try:
        done = deploy.run_app(args.app, state_dir=args.state_dir, run_config=overrides)
    except RuntimeError as err:
        print(f"fldp-teach flower run: {err}")
        return 1
    print(done.stdout[-4000:])
    return done.returncode
