"""Rényi differential privacy (RDP): the RDP curves of three mechanisms and RDP → (ε, δ).

A mechanism M is (α, ρ)-RDP when D_α(M(D) ‖ M(D')) ≤ ρ for all neighbouring D, D', where
D_α(P‖Q) = log E_Q[(P/Q)^α] / (α − 1) is the Rényi divergence of order α (Mironov 2017,
"Rényi Differential Privacy", Definitions 3 and 4). We keep a whole curve ρ(α) on a grid of
orders: RDP composes by adding curves (Mironov 2017, Prop. 1), and a curve converts to
(ε, δ)-DP by minimising over the orders (:func:`epsilon_from_rdp`).

Pure numpy/scipy (layer 1, no TensorFlow). The events and the accountant that use these curves
are in :mod:`fldp_teach.accounting`. Taught in notebooks/08_rdp_accounting.ipynb.

Names: ``orders`` = α, ``noise_multiplier`` = z = σ/C, ``sampling_rate`` = q, ``scale`` = b.
"""
from __future__ import annotations

import decimal
import functools
import math

import numpy as np
from scipy import special

from fldp_teach._validation import (
    check_non_negative,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_unit_interval,
)

__all__ = [
    "DEFAULT_ORDERS",
    "check_orders",
    "rdp_gaussian",
    "rdp_laplace",
    "rdp_sampled_gaussian",
    "rdp_sampled_gaussian_without_replacement",
    "epsilon_from_rdp",
    "epsilon_and_order_from_rdp",
    "delta_from_rdp",
    "delta_and_order_from_rdp",
]

#: Rényi orders used by default. Fractional orders 1.05, 1.1, …, 1.95 and 2.0, 2.1, …, 10.0
#: (large ε, few noise), every integer 11 … 256 (the usual DP-SGD regime), and a few larger
#: orders (small ε, small δ). The spacing is below a few percent of α everywhere, so the
#: minimum over the grid is within a fraction of a percent of the minimum over all α > 1.
DEFAULT_ORDERS = np.concatenate(
    [
        np.round(1 + np.arange(1, 20) / 20, 2),  # 1.05 … 1.95
        np.round(2 + np.arange(0, 81) / 10, 1),  # 2.0 … 10.0
        np.arange(11, 257, dtype=float),  # 11 … 256
        np.array([320.0, 384.0, 448.0, 512.0, 640.0, 768.0, 1024.0]),
    ]
)
DEFAULT_ORDERS.setflags(write=False)


def check_orders(orders, *, allow_one: bool = False) -> np.ndarray:
    """Return ``orders`` as a 1-D float array; raise ``ValueError`` unless it is non-empty and
    every order is > 1 (≥ 1 with ``allow_one``), not NaN (+inf is allowed)."""
    if orders is None or isinstance(orders, (str, bytes)):
        raise ValueError(f"orders must be a non-empty 1-D sequence of numbers, got {orders!r}")
    try:
        a = np.atleast_1d(np.asarray(orders, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"orders must be a non-empty 1-D sequence of numbers, got {orders!r}") from None
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"orders must be a non-empty 1-D sequence, got {orders!r}")
    bad = np.isnan(a) | (a < 1 if allow_one else a <= 1)
    if bad.any():
        bound = ">= 1" if allow_one else "> 1"
        raise ValueError(f"orders must all be {bound}, got {a[bad][0]!r} in orders")
    return a


# ---------------------------------------------------------------------------- Gaussian, Laplace
def rdp_gaussian(*, noise_multiplier, orders) -> np.ndarray:
    """RDP of the Gaussian mechanism: ρ(α) = α / (2 z²), z = σ/Δ₂ (Mironov 2017, Prop. 7).

    Holds for every α ≥ 1 (α = 1 is the KL divergence 1/(2z²)); z = 0 (no noise) gives ∞.
    """
    z = check_non_negative("noise_multiplier", noise_multiplier)
    a = check_orders(orders, allow_one=True)
    if z == 0:
        return np.full_like(a, np.inf)
    with np.errstate(over="ignore"):
        return a / (2 * z * z)  # z * z: inf (RDP 0) for an astronomically large z, not OverflowError


