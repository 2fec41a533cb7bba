"""The ``fldp-teach`` command line.

    fldp-teach privacy --sampling-rate 0.004267 --noise-multiplier 1.1 --steps 14063 --delta 1e-5
    fldp-teach privacy --batch-size 256 --num-examples 60000 --epochs 60 --noise-multiplier 1.1
    fldp-teach privacy --batch-size 256 --num-examples 60000 --epochs 60 --target-epsilon 3
    fldp-teach privacy --sampling-rate 0.01 --noise-multiplier 1.1 --steps 1000 --max-epsilon 2
    fldp-teach train dpsgd --epochs 5 --noise-multiplier 1.1 --max-epsilon 1
    fldp-teach train fedavg --mode central --clients 40 --sampling-rate 0.5 --rounds 10 --max-epsilon 5
    fldp-teach train dpsgd --epochs 20 --checkpoint-dir runs/a      # then, after a crash:
    fldp-teach train dpsgd --epochs 20 --checkpoint-dir runs/a --resume

Each sub-command is one ``add_parser`` block in a ``_register_*`` function plus one handler,
listed in ``SUBCOMMANDS``. Importing this module imports no TensorFlow (sub-commands that need
it import it inside their handler). Also runs as ``python -m fldp_teach.cli``.
"""
from __future__ import annotations

import argparse
import math
import sys

from fldp_teach.flower.cli import register_flower, run_flower

