"""Live objectives: each query trained once (its isomorphism class's canonical member), journaled,
reused across runs; the validation protocol trains on train+valid."""

import numpy as np
import pytest

from surrogate.errors import UsageError
from surrogate.objective import LiveObjective, TabularObjective, live_config
from surrogate.spaces import get_space
from surrogate.tabular import Table

TINY = dict(epochs=1, channels=4, cells=1, batch_size=128)


@pytest.fixture(scope="module")
def digits_config():
    return live_config("nb201", "digits", **TINY)


def test_isomorphs_share_one_training(tmp_path, digits_config, one_torch_thread):
    config, data = digits_config
    space = get_space("nb201")
    a = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    b = space.parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    objective = LiveObjective(config, tmp_path, "valid_acc", data=data)
    first = objective.evaluate(np.stack([a, b]))
    assert objective.trained == 1 and first.values[0] == first.values[1] and (first.seconds > 0).all()
    again = objective.evaluate(b[None])  # found in the journal: nothing trained, same charge
    assert objective.trained == 1 and again.values[0] == first.values[0] and again.seconds[0] == first.seconds[0]
    table = objective.export()
    assert table.n == 1 and table.arch_strings[0] == space.format(space.canonicalize(a))
    assert (tmp_path / "records.h5").is_file()


def test_validation_protocol_trains_on_train_and_valid(digits_config):
    config, data = digits_config
    check, merged = live_config("nb201", "digits", validation=True, **TINY)
    assert len(merged.y_train) == len(data.y_train) + len(data.y_valid)
    assert check.train_on_valid and check.test_at_end and check.split["train_plus_valid"] == 1
    assert LiveObjective(check, "x", "test_acc").fingerprint != LiveObjective(config, "x", "test_acc").fingerprint


def test_live_objective_refuses_non_training_metrics(digits_config):
    with pytest.raises(UsageError, match="training metric"):
        LiveObjective(digits_config[0], "x", "params")


def test_tabular_objective_is_an_objective():
    space = get_space("categorical:3x2")
    archs = space.enumerate()
    table = Table(space.spec, archs, space.format_many(archs), {"acc": np.arange(8.0), "train_seconds": np.ones(8)})
    objective = TabularObjective(table, "acc", time_column="train_seconds")
    answer = objective.evaluate(archs[:3])
    assert answer.values.tolist() == [0.0, 1.0, 2.0] and answer.seconds.tolist() == [1.0, 1.0, 1.0]
    assert objective.optimum == 7.0 and objective.clock and objective.domain() is None
