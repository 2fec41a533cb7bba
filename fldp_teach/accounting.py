"""Privacy accounting: events ("what happened") and an RDP accountant ("what it cost").

An *event* is a small frozen record of a noisy computation: ``Gaussian``, ``SampledGaussian``
(DP-SGD / DP-FedAvg with Poisson sampling), ``SampledWithoutReplacementGaussian`` (exactly m of
K clients per round, replace-one neighbours), ``Laplace``, ``ShuffledGaussian`` (shuffled
fixed-size batches). The :class:`RdpAccountant` turns each event into an RDP curve (the maths
is in :mod:`fldp_teach.rdp`), adds the curves (RDP composes additively, Mironov 2017 Prop. 1)
and converts the total to (ε, δ). Its ledger keeps every event in order with an optional label,
so a schedule that changes the noise during training (the article's §3.2 step 7) is charged
phase by phase::

    >>> acc = RdpAccountant()
    >>> _ = acc.compose(SampledGaussian(noise_multiplier=1.1, sampling_rate=256 / 60000,
    ...                                 steps=14063), label="60 epochs")
    >>> round(acc.epsilon(delta=1e-5, conversion="classic"), 2)
    3.01

Also here: :func:`dp_sgd_epsilon`, :func:`calibrate_noise_multiplier`,
:func:`fixed_size_sampling_epsilon`, and naive / advanced
composition for comparison. Layer 1 (numpy/scipy only). Taught in
notebooks/08_rdp_accounting.ipynb.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import math
from typing import Union

import numpy as np

from fldp_teach._validation import (
    check_non_negative,
    check_non_negative_int,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_unit_interval,
)
from fldp_teach.rdp import (  # noqa: F401  (re-exported: the accounting API in one place)
    DEFAULT_ORDERS,
    check_orders,
    delta_and_order_from_rdp,
    delta_from_rdp,
    epsilon_and_order_from_rdp,
    epsilon_from_rdp,
    rdp_gaussian,
    rdp_laplace,
    rdp_sampled_gaussian,
    rdp_sampled_gaussian_without_replacement,
)

__all__ = [
    "DEFAULT_ORDERS",
    "rdp_gaussian",
    "rdp_laplace",
    "rdp_sampled_gaussian",
    "rdp_sampled_gaussian_without_replacement",
    "epsilon_from_rdp",
    "epsilon_and_order_from_rdp",
    "delta_from_rdp",
    "delta_and_order_from_rdp",
    "Gaussian",
    "SampledGaussian",
    "SampledWithoutReplacementGaussian",
    "Laplace",
    "ShuffledGaussian",
    "Event",
    "LedgerEntry",
    "event_rdp",
    "poisson_equivalent",
    "repetitions",
    "with_repetitions",
    "RdpAccountant",
    "dp_sgd_epsilon",
    "calibrate_noise_multiplier",
    "fixed_size_sampling_epsilon",
    "naive_composition",
    "advanced_composition",
]


# ------------------------------------------------------------------------------------ events
def _set(record, name, check, **kwargs):
    """Validate a field of a frozen event and store it as a plain float/int (JSON-ready)."""
    object.__setattr__(record, name, check(name, getattr(record, name), **kwargs))


@dataclasses.dataclass(frozen=True)
class Gaussian:
    """``steps`` runs of the Gaussian mechanism with noise σ = z·Δ₂ on the full data."""

    noise_multiplier: float
    steps: int = 1

    def __post_init__(self):
        _set(self, "noise_multiplier", check_non_negative)
        _set(self, "steps", check_non_negative_int)


@dataclasses.dataclass(frozen=True)
class SampledGaussian:
    """``steps`` runs of the Gaussian mechanism on a Poisson sample: each example joins each
    step independently with probability q (DP-SGD of Abadi et al. 2016; DP-FedAvg's clients)."""

    noise_multiplier: float
    sampling_rate: float
    steps: int = 1

    def __post_init__(self):
        _set(self, "noise_multiplier", check_non_negative)
        _set(self, "sampling_rate", check_unit_interval)
        _set(self, "steps", check_non_negative_int)


@dataclasses.dataclass(frozen=True)
class SampledWithoutReplacementGaussian:
    """``steps`` runs of the Gaussian mechanism (noise σ = z·C on a sum of contributions
    clipped to C) on exactly ``sample_size`` = m of ``population_size`` = K records drawn
    uniformly without replacement: FedAvg's "m of K clients per round".

    Neighbours are REPLACE-ONE (K is public), so one round's sensitivity is 2C and its RDP is
    the bound of Wang, Balle & Kasiviswanathan 2019, Thm 9
    (:func:`fldp_teach.rdp.rdp_sampled_gaussian_without_replacement`). Not to be mixed in one
    accountant with ``SampledGaussian`` (add/remove neighbours): :class:`RdpAccountant` refuses.
    """

    noise_multiplier: float
    sample_size: int
    population_size: int
    steps: int = 1

    def __post_init__(self):
        _set(self, "noise_multiplier", check_positive)
        _set(self, "sample_size", check_positive_int)
        _set(self, "population_size", check_positive_int)
        _set(self, "steps", check_non_negative_int)
        if self.sample_size > self.population_size:
            raise ValueError(
                f"sample_size must be <= population_size ({self.population_size}), "
                f"got {self.sample_size}"
            )


@dataclasses.dataclass(frozen=True)
class Laplace:
    """``steps`` runs of the Laplace mechanism with scale b on a query of L1 sensitivity Δ₁."""

    scale: float
    l1_sensitivity: float = 1.0
    steps: int = 1

    def __post_init__(self):
        _set(self, "scale", check_positive)
        _set(self, "l1_sensitivity", check_positive)
        _set(self, "steps", check_non_negative_int)


@dataclasses.dataclass(frozen=True)
class ShuffledGaussian:
    """DP-SGD as usually implemented: each epoch shuffles the data and cuts it into fixed-size
    batches, so each example is in exactly one batch per epoch.

    Charged SOUNDLY, without any amplification: an example's gradient is seen once per epoch
    by a Gaussian mechanism with noise multiplier z, so the cost is ``epochs`` compositions of
    the Gaussian mechanism, ρ(α) = epochs·α/(2z²). Poisson-sampling accounting
    (:func:`poisson_equivalent`) gives a much smaller ε, but it is the ε of a different
    algorithm: Chua et al. 2024 ("How Private are DP-SGD Implementations?", ICML) show that
    for shuffled batches it can under-report the true ε. An accountant must never under-report.

    Which neighbours: this is sound for the *zero-out* notion of neighbouring datasets (one
    example replaced by a null example whose clipped gradient is 0; Kairouz et al. 2021,
    "Practical and Private (Deep) Learning without Sampling or Shuffling", ICML, §2), where the
    sum over a batch changes by at most C. Under add/remove neighbours the batch boundaries of
    the other examples move too, and under replace-one neighbours the sum changes by up to 2C
    (charge it as ``ShuffledGaussian(noise_multiplier=z/2, ...)``).
    """

    noise_multiplier: float
    batch_size: int
    num_examples: int
    epochs: int = 1

    def __post_init__(self):
        _set(self, "noise_multiplier", check_non_negative)
        _set(self, "batch_size", check_positive_int)
        _set(self, "num_examples", check_positive_int)
        _set(self, "epochs", check_non_negative_int)
        if self.batch_size > self.num_examples:
            raise ValueError(
                f"batch_size must be <= num_examples ({self.num_examples}), got {self.batch_size}"
            )


Event = Union[Gaussian, SampledGaussian, SampledWithoutReplacementGaussian, Laplace, ShuffledGaussian]
_EVENT_TYPES = {
    cls.__name__: cls
    for cls in (Gaussian, SampledGaussian, SampledWithoutReplacementGaussian, Laplace, ShuffledGaussian)
}
#: Sampled events whose RDP holds for one neighbouring relation only; the accountant refuses to
#: add the curves of two different relations (Gaussian and Laplace are relation-free: their
#: noise multiplier is relative to the sensitivity under the relation the user has in mind).
_NEIGHBOURS = {
    SampledGaussian: "add/remove",
    SampledWithoutReplacementGaussian: "replace-one",
}


def poisson_equivalent(event: ShuffledGaussian) -> SampledGaussian:
    """The Poisson-sampled event usually (and unsoundly) used to account for shuffled batches:
    q = B/N and T = ceil(epochs·N/B) steps (TF Privacy's ``compute_dp_sgd_privacy``).
    For teaching the gap only; charge the ``ShuffledGaussian`` itself."""
    if not isinstance(event, ShuffledGaussian):
        raise ValueError(f"event must be a ShuffledGaussian, got {event!r}")
    steps = math.ceil(event.epochs * event.num_examples / event.batch_size)
    return SampledGaussian(
        noise_multiplier=event.noise_multiplier,
        sampling_rate=event.batch_size / event.num_examples,
        steps=steps,
    )


def repetitions(event: Event) -> int:
    """How many times the event's mechanism runs: ``epochs`` of a ``ShuffledGaussian``, ``steps``
    of every other event."""
    if type(event).__name__ not in _EVENT_TYPES:
        raise ValueError(f"event must be one of {sorted(_EVENT_TYPES)}, got {event!r}")
    return event.epochs if isinstance(event, ShuffledGaussian) else event.steps


def with_repetitions(event: Event, count: int) -> Event:
    """The same event run ``count`` times (every other field unchanged)."""
    repetitions(event)  # validates the type
    field = "epochs" if isinstance(event, ShuffledGaussian) else "steps"
    return dataclasses.replace(event, **{field: check_non_negative_int("count", count)})


def event_rdp(event: Event, *, orders=DEFAULT_ORDERS) -> np.ndarray:
    """The RDP curve of an event: its number of repetitions T times one run's curve
    (RDP composes additively, Mironov 2017 Prop. 1), one multiplication, no loop over steps."""
    if isinstance(event, Gaussian):
        repeats, one = event.steps, rdp_gaussian(noise_multiplier=event.noise_multiplier, orders=orders)
    elif isinstance(event, SampledGaussian):
        repeats, one = event.steps, rdp_sampled_gaussian(
            sampling_rate=event.sampling_rate,
            noise_multiplier=event.noise_multiplier,
            orders=orders,
        )
    elif isinstance(event, SampledWithoutReplacementGaussian):
        repeats, one = event.steps, rdp_sampled_gaussian_without_replacement(
            sample_size=event.sample_size,
            population_size=event.population_size,
            noise_multiplier=event.noise_multiplier,
            orders=orders,
        )
    elif isinstance(event, Laplace):
        repeats, one = event.steps, rdp_laplace(
            scale=event.scale, l1_sensitivity=event.l1_sensitivity, orders=orders
        )
    elif isinstance(event, ShuffledGaussian):
        repeats, one = event.epochs, rdp_gaussian(noise_multiplier=event.noise_multiplier, orders=orders)
    else:
        raise ValueError(f"event must be one of {sorted(_EVENT_TYPES)}, got {event!r}")
    if repeats == 0:
        return np.zeros_like(np.asarray(one))
    return repeats * one


# ---------------------------------------------------------------------------- the accountant
@dataclasses.dataclass(frozen=True)
class LedgerEntry:
    """One line of the ledger: the event and an optional label (e.g. a training phase)."""

    event: Event
    label: str | None = None


class RdpAccountant:
    """Adds up the RDP curves of events and converts the total to (ε, δ).

    ``compose(event, label=None, merge=False)`` returns the accountant (calls chain); ``ledger``
    lists the events in order; ``rdp`` is the composed curve on ``orders``; ``epsilon(delta=...)``
    and ``delta(epsilon=...)`` convert it (:func:`fldp_teach.rdp.epsilon_from_rdp`);
    ``epsilon_if(event, delta=...)`` is the ε one more event would bring (a budget's check).
    ``save(path)`` writes JSON atomically (:func:`fldp_teach.checkpoint.atomic_write`: temporary
    file, fsync, rename, fsync of the folder); ``load(path)`` and ``from_json`` rebuild the
    accountant by composing the saved ledger again.

    The composed curve is a function of the ledger alone: ρ = Σ_entries count·ρ_one-run, summed
    in ledger order (``_prefix`` holds the sum over all entries but the last). So an accountant
    rebuilt from a ledger on disk reports the same ε to the last bit as the one that charged it
    step by step (``merge=True`` folds steps into one entry; adding ρ_one-run thirty times and
    multiplying it by thirty differ in the last bit).
    """

    def __init__(self, orders=DEFAULT_ORDERS):
        self._orders = check_orders(orders).copy()
        self._orders.setflags(write=False)
        self._rdp = np.zeros_like(self._orders)
        self._prefix = np.zeros_like(self._orders)  # Σ over every ledger entry but the last
        self._ledger: list[LedgerEntry] = []
        self._curves: dict = {}  # one run of an event -> its RDP curve on our orders

    @property
    def orders(self) -> np.ndarray:
        return self._orders

    @property
    def rdp(self) -> np.ndarray:
        """The composed RDP curve ρ(α), one value per order (a copy)."""
        return self._rdp.copy()

    @property
    def ledger(self) -> list[LedgerEntry]:
        return list(self._ledger)

    def _check_relation(self, event) -> None:
        relation = _NEIGHBOURS.get(type(event))
        for entry in self._ledger:
            other = _NEIGHBOURS.get(type(entry.event))
            if relation and other and relation != other:
                raise ValueError(
                    f"event {type(event).__name__} assumes {relation} neighbours but the ledger "
                    f"already holds {type(entry.event).__name__} ({other} neighbours): their "
                    "RDP curves bound different things and cannot be added"
                )

    def _curve(self, event) -> np.ndarray:
        """event_rdp(event) on our orders, one run's curve cached per event (a training loop
        charges the same one-step event thousands of times)."""
        one = with_repetitions(event, 1)
        curve = self._curves.get(one)
        if curve is None:
            curve = self._curves[one] = event_rdp(one, orders=self._orders)
        count = repetitions(event)
        return np.zeros_like(curve) if count == 0 else count * curve

    def _check_event(self, event, label) -> None:
        if label is not None and not isinstance(label, str):
            raise ValueError(f"label must be a string or None, got {label!r}")
        if type(event).__name__ not in _EVENT_TYPES:
            raise ValueError(f"event must be one of {sorted(_EVENT_TYPES)}, got {event!r}")
        self._check_relation(event)

    def _after(self, event, label, merge):
        """(merged?, prefix, last entry, ρ) after charging ``event``; nothing is changed yet."""
        last = self._ledger[-1] if self._ledger else None
        if (merge and last is not None and last.label == label and type(last.event) is type(event)
                and with_repetitions(last.event, 1) == with_repetitions(event, 1)):
            merged = with_repetitions(last.event, repetitions(last.event) + repetitions(event))
            return True, self._prefix, LedgerEntry(event=merged, label=label), self._prefix + self._curve(merged)
        prefix = self._prefix + self._curve(last.event) if last is not None else self._prefix
        return False, prefix, LedgerEntry(event=event, label=label), prefix + self._curve(event)

    def compose(self, event: Event, *, label: str | None = None, merge: bool = False) -> "RdpAccountant":
        """Charge ``event``. ``merge=True``: if the last ledger entry has the same label and the
        same event up to its repetition count (steps, or epochs), add the counts into that one
        entry instead of appending a line, so a loop that charges every step before running
        it keeps one ledger line per epoch or phase (the RDP is the same: it is additive)."""
        self._check_event(event, label)
        merged, self._prefix, entry, self._rdp = self._after(event, label, merge)
        if merged:
            self._ledger[-1] = entry
        else:
            self._ledger.append(entry)
        return self

    def epsilon_if(self, event: Event, *, delta, conversion="improved", label: str | None = None,
                   merge: bool = False) -> float:
        """The ε(δ) this accountant would report after ``compose(event, label=label,
        merge=merge)``, without charging it: what a budget checks *before* running the step
        that the event stands for (the same arithmetic, so the same bits)."""
        self._check_event(event, label)
        return epsilon_from_rdp(orders=self._orders, rdp=self._after(event, label, merge)[3],
                                delta=delta, conversion=conversion)

    def epsilon(self, *, delta, conversion="improved") -> float:
        return epsilon_from_rdp(orders=self._orders, rdp=self._rdp, delta=delta, conversion=conversion)

    def epsilon_and_order(self, *, delta, conversion="improved") -> tuple[float, float]:
        return epsilon_and_order_from_rdp(
            orders=self._orders, rdp=self._rdp, delta=delta, conversion=conversion
        )

    def delta(self, *, epsilon, conversion="improved") -> float:
        return delta_from_rdp(orders=self._orders, rdp=self._rdp, epsilon=epsilon, conversion=conversion)

    # -- persistence
    def to_json(self) -> str:
        ledger = [
            {"label": e.label, "event": type(e.event).__name__, "params": dataclasses.asdict(e.event)}
            for e in self._ledger
        ]
        return json.dumps({"orders": self._orders.tolist(), "ledger": ledger}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "RdpAccountant":
        data = json.loads(text)
        acc = cls(orders=data["orders"])
        for entry in data["ledger"]:
            if entry["event"] not in _EVENT_TYPES:
                raise ValueError(f"unknown event type in ledger: {entry['event']!r}")
            acc.compose(_EVENT_TYPES[entry["event"]](**entry["params"]), label=entry["label"])
        return acc

    def save(self, path) -> None:
        """Write the ledger as JSON atomically: a crash mid-write never destroys an old file
        (:func:`fldp_teach.checkpoint.atomic_write`)."""
        from fldp_teach.checkpoint import atomic_write

        atomic_write(path, self.to_json())

    @classmethod
    def load(cls, path) -> "RdpAccountant":
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())

    def __repr__(self) -> str:
        return f"RdpAccountant({len(self._ledger)} events, {self._orders.size} orders)"


# ------------------------------------------------------------------------------ DP-SGD helpers
def dp_sgd_epsilon(
    *, sampling_rate, noise_multiplier, steps, delta, conversion="improved", orders=DEFAULT_ORDERS
) -> float:
    """ε of DP-SGD with Poisson sampling: T steps of the sampled Gaussian mechanism (q, z),
    exact RDP on ``orders`` (Mironov, Talwar & Zhang 2019), converted with the improved
    conversion (Balle et al. 2020, Thm 21). ``steps = 0`` → 0.0."""
    q = check_unit_interval("sampling_rate", sampling_rate)
    z = check_non_negative("noise_multiplier", noise_multiplier)
    t = check_non_negative_int("steps", steps)
    d = check_open_unit("delta", delta)
    if t == 0 or q == 0:
        return 0.0
    orders = check_orders(orders)
    rdp = t * rdp_sampled_gaussian(sampling_rate=q, noise_multiplier=z, orders=orders)
    return epsilon_from_rdp(orders=orders, rdp=rdp, delta=d, conversion=conversion)


#: The noise multipliers :func:`calibrate_noise_multiplier` searches. Below 1e-3 the ε of any
#: sampled Gaussian is in the thousands (nothing is protected); above 1e8 only the
#: infinite-noise floor of the conversion is left to gain.
_Z_MIN, _Z_MAX = 1e-3, 1e8


def calibrate_noise_multiplier(
    *, target_epsilon, sampling_rate, steps, delta, conversion="improved", rtol=1e-3,
    orders=DEFAULT_ORDERS,
) -> float:
    """The smallest z with ``dp_sgd_epsilon(z) ≤ target_epsilon``, to ``rtol`` relative.

    ε is decreasing in z (more noise is post-processing of less noise), so we keep a bracket
    z_lo < z* ≤ z_hi with ε(z_lo) > target ≥ ε(z_hi), found by factors of 4 from z = 1 within
    [1e-3, 1e8], and shrink it until z_lo ≥ z_hi·(1 − rtol); we return z_hi, so
    ε(z_hi) ≤ target and ε(z_hi·(1 − rtol)) > target. The shrinking uses secant steps on
    log ε against log z (nearly linear), then two points straddling the estimate; it falls
    back to bisection in log z, so it always converges. The secant point is formed in log z
    and used only if it lies inside the bracket: near the infinite-noise floor ε is flat in z,
    the slope is huge and exp(log z) would overflow. About 6–9 ε evaluations instead of ~15
    for pure bisection. Raises ValueError naming ``target_epsilon`` if the target is at or
    below what infinite noise gives on these orders, needs z > 1e8 (within a hair of that
    floor), or is met already by z = 1e-3 (an ε of thousands).
    """
    target = check_positive("target_epsilon", target_epsilon)
    q = check_unit_interval("sampling_rate", sampling_rate)
    t = check_non_negative_int("steps", steps)
    d = check_open_unit("delta", delta)
    check_open_unit("rtol", rtol)
    orders = check_orders(orders)
    if t == 0 or q == 0:
        return 0.0  # nothing is released about the data: no noise needed
    floor = epsilon_from_rdp(orders=orders, rdp=np.zeros_like(orders), delta=d,
                             conversion=conversion)
    if target <= floor:
        raise ValueError(
            f"target_epsilon={target!r} cannot be reached: with delta={d!r} even infinite noise "
            f"gives epsilon={floor:.4g} on orders up to {orders.max():g}"
        )

    def eps(z):
        return dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=t, delta=d,
                              conversion=conversion, orders=orders)

    # 1. bracket: ε(z_lo) > target ≥ ε(z_hi), from z = 1 by factors of 4, within [_Z_MIN, _Z_MAX]
    history = [(1.0, eps(1.0))]  # every (z, ε) evaluated, in order
    z_lo, e_lo = z_hi, e_hi = history[0]
    while e_hi > target:
        if z_hi >= _Z_MAX:
            raise ValueError(
                f"target_epsilon={target!r} is too close to the infinite-noise limit "
                f"epsilon={floor:.4g} (delta={d!r}): even noise_multiplier={z_hi:g} gives "
                f"epsilon={e_hi:.4g}"
            )
        z_lo, e_lo = z_hi, e_hi
        history.append((4 * z_hi, eps(4 * z_hi)))
        z_hi, e_hi = history[-1]
    while e_lo <= target:
        if z_lo <= _Z_MIN:
            raise ValueError(
                f"target_epsilon={target!r} is so large that noise_multiplier={z_lo:g} already "
                f"gives epsilon={e_lo:.4g}: an epsilon this large protects nothing"
            )
        z_hi, e_hi = z_lo, e_lo
        history.append((z_lo / 4, eps(z_lo / 4)))
        z_lo, e_lo = history[-1]

    def split(z):  # evaluate z inside the bracket and keep the part that holds z*
        nonlocal z_lo, z_hi
        history.append((z, eps(z)))
        if history[-1][1] <= target:
            z_hi = z
        else:
            z_lo = z

    # 2. shrink: secant steps on log ε(log z) through the last two points; once a step is
    #    below rtol/4, straddle the estimate at ±rtol/3 to close the bracket; bisection when
    #    the secant point falls outside the bracket, and always after 8 rounds.
    for round_ in itertools.count():
        if z_lo >= z_hi * (1 - rtol):
            return z_hi
        (za, ea), (zb, eb) = history[-2], history[-1]
        guess = None
        if round_ < 8 and 0 < ea < math.inf and 0 < eb < math.inf and ea != eb:
            slope = math.log(zb / za) / math.log(eb / ea)  # may be huge where ε is flat
            log_guess = math.log(zb) + slope * math.log(target / eb)  # may be ±inf or NaN
            if math.log(z_lo) < log_guess < math.log(z_hi):
                guess = math.exp(log_guess)
        if guess is None or not z_lo < guess < z_hi:
            split(math.sqrt(z_lo * z_hi))
        elif abs(math.log(guess / zb)) < rtol / 4:
            for z in (guess * (1 + rtol / 3), guess * (1 - rtol / 3)):
                if z_lo < z < z_hi and z_lo < z_hi * (1 - rtol):
                    split(z)
        else:
            split(guess)