__all__ = ["main", "SUBCOMMANDS"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``fldp-teach privacy: error: ...`` and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---------------------------------------------------------------------------------- privacy
def _register_privacy(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "privacy",
        help="what ε does DP-SGD give, or what noise multiplier does a target ε need?",
        description="RDP accounting of DP-SGD with Poisson sampling (exact sampled-Gaussian RDP). "
        "Give the sampling rate q directly, or --batch-size B with --num-examples N (q = B/N); "
        "the number of steps T directly, or --epochs E (T = ceil(E·N/B)).",
    )
    p.add_argument("--sampling-rate", type=float, help="q, probability an example is in a batch")
    p.add_argument("--batch-size", type=int, help="B (expected batch size), with --num-examples")
    p.add_argument("--num-examples", type=int, help="N, size of the training set")
    p.add_argument("--steps", type=int, help="T, number of noisy gradient steps")
    p.add_argument("--epochs", type=float, help="E, epochs (needs --num-examples and --batch-size)")
    p.add_argument("--delta", type=float, default=1e-5, help="δ (default 1e-5; must be < 1/N)")
    p.add_argument("--sampling", choices=["poisson", "without-replacement"], default="poisson",
                   help="poisson (default): each example joins a lot with probability q, add/remove "
                   "neighbours; without-replacement: exactly B of N each step, replace-one "
                   "neighbours (Wang, Balle & Kasiviswanathan 2019); needs --batch-size and "
                   "--num-examples")
    p.add_argument("--allow-large-delta", action="store_true",
                   help="accept delta >= 1/N (a teaching demonstration only: such a delta allows "
                   "publishing a whole record)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--noise-multiplier", type=float, help="z = σ/C: report ε")
    group.add_argument("--target-epsilon", type=float, help="target ε: report the z it needs")
    p.add_argument("--max-epsilon", type=float, default=None,
                   help="a privacy budget: also print how much of it the steps leave, and how many "
                   "steps fit in it (with --noise-multiplier)")
    return p


def _budget_lines(budget, spent, steps, epsilon_of) -> list:
    """'budget: ... left' and how many steps fit in it (ε is increasing in the steps)."""
    from fldp_teach._validation import check_positive

    budget = check_positive("max_epsilon", budget)
    lines = [f"budget max_epsilon = {budget:g}: epsilon spent {spent:.4f}, remaining {budget - spent:.4f}"
             + ("" if spent <= budget else "  (EXCEEDED: a budgeted run stops before this)")]
    if epsilon_of(1) > budget:
        fit = 0
    else:
        low, high = 1, 2
        while epsilon_of(high) <= budget and high < 2 ** 40:
            low, high = high, 2 * high
        while high - low > 1:  # ε(low) <= budget < ε(high)
            middle = (low + high) // 2
            low, high = (middle, high) if epsilon_of(middle) <= budget else (low, middle)
        fit = low
    lines.append(f"steps within the budget: {fit} (of the {steps} asked for)")
    return lines


def _privacy_setting(args, parser):
    """(q, T) from the flags, or a one-line usage error."""
    if args.sampling_rate is not None:
        if args.batch_size is not None:
            parser.error("give --sampling-rate or --batch-size/--num-examples, not both")
        q = args.sampling_rate
    elif args.batch_size is not None and args.num_examples is not None:
        if args.num_examples < 1 or not 1 <= args.batch_size <= args.num_examples:
            parser.error(
                f"need 1 <= --batch-size <= --num-examples, got {args.batch_size} and "
                f"{args.num_examples}"
            )
        q = args.batch_size / args.num_examples
    else:
        parser.error("give --sampling-rate, or --batch-size with --num-examples")
    if args.steps is not None:
        if args.epochs is not None:
            parser.error("give --steps or --epochs, not both")
        steps = args.steps
    elif args.epochs is not None:
        if args.batch_size is None or args.num_examples is None:
            parser.error("--epochs needs --batch-size and --num-examples")
        if not args.epochs >= 0:
            parser.error(f"--epochs must be >= 0, got {args.epochs}")
        steps = math.ceil(args.epochs * args.num_examples / args.batch_size)
    else:
        parser.error("give --steps, or --epochs with --batch-size and --num-examples")
    return q, steps


def _run_privacy(args, parser) -> int:
    from fldp_teach import accounting as acc
    from fldp_teach._validation import check_delta_for_size

    q, steps = _privacy_setting(args, parser)
    if args.num_examples is not None:
        try:
            check_delta_for_size(args.delta, args.num_examples, allow_large_delta=args.allow_large_delta)
        except ValueError as err:
            parser.error(str(err).replace("allow_large_delta=True", "--allow-large-delta"))
    elif not args.allow_large_delta and q > 0 and args.delta >= q:
        # N is unknown, but N >= 1/q whenever a lot holds at least one example on average
        parser.error(f"--delta {args.delta:g} is at least q = {q:g}; delta must be < 1/N. Give "
                     "--num-examples to check it exactly, or --allow-large-delta for a demonstration")
    if args.sampling == "without-replacement":
        return _run_privacy_without_replacement(args, parser, steps)
    header = f"Poisson sampling q = {q:.6g}, steps T = {steps}, delta = {args.delta:g}"
    if args.target_epsilon is not None:
        z = acc.calibrate_noise_multiplier(
            target_epsilon=args.target_epsilon, sampling_rate=q, steps=steps, delta=args.delta
        )
        eps = acc.dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=steps, delta=args.delta)
        if args.max_epsilon is not None:
            parser.error("--max-epsilon goes with --noise-multiplier (--target-epsilon already "
                         "chooses the noise that ends at that epsilon)")
        print(header)
        print(f"noise multiplier z = {z:.4f}  (gives epsilon = {eps:.4f} <= {args.target_epsilon:g},"
              " improved conversion)")
        return 0
    z = args.noise_multiplier
    accountant = acc.RdpAccountant().compose(
        acc.SampledGaussian(noise_multiplier=z, sampling_rate=q, steps=steps)
    )
    results = [
        (conversion, source, *accountant.epsilon_and_order(delta=args.delta, conversion=conversion))
        for conversion, source in (
            ("improved", "Balle et al. 2020, Thm 21"),
            ("classic", "Mironov 2017, Prop. 3"),
        )
    ]
    print(header)
    print(f"noise multiplier z = {z:g}")
    for conversion, source, eps, order in results:
        print(f"epsilon = {eps:.4f}  ({conversion} conversion, {source}; optimal order {order:g})")
    if args.max_epsilon is not None:
        for line in _budget_lines(args.max_epsilon, results[0][2], steps, lambda t: acc.dp_sgd_epsilon(
                sampling_rate=q, noise_multiplier=z, steps=t, delta=args.delta)):
            print(line)
    return 0


def _run_privacy_without_replacement(args, parser, steps) -> int:
    """Exactly B of N per step, replace-one neighbours (the bound behind fixed-size lots)."""
    from fldp_teach import accounting as acc

    if args.batch_size is None or args.num_examples is None:
        parser.error("--sampling without-replacement needs --batch-size and --num-examples")
    if args.target_epsilon is not None:
        parser.error("--target-epsilon is for Poisson sampling; with --sampling "
                     "without-replacement give --noise-multiplier")
    z = args.noise_multiplier
    print(f"sampling without replacement: B = {args.batch_size} of N = {args.num_examples} each "
          f"step, steps T = {steps}, delta = {args.delta:g}, replace-one neighbours")
    print(f"noise multiplier z = {z:g} (noise std z*C on a sum whose replace-one sensitivity is 2C)")
    def epsilon_of(t):
        return acc.fixed_size_sampling_epsilon(noise_multipliers=[z] * t, sample_size=args.batch_size,
                                               population_size=args.num_examples, delta=args.delta)

    eps = epsilon_of(steps)
    print(f"epsilon = {eps:.4f}  (Wang, Balle & Kasiviswanathan 2019, Thm 9; improved conversion)")
    if args.max_epsilon is not None:
        for line in _budget_lines(args.max_epsilon, eps, steps, epsilon_of):
            print(line)
    return 0


