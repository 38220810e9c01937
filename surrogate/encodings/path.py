"""BANANAS path encoding (White et al., 2021): how often each input-to-output op sequence occurs."""

from __future__ import annotations

from itertools import product

import numpy as np

from surrogate.encodings.base import Encoding, require_cell
from surrogate.errors import UsageError
from surrogate.spaces import Space

#: architectures used to rank paths by frequency for `path-truncated:K` (enumerated when smaller).
_FREQUENCY_SAMPLE = 20_000


class Path(Encoding):
    """Counts of op sequences along input->output routes of the node-op DAG.

    A route through an absent (`none`) node does not exist, and identity ops the space declares
    (`dag_identity`, e.g. NB201's `skip_connect`) add nothing to a sequence, so isomorphic cells —
    which differ only in dead, commuted or identity parts — get identical encodings. With `keep=K`, only the K paths most
    frequent over the space (uniform architectures; enumerated or a fixed-seed sample) are kept.
    """

    name = "path"

    def __init__(self, space: Space, keep: int | None = None):
        require_cell(space, self.name)
        super().__init__(space)
        possible = space.dag_possible
        v = possible.shape[0]
        self._routes = [r for r in _routes(possible, 0, v - 1)]
        identity = set(space.dag_identity)
        real = [op for op in space.dag_ops if op not in identity]
        # maps a DAG op index to its index among the real (non-identity) ops, -1 for identities
        self._real_index = np.array([real.index(op) if op in real else -1 for op in space.dag_ops], dtype=np.int64)
        self._n_ops = len(real)
        longest = max(len(r) - 2 for r in self._routes)
        # vocabulary: every sequence of real ops up to the longest route, grouped by length
        self._offset = np.zeros(longest + 2, dtype=np.int64)
        names: list[str] = []
        for length in range(longest + 1):
            self._offset[length] = len(names)
            names += ["~".join(seq) or "identity" for seq in product(real, repeat=length)]
        self._offset[-1] = len(names)
        self._columns = np.arange(len(names))
        if keep is not None:
            if keep < 1:
                raise UsageError("path-truncated:K needs K >= 1")
            self._columns = self._most_frequent(len(names))[:keep]
        self.names = [names[c] for c in self._columns]
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

    def _counts(self, archs: np.ndarray) -> np.ndarray:
        adjacency, ops = self.space.dag(archs)
        out = np.zeros((len(archs), self._offset[-1]), dtype=np.float64)
        rows = np.arange(len(archs))
        for route in self._routes:
            exists = np.all(adjacency[:, route[:-1], route[1:]], axis=1)
            real = self._real_index[ops[exists][:, route[1:-1]]]  # absent nodes never occur on existing routes
            code = np.zeros(len(real), dtype=np.int64)
            length = np.zeros(len(real), dtype=np.int64)
            for j in range(real.shape[1]):
                step = real[:, j] >= 0
                code = np.where(step, code * self._n_ops + real[:, j], code)
                length += step
            np.add.at(out, (rows[exists], self._offset[length] + code), 1.0)
        return out

    def _most_frequent(self, n_paths: int) -> np.ndarray:
        space = self.space
        archs = space.enumerate() if space.size <= _FREQUENCY_SAMPLE else space.sample(_FREQUENCY_SAMPLE, 0)
        frequency = (self._counts(archs) > 0).mean(axis=0)
        return np.lexsort((np.arange(n_paths), -frequency))  # most frequent first, ties by index

    def encode(self, archs: np.ndarray) -> np.ndarray:
        return self._counts(archs)[:, self._columns]


def _routes(possible: np.ndarray, start: int, end: int) -> list[list[int]]:
    """All node sequences start -> end along edges that can exist."""
    if start == end:
        return [[end]]
    return [[start] + rest for nxt in np.flatnonzero(possible[start]) for rest in _routes(possible, int(nxt), end)]
