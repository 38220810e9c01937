"""Adjacency encoding of a cell in node-op form: upper-triangular adjacency plus one-hot node ops."""

from __future__ import annotations

import numpy as np

from surrogate.encodings.base import Encoding, require_cell
from surrogate.spaces import Space


class Adjacency(Encoding):
    """Flattened (BANANAS/NAS-Bench-101 style) adjacency: only node pairs that can ever be connected
    in this space are kept, so constant zero columns do not dilute distances."""

    name = "adjacency"

    def __init__(self, space: Space):
        require_cell(space, self.name)
        super().__init__(space)
        self._pairs = np.argwhere(np.triu(space.dag_possible, k=1))
        v = space.dag_possible.shape[0]
        self._op_nodes = np.arange(1, v - 1)
        ops = space.dag_ops
        self.names = [f"edge{u}-{w}" for u, w in self._pairs] + [f"node{n}={o}" for n in self._op_nodes for o in ops]

    def encode(self, archs: np.ndarray) -> np.ndarray:
        adjacency, ops = self.space.dag(archs)
        edges = adjacency[:, self._pairs[:, 0], self._pairs[:, 1]].astype(np.float64)
        node_ops = ops[:, self._op_nodes]
        onehot = node_ops[:, :, None] == np.arange(len(self.space.dag_ops))[None, None, :]
        return np.concatenate([edges, onehot.reshape(len(archs), -1).astype(np.float64)], axis=1)
