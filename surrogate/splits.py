"""Honest train/test splits: no isomorphism class on both sides."""

from __future__ import annotations

import numpy as np

from surrogate.errors import UsageError


def one_per_class(class_ids: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Row indices keeping the first valid row of every isomorphism class (duplicates collapse)."""
    class_ids = np.asarray(class_ids)
    rows = np.arange(len(class_ids)) if valid is None else np.flatnonzero(valid)
    _, first = np.unique(class_ids[rows], return_index=True)
    return np.sort(rows[first])


def disjoint_splits(class_ids: np.ndarray, train_sizes: list[int], test_size: int, seed: int,
                    valid: np.ndarray | None = None) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Nested training sets (one per size) and a test set, drawn from distinct isomorphism classes.

    Isomorphic duplicates collapse to one row first, then one permutation per seed gives the test
    set (its head) and every training set (prefixes of the rest), so for a seed all models and
    encodings see the same data and a larger training set contains the smaller ones.
    """
    pool = one_per_class(class_ids, valid)
    largest = max(train_sizes)
    if largest + test_size > len(pool):
        raise UsageError(f"train size {largest} + test size {test_size} exceeds the {len(pool)} distinct architectures")
    order = np.random.default_rng(seed).permutation(pool)
    test = order[:test_size]
    rest = order[test_size:]
    return {n: rest[:n] for n in train_sizes}, test