# ------------------------------------------------------------------------ fixed-size sampling
def _phases(noise_multipliers, *, name="noise_multipliers") -> list:
    """Run-length encode a per-round schedule: [1, 1, 2] → [(1.0, 2), (2.0, 1)]. Every entry
    must be a real number > 0 (checked under the name ``name[i]``)."""
    if (isinstance(noise_multipliers, (str, bytes)) or not hasattr(noise_multipliers, "__iter__")
            or np.ndim(noise_multipliers) > 1):
        raise ValueError(
            f"{name} must be a sequence with one z per round, got {noise_multipliers!r}"
        )
    out = []
    for i, z in enumerate(noise_multipliers):
        z = check_positive(f"{name}[{i}]", z)
        if out and out[-1][0] == z:
            out[-1][1] += 1
        else:
            out.append([z, 1])
    return [(z, n) for z, n in out]


def fixed_size_sampling_epsilon(
    *, noise_multipliers, sample_size, population_size, delta, return_ledger=False,
    conversion="improved", orders=DEFAULT_ORDERS,
):
    """ε after rounds that each add Gaussian noise z_t·C to the sum of m = ``sample_size``
    clipped contributions drawn WITHOUT replacement from K = ``population_size`` (exactly m
    of K clients per round), for REPLACE-ONE neighbours.

    One entry of ``noise_multipliers`` per round (a constant schedule is ``[z] * rounds``);
    consecutive equal z are one :class:`SampledWithoutReplacementGaussian` ledger entry, as in
    :func:`fldp_teach.dp_fedavg.central_epsilon`. Each round's RDP is the bound of Wang, Balle
    & Kasiviswanathan 2019, Thm 9 (sensitivity 2C), composed over rounds (Mironov 2017,
    Prop. 1) and converted to (ε, δ) (:func:`fldp_teach.rdp.epsilon_from_rdp`). No rounds → 0.
    Returns ε, or (ε, ledger) with ``return_ledger=True``.

        >>> round(fixed_size_sampling_epsilon(noise_multipliers=[1.8] * 15, sample_size=20,
        ...                                   population_size=100, delta=1e-5), 2)
        11.6
    """
    phases = _phases(noise_multipliers)
    d = check_open_unit("delta", delta)
    accountant = RdpAccountant(orders=orders)
    first = 1
    for z, rounds in phases:
        event = SampledWithoutReplacementGaussian(
            noise_multiplier=z, sample_size=sample_size, population_size=population_size,
            steps=rounds,
        )
        accountant.compose(event, label=(
            f"rounds {first}-{first + rounds - 1}: z={z:g}, m={event.sample_size} of "
            f"K={event.population_size} without replacement"))
        first += rounds
    if not phases:  # still validate the sampling parameters
        SampledWithoutReplacementGaussian(noise_multiplier=1.0, sample_size=sample_size,
                                          population_size=population_size, steps=0)
        eps = 0.0
    else:
        eps = accountant.epsilon(delta=d, conversion=conversion)
    return (eps, accountant.ledger) if return_ledger else eps


