"""GRAF, neural graph features (Kadlecová et al., ICML 2024, "Surprisingly strong performance
prediction with neural graph features"): simple, named structural features of a network.

* Cell spaces (any space with the node-op DAG view, `CellSpace`): the count of each op, then for
  every non-empty subset S of the ops, on the sub-DAG that keeps only the op nodes whose op is in S
  (plus input and output): the shortest and the longest input->output path (in op nodes; -1 when
  there is none), the input's out-degree, the output's in-degree, and the mean in- and out-degree of
  the kept op nodes (0 when there are none).
* Any other space (chains of blocks, hyperparameter vectors): the one-hot choices, how often each
  choice occurs over the positions, and, where the space has a network (`surrogate.nets`), its
  effective depth (non-identity blocks) and log10 params/FLOPs from the project's own cost model
  (C=16, 3x32x32 inputs, 10 classes).

Features are computed on each architecture's canonical representative (`space.canonicalize`), so
they are identical within every isomorphism class whatever the space's notion of isomorphism.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from surrogate.encodings.base import Encoding
from surrogate.encodings.onehot import OneHot
from surrogate.errors import UsageError
from surrogate.spaces import CellSpace, Space

#: path length reported when the sub-DAG has no input->output path
NO_PATH = -1.0


class Graf(Encoding):
    name = "graf"

    def __init__(self, space: Space):
        super().__init__(space)
        if isinstance(space, CellSpace):
            self._init_cell(space)
        else:
            self._init_chain(space)

    # --- cell spaces ---------------------------------------------------------------------------
    def _init_cell(self, space: CellSpace) -> None:
        self._cell = True
        ops = space.dag_ops
        possible = np.asarray(space.dag_possible, dtype=bool)
        self._order = _topological_order(possible)
        self._subsets = [s for k in range(1, len(ops) + 1) for s in combinations(range(len(ops)), k)]
        self.names = [f"count:{op}" for op in ops]
        for subset in self._subsets:
            label = "+".join(ops[i] for i in subset)
            self.names += [f"{stat}[{label}]" for stat in ("min_path", "max_path", "in_out_degree",
                                                           "out_in_degree", "mean_in_degree", "mean_out_degree")]

    def _encode_cell(self, archs: np.ndarray) -> np.ndarray:
        adjacency, ops = self.space.dag(archs)
        n, v = ops.shape
        k = len(self.space.dag_ops)
        counts = (ops[:, :, None] == np.arange(k)[None, None, :]).sum(axis=1).astype(np.float64)
        columns = [counts]
        is_op = ops >= 0
        for subset in self._subsets:
            kept = np.isin(ops, subset)
            kept[:, 0] = kept[:, v - 1] = True
            adj = adjacency & kept[:, :, None] & kept[:, None, :]
            shortest, longest = _path_lengths(adj, is_op & kept, self._order)
            inner = is_op & kept
            n_inner = inner.sum(axis=1)
            in_deg = (adj.sum(axis=1) * inner).sum(axis=1)
            out_deg = (adj.sum(axis=2) * inner).sum(axis=1)
            safe = np.maximum(n_inner, 1)
            columns.append(np.stack([shortest, longest, adj[:, 0].sum(axis=1), adj[:, :, v - 1].sum(axis=1),
                                     np.where(n_inner > 0, in_deg / safe, 0.0),
                                     np.where(n_inner > 0, out_deg / safe, 0.0)], axis=1).astype(np.float64))
        return np.concatenate(columns, axis=1)

    # --- other spaces (chains) -----------------------------------------------------------------
    def _init_chain(self, space: Space) -> None:
        self._cell = False
        self._onehot = OneHot(space)
        self._width = int(space.num_choices.max())
        self.names = list(self._onehot.names) + [f"count:{j}" for j in range(self._width)]
        self._network = _has_network(space)
        if self._network:
            from surrogate.nets.chain import default_blocks

            blocks = default_blocks(space)
            self._identity = np.zeros((space.num_decisions, self._width), dtype=bool)
            for i, names in enumerate(blocks):
                for j, block in enumerate(names):
                    self._identity[i, j] = block == "identity"
            self.names += ["depth", "log10_params", "log10_flops"]

    def _encode_chain(self, archs: np.ndarray) -> np.ndarray:
        counts = (archs[:, :, None] == np.arange(self._width)[None, None, :]).sum(axis=1)
        columns = [self._onehot.encode(archs), counts.astype(np.float64)]
        if self._network:
            from surrogate.nets.costs import costs

            identity = self._identity[np.arange(archs.shape[1])[None, :], archs]
            cost = costs(self.space, archs)
            columns.append(np.stack([(~identity).sum(axis=1).astype(np.float64), np.log10(cost["params"]),
                                     np.log10(cost["flops"])], axis=1))
        return np.concatenate(columns, axis=1)

    def encode(self, archs: np.ndarray) -> np.ndarray:
        canonical = np.atleast_2d(self.space.canonicalize(archs))
        return self._encode_cell(canonical) if self._cell else self._encode_chain(canonical)


def _has_network(space: Space) -> bool:
    from surrogate.nets import NETWORKS

    if space.kind != "categorical" or space.kind not in NETWORKS:
        return False
    from surrogate.nets.chain import DEFAULT_BLOCKS

    return int(space.num_choices.max()) <= len(DEFAULT_BLOCKS)


def _topological_order(possible: np.ndarray) -> list[int]:
    """Kahn's order of the DAG of possible edges; UsageError when it has a cycle."""
    v = len(possible)
    indegree = possible.sum(axis=0).astype(int)
    ready = [i for i in range(v) if indegree[i] == 0]
    order = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for nxt in np.flatnonzero(possible[node]):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(int(nxt))
    if len(order) != v:
        raise UsageError("the space's DAG of possible edges has a cycle")
    return order


def _path_lengths(adj: np.ndarray, counts: np.ndarray, order: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Shortest and longest input->output path of each DAG, counted in nodes where `counts` is set;
    NO_PATH where the output is unreachable."""
    n, v = counts.shape
    big = v + 1
    shortest = np.full((n, v), big, dtype=np.int64)
    longest = np.full((n, v), -big, dtype=np.int64)
    shortest[:, 0] = longest[:, 0] = 0
    step = counts.astype(np.int64)
    for j in order:
        if j == 0:
            continue
        preds = adj[:, :, j]
        s = np.where(preds, shortest, big).min(axis=1)
        long_ = np.where(preds, longest, -big).max(axis=1)
        reach = s < big
        shortest[:, j] = np.where(reach, s + step[:, j], big)
        longest[:, j] = np.where(reach, long_ + step[:, j], -big)
    reach = shortest[:, v - 1] < big
    return (np.where(reach, shortest[:, v - 1], NO_PATH).astype(np.float64),
            np.where(reach, longest[:, v - 1], NO_PATH).astype(np.float64))
