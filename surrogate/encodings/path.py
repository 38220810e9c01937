"""BANANAS path encoding (White et al., 2021): how often each input-to-output op sequence occurs."""

from __future__ import annotations

from functools import cache
from typing import Iterator

import numpy as np

from surrogate.encodings.base import Encoding, require_cell
from surrogate.errors import UsageError
from surrogate.spaces import Space

#: architectures used to rank paths by frequency for `path-truncated:K` (enumerated when smaller).
_FREQUENCY_SAMPLE = 20_000
#: `path` keeps every op sequence up to this many (NB201: 40); beyond it (rnn-cell:8: 87,380) it
#: keeps the most frequent ones, at most this many, as BANANAS truncates large spaces.
MAX_PATHS = 4_096


class Path(Encoding):
    """Counts of op sequences along input->output routes of the node-op DAG.

    A route through an absent (`none`) node does not exist, and identity ops the space declares
    (`dag_identity`, e.g. NB201's `skip_connect`) add nothing to a sequence, so isomorphic cells —
    which differ only in dead, commuted or identity parts — get identical encodings. With `keep=K`, only the K paths most
    frequent over the space (uniform architectures; enumerated or a fixed-seed sample) are kept. Plain
    `path` keeps every sequence unless there are more than MAX_PATHS; then it keeps the most frequent
    ones that the sample contains, at most MAX_PATHS (rnn-cell:8: 1,470; unseen ones would be zero columns).
    """

    name = "path"

    def __init__(self, space: Space, keep: int | None = None):
        require_cell(space, self.name)
        super().__init__(space)
        possible = np.asarray(space.dag_possible, dtype=bool)
        self._possible = possible
        identity = set(space.dag_identity)
        real = [op for op in space.dag_ops if op not in identity]
        # maps a DAG op index to its index among the real (non-identity) ops, -1 for identities
        self._real_index = np.array([real.index(op) if op in real else -1 for op in space.dag_ops], dtype=np.int64)
        self._real, self._n_ops = real, len(real)
        lengths = _route_lengths(possible)  # op nodes on the shortest and longest route
        longest = lengths[1]
        shortest = 0 if (self._real_index < 0).any() else lengths[0]  # identity ops may leave a route no real op
        # vocabulary: every sequence of real ops of a length a route can have, grouped by length;
        # column `offset[length] + code`, the code reading the sequence as base-`n_ops` digits
        self._offset = np.zeros(longest + 2, dtype=np.int64)
        total = 0
        for length in range(longest + 1):
            self._offset[length] = total
            total += self._n_ops**length if length >= shortest else 0
        self._offset[-1] = total
        if keep is not None:
            if keep < 1:
                raise UsageError("path-truncated:K needs K >= 1")
            self._columns = self._most_frequent(total, keep)
        elif total > MAX_PATHS:
            self._columns = self._most_frequent(total, MAX_PATHS, unseen=False)
        else:
            self._columns = np.arange(total)
        self._sorted = np.argsort(self._columns)  # positions of the kept columns, by column
        self._by_column = self._columns[self._sorted]
        self.names = [self._path_name(int(c)) for c in self._columns]
        if keep is not None:
            self.name = f"path-truncated:{keep}"

    @classmethod
    def truncated(cls, space: Space, argument: str) -> "Path":
        """`path-truncated:K`: the K most frequent paths only."""
        try:
            keep = int(argument)
        except ValueError:
            raise UsageError(f"path-truncated needs a number of paths, e.g. path-truncated:20 (got {argument!r})") from None
        return cls(space, keep=keep)

    def _path_name(self, column: int) -> str:
        length = int(np.searchsorted(self._offset, column, side="right")) - 1
        code, seq = column - int(self._offset[length]), []
        for _ in range(length):
            code, digit = divmod(code, self._n_ops)
            seq.append(self._real[digit])
        return "~".join(reversed(seq)) or "identity"

    def _paths(self, archs: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(rows, columns): one pair per existing input->output route of each architecture.

        A depth-first walk over the possible edges carries only the rows whose route prefix exists,
        so the work follows the cells' actual routes, not every possible one.
        """
        adjacency, ops = self.space.dag(archs)
        end = self._possible.shape[0] - 1
        empty = np.zeros(len(archs), dtype=np.int64)
        stack = [(0, np.arange(len(archs)), empty, empty)]
        while stack:
            node, rows, code, length = stack.pop()
            for nxt in np.flatnonzero(self._possible[node]):
                on = adjacency[rows, node, nxt]
                if not on.any():
                    continue
                r, c, n = rows[on], code[on], length[on]
                if nxt == end:
                    yield r, self._offset[n] + c
                    continue
                real = self._real_index[ops[r, nxt]]  # absent nodes never occur on existing routes
                step = real >= 0
                stack.append((int(nxt), r, np.where(step, c * self._n_ops + real, c), n + step))

    def _most_frequent(self, total: int, keep: int, unseen: bool = True) -> np.ndarray:
        """The `keep` columns present in most architectures (ties by index), filled up with columns the
        sample never has (by index) when `unseen`."""
        space = self.space
        archs = space.enumerate() if space.size <= _FREQUENCY_SAMPLE else space.sample(_FREQUENCY_SAMPLE, 0)
        found = list(self._paths(archs))
        rows = np.concatenate([r for r, _ in found] + [np.zeros(0, np.int64)])
        columns = np.concatenate([c for _, c in found] + [np.zeros(0, np.int64)])
        present = np.unique(rows * total + columns) % total  # each (architecture, path) once
        seen, count = np.unique(present, return_counts=True)
        ranked = seen[np.lexsort((seen, -count))][:keep]
        if unseen and len(ranked) < keep:
            rest = np.setdiff1d(np.arange(min(total, keep + len(seen))), seen)
            ranked = np.concatenate([ranked, rest[: keep - len(ranked)]])
        return ranked

    def encode(self, archs: np.ndarray) -> np.ndarray:
        out = np.zeros((len(archs), len(self._columns)), dtype=np.float64)
        for rows, columns in self._paths(archs):
            at = np.minimum(np.searchsorted(self._by_column, columns), len(self._by_column) - 1)
            kept = self._by_column[at] == columns
            np.add.at(out, (rows[kept], self._sorted[at[kept]]), 1.0)
        return np.asfortranarray(out)  # the layout it always had: BLAS sums in layout order, so models fit the same bits


def _route_lengths(possible: np.ndarray) -> tuple[int, int]:
    """Fewest and most op nodes on an input->output route along edges that can exist."""
    end = len(possible) - 1

    @cache
    def between(node: int) -> tuple[float, float]:  # op nodes after `node` up to the output
        if node == end:
            return 0, 0
        spans = [between(int(nxt)) for nxt in np.flatnonzero(possible[node])]
        inner = 0 if node == 0 else 1
        return min((s[0] for s in spans), default=np.inf) + inner, max((s[1] for s in spans), default=-np.inf) + inner

    fewest, most = between(0)
    if most < 0:
        raise UsageError("the space's DAG of possible edges has no input->output route")
    return int(fewest), int(most)
