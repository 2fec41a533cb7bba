"""Partitioners: every example at exactly one client, no empty client, seeded, and the skew
each one promises (fldp_teach.partition)."""
import numpy as np
import pytest

from fldp_teach import partition as P


def _sample(num_examples=600, num_classes=10, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, size=num_examples)
    x = np.column_stack([np.arange(num_examples), y, rng.normal(size=num_examples)])
    return x.astype(np.float32), y  # column 0 = the example's id: lets us trace every row


ALL = {
    "iid": lambda x, y, s: P.partition_iid(x, y, num_clients=7, seed=s),
    "dirichlet": lambda x, y, s: P.partition_dirichlet(x, y, num_clients=7, alpha=0.5, seed=s),
    "shards": lambda x, y, s: P.partition_shards(x, y, num_clients=7, seed=s),
    "quantity": lambda x, y, s: P.partition_quantity(x, y, num_clients=7, alpha=0.5, seed=s),
    "by_quantile": lambda x, y, s: P.partition_by_feature(x, y, feature=2, num_clients=7, seed=s),
    "by_group": lambda x, y, s: P.partition_by_feature(x, y, feature=(x[:, 0] % 7).astype(int), seed=s),
}


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_example_at_exactly_one_client_and_none_empty(name):
    x, y = _sample()
    part = ALL[name](x, y, 0)
    assert part.num_clients == 7
    all_indices = np.concatenate(part.indices)
    np.testing.assert_array_equal(np.sort(all_indices), np.arange(len(y)))  # union, disjoint
    assert part.sizes.min() >= 1 and part.sizes.sum() == len(y)
    for ix, client in zip(part.indices, part.clients):
        np.testing.assert_array_equal(client.x[:, 0], ix)  # the rows are the indexed ones
        np.testing.assert_array_equal(client.y, y[ix])
    np.testing.assert_array_equal(part.label_counts.sum(axis=0), np.bincount(y, minlength=10))
    np.testing.assert_array_equal(part.label_counts.sum(axis=1), part.sizes)


@pytest.mark.parametrize("name", sorted(ALL))
def test_same_seed_same_partition(name):
    x, y = _sample()
    a, b = ALL[name](x, y, 5), ALL[name](x, y, 5)
    assert all(np.array_equal(i, j) for i, j in zip(a.indices, b.indices))


@pytest.mark.parametrize("name", ["iid", "dirichlet", "shards", "quantity"])
def test_different_seed_different_partition(name):
    x, y = _sample()
    a, b = ALL[name](x, y, 5), ALL[name](x, y, 6)
    assert not all(np.array_equal(i, j) for i, j in zip(a.indices, b.indices))


def test_iid_sizes_differ_by_at_most_one():
    x, y = _sample(num_examples=100)
    assert P.partition_iid(x, y, num_clients=7, seed=0).sizes.tolist() == [15, 15] + [14] * 5


def test_dirichlet_skew_grows_as_alpha_shrinks():
    x, y = _sample(num_examples=3000)
    entropy = {alpha: np.mean([P.partition_dirichlet(x, y, num_clients=10, alpha=alpha,
                                                     seed=s).label_entropy.mean()
                               for s in range(3)])
               for alpha in (100.0, 1.0, 0.1)}
    assert entropy[100.0] > entropy[1.0] > entropy[0.1]
    assert entropy[100.0] > 0.97 * np.log2(10)  # α = 100: almost IID (3.32 bits balanced)
    assert entropy[0.1] < 0.5 * np.log2(10)  # α = 0.1: a few classes per client


def test_dirichlet_min_size_and_rejection_error():
    x, y = _sample(num_examples=400)
    part = P.partition_dirichlet(x, y, num_clients=10, alpha=0.3, min_size=15, seed=0)
    assert part.sizes.min() >= 15
    with pytest.raises(ValueError, match="increase alpha or lower min_size"):
        P.partition_dirichlet(x, y, num_clients=10, alpha=0.01, min_size=35, max_tries=3, seed=0)
    with pytest.raises(ValueError, match="min_size \\* num_clients must be <= 400"):
        P.partition_dirichlet(x, y, num_clients=10, alpha=1.0, min_size=41)


