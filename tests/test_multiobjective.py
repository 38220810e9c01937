import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm, rankdata

from surrogate.search import pareto
from surrogate.errors import UsageError
from surrogate.models.warp import Warp
from surrogate.search import get_strategy
from surrogate.search.multiobjective import ConstrainedBO, MORegularizedEvolution, MultiObjectiveBO, NSGA2Search
from surrogate.search.problem import Problem

GENERAL = ["bo", "nsga2", "re", "rs"]  # the strategies with a general member


def get_mo_strategy(name, space, problem, seed=None, **params):
    return get_strategy(name, space, seed=seed, problem=problem, **params)
from surrogate.spaces import get_space

SPACE = get_space("categorical:4x3")
ACC = np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [0.5, 2.5, 0.0], [2.0, 1.0, 0.0]])
PARAMS = np.array([[0, 3, 1], [2, 0, 5], [1, 4, 0], [3, 2, 0]]) * 1000.0


def outcomes(archs: np.ndarray) -> np.ndarray:
    """(acc, params, latency) of a small chain space: accuracy and params pull apart, latency is
    the number of non-zero choices."""
    archs = np.atleast_2d(archs)
    rows = np.arange(archs.shape[1])
    return np.stack([60 + ACC[rows, archs].sum(1), 1000 + PARAMS[rows, archs].sum(1), (archs > 0).sum(1)], axis=1)


def problem(objectives="acc:max,params:min", constraints=()) -> Problem:
    return Problem.parse(objectives, constraints, exact_columns=("params",),
                         exact=lambda archs: outcomes(archs)[:, [1]])


def run(strategy, prob: Problem, budget: int, seed: int = 0, **params):
    search = get_mo_strategy(strategy, SPACE, prob, seed=seed, **params)
    asked = []
    for _ in range(budget):
        arch = search.ask()
        y = outcomes(arch)[0][[("acc", "params", "latency").index(c) for c in prob.columns]]
        search.tell(arch, y)
        asked.append(arch)
    return search, np.stack(asked)


def test_problem_columns_and_views():
    p = problem("acc:max,params:min", ["latency<=2", "params<=9000", "latency>=1"])
    assert p.columns == ("acc", "params", "latency") and p.m == 2
    assert [str(c) for c in p.exact_constraints] == ["params<=9000"]
    assert [str(c) for c in p.measured_constraints] == ["latency<=2", "latency>=1"]
    y = np.array([[70.0, 5000.0, 2.0], [71.0, 5000.0, 3.0]])
    np.testing.assert_array_equal(p.objective_matrix(y), [[70.0, -5000.0], [71.0, -5000.0]])
    np.testing.assert_array_equal(p.feasible(y), [True, False])
    archs = SPACE.enumerate()
    np.testing.assert_array_equal(p.exactly_feasible(archs), outcomes(archs)[:, 1] <= 9000)
    with pytest.raises(UsageError):
        Problem.parse("acc:max,params:min", ref_point=(1.0,))
    with pytest.raises(UsageError):
        Problem.parse("acc:max", exact_columns=("params",))


@pytest.mark.parametrize("name", GENERAL)
def test_every_strategy_asks_new_feasible_classes_and_its_front_is_non_dominated(name):
    prob = problem(constraints=["params<=9000"])
    search, asked = run(name, prob, budget=20, init=5) if name == "bo" else run(name, prob, budget=20)
    assert len(np.unique(SPACE.canonical_ids(asked))) == 20
    assert (outcomes(asked)[:, 1] <= 9000).all()  # exact constraint: nothing infeasible was ever asked
    assert search.fallbacks == 0
    Y = prob.objective_matrix(search.outcome_matrix())
    front = Y[pareto.non_dominated(Y)]
    truth = prob.objective_matrix(outcomes(SPACE.enumerate()[prob.exactly_feasible(SPACE.enumerate())]))
    true_front = truth[pareto.non_dominated(truth)]
    assert pareto.non_dominated(front).all()
    # every found front point is on the true front or dominated by one of it
    assert all(((true_front >= y).all(axis=1)).any() for y in front)
    assert 0 < pareto.hypervolume_ratio(front, true_front, pareto.reference_point(true_front)) <= 1 + 1e-12


@pytest.mark.parametrize("name", GENERAL)
def test_same_seed_same_asks(name):
    params = {"init": 4} if name == "bo" else {}
    _, a = run(name, problem(), budget=12, seed=3, **params)
    _, b = run(name, problem(), budget=12, seed=3, **params)
    np.testing.assert_array_equal(a, b)


