"""Oracles: a table answers by one rule for isomorphs (own record, else the class's mean); a live
oracle trains each class once (its canonical member), journaled and reused across runs; the
validation protocol trains on train+valid."""

import numpy as np
import pytest

from surrogate.errors import UsageError
from surrogate.features import raw_feature
from surrogate.nets.costs import costs
from surrogate.search.oracle import LiveOracle, TableOracle, live_config
from surrogate.spaces import get_space
from surrogate.tabular import Table

TINY = dict(epochs=1, channels=4, cells=1, batch_size=128)
SPACE = get_space("nb201")
A = SPACE.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
B = SPACE.parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")  # node 2 dead
C = SPACE.parse("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")


@pytest.fixture(scope="module")
def digits_config():
    return live_config("nb201", "digits", **TINY)


def test_one_rule_for_isomorphs():
    """A class is one point: its members' finite records averaged, whichever member is asked; NaN
    when none is finite; an exact cost is the class's smallest."""
    assert len(set(SPACE.canonical_ids(np.stack([A, B, C])).tolist())) == 1
    archs = np.stack([A, B, C])
    table = Table("nb201", archs, SPACE.format_many(archs), {"acc": np.array([np.nan, 70.0, 72.0])})
    oracle = TableOracle(table, ["acc", "params"])  # params computed from the network definition
    own = raw_feature(table, "params")
    assert len(set(own)) > 1  # a conv on a dead edge still has weights: members of a class differ
    np.testing.assert_array_equal(oracle.evaluate(archs).values, [[71.0, own.min()]] * 3)
    np.testing.assert_array_equal(oracle.exact(archs)[:, 0], [own.min()] * 3)
    assert len(oracle.values) == 1 and (oracle.archs[0] == A).all()  # one class, its first row
    table = Table("nb201", archs[:1], SPACE.format_many(archs[:1]), {"acc": np.array([np.nan]), "b": np.array([1.0])})
    assert np.isnan(TableOracle(table, ["acc"]).evaluate(archs[1:2]).values[0, 0])  # a class with no finite record
    other = SPACE.parse("|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    with pytest.raises(UsageError, match="not in the table"):
        TableOracle(table, ["b"]).evaluate(other[None])


def test_table_oracle_answers_an_outcome_matrix_and_its_clock():
    space = get_space("categorical:3x2")
    archs = space.enumerate()
    table = Table(space.spec, archs, space.format_many(archs), {"acc": np.arange(8.0), "train_seconds": np.ones(8)})
    oracle = TableOracle(table, ["acc"], time_column="train_seconds")
    answer = oracle.evaluate(archs[:3])
    assert answer.values.tolist() == [[0.0], [1.0], [2.0]] and answer.seconds.tolist() == [1.0, 1.0, 1.0]
    assert oracle.clock and (oracle.domain() == archs).all() and oracle.fingerprint == table.checksum()
    with pytest.raises(UsageError, match="unknown metric 'nope'"):
        TableOracle(table, ["nope"])
    with pytest.raises(UsageError, match="infinite"):
        TableOracle(Table(space.spec, archs, space.format_many(archs), {"acc": np.r_[np.inf, np.zeros(7)]}), ["acc"])


def test_isomorphs_share_one_training(tmp_path, digits_config, one_torch_thread):
    config, data = digits_config
    oracle = LiveOracle(config, tmp_path, ["valid_acc", "params"], data=data)
    first = oracle.evaluate(np.stack([A, B]))
    assert oracle.trained == 1 and (first.values[0] == first.values[1]).all() and (first.seconds > 0).all()
    again = oracle.evaluate(B[None])  # found in the journal: nothing trained, same charge
    assert oracle.trained == 1 and (again.values[0] == first.values[0]).all() and again.seconds[0] == first.seconds[0]
    np.testing.assert_array_equal(oracle.exact(B[None])[0], [first.values[0, 1]])
    every = SPACE.enumerate()
    members = every[SPACE.canonical_ids(every) == SPACE.canonical_ids(A[None])[0]]
    smallest = costs(SPACE, members, channels=config.channels, cells=config.cells, num_classes=data.num_classes,
                     input_shape=tuple(data.input_shape))["params"].min()
    assert first.values[0, 1] == smallest  # the class's smallest, as a table reports it
    table = oracle.export()
    assert table.n == 1 and table.arch_strings[0] == SPACE.format(SPACE.canonicalize(A))
    assert (tmp_path / "records.h5").is_file()


def test_validation_protocol_trains_on_train_and_valid(digits_config):
    config, data = digits_config
    check, merged = live_config("nb201", "digits", validation=True, **TINY)
    assert len(merged.y_train) == len(data.y_train) + len(data.y_valid)
    assert check.train_on_valid and check.test_at_end and check.split["train_plus_valid"] == 1
    assert LiveOracle(check, "x", ["test_acc"]).fingerprint != LiveOracle(config, "x", ["test_acc"]).fingerprint


def test_live_oracle_refuses_columns_no_record_holds(digits_config):
    with pytest.raises(UsageError, match="unknown column 'cifar10_valid_acc'"):
        LiveOracle(digits_config[0], "x", ["cifar10_valid_acc"])
