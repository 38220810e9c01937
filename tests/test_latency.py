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