def test_exhaustive_budget_finds_the_whole_front():
    prob = problem()
    truth = prob.objective_matrix(outcomes(SPACE.enumerate()))
    true_front = truth[pareto.non_dominated(truth)]
    for name in ("rs", "re", "nsga2"):
        search, _ = run(name, prob, budget=SPACE.size)
        assert pareto.found_front_fraction(prob.objective_matrix(search.outcome_matrix()), true_front) == 1.0


@pytest.mark.parametrize("ts_every", [0, 3])
def test_bo_finds_most_of_a_simple_front(ts_every):
    prob = problem()
    truth = prob.objective_matrix(outcomes(SPACE.enumerate()))
    true_front = truth[pareto.non_dominated(truth)]
    search, _ = run("bo", prob, budget=30, init=6, ts_every=ts_every)
    ratio = pareto.hypervolume_ratio(prob.objective_matrix(search.outcome_matrix()), true_front,
                                     pareto.reference_point(true_front))
    assert ratio > 0.95


def test_bo_builds_the_right_kind():
    exact_only = problem("acc:max", ["params<=5000"])
    assert get_mo_strategy("bo", SPACE, exact_only, seed=0, acq="ehvi").acq == "logei"  # an MO acquisition: dropped
    assert get_mo_strategy("bo", SPACE, exact_only, seed=0, acq="ucb").acq == "ucb"  # a single-objective one: kept
    assert isinstance(get_mo_strategy("bo", SPACE, exact_only, seed=0), ConstrainedBO)
    assert isinstance(get_mo_strategy("bo", SPACE, problem("acc:max", ["latency<=2"]), seed=0), MultiObjectiveBO)
    assert isinstance(get_mo_strategy("bo", SPACE, problem(), seed=0), MultiObjectiveBO)
    with pytest.raises(UsageError):
        get_mo_strategy("bo", SPACE, problem(), seed=0, acq="nope")
    with pytest.raises(UsageError):
        get_mo_strategy("bogus", SPACE, problem())


def test_a_thompson_turn_scores_the_hypervolume_a_draw_adds():
    prob = problem()
    search, _ = run("bo", prob, budget=12, init=6)
    archs, x = search.candidates()
    scores = search.scores(x)
    predictor = search.predictors["acc"]
    predictor.sample_joint = lambda X, rng: predictor.predict(X)[0]  # the draw at the posterior mean
    gains = search.thompson_scores(x, scores)
    pool = np.isfinite(gains)
    assert pool.sum() == min(len(x), search.ts_pool) and (gains[pool] >= 0).all()
    front, ref = (t.numpy() for t in search.front(x, search.inputs(np.stack(search.archs))))
    drawn = np.column_stack([predictor.predict(x[:, :search.width])[0], -x[:, -1]])  # params minimised
    for i in np.flatnonzero(pool)[:20]:
        exact = pareto.hypervolume(np.vstack([front, drawn[i]]), ref) - pareto.hypervolume(front, ref)
        assert gains[i] == pytest.approx(exact, rel=1e-6, abs=1e-9)


def test_bo_on_plain_choices_models_the_measured_columns_with_the_categorical_gp():
    for prob in (problem(), problem("acc:max", ["latency<=2"])):
        search = get_mo_strategy("bo", SPACE, prob, seed=0)
        assert search.encoding.name == "index" and not search.cost_features and search.ts_every == 3
        assert {type(p).__name__ for p in search.predictors.values()} == {"CategoricalGP"}
    graf = get_mo_strategy("bo", SPACE, problem(), seed=0, encoding="graf")
    assert graf.cost_features and type(graf.predictors["acc"]).__name__ == "GaussianProcess" and graf.ts_every == 0
    beside = get_mo_strategy("bo", SPACE, problem(), seed=0, features=lambda a: a[:, :1].astype(float))
    assert beside.encoding.name == "onehot"
    with pytest.raises(UsageError, match="choice indices only"):
        get_mo_strategy("bo", SPACE, problem(), seed=0, encoding="index", features=lambda a: a[:, :1].astype(float))


@pytest.mark.parametrize("acq", ["ehvi", "nehvi", "parego"])
def test_bo_acquisitions_with_a_measured_constraint_and_pending_asks(acq):
    prob = problem(constraints=["latency<=2"])
    search, asked = run("bo", prob, budget=10, init=6, acq=acq)
    first, second = search.ask(), search.ask()  # the second is chosen with the first pending
    assert search.fallbacks == 0 and SPACE.canonical_ids(first)[0] != SPACE.canonical_ids(second)[0]


def test_single_objective_with_a_measured_constraint():
    prob = problem("acc:max", ["latency<=2"])
    search, asked = run("bo", prob, budget=20, init=6)
    y = outcomes(SPACE.enumerate())
    best_feasible = y[y[:, 2] <= 2, 0].max()
    found = outcomes(asked)
    assert found[found[:, 2] <= 2, 0].max() == best_feasible
    _, value = search.best()
    assert value == best_feasible  # the scalar view is NaN where infeasible


