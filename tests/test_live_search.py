"""`surrogate search --space ... --dataset ...`: a live campaign, every query trained on digits."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from surrogate.cli import main
from surrogate.search.report import VALIDATED_FIELDS, result_fields
from surrogate.spaces import get_space
from surrogate.tabular import Table

LIVE = ["--space", "nb201", "--dataset", "digits", "--epochs", "1", "--channels", "8", "--cells", "1",
        "--metric", "valid_acc", "--budget", "6", "--init", "3", "--no-progress"]


def test_tiny_live_campaign_with_validated_top_picks(tmp_path, capsys, one_torch_thread):
    out = tmp_path / "live"
    assert main(["search", *LIVE, "--strategies", "bo,rs", "--seeds", "1", "--validate-top", "2", "--out", str(out),
                 "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["optimum"] is None
    for result in document["results"]:
        assert tuple(result) == result_fields(1) and result["train_seconds"] > 0 and result["found_optimum"] is None
    assert len(document["validated"]) == 2 * 2
    for row in document["validated"]:
        assert set(row) == set(VALIDATED_FIELDS) and 0 <= row["validated_value"] <= 100
    trajectories = pd.read_csv(out / "trajectories.csv")
    assert len(trajectories) == 12
    assert (trajectories.groupby("strategy").simulated_seconds.diff().dropna() > 0).all()  # each query charged
    records = os.listdir(out / "records.h5.parts" / "records")
    space = get_space("nb201")
    assert len(records) == len(set(space.canonical_ids(space.parse_many(trajectories.arch))))  # each class once
    for name in ("records.h5", "validated.h5", "summary.md", "regret.png", "run.json"):
        assert (out / name).is_file()


@pytest.mark.parametrize("args, needle", [
    (["--space", "nb201", "--metric", "valid_acc"], "--space and --dataset"),
    (["nb201", "--space", "nb201", "--dataset", "digits", "--metric", "valid_acc"], "not both"),
    ([*LIVE, "--validate-top", "7"], "exceeds the budget"),
    (["--space", "nb201", "--dataset", "imagenet", "--metric", "valid_acc"], "unknown dataset"),
    ([*LIVE, "--metric", "cifar10_valid_acc"], "unknown column 'cifar10_valid_acc' for a live campaign"),
    ([*LIVE, "--workers", "0"], "--workers must be at least 1"),
    ([*LIVE, "--channels", "0"], "--channels must be at least 1"),
    ([*LIVE, "--cells", "0"], "--cells must be at least 1"),
    ([*LIVE, "--batch-size", "0"], "--batch-size must be at least 1"),
    ([*LIVE, "--budget", "100000"], "exceeds the 6466 distinct architectures of space nb201"),
    ([*LIVE, "--report", "test_acc"], "only for a table campaign"),
    (["--space", "categorical:2x2", *LIVE[2:], "--budget", "10", "--init", "2"], "exceeds the 4 distinct"),
])
def test_bad_live_input_fails_before_training(tmp_path, capsys, args, needle):
    out = tmp_path / "o"
    assert main(["search", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.slow
def test_kill_and_rerun_replays_without_training_twice(tmp_path, one_torch_thread):
    """kill -9 mid-campaign, rerun: the same trajectories as an uninterrupted run, and every record
    written before the kill is kept as it was (nothing trained twice)."""
    args = [*LIVE, "--strategies", "bo,rs", "--seeds", "2"]
    whole = tmp_path / "whole"
    assert main(["search", *args, "--out", str(whole)]) == 0

    out = tmp_path / "killed"
    records = out / "records.h5.parts" / "records"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "surrogate.cli", "search", *args, "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(records.glob("*.npz"))) < 4:  # finished records, not temp files
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in records.glob("*.npz")}
    assert 4 <= len(before) and not (out / "trajectories.csv").exists()
    assert main(["search", *args, "--out", str(out)]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in records.glob("*.npz")}
    assert all(after[name] == mtime for name, mtime in before.items())
    same = ["strategy", "seed", "step", "arch", "value", "best_so_far"]  # seconds are measured: they differ
    pd.testing.assert_frame_equal(pd.read_csv(out / "trajectories.csv")[same], pd.read_csv(whole / "trajectories.csv")[same])
    assert sorted(after) == sorted(os.listdir(whole / "records.h5.parts" / "records"))


def test_live_worker_of_a_shared_study(tmp_path, capsys, one_torch_thread):
    """--storage/--study: this process trains its trials into its own records; the study counts them."""
    import optuna

    url = f"sqlite:///{tmp_path / 'study.db'}"
    out = tmp_path / "worker"
    args = [a for a in LIVE if a != "--no-progress"]
    assert main(["search", *args[:args.index("--budget")], "--budget", "3", "--strategies", "rs", "--storage", url,
                 "--study", "live", "--worker-seed", "1", "--out", str(out)]) == 0
    assert "3 trials completed by this worker" in capsys.readouterr().out
    trials = optuna.load_study(study_name="live", storage=url).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3 and all(t.user_attrs["train_seconds"] > 0 for t in trials)
    from surrogate.tabular import Table

    assert Table.read(out / "records.h5").n == 3


@pytest.mark.slow
def test_workers_train_in_parallel_with_the_same_records(tmp_path, one_torch_thread):
    """--workers 2: queries trained two at a time in spawned processes give the records one process gives."""
    args = [*LIVE, "--strategies", "rs", "--seeds", "1", "--budget", "4"]
    assert main(["search", *args, "--out", str(tmp_path / "one")]) == 0
    assert main(["search", *args, "--workers", "2", "--out", str(tmp_path / "two")]) == 0
    one, two = (pd.read_csv(tmp_path / name / "trajectories.csv") for name in ("one", "two"))
    pd.testing.assert_frame_equal(one[["arch", "value"]], two[["arch", "value"]])
    assert Table.read(tmp_path / "two" / "records.h5").attrs["provenance"]["workers"] == 2  # two processes trained


LIVE_MO = [a for a in LIVE if a not in ("--metric", "valid_acc")]


def test_tiny_live_multi_objective_campaign_and_its_resume(tmp_path, capsys, monkeypatch, one_torch_thread):
    """--objectives on a live space: the outcome vector read from each trained record, the table
    campaign's outputs and --json fields, null where a true front would be needed; a rerun after
    a kill mid-campaign replays from the journal without training anything."""
    from surrogate.search.oracle import LiveOracle

    out = tmp_path / "mo"
    args = ["search", *LIVE_MO, "--objectives", "valid_acc:max,params:min", "--strategies", "rs,re", "--seeds", "1",
            "--budget", "4", "--out", str(out), "--json"]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["true_front_size"] is None and len(document["ref_point"]) == 2
    assert [r["strategy"] for r in document["results"]] == ["rs", "re"]
    for result in document["results"]:
        assert tuple(result) == result_fields(2) and result["seeds"] == 1 and result["budget"] == 4
        assert result["hypervolume_ratio_at"] == {"2": None, "4": None}
        assert result["found_front_fraction"] is None and result["seconds_per_query"] >= 0
    for name in ("trajectories.csv", "pareto.csv", "pareto.png", "hypervolume.png", "summary.md", "run.json",
                 "records.h5"):
        assert (out / name).is_file(), name
    trajectories = pd.read_csv(out / "trajectories.csv")
    assert len(trajectories) == 8 and trajectories.feasible.all()
    assert (trajectories.groupby("strategy").hypervolume.diff().dropna() >= 0).all()
    assert (trajectories.groupby("strategy").hypervolume.last() > 0).all()  # measured from a shared reference
    space = get_space("nb201")
    table = Table.read(out / "records.h5")
    row = dict(zip(space.canonical_ids(table.archs).tolist(), range(table.n)))
    rows = [row[k] for k in space.canonical_ids(space.parse_many(trajectories.arch)).tolist()]
    assert table.n == len(set(rows))  # each class trained once
    for column in ("valid_acc", "params"):  # params computed before training = what the record measured
        assert list(trajectories[column]) == list(table.metric(column)[rows])
    summary = (out / "summary.md").read_text()
    assert "HV@4" in summary and "No true front is known" in summary
    assert set(pd.read_csv(out / "pareto.csv").strategy) == {"rs", "re", "combined front"}

    # killed while `re` ran: its checkpoint and the report are missing, every record is kept
    for path in [*out.glob(".checkpoints/re-*.csv"), out / "trajectories.csv", out / "run.json"]:
        path.unlink()
    monkeypatch.setattr(LiveOracle, "_train", lambda *a, **k: pytest.fail("a recorded network was trained again"))
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["results"][0] == document["results"][0]
    pd.testing.assert_frame_equal(pd.read_csv(out / "trajectories.csv").drop(columns="simulated_seconds"),
                                  trajectories.drop(columns="simulated_seconds"))


@pytest.mark.parametrize("args, needle", [
    (["--objectives", "valid_acc:max,nope:min"], "unknown column 'nope' for a live campaign"),
    (["--objectives", "valid_acc:max,params:min", "--constraint", "params=<3"], "malformed constraint"),
    (["--objectives", "valid_acc:max,params:min", "--constraint", "params<=1"], "no architecture satisfies params<=1"),
    (["--objectives", "valid_acc:max,params:min", "--ref-point", "90"], "needs 2 values"),
    (["--objectives", "valid_acc:max,params:min", "--budget", "100000"], "exceeds the 6466 distinct"),
    (["--objectives", "valid_acc:max,params:min", "--workers", "2"], "--workers trains several queries at once"),
    (["--objectives", "valid_acc:max,params:min", "--strategies", "tpe"], "'tpe' serves one objective"),
    (["--objectives", "valid_acc:max,params:min", "--features", "zc"], "--features: only for a table campaign"),
    (["--constraint", "params<=1e5"], "--metric is required"),
    (["--objectives", ""], "no objective given"),
])
def test_bad_live_multi_objective_input_fails_before_training(tmp_path, capsys, args, needle):
    out = tmp_path / "o"
    assert main(["search", *LIVE_MO, *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not out.exists()


def test_live_bo_and_nsga2_under_constraints(tmp_path, capsys, one_torch_thread):
    """bo and nsga2 live, three objectives: the exact constraint filters what is asked (nothing
    trained beyond it), the measured one is read from the record; one objective with a
    constraint reports the best feasible value, with null where an optimum would be needed."""
    out = tmp_path / "three"
    assert main(["search", *LIVE_MO, "--objectives", "valid_acc:max,params:min,latency_b1_ms:min", "--constraint",
                 "params<=25000", "--constraint", "train_seconds<=60", "--strategies", "bo,nsga2", "--seeds", "1",
                 "--budget", "5", "--init", "3", "--out", str(out), "--no-progress"]) == 0
    assert "HV@5" in capsys.readouterr().out
    trajectories = pd.read_csv(out / "trajectories.csv")
    assert len(trajectories) == 10 and (trajectories.params <= 25000).all()
    np.testing.assert_array_equal(trajectories.feasible, trajectories.train_seconds <= 60)
    assert (Table.read(out / "records.h5").metric("params") <= 25000).all()

    out = tmp_path / "one"
    assert main(["search", *LIVE, "--constraint", "params<=25000", "--strategies", "bo,rs", "--seeds", "1",
                 "--budget", "4", "--init", "2", "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["optimum"] is None
    for result in document["results"]:
        assert tuple(result) == result_fields(1) and result["found_optimum"] is None
        assert set(result["regret_at"].values()) == {None}
    trajectories = pd.read_csv(out / "trajectories.csv")
    assert (trajectories.params <= 25000).all() and trajectories.best_so_far.notna().all()
    assert (out / "regret.png").is_file() and not (out / "pareto.png").exists()


def test_live_partial_trainings_continue_from_their_checkpoints(tmp_path, capsys, one_torch_thread):
    """--fidelity epochs live: asha trains 1-epoch jobs, checkpoints them, and continues the one it
    promotes; the continued training's record is the bytes of one uninterrupted training."""
    import torch

    from surrogate.generate import train_job
    from surrogate.search.oracle import TRAIN_SEED, live_config

    out = tmp_path / "mf"
    args = [*LIVE, "--epochs", "3", "--strategies", "asha", "--fidelity", "epochs", "--budget", "5", "--seeds", "1"]
    assert main(["search", *args, "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    t = pd.read_csv(out / "trajectories.csv")
    assert t.epochs.tolist() == [1, 1, 1, 3, 1] and t.epochs_trained.tolist() == [1, 1, 1, 2, 1]
    assert result["epochs_trained"] == 6 and set(result["regret_at_budget_fraction"]) == {"0.1", "0.25", "0.5", "1.0"}
    assert len(list((out / "records.h5.parts" / "partial").glob("*.pt"))) == 4  # every 1-epoch training
    assert t.value[3] == t.best_so_far[3] and np.isnan(t.best_so_far[2])  # only whole trainings count as found

    space = get_space("nb201")
    promoted = space.canonicalize(space.parse(t.arch[3])[None])[0]
    config, data = live_config("nb201", "digits", epochs=3, channels=8, cells=1)
    whole = train_job(config, promoted, TRAIN_SEED, data, torch.device("cpu"))
    table = Table.read(out / "records.h5")
    row = table.lookup([space.format(promoted)])[0]
    for name in ("train_loss", "valid_acc", "valid_loss", "test_acc", "params"):
        assert np.array_equal(table.metrics[name][row, 0], whole[name], equal_nan=True), name


def test_top_picks_validated_by_population_based_training(tmp_path, capsys, one_torch_thread):
    out = tmp_path / "pbt"
    args = [*LIVE, "--epochs", "2", "--strategies", "rs", "--budget", "3", "--seeds", "1", "--validate-top", "1",
            "--validate-with", "pbt"]
    assert main(["search", *args, "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    [row] = document["validated"]
    population = json.loads((out / "pbt" / "rs-seed0" / "pbt.json").read_text())
    assert len(population["generations"][0]) == 4 and population["ends"] == [1, 2]
    mine = [h for h in population["generations"][-1] if h["arch"] == row["arch"]]
    assert row["validated_value"] == max(mine, key=lambda h: h["valid_acc"])["test_acc"]
    assert not (out / "validated.h5").exists()
    assert main(["search", *LIVE, "--validate-with", "pbt", "--out", str(tmp_path / "x")]) == 2
    assert "give --validate-top K too" in capsys.readouterr().err


@pytest.mark.slow
def test_asynchronous_live_workers_give_the_values_one_process_gives(tmp_path, capsys, one_torch_thread):
    """--fidelity with --workers 2 live: each job is started as a process frees; whatever the
    order, every job's value is the one a single process computes for that architecture and epoch."""
    from surrogate.search.oracle import LiveOracle, live_config

    args = [*LIVE, "--epochs", "3", "--strategies", "asha", "--fidelity", "epochs", "--budget", "8", "--seeds", "1"]
    assert main(["search", *args, "--workers", "2", "--out", str(tmp_path / "two")]) == 0
    t = pd.read_csv(tmp_path / "two" / "trajectories.csv")
    assert len(t) == 8 and (np.diff(t.wall_seconds) >= 0).all() and 3 in t.epochs.tolist()
    config, data = live_config("nb201", "digits", epochs=3, channels=8, cells=1)
    alone = LiveOracle(config, tmp_path / "one", ["valid_acc"], data=data)
    space = get_space("nb201")
    values = alone.evaluate(space.parse_many(t.arch), t.epochs.tolist()).values[:, 0]
    np.testing.assert_array_equal(values, t.value.to_numpy())
