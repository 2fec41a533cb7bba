"""The medical case study (article §4.3, E8), end to end: ``fldp-teach demo``.

Breast-cancer diagnosis (Wisconsin data, 1 = malignant) is split across K hospitals that see
different patients: hospital k receives the k-th quantile of tumour radius
(:func:`fldp_teach.partition.partition_by_feature`), so the small hospitals' patients are
mostly benign and the last hospital's mostly malignant — a non-IID federation. A logistic
regression is trained with FedAvg twice: once without privacy (the baseline) and once with
the chosen DP mode; a table per round (accuracy, AUC, ε) is printed and a PNG with accuracy vs
round and accuracy vs ε is written.

Which DP is honest with 4 hospitals?
-------------------------------------
User-level DP-FedAvg (central, local or distributed noise) protects a *whole client*. With
K = 4 the "user" is an entire hospital, and with all 4 taking part each round there is no
amplification by sampling (q = 1): the ε it reports is the ε of hiding one hospital's whole
data set, it is very large for any useful noise level, and it says little about a patient.
The appropriate unit for 4 hospitals is the patient: each hospital trains with DP-SGD on its
own records (record-level DP, the article's "noise in local training", E1, done right:
Abadi et al. 2016). That is the default ``--mode dpsgd``; its local lots are Poisson samples, so
the record-level ε it prints (sampled Gaussian, RDP) is the ε of what actually ran. User-level central DP becomes
meaningful with many clients (McMahan et al. 2018 use thousands); ``--mode central --clients
100`` shows it with 100 simulated clinics, each joining a round with probability q = 0.2
(Poisson sampling, 20 expected: the sampling the printed ε assumes).

The DP noise and the private sampling come from fresh OS entropy, so two runs of the demo
differ; ``noise_seed`` (``--noise-seed``) fixes them for teaching and the demo then prints a
one-line warning (:mod:`fldp_teach.randomness`). ``seed`` fixes the split and the model.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

from fldp_teach._validation import check_positive_int

__all__ = ["DemoResult", "DEFAULTS", "run_demo", "plot_demo"]

# Per mode: (noise_multiplier, clip_norm, clients_per_round as a fraction of K, batch_size, learning_rate)
DEFAULTS = {
    "none": dict(noise_multiplier=0.0, clip_norm=math.inf, fraction=1.0, batch_size=16, learning_rate=0.1),
    "dpsgd": dict(noise_multiplier=2.5, clip_norm=1.0, fraction=1.0, batch_size=16, learning_rate=0.1),
    "central": dict(noise_multiplier=1.8, clip_norm=1.0, fraction=0.2, batch_size=None, learning_rate=0.5),
    "distributed": dict(noise_multiplier=1.8, clip_norm=1.0, fraction=0.2, batch_size=None, learning_rate=0.5),
    "local": dict(noise_multiplier=1.8, clip_norm=1.0, fraction=0.2, batch_size=None, learning_rate=0.5),
}
UNIT = {"none": "-", "dpsgd": "one patient (record-level, Poisson lots)", "central": "one client's whole data (user-level)",
        "distributed": "one client's whole data (user-level)", "local": "one client's whole data (local DP)"}


@dataclass(frozen=True)
class DemoResult:
    baseline: object  # History
    private: object  # History
    figure_path: Path
    seconds: float


def run_demo(*, clients: int = 4, rounds: int = 15, mode: str = "dpsgd", noise_multiplier: float | None = None,
             clip_norm: float | None = None, delta: float = 1e-5, seed: int = 0, noise_seed: int | None = None,
             output: str | Path = "artifacts/demo.png", progress: bool = False, echo=print) -> DemoResult:
    """Run the case study and write the figure; ``echo`` receives every printed line."""
    clients = check_positive_int("clients", clients)
    rounds = check_positive_int("rounds", rounds)
    from fldp_teach.randomness import noise_seed_notice

    from fldp_teach import models
    from fldp_teach.datasets import load_breast_cancer
    from fldp_teach.device import describe_device
    from fldp_teach.partition import partition_by_feature
    from fldp_teach.simulation import MODES, simulate

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    start = time.perf_counter()
    echo(f"Device: {describe_device()}")
    if mode != "none" and noise_seed_notice(noise_seed):
        echo(noise_seed_notice(noise_seed))
    ds = load_breast_cancer(seed=seed)
    radius = list(ds.feature_names).index("mean radius")
    part = partition_by_feature(ds.x_train, ds.y_train, feature=radius, num_clients=clients, seed=seed)
    echo(f"Breast cancer (1 = malignant): {len(ds.y_train)} training and {len(ds.y_test)} test patients, "
         f"split over K = {clients} {'hospitals' if clients < 50 else 'clinics'} by tumour radius (non-IID):")
    for k, c in enumerate(part.clients[:8]):
        echo(f"  {'hospital' if clients < 50 else 'clinic'} {k}: {c.num_examples:4d} patients, {int(c.y.sum()):4d} malignant")
    if clients > 8:
        echo(f"  ... and {clients - 8} more")
    settings = dict(DEFAULTS[mode])
    z = settings["noise_multiplier"] if noise_multiplier is None else noise_multiplier
    c_norm = settings["clip_norm"] if clip_norm is None else clip_norm
    # Sampling a fraction of clients only makes sense with many clients: then each client joins
    # a round with probability q (Poisson sampling, what the accountant assumes), m = qK expected.
    q = settings["fraction"] if clients >= 50 else 1.0
    m = q * clients
    echo("")
    echo(_explain(mode, clients, m, q, z, c_norm, settings["batch_size"]))
    model_fn = functools.partial(models.logistic_regression, ds.num_features, seed=seed)
    test = (ds.x_test, ds.y_test)
    common = dict(rounds=rounds, local_epochs=1, seed=seed, progress=progress, delta=delta)
    base = simulate(model_fn, part, test, clients_per_round=clients, batch_size=16, learning_rate=0.1,
                    mode="none", **common)
    private = simulate(model_fn, part, test, sampling_rate=q, batch_size=settings["batch_size"],
                       learning_rate=settings["learning_rate"], mode=mode, noise_multiplier=z,
                       clip_norm=c_norm, weighting="num_examples", noise_seed=noise_seed, **common)
    echo("")
    echo(f"{'round':>5} | {'no DP: acc':>10} {'AUC':>6} | {mode + ': acc':>12} {'AUC':>6} {'epsilon':>9}")
    for b, p in zip(base.records, private.records):
        eps = "inf" if math.isinf(p["epsilon"]) else f"{p['epsilon']:.2f}"
        echo(f"{b['round']:>5} | {b['accuracy']:>10.3f} {b['auc']:>6.3f} | {p['accuracy']:>12.3f} "
             f"{p['auc']:>6.3f} {eps:>9}")
    path = plot_demo(base, private, output=output, title=f"{clients} hospitals, mode={mode}, δ={delta:g}")
    seconds = time.perf_counter() - start
    last = private.records[-1]
    echo("")
    echo(f"After {rounds} rounds: no DP accuracy {base.records[-1]['accuracy']:.3f}; {mode} accuracy "
         f"{last['accuracy']:.3f} at ε = {last['epsilon']:.2f} (δ = {delta:g}, unit of privacy: {UNIT[mode]}).")
    echo(f"Bytes per round: {base.records[-1]['bytes_down']} down, {base.records[-1]['bytes_up']} up.")
    echo(f"Figure written to {path} ({seconds:.1f} s in total).")
    return DemoResult(baseline=base, private=private, figure_path=path, seconds=seconds)


def _explain(mode, clients, m, q, z, c, b) -> str:
    if mode == "none":
        return "Mode none: plain FedAvg, no privacy (ε = ∞); shown twice for reference."
    if mode == "dpsgd":
        return (f"Mode dpsgd: each hospital trains with DP-SGD on its own patients (per-example clip C = {c}, "
                f"noise multiplier z = {z}). ε below is record-level: it bounds what the shared models reveal "
                f"about any ONE PATIENT, the right unit when there are only {clients} hospitals.\n"
                f"How ε is accounted: every local step uses a Poisson lot (each patient joins independently with "
                f"probability q = B/n_k, B = {b}; the noisy sum is divided by the expected lot size B, and an "
                f"empty lot still gets its noise), so each step is a sampled Gaussian mechanism; the RDP "
                f"accountant composes ⌈n_k/B⌉ steps per round and reports the worst hospital's ε.")
    who = (f"all {clients} clients every round" if q >= 1 else
           f"each of {clients} clients joins a round with probability q = {q:g} (Poisson sampling, "
           f"{m:g} expected; add/remove neighbours)")
    text = (f"Mode {mode}: user-level DP-FedAvg, {who}, clip C = {c}, z = {z}. "
            f"ε below bounds what is revealed about ONE CLIENT's entire data set.")
    if clients < 50:
        text += (f"\nWARNING: with K = {clients} the 'user' is a whole hospital, and all {clients} take part every round "
                 f"(q = 1, no amplification by sampling): this ε hides a whole hospital's data set and is "
                 f"large; it is not a statement about patients. Use --mode dpsgd for patients, or --clients 100 to see "
                 f"user-level DP where it works.")
    if mode == "local":
        text += "\nLocal DP: every client noises its own update (noise std zC per client), so accuracy suffers most."
    if mode == "distributed":
        text += ("\nDistributed DP: each client adds a share of the noise sized for the fewest arrivals a round "
                 "needs (m_min); assumes secure aggregation (simulated).")
    return text


def plot_demo(baseline, private, *, output, title: str = "") -> Path:
    """Accuracy vs round (both runs) and accuracy vs ε (private run); written as a PNG (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    rounds = baseline.column("round")
    ax1.plot(rounds, baseline.column("accuracy"), "o-", label="FedAvg, no DP")
    ax1.plot(rounds, private.column("accuracy"), "s-", label=f"mode {private.settings['mode']}")
    ax1.set(xlabel="round", ylabel="test accuracy", title="accuracy vs round")
    ax1.legend()
    eps = private.column("epsilon")
    if math.isinf(eps[-1]):
        ax2.text(0.5, 0.5, "no privacy: ε = ∞", ha="center", va="center", transform=ax2.transAxes)
    else:
        ax2.plot(eps, private.column("accuracy"), "s-", color="C1")
    ax2.set(xlabel="ε spent (δ = %g)" % private.settings["delta"], ylabel="test accuracy",
            title="accuracy vs privacy spent")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
