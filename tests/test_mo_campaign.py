import json

import numpy as np
import pandas as pd
import pytest

from surrogate import pareto
from surrogate.errors import UsageError
from surrogate.features import raw_feature
from surrogate.mo_campaign import ClassOracle, MOCampaign, parse_ref_point, run_mo_search
from surrogate.mo_report import MO_JSON_FIELDS, SO_JSON_FIELDS
from surrogate.spaces import get_space
from surrogate.tabular import Table


def front_table(tmp_path, with_params: bool = True):
    """A two-objective table with a known front: one decision, five architectures.

    acc    70  80  60  75  62      params  1  3  2  2  1.5
    Front (max acc, min params): (70, 1), (75, 2), (80, 3); (60, 2) and (62, 1.5) are dominated.
    BoTorch's reference point: nadir (70, 3) minus a tenth of the range (10, 2): (69, 3.2).
    Hypervolume by hand: (70-69)(3.2-1) + (75-70)(3.2-2) + (80-75)(3.2-3) = 2.2 + 6 + 1 = 9.2.
    """
    space = get_space("categorical:5")
    archs = space.enumerate()
    metrics = {"acc": np.array([70.0, 80, 60, 75, 62]), "latency": np.array([1.0, 5, 2, 3, 1])}
    if with_params:
        metrics["params"] = np.array([1.0, 3, 2, 2, 1.5])
    table = Table(space.spec, archs, space.format_many(archs), metrics)
    path = tmp_path / "front.h5"
    table.write(path)
    return table, path


def chain_table(tmp_path, keep: int | None = None):
    """81 chain architectures, accuracy and params at odds, latency the count of non-zero blocks."""
    space = get_space("categorical:4x3")
    archs = space.enumerate()
    if keep is not None:
        archs = archs[np.random.default_rng(1).permutation(len(archs))[:keep]]
    rows = np.arange(4)
    acc = 60 + np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [0.5, 2.5, 0.0], [2.0, 1.0, 0.0]])[rows, archs].sum(1)
    params = 1000 + np.array([[0, 3, 1], [2, 0, 5], [1, 4, 0], [3, 2, 0]])[rows, archs].sum(1) * 1000.0
    table = Table(space.spec, archs, space.format_many(archs),
                  {"acc": acc, "params": params, "latency": (archs > 0).sum(1).astype(float)})
    path = tmp_path / "chain.h5"
    table.write(path)
    return table, path


def test_truth_and_hypervolume_by_hand(tmp_path):
    table, _ = front_table(tmp_path)
    truth = MOCampaign(objectives="acc:max,params:min", budget=5).validate(table)
    np.testing.assert_allclose(truth.front, [[70, -1], [75, -2], [80, -3]])
    np.testing.assert_allclose(truth.ref, [69, -3.2])
    assert truth.hypervolume == pytest.approx(9.2)
    # a run in a known order: the ratio after each query, by hand
    campaign = MOCampaign(objectives="acc:max,params:min", strategies=["rs"], budget=5, seeds=1)
    run = campaign.run_one(truth, "rs", seed=0)
    acc, params = run.acc.to_numpy(), run.params.to_numpy()
    expected = [pareto.hypervolume(np.c_[acc[:t], -params[:t]], truth.ref) / 9.2 for t in range(1, 6)]
    np.testing.assert_allclose(run.hypervolume_ratio, expected)
    assert run.hypervolume_ratio.iloc[-1] == pytest.approx(1.0)
    alone = {70: 1 * 2.2, 80: 11 * 0.2, 75: 6 * 1.2, 60: 0.0, 62: 0.0}  # the first query's own volume
    assert run.hypervolume_ratio.iloc[0] * 9.2 == pytest.approx(alone[acc[0]])


def test_json_contract_and_files(tmp_path):
    _, path = chain_table(tmp_path)
    out = tmp_path / "mo"
    doc = run_mo_search(str(path), "acc:max,params:min", [], "auto", ["bo", "nsga2", "re", "rs"], budget=16, seeds=2,
                        init=5, out=out, command="surrogate search chain.h5 --objectives acc:max,params:min",
                        progress=False)
    assert doc["objectives"] == ["acc:max", "params:min"] and doc["true_front_size"] >= 5
    assert [r["strategy"] for r in doc["results"]] == ["bo", "nsga2", "re", "rs"]
    for row in doc["results"]:
        assert tuple(row) == MO_JSON_FIELDS
        assert set(row["hypervolume_ratio_at"]) == {"16", "50", "100", "150"}
        assert row["hypervolume_ratio_at"]["50"] is None
        assert 0 < row["hypervolume_ratio_at"]["16"] <= 1 and 0 < row["found_front_fraction"] <= 1
        assert row["seeds"] == 2 and row["budget"] == 16 and row["seconds_per_query"] >= 0
    for name in ("trajectories.csv", "pareto.csv", "pareto.png", "hypervolume.png", "summary.md", "run.json"):
        assert (out / name).is_file(), name
    traj = pd.read_csv(out / "trajectories.csv")
    assert len(traj) == 4 * 2 * 16 and {"acc", "params", "feasible", "hypervolume_ratio"} <= set(traj.columns)
    for _, run in traj.groupby(["strategy", "seed"]):
        assert (np.diff(run.hypervolume_ratio) >= -1e-12).all()
        assert run.arch.nunique() == len(run)
    fronts = pd.read_csv(out / "pareto.csv", dtype={"arch": str})
    true = fronts[fronts.strategy == "true front"]
    assert len(true) == doc["true_front_size"]
    for (strategy, seed), rows in fronts[fronts.strategy != "true front"].groupby(["strategy", "seed"]):
        Y = np.c_[rows.acc, -rows.params]
        assert pareto.non_dominated(Y).all()  # each run's found set is non-dominated...
        assert all(((np.c_[true.acc, -true.params] >= y).all(axis=1)).any() for y in Y)  # ...and under the true front
    run = json.loads((out / "run.json").read_text())
    assert run["input_checksum"].startswith("sha256:") and run["seeds"] == [0, 1]
    assert "surrogate search" in run["command"]
    assert run["ref_point"] == doc["ref_point"] and "summary" not in run
    assert "HV ratio@16" in (out / "summary.md").read_text()


