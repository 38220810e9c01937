"""Search strategies behind the ask/tell protocol: novelty by isomorphism class, determinism,
pending asks, and that each method actually searches (beats random search on an easy objective)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surrogate.errors import UsageError
from surrogate.search import get_strategy
from surrogate.spaces import ENUMERATE_LIMIT, get_space

#: the spaces these tests search (`get_space` builds each once).
SPACES = {spec: get_space(spec) for spec in ("nb201", "categorical:6x3", "categorical:4x3", "categorical:8x4",
                                             "categorical:6x4", "categorical:12x4", "categorical:30x5")}
NAMES = ["rs", "re", "ls", "reinforce", "tpe", "bo", "predict-top"]
PARAMS = {"bo": {"model": "gp", "init": 5}, "predict-top": {"init": 5, "pool_size": 200}}
SEARCHERS = ["re", "ls", "reinforce", "tpe"]  # the methods that must beat random search


def make(name, spec, seed=0, **params):
    return get_strategy(name, SPACES[spec], seed=seed, **{**PARAMS.get(name, {}), **params})


def steps(name, n):
    return min(n, 12) if name == "bo" else n  # a GP fit per step: keep BO's runs short


def class_values(spec, seed=0):
    """A fixed random value per isomorphism class: f(arch) = table[canonical id]."""
    space = SPACES[spec]
    table = np.random.default_rng(seed).random(space.size)
    return lambda arch: float(table[space.canonical_ids(arch)[0]])


def run(strategy, f, n):
    """n sequential ask/tell steps; the asked architectures as a matrix."""
    asked = []
    for _ in range(n):
        arch = strategy.ask()
        asked.append(arch)
        strategy.tell(arch, f(arch))
    return np.stack(asked)


def distinct_classes(spec, archs):
    ids = SPACES[spec].canonical_ids(archs)
    return len(np.unique(ids)) == len(ids)


@pytest.mark.parametrize("spec", ["nb201", "categorical:6x3"])
@pytest.mark.parametrize("name", NAMES)
def test_never_asks_a_seen_or_isomorphic_class(name, spec):
    strategy = make(name, spec)
    asked = run(strategy, class_values(spec), steps(name, 60))
    assert distinct_classes(spec, asked)
    assert strategy.n_observed == len(asked) and not strategy._pending
    assert strategy.fallbacks == 0  # novelty came from the strategy itself, not from ask()'s safety net


@pytest.mark.parametrize("spec", ["categorical:12x4", "categorical:30x5"])
@pytest.mark.parametrize("name", NAMES)
def test_spaces_too_large_to_enumerate(name, spec):
    """Above ENUMERATE_LIMIT (16.8M archs) nothing is enumerated: BO scores a BANANAS pool, random
    draws are rejection-sampled; 5**30 > 2**63 also needs hashed canonical ids."""
    space = SPACES[spec]
    assert space.size > ENUMERATE_LIMIT
    strategy = make(name, spec)
    f = lambda arch: float((arch == 1).sum())  # noqa: E731
    asked = run(strategy, f, 12 if name == "bo" else 30)
    assert distinct_classes(spec, asked) and strategy.fallbacks == 0 and not strategy.exhausted()
    if name == "bo":
        archs, x = strategy.candidates()
        assert len(archs) > 100 and x.shape == (len(archs), strategy.encoding.dim)


def test_set_pending_replaces_the_pending_set():
    """Other workers' trials (Optuna's study) are declared pending, as BoTorch's set_X_pending."""
    space = SPACES["categorical:4x3"]
    strategy = make("rs", "categorical:4x3")
    told = strategy.ask()
    strategy.tell(told, 1.0)
    others = space.unindex(np.arange(space.size))
    others = others[space.canonical_ids(others) != space.canonical_ids(told)[0]]
    strategy.set_pending(np.vstack([others[:-1], told[None]]))  # the told one is ignored
    assert len(strategy.pending) == len(others) - 1
    np.testing.assert_array_equal(strategy.ask(), others[-1])  # the only class neither told nor pending
    strategy.set_pending(None)
    assert len(strategy.pending) == 0


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_trajectory(name):
    spec = "categorical:6x3" if name == "bo" else "nb201"  # BO's GP is cheaper on the smaller encoding
    f, n = class_values(spec), steps(name, 30)
    a, b = (run(make(name, spec, seed=7), f, n) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, run(make(name, spec, seed=8), f, n))


@pytest.mark.parametrize("name", NAMES)
def test_pending_asks_stay_distinct(name):
    """Asynchronous workers: up to 4 asks in flight, told in random order, plus a batch ask."""
    spec, f = "nb201", class_values("nb201")
    strategy, order = make(name, spec), np.random.default_rng(0)
    pending, asked = [], []
    for _ in range(steps(name, 40)):
        while len(pending) < 4:
            pending.append(strategy.ask())
            asked.append(pending[-1])
        done = pending.pop(int(order.integers(len(pending))))
        strategy.tell(done, f(done))
    if name != "bo":  # BO's qLogEI batch is slow on NB201 and tested with BO
        batch = strategy.ask_batch(5)
        asked.extend(batch)
    assert distinct_classes(spec, np.stack(asked))
    assert len(strategy.pending) == len(asked) - strategy.n_observed
    assert strategy.fallbacks == 0


