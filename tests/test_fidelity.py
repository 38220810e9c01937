"""Multi-fidelity campaigns on tables: rungs, the schedulers' rules replayed on a hand-made table,
what a continuation is charged, simulated asynchronous workers, budgets of seconds, the report."""

import json

import numpy as np
import pandas as pd
import pytest

from surrogate.cli import main
from surrogate.errors import UsageError
from surrogate.search.campaign import Campaign
from surrogate.search.fidelity import Fidelity
from surrogate.search.oracle import TableOracle
from surrogate.spaces import get_space
from surrogate.tabular import Table

EPOCHS = 9


def curve_table(train_loss: bool = False) -> Table:
    """Every architecture of categorical:3x3 with a 9-epoch valid_acc curve whose early ranking is
    not its final one (speeds differ), and per-epoch seconds that differ by architecture;
    `train_loss`: with a per-epoch training loss that ranks the final accuracy exactly (the curves
    of a learning-curve rule)."""
    space = get_space("categorical:3x3")
    archs = space.enumerate()
    rng = np.random.default_rng(0)
    final = 60 + rng.permutation(len(archs)).astype(float)
    speed = rng.uniform(0.3, 3.0, len(archs))
    e = np.arange(1, EPOCHS + 1)
    acc = final[:, None] * (1 - np.exp(-e[None, :] * speed[:, None]))
    seconds = np.repeat((1.0 + archs.sum(1) / 2)[:, None], EPOCHS, axis=1)
    metrics = {"valid_acc": acc[:, None, :], "epoch_seconds": seconds[:, None, :]}
    if train_loss:
        metrics["train_loss"] = ((100 - final[:, None]) / 10 / e[None, :])[:, None, :]
    return Table(space.spec, archs, space.format_many(archs), metrics)


def run(campaign: Campaign, table: Table) -> pd.DataFrame:
    return campaign.run(TableOracle(table, campaign.columns, "epoch_seconds"), progress=False)[0]


def value_at(table: Table, arch: str, epochs: int) -> float:
    return float(table.metrics["valid_acc"][table.lookup([arch])[0], 0, epochs - 1])


@pytest.mark.parametrize("fidelity, rungs", [((24, 1, 3), (1, 3, 9, 24)), ((6, 1, 2), (1, 2, 4, 6)),
                                             ((6, 6, 3), (6,)), ((9, 2, 3), (2, 6, 9))])
def test_rungs_start_at_min_epochs_and_end_at_a_whole_training(fidelity, rungs):
    assert Fidelity(*fidelity).rungs == rungs


@pytest.mark.parametrize("fidelity", [(6, 7, 3), (6, 0, 3), (6, 1, 1)])
def test_impossible_fidelities_are_refused(fidelity):
    with pytest.raises(UsageError):
        Fidelity(*fidelity)


