"""Splitting one labelled sample among K clients: IID and the standard non-IID partitions.

Real federations are not IID: hospitals see different patients, banks different customers.
Each partitioner below produces one kind of skew (the taxonomy of Kairouz et al. 2021,
"Advances and Open Problems in FL", §3.1):

=========================  ==============================  ==================================
partitioner                skew                            source
=========================  ==============================  ==================================
``partition_iid``          none (the baseline)             McMahan et al. 2017, §3
``partition_dirichlet``    label distribution, α-tunable   Hsu, Qi & Brown 2019; Yurochkin et
                                                           al. 2019; Li et al. 2022 (NIID-Bench)
``partition_shards``       pathological label skew         McMahan et al. 2017, §3
``partition_quantity``     number of examples              Li et al. 2022, §III-C
``partition_by_feature``   features ("by hospital/bank")   Li et al. 2022, §III-B
=========================  ==============================  ==================================

Guarantees (tested): every example goes to exactly one client, no client is empty, and the
same ``seed`` gives the same partition. Each returns a :class:`Partition` whose ``sizes`` and
``label_counts`` a notebook can print (``summary()``) or plot. Taught in the non-IID notebook
and used by every federated experiment.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from fldp_teach._validation import check_non_negative_int, check_positive, check_positive_int, check_seed
from fldp_teach.datasets import ClientData, validate_xy

__all__ = [
    "Partition",
    "partition_iid",
    "partition_dirichlet",
    "partition_shards",
    "partition_quantity",
    "partition_by_feature",
    "partition_summary",
]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Partition:
    """Per-client data plus where each example came from.

    ``clients[k]`` holds ``x[indices[k]], y[indices[k]]`` of the partitioned sample;
    ``method`` says how it was made (e.g. ``"dirichlet(alpha=0.1)"``).
    """

    clients: tuple[ClientData, ...]
    indices: tuple[np.ndarray, ...]
    num_classes: int
    method: str

    @property
    def num_clients(self) -> int:
        """K, the number of clients."""
        return len(self.clients)

    @property
    def sizes(self) -> np.ndarray:
        """n_k for each client, shape (K,)."""
        return np.array([c.num_examples for c in self.clients], dtype=np.int64)

    @property
    def label_counts(self) -> np.ndarray:
        """Matrix (K, num_classes): entry [k, c] = examples of class c at client k."""
        return np.stack([np.bincount(c.y, minlength=self.num_classes) for c in self.clients])

    @property
    def label_entropy(self) -> np.ndarray:
        """Entropy in bits of each client's label distribution, H_k = −Σ_c p_kc log₂ p_kc:
        log₂(num_classes) for a perfectly balanced client, 0 for a one-class client."""
        p = self.label_counts / self.sizes[:, np.newaxis]
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, -p * np.log2(p), 0.0)
        return terms.sum(axis=1)

    def summary(self, *, max_rows: int = 20) -> str:
        """The table :func:`partition_summary` prints."""
        return partition_summary(self, max_rows=max_rows)

    def __repr__(self) -> str:
        return (f"Partition({self.method}, num_clients={self.num_clients}, "
                f"sizes min/median/max={self.sizes.min()}/{int(np.median(self.sizes))}/"
                f"{self.sizes.max()})")


def partition_summary(partition: Partition, *, max_rows: int = 20) -> str:
    """A plain-text table: one row per client with n_k, the label counts and the label
    entropy; at most ``max_rows`` rows (the rest are summarized in one line)."""
    max_rows = check_non_negative_int("max_rows", max_rows)
    counts, sizes, entropy = partition.label_counts, partition.sizes, partition.label_entropy
    header = f"{'client':>6} {'n_k':>6}  " + " ".join(f"{c:>5}" for c in range(partition.num_classes))
    lines = [f"{partition.method}: {partition.num_clients} clients, {sizes.sum()} examples",
             header + "  H(bits)"]
    for k in range(min(partition.num_clients, max_rows)):
        row = " ".join(f"{v:>5}" for v in counts[k])
        lines.append(f"{k:>6} {sizes[k]:>6}  {row}  {entropy[k]:.2f}")
    if partition.num_clients > max_rows:
        lines.append(f"... {partition.num_clients - max_rows} more clients")
    lines.append(f"mean label entropy {entropy.mean():.3f} bits "
                 f"(balanced = {np.log2(partition.num_classes):.3f})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- shared plumbing
#: Largest label a partition infers its number of classes from (label counts are kept per class).
_MAX_INFERRED_CLASSES = 2**20


def _prepare(x, y, num_clients, num_classes):
    x, y = validate_xy(x, y, num_classes=num_classes)
    num_clients = check_positive_int("num_clients", num_clients)
    if num_clients > len(y):
        raise ValueError(
            f"num_clients must be <= the number of examples ({len(y)}), got {num_clients}"
        )
    if num_classes is None:
        if int(y.max()) >= _MAX_INFERRED_CLASSES:
            raise ValueError(f"y labels must be < {_MAX_INFERRED_CLASSES} when num_classes is not given "
                             f"(one count per class is kept), got {int(y.max())}")
        num_classes = int(y.max()) + 1
    return x, y, num_clients, num_classes


def _build(x, y, index_lists, num_classes, method) -> Partition:
    indices = tuple(np.sort(np.asarray(ix, dtype=np.int64)) for ix in index_lists)
    clients = tuple(ClientData(x[ix], y[ix]) for ix in indices)
    return Partition(clients=clients, indices=indices, num_classes=num_classes, method=method)


def _split_by_proportions(index: np.ndarray, proportions: np.ndarray) -> list[np.ndarray]:
    """Cut ``index`` into consecutive pieces of sizes ≈ proportions · len(index):
    cut points ⌊len · cumsum(p)⌋ (the NIID-Bench construction)."""
    cuts = (np.cumsum(proportions)[:-1] * len(index)).astype(np.int64)
    return np.split(index, cuts)


# ---------------------------------------------------------------------------- partitioners
def partition_iid(x, y, *, num_clients: int, seed: int | None = None,
                  num_classes: int | None = None) -> Partition:
    """Shuffle, then deal the examples into ``num_clients`` parts whose sizes differ by at
    most one (McMahan et al. 2017, §3: "the data is shuffled, and then partitioned into 100
    clients each receiving 600 examples")."""
    seed = check_seed("seed", seed)
    x, y, num_clients, num_classes = _prepare(x, y, num_clients, num_classes)
    order = np.random.default_rng(seed).permutation(len(y))
    return _build(x, y, np.array_split(order, num_clients), num_classes, "iid")


def partition_dirichlet(x, y, *, num_clients: int, alpha: float, seed: int | None = None,
                        min_size: int = 1, max_tries: int = 1000,
                        num_classes: int | None = None) -> Partition:
    """Label skew of tunable strength: for each class c draw the share of its examples that
    each client gets,

        p_c = (p_c1, ..., p_cK) ~ Dirichlet_K(α, ..., α),

    and give client k the fraction p_ck of class c's (shuffled) examples. Large α → every
    client sees about the same class mix (α → ∞ is IID); small α → each class sits at a few
    clients (α → 0: one client per class). Dirichlet label skew was introduced by Hsu, Qi &
    Brown (2019, "Measuring the effects of non-identical data distribution for federated
    visual classification"), who draw each client's class mix q_k ~ Dir(α·prior); this
    per-class form is Yurochkin et al. (2019) and NIID-Bench (Li, Diao, Chen & He 2022,
    §III-A), the one most papers now use.

    No empty client: the whole draw is repeated until every client has at least ``min_size``
    examples (NIID-Bench does the same with 10), at most ``max_tries`` times; then a
    ``ValueError`` asks for a larger α or a smaller ``min_size``. Rejection conditions the
    draw on that event, which matters only when α is tiny.
    """
    seed = check_seed("seed", seed)
    x, y, num_clients, num_classes = _prepare(x, y, num_clients, num_classes)
    alpha = check_positive("alpha", alpha)
    min_size = check_positive_int("min_size", min_size)
    max_tries = check_positive_int("max_tries", max_tries)
    if min_size * num_clients > len(y):
        raise ValueError(f"min_size * num_clients must be <= {len(y)} examples, "
                         f"got {min_size} * {num_clients}")
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == c) for c in range(num_classes)]
    for _ in range(max_tries):
        parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
        for index in by_class:
            proportions = rng.dirichlet(np.full(num_clients, alpha))
            for k, piece in enumerate(_split_by_proportions(rng.permutation(index), proportions)):
                parts[k].append(piece)
        index_lists = [np.concatenate(p) for p in parts]
        if min(len(ix) for ix in index_lists) >= min_size:
            return _build(x, y, index_lists, num_classes, f"dirichlet(alpha={alpha:.4g})")
    raise ValueError(
        f"no draw gave every client >= {min_size} examples in {max_tries} tries with "
        f"alpha={alpha:g}, num_clients={num_clients}: increase alpha or lower min_size"
    )