@pytest.mark.parametrize("name", NAMES)
def test_initial_design_told_without_asking(name):
    """A runner may tell an initial design first; the strategy learns from it and never repeats it."""
    spec, f = "categorical:6x3", class_values("categorical:6x3")
    strategy = make(name, spec)
    design = SPACES[spec].unindex(np.random.default_rng(1).choice(SPACES[spec].size, 10, replace=False))
    for arch in design:
        strategy.tell(arch, f(arch))
    asked = run(strategy, f, steps(name, 30))
    assert distinct_classes(spec, np.concatenate([design, asked]))
    if name == "tpe":
        assert len(strategy.study.trials) >= 10 + len(asked)


@pytest.mark.parametrize("name", NAMES)
def test_failed_evaluations(name):
    """NaN values (failed training) neither crash a strategy nor get asked again."""
    spec = "categorical:6x3"
    good = class_values(spec)
    f = lambda arch: float("nan") if good(arch) < 0.3 else good(arch)  # noqa: E731
    strategy = make(name, spec)
    asked = run(strategy, f, steps(name, 40))
    assert distinct_classes(spec, asked)
    assert np.isfinite(strategy.best()[1])


@pytest.mark.parametrize("name", ["rs"] + SEARCHERS)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_exhausts_a_small_space_without_repeats(name, seed):
    spec = "categorical:4x3"
    strategy = make(name, spec, seed=seed)
    asked = run(strategy, class_values(spec, seed), SPACES[spec].size)
    assert distinct_classes(spec, asked) and strategy.exhausted()
    with pytest.raises(UsageError, match="has been asked for"):
        strategy.ask()


def mean_regret(name, spec="categorical:8x4", budget=100, seeds=range(5)):
    """Mean over seeds of (optimum - best found) on an additive objective: one score per choice."""
    space = SPACES[spec]
    scores = np.random.default_rng(0).normal(size=(space.num_decisions, int(space.num_choices.max())))
    positions = np.arange(space.num_decisions)
    regrets = []
    for seed in seeds:
        strategy = make(name, spec, seed=seed)
        run(strategy, lambda arch: float(scores[positions, arch].sum()), budget)
        regrets.append(scores.max(axis=1).sum() - strategy.best()[1])
    return float(np.mean(regrets))


@pytest.fixture(scope="module")
def random_search_regret():
    return mean_regret("rs")


@pytest.mark.parametrize("name", SEARCHERS)
def test_beats_random_search_on_an_additive_objective(name, random_search_regret):
    """Fixed seeds, so it cannot flake; every method halves random search's regret or worse is broken
    (measured: rs 1.77; re 0.26, ls 0.56, reinforce 0.16, tpe 0.09)."""
    assert random_search_regret > 1.0  # the problem is not trivial at this budget
    assert mean_regret(name) <= 0.5 * random_search_regret


def test_bo_beats_random_search_on_an_additive_objective():
    """BO too, on a smaller space and budget (a GP fit and 4,096 predictions per step).
    Measured at 30 queries, 3 seeds: rs 1.65, bo 0.00."""
    rs, bo = (mean_regret(name, spec="categorical:6x4", budget=30, seeds=range(3)) for name in ("rs", "bo"))
    assert rs > 1.0
    assert bo <= 0.5 * rs


# --- method-specific behaviour -----------------------------------------------------------------
def test_evolution_ages_its_population():
    strategy = make("re", "categorical:6x3", population=8, sample_size=3)
    asked = run(strategy, class_values("categorical:6x3"), 20)
    assert len(strategy.members) == 8
    np.testing.assert_array_equal(np.stack([m[0] for m in strategy.members]), asked[-8:])  # the youngest 8


def test_evolution_mutates_a_tournament_winner():
    spec, f = "categorical:8x4", class_values("categorical:8x4")
    strategy = make("re", spec, population=10, sample_size=10, init=5)
    run(strategy, f, 5)
    parent = max(strategy.members, key=lambda m: m[1])[0]
    child = strategy.ask()
    assert (child != parent).sum() == 1  # the whole population is the tournament: the best is mutated


def test_local_search_climbs_then_restarts():
    """On an additive objective every local optimum is the global one: LS must reach it, then
    confirm it (all neighbours told) and restart."""
    spec = "categorical:6x3"
    space = SPACES[spec]
    scores = np.random.default_rng(3).normal(size=(6, 3))
    f = lambda arch: float(scores[np.arange(6), arch].sum())  # noqa: E731
    strategy = make("ls", spec, init=5)
    run(strategy, f, 5 + 7 * 12 + 1)  # start, <= 6 moves and the optimum's check (12 neighbours each), restart
    np.testing.assert_array_equal(strategy.best()[0], scores.argmax(axis=1))
    assert strategy.n_restarts >= 1
    assert space.size > strategy.n_observed


