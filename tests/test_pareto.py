import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from surrogate.search import pareto, problem as specs
from surrogate.errors import UsageError
from surrogate.search.problem import Constraint, Objective


def brute_non_dominated(Y: np.ndarray) -> np.ndarray:
    return np.array([not any((o >= y).all() and (o > y).any() for o in Y) for y in Y], dtype=bool)


def brute_hypervolume_2d(Y: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by Y above ref, by a grid of every coordinate the points define."""
    Y = Y[(Y > ref).all(axis=1)]
    xs, ys = np.unique(np.r_[ref[0], Y[:, 0]]), np.unique(np.r_[ref[1], Y[:, 1]])
    area = 0.0
    for (x0, x1), (y0, y1) in itertools.product(zip(xs[:-1], xs[1:]), zip(ys[:-1], ys[1:])):
        if ((Y[:, 0] >= x1) & (Y[:, 1] >= y1)).any():
            area += (x1 - x0) * (y1 - y0)
    return area


small_sets = arrays(np.float64, st.tuples(st.integers(1, 25), st.integers(2, 3)), elements=st.integers(0, 6).map(float))


# --- specs ----------------------------------------------------------------------------------------
def test_parse_objectives():
    objs = specs.parse_objectives("valid_acc:max, params:min")
    assert objs == (Objective("valid_acc", True), Objective("params", False))
    assert [o.sign for o in objs] == [1.0, -1.0] and [str(o) for o in objs] == ["valid_acc:max", "params:min"]
    assert specs.parse_objectives(["a:min"]) == (Objective("a", False),)


@pytest.mark.parametrize("spec", ["valid_acc", "valid_acc:maximize", ":max", "a:max,a:min", "", "acc:max,params"])
def test_parse_objectives_rejects(spec):
    with pytest.raises(UsageError):
        specs.parse_objectives(spec)


def test_parse_constraint_and_feasibility():
    c = specs.parse_constraint("params <= 5e5")
    assert c == Constraint("params", "<=", 5e5) and str(c) == "params<=500000"
    for text in ("params<=1234567.891", "latency_ms>0.1", "acc>=-3.25e-07"):
        assert specs.parse_constraint(str(specs.parse_constraint(text))) == specs.parse_constraint(text)
    values = np.array([4e5, 5e5, 6e5, np.nan])
    np.testing.assert_array_equal(c.satisfied(values), [True, True, False, False])
    np.testing.assert_array_equal(specs.parse_constraint("params<5e5").satisfied(values), [True, False, False, False])
    np.testing.assert_array_equal(specs.parse_constraint("acc>=-1").slack(np.array([0.0, -3.0])), [-1.0, 2.0])
    outcomes = np.array([[1.0, 4e5], [2.0, 6e5], [3.0, 5e5]])
    ok = pareto.feasible(outcomes, ["acc", "params"], [c, specs.parse_constraint("acc>1")])
    np.testing.assert_array_equal(ok, [False, False, True])
    violation = pareto.violation(outcomes, ["acc", "params"], [c])
    assert violation[0] == 0 and violation[2] == 0 and violation[1] == pytest.approx(1e5)
    assert pareto.violation(np.array([[5e5]]), ["params"], [specs.parse_constraint("params<5e5")])[0] > 0


@pytest.mark.parametrize("text", ["params", "params<=", "<=3", "params=<3", "params<=abc", "params<=inf", "a<=1<=2"])
def test_parse_constraint_rejects(text):
    with pytest.raises(UsageError):
        specs.parse_constraint(text)


# --- dominance ------------------------------------------------------------------------------------
@given(small_sets)
def test_non_dominated_matches_brute_force(Y):
    np.testing.assert_array_equal(pareto.non_dominated(Y), brute_non_dominated(Y))


@given(small_sets)
def test_pareto_ranks_peel_fronts(Y):
    ranks = pareto.pareto_ranks(Y)
    for r in range(ranks.max() + 1):  # rank r is the front of what ranks r or worse
        rest = ranks >= r
        np.testing.assert_array_equal(ranks[rest] == r, brute_non_dominated(Y[rest]))


def test_constrained_ranks_put_feasible_first():
    Y = np.array([[1.0, 1.0], [5.0, 5.0], [0.0, 0.0], [9.0, 9.0]])
    ranks = pareto.pareto_ranks(Y, violations=np.array([0.0, 2.0, 0.0, 1.0]))
    np.testing.assert_array_equal(ranks, [0, 3, 1, 2])  # feasible by dominance, then infeasible by violation


def test_crowding_distance_by_hand():
    Y = np.array([[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]])
    d = pareto.crowding_distance(Y)
    assert np.isinf(d[0]) and np.isinf(d[3])
    assert d[1] == pytest.approx(3 / 4 + 3 / 4) and d[2] == pytest.approx(3 / 4 + 3 / 4)
    assert np.isinf(pareto.crowding_distance(Y[:2])).all()


# --- hypervolume ----------------------------------------------------------------------------------
def test_hypervolume_by_hand():
    Y = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [1.0, 1.0]])  # the last is dominated
    assert pareto.hypervolume(Y, np.zeros(2)) == pytest.approx(3 + 2 + 1)  # columns of width 1: 3 + 2 + 1
    assert pareto.hypervolume(Y, np.array([1.0, 1.0])) == pytest.approx(1 * 1)  # only (2, 2) beats (1, 1) strictly
    assert pareto.hypervolume(Y, np.array([3.0, 3.0])) == 0.0
    assert pareto.hypervolume(np.zeros((0, 2)), np.zeros(2)) == 0.0
    cube = np.array([[1.0, 1.0, 1.0], [2.0, 0.5, 0.5]])
    assert pareto.hypervolume(cube, np.zeros(3)) == pytest.approx(1 + 0.25)  # 1x1x1 plus the 1x0.5x0.5 beyond x=1


@given(small_sets.filter(lambda Y: Y.shape[1] == 2))
def test_hypervolume_matches_brute_force_and_trace(Y):
    ref = np.array([0.5, 1.0])
    assert pareto.hypervolume(Y, ref) == pytest.approx(brute_hypervolume_2d(Y, ref))
    trace = pareto.hypervolume_trace(Y, ref)
    np.testing.assert_allclose(trace, [pareto.hypervolume(Y[:t], ref) for t in range(1, len(Y) + 1)])
    assert (np.diff(trace) >= -1e-12).all()


def test_reference_point_and_ratio():
    front = np.array([[80.0, -1e6], [70.0, -1e5]])  # max accuracy, min params (negated)
    ref = pareto.reference_point(front)
    np.testing.assert_allclose(ref, [70 - 1.0, -1e6 - 0.9e5])  # nadir - 10% of the range
    assert pareto.hypervolume_ratio(front, front, ref) == pytest.approx(1.0)
    assert 0 < pareto.hypervolume_ratio(front[:1], front, ref) < 1
    with pytest.raises(UsageError):
        pareto.reference_point(np.zeros((0, 2)))


def test_found_front_fraction():
    front = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    assert pareto.found_front_fraction(np.array([[2.0, 2.0], [0.0, 0.0], [3.0, 1.0]]), front) == pytest.approx(2 / 3)
    assert pareto.found_front_fraction(np.zeros((0, 2)), front) == 0.0
    assert pareto.found_front_fraction(np.vstack([front, front]), front) == 1.0
