"""`surrogate latency`: the per-decision table, its predictions, the check, `--like`, bad input."""

import json

import numpy as np
import pytest

from surrogate.cli import main
from surrogate.nets.latency import LatencyTable, measure_table

TINY = ["latency", "--space", "categorical:3x3", "--channels", "4", "--input-shape", "1,8,8", "--repeats", "3",
        "--warmup", "1", "--no-progress"]


def test_the_table_sums_to_the_networks_it_timed():
    table = measure_table("categorical:3x3", repeats=3, warmup=1, channels=4, input_shape=(1, 8, 8))
    assert len(table.deltas_ms) == 3 and all(len(row) == 3 and row[0] == 0.0 for row in table.deltas_ms)
    assert table.predict(np.zeros((1, 3), dtype=int))[0] == table.base_ms > 0
    one = np.array([[0, 2, 0], [1, 0, 0]])
    np.testing.assert_allclose(table.predict(one), table.base_ms + np.array([table.deltas_ms[1][2],
                                                                              table.deltas_ms[0][1]]))
    assert table.facts["networks_timed"] == 1 + 3 * 2 and table.facts["threads"] == 1


def test_cli_writes_a_table_that_reads_back_and_a_check(tmp_path, capsys):
    out = tmp_path / "lut.json"
    assert main([*TINY, "--check", "5", "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == json.loads(out.read_text())
    assert {"package_version", "command", "seeds", "facts", "check"} <= set(doc)
    check = doc["check"]
    assert len(check["archs"]) == 5 and -1 <= check["kendall_tau"] <= 1 and check["mean_abs_percent_error"] >= 0
    table = LatencyTable.read(out)
    from surrogate.spaces import get_space

    archs = get_space("categorical:3x3").parse_many(check["archs"])
    np.testing.assert_allclose(table.predict(archs), check["predicted_ms"], atol=1e-4)


def test_like_takes_the_tables_space_and_network(tmp_path, capsys):
    assert main(["latency", "--like", "nb201-digits", "--repeats", "1", "--warmup", "0", "--check", "0",
                 "--out", str(tmp_path / "l.json"), "--json", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    from surrogate.catalog import resolve
    from surrogate.features import network_kwargs
    from surrogate.tabular import Table

    expected = network_kwargs(Table.read(resolve("nb201-digits")))
    assert doc["space"] == "nb201" and "check" not in doc
    assert {k: tuple(v) if k == "input_shape" else v for k, v in doc["facts"].items() if k in expected} == expected


@pytest.mark.parametrize("args, needle", [
    ([], "give --space SPEC or --like TABLE"),
    (["--space", "nb201", "--like", "nb201"], "give --space SPEC or --like TABLE"),
    (["--space", "rnn-cell:4"], "language models"),
    (["--space", "nb201", "--repeats", "0"], "--repeats must be at least 1"),
    (["--space", "nb201", "--input-shape", "3x32x32"], "write C,H,W"),
    (["--space", "nb201", "--device", "tpu"], "--device must be cpu or cuda"),
])
def test_bad_input_is_one_line_exit_2_before_any_work(tmp_path, capsys, args, needle):
    out = tmp_path / "l.json"
    assert main(["latency", *args, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and not out.exists()


def _tiny_table(path):
    from surrogate.spaces import get_space
    from surrogate.tabular import Table

    space = get_space("categorical:3x3")
    archs = space.enumerate()
    acc = 50 + (archs * np.array([3, 2, 1])).sum(axis=1) + np.arange(len(archs)) / 100
    Table(space=space.spec, archs=archs, arch_strings=space.format_many(archs), metrics={"acc": acc}).write(path)


def test_into_writes_a_column_search_reads_as_exact(tmp_path, capsys):
    from surrogate.search.oracle import TableOracle
    from surrogate.tabular import Table

    path = tmp_path / "t.h5"
    _tiny_table(path)
    assert main(["latency", "--into", str(path), "--channels", "4", "--input-shape", "1,8,8", "--repeats", "2",
                 "--warmup", "0", "--check", "0", "--out", str(tmp_path / "l.json"), "--no-progress"]) == 0
    assert "latency_ms" in capsys.readouterr().out
    table = Table.read(path)
    lut = LatencyTable.read(tmp_path / "l.json")
    np.testing.assert_allclose(table.metric("latency_ms"), lut.predict(table.archs))
    assert table.attrs["exact_columns"] == ["latency_ms"] and table.attrs["latency"]["repeats"] == 2
    assert TableOracle(table, ["acc", "latency_ms"]).exact_columns == ("latency_ms",)
    bound = float(np.median(table.metric("latency_ms")))
    assert main(["search", str(path), "--metric", "acc", "--constraint", f"latency_ms<={bound}", "--strategies",
                 "bo,rs", "--seeds", "1", "--budget", "6", "--init", "3", "--out", str(tmp_path / "s"),
                 "--json", "--no-progress"]) == 0
    capsys.readouterr()
    import pandas as pd

    traj = pd.read_csv(tmp_path / "s" / "trajectories.csv")
    assert len(traj) == 12 and (traj.latency_ms <= bound).all()  # an exact constraint filters before asking
    assert main(["latency", "--into", str(path), "--space", "categorical:4x3", "--out", str(tmp_path / "m.json"),
                 "--no-progress"]) == 2
    assert "holds space categorical:3x3" in capsys.readouterr().err


def test_search_on_latency_without_the_column_says_how_to_get_it(tmp_path, capsys):
    path = tmp_path / "t.h5"
    _tiny_table(path)
    assert main(["search", str(path), "--objectives", "acc:max,latency_ms:min", "--out", str(tmp_path / "s"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "surrogate latency --into FILE" in err and err.count("\n") == 1 and not (tmp_path / "s").exists()