@pytest.mark.parametrize("first_improvement", [False, True])
def test_local_search_moves_to_the_best_neighbour(first_improvement):
    spec = "categorical:8x4"
    scores = np.random.default_rng(4).normal(size=(8, 4))
    f = lambda arch: float(scores[np.arange(8), arch].sum())  # noqa: E731
    strategy = make("ls", spec, init=3, first_improvement=first_improvement)
    run(strategy, f, 3)
    start = strategy.best()[0]
    run(strategy, f, 24 + 1)  # the whole neighbourhood (24 minus any initial arch), then one more ask
    center = strategy._told[strategy._center][1]
    assert center > f(start)
    if not first_improvement:
        assert center == max(f(a) for a in SPACES[spec].neighbors(start))


def test_reinforce_policy_learns():
    """Rewarding choice 0 everywhere raises the controller's probability of the all-zero arch."""
    import torch

    spec = "categorical:8x4"
    strategy = make("reinforce", spec)
    zeros = torch.zeros((1, 8), dtype=torch.long)
    with torch.no_grad():
        before = strategy.controller(zeros)[1].item()
    run(strategy, lambda arch: float((arch == 0).sum()), 60)
    with torch.no_grad():
        after = strategy.controller(zeros)[1].item()
    assert after > before + 2.0  # log-probability, from log(4**-8) = -11.1


def test_reinforce_leaves_torch_state_alone():
    import torch

    threads = torch.get_num_threads()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    run(make("reinforce", "categorical:6x3", seed=1), class_values("categorical:6x3"), 5)
    np.testing.assert_array_equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("name, params", [("re", {"population": 0}), ("re", {"population": 5, "init": 6}),
                                          ("ls", {"init": 0}), ("reinforce", {"lr": 0.0}), ("tpe", {"retries": -1})])
def test_bad_hyperparameters(name, params):
    with pytest.raises(UsageError):
        make(name, "categorical:6x3", **params)


def test_predict_top_fits_once_and_asks_its_ranking_in_order():
    spec = "categorical:6x3"
    scores = np.random.default_rng(5).normal(size=(6, 3))
    f = lambda arch: float(scores[np.arange(6), arch].sum())  # noqa: E731
    strategy = make("predict-top", spec, init=20, pool_size=100, model="rf")
    run(strategy, f, 20)
    assert strategy.ranked is None  # nothing fitted during the random design
    asked = run(strategy, f, 10)
    np.testing.assert_array_equal(asked, strategy.ranked[:10])
    first = strategy.predictor.forest_
    run(strategy, f, 5)
    assert strategy.predictor.forest_ is first  # never refitted
    assert np.mean([f(a) for a in asked]) > np.mean([f(a) for a in strategy.ranked[-10:]])  # best first


def test_bo_on_plain_choices_is_the_categorical_gp_and_on_cells_reads_graf():
    from surrogate.search.bo import BayesianOptimization

    plain = BayesianOptimization("categorical:6x5", seed=0)
    assert (plain.encoding.name, type(plain.predictor).__name__, plain.ts_every) == ("index", "CategoricalGP", 3)
    cell = BayesianOptimization("nb201", seed=0)
    assert (cell.encoding.name, type(cell.predictor).__name__, cell.ts_every) == ("graf", "GaussianProcess", 0)
    forest = BayesianOptimization("categorical:6x5", seed=0, model="rf")
    assert (forest.encoding.name, forest.ts_every) == ("onehot", 0)  # choices as numbers would mislead a forest
    beside = BayesianOptimization("categorical:6x5", seed=0, features=lambda a: a[:, :1].astype(float))
    assert beside.encoding.name == "onehot"
    with pytest.raises(UsageError, match="draws jointly"):
        BayesianOptimization("categorical:6x5", seed=0, model="rf", ts_every=3)


def test_bo_thompson_turns_find_an_interaction_optimum():
    """categorical:5x4 with two interacting positions: every third model-based ask is a joint draw,
    and BO with its defaults still finds the single optimum of 1,024 architectures within 100
    queries on 3 seeds (random search: about 1 time in 10)."""
    space = get_space("categorical:5x4")
    rng = np.random.default_rng(7)
    main, pair = rng.normal(size=(5, 4)), 2 * rng.normal(size=(4, 4))

    def f(a):
        return float(main[np.arange(5), a].sum() + pair[a[1], a[3]])

    optimum = max(f(a) for a in space.enumerate())
    for seed in range(3):
        strategy = get_strategy("bo", space, seed=seed)
        for _ in range(100):
            arch = strategy.ask()
            strategy.tell(arch, f(arch))
            if f(arch) == optimum:
                break
        assert max(strategy.values) == optimum


def test_bo_refuses_an_encoding_its_model_cannot_read():
    from surrogate.search.bo import BayesianOptimization

    with pytest.raises(UsageError, match="encoding 'graf'"):
        BayesianOptimization("nb201", seed=0, model="cgp", encoding="graf")
    assert BayesianOptimization("nb201", seed=0, model="cgp", encoding="path").encoding.name == "path"
