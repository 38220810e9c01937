import json

import numpy as np
import pytest

from surrogate.cli import main
from surrogate.spaces import get_space
from surrogate.supernet.search import RUN_COLUMNS
from surrogate.tabular import Table
from surrogate.train.data import load

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = ["--ws-epochs", "1", "--seeds", "1", "--no-progress"]


def generated_table(tmp_path, archs: int = 25):
    """A table as `surrogate generate` writes it (digits, C=2, N=1, 1 epoch), values made up."""
    space = get_space("nb201")
    chosen = np.unique(space.sample(archs, 1), axis=0)
    rng = np.random.default_rng(0)
    config = {"epochs": 1, "seeds": [0], "batch_size": 256, "channels": 2, "cells": 1, "lr": 0.1}
    table = Table("nb201", chosen, space.format_many(chosen),
                  {"valid_acc": rng.uniform(20, 90, len(chosen)), "test_acc": rng.uniform(20, 90, len(chosen))},
                  attrs={"dataset": "digits", "training_config": config,
                         "provenance": {"dataset_checksum": load("digits").checksum}})
    path = tmp_path / "gen.h5"
    table.write(path)
    return table, path


def test_enas_and_darts_beside_a_query_strategy(tmp_path, capsys):
    table, path = generated_table(tmp_path)
    out = tmp_path / "search"
    code = main(["search", str(path), "--metric", "valid_acc", "--strategies", "rs,enas,darts", "--budget", "5",
                 "--report", "test_acc", "--out", str(out), "--json", *FAST])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["strategy"] for r in doc["results"]] == ["rs"]
    assert [r["strategy"] for r in doc["weight_sharing"]] == ["enas", "darts"]
    for name in ("summary.md", "run.json", "weight_sharing.csv", "weight_sharing.md", "weight_sharing.json"):
        assert (out / name).is_file()
    import pandas as pd

    runs = pd.read_csv(out / "weight_sharing.csv")
    assert list(runs.columns) == list(RUN_COLUMNS) and len(runs) == 2
    for _, run in runs.iterrows():
        arch = get_space("nb201").parse(run.arch)
        # every pick gets a value: the table's record, or a stand-alone training like the table's records
        assert np.isfinite(run.value)
        if run.value_source.startswith("table"):
            assert table.lookup(arch[None])[0] >= 0 or run.value_source == "table (isomorph)"
        else:
            assert run.value_source.startswith("trained") and 0 <= run.value <= 100
        assert run.regret == pytest.approx(table.metric("valid_acc").max() - run.value)
    provenance = json.loads((out / "weight_sharing.json").read_text())
    assert provenance["supernet"]["channels"] == 2 and provenance["supernet"]["dataset"] == "digits"
    assert provenance["input_checksum"] == table.checksum()


def test_a_rerun_resumes_from_finished_runs(tmp_path, capsys):
    _, path = generated_table(tmp_path)
    args = ["search", str(path), "--metric", "valid_acc", "--strategies", "darts", "--out", str(tmp_path / "s"), *FAST]
    assert main(args) == 0
    first = (tmp_path / "s" / "weight_sharing.csv").read_text()
    checkpoints = list((tmp_path / "s" / ".checkpoints").glob("ws-darts-0-*.json"))
    assert len(checkpoints) == 1
    row = json.loads(checkpoints[0].read_text())
    row["search_seconds"] = -1.0  # proves the second run read it instead of searching again
    checkpoints[0].write_text(json.dumps(row))
    assert main(args) == 0
    second = (tmp_path / "s" / "weight_sharing.csv").read_text()
    assert first.splitlines()[1].split(",")[:3] == second.splitlines()[1].split(",")[:3]
    assert ",-1.0" in second


@pytest.mark.parametrize("extra, message", [
    (["--strategies", "enas", "--storage", "sqlite:///x.db", "--study", "s"], "cannot run as --storage workers"),
    (["--strategies", "darts", "--dataset", "mnist"], "unknown dataset"),
    (["--strategies", "darts", "--report", "nope"], "unknown metric"),
    (["--strategies", "darts", "--device", "tpu"], "device"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
    _, path = generated_table(tmp_path)
    code = main(["search", str(path), "--metric", "valid_acc", *extra, "--out", str(tmp_path / "s"), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_table_of_unknown_provenance_needs_a_dataset(tmp_path, capsys):
    space = get_space("nb201")
    archs = np.unique(space.sample(10, 0), axis=0)
    path = tmp_path / "imported.h5"
    Table("nb201", archs, space.format_many(archs), {"acc": np.arange(len(archs), dtype=float)},
          attrs={"dataset": "nb201_hp12_accuracy"}).write(path)
    code = main(["search", str(path), "--metric", "acc", "--strategies", "enas", "--out", str(tmp_path / "s"), *FAST])
    assert code == 2 and "--dataset" in capsys.readouterr().err