def rdp_laplace(*, scale, l1_sensitivity, orders) -> np.ndarray:
    """RDP of the Laplace mechanism with scale b and sensitivity Δ₁, λ = b/Δ₁
    (Mironov 2017, Prop. 6, the table "Laplace mechanism"):

        α = 1:      ρ = 1/λ + exp(−1/λ) − 1
        1 < α < ∞:  ρ = log( α/(2α−1) · exp((α−1)/λ) + (α−1)/(2α−1) · exp(−α/λ) ) / (α − 1)
        α = ∞:      ρ = 1/λ   (the pure ε-DP guarantee ε = Δ₁/b)

    The middle line is evaluated in log space (``logaddexp``) so large α/λ cannot overflow.
    """
    b = check_positive("scale", scale)
    d = check_positive("l1_sensitivity", l1_sensitivity)
    a = check_orders(orders, allow_one=True)
    inv_lam = d / b  # 1/λ = Δ₁/b
    out = np.empty_like(a)
    one, inf = a == 1, np.isinf(a)
    mid = ~(one | inf)
    out[one] = inv_lam + math.expm1(-inv_lam)
    out[inf] = inv_lam
    am = a[mid]
    log_mix = np.logaddexp(
        np.log(am / (2 * am - 1)) + (am - 1) * inv_lam,
        np.log((am - 1) / (2 * am - 1)) - am * inv_lam,
    )
    out[mid] = log_mix / (am - 1)
    return out


# ------------------------------------------------------------------ the sampled Gaussian (SGM)
#
# Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism"
# (arXiv:1908.10530), §3: with Poisson sampling at rate q and noise σ = z (sensitivity 1), the
# RDP at order α is log(A_α)/(α − 1) with
#
#     A_α = E_{x∼μ₀} [ ((1 − q) + q·μ₁(x)/μ₀(x))^α ],   μ₀ = N(0, σ²), μ₁ = N(1, σ²),
#
# the larger of the two directions: their §3 shows that A_α ≥ B_α = E_μ[(μ₀/μ)^α] for α ≥ 1.
# μ₁(x)/μ₀(x) = exp((2x − 1)/(2σ²)).


def _log_a_minus_one_integer(q: float, sigma: float, orders: np.ndarray) -> np.ndarray:
    """log(A_α − 1) for integer α ≥ 2 by the binomial expansion (MTZ 2019, §3):

        A_α = Σ_{k=0}^{α} C(α, k) (1 − q)^{α−k} q^k exp((k² − k)/(2σ²)).

    Subtracting 1 = Σ_k C(α, k)(1 − q)^{α−k} q^k term by term (the k = 0, 1 terms vanish):

        A_α − 1 = Σ_{k=2}^{α} C(α, k) (1 − q)^{α−k} q^k (exp((k² − k)/(2σ²)) − 1),

    every term positive, summed in log space (a log-sum-exp per order, all orders at once).
    Working with A_α − 1 keeps full relative precision when A_α − 1 is tiny (small q, large
    σ), where log(A_α) computed from A_α itself would lose up to all its digits.
    """
    alpha, k_index, log_comb, starts = _binomial_layout(tuple(int(a) for a in orders))
    k = np.arange(int(orders.max()) + 1, dtype=float)
    c = (k * k - k) / (2 * sigma**2)  # > 0 for k ≥ 2
    with np.errstate(divide="ignore"):
        # per k: k·log(q/(1 − q)) + log(e^c − 1), with log(e^c − 1) = c + log(1 − e^{−c})
        per_k = k * (math.log(q) - math.log1p(-q)) + c + np.log(-np.expm1(-c))
    log_terms = log_comb + alpha * math.log1p(-q) + per_k[k_index]
    return _segment_logsumexp(log_terms, starts)


@functools.lru_cache(maxsize=32)
def _binomial_layout(int_orders: tuple):
    """Flattened (α, k, log C(α, k)) for k = 2..α of every order, and each order's start index."""
    sizes = np.array(int_orders, dtype=np.int64) - 1
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    alpha = np.repeat(np.array(int_orders, dtype=float), sizes)
    k_index = 2 + np.arange(sizes.sum()) - np.repeat(starts, sizes)
    k = k_index.astype(float)
    log_comb = special.gammaln(alpha + 1) - special.gammaln(k + 1) - special.gammaln(alpha - k + 1)
    for arr in (alpha, k_index, log_comb, starts):
        arr.setflags(write=False)
    return alpha, k_index, log_comb, starts