def partition_shards(x, y, *, num_clients: int, shards_per_client: int = 2,
                     seed: int | None = None, num_classes: int | None = None) -> Partition:
    """McMahan et al. (2017, §3)'s pathological non-IID split: "sort the data by digit
    label, divide it into 200 shards of size 300, and assign each of 100 clients 2 shards".

    Here: sort by label (ties in random order), cut into ``num_clients · shards_per_client``
    shards of (nearly) equal size, deal the shards to clients at random. A shard holds one
    label unless it straddles a class boundary, so a client sees at most
    ``shards_per_client`` labels when every class size is a multiple of the shard size, and
    at most ``2 · shards_per_client`` in general.
    """
    seed = check_seed("seed", seed)
    x, y, num_clients, num_classes = _prepare(x, y, num_clients, num_classes)
    shards_per_client = check_positive_int("shards_per_client", shards_per_client)
    num_shards = num_clients * shards_per_client
    if num_shards > len(y):
        raise ValueError(f"num_clients * shards_per_client must be <= {len(y)} examples, "
                         f"got {num_clients} * {shards_per_client}")
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(y))
    by_label = shuffled[np.argsort(y[shuffled], kind="stable")]
    shards = np.array_split(by_label, num_shards)
    dealt = rng.permutation(num_shards).reshape(num_clients, shards_per_client)
    index_lists = [np.concatenate([shards[s] for s in row]) for row in dealt]
    return _build(x, y, index_lists, num_classes,
                  f"shards(shards_per_client={shards_per_client})")