def test_tell_checks_the_vector_and_ignores_repeats():
    search = get_mo_strategy("rs", SPACE, problem(), seed=0)
    arch = search.ask()
    with pytest.raises(UsageError):
        search.tell(arch, [1.0])
    search.tell(arch, [70.0, 3000.0])
    search.tell(arch, [71.0, 3000.0])  # told twice: the first stands
    assert len(search.outcomes) == 1 and search.values == [70.0]
    with pytest.raises(UsageError):
        MORegularizedEvolution(SPACE, seed=0)  # no problem


def test_mo_re_tournament_prefers_front_then_crowding():
    search = MORegularizedEvolution(SPACE, seed=0, problem=problem(), population=4, sample_size=4, init=4)
    archs = SPACE.enumerate()[[1, 2, 3, 4]]
    for arch, y in zip(archs, [[70.0, 5000.0], [72.0, 6000.0], [69.0, 7000.0], [71.0, 5500.0]]):
        search.tell(arch, y)
    # front: (70, 5000), (72, 6000), (71, 5500); the extremes have infinite crowding; ties -> first drawn
    winner = search.tournament()
    assert SPACE.format(winner) in {SPACE.format(archs[0]), SPACE.format(archs[1])}


def test_nsga2_handles_told_but_not_asked_and_constraints():
    prob = problem(constraints=["latency<=2"])
    search = NSGA2Search(SPACE, seed=0, problem=prob, population_size=4)
    arch = SPACE.enumerate()[5]
    search.tell(arch, outcomes(arch)[0])  # a runner's own initial design: added as a completed trial
    trial = search.study.trials[-1]
    assert trial.values == [outcomes(arch)[0, 0], outcomes(arch)[0, 1]] and "latency<=2" in trial.constraints
    for _ in range(12):
        a = search.ask()
        search.tell(a, outcomes(a)[0])
    assert len(search.study.trials) >= 13


milli = st.integers(-10**5, 10**5).map(lambda v: v / 1000)


@given(st.lists(milli, min_size=2, max_size=40).filter(lambda v: len(set(v)) > 1))
def test_warp_is_monotone_past_the_data_and_is_bo_copula(values):
    y = np.array(values)
    for kind in ("copula", "raw"):
        warp = Warp(y, kind)
        grid = np.linspace(y.min() - 50, y.max() + 50, 101)
        assert (np.diff(warp(grid)) > 0).all()  # strictly increasing, inside and past the observed range
    np.testing.assert_allclose(Warp(y, "raw")(grid), grid)
    np.testing.assert_allclose(Warp(y)(y), norm.ppf(rankdata(y) / (len(y) + 1)))  # bo.py's copula, ties included


def test_bo_on_a_space_too_large_to_enumerate():
    space = get_space("categorical:15x3")  # 14 million chains: a random pool plus mutants of the front
    weights = np.random.default_rng(0).normal(size=(15, 3))

    def measure(archs):
        archs = np.atleast_2d(archs)
        return np.stack([weights[np.arange(15), archs].sum(1), 1.0 + archs.sum(1)], axis=1)

    prob = Problem.parse("acc:max,params:min", exact_columns=("params",), exact=lambda a: measure(a)[:, [1]])
    search = get_mo_strategy("bo", space, prob, seed=0, init=4, pool_size=200)
    for _ in range(8):
        arch = search.ask()
        search.tell(arch, measure(arch)[0])
    assert search.fallbacks == 0 and len(np.unique(space.canonical_ids(np.stack(search.archs)))) == 8


def test_exact_ehvi_agrees_with_its_monte_carlo_estimate():
    """One ask, no measured constraint: BoTorch's analytic EHVI on the objectives' marginals (exact
    columns as point masses) ranks candidates as the Monte-Carlo qLogEHVI does with many samples."""
    from scipy.stats import spearmanr

    search, _ = run("bo", problem(), budget=12, init=12, mc_samples=4096)
    assert search._fit()
    archs, x = search.candidates()
    exact = search.scores(x)
    original = search.acquisition
    search.acquisition = lambda *args: original(*args[:4], analytic=False)
    sampled = np.exp(search.scores(x))
    assert (exact >= 0).all() and exact.max() > 0
    assert spearmanr(exact, sampled).statistic > 0.95
    top = np.argsort(-exact)[:3]
    np.testing.assert_allclose(exact[top], sampled[top], rtol=0.15)  # qLogEHVI smooths its max/min a little