def _segment_logsumexp(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """log Σ exp(values) over consecutive segments beginning at ``starts``, computed as
    m + log Σ exp(values − m) with m the segment maximum (no overflow, no underflow of the max)."""
    m = np.maximum.reduceat(values, starts)
    sizes = np.diff(np.append(starts, values.size))
    return m + np.log(np.add.reduceat(np.exp(values - np.repeat(m, sizes)), starts))


def _log_binomial_excess(w: np.ndarray, q: float, a: np.ndarray) -> np.ndarray:
    """log((1 + u)^α − 1 − αu) for u = q(e^w − 1) > −1, α > 1 (≥ 0 by convexity), without
    cancellation or overflow (u itself overflows for large w, so large u is handled by logs):

        |αu| < 1e-3:  the binomial series Σ_{k=2}^{8} C(α, k) u^k (terms shrink by < 1e-3 each);
        1 + αu ≤ 0:   log(e^L + (−1 − αu)) with L = α log(1 + u), a sum of two positives;
        otherwise:    L + log(1 − e^{log(1 + αu) − L})  (relative error ≲ 1e-11),

    where u or αu overflows: log(1 + u) = logaddexp(log(1 − q), log q + w),
    log(1 + αu) = logaddexp(0, log α + log u), log u = log q + w + log(1 − e^{−w}).
    """
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        u = q * np.expm1(w)  # may be +inf: only used where it is small or negative
        log1p_u = np.where(np.isfinite(u), np.log1p(np.where(np.isfinite(u), u, 0.0)),
                           np.logaddexp(math.log1p(-q), math.log(q) + w))
        log_u = np.where(w > 0, math.log(q) + w + np.log1p(-np.exp(-w)), -np.inf)
    u, log1p_u, log_u, a = np.broadcast_arrays(u, log1p_u, log_u, a)
    au = a * u
    small = np.abs(au) < 1e-3
    negative = ~small & (1 + au <= 0)
    general = ~(small | negative)
    out = np.empty(au.shape)
    with np.errstate(divide="ignore", over="ignore"):
        ug, ag = u[general], a[general]
        L = ag * log1p_u[general]
        aug = ag * ug
        log1p_au = np.where(np.isfinite(aug), np.log1p(np.where(np.isfinite(aug), aug, 0.0)),
                            np.logaddexp(0.0, np.log(ag) + log_u[general]))
        out[general] = L + np.log(-np.expm1(log1p_au - L))
        un, an = u[negative], a[negative]
        out[negative] = np.logaddexp(an * log1p_u[negative], np.log(-1 - an * un))
        us, as_ = u[small], a[small]
        coef, power, series = as_ * (as_ - 1) / 2, us * us, np.zeros(us.shape)
        for k in range(2, 9):
            series += coef * power
            coef, power = coef * (as_ - k) / (k + 1), power * us
        out[small] = np.log(series)
    return out


#: Target relative error of the trapezoidal rule for fractional orders (see below).
_QUADRATURE_TOL = 1e-13


def _log_a_minus_one_fractional(q: float, sigma: float, orders: np.ndarray) -> np.ndarray:
    """log(A_α − 1) for any real α > 1 by the trapezoidal rule on the defining integral.

    With w(x) = (2x − 1)/(2σ²), u(x) = ρ(x) − 1 = q·(e^w − 1) and E_{μ₀}[u] = 0,

        A_α − 1 = ∫ φ_σ(x) · [(1 + u(x))^α − 1 − α·u(x)] dx,

    a positive integrand (convexity of (1 + u)^α), summed in log space:
    log(A_α − 1) ≈ log h + logsumexp_j [log φ_σ(x_j) + log((1 + u_j)^α − 1 − α u_j)].

    Why this is exact to ~1e-12 (not a bound): the integrand is analytic in the strip
    |Im x| < πσ² (ρ stays off (−∞, 0] there) and grows at most like e^{y²/(2σ²)} inside it, so
    the trapezoidal rule with step h has error ≤ 2M/(e^{2πa/h} − 1) for a strip half-width
    a < πσ² (Trefethen & Weideman 2014, "The exponentially convergent trapezoidal rule", SIAM
    Review 56(3), Thm 5.1). We take a = min(0.99πσ², 2σ) and an h making this ≤ 1e-13 relative,
    with a safety factor for the ratio M/(A_α − 1) ≲ (1 + σ²)/((α − 1) q) when A_α − 1 is tiny.
    The mass lies between the bumps at 0 and α (both of width σ), so the grid
    [−Lσ, α_max + Lσ] with L ≥ 12 loses < e^{−L²/2}·2^α.
    MTZ 2019 §3.3 give an equivalent two-series expansion; dp-accounting sums the absolute
    values of its terms, an upper bound that is up to several times too large at small σ.
    """
    a_strip = min(0.99 * math.pi * sigma**2, 2.0 * sigma)
    safety = math.log1p((1 + sigma**2) / ((float(orders.min()) - 1) * q))
    h = 2 * math.pi * a_strip / (
        a_strip**2 / (2 * sigma**2) + math.log(3 / _QUADRATURE_TOL) + safety
    )
    a_max = float(orders.max())
    tail = max(12.0, math.sqrt(2 * (math.log(1 / _QUADRATURE_TOL) + a_max * math.log(2) + 5)))
    x = np.arange(-tail * sigma, a_max + tail * sigma + h, h)
    log_phi = -(x**2) / (2 * sigma**2) - math.log(sigma * math.sqrt(2 * math.pi))
    w = (2 * x - 1) / (2 * sigma**2)  # log(μ₁/μ₀)(x)
    out = np.empty(orders.size)
    chunk = max(1, 2_000_000 // x.size)  # bound the memory of the (orders × grid) matrix
    for i in range(0, orders.size, chunk):
        log_integrand = log_phi + _log_binomial_excess(w[None, :], q, orders[i:i + chunk, None])
        out[i:i + chunk] = math.log(h) + special.logsumexp(log_integrand, axis=1)
    return out


#: Above this noise multiplier the subsampled curves are replaced by the unsampled Gaussian's
#: α/(2z²) (a valid upper bound, below 1e-13 for every default order).
_Z_EXACT_MAX = 1e8
#: Orders above this get ρ = ∞ from the subsampled curves (ρ is non-decreasing in α, so ∞ is a
#: valid bound there; the exact sums over that many terms are out of reach).
_MAX_EXACT_ORDER = 1e6
#: Below this noise multiplier fractional orders of the sampled Gaussian use the chord bound
#: between integer orders instead of the quadrature (whose grid grows like 1/z²).
_Z_CHORD = 0.02


def rdp_sampled_gaussian(*, sampling_rate, noise_multiplier, orders) -> np.ndarray:
    """RDP of the Poisson-subsampled Gaussian mechanism (DP-SGD's step), exact at every order:

        ρ(α) = log(A_α) / (α − 1),  A_α = E_{x∼N(0,z²)} [((1 − q) + q·exp((2x − 1)/(2z²)))^α]

    (Mironov, Talwar & Zhang 2019, §3). Integer α: the binomial sum (exact);
    fractional α: the trapezoidal rule on the integral (relative error ~1e-12, see
    ``_log_a_minus_one_fractional``). q = 0 → 0; q = 1 → α/(2z²) (plain Gaussian); z = 0 → ∞ (unless
    q = 0); α = ∞ → ∞ (unless q = 0). Orders must be > 1.
    """
    q = check_unit_interval("sampling_rate", sampling_rate)
    z = check_non_negative("noise_multiplier", noise_multiplier)
    a = check_orders(orders)
    if q == 0:
        return np.zeros_like(a)
    if z == 0:
        return np.full_like(a, np.inf)
    if q == 1 or z > _Z_EXACT_MAX:
        # beyond _Z_EXACT_MAX the unsampled Gaussian's α/(2z²) (an upper bound: sampling only
        # helps) is below 1e-13, and the exact sums would overflow
        return rdp_gaussian(noise_multiplier=z, orders=a)
    out = np.full_like(a, np.inf)
    finite = np.isfinite(a) & (a <= _MAX_EXACT_ORDER)  # larger orders: ∞, a valid bound (ρ grows with α)
    integer = finite & (a == np.floor(a))
    fractional = finite & ~integer
    log_a_minus_one = np.empty_like(a)
    if integer.any():
        log_a_minus_one[integer] = _log_a_minus_one_integer(q, z, a[integer])
    if fractional.any() and z >= _Z_CHORD:
        log_a_minus_one[fractional] = _log_a_minus_one_fractional(q, z, a[fractional])
    # log A = log(1 + (A − 1)) = logaddexp(0, log(A − 1)), accurate for tiny and huge A − 1.
    exact = finite & ~(fractional & (z < _Z_CHORD))
    out[exact] = np.logaddexp(0.0, log_a_minus_one[exact]) / (a[exact] - 1)
    if fractional.any() and z < _Z_CHORD:
        # tiny noise: the quadrature grid would need ~1/z² points. log A_α = log E[e^{α·log ρ}]
        # is convex in α, so the chord between the neighbouring integer orders bounds it
        # (as for sampling without replacement below; log A_1 = 0); ε is in the thousands here
        fa = a[fractional]
        lower, upper = np.floor(fa), np.ceil(fa)
        needed = np.unique(np.concatenate([lower, upper]))
        needed = needed[needed >= 2]
        log_a = dict(zip(needed.tolist(),
                         np.logaddexp(0.0, _log_a_minus_one_integer(q, z, needed)).tolist()))
        log_a[1.0] = 0.0
        t = fa - lower
        chord = np.array([(1 - ti) * log_a[lo] + ti * log_a[hi]
                          for ti, lo, hi in zip(t, lower.tolist(), upper.tolist())])
        out[fractional] = chord / (fa - 1)
    return out


# ------------------------------------------ the Gaussian on a sample drawn WITHOUT replacement
#
# Wang, Balle & Kasiviswanathan 2019, "Subsampled Rényi Differential Privacy and Analytical
# Moments Accountant" (AISTATS; full version arXiv:1808.00087), "WBK 2019" below. Each step
# draws a uniformly random subset of exactly m of the K records (or clients), q = m/K, and the
# neighbouring relation is REPLACE-ONE: K is public and D' is D with one record replaced.
# (Poisson sampling, above, is analysed for add/remove neighbours: the two ε are not the same
# statement.) Implemented as dp-accounting does (``_compute_rdp_sample_wor_gaussian``), in log
# space, with the forward differences computed without cancellation.

#: Integer orders up to which the strengthened bound (WBK 2019, Thm 27) is used, as in
#: dp-accounting; above it Theorem 9's terms alone (also a valid bound, and cheaper).
_WOR_STRENGTHENED_MAX_ORDER = 256
#: Most decimal digits spent on the central moments (see ``_log_even_central_moments``).
_WOR_MAX_DIGITS = 1000


@functools.lru_cache(maxsize=32)
def _log_even_central_moments(sigma: float, k_max: int) -> np.ndarray:
    """log E[(ℓ − 1)^k] at every even k = 2, 4, …, k_max (entry k of the result, NaN at odd k),
    an upper bound accurate to ~1e-25 relative, where ℓ = exp((2x − 1)/(2σ²)), x ∼ N(0, σ²),
    is the likelihood ratio of the Gaussian mechanism with sensitivity 1.

    E[ℓ^j] = exp(j(j − 1)/(2σ²)) (the Gaussian moment generating function), so by the
    binomial theorem

        E[(ℓ − 1)^k] = Σ_{j=0}^{k} (−1)^{k−j} C(k, j) exp(j(j − 1)/(2σ²)),

    the k-th forward difference at 0 of j ↦ exp(j(j − 1)/(2σ²)) that WBK 2019 (Thm 27) and
    dp-accounting (``_get_forward_diffs``) use. The alternating sum cancels badly when σ is
    large (terms ~2^k, result ~(k − 1)!!·σ^{−k}), so we sum it in decimal arithmetic with
    enough digits: the digits lost are at most log10(Σ|terms|) − log10(result), and
    result ≥ (E[(ℓ − 1)²])^{k/2} = (e^{1/σ²} − 1)^{k/2} (Lyapunov's inequality) fixes the
    precision in advance. We return sum + (bound on the rounding error) ≥ the true value, so
    capping the precision at ``_WOR_MAX_DIGITS`` (σ ≳ 10⁴) only loosens the bound, never
    breaks it. When g(k_max) would overflow decimal's exponent range (σ ≲ 1e-7) we return +∞:
    the minimum in Thm 27 then picks Theorem 9's term.
    """
    out = np.full(k_max + 1, np.nan)
    even = range(2, k_max + 1, 2)
    c = 1.0 / (2.0 * sigma**2)
    if c * k_max * (k_max - 1) > 1e17:
        out[2::2] = np.inf
        return out
    j = np.arange(k_max + 1, dtype=float)
    log_g = c * j * (j - 1)
    variance = math.expm1(2 * c)  # E[(ℓ − 1)²] = e^{1/σ²} − 1
    log_variance = math.log(variance) if variance > 0 else -math.inf
    digits = 0.0
    for k in even:
        log_comb = special.gammaln(k + 1) - special.gammaln(j[:k + 1] + 1) - special.gammaln(k - j[:k + 1] + 1)
        lost = (special.logsumexp(log_comb + log_g[:k + 1]) - k / 2 * log_variance) / math.log(10)
        digits = max(digits, min(lost, float(_WOR_MAX_DIGITS)))
    prec = 30 + math.ceil(digits)
    ctx = decimal.Context(prec=prec, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    D = decimal.Decimal
    # g(i) = exp(c·i(i − 1)) by g(i + 1) = g(i)·r^i, r = e^{2c}: one exp, then products only.
    r = ctx.exp(ctx.divide(D(1), ctx.multiply(D(sigma), D(sigma))))
    g, step = [D(1)], D(1)
    for i in range(k_max):
        g.append(ctx.multiply(g[-1], step))
        step = ctx.multiply(step, r)
    unit = D(f"1e{1 - prec}")  # 10^{1 − prec} ≥ 2 × the relative error of one rounding
    for k in even:
        total = abs_total = D(0)
        for i in range(k + 1):
            term = ctx.multiply(D(math.comb(k, i)), g[i])
            total = ctx.add(total, term) if (k - i) % 2 == 0 else ctx.subtract(total, term)
            abs_total = ctx.add(abs_total, term)
        # relative error of g(i) = r^{i(i−1)/2}: ≤ (i(i − 1)/2·(2 + 2c) + 2i)·unit (r carries
        # ≤ (2 + 2c)·unit from rounding 1/σ² and exp); one more unit for the binomial product;
        # the k + 1 additions add ≤ unit·Σ|terms| each.
        factor = D(k * k) * (1 + ctx.divide(D(1), ctx.multiply(D(sigma), D(sigma)))) + 4 * k + 4
        upper = ctx.add(total, ctx.multiply(abs_total, ctx.multiply(factor, unit)))
        exponent = upper.adjusted()  # log(upper) = log(mantissa) + exponent·log 10, in floats
        out[k] = math.log(float(upper.scaleb(-exponent))) + exponent * math.log(10)
    return out


def _log_a_without_replacement(q: float, sigma: float, orders: np.ndarray) -> np.ndarray:
    """log A_α = (α − 1)·ρ(α), the WBK 2019 bound for integer orders α ≥ 2 (see
    :func:`rdp_sampled_gaussian_without_replacement`), all orders at once: one log-sum-exp of
    log C(α, j) + j·log q + log B_j per order, B_j the factor of the j-th term."""
    int_orders = tuple(int(a) for a in orders)
    alpha, j_index, log_comb, starts = _binomial_layout(int_orders)
    j_max = max(int_orders)
    j = np.arange(j_max + 1, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        # Theorem 9 (ε(∞) = ∞ for the Gaussian, so its inner minima are 2), ε(j) = j/(2σ²):
        #   j = 2:  min{4(e^{ε(2)} − 1), 2e^{ε(2)}},   j ≥ 3:  2·e^{(j − 1)ε(j)}
        log_b9 = math.log(2) + (j - 1) * j / (2 * sigma**2)
        log_b9[2] = min(math.log(4) + np.log(np.expm1(1 / sigma**2)), math.log(2) + 1 / sigma**2)
        # Theorem 27 (strengthened): also ≤ 4·E[(ℓ − 1)^j] for even j and
        # 4·sqrt(E[(ℓ − 1)^{j−1}]·E[(ℓ − 1)^{j+1}]) for odd j (dp-accounting's delta_lo, delta_hi).
        log_b27 = log_b9.copy()
        j27 = min(j_max, _WOR_STRENGTHENED_MAX_ORDER)
        if j27 >= 3:
            log_m = _log_even_central_moments(sigma, 2 * math.ceil(j27 / 2))
            jj = np.arange(3, j27 + 1)
            lo, hi = 2 * (jj // 2), 2 * ((jj + 1) // 2)
            log_b27[jj] = np.minimum(log_b9[jj], math.log(4) + 0.5 * (log_m[lo] + log_m[hi]))
    log_b = np.where(alpha <= _WOR_STRENGTHENED_MAX_ORDER, log_b27[j_index], log_b9[j_index])
    log_terms = log_comb + j_index * math.log(q) + log_b
    with np.errstate(invalid="ignore", over="ignore"):
        log_a = np.logaddexp(0.0, _segment_logsumexp(log_terms, starts))
    return np.where(np.isnan(log_a), np.inf, log_a)  # NaN only from ∞ − ∞: a term is ∞


def rdp_sampled_gaussian_without_replacement(
    *, sample_size, population_size, noise_multiplier, orders
) -> np.ndarray:
    """RDP bound of the Gaussian mechanism run on m of K records drawn uniformly WITHOUT
    replacement (e.g. fixed-m client sampling in FedAvg), for REPLACE-ONE neighbours.

    Theorem (WBK 2019, Theorem 9). Let M be (α, ε(α))-RDP under replace-one on data sets of
    size m for every integer α ≥ 2, and q = m/K. Then M applied to a uniformly random m-subset
    of a K-record data set is (α, ε'(α))-RDP under replace-one, with

        ε'(α) ≤ 1/(α − 1) · log(1 + q² C(α,2) min{4(e^{ε(2)} − 1), e^{ε(2)} min{2, (e^{ε(∞)} − 1)²}}
                                   + Σ_{j=3}^{α} q^j C(α,j) e^{(j−1)ε(j)} min{2, (e^{ε(∞)} − 1)^j}).

    For the Gaussian ε(∞) = ∞, so both inner minima are 2. For α ≤ 256 we use, like
    dp-accounting, the strengthened form (WBK 2019, arXiv:1808.00087, Thm 27): the j-th factor
    is also bounded by 4·E[(ℓ − 1)^j] (j even) or 4·sqrt(E[(ℓ − 1)^{j−1}]·E[(ℓ − 1)^{j+1}])
    (j odd), ℓ the Gaussian likelihood ratio (``_log_even_central_moments``). Fractional α:
    log A_α = (α − 1)ε'(α) is convex in α, so the chord between ⌊α⌋ and ⌈α⌉ bounds it
    (WBK 2019, Corollary 10; log A_1 = 0). Equal to dp-accounting's
    ``SampledWithoutReplacementDpEvent(K, m, GaussianDpEvent(z/2))`` under
    ``NeighboringRelation.REPLACE_ONE``.

    Convention: ``noise_multiplier`` is z = σ/C, C the clip norm of one record's contribution
    (the course's notation). Replacing one record changes a sum of clipped contributions by up to 2C, so
    the base mechanism is a Gaussian with multiplier z/2: ε(α) = α/(2(z/2)²) = 2α/z², four
    times the add/remove figure. m = K (no sampling) gives exactly 2α/z²; z = 0 gives ∞;
    α = ∞ gives ∞. Orders must be > 1.
    """
    population = check_positive_int("population_size", population_size)
    sample = check_positive_int("sample_size", sample_size)
    if sample > population:
        raise ValueError(
            f"sample_size must be <= population_size ({population}), got {sample_size!r}"
        )
    z = check_non_negative("noise_multiplier", noise_multiplier)
    a = check_orders(orders)
    if z == 0:
        return np.full_like(a, np.inf)
    sigma = z / 2  # the noise relative to the replace-one sensitivity 2C
    if sample == population or z > _Z_EXACT_MAX:  # no sampling, or the unsampled upper bound (see above)
        return rdp_gaussian(noise_multiplier=sigma, orders=a)
    q = sample / population
    finite = np.isfinite(a) & (a <= _MAX_EXACT_ORDER)  # larger orders: ∞, a valid bound (ρ grows with α)
    lower, upper = np.floor(a[finite]), np.ceil(a[finite])
    needed = np.unique(np.concatenate([lower, upper]))
    needed = needed[needed >= 2]
    log_a = dict(zip(needed.tolist(), _log_a_without_replacement(q, sigma, needed).tolist()))
    log_a[1.0] = 0.0
    t = a[finite] - lower
    chord = np.array([(1 - ti) * log_a[lo] + ti * log_a[hi] if ti > 0 else log_a[lo]
                      for ti, lo, hi in zip(t, lower.tolist(), upper.tolist())])
    out = np.full_like(a, np.inf)
    out[finite] = chord / (a[finite] - 1)
    return out


# ------------------------------------------------------------------------- RDP → (ε, δ)
_CONVERSIONS = ("improved", "classic")


def _check_curve(orders, rdp):
    a = check_orders(orders)
    if rdp is None or isinstance(rdp, (str, bytes)):
        raise ValueError(f"rdp must be a sequence of numbers, one per order, got {rdp!r}")
    try:
        r = np.atleast_1d(np.asarray(rdp, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"rdp must be a sequence of numbers, one per order, got {rdp!r}") from None
    if r.shape != a.shape:
        raise ValueError(f"rdp must have one value per order ({a.size}), got shape {r.shape}")
    if np.isnan(r).any() or (r < 0).any():
        raise ValueError(f"rdp must be >= 0 and not NaN, got {r[np.isnan(r) | (r < 0)][0]!r}")
    return a, r


def _check_conversion(conversion):
    if conversion not in _CONVERSIONS:
        raise ValueError(f"conversion must be 'improved' or 'classic', got {conversion!r}")


def epsilon_and_order_from_rdp(*, orders, rdp, delta, conversion="improved") -> tuple[float, float]:
    """(ε, optimal α) for a target δ; see :func:`epsilon_from_rdp`."""
    a, r = _check_curve(orders, rdp)
    d = check_open_unit("delta", delta)
    _check_conversion(conversion)
    with np.errstate(invalid="ignore", divide="ignore"):
        if conversion == "classic":
            eps = r + math.log(1 / d) / (a - 1)
        else:
            eps = r + np.log1p(-1 / a) - (math.log(d) + np.log(a)) / (a - 1)
    eps = np.where(np.isinf(a), r, eps)  # α = ∞: ε = ρ(∞), the pure-DP bound
    eps = np.where(np.isnan(eps), np.inf, eps)
    i = int(np.argmin(eps))
    return max(0.0, float(eps[i])), float(a[i])


def epsilon_from_rdp(*, orders, rdp, delta, conversion="improved") -> float:
    """Smallest ε such that an RDP curve ρ(α) implies (ε, δ)-DP.

    ``"classic"``:  ε = min_α ρ(α) + log(1/δ)/(α − 1)                       (Mironov 2017, Prop. 3)
    ``"improved"``: ε = min_α ρ(α) + log((α − 1)/α) − (log δ + log α)/(α − 1)
                    (Balle, Barthe, Gaboardi, Hsu & Sato 2020, Thm 21; Canonne, Kamath & Steinke
                    2020, Prop. 12; what dp-accounting uses). Never larger than the classic one.

    A negative minimum means (0, δ)-DP: the result is clipped at 0.
    """
    return epsilon_and_order_from_rdp(orders=orders, rdp=rdp, delta=delta, conversion=conversion)[0]


def delta_and_order_from_rdp(*, orders, rdp, epsilon, conversion="improved") -> tuple[float, float]:
    """(δ, optimal α) for a target ε; see :func:`delta_from_rdp`."""
    a, r = _check_curve(orders, rdp)
    e = check_positive("epsilon", epsilon)
    _check_conversion(conversion)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if conversion == "classic":
            log_delta = (a - 1) * (r - e)
        else:
            log_delta = (a - 1) * (r - e + np.log1p(-1 / a)) - np.log(a)
    log_delta = np.where(np.isinf(a), np.where(r <= e, -np.inf, 0.0), log_delta)
    log_delta = np.where(np.isnan(log_delta), 0.0, log_delta)
    i = int(np.argmin(log_delta))
    return math.exp(min(0.0, float(log_delta[i]))), float(a[i])


def delta_from_rdp(*, orders, rdp, epsilon, conversion="improved") -> float:
    """Smallest δ such that an RDP curve implies (ε, δ)-DP: the two conversions of
    :func:`epsilon_from_rdp` solved for δ,

    ``"classic"``:  δ = min_α exp((α − 1)(ρ(α) − ε))
    ``"improved"``: δ = min_α exp((α − 1)(ρ(α) − ε + log(1 − 1/α)) − log α)

    (same sources), capped at 1.
    """
    return delta_and_order_from_rdp(orders=orders, rdp=rdp, epsilon=epsilon, conversion=conversion)[0]
