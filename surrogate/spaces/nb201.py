"""The NAS-Bench-201 cell: 4 nodes, 6 edges, 5 candidate ops per edge (15,625 cells)."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from surrogate.errors import UsageError
from surrogate.spaces.base import CellSpace, Space

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: edges as (to, from) in NAS-Bench-201's string order: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_NODES = 4
NONE, SKIP = 0, 1


class NB201Space(CellSpace, Space):
    """NAS-Bench-201's cell space (Dong & Yang, ICLR 2020) with its own string format.

    Canonical ids follow NAS-Bench-201's convention (`to_unique_str(consider_zero=True)`), which
    yields the 6,466 unique cells the benchmark reports; the README explains how that differs from
    full zero propagation (5,390 classes).
    """

    kind = "nb201"
    spec = "nb201"
    choices = tuple(OPS for _ in EDGES)
    ops = OPS
    edges = EDGES

    @classmethod
    def from_spec(cls, argument: str) -> "NB201Space":
        if argument:
            raise UsageError("space nb201 takes no arguments")
        return cls()

    @property
    def decision_names(self) -> list[str]:
        return [f"edge_{dst}_{src}" for dst, src in EDGES]

    # --- strings -------------------------------------------------------------------------------
    def format(self, arch: np.ndarray) -> str:
        a = self.check(arch)
        nodes = []
        for node in range(1, NUM_NODES):
            nodes.append("|".join(f"{OPS[a[e]]}~{src}" for e, (dst, src) in enumerate(EDGES) if dst == node))
        return "|" + "|+|".join(nodes) + "|"

    def parse(self, text: str) -> np.ndarray:
        def bad(why: str) -> UsageError:
            return UsageError(f"malformed nb201 arch string {text!r}: {why}")

        if not isinstance(text, str) or not text.startswith("|") or not text.endswith("|"):
            raise bad("expected the form |op~0|+|op~0|op~1|+|op~0|op~1|op~2|")
        groups = text[1:-1].split("|+|")
        if len(groups) != NUM_NODES - 1:
            raise bad(f"expected {NUM_NODES - 1} nodes separated by '+', got {len(groups)}")
        arch = []
        for node, group in enumerate(groups, start=1):
            items = group.split("|")
            if len(items) != node:
                raise bad(f"node {node} needs {node} inputs, got {len(items)}")
            for src, item in enumerate(items):
                op, sep, given = item.partition("~")
                if not sep or given != str(src):
                    raise bad(f"expected '<op>~{src}', got {item!r}")
                if op not in OPS:
                    raise bad(f"unknown op {op!r} (known: {', '.join(OPS)})")
                arch.append(OPS.index(op))
        return np.array(arch, dtype=np.int64)

    # --- isomorphism ---------------------------------------------------------------------------
    @cached_property
    def _representative(self) -> np.ndarray:
        """For every cell index, the index of the smallest cell with the same unique string."""
        keys = [_unique_str(a) for a in self.enumerate().tolist()]
        first: dict[str, int] = {}
        return np.array([first.setdefault(k, i) for i, k in enumerate(keys)], dtype=np.int64)

    def canonicalize(self, archs: np.ndarray) -> np.ndarray:
        return self.unindex(self._representative[self.index(archs)]).reshape(np.shape(archs))

    def canonical_ids(self, archs: np.ndarray) -> np.ndarray:
        return self._representative[self.index(archs)]

    # --- graph view, for the cell encodings ----------------------------------------------------
    @property
    def dag_ops(self) -> tuple[str, ...]:
        """Op vocabulary of the node-op DAG (`none` is absence, not an op)."""
        return OPS[1:]

    dag_identity = ("skip_connect",)

    @cached_property
    def dag_possible(self) -> np.ndarray:
        """(V, V) bool: which node-op edges can exist. Nodes: input, the 6 edge-ops, output."""
        v = len(EDGES) + 2
        possible = np.zeros((v, v), dtype=bool)
        for e, (dst, src) in enumerate(EDGES):
            node = e + 1
            if src == 0:
                possible[0, node] = True
            if dst == NUM_NODES - 1:
                possible[node, v - 1] = True
            for f, (dst2, src2) in enumerate(EDGES):
                if src2 == dst:
                    possible[node, f + 1] = True
        return possible

    def dag(self, archs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Node-op form of many cells: adjacency (n, V, V) bool and ops (n, V) int64.

        Each edge of the cell becomes a node carrying its op; a `none` edge is an absent node
        (op -1, no edges). Input and output nodes have op -1.
        """
        a = np.atleast_2d(self.check(archs))
        present = np.ones((len(a), len(EDGES) + 2), dtype=bool)
        present[:, 1:-1] = a != NONE
        adjacency = self.dag_possible[None] & present[:, :, None] & present[:, None, :]
        ops = np.full(present.shape, -1, dtype=np.int64)
        ops[:, 1:-1] = np.where(a != NONE, a - 1, -1)
        return adjacency, ops


def _unique_str(arch: list[int]) -> str:
    """NAS-Bench-201's `CellStructure.to_unique_str(consider_zero=True)` of one cell.

    `none` and anything fed by a zero node ('#') become zero, `skip_connect` is the identity, and a
    node is the sorted sum of its inputs. A node whose inputs are all zero reads '#+#', not '#', so
    zeros do not propagate past node 1: that is the benchmark's convention, kept for its 6,466 count.
    """
    nodes = {0: "0"}
    for node in range(1, NUM_NODES):
        terms = []
        for e, (dst, src) in enumerate(EDGES):
            if dst != node:
                continue
            op = arch[e]
            if op == NONE or nodes[src] == "#":
                terms.append("#")
            elif op == SKIP:
                terms.append(nodes[src])
            else:
                terms.append(f"({nodes[src]})@{OPS[op]}")
        nodes[node] = "+".join(sorted(terms))
    return nodes[NUM_NODES - 1]