def test_exact_constraint_filters_exactly_and_measured_one_does_not(tmp_path):
    table, _ = chain_table(tmp_path)
    feasible = int((table.metric("params") <= 6000).sum())
    campaign = MOCampaign(objectives="acc:max,params:min", constraints=["params<=6000"],
                          strategies=["bo", "nsga2", "re", "rs"], budget=feasible, seeds=1, init=5)
    truth = campaign.validate(table)
    assert (-truth.front[:, 1] <= 6000).all()
    traj = campaign.run(table, progress=False, truth=truth)
    assert traj.feasible.all() and (traj.params <= 6000).all()  # nothing infeasible is ever asked
    assert (traj.groupby("strategy").hypervolume_ratio.last() == 1.0).all()  # all feasible asked: the whole front
    with pytest.raises(UsageError, match="exceeds"):
        MOCampaign(objectives="acc:max,params:min", constraints=["params<=6000"], budget=feasible + 1).validate(table)
    measured = MOCampaign(objectives="acc:max,params:min", constraints=["latency<=2"], strategies=["rs"], budget=40,
                          seeds=1)
    traj = measured.run(table, progress=False)
    assert not traj.feasible.all()  # a measured cost is only known after the query
    np.testing.assert_array_equal(traj.feasible, traj.latency <= 2)


def test_constrained_single_objective_regret(tmp_path):
    table, path = chain_table(tmp_path)
    acc, params = table.metric("acc"), table.metric("params")
    optimum = acc[params <= 6000].max()
    assert optimum < acc.max()
    doc = run_mo_search(path, "acc:max", ["params<=6000"], "auto", ["bo", "rs"], budget=20, seeds=2, init=5,
                        out=tmp_path / "so", progress=False)
    assert doc["optimum"] == pytest.approx(optimum)
    for row in doc["results"]:
        assert tuple(row) == SO_JSON_FIELDS and row["regret_at"]["20"] >= 0
    bo = doc["results"][0]
    assert bo["found_optimum"] == 2 and bo["regret_at"]["20"] == 0
    assert (tmp_path / "so" / "regret.png").is_file() and not (tmp_path / "so" / "pareto.png").exists()
    traj = pd.read_csv(tmp_path / "so" / "trajectories.csv")
    assert (traj.params <= 6000).all()
    np.testing.assert_allclose(traj.regret, optimum - traj.best_so_far)


def test_computed_params_and_partial_table(tmp_path):
    table, _ = chain_table(tmp_path, keep=50)
    table = Table(table.space, table.archs, table.arch_strings, {"acc": table.metric("acc")})  # no params column
    campaign = MOCampaign(objectives="acc:max,params:min", strategies=["re", "bo"], budget=15, seeds=1, init=5)
    traj = campaign.run(table, progress=False)
    rows = table.lookup(get_space(table.space).parse_many(traj.arch))
    assert (rows >= 0).all()  # strategies stay inside the table's architectures
    np.testing.assert_allclose(traj.params, raw_feature(table, "params")[rows])  # computed from the network definition


def test_isomorphs_share_one_outcome(tmp_path):
    space = get_space("nb201")
    archs = space.enumerate()[[0, 15, 15624]]  # 0 and 15 differ only in a conv on a dead edge: one class
    assert space.canonical_ids(archs)[0] == space.canonical_ids(archs)[1] != space.canonical_ids(archs)[2]
    table = Table("nb201", archs, space.format_many(archs),
                  {"acc": [50.0, 60.0, 70.0], "params": [100.0, 300.0, 200.0]})
    oracle = ClassOracle(table, ["acc", "params"])
    np.testing.assert_allclose(oracle(archs), [[55.0, 100.0], [55.0, 100.0], [70.0, 200.0]])  # mean; cheapest member


