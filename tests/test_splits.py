import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from surrogate.errors import UsageError
from surrogate.spaces import get_space
from surrogate.splits import disjoint_splits, one_per_class


def test_nb201_splits_never_share_a_class():
    space = get_space("nb201")
    archs = space.enumerate()
    ids = space.canonical_ids(archs)
    for seed in range(3):
        train_sets, test = disjoint_splits(ids, [20, 100, 400], 1000, seed)
        assert len(test) == 1000 and len(set(ids[test])) == 1000
        for n, train in train_sets.items():
            assert len(train) == n and len(set(ids[train])) == n
            assert not set(ids[train]) & set(ids[test])
        assert set(train_sets[20]) <= set(train_sets[100]) <= set(train_sets[400])  # nested
    a, b = disjoint_splits(ids, [50], 100, 7), disjoint_splits(ids, [50], 100, 7)
    assert (a[1] == b[1]).all() and (a[0][50] == b[0][50]).all()


@given(st.lists(st.integers(0, 30), min_size=10, max_size=200), st.integers(0, 1000))
@settings(max_examples=50)
def test_disjointness_property(ids, seed):
    ids = np.array(ids)
    distinct = len(set(ids.tolist()))
    if distinct < 4:
        return
    train_sets, test = disjoint_splits(ids, [distinct // 2], distinct // 4, seed)
    train = train_sets[distinct // 2]
    assert not set(ids[train].tolist()) & set(ids[test].tolist())


def test_invalid_rows_and_sizes():
    ids = np.array([0, 0, 1, 2, 3, 3])
    valid = np.array([False, True, True, True, True, True])
    assert one_per_class(ids, valid).tolist() == [1, 2, 3, 4]
    with pytest.raises(UsageError, match="exceeds"):
        disjoint_splits(ids, [3], 2, 0, valid)
