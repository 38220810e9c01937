"""ENAS and DARTS as strategies of the one campaign: a supernet trained live per run, its ranking
asked against the same oracle as every other strategy."""

import json

import numpy as np
import pandas as pd
import pytest

from surrogate.cli import main
from surrogate.errors import UsageError
from surrogate.search import get_strategy
from surrogate.search.oracle import TableOracle
from surrogate.spaces import get_space
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
    assert main(["search", str(path), "--metric", "valid_acc", "--strategies", "rs,enas,darts", "--budget", "3",
                 "--report", "test_acc", "--out", str(out), "--json", *FAST]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["strategy"] for r in doc["results"]] == ["rs", "enas", "darts"]
    traj = pd.read_csv(out / "trajectories.csv", dtype={"arch": str})
    space = get_space("nb201")
    asked = space.parse_many(traj.arch)
    assert set(space.canonical_ids(asked)) <= set(space.canonical_ids(table.archs))  # the best-ranked classes it holds
    expected = TableOracle(table, ["valid_acc"]).evaluate(asked).values[:, 0]
    assert traj.value.tolist() == expected.tolist()  # judged by the table, like every strategy
    run = json.loads((out / "run.json").read_text())
    assert run["strategy_params"]["darts"]["channels"] == 2 and run["strategy_params"]["darts"]["dataset"] == "digits"
    assert "beta" not in run["strategy_params"]["enas"] and run["input_checksum"] == table.checksum()


def test_darts_asks_its_derived_cell_first_then_its_ranking():
    darts = get_strategy("darts", "nb201", seed=0, dataset="digits", epochs=1, channels=2, cells=1, batch_size=256)
    first, second = darts.ask(), darts.ask()
    ranking = darts.ranking
    assert (first == ranking[0]).all() and (second == ranking[1]).all()
    space = get_space("nb201")
    assert len(np.unique(space.canonical_ids(ranking))) == len(ranking) == 6466  # every class, once


def test_a_rerun_resumes_from_finished_runs(tmp_path, capsys, monkeypatch):
    _, path = generated_table(tmp_path)
    args = ["search", str(path), "--metric", "valid_acc", "--strategies", "darts", "--budget", "2",
            "--out", str(tmp_path / "s"), *FAST]
    assert main(args) == 0
    first = (tmp_path / "s" / "trajectories.csv").read_text()
    from surrogate.search.weight_sharing import DARTS

    monkeypatch.setattr(DARTS, "search", lambda self: pytest.fail("a finished run searched again"))
    assert main(args) == 0
    assert (tmp_path / "s" / "trajectories.csv").read_text() == first


@pytest.mark.parametrize("extra, message", [
    (["--strategies", "enas", "--storage", "sqlite:///x.db", "--study", "s"], "cannot run as --storage workers"),
    (["--strategies", "darts", "--dataset", "mnist"], "unknown dataset"),
    (["--strategies", "darts", "--report", "nope"], "unknown metric"),
    (["--strategies", "darts", "--device", "tpu"], "device"),
    (["--strategies", "darts", "--darts-beta", "-1"], "--darts-beta must be at least 0"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
    _, path = generated_table(tmp_path)
    code = main(["search", str(path), "--metric", "valid_acc", "--budget", "2", *extra, "--out", str(tmp_path / "s"),
                 *FAST])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_a_table_of_unknown_provenance_needs_a_dataset(tmp_path, capsys):
    space = get_space("nb201")
    archs = np.unique(space.sample(10, 0), axis=0)
    path = tmp_path / "imported.h5"
    Table("nb201", archs, space.format_many(archs), {"acc": np.arange(len(archs), dtype=float)},
          attrs={"dataset": "nb201_hp12_accuracy"}).write(path)
    code = main(["search", str(path), "--metric", "acc", "--strategies", "enas", "--out", str(tmp_path / "s"), *FAST])
    assert code == 2 and "--dataset" in capsys.readouterr().err
    with pytest.raises(UsageError, match="needs a dataset"):
        get_strategy("enas", "nb201", seed=0)