def test_same_seed_same_trajectory_and_resume(tmp_path, monkeypatch):
    table, path = chain_table(tmp_path)
    campaign = MOCampaign(objectives="acc:max,params:min", strategies=["bo", "nsga2", "re"], budget=12, seeds=1, init=4)
    a, b = campaign.run(table, progress=False), campaign.run(table, progress=False)
    pd.testing.assert_frame_equal(a.drop(columns="seconds_per_query"), b.drop(columns="seconds_per_query"))
    out = tmp_path / "resume"
    args = dict(objectives="acc:max,params:min", strategies=["re"], budget=12, seeds=2, out=out, progress=False)
    first = run_mo_search(path, **args)
    monkeypatch.setattr(MOCampaign, "run_one", lambda *a, **k: pytest.fail("a checkpointed run was recomputed"))
    assert run_mo_search(path, **args) == first


@pytest.mark.parametrize("kwargs, message", [
    (dict(objectives="acc:max,nope:min"), "unknown column 'nope'"),
    (dict(objectives="acc:max,params:min", constraints=["params=<3"]), "malformed constraint"),
    (dict(objectives="acc:max,params:min", constraints=["latency<=x"]), "malformed constraint"),
    (dict(objectives="acc:max,params:min", constraints=["bogus<=3"]), "unknown column 'bogus'"),
    (dict(objectives="acc,params:min"), "malformed objective"),
    (dict(objectives="acc:max,params:smallest"), "malformed objective"),
    (dict(objectives="acc:max,params:min", ref_point="90,0.5"), "beats the reference point"),
    (dict(objectives="acc:max,params:min", ref_point="90"), "needs 2 values"),
    (dict(objectives="acc:max,params:min", ref_point="90,abc"), "malformed --ref-point"),
    (dict(objectives="acc:max", ref_point="90"), "two or more objectives"),
    (dict(objectives="acc:max,params:min", constraints=["params<=0.5"]), "no architecture"),
    (dict(objectives="acc:max,params:min", strategies=["bo", "tpe"]), "unknown multi-objective strategy 'tpe'"),
    (dict(objectives="acc:max,params:min", budget=6), "exceeds"),
    (dict(objectives="acc:max,params:min", features=["nope"]), "unknown feature"),
])
def test_bad_input_fails_before_any_work(tmp_path, kwargs, message):
    _, path = front_table(tmp_path)
    out = tmp_path / "never"
    with pytest.raises(UsageError, match=message):
        run_mo_search(path, **{"budget": 3, "seeds": 1, "out": out, "progress": False, **kwargs})
    assert not out.exists()


def test_ref_point_parsing_and_a_given_ref(tmp_path):
    assert parse_ref_point("auto") is None and parse_ref_point(None) is None
    assert parse_ref_point("70, 2e6") == [70.0, 2e6] and parse_ref_point([1, 2]) == [1.0, 2.0]
    table, _ = front_table(tmp_path)
    truth = MOCampaign(objectives="acc:max,params:min", ref_point=[65.0, 2.5], budget=5).validate(table)
    np.testing.assert_allclose(truth.ref, [65, -2.5])  # given in objective units, kept in maximisation form
    assert truth.hypervolume == pytest.approx((70 - 65) * (2.5 - 1) + (75 - 70) * (2.5 - 2))


def test_bo_reads_a_tables_proxies_by_default(tmp_path):
    table, path = chain_table(tmp_path)
    oracle = ClassOracle(table, ["acc", "params"])
    assert "features" not in MOCampaign(objectives="acc:max,params:min").params_for("bo", oracle)
    proxied = table.with_metric("zc_fake", table.metric("acc") + np.random.default_rng(0).normal(0, 0.1, table.n))
    oracle = ClassOracle(proxied, ["acc", "params"])
    campaign = MOCampaign(objectives="acc:max,params:min", strategies=["bo", "re"], budget=14, seeds=1, init=4)
    assert campaign.params_for("bo", oracle)["features"] == ["zc"] and campaign.params_for("re", oracle) == {}
    assert "features" not in MOCampaign(objectives="acc:max,params:min", features=[]).params_for("bo", oracle)
    truth = campaign.validate(proxied)
    bo = campaign.strategy("bo", truth.oracle, truth.problem, seed=0)
    assert bo.inputs(table.archs[:3]).shape[1] == bo.encoding.dim + 1 + 2 * 1  # encoding, the proxy, log params, params
    assert bo.encoding.name == "onehot"  # beside feature columns; graf without them
    assert MOCampaign(objectives="acc:max,params:min", features=[]).strategy(
        "bo", truth.oracle, truth.problem, seed=0).encoding.name == "graf"
    # the proxies change bo's checkpoint key (its trajectory) and nothing else's
    plain = MOCampaign(objectives="acc:max,params:min", strategies=["bo", "re"], budget=14, seeds=1, init=4,
                       features=[])
    assert campaign.key(truth.oracle, "bo", 0) != plain.key(truth.oracle, "bo", 0)
    assert campaign.key(truth.oracle, "re", 0) == plain.key(truth.oracle, "re", 0)
    run = campaign.run_one(truth, "bo", seed=0)
    assert len(run) == 14 and run.hypervolume_ratio.is_monotonic_increasing