# ---------------------------------------------------------------------------------- demo
def _register_demo(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo",
        help="the medical case study: FedAvg with and without DP across hospitals (article §4.3)",
        description="Breast-cancer diagnosis split across hospitals (non-IID), FedAvg without DP "
        "and with the chosen DP mode; prints a table per round and writes a PNG. The default "
        "mode dpsgd is record-level DP-SGD inside each hospital (the right unit with 4 "
        "hospitals); central/local/distributed are user-level and meaningful with many clients "
        "(try --mode central --clients 100). See fldp_teach/demo.py.",
    )
    p.add_argument("--clients", type=int, default=4, help="K, number of hospitals (default 4)")
    p.add_argument("--rounds", type=int, default=15, help="number of FedAvg rounds (default 15)")
    p.add_argument("--mode", default="dpsgd", choices=["dpsgd", "central", "local", "distributed", "none"],
                   help="where the noise goes (default dpsgd)")
    p.add_argument("--noise-multiplier", type=float, help="z (default depends on the mode)")
    p.add_argument("--clip-norm", type=float, help="C (default 1.0)")
    p.add_argument("--delta", type=float, default=1e-5, help="δ (default 1e-5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data split and the model's "
                   "initial weights (default 0); never of the DP noise")
    p.add_argument("--noise-seed", type=int, default=None,
                   help="fix the DP noise and client sampling, for teaching only: anyone who knows "
                   "it can subtract the noise (default: fresh OS entropy)")
    p.add_argument("--output", default="artifacts/demo.png", help="PNG path (default artifacts/demo.png)")
    return p


def _run_demo(args, parser) -> int:
    from fldp_teach.demo import run_demo

    run_demo(clients=args.clients, rounds=args.rounds, mode=args.mode, noise_multiplier=args.noise_multiplier,
             clip_norm=args.clip_norm, delta=args.delta, seed=args.seed, noise_seed=args.noise_seed,
             output=args.output)
    return 0


# ---------------------------------------------------------------------------------- train
def _register_train(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train once on the breast-cancer data: DP-SGD, or (DP-)FedAvg, with a privacy budget",
        description="One training run on the breast-cancer data (logistic regression), printing "
        "epsilon and what is left of --max-epsilon after every epoch (dpsgd) or round (fedavg). "
        "dpsgd: fldp_teach.training.train_dp_sgd (Poisson lots); fedavg: "
        "fldp_teach.simulation.simulate over --clients IID clients. The run stops before the "
        "step or round that would exceed --max-epsilon.",
    )
    p.add_argument("algorithm", choices=["dpsgd", "fedavg"])
    p.add_argument("--mode", default="central", choices=["central", "local", "distributed", "dpsgd", "none"],
                   help="fedavg: where the noise goes (default central)")
    p.add_argument("--epochs", type=int, default=5, help="dpsgd: epochs (default 5)")
    p.add_argument("--rounds", type=int, default=10, help="fedavg: rounds (default 10)")
    p.add_argument("--clients", type=int, default=20, help="fedavg: K clients (default 20)")
    p.add_argument("--sampling-rate", type=float, default=0.5,
                   help="fedavg: Poisson rate q of clients per round (default 0.5)")
    p.add_argument("--batch-size", type=int, default=32, help="B (default 32)")
    p.add_argument("--learning-rate", type=float, default=0.5, help="η (default 0.5)")
    p.add_argument("--clip-norm", type=float, default=1.0, help="C (default 1.0)")
    p.add_argument("--noise-multiplier", type=float, default=1.1, help="z (default 1.1)")
    p.add_argument("--delta", type=float, default=1e-5, help="δ (default 1e-5)")
    p.add_argument("--max-epsilon", type=float, default=None,
                   help="privacy budget at δ: stop before the step/round that would exceed it")
    p.add_argument("--limit", type=int, default=None,
                   help="train on the first N training examples only (a quick run)")
    p.add_argument("--seed", type=int, default=0, help="public seed: split, model (default 0)")
    p.add_argument("--noise-seed", type=int, default=None,
                   help="fix the DP noise and sampling, for teaching only (default: OS entropy)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="keep the privacy ledger (written before every step/round), the weights, "
                   "optimizer and sampling state in DIR, so that a killed run can be resumed")
    p.add_argument("--resume", action="store_true",
                   help="continue the run saved in --checkpoint-dir (the same flags are required: "
                   "a changed setting is refused with the list of what changed)")
    return p


def _train_kwargs(args) -> dict:
    """The keyword arguments of the run the flags describe (shared by both algorithms)."""
    return dict(max_epsilon=args.max_epsilon, noise_seed=args.noise_seed,
                checkpoint_dir=args.checkpoint_dir, resume=args.resume)