@pytest.mark.parametrize("rank_by", ["value", "sotl"])
def test_asha_promotes_by_its_papers_rule(rank_by):
    """Replay: before each job, the paper's rule (Li et al. 2020, Alg. 2) over the results told so
    far says whether it is a promotion (the best not-yet-promoted of the top 1/eta of the highest
    rung that has one) or a new architecture at the lowest rung; "best" by the value at the rung,
    or with `--rank-by sotl` by the lowest training loss of its last epoch. Once all 27 classes are
    started, the best not-yet-promoted of the highest rung below the last goes on, whatever its
    place, so the budget is spent."""
    table, eta, rungs = curve_table(train_loss=True), 3, (1, 3, 9)
    t = run(Campaign(["valid_acc:max"], strategies=["asha"], budget=50, seeds=1,
                     fidelity={"eta": eta, "rank_by": rank_by}), table)
    loss = table.metrics["train_loss"][:, 0, :]
    if rank_by == "sotl":
        t["value"] = [-loss[table.lookup([a])[0], e - 1] for a, e in zip(t.arch, t.epochs)]
    results = [dict() for _ in rungs]  # rung -> {arch: value}
    promoted = [set() for _ in rungs]
    expected_promotions = 0
    for row in t.itertuples():
        rung = rungs.index(row.epochs)
        want = None
        for quota in (eta, 1) if len(results[0]) == len(table.archs) else (eta,):  # 1: every class started
            for k in reversed(range(len(rungs) - 1)):
                top = sorted(results[k], key=lambda a: -results[k][a])[: len(results[k]) // quota]
                free = [a for a in top if a not in promoted[k]]
                if free and want is None:
                    want = (free[0], k + 1)
        if want is None:
            assert rung == 0 and all(row.arch not in r for r in results), f"step {row.step}: a new architecture"
        else:
            expected_promotions += 1
            assert (row.arch, rung) == want, f"step {row.step}"
            promoted[rung - 1].add(row.arch)
        results[rung][row.arch] = row.value
    assert expected_promotions >= 10 and len(t) == 50 and len(set(t.arch)) == 27
    if rank_by == "value":
        assert all(row.value == pytest.approx(value_at(table, row.arch, row.epochs)) for row in t.itertuples())


def told_asha(values: dict[int, list[float]], losses: list[float]) -> "object":
    """An `auto`-ranking ASHA on categorical:3x3 (rungs 1, 3, 9) told architecture i's `losses[i]`
    and `values[e][i]` at e epochs by hand (no campaign), for e in `values`."""
    from surrogate.search import get_strategy

    asha = get_strategy("asha", "categorical:3x3", seed=0, fidelity={"max_epochs": EPOCHS}, rank_by="auto")
    archs = get_space("categorical:3x3").enumerate()
    for e, vals in values.items():
        for i, v in enumerate(vals):
            asha.tell_job(archs[i], e, v, {"train_loss": losses[i] if e == 1 else np.nan})
    return asha


def test_auto_ranks_a_rung_by_the_rule_that_ranked_longer_trainings_better():
    losses = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]  # architecture 8 lowest
    early = [9.0, 8, 7, 6, 5, 4, 3, 2, 1]  # the value at epoch 1 says the reverse
    agrees_with_losses = [1.0, 2, 3, 4, 5, 6]  # epoch 3's values of architectures 0-5
    agrees_with_values = [6.0, 5, 4, 3, 2, 1]
    best = lambda asha, rung=0: max(asha.scores(rung), key=asha.scores(rung).get)  # noqa: E731
    assert best(told_asha({1: early, 3: agrees_with_losses}, losses)) == 8  # the lowest loss
    assert best(told_asha({1: early, 3: agrees_with_values}, losses)) == 0
    assert best(told_asha({1: early, 3: agrees_with_losses[:4]}, losses)) == 0  # fewer than AUTO_PAIRS: the value
    last = told_asha({1: early, 3: agrees_with_losses, EPOCHS: agrees_with_values[:2]}, losses)
    assert best(last, rung=2) == 0  # the last rung: always the value
    last.rank_by = "value"
    assert best(last) == 0  # the value whatever was recorded


def test_a_table_without_training_losses_ranks_by_value():
    table = curve_table()
    oracle = TableOracle(table, ["valid_acc"], "epoch_seconds")
    assert np.isnan(oracle.recorded("train_loss", oracle.archs[:2], [1, None])).all()
    with_loss = TableOracle(curve_table(train_loss=True), ["valid_acc"], "epoch_seconds")
    rows = with_loss.table.lookup(with_loss.space.format_many(with_loss.archs[:2]))  # categorical: no isomorphs
    assert with_loss.recorded("train_loss", with_loss.archs[:2], [1, None]).tolist() == \
        [with_loss.table.metrics["train_loss"][j, 0, e] for j, e in zip(rows, (0, EPOCHS - 1))]
    plain, sotl = (run(Campaign(["valid_acc:max"], strategies=["asha"], budget=30, seeds=1,
                                fidelity={"eta": 3, "rank_by": r}), table) for r in ("value", "sotl"))
    pd.testing.assert_frame_equal(plain.drop(columns="seconds_per_query"), sotl.drop(columns="seconds_per_query"))


