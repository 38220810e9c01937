"""Pareto utilities for multi-objective search: feasibility, dominance, non-dominated sorting,
crowding distance and hypervolume.

Every array function works on an (n, m) matrix in *maximisation form* (BoTorch's convention):
a `min` objective enters negated (`problem.Objective.sign`), so "larger is better" holds in every column.
Dominance and hypervolume come from BoTorch (`is_non_dominated`, `DominatedPartitioning`,
`infer_reference_point`); what is here is the glue, vectorised over architectures.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from surrogate.errors import UsageError

#: BoTorch's rule (Ishibuchi et al. 2011): the reference point lies this share of each objective's
#: range beyond the nadir of the front.
REF_MARGIN = 0.1


def feasible(values: np.ndarray, columns: Sequence[str], constraints: Sequence) -> np.ndarray:
    """Rows of `values` (n, len(columns), raw units) that satisfy every constraint."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    ok = np.ones(len(values), dtype=bool)
    for c in constraints:
        ok &= c.satisfied(values[:, list(columns).index(c.name)])
    return ok


def violation(values: np.ndarray, columns: Sequence[str], constraints: Sequence) -> np.ndarray:
    """Total constraint violation per row (0 where feasible; NaN counts as infinitely violated)."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    total = np.zeros(len(values))
    for c in constraints:
        column = values[:, list(columns).index(c.name)]
        excess = np.maximum(np.nan_to_num(c.slack(column), nan=np.inf), 0.0) + 1e-12  # > 0 also on a strict bound
        total += np.where(c.satisfied(column), 0.0, excess)
    return total


# --- dominance ------------------------------------------------------------------------------------
def _tensor(Y: np.ndarray):
    import torch

    return torch.as_tensor(np.asarray(Y, dtype=np.float64).reshape(len(Y), -1))


def non_dominated(Y: np.ndarray) -> np.ndarray:
    """Mask of the rows no other row dominates (maximisation). Equal rows are all kept; a row with
    a NaN is dominated."""
    from botorch.utils.multi_objective.pareto import is_non_dominated  # BoTorch loads when a front is asked for

    Y = np.asarray(Y, dtype=np.float64)
    if len(Y) == 0:
        return np.zeros(0, dtype=bool)
    return is_non_dominated(_tensor(Y), deduplicate=False).numpy()


def pareto_ranks(Y: np.ndarray, violations: np.ndarray | None = None) -> np.ndarray:
    """Non-dominated sorting (Deb et al. 2002): rank 0 is the front, rank 1 the front of the rest...

    With `violations` (Deb's constrained domination), every feasible row ranks before every
    infeasible one, and infeasible rows rank by their total violation (equal violations share a rank).
    """
    Y = np.asarray(Y, dtype=np.float64)
    ranks = np.full(len(Y), -1, dtype=np.int64)
    ok = np.ones(len(Y), dtype=bool) if violations is None else np.asarray(violations) <= 0
    rank, left = 0, np.flatnonzero(ok)
    while len(left):
        front = non_dominated(Y[left])
        ranks[left[front]] = rank
        left, rank = left[~front], rank + 1
    if not ok.all():
        _, order = np.unique(np.asarray(violations)[~ok], return_inverse=True)
        ranks[~ok] = rank + order
    return ranks


def crowding_distance(Y: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each row within its set: the normalised side lengths of the
    cuboid its neighbours span, summed over objectives; the extremes of each objective get inf."""
    Y = np.asarray(Y, dtype=np.float64)
    n, m = Y.shape
    if n <= 2:
        return np.full(n, np.inf)
    order = np.argsort(Y, axis=0, kind="stable")
    sorted_y = np.take_along_axis(Y, order, axis=0)
    span = sorted_y[-1] - sorted_y[0]
    gaps = np.full((n, m), np.inf)
    gaps[1:-1] = (sorted_y[2:] - sorted_y[:-2]) / np.where(span > 0, span, 1.0)
    distance = np.zeros((n, m))
    np.put_along_axis(distance, order, gaps, axis=0)
    return distance.sum(axis=1)


# --- hypervolume ----------------------------------------------------------------------------------
def hypervolume(Y: np.ndarray, ref: np.ndarray) -> float:
    """Volume dominated by the rows of Y and bounded below by `ref` (maximisation; rows not
    strictly better than `ref` in every objective add nothing)."""
    Y = np.asarray(Y, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    Y = Y[np.isfinite(Y).all(axis=1) & (Y > ref).all(axis=1)] if len(Y) else Y.reshape(0, len(ref))
    if len(Y) == 0:
        return 0.0
    Y = Y[non_dominated(Y)]
    from botorch.utils.multi_objective.box_decompositions.dominated import DominatedPartitioning

    return float(DominatedPartitioning(ref_point=_tensor(ref[None])[0], Y=_tensor(Y)).compute_hypervolume())


def hypervolume_trace(Y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Hypervolume of the first t rows for t = 1..n: recomputed only where row t improves it."""
    Y = np.asarray(Y, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    trace, current, front = np.zeros(len(Y)), 0.0, np.zeros((0, len(ref)))
    for t, y in enumerate(Y):
        if np.isfinite(y).all() and (y > ref).all() and not ((front >= y).all(axis=1)).any():
            front = np.vstack([front[~(y >= front).all(axis=1)], y])
            current = hypervolume(front, ref)
        trace[t] = current
    return trace


def reference_point(front: np.ndarray, scale: float = REF_MARGIN) -> np.ndarray:
    """BoTorch's `infer_reference_point`: the front's nadir (its worst value in each objective)
    moved back by `scale` times the front's range in that objective."""
    front = np.asarray(front, dtype=np.float64)
    if len(front) == 0:
        raise UsageError("no feasible point to infer a reference point from")
    from botorch.utils.multi_objective.hypervolume import infer_reference_point

    return infer_reference_point(_tensor(front), scale=scale).numpy()


def hypervolume_ratio(Y: np.ndarray, true_front: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of Y over that of the true front (1 = the whole front's volume found)."""
    return hypervolume(Y, ref) / hypervolume(true_front, ref)


def found_front_fraction(Y: np.ndarray, true_front: np.ndarray) -> float:
    """Share of the true front's distinct objective vectors that occur among the rows of Y."""
    front = np.unique(np.asarray(true_front, dtype=np.float64), axis=0)
    Y = np.asarray(Y, dtype=np.float64)
    if len(front) == 0:
        return float("nan")
    if len(Y) == 0:
        return 0.0
    hit = (front[:, None, :] == Y[None, :, :]).all(axis=2).any(axis=1)
    return float(hit.mean())