def test_shards_give_at_most_two_labels_when_classes_fill_whole_shards():
    # 10 classes × 60 examples, 20 clients × 2 shards of 15: every shard holds one label.
    y = np.repeat(np.arange(10), 60)
    x = np.arange(600, dtype=np.float32)[:, np.newaxis]
    part = P.partition_shards(x, y, num_clients=20, shards_per_client=2, seed=0)
    labels_per_client = (part.label_counts > 0).sum(axis=1)
    assert labels_per_client.max() <= 2 and part.sizes.tolist() == [30] * 20
    assert set(np.unique(part.label_counts)) <= {0, 15, 30}


def test_shards_in_general_give_at_most_two_labels_per_shard():
    x, y = _sample(num_examples=600)  # class sizes not multiples of the shard size
    part = P.partition_shards(x, y, num_clients=10, shards_per_client=3, seed=0)
    assert ((part.label_counts > 0).sum(axis=1) <= 6).all()
    iid = P.partition_iid(x, y, num_clients=10, seed=0)
    assert part.label_entropy.mean() < 0.6 * iid.label_entropy.mean()


def test_quantity_skew_keeps_labels_iid_but_sizes_uneven():
    x, y = _sample(num_examples=5000)
    part = P.partition_quantity(x, y, num_clients=10, alpha=0.3, min_size=5, seed=1)
    assert part.sizes.min() >= 5
    assert part.sizes.max() > 4 * np.median(part.sizes) or part.sizes.min() < 0.25 * np.median(part.sizes)
    big = int(np.argmax(part.sizes))
    share = part.label_counts[big] / part.sizes[big]
    np.testing.assert_allclose(share, np.bincount(y) / len(y), atol=0.05)


def test_by_feature_quantiles_order_clients_by_the_feature():
    x, y = _sample()
    part = P.partition_by_feature(x, y, feature=2, num_clients=4, seed=0)
    assert part.sizes.tolist() == [150, 150, 150, 150]
    for low, high in zip(part.clients, part.clients[1:]):
        assert low.x[:, 2].max() <= high.x[:, 2].min()


def test_by_feature_one_client_per_group_value():
    x, y = _sample(num_examples=50)
    bank = np.array([3, 1] * 25)
    part = P.partition_by_feature(x, y, feature=bank)
    assert part.num_clients == 2
    np.testing.assert_array_equal(part.indices[0], np.arange(1, 50, 2))  # bank 1 first
    with pytest.raises(ValueError, match=r"feature must have one value per example, shape \(50,\)"):
        P.partition_by_feature(x, y, feature=bank[:10])
    with pytest.raises(ValueError, match="feature must be a column index"):
        P.partition_by_feature(x, y, feature=3, num_clients=2)


def test_summary_table_and_entropy_by_hand():
    x = np.zeros((4, 1), np.float32)
    y = np.array([0, 0, 1, 1])
    part = P.partition_by_feature(x, y, feature=np.array([0, 1, 0, 1]))
    np.testing.assert_array_equal(part.label_counts, [[1, 1], [1, 1]])
    np.testing.assert_allclose(part.label_entropy, [1.0, 1.0])  # one fair bit each
    one_class = P.partition_by_feature(x, y, feature=np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(one_class.label_entropy, [0.0, 0.0])
    text = part.summary()
    assert "2 clients, 4 examples" in text and "mean label entropy 1.000 bits" in text


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x, y: P.partition_iid(x, y, num_clients=0), "num_clients must be an integer >= 1, got 0"),
        (lambda x, y: P.partition_iid(x, y, num_clients=601), "num_clients must be <= the number of examples"),
        (lambda x, y: P.partition_dirichlet(x, y, num_clients=3, alpha=0.0), "alpha must be > 0, got 0.0"),
        (lambda x, y: P.partition_dirichlet(x, y, num_clients=3, alpha=float("nan")), "alpha must be a number"),
        (lambda x, y: P.partition_shards(x, y, num_clients=400), "num_clients \\* shards_per_client must be <= 600"),
        (lambda x, y: P.partition_quantity(x, y, num_clients=3, alpha=-1), "alpha must be > 0"),
        (lambda x, y: P.partition_iid(x, y, num_clients=3, num_classes=5), r"y labels must be in \[0, 4\]"),
        (lambda x, y: P.partition_iid(x[:5], y, num_clients=3), "x and y must have the same number"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, message):
    x, y = _sample()
    with pytest.raises(ValueError, match=message):
        call(x, y)
