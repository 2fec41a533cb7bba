"""Figures of notebook 08 (RDP accounting): ε after T steps of DP-SGD by four accountants,
what an ε means for an attacker, Poisson vs shuffled batches, and a ledger of phases.

Four ways to add up T steps of the Poisson-sampled Gaussian mechanism (noise z, rate q), all
valid upper bounds on the same algorithm's ε at the same total δ:

* **naive** (basic composition, Dwork & Roth 2014, Thm 3.16): each step is (ε₀, δ₀)-DP with
  δ₀ = δ/T, and T steps cost (T·ε₀, δ);
* **advanced** composition (Dwork, Rothblum & Vadhan 2010; Dwork & Roth 2014, Thm 3.20) with
  δ' = δ/2 and δ₀ = δ/(2T): ε = ε₀·sqrt(2T ln(1/δ')) + T·ε₀(e^{ε₀} − 1);
* **RDP** (Mironov 2017; the sampled Gaussian of Mironov, Talwar & Zhang 2019): T·ρ(α), then
  the classic (Mironov 2017, Prop. 3) or improved (Balle et al. 2020, Thm 21) conversion;
* **PLD** (privacy loss distributions, numerically composed; Koskela, Jälkö & Honkela 2020;
  Doroshenko et al. 2022 "Connect the dots") via the independent ``dp_accounting`` library.

For the first two, one step's (ε₀, δ₀) is computed as tightly as the textbook allows: the exact
(ε, δ) curve of the Gaussian mechanism (Balle & Wang 2018, Thm 8,
``fldp_teach.mechanisms.analytic_gaussian_delta``) amplified by Poisson sampling,
(ε, δ) ↦ (log(1 + q(e^ε − 1)), q·δ) (Li, Qardaji & Su 2012; Balle, Barthe & Gaboardi 2018).
Taught in notebooks/08_rdp_accounting.ipynb.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from scipy import optimize

from fldp_teach._validation import (
    check_non_negative_int,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_unit_interval,
)
from fldp_teach.accounting import (
    DEFAULT_ORDERS,
    RdpAccountant,
    SampledGaussian,
    ShuffledGaussian,
    advanced_composition,
    epsilon_from_rdp,
    poisson_equivalent,
    rdp_sampled_gaussian,
)
from fldp_teach.mechanisms import analytic_gaussian_delta
from fldp_teach.plots import MIN_FONT_SIZE, integer_ticks

__all__ = [
    "amplified_gaussian_epsilon",
    "composition_epsilons",
    "composition_curves",
    "pld_epsilon",
    "posterior_bound",
    "plot_composition",
    "plot_attacker_odds",
    "plot_poisson_vs_shuffled",
    "cumulative_ledger_epsilons",
    "plot_ledger",
]

_METHODS = ("naive", "advanced", "rdp_classic", "rdp_improved")
_STYLE = {
    "naive": dict(color="tab:red", ls=":", label="naive composition"),
    "advanced": dict(color="tab:orange", ls="-.", label="advanced composition"),
    "rdp_classic": dict(color="tab:blue", ls="--", label="RDP, classic conversion"),
    "rdp_improved": dict(color="tab:green", ls="-", label="RDP, improved conversion"),
}


def _new_axes(ax, figsize=(7, 4)):
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    return ax.figure, ax


# ------------------------------------------------------------------------- one step, (ε₀, δ₀)
def amplified_gaussian_epsilon(*, noise_multiplier, sampling_rate, delta) -> float:
    """ε₀ of ONE step of the Poisson-sampled Gaussian mechanism at δ₀ = ``delta``:

        ε_G = the exact ε of N(0, z²) at δ_G = δ₀/q  (Balle & Wang 2018, Thm 8, solved for ε),
        ε₀  = log(1 + q(e^{ε_G} − 1))              (amplification by Poisson sampling).

    If even ε_G = 0 meets δ_G (δ_G ≥ δ(0)), ε₀ = 0; q = 0 gives 0."""
    z = check_positive("noise_multiplier", noise_multiplier)
    q = check_unit_interval("sampling_rate", sampling_rate)
    d = check_open_unit("delta", delta)
    if q == 0:
        return 0.0
    target = d / q
    if target >= 1:
        return 0.0

    def log_gap(eps):  # decreasing in ε
        return math.log(max(analytic_gaussian_delta(stddev=z, epsilon=eps, l2_sensitivity=1.0),
                            1e-300)) - math.log(target)

    tiny = 1e-12
    if log_gap(tiny) <= 0:
        return 0.0
    hi = 1.0
    while log_gap(hi) > 0:
        hi *= 2
    eps_g = optimize.brentq(log_gap, tiny, hi, xtol=1e-12, rtol=1e-12)
    return math.log1p(q * math.expm1(eps_g))


def composition_epsilons(*, noise_multiplier, sampling_rate, steps, delta) -> dict:
    """ε of T steps at total δ by the four analytic accountants of the module docstring:
    a dict with keys ``naive``, ``advanced``, ``rdp_classic``, ``rdp_improved``."""
    curves = composition_curves(noise_multiplier=noise_multiplier, sampling_rate=sampling_rate,
                                steps_grid=[check_positive_int("steps", steps)], delta=delta)
    return {k: float(v[0]) for k, v in curves.items()}


def composition_curves(*, noise_multiplier, sampling_rate, steps_grid, delta) -> dict:
    """ε for every T in ``steps_grid`` by each accountant (arrays; see the module docstring).
    The RDP curve ρ(α) of one step is computed once and scaled by T."""
    z = check_positive("noise_multiplier", noise_multiplier)
    q = check_unit_interval("sampling_rate", sampling_rate)
    d = check_open_unit("delta", delta)
    grid = [check_positive_int("steps", t) for t in np.atleast_1d(steps_grid)]
    one = rdp_sampled_gaussian(sampling_rate=q, noise_multiplier=z, orders=DEFAULT_ORDERS)
    out = {k: np.empty(len(grid)) for k in _METHODS}
    for i, t in enumerate(grid):
        eps_naive = amplified_gaussian_epsilon(noise_multiplier=z, sampling_rate=q, delta=d / t)
        out["naive"][i] = t * eps_naive
        eps0 = amplified_gaussian_epsilon(noise_multiplier=z, sampling_rate=q, delta=d / (2 * t))
        out["advanced"][i] = (advanced_composition(epsilon=eps0, delta=0.0, steps=t,
                                                   delta_prime=d / 2)[0] if eps0 > 0 else 0.0)
        for conv in ("classic", "improved"):
            out[f"rdp_{conv}"][i] = epsilon_from_rdp(orders=DEFAULT_ORDERS, rdp=t * one, delta=d,
                                                     conversion=conv)
    return out


def pld_epsilon(*, noise_multiplier, sampling_rate, steps, delta,
                value_discretization_interval=1e-3) -> float:
    """ε by the independent reference, ``dp_accounting.pld.PLDAccountant`` (Google's
    dp-accounting, privacy loss distributions, add/remove neighbours, pessimistic
    discretization). Raises ImportError with an explanation if dp-accounting is missing.
    Takes 0.05 s to a few seconds (more for small z, large q, many steps)."""
    z = check_positive("noise_multiplier", noise_multiplier)
    q = check_unit_interval("sampling_rate", sampling_rate)
    t = check_non_negative_int("steps", steps)
    d = check_open_unit("delta", delta)
    check_positive("value_discretization_interval", value_discretization_interval)
    try:
        import dp_accounting
        from dp_accounting.pld import pld_privacy_accountant
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("ε_PLD needs Google's dp-accounting (pip install dp-accounting); "
                          "everything else in this notebook works without it") from exc
    accountant = pld_privacy_accountant.PLDAccountant(
        value_discretization_interval=value_discretization_interval)
    event = dp_accounting.dp_event.PoissonSampledDpEvent(
        q, dp_accounting.dp_event.GaussianDpEvent(z))
    accountant.compose(event, t)
    return float(accountant.get_epsilon(d))


# ------------------------------------------------------------------------ the live figure
def plot_composition(noise_multiplier, sampling_rate, steps, delta, *, pld=None,
                     max_steps=100_000, ax=None) -> Figure:
    """ε(T) for T = 1 … ``max_steps`` (log axes) by the four accountants, the current T marked;
    ``pld`` (a number, optional) is drawn as a black star at T."""
    t_now = check_positive_int("steps", steps)
    top = max(int(max_steps), t_now)
    grid = np.unique(np.concatenate([np.round(np.logspace(0, math.log10(top), 40)), [t_now]]))
    curves = composition_curves(noise_multiplier=noise_multiplier, sampling_rate=sampling_rate,
                                steps_grid=grid.astype(int), delta=delta)
    fig, ax = _new_axes(ax)
    for key in _METHODS:
        y = np.where(curves[key] > 0, curves[key], np.nan)
        ax.plot(grid, y, **_STYLE[key])
        k = int(np.searchsorted(grid, t_now))
        if np.isfinite(y[k]):
            ax.plot([t_now], [y[k]], "o", color=_STYLE[key]["color"], ms=5)
    if pld is not None:
        ax.plot([t_now], [pld], "*", color="black", ms=12, label="PLD (dp-accounting)")
    ax.axvline(t_now, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("steps T")
    ax.set_ylabel("ε (at the given δ)")
    ax.set_title(f"DP-SGD privacy cost: z = {noise_multiplier:g}, q = {sampling_rate:g}, "
                 f"δ = {delta:g}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=MIN_FONT_SIZE, loc="upper left")
    return fig


# ------------------------------------------------------------------- what an ε means
def posterior_bound(*, epsilon, prior) -> float:
    """The most an attacker's belief that a person is in the data can grow from ``prior`` p
    after seeing the output of an ε-DP mechanism: the odds grow by at most e^ε, so

        posterior ≤ p·e^ε / (p·e^ε + 1 − p)

    (the Bayesian reading of DP; Kasiviswanathan & Smith 2014, J. Priv. Confidentiality;
    ignores δ, which is a probability of failing altogether)."""
    eps = check_positive("epsilon", epsilon)
    p = check_unit_interval("prior", prior)
    return p * math.exp(eps) / (p * math.exp(eps) + 1 - p)


def plot_attacker_odds(epsilons=(0.1, 1.0, 3.0, 8.0), *, ax=None) -> Figure:
    """Posterior bound against prior belief, one line per ε (and the diagonal: no leak)."""
    fig, ax = _new_axes(ax)
    prior = np.linspace(0, 1, 201)
    ax.plot(prior, prior, color="grey", lw=0.8, label="ε = 0 (nothing learned)")
    for eps in epsilons:
        ax.plot(prior, [posterior_bound(epsilon=eps, prior=p) for p in prior],
                label=f"ε = {eps:g} (odds × {math.exp(eps):.3g})")
    ax.set_xlabel("attacker's prior belief P(person in data)")
    ax.set_ylabel("largest posterior belief")
    ax.set_title("What ε allows an attacker to learn (odds grow by at most e^ε)")
    ax.legend(fontsize=MIN_FONT_SIZE)
    ax.grid(alpha=0.3)
    return fig


# ------------------------------------------------------------ Poisson vs shuffled batches
def plot_poisson_vs_shuffled(*, noise_multiplier, batch_size, num_examples, max_epochs, delta,
                             ax=None) -> Figure:
    """ε after each epoch for the SAME training run accounted two ways: as Poisson sampling
    (``SampledGaussian`` with q = B/N, the usual but unsound claim for shuffled batches) and
    soundly as shuffled batches (``ShuffledGaussian``: one Gaussian mechanism per epoch, no
    amplification; Chua et al. 2024)."""
    e_max = check_positive_int("max_epochs", max_epochs)
    epochs = np.arange(1, e_max + 1)
    poisson, shuffled = [], []
    for e in epochs:
        event = ShuffledGaussian(noise_multiplier, batch_size, num_examples, int(e))
        shuffled.append(RdpAccountant().compose(event).epsilon(delta=delta))
        poisson.append(RdpAccountant().compose(poisson_equivalent(event)).epsilon(delta=delta))
    fig, ax = _new_axes(ax)
    ax.plot(epochs, shuffled, "-", color="tab:red", label="shuffled batches, charged soundly")
    ax.plot(epochs, poisson, "--", color="tab:green", label="as if Poisson sampled (q = B/N)")
    ax.set_xlabel("epochs")
    integer_ticks(ax)
    ax.set_ylabel("ε (improved RDP conversion)")
    ax.set_yscale("log")
    ax.set_title(f"Same run, two accountings: z = {noise_multiplier:g}, B = {batch_size}, "
                 f"N = {num_examples}, δ = {delta:g}")
    ax.legend(fontsize=MIN_FONT_SIZE)
    ax.grid(alpha=0.3, which="both")
    return fig


# ------------------------------------------------------------------------------- ledger
def cumulative_ledger_epsilons(accountant: RdpAccountant, *, delta) -> list[tuple[str, float]]:
    """(label, ε after this entry) for every ledger entry of ``accountant``, in order,
    by composing the ledger's prefixes again (the ε of a prefix is not a sum of ε's)."""
    d = check_open_unit("delta", delta)
    prefix = RdpAccountant(orders=accountant.orders)
    out = []
    for i, entry in enumerate(accountant.ledger):
        prefix.compose(entry.event, label=entry.label)
        out.append((entry.label or f"event {i + 1}", prefix.epsilon(delta=d)))
    return out


def plot_ledger(accountant: RdpAccountant, *, delta, ax=None) -> Figure:
    """Bars: ε spent after each phase of the ledger (cumulative), each bar labelled."""
    rows = cumulative_ledger_epsilons(accountant, delta=delta)
    fig, ax = _new_axes(ax)
    labels = [r[0] for r in rows]
    values = [r[1] for r in rows]
    bars = ax.bar(range(len(rows)), values, color="tab:blue")
    ax.bar_label(bars, fmt="%.2f", fontsize=MIN_FONT_SIZE)
    ax.set_xticks(range(len(rows)), labels, rotation=15, fontsize=MIN_FONT_SIZE)
    ax.set_xlabel("ledger entry (training phase)")
    ax.set_ylabel(f"cumulative ε at δ = {delta:g}")
    ax.set_title("Privacy ledger: ε spent after each phase")
    return fig