def _run_train(args, parser) -> int:
    from fldp_teach.checkpoint import CheckpointError

    if args.resume and args.checkpoint_dir is None:
        parser.error("--resume needs --checkpoint-dir DIR (the folder of the run to continue)")
    try:
        return _train_once(args, parser)
    except CheckpointError as err:  # a refused resume (with its diff) or an unwritable ledger
        parser.exit(2, f"{parser.prog}: error: {err}\n")


def _train_once(args, parser) -> int:
    from fldp_teach import models
    from fldp_teach.datasets import load_breast_cancer
    from fldp_teach.randomness import noise_seed_notice

    data = load_breast_cancer(seed=args.seed)
    x, y = data.x_train, data.y_train
    if args.limit is not None:
        if args.limit < 1:
            parser.error(f"--limit must be >= 1, got {args.limit}")
        x, y = x[: args.limit], y[: args.limit]
    notice = noise_seed_notice(args.noise_seed)
    if notice and (args.algorithm == "dpsgd" or args.mode != "none"):
        print(notice)
    if args.checkpoint_dir is not None:
        print(f"checkpoint: {args.checkpoint_dir}{' (resuming)' if args.resume else ''}")
    budget = args.max_epsilon

    def left(eps):
        return "" if budget is None else f"  (of {budget:g}: {budget - eps:.4f} left)"

    if args.algorithm == "dpsgd":
        from fldp_teach.training import train_dp_sgd

        model = models.logistic_regression(data.num_features, seed=args.seed)
        h = train_dp_sgd(model, x, y, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, clip_norm=args.clip_norm,
                         noise_multiplier=args.noise_multiplier, delta=args.delta, x_val=data.x_test,
                         y_val=data.y_test, seed=args.seed, progress=False, **_train_kwargs(args))
        print(f"DP-SGD on {len(y)} examples, B = {args.batch_size}, z = {h.noise_multiplier:g}, "
              f"C = {args.clip_norm:g}, delta = {args.delta:g}")
        for e in range(h.epochs):
            print(f"epoch {e + 1}: test accuracy {h.val_accuracy[e]:.3f}, epsilon {h.epsilon[e]:.4f}"
                  f"{left(h.epsilon[e])}")
        spent, steps, what = h.epsilon_spent, h.steps, "steps"
    else:
        from fldp_teach.partition import partition_iid
        from fldp_teach.simulation import simulate

        private = args.mode != "none"
        part = partition_iid(x, y, num_clients=args.clients, seed=args.seed)
        h = simulate(lambda: models.logistic_regression(data.num_features, seed=args.seed), part,
                     (data.x_test, data.y_test), rounds=args.rounds, sampling_rate=args.sampling_rate,
                     batch_size=args.batch_size, learning_rate=args.learning_rate, mode=args.mode,
                     noise_multiplier=args.noise_multiplier if private else 0.0,
                     clip_norm=args.clip_norm if private else math.inf, delta=args.delta, seed=args.seed,
                     progress=False, **_train_kwargs(args))
        print(f"FedAvg ({args.mode}) over K = {args.clients} clients, q = {args.sampling_rate:g}, "
              f"delta = {args.delta:g}")
        for r in h.records:
            print(f"round {r['round']}: test accuracy {r['accuracy']:.3f}, epsilon {r['epsilon']:.4f}"
                  f"{left(r['epsilon'])}")
        spent, steps, what = h.epsilon_spent, len(h.records), "rounds"
    if h.stopped:
        print(h.stopped)
    lost = getattr(h, "interrupted_steps", None) or getattr(h, "interrupted_rounds", None)
    if lost:
        print(f"charged but lost in an interruption (OS-entropy noise, not replayed): {what} {list(lost)}")
    print(f"done: {steps} {what}, epsilon = {spent:.4f}{left(spent)}")
    return 0


#: sub-command name → (register(subparsers) -> parser, handler(args, parser) -> exit code)
SUBCOMMANDS = {
    "privacy": (_register_privacy, _run_privacy),
    "demo": (_register_demo, _run_demo),
    "train": (_register_train, _run_train),
    "flower": (register_flower, run_flower),
}


def _build_parser():
    parser = _Parser(
        prog="fldp-teach", description="Federated learning with differential privacy, for teaching."
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    parsers = {name: register(sub) for name, (register, _) in SUBCOMMANDS.items()}
    return parser, parsers


def main(argv=None) -> int:
    """Entry point of ``fldp-teach``. Bad input: one line on stderr, exit code 2."""
    parser, parsers = _build_parser()
    args = parser.parse_args(argv)
    sub_parser = parsers[args.command]
    try:
        return SUBCOMMANDS[args.command][1](args, sub_parser)
    except ValueError as err:  # the library's loud validation, shown as a usage error
        sub_parser.error(str(err))


if __name__ == "__main__":
    sys.exit(main())
