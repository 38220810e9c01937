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


def test_proxies_come_free_where_the_shipped_cache_holds_them(tmp_path, capsys):
    """Issue 22: an imported NB201-space CSV gets its zc_ columns from the cache; a table trained
    under another configuration does not (a note says what `surrogate proxies` would cost)."""
    from surrogate.catalog import resolve
    from surrogate.cli import main
    from surrogate.features import with_free_proxies

    nb201 = Table.read(resolve("nb201"))
    rows = np.random.default_rng(0).permutation(nb201.n)[:40]
    csv = tmp_path / "mine.csv"
    csv.write_text("arch,acc\n" + "".join(f"{nb201.arch_strings[i]},{float(i)}\n" for i in rows))
    assert main(["import", str(csv), "--space", "nb201", "--out", str(tmp_path / "mine.h5")]) == 0
    imported = Table.read(tmp_path / "mine.h5")
    for name in (m for m in nb201.metrics if m.startswith("zc_")):
        np.testing.assert_array_equal(imported.metric(name), nb201.metric(name)[rows])  # the cache's values
    assert imported.attrs["proxies"]["zc_nwot"]["source"] == "the shipped cache"

    other = Table("nb201", imported.archs, imported.arch_strings, {"acc": imported.metric("acc")},
                  {"dataset": "digits", "training_config": {"channels": 4, "cells": 1}})  # another network
    notes = []
    assert with_free_proxies(other, notes.append, "other.h5") is other  # unchanged: no cache for C=4, N=1
    assert len(notes) == 1 and "surrogate proxies other.h5" in notes[0] and "CPU-minutes" in notes[0]
    chain = Table("categorical:9x11", np.zeros((1, 9), dtype=np.int64), ["0-0-0-0-0-0-0-0-0"], {"a": np.ones(1)})
    assert with_free_proxies(chain, notes.append) is chain and len(notes) == 1  # no network: nothing to say
    blocks = Table("categorical:4x3", np.zeros((1, 4), dtype=np.int64), ["0000"], {"a": np.ones(1)})
    with_free_proxies(blocks, notes.append, "blocks.h5")  # a chain of blocks: say what its proxies measure
    assert len(notes) == 2 and "blocks.h5" in notes[1] and "not for a table of other hyperparameters" in notes[1]


@pytest.mark.parametrize("name", ["nb201-fmnist", "nb201-digits"])
def test_network_settings_of_a_table_reproduce_its_recorded_costs(name):
    """The input shape and classes come from the table's dataset and resolution (the training
    configuration does not name them), so computed params and FLOPs equal the recorded ones."""
    from surrogate.catalog import resolve
    from surrogate.features import network_kwargs
    from surrogate.nets.costs import costs

    table = Table.read(resolve(name))
    computed = costs(table.space, table.archs[:40], **network_kwargs(table))
    for column in ("params", "flops"):
        np.testing.assert_array_equal(computed[column], table.metric(column)[:40])
