import numpy as np
import pytest

from surrogate.errors import UsageError
from surrogate.features import feature_matrix
from surrogate.spaces import get_space
from surrogate.tabular import Table


def nb201_table(n=30):
    space = get_space("nb201")
    archs = np.unique(space.sample(n, 0), axis=0)
    return Table("nb201", archs, space.format_many(archs), {"acc": np.arange(len(archs), dtype=float)},
                 {"training_config": {"channels": 4, "cells": 1, "input_shape": [1, 8, 8]}})


def test_columns_and_computed_costs():
    table = nb201_table()
    x = feature_matrix(table, ["acc", "params", "flops"])
    assert x.shape == (table.n, 3)
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(x.std(axis=0), 1, atol=1e-9)
    assert np.corrcoef(x[:, 1], x[:, 2])[0, 1] > 0.9  # params and FLOPs move together
    assert feature_matrix(table, []).shape == (table.n, 0)


def test_unknown_feature():
    with pytest.raises(UsageError, match="unknown feature 'latency'"):
        feature_matrix(nb201_table(), ["latency"])
