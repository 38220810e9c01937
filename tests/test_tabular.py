import h5py
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from surrogate import _io
from surrogate.errors import UsageError
from surrogate.tabular import Table, describe


def make_table(n=6, seeds=2, epochs=3, seed=0):
    rng = np.random.default_rng(seed)
    archs = np.unique(rng.integers(0, 3, size=(n * 3, 4)), axis=0)[:n]
    acc = rng.uniform(0, 100, size=(len(archs), seeds, epochs))
    acc[0, 1, :] = np.nan  # seed 1 of arch 0 missing
    return Table(space="categorical:4x3", archs=archs, arch_strings=["".join(map(str, a)) for a in archs],
                 metrics={"valid_acc": acc, "params": rng.uniform(1, 9, len(archs))},
                 attrs={"dataset": "toy", "training_config": {"epochs": epochs}, "provenance": {"seed": seed}})


def test_round_trip_and_checksum(tmp_path):
    table = make_table()
    path = tmp_path / "t.h5"
    table.write(path)
    back = Table.read(path)
    assert back.space == table.space and (back.archs == table.archs).all()
    assert back.arch_strings.tolist() == table.arch_strings.tolist()
    assert list(back.metrics) == ["valid_acc", "params"]  # order kept
    for name in table.metrics:
        np.testing.assert_array_equal(back.metrics[name], table.metrics[name])
    assert back.attrs["training_config"] == {"epochs": 3} and back.attrs["dataset"] == "toy"
    assert back.checksum() == table.checksum() == back.attrs["checksum"]
    assert back.metrics["params"].shape == (table.n, 1, 1)
    changed = table.with_metric("params", table.metric("params") + 1)
    assert changed.checksum() != table.checksum()


@given(st.integers(1, 8), st.integers(1, 3), st.integers(1, 4), st.integers(0, 10**6))
@settings(max_examples=15, deadline=None)
def test_round_trip_property(n, seeds, epochs, seed):
    import tempfile
    from pathlib import Path

    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, seeds, epochs))
    values[rng.random(values.shape) < 0.3] = np.nan
    table = Table("categorical:2x10", np.stack([np.arange(n), np.zeros(n, int)], 1),
                  [f"{i}-0" for i in range(n)], {"m": values})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.h5"
        table.write(path)
        np.testing.assert_array_equal(Table.read(path).metrics["m"], values)


def test_metric_selection():
    table = make_table()
    acc = table.metrics["valid_acc"]
    np.testing.assert_allclose(table.metric("valid_acc", epoch=0, seed=1)[1:], acc[1:, 1, 0])
    mean = table.metric("valid_acc")
    assert mean[0] == acc[0, 0, -1]  # NaN seed ignored
    np.testing.assert_allclose(mean[1:], acc[1:, :, -1].mean(axis=1))
    all_nan = table.with_metric("gone", np.full(table.n, np.nan))
    with np.errstate(all="raise"):
        assert np.isnan(all_nan.metric("gone")).all()
    with pytest.raises(UsageError, match="unknown metric 'nope'.*valid_acc"):
        table.metric("nope")
    with pytest.raises(UsageError, match="epoch"):
        table.metric("valid_acc", epoch=3)
    with pytest.raises(UsageError, match="seed"):
        table.metric("valid_acc", seed=2)


def test_lookup_and_frame():
    table = make_table()
    assert table.lookup([table.arch_strings[2], "9999", table.arch_strings[0]]).tolist() == [2, -1, 0]
    query = np.stack([table.archs[3], np.array([2, 2, 2, 9])])
    assert table.lookup(query).tolist() == [3, -1]
    frame = table.to_frame()
    assert list(frame.columns) == ["arch", "valid_acc", "params"] and len(frame) == table.n
    info = describe(table)
    assert info["metrics"]["valid_acc"]["seeds"] == 2 and info["metrics"]["valid_acc"]["epochs"] == 3


def test_invalid_tables():
    with pytest.raises(UsageError, match="unique"):
        Table("categorical:2", [[0], [0]], ["0", "0"])
    with pytest.raises(UsageError, match="shape"):
        Table("categorical:2", [[0], [1]], ["0", "1"], {"m": np.zeros(3)})


def test_read_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        Table.read(tmp_path / "missing.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(UsageError, match="corrupt"):
        Table.read(garbage)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(UsageError, match="schema"):
        Table.read(other)
    path = tmp_path / "t.h5"
    make_table().write(path)
    with h5py.File(path, "r+") as f:
        f["metrics/valid_acc"][1, 0, 0] = -5.0
    with pytest.raises(UsageError, match="checksum mismatch"):
        Table.read(path)


def test_crash_during_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "t.h5"
    original = make_table(seed=1)
    original.write(path)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(_io.os, "replace", explode)
    with pytest.raises(RuntimeError):
        make_table(seed=2).write(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.h5"]  # no temp file left
    assert Table.read(path).checksum() == original.checksum()


def test_describe_counts_architectures_per_number_of_seeds():
    archs = np.arange(18).reshape(3, 6) % 5
    values = np.full((3, 3, 2), np.nan)
    values[:, 0, 1] = 1.0
    values[0, 1, 0] = 2.0  # seed 1 recorded at an earlier epoch only: still a seed with a record
    values[0, 2, :] = 3.0
    values[1, 1, 1] = 4.0
    table = Table("nb201", archs, ["a", "b", "c"], {"m": values, "empty": np.full(3, np.nan)})
    facts = describe(table)["metrics"]
    assert facts["m"]["seed_counts"] == {1: 1, 2: 1, 3: 1} and facts["m"]["seeds"] == 3
    assert facts["empty"]["seed_counts"] == {}