# ------------------------------------------------------------- composition without RDP (compare)
def naive_composition(*, epsilon, delta, steps) -> tuple[float, float]:
    """Basic composition: k runs of an (ε, δ)-DP mechanism are (kε, kδ)-DP
    (Dwork & Roth 2014, Thm 3.16)."""
    e = check_positive("epsilon", epsilon)
    d = check_unit_interval("delta", delta)
    k = check_non_negative_int("steps", steps)
    return k * e, min(1.0, k * d)


def advanced_composition(*, epsilon, delta, steps, delta_prime) -> tuple[float, float]:
    """Advanced composition (Dwork, Rothblum & Vadhan 2010; Dwork & Roth 2014, Thm 3.20):
    k runs of an (ε, δ)-DP mechanism are (ε', kδ + δ')-DP with

        ε' = ε·sqrt(2k·ln(1/δ')) + k·ε·(e^ε − 1).
    """
    e = check_positive("epsilon", epsilon)
    d = check_unit_interval("delta", delta)
    k = check_non_negative_int("steps", steps)
    dp = check_open_unit("delta_prime", delta_prime)
    try:
        eps_total = e * math.sqrt(2 * k * math.log(1 / dp)) + k * e * math.expm1(e)
    except OverflowError:  # e^ε beyond floating point: the bound is infinite
        eps_total = math.inf
    return eps_total, min(1.0, k * d + dp)