def test_hyperband_runs_its_brackets_in_turn():
    """rungs 1, 3, 9 (K = 2): brackets of 9 -> 3 -> 1, then 5 -> 1 from epoch 3, then 3 at epoch 9."""
    table = curve_table()
    t = run(Campaign(["valid_acc:max"], strategies=["hyperband"], budget=23 + 3, seeds=1, fidelity={"eta": 3}), table)
    assert t.epochs.tolist() == [1] * 9 + [3] * 3 + [9] + [3] * 5 + [9] + [9] * 3 + [1] * 4
    first = t.iloc[:9]
    best3 = first.sort_values("value", ascending=False, kind="stable").arch.iloc[:3].tolist()
    assert t.arch.iloc[9:12].tolist() == best3
    second = t.iloc[9:12]
    assert t.arch.iloc[12] == second.sort_values("value", ascending=False, kind="stable").arch.iloc[0]
    assert t.arch.iloc[18] == t.iloc[13:18].sort_values("value", ascending=False, kind="stable").arch.iloc[0]


@pytest.mark.parametrize("strategy", ["asha", "sh", "hyperband", "median", "tpe-hb", "bohb", "asha-bo"])
def test_a_continuation_is_charged_only_what_it_adds(strategy):
    table = curve_table()
    t = run(Campaign(["valid_acc:max"], strategies=[strategy], budget=30, seeds=1, init=4, fidelity={"eta": 3}), table)
    seconds = table.metrics["epoch_seconds"][:, 0, :]
    for arch, rows in t.groupby("arch"):
        reached = rows.epochs.max()
        assert rows.epochs.is_monotonic_increasing and rows.epochs.is_unique  # asked deeper each time, never again
        assert rows.epochs_trained.sum() == reached
        i = table.lookup([arch])[0]
        charged = t.simulated_seconds.diff().fillna(t.simulated_seconds.iloc[0])[rows.index]
        assert charged.sum() == pytest.approx(seconds[i, :reached].sum())
    full = t.epochs == EPOCHS
    best = np.maximum.accumulate(np.where(full, t.value, -np.inf))  # regret counts whole trainings only
    optimum = table.metric("valid_acc").max()
    assert np.allclose(np.where(np.isfinite(best), optimum - best, np.nan), t.regret, equal_nan=True)


def test_a_budget_of_seconds_ends_runs_of_every_kind():
    table = curve_table()
    budget = 80.0
    t = run(Campaign(["valid_acc:max"], strategies=["rs", "asha"], budget=None, budget_seconds=budget, seeds=2,
                     fidelity={"eta": 3}), table)
    for _, r in t.groupby(["strategy", "seed"]):
        total = r.simulated_seconds.to_numpy()
        assert total[-1] >= budget > total[-2]
    rs = t[t.strategy == "rs"]
    assert (rs.epochs == EPOCHS).all() and (rs.epochs_trained == EPOCHS).all()


@pytest.mark.parametrize("workers", [1, 3])
def test_schedulers_spend_the_budget_after_every_class_is_started(workers):
    """400 s is two thirds of training all 27 classes whole: the schedulers start them all, then go on
    continuing the best partial trainings until the budget is spent."""
    table = curve_table()
    whole = table.metrics["epoch_seconds"][:, 0, :].sum()
    budget = 400.0
    assert budget < whole
    t = run(Campaign(["valid_acc:max"], strategies=["asha", "sh", "hyperband", "median", "bohb"], budget=None,
                     budget_seconds=budget, seeds=1, init=4, workers=workers, fidelity={"eta": 3}), table)
    for name, r in t.groupby("strategy"):
        assert r.simulated_seconds.iloc[-1] >= budget, name
        assert r.arch.nunique() == len(table.archs), name
        assert not r.duplicated(["arch", "epochs"]).any(), name


def test_simulated_workers_overlap_and_tell_in_order_of_finishing():
    table = curve_table()
    t = run(Campaign(["valid_acc:max"], strategies=["asha"], budget=40, seeds=1, workers=4,
                     fidelity={"eta": 3}), table)
    finish = t.wall_seconds.to_numpy()
    assert (np.diff(finish) >= 0).all()
    charged = t.simulated_seconds.diff().fillna(t.simulated_seconds.iloc[0]).to_numpy()
    start = finish - charged
    running = [(start < f) & (finish >= f) for f in finish]  # jobs in flight at each finishing time
    assert max(r.sum() for r in running) == 4
    assert finish[-1] < t.simulated_seconds.iloc[-1] / 2  # 4 workers: well under the serial time


