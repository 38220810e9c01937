"""SurrogateSampler: our strategies behind Optuna's sampler interface (in-memory studies)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from surrogate.errors import UsageError
from surrogate.search.sampler import CLAIM_ATTR, SurrogateSampler, arch_params, param_names, suggest_arch
from surrogate.spaces import get_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: fast settings: the RF predictor keeps BO at a fraction of a second per ask.
FAST = {"bo": {"model": "rf", "init": 5, "model_params": {"n_estimators": 30}},
        "re": {"population": 8, "sample_size": 3}}


def categorical_objective(trial: optuna.Trial) -> float:
    """Three categorical params (4 * 3 * 5 = 60 points); the maximum 9 is at a=3, b='z', c=4."""
    a = trial.suggest_categorical("a", [0, 1, 2, 3])
    b = trial.suggest_categorical("b", ["x", "y", "z"])
    c = trial.suggest_categorical("c", [0, 1, 2, 3, 4])
    return a + "xyz".index(b) + c


def _points(study: optuna.Study, names=("a", "b", "c")) -> list[tuple]:
    return [tuple(t.params[n] for n in names) for t in study.trials]


def _run(strategy: str, seed: int = 0, n_trials: int = 25, direction: str = "maximize", objective=categorical_objective,
         **kw) -> optuna.Study:
    sampler = SurrogateSampler(strategy, seed=seed, **{**FAST.get(strategy, {}), **kw})
    study = optuna.create_study(direction=direction, sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return study


@pytest.mark.parametrize("strategy", ["bo", "re"])
def test_strategies_search_categorical_params_without_duplicates(strategy):
    study = _run(strategy, n_trials=30)
    points = _points(study)
    assert len(set(points)) == len(points) == 30
    assert study.best_value >= 8  # 30 of 60 points: far above a random 30's typical values too
    # from the second trial on, the strategy chose (the claim is the arch it was asked for)
    assert all(CLAIM_ATTR in t.system_attrs for t in study.trials[1:])


@pytest.mark.parametrize("strategy", ["bo", "re"])
def test_deterministic_under_seed(strategy):
    first, again, other = (_points(_run(strategy, seed=s, n_trials=15)) for s in (3, 3, 4))
    assert first == again
    assert first != other


def test_minimise_finds_low_values():
    study = _run("bo", direction="minimize", n_trials=25)
    assert study.best_value <= 1
    values = [t.value for t in study.trials]
    assert np.mean(values[-10:]) < 4.5  # the mean over the whole space: it chases the minimum


def test_float_params_come_from_the_random_fallback():
    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        return categorical_objective(trial) - np.log10(lr) / 10

    study = _run("re", n_trials=20, objective=objective)
    lrs = [t.params["lr"] for t in study.trials]
    assert all(1e-4 <= x <= 1e-1 for x in lrs) and len(set(lrs)) == 20
    assert len(set(_points(study))) == 20
    assert "lr" not in study.sampler.infer_relative_search_space(study, study.trials[-1])
    # the float stream is seeded too
    assert lrs == [t.params["lr"] for t in _run("re", n_trials=20, objective=objective).trials]


def test_suggest_arch_round_trips_nb201():
    space = get_space("nb201")
    assert param_names(space) == ["edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2"]
    archs = space.sample(5, np.random.default_rng(0))
    assert len(set(space.canonical_ids(archs).tolist())) == 5
    study = optuna.create_study(sampler=SurrogateSampler("re", space="nb201", seed=0, population=5))
    for arch in archs:
        study.enqueue_trial(arch_params(arch, space))  # fixed params bypass the sampler
    got: list[np.ndarray] = []

    def objective(trial: optuna.Trial) -> float:
        got.append(suggest_arch(trial, space))
        return float(got[-1].sum())

    study.optimize(objective, n_trials=12)
    np.testing.assert_array_equal(np.stack(got[:5]), archs)
    assert [space.parse(space.format(a)).tolist() for a in got] == [a.tolist() for a in got]
    assert all(t.params["edge_1_0"] == space.ops[a[0]] for t, a in zip(study.trials, got))
    assert len(set(space.canonical_ids(np.stack(got)).tolist())) == 12  # isomorphs count as duplicates


def test_parallel_asks_and_several_workers_never_duplicate():
    """Pending trials (asked, not told) are a constant liar, also across samplers sharing a storage."""
    space = get_space("categorical:3,3")
    storage = optuna.storages.InMemoryStorage()
    workers = [optuna.create_study(storage=storage, study_name="shared", load_if_exists=True,
                                   sampler=SurrogateSampler("bo", space=space, seed=0, **FAST["bo"]))
               for _ in range(3)]
    trials, archs = [], []
    for i in range(9):  # all 9 points, asked round-robin with up to 3 pending at once
        trial = workers[i % 3].ask()
        trials.append(trial)
        archs.append(suggest_arch(trial, space))
        if len(trials) >= 3:
            done = trials.pop(0)
            workers[0].tell(done, float(space.index(archs[done.number])[0]))
    assert len({tuple(a) for a in archs}) == 9
    with pytest.raises(UsageError, match="asked for"):
        suggest_arch(workers[1].ask(), space)  # exhausted: every class is told or pending


def test_failed_trials_are_not_proposed_again_and_retries_skip_the_sampler():
    space = get_space("categorical:2,2")
    study = optuna.create_study(sampler=SurrogateSampler("rs", space=space, seed=1))
    failed = []
    for _ in range(2):
        trial = study.ask()
        failed.append(tuple(suggest_arch(trial, space)))
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    study.enqueue_trial(arch_params(np.array(failed[1]), space))  # as Optuna's retry callback re-queues
    seen: list[tuple] = []

    def objective(trial: optuna.Trial) -> float:
        seen.append(tuple(suggest_arch(trial, space)))
        return 0.0

    study.optimize(objective, n_trials=3)
    assert seen[0] == failed[1]  # the retry, with its fixed params
    assert sorted(seen + [failed[0]]) == sorted(map(tuple, space.enumerate()))  # failed[0] never again
    with pytest.raises(UsageError):
        suggest_arch(study.ask(), space)


def test_errors():
    with pytest.raises(UsageError, match="unknown strategy"):
        SurrogateSampler("nope")
    sampler = SurrogateSampler("ls", space="categorical:2")  # single-objective only
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    with pytest.raises(ValueError, match="multi-objective"):
        study.optimize(lambda t: (float(suggest_arch(t, "categorical:2")[0]), 0.0), n_trials=1)
    with pytest.raises(UsageError, match="bad parameters"):
        SurrogateSampler("re", space="nb201", populaton=5)


def test_a_sampler_reused_for_another_study_starts_over():
    sampler = SurrogateSampler("rs", space="categorical:2,2", seed=0)
    for _ in range(2):  # a strategy that kept the first study's observations would be exhausted
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: float(suggest_arch(t, "categorical:2,2").sum()), n_trials=4)
        assert len({tuple(t.params.values()) for t in study.trials}) == 4


# --- multi-objective and constrained studies ----------------------------------------------------
#: fast settings for the multi-objective variants (`bo` always models with GPs).
MO_FAST = {"bo": {"init": 5}, "re": FAST["re"], "nsga2": {"population_size": 6}}


def two_objectives(trial: optuna.Trial) -> tuple[float, float]:
    """`categorical_objective` (maximise) against a cost a + 2c (minimise): they conflict in a and c."""
    value = categorical_objective(trial)
    return value, float(trial.params["a"] + 2 * trial.params["c"])


def _run_mo(strategy: str, seed: int = 0, n_trials: int = 25, objective=two_objectives, **kw) -> optuna.Study:
    sampler = SurrogateSampler(strategy, seed=seed, **{**MO_FAST.get(strategy, {}), **kw})
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return study


def _dominated(y: np.ndarray, others: np.ndarray) -> bool:
    """Is maximisation-form `y` dominated by a row of `others`?"""
    return bool(((others >= y).all(axis=1) & (others > y).any(axis=1)).any())


@pytest.mark.parametrize("strategy", ["bo", "re", "nsga2"])
def test_multi_objective_study_finds_a_non_dominated_front(strategy):
    study = _run_mo(strategy)
    points = _points(study)
    assert len(set(points)) == len(points) == 25
    assert all(a in range(4) and b in "xyz" and c in range(5) for a, b, c in points)
    objectives = study.sampler.strategy.problem.objectives
    assert [str(o) for o in objectives] == ["objective_0:max", "objective_1:min"]
    assert study.sampler.strategy.n_observed == 24  # every completed trial but the last was told, as a vector
    Y = np.array([t.values for t in study.trials]) * [1, -1]
    front = study.best_trials
    assert front and not any(_dominated(np.array(t.values) * [1, -1], Y) for t in front)
    # the true front: b = 'z' and a = 3 or c = 0 (else a + 1, c - 1 scores the same for less), 8 points;
    # random search finds 2 or 3 of them in 25 trials
    found = {tuple(t.params[n] for n in "abc") for t in front}
    assert len({(a, b, c) for a, b, c in found if b == "z" and (a == 3 or c == 0)}) >= 4


@pytest.mark.parametrize("strategy", ["bo", "re"])
def test_multi_objective_deterministic_under_seed(strategy):
    first, again, other = (_points(_run_mo(strategy, seed=s, n_trials=8)) for s in (3, 3, 4))
    assert first == again
    assert first != other


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # set_metric_names
def test_multi_objective_with_a_space_and_metric_names():
    space = get_space("categorical:4,3,5")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=SurrogateSampler("re", space=space, seed=0,
                                                                                          **MO_FAST["re"]))
    study.set_metric_names(["score", "cost"])

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        a, b, c = suggest_arch(trial, space)
        return float(a + b + c), float(a + 2 * c)

    study.optimize(objective, n_trials=15)
    assert len({tuple(t.params.values()) for t in study.trials}) == 15
    assert [str(o) for o in study.sampler.strategy.problem.objectives] == ["score:max", "cost:min"]


@pytest.mark.parametrize("strategy", ["bo", "re"])
def test_constraints_become_measured_columns(strategy):
    def objective(trial: optuna.Trial) -> tuple[float, float]:
        values = two_objectives(trial)
        trial.set_constraint("c_at_most_1", trial.params["c"] - 1)  # 2 of the 5 values of c are feasible
        return values

    study = _run_mo(strategy, n_trials=12, objective=objective)
    told = study.sampler.strategy
    assert [str(c) for c in told.problem.constraints] == ["constraint:c_at_most_1<=0"]
    assert len(set(_points(study))) == 12
    # rebuilt once the first constraint was seen, then told every trial again, constraint included
    archs, outcomes = np.stack(told.archs), told.outcome_matrix()
    assert len(archs) == 11
    np.testing.assert_array_equal(outcomes[:, 2], archs[:, 2] - 1)  # c's choice index is its value
    assert study.best_trials and all(t.params["c"] <= 1 for t in study.best_trials)


def test_multi_objective_errors():
    with pytest.raises(UsageError, match="constraints_func"):
        SurrogateSampler("re", constraints_func=lambda t: [0.0])
    with pytest.raises(UsageError, match="bad parameters"):
        SurrogateSampler("nsga2", space="categorical:2,2", populaton_size=4)
    SurrogateSampler("bo", space="categorical:2,2", acq="nehvi", mc_samples=8)  # multi-objective-only parameters
    SurrogateSampler("nsga2", space="categorical:2,2")  # a multi-objective-only name
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=SurrogateSampler("ls"))
    with pytest.raises(UsageError, match="single-objective and cannot serve a multi-objective study"):
        study.optimize(two_objectives, n_trials=2)  # at the first trial, before the space is known
    assert len(study.trials) == 1

    def constrained(trial: optuna.Trial) -> float:
        trial.set_constraint("c", 1.0)
        return categorical_objective(trial)

    study = optuna.create_study(sampler=SurrogateSampler("ls", seed=0))
    with pytest.raises(UsageError, match="single-objective and cannot serve a constrained study"):
        study.optimize(constrained, n_trials=3)
    assert len(study.trials) == 2  # the first trial's constraint made the second one fail
