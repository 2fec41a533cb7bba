"""Figures of notebook 03 (the Gaussian mechanism, and why multiplicative noise is not DP).

Calibrations, both from ``fldp_teach.mechanisms`` (this module only draws them):

* classic (Dwork & Roth 2014, Thm A.1): σ = Δ₂·sqrt(2 ln(1.25/δ))/ε, proved for 0 < ε < 1 only;
* analytic (Balle & Wang 2018, ICML, Thm 8): the smallest σ with
  δ(σ) = Φ(Δ₂/(2σ) − εσ/Δ₂) − e^ε Φ(−Δ₂/(2σ) − εσ/Δ₂) ≤ δ, exact for every ε > 0.

``plot_gaussian_stddev`` also draws the classic formula *outside* its theorem (ε ≥ 1, where the
library raises ValueError) by evaluating the formula directly, and the exact δ(σ) it would
deliver, to show that it eventually breaks its promise (δ(σ) > δ near ε ≈ 8 for δ = 1e-5).

Multiplicative noise θ·(1 + ξ), ξ ~ N(0, σ²) (article §3.1, claim C1) is not DP: for θ = 0 the
output is exactly 0, and for θ ∈ {a, b} the outputs N(a, a²σ²), N(b, b²σ²) differ in spread, which
no amount of noise hides. ``distinguisher_success`` plays the likelihood-ratio test (optimal by the
Neyman–Pearson lemma) against both noise kinds; ``attacker_win_rate`` computes its success
without sampling (additive: Φ(√k·|a − b|/(2σ)); multiplicative: a numerical integral) and
``plot_attacker_win_rate`` draws it against σ (written s there, the slider "noise s"). Taught in
notebooks/03_gaussian_mechanism.ipynb.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from fldp_teach._validation import check_finite, check_open_unit, check_positive, check_positive_int
from fldp_teach.mechanisms import (
    add_gaussian_noise,
    analytic_gaussian_delta,
    analytic_gaussian_stddev,
    classic_gaussian_stddev,
    gaussian_privacy_loss,
    multiplicative_noise,
    multiplicative_privacy_loss,
)
from fldp_teach.plots import MIN_FONT_SIZE

__all__ = [
    "classic_formula_stddev",
    "plot_gaussian_stddev",
    "distinguisher_success",
    "plot_multiplicative_leak",
    "attacker_win_rate",
    "multiplicative_win_rate_limit",
    "plot_attacker_win_rate",
]


def classic_formula_stddev(*, epsilon, delta, l2_sensitivity=1.0) -> float:
    """Δ₂·sqrt(2 ln(1.25/δ))/ε evaluated for *any* ε > 0 — including ε ≥ 1, where Dwork & Roth's
    Thm A.1 does not apply and ``mechanisms.classic_gaussian_stddev`` raises. For plots only:
    it shows what the formula would give outside its theorem. Equal to the library's value for ε < 1."""
    epsilon = check_positive("epsilon", epsilon)
    delta = check_open_unit("delta", delta)
    if epsilon < 1:
        return classic_gaussian_stddev(epsilon=epsilon, delta=delta, l2_sensitivity=l2_sensitivity)
    return float(l2_sensitivity) * math.sqrt(2.0 * math.log(1.25 / delta)) / epsilon


@functools.lru_cache(maxsize=64)
def _stddev_curves(delta: float, l2_sensitivity: float, max_epsilon: float, points: int = 80):
    """ε grid, analytic σ, classic-formula σ and their exact δ(σ)/δ: computed once per (δ, Δ₂)
    so that moving the ε slider only moves the markers (each analytic σ is a bisection)."""
    grid = np.geomspace(0.05, max_epsilon, points)
    analytic = np.array([analytic_gaussian_stddev(epsilon=e, delta=delta, l2_sensitivity=l2_sensitivity)
                         for e in grid])
    classic = np.array([classic_formula_stddev(epsilon=e, delta=delta, l2_sensitivity=l2_sensitivity)
                        for e in grid])
    ratio_analytic = np.array([analytic_gaussian_delta(stddev=s, epsilon=e, l2_sensitivity=l2_sensitivity)
                               for s, e in zip(analytic, grid)]) / delta
    ratio_classic = np.array([analytic_gaussian_delta(stddev=s, epsilon=e, l2_sensitivity=l2_sensitivity)
                              for s, e in zip(classic, grid)]) / delta
    return grid, analytic, classic, ratio_analytic, ratio_classic


