"""One campaign for one objective or several: trajectories, checkpoints, constraints, fronts, and
the fingerprints that pin table campaigns across refactors."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from surrogate.errors import UsageError
from surrogate.features import raw_feature
from surrogate.search import pareto
from surrogate.search.campaign import Campaign
from surrogate.search.oracle import TableOracle
from surrogate.spaces import get_space
from surrogate.tabular import Table


def chain_table(tmp_path, keep=None):
    """Every architecture of categorical:4x3: an additive accuracy, a 'long training' column, params
    at odds with accuracy, latency the count of non-zero blocks and a per-epoch time column (2 epochs)."""
    space = get_space("categorical:4x3")
    archs = space.enumerate()
    if keep is not None:
        archs = archs[np.random.default_rng(1).permutation(len(archs))[:keep]]
    rows = np.arange(4)
    acc = 60 + np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [0.5, 2.5, 0.0], [2.0, 1.0, 0.0]])[rows, archs].sum(1)
    params = 1000 + np.array([[0, 3, 1], [2, 0, 5], [1, 4, 0], [3, 2, 0]])[rows, archs].sum(1) * 1000.0
    seconds = np.stack([10 + archs.sum(1), 10 + archs.sum(1)], axis=1)[:, None, :].astype(float)
    table = Table(space.spec, archs, space.format_many(archs),
                  {"valid_acc": acc, "test_acc": acc + 1, "params": params, "latency": (archs > 0).sum(1).astype(float),
                   "epoch_seconds": seconds})
    path = tmp_path / "chain.h5"
    table.write(path)
    return table, path


def front_table():
    """One decision, five architectures, a known front.

    acc    70  80  60  75  62      params  1  3  2  2  1.5
    Front (max acc, min params): (70, 1), (75, 2), (80, 3); (60, 2) and (62, 1.5) are dominated.
    BoTorch's reference point: nadir (70, 3) minus a tenth of the range (10, 2): (69, 3.2).
    Hypervolume by hand: (70-69)(3.2-1) + (75-70)(3.2-2) + (80-75)(3.2-3) = 2.2 + 6 + 1 = 9.2.
    """
    space = get_space("categorical:5")
    archs = space.enumerate()
    return Table(space.spec, archs, space.format_many(archs),
                 {"acc": np.array([70.0, 80, 60, 75, 62]), "params": np.array([1.0, 3, 2, 2, 1.5])})


def run(campaign: Campaign, table: Table, time_column=None) -> pd.DataFrame:
    return campaign.run(TableOracle(table, campaign.columns, time_column), progress=False)[0]


# --- one objective --------------------------------------------------------------------------------
def test_trajectory_invariants(tmp_path):
    table, _ = chain_table(tmp_path)
    traj = run(Campaign(["valid_acc:max"], strategies=["rs", "bo"], budget=40, seeds=2, init=5), table, "epoch_seconds")
    space = get_space(table.space)
    optimum = table.metric("valid_acc").max()
    for _, one in traj.groupby(["strategy", "seed"]):
        best = one.best_so_far.to_numpy()
        assert (np.diff(best) >= 0).all()
        np.testing.assert_allclose(one.regret, optimum - best)
        np.testing.assert_allclose(best, np.maximum.accumulate(one.value))
        archs = space.parse_many(one.arch)
        assert len(np.unique(space.canonical_ids(archs))) == len(archs)  # never the same class twice
        np.testing.assert_allclose(one.simulated_seconds, np.cumsum(2 * (10 + archs.sum(1))))  # 2 epochs' seconds
    bo = traj[traj.strategy == "bo"].groupby("seed").best_so_far.last()
    assert (bo == optimum).all()  # 81 archs, an additive objective, 40 queries: BO must find it


def test_a_minimised_metric_goes_through_the_directions(tmp_path):
    table, _ = chain_table(tmp_path)
    traj = run(Campaign(["latency:min"], strategies=["rs", "re"], budget=30, seeds=1), table)
    for _, one in traj.groupby("strategy"):
        np.testing.assert_allclose(one.best_so_far, np.minimum.accumulate(one.value))
        np.testing.assert_allclose(one.regret, one.best_so_far - 0.0)  # the table's least latency is 0


def test_same_seed_same_trajectory_and_resume(tmp_path, monkeypatch):
    table, _ = chain_table(tmp_path)
    for campaign in (Campaign(["valid_acc:max"], strategies=["bo", "rs"], budget=15, seeds=1, init=4),
                     Campaign(["valid_acc:max", "params:min"], strategies=["bo", "nsga2", "re"], budget=12, seeds=1,
                              init=4)):
        a, b = run(campaign, table), run(campaign, table)
        pd.testing.assert_frame_equal(a.drop(columns="seconds_per_query"), b.drop(columns="seconds_per_query"))
    campaign = Campaign(["valid_acc:max"], strategies=["rs"], budget=10, seeds=2)
    oracle = TableOracle(table, campaign.columns)
    first = campaign.run(oracle, checkpoints=tmp_path / "ck", progress=False)[0]
    assert len(list((tmp_path / "ck").glob("*.csv"))) == 2
    monkeypatch.setattr(Campaign, "run_one", lambda *a, **k: pytest.fail("a finished run was recomputed"))
    again = campaign.run(oracle, checkpoints=tmp_path / "ck", progress=False)[0]
    pd.testing.assert_frame_equal(first, again, check_dtype=False)


def test_a_table_not_covering_the_space_restricts_the_search(tmp_path):
    table, _ = chain_table(tmp_path, keep=40)
    traj = run(Campaign(["valid_acc:max"], strategies=["rs", "bo"], budget=40, seeds=1, init=5), table)
    assert set(traj.arch) <= set(table.arch_strings)
    for _, one in traj.groupby("strategy"):
        assert one.best_so_far.iloc[-1] == table.metric("valid_acc").max()  # all 40 seen


@pytest.mark.parametrize("strategy", ["re", "ls", "reinforce", "tpe"])  # bo: test_trajectory_invariants, in 40
def test_every_strategy_finds_the_optimum_of_a_simple_table(tmp_path, strategy):
    table, _ = chain_table(tmp_path)  # 81 architectures, an additive objective
    traj = run(Campaign(["valid_acc:max"], strategies=[strategy], budget=50, seeds=3, init=5), table)
    found = traj.groupby("seed").best_so_far.last() == table.metric("valid_acc").max()
    assert found.sum() >= 2, found  # random search finds it in 50 of 81 queries with probability 0.62


def test_nb201_lookups_are_the_class_means_of_the_records(nb201_csv):
    from surrogate.importer import read_csv_table

    table = read_csv_table(nb201_csv, "nb201")
    traj = run(Campaign(["cifar10_valid_acc:max"], strategies=["bo"], budget=25, seeds=1, init=10), table)
    space = get_space("nb201")
    means = pd.Series(table.metric("cifar10_valid_acc")).groupby(space.canonical_ids(table.archs)).mean()
    assert traj.value.tolist() == means[space.canonical_ids(space.parse_many(traj.arch))].tolist()
    assert (traj.regret >= 0).all() and (84.892 - traj.best_so_far == traj.regret).all()  # the best is a singleton


def test_bo_reads_a_tables_proxies_by_default_and_features_by_name(tmp_path):
    from surrogate.catalog import resolve

    nb201 = TableOracle(Table.read(resolve("nb201")), ["cifar10_valid_acc"])  # a cell space that ships zc_
    problem = nb201.problem(["cifar10_valid_acc:max"])
    assert Campaign(["cifar10_valid_acc:max"]).params_for("bo", nb201, problem) == {
        "init": 10, "model": "gp", "acq": "logei", "encoding": "graf", "features": ["zc"]}
    assert "features" not in Campaign(["x:max"], features=[]).params_for("bo", nb201, problem)  # --features none
    assert Campaign(["x:max"], features=["params"], encoding="path").params_for("bo", nb201, problem)["encoding"] == "path"
    table, _ = chain_table(tmp_path)
    proxied = table.with_metric("zc_fake", table.metric("valid_acc") + np.random.default_rng(0).normal(0, 0.1, table.n))
    chain = TableOracle(proxied, ["valid_acc"])
    assert Campaign(["valid_acc:max"]).params_for("bo", chain, chain.problem(["valid_acc:max"])) == {
        "init": 10, "model": "gp", "acq": "logei", "encoding": "onehot", "features": ["zc"]}  # a chain: onehot
    traj = run(Campaign(["valid_acc:max"], strategies=["bo"], budget=20, seeds=1, init=5, encoding="graf"), proxied)
    assert traj.best_so_far.iloc[-1] == table.metric("valid_acc").max()


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


# --- several objectives, constraints --------------------------------------------------------------
def test_truth_and_hypervolume_by_hand():
    table = front_table()
    campaign = Campaign(["acc:max", "params:min"], strategies=["rs"], budget=5, seeds=1)
    oracle = TableOracle(table, campaign.columns)
    problem, truth = campaign.validate(oracle)
    np.testing.assert_allclose(truth.front, [[70, -1], [75, -2], [80, -3]])
    np.testing.assert_allclose(truth.ref, [69, -3.2])
    assert truth.hypervolume == pytest.approx(9.2)
    one = campaign.run_one(oracle, problem, truth, "rs", seed=0)  # a run in a known order: the ratio by hand
    acc, params = one.acc.to_numpy(), one.params.to_numpy()
    expected = [pareto.hypervolume(np.c_[acc[:t], -params[:t]], truth.ref) / 9.2 for t in range(1, 6)]
    np.testing.assert_allclose(one.hypervolume_ratio, expected)
    assert one.hypervolume_ratio.iloc[-1] == pytest.approx(1.0)
    given = Campaign(["acc:max", "params:min"], ref_point=[65.0, 2.5], budget=5).validate(oracle)[1]
    np.testing.assert_allclose(given.ref, [65, -2.5])  # given in objective units, kept in maximisation form
    assert given.hypervolume == pytest.approx((70 - 65) * (2.5 - 1) + (75 - 70) * (2.5 - 2))


def test_exact_constraint_filters_exactly_and_measured_one_does_not(tmp_path):
    table, _ = chain_table(tmp_path)
    feasible = int((table.metric("params") <= 6000).sum())
    campaign = Campaign(["valid_acc:max", "params:min"], constraints=["params<=6000"],
                        strategies=["bo", "nsga2", "re", "rs"], budget=feasible, seeds=1, init=5)
    traj = run(campaign, table)
    assert traj.feasible.all() and (traj.params <= 6000).all()  # nothing infeasible is ever asked
    assert (traj.groupby("strategy").hypervolume_ratio.last() == 1.0).all()  # all feasible asked: the whole front
    with pytest.raises(UsageError, match="exceeds"):
        Campaign(["valid_acc:max", "params:min"], constraints=["params<=6000"], budget=feasible + 1).validate(
            TableOracle(table, ["valid_acc", "params"]))
    traj = run(Campaign(["valid_acc:max", "params:min"], constraints=["latency<=2"], strategies=["rs"], budget=40,
                        seeds=1), table)
    assert not traj.feasible.all()  # a measured cost is only known after the query
    np.testing.assert_array_equal(traj.feasible, traj.latency <= 2)


def test_constrained_single_objective_regret(tmp_path):
    table, _ = chain_table(tmp_path)
    acc, params = table.metric("valid_acc"), table.metric("params")
    optimum = acc[params <= 6000].max()
    assert optimum < acc.max()
    traj = run(Campaign(["valid_acc:max"], constraints=["params<=6000"], strategies=["bo", "rs"], budget=20, seeds=2,
                        init=5), table)
    assert (traj.params <= 6000).all()
    np.testing.assert_allclose(traj.regret, optimum - traj.best_so_far)
    assert (traj[traj.strategy == "bo"].groupby("seed").regret.last() == 0).all()


def test_computed_params_on_a_partial_table(tmp_path):
    table, _ = chain_table(tmp_path, keep=50)
    table = Table(table.space, table.archs, table.arch_strings, {"acc": table.metric("valid_acc")})  # no params
    traj = run(Campaign(["acc:max", "params:min"], strategies=["re", "bo"], budget=15, seeds=1, init=5), table)
    rows = table.lookup(get_space(table.space).parse_many(traj.arch))
    assert (rows >= 0).all()  # strategies stay inside the table's architectures
    np.testing.assert_allclose(traj.params, raw_feature(table, "params")[rows])  # computed from the network definition


def test_mo_bo_reads_a_tables_proxies_by_default(tmp_path):
    table, _ = chain_table(tmp_path)
    proxied = table.with_metric("zc_fake", table.metric("valid_acc") + np.random.default_rng(0).normal(0, 0.1, table.n))
    campaign = Campaign(["valid_acc:max", "params:min"], strategies=["bo", "re"], budget=14, seeds=1, init=4)
    oracle = TableOracle(proxied, campaign.columns)
    problem, truth = campaign.validate(oracle)
    assert campaign.params_for("bo", oracle, problem)["features"] == ["zc"]
    assert campaign.params_for("re", oracle, problem) == {}
    bo = campaign.strategy("bo", oracle, problem, seed=0)
    assert bo.inputs(table.archs[:3]).shape[1] == bo.encoding.dim + 1 + 2 * 1  # encoding, the proxy, log params, params
    assert bo.encoding.name == "onehot"  # beside feature columns; without them the categorical GP on indices
    plain = Campaign(["valid_acc:max", "params:min"], strategies=["bo", "re"], budget=14, seeds=1, init=4, features=[])
    assert plain.strategy("bo", oracle, problem, seed=0).encoding.name == "index"
    assert campaign.key(oracle, problem, "bo", 0) != plain.key(oracle, problem, "bo", 0)  # bo's trajectory changes
    one = campaign.run_one(oracle, problem, truth, "bo", seed=0)
    assert len(one) == 14 and one.hypervolume_ratio.is_monotonic_increasing


@pytest.mark.parametrize("kwargs, message", [
    (dict(objectives=["acc:max", "nope:min"]), "unknown metric 'nope'"),
    (dict(objectives=["acc:max", "params:min"], constraints=["params=<3"]), "malformed constraint"),
    (dict(objectives=["acc:max", "params:min"], constraints=["latency<=x"]), "malformed constraint"),
    (dict(objectives=["acc", "params:min"]), "malformed objective"),
    (dict(objectives=["acc:max", "params:smallest"]), "malformed objective"),
    (dict(objectives=["acc:max", "params:min"], ref_point=[90, 0.5]), "beats the reference point"),
    (dict(objectives=["acc:max", "params:min"], ref_point=[90]), "needs 2 values"),
    (dict(objectives=["acc:max"], ref_point=[90]), "two or more objectives"),
    (dict(objectives=["acc:max", "params:min"], constraints=["params<=0.5"]), "no architecture satisfies"),
    (dict(objectives=["acc:max", "params:min"], strategies=["bo", "tpe"]), "'tpe' serves one objective"),
    (dict(objectives=["acc:max"], constraints=["params<=2"], strategies=["ls"]), "not constraints"),
    (dict(objectives=["acc:max", "params:min"], budget=6), "exceeds"),
    (dict(objectives=["acc:max", "params:min"], features=["nope"]), "unknown feature"),
    (dict(objectives=["acc:max"], strategies=["bo", "sgd"]), "unknown strategy"),
    (dict(objectives=["acc:max"], strategies=["bo"], acq="pi"), "unknown acquisition"),
    (dict(objectives=["acc:max", "params:min"], strategies=["bo"], acq="logei"), "unknown acquisition"),
    (dict(objectives=["acc:max"], strategies=["bo"], model="xgb"), "unknown model"),
    (dict(objectives=["acc:max", "params:min"], model="rf"), "--model and --batch"),
])
def test_bad_input_fails_before_any_work(kwargs, message):
    kwargs = {"budget": 3, "seeds": 1, **kwargs}
    with pytest.raises(UsageError, match=message):
        campaign = Campaign(**kwargs)
        campaign.validate(TableOracle(front_table(), campaign.columns))


# --- pinned trajectories --------------------------------------------------------------------------
def _fingerprint(t: pd.DataFrame, columns: list[str]) -> str:
    text = "\n".join(" ".join([s, a, *map(repr, map(float, v))]) for s, a, v in zip(t.strategy, t.arch, t[columns].to_numpy()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("name, metric, expected", [("nb201", "cifar10_valid_acc", "16fe512597532548"),
                                                    ("nb201-digits", "valid_acc", "b1f6c31e42b79169")])
def test_table_campaigns_keep_their_trajectories(name, metric, expected, one_torch_thread):
    """What every single-objective strategy asks and sees on a table, bo included. nb201-digits'
    fingerprint was taken with the code before the one-campaign refactor (issue 21) and holds;
    nb201's changed once, with the one rule for isomorphs (a class answers its members' mean, where
    single-objective campaigns answered an architecture's own record) and the one domain (a table's
    own rows, one per class, where single-objective campaigns on a table holding its whole space
    drew any member): it was 100c1159ac6c3b72. nb201-digits' changed once, when bo's default encoding
    on cell spaces without feature columns became graf (bench/results/rnn.md): it was be51ba3c62027c9d."""
    from surrogate.catalog import resolve

    campaign = Campaign([f"{metric}:max"], strategies=["bo", "re", "ls", "rs", "reinforce", "tpe"], budget=20,
                        seeds=1, init=5)
    assert _fingerprint(run(campaign, Table.read(resolve(name))), ["value"]) == expected


@pytest.mark.parametrize("objectives, constraints, budget, columns, expected", [
    (["valid_acc:max", "params:min"], [], 20, ["valid_acc", "params", "feasible", "hypervolume_ratio"],
     "7b3f46626ba1e394"),
    (["valid_acc:max"], ["params<=40000"], 20, ["valid_acc", "params", "feasible", "best_so_far", "regret"],
     "fa78181a232fab9c"),
    (["valid_acc:max", "flops:min"], ["test_acc>=90"], 8,
     ["valid_acc", "flops", "test_acc", "feasible", "hypervolume_ratio"], "f900f2eb2e556004"),
])
def test_multi_objective_and_constrained_campaigns_keep_their_trajectories(objectives, constraints, budget, columns,
                                                                             expected, one_torch_thread):
    """The same for bo, nsga2, re and rs with several objectives or constraints, on nb201-digits
    (one record per class, rows in class order: what the multi-objective campaign saw before)."""
    from surrogate.catalog import resolve

    digits = Table.read(resolve("nb201-digits"))
    order = np.argsort(get_space("nb201").canonical_ids(digits.archs), kind="stable")
    table = Table(digits.space, digits.archs[order], [digits.arch_strings[i] for i in order],
                  {m: v[order] for m, v in digits.metrics.items()}, attrs=digits.attrs)
    campaign = Campaign(objectives, constraints=constraints, strategies=["bo", "nsga2", "re", "rs"], budget=budget,
                        seeds=1, init=5)
    assert _fingerprint(run(campaign, table), columns) == expected
