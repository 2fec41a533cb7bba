"""Figures of notebook 01 (what DP promises): the membership game and randomized response.

The membership game (the hypothesis-testing reading of DP; Wasserman & Zhou 2010, JASA,
Thm 2.4; Kairouz, Oh & Viswanath 2015, ICML, Thm 2.1). A person is in the data (D') or not
(D), each with probability ½; the adversary sees one output of an ε-DP mechanism M and guesses.
For any test with rejection region S, ε-DP gives P[M(D) ∈ S] ≤ e^ε P[M(D') ∈ S] and the same
with D, D' swapped, so every adversary's success probability obeys

    P[success] ≤ e^ε / (1 + e^ε)                                         (bound)

(equivalently the advantage 2·P[success] − 1 ≤ tanh(ε/2)). Randomized response with truth
probability p = e^ε/(1+e^ε) attains the bound: guessing the reported bit is right w.p. p.

A noisy count c + Lap(1/ε) (Δ₁ = 1) is ε-DP; the best (likelihood-ratio) test between counts
c and c + 1 guesses "present" iff the output exceeds c + ½. It errs when the noise passes ½
in the wrong direction, P[Lap(b) > ½] = ½ e^{−1/(2b)}, so with b = 1/ε

    P[success] = 1 − ½ e^{−ε/2}                                           (Laplace count)

below the bound for every ε > 0. Taught in notebooks/01_what_dp_promises.ipynb.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from fldp_teach._validation import check_positive, check_positive_int, check_unit_interval
from fldp_teach.mechanisms import (
    laplace_mechanism,
    randomized_response,
    randomized_response_estimate,
    randomized_response_standard_error,
    randomized_response_truth_probability,
)
from fldp_teach.plots import MIN_FONT_SIZE

__all__ = [
    "membership_success_bound",
    "laplace_count_attack_success",
    "simulate_laplace_count_game",
    "simulate_randomized_response_game",
    "plot_membership_game",
    "simulate_randomized_response_estimates",
    "plot_randomized_response",
]


def _new_axes(ax, figsize=(7, 4)):
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    return ax.figure, ax


# ----------------------------------------------------------------------------- membership game
def membership_success_bound(*, epsilon) -> float:
    """e^ε/(1 + e^ε): no adversary beats this success probability against an ε-DP mechanism
    with a ½–½ prior (Wasserman & Zhou 2010, Thm 2.4; Kairouz et al. 2015, Thm 2.1)."""
    epsilon = check_positive("epsilon", epsilon)
    return 1.0 / (1.0 + math.exp(-epsilon))


def laplace_count_attack_success(*, epsilon) -> float:
    """1 − ½e^{−ε/2}: success of the optimal threshold test (guess "in" iff y > c + ½) on a
    count released as c + Lap(1/ε) (Δ₁ = 1). Derived in the module docstring."""
    epsilon = check_positive("epsilon", epsilon)
    return 1.0 - 0.5 * math.exp(-epsilon / 2.0)


def simulate_laplace_count_game(*, epsilon, trials=20_000, count_without=41, seed=0) -> float:
    """Play the membership game ``trials`` times against ``laplace_mechanism`` on a count.

    Each trial flips a fair coin: the person is in (true count ``count_without + 1``) or out
    (``count_without``); the adversary sees the ε-DP noisy count and guesses "in" iff it exceeds
    ``count_without + ½``. Returns the fraction of right guesses (estimates
    :func:`laplace_count_attack_success`, standard error ≤ 0.5/sqrt(trials))."""
    trials = check_positive_int("trials", trials)
    rng = np.random.default_rng(seed)
    present = rng.random(trials) < 0.5
    true_counts = count_without + present.astype(float)
    noisy = laplace_mechanism(true_counts, epsilon=epsilon, l1_sensitivity=1.0, seed=rng)
    guess = noisy > count_without + 0.5
    return float(np.mean(guess == present))


def simulate_randomized_response_game(*, epsilon, trials=20_000, seed=0) -> float:
    """The membership game against randomized response: the person's bit (1 = in) is reported
    through ``randomized_response``; the adversary guesses the reported bit. Returns the
    fraction of right guesses (estimates the bound e^ε/(1 + e^ε), which RR attains)."""
    trials = check_positive_int("trials", trials)
    rng = np.random.default_rng(seed)
    bits = (rng.random(trials) < 0.5).astype(np.int64)
    reported = randomized_response(bits, epsilon=epsilon, seed=rng)
    return float(np.mean(reported == bits))


def plot_membership_game(epsilon, *, trials=20_000, max_epsilon=5.0, seed=0, ax=None) -> Figure:
    """Success probability of the membership adversary against ε: the DP bound e^ε/(1+e^ε),
    the optimal attack on a Laplace count (formula), and simulated games at ``epsilon``."""
    epsilon = check_positive("epsilon", epsilon)
    fig, ax = _new_axes(ax)
    grid = np.linspace(1e-3, max(max_epsilon, epsilon), 300)
    ax.plot(grid, [membership_success_bound(epsilon=e) for e in grid], color="C0",
            label=r"DP bound $e^\varepsilon/(1+e^\varepsilon)$ (= randomized response)")
    ax.plot(grid, [laplace_count_attack_success(epsilon=e) for e in grid], color="C1",
            label=r"best attack on count + Lap(1/ε): $1-\frac{1}{2}e^{-\varepsilon/2}$")
    ax.axhline(0.5, color="0.6", ls="--", lw=1, label="coin flip (no information)")
    sim_rr = simulate_randomized_response_game(epsilon=epsilon, trials=trials, seed=seed)
    sim_lap = simulate_laplace_count_game(epsilon=epsilon, trials=trials, seed=seed + 1)
    ax.plot([epsilon], [sim_rr], "s", color="C0", ms=8, mfc="none",
            label=f"simulated, randomized response ({trials} games)")
    ax.plot([epsilon], [sim_lap], "o", color="C1", ms=8, mfc="none",
            label=f"simulated, Laplace count ({trials} games)")
    ax.axvline(epsilon, color="C3", lw=1, alpha=0.6)
    ax.set_xlabel(r"privacy parameter $\varepsilon$")
    ax.set_ylabel("P[adversary guesses membership right]")
    ax.set_ylim(0.45, 1.01)
    ax.set_title("Membership game: no adversary beats the DP bound")
    ax.legend(loc="lower right", fontsize=MIN_FONT_SIZE)
    ax.grid(True, alpha=0.3)
    return fig


# ----------------------------------------------------------------------------- randomized response
def simulate_randomized_response_estimates(*, epsilon, num_examples=1000, true_proportion=0.3,
                                           repeats=400, seed=0) -> np.ndarray:
    """``repeats`` independent surveys: each samples ``num_examples`` people from a population
    with a proportion π = ``true_proportion`` of ones (i.i.d. Bernoulli(π) true bits), answers
    through ``randomized_response`` and returns ``randomized_response_estimate`` of each survey.
    This is the model of ``randomized_response_standard_error`` (reported bits i.i.d.
    Bernoulli(λ)), so the std of the returned estimates estimates that SE."""
    n = check_positive_int("num_examples", num_examples)
    repeats = check_positive_int("repeats", repeats)
    pi = check_unit_interval("true_proportion", true_proportion)
    rng = np.random.default_rng(seed)
    estimates = np.empty(repeats)
    for r in range(repeats):
        bits = (rng.random(n) < pi).astype(np.int64)
        estimates[r] = randomized_response_estimate(randomized_response(bits, epsilon=epsilon, seed=rng),
                                                    epsilon=epsilon)
    return estimates


def plot_randomized_response(epsilon, *, num_examples=1000, true_proportion=0.3, repeats=400,
                             max_epsilon=5.0, seed=0, axes=None) -> Figure:
    """Left: histogram of the RR estimates of π over ``repeats`` surveys at ``epsilon`` with the
    normal curve N(π, SE²) of the formula. Right: SE against ε, formula and the empirical SE.

    ``axes``: two matplotlib Axes, or None for a new 11×4 figure."""
    epsilon = check_positive("epsilon", epsilon)
    if axes is None:
        fig = Figure(figsize=(11, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    ax_hist, ax_se = axes
    fig = ax_hist.figure
    pi = check_unit_interval("true_proportion", true_proportion)
    est = simulate_randomized_response_estimates(epsilon=epsilon, num_examples=num_examples,
                                                 true_proportion=true_proportion, repeats=repeats, seed=seed)
    se = randomized_response_standard_error(true_proportion=pi, num_examples=num_examples, epsilon=epsilon)
    ax_hist.hist(est, bins=30, density=True, color="C0", alpha=0.6, label=f"{repeats} simulated surveys")
    xs = np.linspace(pi - 4 * se, pi + 4 * se, 200)
    ax_hist.plot(xs, np.exp(-0.5 * ((xs - pi) / se) ** 2) / (se * math.sqrt(2 * math.pi)), color="C1",
                 label=rf"N(π, SE²), SE = {se:.3f} (formula)")
    ax_hist.axvline(pi, color="k", lw=1, label=f"population π = {pi:.2f}")
    ax_hist.set_xlabel(r"estimate $\hat\pi$ of the proportion of ones")
    ax_hist.set_ylabel("density")
    ax_hist.set_title(f"Randomized response, ε = {epsilon:.2f}, n = {num_examples}")
    ax_hist.legend(fontsize=MIN_FONT_SIZE)

    grid = np.linspace(0.05, max(max_epsilon, epsilon), 200)
    ax_se.plot(grid, [randomized_response_standard_error(true_proportion=pi, num_examples=num_examples,
                                                         epsilon=e) for e in grid],
               color="C1", label="formula SE")
    ax_se.plot([epsilon], [est.std(ddof=1)], "o", color="C0", label="empirical SE (std of estimates)")
    ax_se.axhline(math.sqrt(pi * (1 - pi) / num_examples), color="0.5", ls="--", lw=1,
                  label=r"no privacy: $\sqrt{\pi(1-\pi)/n}$")
    ax_se.set_yscale("log")
    ax_se.set_xlabel(r"privacy parameter $\varepsilon$")
    ax_se.set_ylabel(r"standard error of $\hat\pi$")
    ax_se.set_title("The price of local privacy")
    ax_se.legend(fontsize=MIN_FONT_SIZE)
    ax_se.grid(True, which="both", alpha=0.3)
    return fig