def test_old_campaigns_are_unchanged_by_fidelity_columns():
    """Whole trainings without budgets of seconds or workers keep their old trajectory columns."""
    table = curve_table()
    t = run(Campaign(["valid_acc:max"], strategies=["rs"], budget=5, seeds=1), table)
    assert "epochs" not in t and (t.value == table.metric("valid_acc")[table.lookup(t.arch)]).all()


def test_the_command_reports_regret_at_budget_fractions(tmp_path, capsys):
    path = tmp_path / "curves.h5"
    curve_table().write(path)
    argv = ["search", str(path), "--metric", "valid_acc", "--strategies", "rs,asha", "--fidelity", "epochs",
            "--budget-seconds", "120", "--seeds", "2", "--out", str(tmp_path / "o"), "--json", "--no-progress"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    for result in doc["results"]:
        assert set(result["regret_at_budget_fraction"]) == {"0.1", "0.25", "0.5", "1.0"}
        assert result["epochs_trained"] > 0
    frame = pd.read_csv(tmp_path / "o" / "trajectories.csv")
    assert {"epochs", "epochs_trained", "wall_seconds"} <= set(frame)


@pytest.mark.parametrize("args, needle", [(["--min-epochs", "10"], "--min-epochs 10 must be between 1 and the 9"),
                                          (["--eta", "1"], "--eta must be at least 2"),
                                          (["--objectives", "valid_acc:max,epoch_seconds:min"], "one objective")])
def test_bad_fidelity_is_one_line_exit_2(tmp_path, capsys, args, needle):
    path = tmp_path / "curves.h5"
    curve_table().write(path)
    argv = ["search", str(path), "--strategies", "asha", "--fidelity", "epochs", "--budget", "10", "--out",
            str(tmp_path / "o"), "--no-progress", *args]
    if "--objectives" not in args:
        argv += ["--metric", "valid_acc"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_fidelity_campaigns_default_to_the_multi_fidelity_strategies():
    assert Campaign(["valid_acc:max"], fidelity={}).strategies == ["asha-bo", "bohb", "asha", "hyperband", "tpe-hb",
                                                                   "rs", "bo"]
    assert "asha" not in Campaign(["valid_acc:max"]).strategies


def test_failed_trainings_shrink_only_their_own_bracket():
    """Architectures whose record is NaN are never promoted, so a rung may run fewer than its size;
    every later bracket still promotes its full share (sh, one worker: 9 new at epoch 1, then the
    best min(3, finite) to epoch 3, then 1 to epoch 9, bracket after bracket)."""
    table = curve_table()
    acc = table.metrics["valid_acc"].copy()
    acc[np.arange(len(acc)) % 4 != 0] = np.nan  # three in four failed
    table = Table(table.space, table.archs, table.arch_strings, {**table.metrics, "valid_acc": acc})
    t = run(Campaign(["valid_acc:max"], strategies=["sh"], budget=None, budget_seconds=10_000, seeds=1,
                     fidelity={"eta": 3}), table)
    epochs, values, i, brackets = t.epochs.tolist(), t.value.tolist(), 0, 0
    while i + 9 <= len(epochs) and epochs[i:i + 9] == [1] * 9:
        finite = int(np.isfinite(values[i:i + 9]).sum())
        promoted = min(3, finite)
        assert epochs[i + 9:i + 9 + promoted] == [3] * promoted, f"bracket {brackets}"
        i += 9 + promoted + (1 if promoted else 0)
        brackets += 1
    assert brackets == 3 and not t[t.epochs > 1].value.isna().any()


def test_tpe_hyperband_repeats_under_a_seed():
    """Optuna's Hyperband pruner assigns brackets by a checksum of the study's name: a fixed one."""
    table = curve_table()
    runs = [run(Campaign(["valid_acc:max"], strategies=["tpe-hb"], budget=25, seeds=1, init=4, fidelity={"eta": 3}),
                table) for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0].drop(columns="seconds_per_query"), runs[1].drop(columns="seconds_per_query"))