def plot_gaussian_stddev(epsilon, delta, *, l2_sensitivity=1.0, max_epsilon=10.0, axes=None) -> Figure:
    """Left: σ against ε for the classic calibration (solid for ε < 1, dotted beyond, where the
    library refuses it) and the analytic one; the chosen ε is marked. Right: the exact δ(σ) of
    each calibration divided by the target δ (Balle & Wang 2018, Thm 8); above 1 the promised
    (ε, δ) is violated.

    ``axes``: two matplotlib Axes, or None for a new 11×4 figure. Returns the Figure."""
    epsilon = check_positive("epsilon", epsilon)
    delta = check_open_unit("delta", delta)
    d2 = check_positive("l2_sensitivity", l2_sensitivity)
    if axes is None:
        fig = Figure(figsize=(11, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_s, ax_d = axes
    fig = ax_s.figure
    grid, analytic, classic, ratio_analytic, ratio_classic = _stddev_curves(
        delta, d2, float(max(max_epsilon, epsilon)))
    inside = grid[grid < 1]
    outside = grid[grid >= 1]
    ax_s.plot(grid, analytic, color="C0", label="analytic (Balle & Wang 2018)")
    ax_s.plot(inside, classic[grid < 1], color="C1", label="classic (Dwork & Roth Thm A.1), ε < 1")
    ax_s.plot(outside, classic[grid >= 1], color="C1", ls=":", label="classic formula, ε ≥ 1 (not a theorem)")
    ax_s.axvline(1.0, color="0.6", lw=1, ls="--")
    ax_s.plot([epsilon], [analytic_gaussian_stddev(epsilon=epsilon, delta=delta, l2_sensitivity=d2)], "o",
              color="C0")
    ax_s.plot([epsilon], [classic_formula_stddev(epsilon=epsilon, delta=delta, l2_sensitivity=d2)], "s",
              color="C1", mfc="none" if epsilon >= 1 else "C1")
    ax_s.set_xscale("log")
    ax_s.set_yscale("log")
    ax_s.set_xlabel(r"privacy parameter $\varepsilon$")
    ax_s.set_ylabel(rf"noise std $\sigma$ (Δ₂ = {d2:g})")
    ax_s.set_title(f"Gaussian noise for (ε, δ = {delta:.0e})")
    ax_s.legend(fontsize=MIN_FONT_SIZE, loc="lower left")
    ax_s.grid(True, which="both", alpha=0.3)

    ax_d.axhline(1.0, color="k", lw=1)
    ax_d.plot(grid, ratio_analytic, color="C0", lw=2.5, ls="--", label="analytic σ: exact δ(σ)/δ (= 1)")
    ax_d.plot(grid, ratio_classic, color="C1", label="classic formula σ: exact δ(σ)/δ")
    ax_d.axhspan(1.0, 1e3, color="C3", alpha=0.1, label="promise broken: δ(σ) > δ")
    ax_d.axvline(1.0, color="0.6", lw=1, ls="--")
    ax_d.axvline(epsilon, color="C3", lw=1, alpha=0.6)
    ax_d.set_xscale("log")
    ax_d.set_yscale("log")
    ax_d.set_ylim(min(ratio_classic.min(), 0.5) / 2, 1e2)
    ax_d.set_xlabel(r"privacy parameter $\varepsilon$")
    ax_d.set_ylabel(r"exact $\delta(\sigma)$ / target $\delta$")
    ax_d.set_title("Balle–Wang condition: is the promise kept?")
    ax_d.legend(fontsize=MIN_FONT_SIZE, loc="lower right")
    ax_d.grid(True, which="both", alpha=0.3)
    return fig


# ----------------------------------------------------------------------------- claim C1
def distinguisher_success(*, noise, value_a, value_b, stddev, releases=1, trials=2000, seed=0) -> float:
    """Success rate of the likelihood-ratio test telling θ = ``value_a`` from θ = ``value_b``.

    Each of ``trials`` games picks θ by a fair coin and releases ``releases`` independent noisy
    copies of θ, with ``noise="additive"`` (θ + N(0, σ²), ``add_gaussian_noise``) or
    ``noise="multiplicative"`` (θ(1 + ξ), ``multiplicative_noise``). The test sums the privacy
    losses of the copies (``gaussian_privacy_loss`` / ``multiplicative_privacy_loss``) and guesses
    a if the sum is > 0, b if < 0, a coin flip if 0 — the Neyman–Pearson optimal test. For the
    additive case the success is Φ(√k·|a − b|/(2σ)) with k = ``releases``."""
    if noise not in ("additive", "multiplicative"):
        raise ValueError(f"noise must be 'additive' or 'multiplicative', got {noise!r}")
    releases = check_positive_int("releases", releases)
    trials = check_positive_int("trials", trials)
    rng = np.random.default_rng(seed)
    is_a = rng.random(trials) < 0.5
    theta = np.where(is_a, float(value_a), float(value_b))[:, None] * np.ones((1, releases))
    if noise == "additive":
        y = add_gaussian_noise(theta, stddev=stddev, seed=rng)
        loss = gaussian_privacy_loss(y, value_a=value_a, value_b=value_b, stddev=stddev)
    else:
        y = multiplicative_noise(theta, stddev=stddev, seed=rng)
        loss = multiplicative_privacy_loss(y, value_a=value_a, value_b=value_b, stddev=stddev)
    total = loss.sum(axis=1)
    guess_a = np.where(total == 0, rng.random(trials) < 0.5, total > 0)
    return float(np.mean(guess_a == is_a))


def plot_multiplicative_leak(*, stddev=0.5, value_a=1.0, value_b=3.0, stddevs=None, releases=(1, 10),
                             trials=2000, seed=0, axes=None) -> Figure:
    """Claim C1. Left: outputs of θ(1 + ξ) for θ = 0 (all exactly 0) and θ = 1, and of the additive
    θ + N(0, σ²) for comparison, at σ = ``stddev``. Right: success of the optimal test telling
    θ = ``value_a`` from θ = ``value_b`` against the noise level σ, for each number of releases:
    additive noise drives it to ½, multiplicative noise does not.

    ``axes``: two matplotlib Axes, or None for a new 11×4 figure. Returns the Figure."""
    stddev = check_positive("stddev", stddev)
    stddevs = np.geomspace(0.1, 100.0, 13) if stddevs is None else np.asarray(stddevs, dtype=float)
    if axes is None:
        fig = Figure(figsize=(11, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_h, ax_s = axes
    fig = ax_h.figure
    rng = np.random.default_rng(seed)
    n = 5000
    mult_0 = multiplicative_noise(np.zeros(n), stddev=stddev, seed=rng)
    mult_1 = multiplicative_noise(np.ones(n), stddev=stddev, seed=rng)
    add_0 = add_gaussian_noise(np.zeros(n), stddev=stddev, seed=rng)
    bins = np.linspace(-4 * stddev - 0.5, 1 + 4 * stddev + 0.5, 60)
    ax_h.hist(add_0, bins=bins, density=True, alpha=0.35, color="C0", label="additive, θ = 0")
    ax_h.hist(mult_1, bins=bins, density=True, alpha=0.35, color="C1", label="multiplicative, θ = 1")
    height = ax_h.get_ylim()[1]
    ax_h.set_ylim(0, 1.45 * height)  # room for the legend
    ax_h.vlines(0.0, 0, height, color="C3", lw=3,
                label=f"multiplicative, θ = 0: {np.mean(mult_0 == 0):.0%} of outputs are exactly 0")
    ax_h.set_xlabel("released value y")
    ax_h.set_ylabel("density")
    ax_h.set_title(f"One release at σ = {stddev:g}")
    ax_h.legend(fontsize=MIN_FONT_SIZE, loc="upper right")

    for k, ls in zip(releases, ["-", "--", ":", "-."]):
        add = [distinguisher_success(noise="additive", value_a=value_a, value_b=value_b, stddev=s,
                                     releases=k, trials=trials, seed=seed + 1) for s in stddevs]
        mult = [distinguisher_success(noise="multiplicative", value_a=value_a, value_b=value_b, stddev=s,
                                      releases=k, trials=trials, seed=seed + 2) for s in stddevs]
        ax_s.plot(stddevs, add, ls, color="C0", marker="o", ms=3, label=f"additive, {k} release(s)")
        ax_s.plot(stddevs, mult, ls, color="C1", marker="s", ms=3, label=f"multiplicative, {k} release(s)")
    ax_s.axhline(0.5, color="0.6", lw=1, ls="--", label="coin flip")
    ax_s.set_xscale("log")
    ax_s.set_ylim(0.45, 1.02)
    ax_s.set_xlabel(r"noise level $\sigma$")
    ax_s.set_ylabel("P[optimal test is right]")
    ax_s.set_title(f"Telling θ = {value_a:g} from θ = {value_b:g}: more noise vs spread")
    ax_s.legend(fontsize=MIN_FONT_SIZE, loc="center left")
    ax_s.grid(True, which="both", alpha=0.3)
    return fig


# ----------------------------------------------------------------------------- claim C1: the win rate, exactly
def _check_pair(value_a, value_b):
    return check_finite("value_a", value_a), check_finite("value_b", value_b)


def _normal_quadratic_positive(c2, c1, c0, mean, std):
    """P[c2·m² + c1·m + c0 > 0] for m ~ N(mean, std²), exactly (from the roots of the quadratic);
    ``c0`` may be an array. Used by :func:`attacker_win_rate`."""
    c0 = np.asarray(c0, dtype=float)
    if c2 == 0.0:
        if c1 == 0.0:
            return (c0 > 0).astype(float)
        z = (-c0 / c1 - mean) / std
        return stats.norm.sf(z) if c1 > 0 else stats.norm.cdf(z)
    disc = c1 * c1 - 4.0 * c2 * c0
    two_roots = disc > 0
    sq = np.sqrt(np.where(two_roots, disc, 0.0))
    q = -0.5 * (c1 + np.copysign(sq, c1 if c1 != 0 else 1.0))  # stable roots q/c2 and c0/q
    q = np.where(q == 0.0, 1.0, q)
    r1, r2 = q / c2, c0 / q
    lo, hi = np.minimum(r1, r2), np.maximum(r1, r2)
    inside = stats.norm.cdf((hi - mean) / std) - stats.norm.cdf((lo - mean) / std)
    between = inside if c2 < 0 else 1.0 - inside
    return np.where(two_roots, between, 1.0 if c2 > 0 else 0.0)


def attacker_win_rate(*, noise, value_a, value_b, stddev, releases=1, points=2000) -> float:
    """Probability that the optimal attacker tells θ = ``value_a`` from θ = ``value_b`` (fair coin
    prior) from ``releases`` = k independent releases — computed, not simulated (compare the
    Monte Carlo :func:`distinguisher_success`).

    The optimal test guesses a iff the summed privacy loss Λ = Σ_i ln[p_a(y_i)/p_b(y_i)] > 0
    (Neyman & Pearson 1933; with a fair prior its success is (1 + TV(P_a^k, P_b^k))/2, e.g. Dong,
    Roth & Su 2022, "Gaussian differential privacy", JRSS-B, §2).

    * ``noise="additive"``, y = θ + N(0, s²): ȳ is sufficient and ~ N(θ, s²/k), so the win rate is
      Φ(√k·|a − b|/(2s)) (Dong, Roth & Su 2022: one release is μ-GDP with μ = |a − b|/s, Cor. 3.3:
      k releases are √k·μ-GDP; the fair-prior success of G_μ is Φ(μ/2)). → ½ as s → ∞.
    * ``noise="multiplicative"``, y = θ(1 + ξ), ξ ~ N(0, s²), i.e. N(θ, θ²s²) for θ ≠ 0: with
      A = (1/b² − 1/a²)/(2s²), Λ/k = ln|b/a| + A·S/k + A·ȳ² + (1/a − 1/b)·ȳ/s², where S = Σ(y_i − ȳ)².
      Under θ, ȳ ~ N(θ, θ²s²/k) and S ~ θ²s²·χ²_{k−1} are independent (Cochran; Casella & Berger
      2002, Thm 5.3.1), so P_θ[Λ > 0] is, for each S, a normal probability of the region where a
      quadratic in ȳ is positive (exact), averaged over ``points`` quantiles of S (k ≥ 2; for k = 1,
      S = 0 and the result is exact). If exactly one of a, b is 0, the release 0 happens only for
      θ = 0 and the win rate is 1 at every s (``mechanisms.multiplicative_noise``, counterexample).
    * a = b: ½ (nothing to tell).
    """
    if noise not in ("additive", "multiplicative"):
        raise ValueError(f"noise must be 'additive' or 'multiplicative', got {noise!r}")
    a, b = _check_pair(value_a, value_b)
    s = check_positive("stddev", stddev)
    k = check_positive_int("releases", releases)
    points = check_positive_int("points", points)
    if a == b:
        return 0.5
    if noise == "additive":
        return float(stats.norm.cdf(math.sqrt(k) * abs(a - b) / (2.0 * s)))
    if a == 0.0 or b == 0.0:
        return 1.0
    c2 = (1.0 / b**2 - 1.0 / a**2) / (2.0 * s**2)
    c1 = (1.0 / a - 1.0 / b) / s**2
    quantiles = stats.chi2.ppf((np.arange(points) + 0.5) / points, k - 1) if k > 1 else np.zeros(1)

    def guess_a(theta):
        spread = theta**2 * s**2 * quantiles  # S under θ
        c0 = math.log(abs(b / a)) + c2 * spread / k
        return float(np.mean(_normal_quadratic_positive(c2, c1, c0, theta, abs(theta) * s / math.sqrt(k))))

    return 0.5 * guess_a(a) + 0.5 * (1.0 - guess_a(b))


def multiplicative_win_rate_limit(*, value_a, value_b, releases=1) -> float:
    """The win rate of :func:`attacker_win_rate` for multiplicative noise as s → ∞: it does *not*
    go to ½. For large s the releases are ≈ θ·s·Z_i, so only the scale |θ| is left to test;
    with r = max(a², b²)/min(a², b²) the optimal test guesses the smaller |θ| iff Σ y_i²/(θ² s²)
    falls below the χ²_k threshold, giving ½[F_k(k ln r/(1 − 1/r)) + 1 − F_k(k ln r/(r − 1))],
    F_k the χ²_k CDF (Neyman–Pearson test of two normal scales). 1 if exactly one value is 0;
    ½ if |a| = |b|. → 1 as k grows."""
    a, b = _check_pair(value_a, value_b)
    k = check_positive_int("releases", releases)
    if (a == 0.0) != (b == 0.0):
        return 1.0
    if abs(a) == abs(b):
        return 0.5
    r = max(a * a, b * b) / min(a * a, b * b)
    small = stats.chi2.cdf(k * math.log(r) / (1.0 - 1.0 / r), k)
    large = stats.chi2.sf(k * math.log(r) / (r - 1.0), k)
    return float(0.5 * (small + large))


@functools.lru_cache(maxsize=64)
def _win_rate_curves(a: float, b: float, k: int, stddevs: tuple):
    add = np.array([attacker_win_rate(noise="additive", value_a=a, value_b=b, stddev=s, releases=k)
                    for s in stddevs])
    mult = np.array([attacker_win_rate(noise="multiplicative", value_a=a, value_b=b, stddev=s, releases=k)
                     for s in stddevs])
    return add, mult


def plot_attacker_win_rate(stddev, *, value_a=1.0, value_b=3.0, releases=1, stddevs=None, axes=None) -> Figure:
    """Claim C1 at one noise level s = ``stddev`` (the σ of the functions above).

    Left: densities of one release y for θ = a and θ = b under additive noise (N(θ, s²): the same
    shape, shifted) and multiplicative noise (N(θ, θ²s²): the spread gives θ away; a point mass at 0
    if θ = 0). Right: the optimal attacker's win rate (:func:`attacker_win_rate`) against s for
    k = ``releases``, with a marker at s; additive noise drives it to ½, multiplicative noise only
    down to :func:`multiplicative_win_rate_limit` (dotted).

    ``stddevs``: the s grid of the curves (default 10⁻² … 10², 61 points). ``axes``: two matplotlib
    Axes, or None for a new 11×4 figure. Returns the Figure."""
    s = check_positive("stddev", stddev)
    a, b = _check_pair(value_a, value_b)
    k = check_positive_int("releases", releases)
    grid = np.geomspace(1e-2, 1e2, 61) if stddevs is None else np.asarray(stddevs, dtype=float)
    for i, g in enumerate(grid):
        check_positive(f"stddevs[{i}]", g)
    if axes is None:
        fig = Figure(figsize=(11, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_d, ax_w = axes
    fig = ax_d.figure

    spreads = [(theta, s) for theta in (a, b)] + [(theta, abs(theta) * s) for theta in (a, b) if theta != 0]
    lo = min(m - 4 * sd for m, sd in spreads)
    hi = max(m + 4 * sd for m, sd in spreads)
    y = np.linspace(lo, hi, 600)
    for theta, ls in ((a, "-"), (b, "--")):
        # wide and pale: still visible where a multiplicative curve is the same (|θ| = 1)
        ax_d.plot(y, stats.norm.pdf(y, theta, s), ls, color="C0", lw=3, alpha=0.55,
                  label=f"additive, θ = {theta:g}")
    for theta, ls in ((a, "-"), (b, "--")):
        if theta != 0:
            ax_d.plot(y, stats.norm.pdf(y, theta, abs(theta) * s), ls, color="C1",
                      label=f"multiplicative, θ = {theta:g}")
    top = ax_d.get_ylim()[1]
    ax_d.set_ylim(0, 1.35 * top)  # room for the legend
    for theta in (a, b):
        if theta == 0:
            ax_d.vlines(0.0, 0, top, color="C3", lw=3, label="multiplicative, θ = 0: always exactly 0")
    ax_d.set_xlabel("released value y")
    ax_d.set_ylabel("density p(y)")
    ax_d.set_title(f"One release at noise s = {s:.3g}")
    ax_d.legend(fontsize=MIN_FONT_SIZE, loc="upper right")

    add, mult = _win_rate_curves(a, b, k, tuple(float(g) for g in grid))
    here = (attacker_win_rate(noise="additive", value_a=a, value_b=b, stddev=s, releases=k),
            attacker_win_rate(noise="multiplicative", value_a=a, value_b=b, stddev=s, releases=k))
    ax_w.plot(grid, add, color="C0", label="additive θ + N(0, s²)")
    ax_w.plot(grid, mult, color="C1", label="multiplicative θ(1 + N(0, s²))")
    ax_w.axhline(multiplicative_win_rate_limit(value_a=a, value_b=b, releases=k), color="C1", ls=":",
                 label="multiplicative, limit s → ∞")
    ax_w.axhline(0.5, color="0.6", lw=1, ls="--", label="coin flip ½")
    ax_w.plot([s], [here[0]], "o", color="C0")
    ax_w.plot([s], [here[1]], "s", color="C1")
    ax_w.axvline(s, color="C3", lw=1, alpha=0.5)
    ax_w.set_xscale("log")
    ax_w.set_ylim(0.45, 1.03)
    ax_w.set_xlabel("noise level s (log scale)")
    ax_w.set_ylabel("attacker's win rate P[right]")
    ax_w.set_title(f"Optimal attacker, θ = {a:g} vs {b:g}, {k} release{'s' if k > 1 else ''}")
    ax_w.legend(fontsize=MIN_FONT_SIZE, loc="lower left")
    ax_w.grid(True, which="both", alpha=0.3)
    return fig
