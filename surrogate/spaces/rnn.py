"""The ENAS/DARTS recurrent cell (Liu et al., ICLR 2019): N nodes, each one activation of one earlier node."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from surrogate.errors import UsageError
from surrogate.spaces.base import CellSpace, Space

ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
DEFAULT_NODES = 8
MAX_NODES = 12


class RNNCellSpace(CellSpace, Space):
    """The DARTS recurrent cell with N intermediate nodes (`rnn-cell:N`, 8 by default as in DARTS).

    Node 0 combines x_t and h_{t-1} and has no op; node i (1..N) applies an activation to ONE earlier
    node, and the cell outputs the average of the leaves (nodes no other node reads). An architecture
    is therefore a rooted tree on nodes 0..N with an activation on every non-root node, written
    `tanh~0|relu~1|...` (`<act>~<input>` for nodes 1..N). Decisions alternate input, activation:
    (`node1_in`, `node1_op`, `node2_in`, ...). Every node has its own weights, so two cells compute the
    same function family exactly when their labelled rooted trees are isomorphic (children
    unordered); `identity` is still a real op, it has weights and a gate.
    """

    kind = "rnn-cell"
    ops = ACTIVATIONS

    def __init__(self, nodes: int = DEFAULT_NODES):
        if not 1 <= nodes <= MAX_NODES:
            raise UsageError(f"rnn-cell needs 1 to {MAX_NODES} nodes, got {nodes}")
        self.nodes = int(nodes)
        self.spec = f"rnn-cell:{self.nodes}"
        # decision 2(i-1): node i's input (one of nodes 0..i-1); decision 2(i-1)+1: its activation
        self.choices = tuple(choice for i in range(1, self.nodes + 1)
                             for choice in (tuple(str(j) for j in range(i)), ACTIVATIONS))

    @classmethod
    def from_spec(cls, argument: str) -> "RNNCellSpace":
        text = argument.strip()
        if not text:
            return cls()
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_NODES:
            raise UsageError(f"malformed rnn-cell spec {argument!r}: use rnn-cell:N with N nodes from 1 to {MAX_NODES} "
                             f"(rnn-cell alone is rnn-cell:{DEFAULT_NODES})")
        return cls(int(text))

    @property
    def decision_names(self) -> list[str]:
        """`node<i>_in`, `node<i>_op`: 'in' < 'op' and the zero-padded node numbers keep decision order."""
        width = len(str(self.nodes))
        return [f"node{i:0{width}d}_{part}" for i in range(1, self.nodes + 1) for part in ("in", "op")]

    # --- strings -------------------------------------------------------------------------------
    def format(self, arch: np.ndarray) -> str:
        a = self.check(arch)
        if a.ndim != 1:
            raise UsageError("format() takes one architecture (a vector)")
        return "|".join(f"{ACTIVATIONS[a[2 * k + 1]]}~{a[2 * k]}" for k in range(self.nodes))

    def parse(self, text: str) -> np.ndarray:
        def bad(why: str) -> UsageError:
            return UsageError(f"malformed {self.spec} arch string {text!r}: {why}")

        if not isinstance(text, str):
            raise bad("expected a string like tanh~0|relu~1|sigmoid~1")
        items = text.split("|")
        if len(items) != self.nodes:
            raise bad(f"expected {self.nodes} nodes '<act>~<input>' separated by '|', got {len(items)}")
        arch = []
        for node, item in enumerate(items, start=1):
            act, sep, given = item.partition("~")
            if not sep or act not in ACTIVATIONS:
                raise bad(f"node {node}: expected '<act>~<input>', act one of {', '.join(ACTIVATIONS)}; got {item!r}")
            if given not in self.choices[2 * node - 2]:  # exactly "0".."node-1": no signs, spaces or leading zeros
                raise bad(f"node {node} reads one of nodes 0..{node - 1}, got {given!r}")
            arch += [int(given), ACTIVATIONS.index(act)]
        return np.array(arch, dtype=np.int64)

    # --- isomorphism ---------------------------------------------------------------------------
    def canonicalize(self, archs: np.ndarray) -> np.ndarray:
        """The representative of each cell's tree class: nodes renumbered in preorder, children visited in
        the order of their subtrees' canonical (AHU) strings, so isomorphic trees get the same numbering."""
        a = self.check(archs)
        rows = np.atleast_2d(a)
        out = np.empty_like(rows)
        n = self.nodes
        for r, row in enumerate(rows.tolist()):
            preds, acts = row[0::2], row[1::2]
            kids: list[list[int]] = [[] for _ in range(n + 1)]
            key = [""] * (n + 1)
            for i in range(n, -1, -1):  # children have larger numbers than their parent: bottom-up
                kids[i].sort(key=key.__getitem__)
                key[i] = ("" if i == 0 else str(acts[i - 1])) + "(" + ",".join(key[c] for c in kids[i]) + ")"
                if i:
                    kids[preds[i - 1]].append(i)
            order, stack = [], [0]
            while stack:
                node = stack.pop()
                order.append(node)
                stack.extend(reversed(kids[node]))
            new = [0] * (n + 1)
            for rank, node in enumerate(order):
                new[node] = rank
            for rank, node in enumerate(order[1:]):
                out[r, 2 * rank] = new[preds[node - 1]]
                out[r, 2 * rank + 1] = acts[node - 1]
        return out.reshape(a.shape)

    # --- graph view, for the cell encodings ----------------------------------------------------
    @property
    def dag_ops(self) -> tuple[str, ...]:
        return ACTIVATIONS

    #: no op is dropped from paths: `identity` has weights and a gate like the others.
    dag_identity = ()

    @cached_property
    def dag_possible(self) -> np.ndarray:
        """(V, V) bool over V = N + 2 nodes: the input (0), cell nodes 1..N, the output (N + 1)."""
        v = self.nodes + 2
        possible = np.zeros((v, v), dtype=bool)
        possible[:-1, 1:-1] = np.triu(np.ones((v - 1, v - 2), dtype=bool))  # j -> i for j < i
        possible[1:-1, -1] = True  # any node may be a leaf
        possible.setflags(write=False)
        return possible

    def dag(self, archs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Adjacency (n, V, V): input -> node edges, and leaf -> output edges (the output averages the
        leaves); ops (n, V): each cell node's activation, -1 for the input and output."""
        a = np.atleast_2d(self.check(archs))
        n, v = len(a), self.nodes + 2
        preds, acts = a[:, 0::2], a[:, 1::2]
        rows = np.arange(n)[:, None]
        adjacency = np.zeros((n, v, v), dtype=bool)
        adjacency[rows, preds, np.arange(1, v - 1)[None, :]] = True
        used = np.zeros((n, v - 1), dtype=bool)
        used[rows, preds] = True
        adjacency[:, 1:-1, -1] = ~used[:, 1:]
        ops = np.full((n, v), -1, dtype=np.int64)
        ops[:, 1:-1] = acts
        return adjacency, ops
