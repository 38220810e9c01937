import json

import numpy as np
import pandas as pd
import pytest

from surrogate.campaign import JSON_FIELDS, TRAJECTORY_COLUMNS, Campaign, detect_time_column
from surrogate.objective import TabularObjective
from surrogate.cli import main
from surrogate.errors import UsageError
from surrogate.spaces import get_space
from surrogate.tabular import Table


def chain_table(tmp_path, spec="categorical:4x3", keep=None):
    """Every architecture of a small chain space with a smooth accuracy, a 'long training' column
    and a per-epoch time column (2 epochs)."""
    space = get_space(spec)
    archs = space.enumerate()
    if keep is not None:
        archs = archs[np.random.default_rng(1).permutation(len(archs))[:keep]]
    weights = np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [0.5, 2.5, 0.0], [2.0, 1.0, 0.0]])
    acc = 60 + weights[np.arange(4), archs].sum(1)
    seconds = np.stack([10 + archs.sum(1), 10 + archs.sum(1)], axis=1)[:, None, :].astype(float)
    table = Table(spec, archs, space.format_many(archs),
                  {"valid_acc": acc, "test_acc": acc + 1, "epoch_seconds": seconds})
    path = tmp_path / "chain.h5"
    table.write(path)
    return table, path


def test_cli_writes_four_files_and_json_contract(tmp_path, capsys):
    _, path = chain_table(tmp_path)
    out = tmp_path / "search"
    code = main(["search", str(path), "--metric", "valid_acc", "--strategies", "rs,bo", "--budget", "30",
                 "--seeds", "2", "--init", "5", "--report", "test_acc", "--validate-top", "3", "--out", str(out),
                 "--json", "--no-progress"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metric"] == "valid_acc" and doc["optimum"] == pytest.approx(60 + 2 + 3 + 2.5 + 2)
    assert [r["strategy"] for r in doc["results"]] == ["rs", "bo"]
    for row in doc["results"]:
        assert set(row) == set(JSON_FIELDS)
        assert set(row["regret_at"]) == {"15", "30", "50", "100", "150"} and row["regret_at"]["50"] is None
        assert row["regret_at"]["30"] is not None and row["regret_at"]["15"] >= row["regret_at"]["30"]
        assert row["seeds"] == 2 and row["budget"] == 30 and 0 <= row["found_optimum"] <= 2
        assert row["report_mean"] is not None and row["seconds_per_query"] >= 0
    for name in ("trajectories.csv", "summary.md", "regret.png", "run.json"):
        assert (out / name).is_file()
    traj = pd.read_csv(out / "trajectories.csv")
    assert tuple(traj.columns) == TRAJECTORY_COLUMNS and len(traj) == 2 * 2 * 30
    run = json.loads((out / "run.json").read_text())
    assert run["input_checksum"].startswith("sha256:") and run["seeds"] == [0, 1] and "surrogate search" in run["command"]


def test_trajectory_invariants(tmp_path):
    table, _ = chain_table(tmp_path)
    campaign = Campaign(metric="valid_acc", strategies=["rs", "bo"], budget=40, seeds=2, init=5,
                        time_column=detect_time_column(table))
    assert campaign.time_column == "epoch_seconds"
    traj = campaign.run(table, progress=False)
    space = get_space(table.space)
    optimum = table.metric("valid_acc").max()
    for _, run in traj.groupby(["strategy", "seed"]):
        best = run.best_so_far.to_numpy()
        assert (np.diff(best) >= 0).all()
        np.testing.assert_allclose(run.regret, optimum - best)
        np.testing.assert_allclose(best, np.maximum.accumulate(run.value))
        archs = space.parse_many(run.arch)
        assert len(np.unique(space.canonical_ids(archs))) == len(archs)  # never the same class twice
        per_query = 2 * (10 + archs.sum(1))  # two epochs of (10 + sum) seconds
        np.testing.assert_allclose(run.simulated_seconds, np.cumsum(per_query))
    bo = traj[traj.strategy == "bo"].groupby("seed").best_so_far.last()
    assert (bo == optimum).all()  # 81 archs, an additive objective, 40 queries: BO must find it


def test_same_seed_same_trajectory(tmp_path):
    table, _ = chain_table(tmp_path)
    campaign = Campaign(metric="valid_acc", strategies=["bo", "rs"], budget=15, seeds=1, init=4)
    a, b = campaign.run(table, progress=False), campaign.run(table, progress=False)
    pd.testing.assert_frame_equal(a.drop(columns="seconds_per_query"), b.drop(columns="seconds_per_query"))


def test_resume_from_checkpoints(tmp_path, monkeypatch):
    table, _ = chain_table(tmp_path)
    campaign = Campaign(metric="valid_acc", strategies=["rs"], budget=10, seeds=2)
    first = campaign.run(table, checkpoints=tmp_path / "ck", progress=False)
    assert len(list((tmp_path / "ck").glob("*.csv"))) == 2

    def fail(*args, **kwargs):
        raise AssertionError("a finished run was recomputed")

    monkeypatch.setattr(Campaign, "run_one", fail)
    again = campaign.run(table, checkpoints=tmp_path / "ck", progress=False)
    pd.testing.assert_frame_equal(first, again, check_dtype=False)


def test_table_not_covering_the_space_restricts_the_search(tmp_path):
    table, _ = chain_table(tmp_path, keep=40)
    traj = Campaign(metric="valid_acc", strategies=["rs", "bo"], budget=40, seeds=1, init=5).run(table, progress=False)
    assert set(traj.arch) <= set(table.arch_strings)
    for _, run in traj.groupby("strategy"):
        assert run.best_so_far.iloc[-1] == table.metric("valid_acc").max()  # all 40 seen


def test_oracle_falls_back_to_the_isomorphism_class(tmp_path):
    space = get_space("nb201")
    a = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    b = space.parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")  # node 2 is dead
    assert space.canonical_ids(a)[0] == space.canonical_ids(b)[0]
    table = Table("nb201", a[None], space.format_many(a[None]), {"acc": np.array([70.0])})
    oracle = TabularObjective(table, "acc")
    assert oracle(np.stack([a, b])).tolist() == [70.0, 70.0]
    other = space.parse("|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    with pytest.raises(UsageError, match="not in the table"):
        oracle(other[None])


@pytest.mark.parametrize("args,needle", [
    (["--strategies", "bo,sgd"], "unknown strategy"),
    (["--metric", "nope"], "unknown metric"),
    (["--budget", "500"], "exceeds"),
    (["--validate-top", "3"], "needs --report"),
    (["--acq", "pi"], "unknown acquisition"),
    (["--model", "xgb"], "unknown model"),
    (["--report", "nope"], "unknown metric"),
    (["--features", "nope"], "unknown feature"),
    (["--features", "zc"], "no zc_ columns"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, args, needle):
    _, path = chain_table(tmp_path)
    argv = ["search", str(path), "--metric", "valid_acc", "--budget", "10", "--seeds", "1", "--out",
            str(tmp_path / "o"), "--no-progress"]
    for flag, value in zip(args[::2], args[1::2]):  # later flags win in argparse
        argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "summary.md").exists()


def test_nb201_lookups_are_the_table_records(nb201_csv):
    from surrogate.importer import read_csv_table

    table = read_csv_table(nb201_csv, "nb201")
    traj = Campaign(metric="cifar10_valid_acc", strategies=["bo"], budget=25, seeds=1, init=10,
                    report="cifar10_test_acc").run(table, progress=False)
    records = dict(zip(table.arch_strings, table.metric("cifar10_valid_acc")))
    assert traj.value.tolist() == [records[a] for a in traj.arch]  # NB201 lists every cell: exact lookups
    assert (traj.regret >= 0).all() and (84.892 - traj.best_so_far == traj.regret).all()


@pytest.mark.parametrize("strategy", ["re", "ls", "reinforce", "tpe"])  # bo: test_trajectory_invariants, in 40
def test_every_strategy_finds_the_optimum_of_a_simple_table(tmp_path, strategy):
    table, _ = chain_table(tmp_path)  # 81 architectures, an additive objective
    traj = Campaign(metric="valid_acc", strategies=[strategy], budget=50, seeds=3, init=5).run(table, progress=False)
    found = traj.groupby("seed").best_so_far.last() == table.metric("valid_acc").max()
    assert found.sum() >= 2, found  # random search finds it in 50 of 81 queries with probability 0.62


def test_every_strategy_runs_from_the_cli(tmp_path, capsys):
    _, path = chain_table(tmp_path)
    code = main(["search", str(path), "--metric", "valid_acc", "--budget", "12", "--seeds", "1", "--init", "4",
                 "--batch", "3", "--out", str(tmp_path / "all"), "--json", "--no-progress"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["strategy"] for r in doc["results"]] == ["bo", "re", "ls", "rs", "reinforce", "tpe"]


def test_short_campaign_reports_regret_and_refuses_a_foreign_folder(tmp_path, capsys):
    _, path = chain_table(tmp_path)
    out = tmp_path / "search"
    argv = ["search", str(path), "--metric", "valid_acc", "--strategies", "rs", "--budget", "12", "--seeds", "2",
            "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    summary = (out / "summary.md").read_text()
    assert "regret@6" in summary and "regret@12" in summary and "budget + 1" in summary
    assert main(argv) == 0  # the same campaign again: resumes
    capsys.readouterr()
    assert main(["search", str(path), "--metric", "valid_acc", "--strategies", "rs", "--budget", "10", "--seeds", "2",
                 "--out", str(out), "--no-progress"]) == 2
    assert "holds another campaign" in capsys.readouterr().err


def test_one_rule_for_isomorphs(tmp_path):
    """An arch's own finite record; else the mean of its class's finite records; NaN when none."""
    space = get_space("nb201")
    a = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    b = space.parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    c = space.parse("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    archs = np.stack([a, b, c])
    table = Table("nb201", archs, space.format_many(archs), {"acc": np.array([np.nan, 70.0, 72.0])})
    assert TabularObjective(table, "acc")(archs).tolist() == [71.0, 70.0, 72.0]
    table = Table("nb201", archs[:1], space.format_many(archs[:1]), {"acc": np.array([np.nan]), "b": np.array([1.0])})
    assert np.isnan(TabularObjective(table, "b").lookup(table.metric("acc"), archs[1:2])[0])


def test_every_strategy_stays_inside_a_partial_table(one_torch_thread):
    from surrogate.campaign import Campaign
    from surrogate.catalog import resolve
    from surrogate.tabular import Table

    table = Table.read(resolve("nb201-digits"))  # 1,000 of NB201's 6,466 classes
    campaign = Campaign(metric="valid_acc", strategies=["bo", "re", "ls", "rs", "reinforce", "tpe", "predict-top"],
                        budget=25, seeds=1, init=5)
    trajectories = campaign.run(table, progress=False)
    assert len(trajectories) == 7 * 25
    objective = TabularObjective(table, "valid_acc")
    rows = objective.rows(objective.space.parse_many(trajectories.arch))
    assert len(rows) == len(trajectories)  # every asked architecture (or an isomorph) is in the table


@pytest.mark.parametrize("name, metric, expected", [("nb201", "cifar10_valid_acc", "f70541f89d3bfd34"),
                                                    ("nb201-digits", "valid_acc", "80165c70c4a97aca")])
def test_table_campaigns_keep_their_trajectories(name, metric, expected, one_torch_thread):
    """The Objective protocol changed nothing a table campaign asks or sees: the fingerprint of these
    trajectories was taken with the code before it (TabularOracle). BO is left out: its GP fit
    is floating-point sensitive across BLAS builds, and the rest already pins the runner."""
    import hashlib

    from surrogate.catalog import resolve

    table = Table.read(resolve(name))
    campaign = Campaign(metric=metric, strategies=["re", "ls", "rs", "reinforce", "tpe"], budget=15, seeds=1, init=5)
    t = campaign.run(table, progress=False)
    text = "\n".join(t.strategy + " " + t.arch + " " + t.value.map(repr))
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == expected


def zc_table(tmp_path):
    """The chain table plus a zero-cost-proxy-like column that tracks the accuracy."""
    table, _ = chain_table(tmp_path)
    table = table.with_metric("zc_fake", table.metric("valid_acc") + np.random.default_rng(0).normal(0, 0.1, table.n))
    path = tmp_path / "zc.h5"
    table.write(path)
    return table, path


def test_bo_reads_a_tables_proxies_by_default_and_features_by_name(tmp_path, capsys):
    from surrogate.catalog import resolve

    nb201 = TabularObjective(Table.read(resolve("nb201")), "cifar10_valid_acc")  # a cell space that ships zc_
    assert Campaign("cifar10_valid_acc").params_for("bo", nb201) == {
        "init": 10, "model": "gp", "acq": "logei", "encoding": "graf", "features": ["zc"]}
    assert "features" not in Campaign("cifar10_valid_acc", features=[]).params_for("bo", nb201)  # --features none
    assert Campaign("x", features=["params"], encoding="path").params_for("bo", nb201)["encoding"] == "path"
    table, path = zc_table(tmp_path)  # a chain space: its proxies, its own default encoding
    assert Campaign("valid_acc").params_for("bo", TabularObjective(table, "valid_acc")) == {
        "init": 10, "model": "gp", "acq": "logei", "features": ["zc"]}
    assert "features" not in Campaign("valid_acc").params_for("bo", TabularObjective(chain_table(tmp_path)[0],
                                                                                     "valid_acc"))
    out = tmp_path / "o"
    assert main(["search", str(path), "--metric", "valid_acc", "--strategies", "bo", "--budget", "20", "--seeds", "1",
                 "--init", "5", "--encoding", "graf", "--out", str(out), "--no-progress", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["found_optimum"] == 1
    assert json.loads((out / "run.json").read_text())["strategy_params"]["bo"] == {
        "init": 5, "model": "gp", "acq": "logei", "encoding": "graf", "features": ["zc"]}


def test_class_features_are_class_means_and_refuse_unknown_classes():
    from surrogate.catalog import resolve
    from surrogate.features import ClassFeatures, feature_matrix

    table = Table.read(resolve("nb201"))
    table = Table(table.space, table.archs[:300], table.arch_strings[:300],
                  {"m": table.metric("cifar10_valid_acc")[:300]})
    features = ClassFeatures(table, ["m"])
    space = get_space("nb201")
    ids = space.canonical_ids(table.archs)
    x = feature_matrix(table, ["m"])[:, 0]
    got = features(table.archs)[:, 0]
    for c in np.unique(ids):
        assert np.allclose(got[ids == c], x[ids == c].mean())  # isomorphs read the same row
    missing = next(a for a in space.sample(200, np.random.default_rng(0)) if space.canonical_ids(a[None])[0] not in ids)
    with pytest.raises(UsageError, match="not in the table"):
        features(missing[None])
