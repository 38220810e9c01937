"""SurrogateSampler: our strategies behind Optuna's sampler interface (in-memory studies)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from surrogate.errors import UsageError
from surrogate.optuna import CLAIM_ATTR, SurrogateSampler, arch_params, param_names, suggest_arch
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
    sampler = SurrogateSampler("rs", space="categorical:2")
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