def partition_quantity(x, y, *, num_clients: int, alpha: float, seed: int | None = None,
                       min_size: int = 1, num_classes: int | None = None) -> Partition:
    """Quantity skew: labels stay IID but clients hold very different numbers of examples.
    Shares q ~ Dirichlet_K(α) (Li et al. 2022, NIID-Bench §III-C); small α → a few large
    clients and many small ones.

    Every client first gets ``min_size`` examples, the remaining n − K·min_size are cut by
    the shares q (cut points ⌊(n − K·min_size)·cumsum(q)⌋), so no client is empty by
    construction, without rejection.
    """
    seed = check_seed("seed", seed)
    x, y, num_clients, num_classes = _prepare(x, y, num_clients, num_classes)
    alpha = check_positive("alpha", alpha)
    min_size = check_positive_int("min_size", min_size)
    if min_size * num_clients > len(y):
        raise ValueError(f"min_size * num_clients must be <= {len(y)} examples, "
                         f"got {min_size} * {num_clients}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    base, rest = order[: min_size * num_clients], order[min_size * num_clients:]
    extra = _split_by_proportions(rest, rng.dirichlet(np.full(num_clients, alpha)))
    index_lists = [np.concatenate([base[k * min_size:(k + 1) * min_size], extra[k]])
                   for k in range(num_clients)]
    return _build(x, y, index_lists, num_classes, f"quantity(alpha={alpha:.4g})")


def partition_by_feature(x, y, *, feature, num_clients: int | None = None,
                         seed: int | None = None, num_classes: int | None = None) -> Partition:
    """Feature skew, "by hospital" or "by bank": clients differ in who they see.

    ``feature`` is a column index of ``x`` (2-D ``x``) or an array of one value per example
    (e.g. ``Dataset.group_train``, a bank id).

    * ``num_clients=None``: one client per distinct value (natural groups such as banks),
      in increasing order of the value.
    * ``num_clients=K``: K clients by quantiles of the feature: client k holds the examples
      whose value ranks in the k-th K-quantile (ties broken at random), e.g. hospitals that
      see patients with increasingly large tumours. Sizes differ by at most one.

    ``seed`` breaks ties (hence the assignment of equal values) at random.
    """
    seed = check_seed("seed", seed)
    x, y = validate_xy(x, y, num_classes=num_classes)
    if num_classes is None:
        if int(y.max()) >= _MAX_INFERRED_CLASSES:
            raise ValueError(f"y labels must be < {_MAX_INFERRED_CLASSES} when num_classes is not given "
                             f"(one count per class is kept), got {int(y.max())}")
        num_classes = int(y.max()) + 1
    if isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
        if x.ndim != 2 or not 0 <= feature < x.shape[1]:
            raise ValueError(f"feature must be a column index of 2-D x (0..{x.shape[-1] - 1}), "
                             f"got {feature!r}")
        values, label = x[:, feature], f"column {feature}"
    else:
        values, label = np.asarray(feature), "given values"
        if values.shape != (len(y),):
            raise ValueError(f"feature must have one value per example, shape ({len(y)},), "
                             f"got shape {values.shape}")
    rng = np.random.default_rng(seed)
    if num_clients is None:
        groups = np.unique(values)
        index_lists = [rng.permutation(np.flatnonzero(values == g)) for g in groups]
        return _build(x, y, index_lists, num_classes,
                      f"by_feature({label}, one client per value)")
    num_clients = check_positive_int("num_clients", num_clients)
    if num_clients > len(y):
        raise ValueError(f"num_clients must be <= the number of examples ({len(y)}), "
                         f"got {num_clients}")
    shuffled = rng.permutation(len(y))
    ranked = shuffled[np.argsort(values[shuffled], kind="stable")]
    return _build(x, y, np.array_split(ranked, num_clients), num_classes,
                  f"by_feature({label}, {num_clients} quantile bins)")
