"""Local search with restarts, White, Nolen & Savani 2020, "Local Search is State of the Art for
Neural Architecture Search Benchmarks" (naszilla's `local_search`)."""

from __future__ import annotations

import numpy as np

from surrogate.errors import UsageError
from surrogate.search.base import Strategy
from surrogate.spaces import Space


class LocalSearch(Strategy):
    """Hill climbing over one-decision neighbourhoods, restarted from random points at local optima.

    A run starts by evaluating `init` random architectures (default 10, as in the paper) and takes
    the best as its centre. The centre's neighbours (`space.neighbors`, in random order, one per
    isomorphism class, skipping classes already seen or pending) are asked one by one. With
    `first_improvement=False` (the paper's default, "query the full neighbourhood") the search
    moves to the best neighbour once every neighbour is told; with `first_improvement=True` it
    moves as soon as a told neighbour beats the centre. Neighbour values known from earlier
    (seen before this centre) count too. When no neighbour beats the centre, it is a local optimum
    and a new run starts from `init` fresh random architectures.

    Pending asks: when the neighbourhood (or the random start) is fully asked but not yet fully
    told, the search cannot decide where to go, so it asks random architectures meanwhile; during
    a start they join that start's pool. At one ask per tell this never happens. Architectures told
    without being asked (e.g. a runner's initial design) join the pool of a run that has no centre.
    Failed evaluations (NaN) count as worse than anything.
    """

    name = "ls"

    def __init__(self, space: Space | str, seed: int | None = None, init: int = 10, first_improvement: bool = False):
        super().__init__(space, seed)
        if init < 1:
            raise UsageError(f"init must be >= 1, got {init}")
        self.init, self.first_improvement = init, first_improvement
        self._told: dict[int, tuple[np.ndarray, float]] = {}  # canonical id -> (arch, value; NaN -> -inf)
        self._pool: set[int] = set()  # ids of the current run's random start, asked or told
        self._center: int | None = None  # id of the current centre
        self._queue: list[np.ndarray] = []  # neighbours of the centre not yet asked
        self._round: set[int] = set()  # ids of the centre's neighbours
        self.n_restarts = 0

    # --- state ----------------------------------------------------------------------------------
    def observe(self, arch: np.ndarray, value: float) -> None:
        key = self._key(arch)
        self._told[key] = (arch, value if np.isfinite(value) else -np.inf)
        if self._center is None:
            self._pool.add(key)

    def _value(self, key: int) -> float:
        return self._told[key][1]

    def _set_center(self, key: int) -> None:
        """Centre on told class `key`; queue one new neighbour per class, in random order."""
        arch = self._told[key][0]
        neighbors = self.space.neighbors(arch)
        neighbors = neighbors[self.rng.permutation(len(neighbors))]
        ids = self.space.canonical_ids(neighbors)
        _, first = np.unique(ids, return_index=True)
        first = np.sort(first)
        self._center = key
        self._round = {int(i) for i in ids[first]} - {key}
        self._queue = list(neighbors[first][ids[first] != key])

    def _restart(self) -> None:
        self._center, self._queue, self._round, self._pool = None, [], set(), set()
        self.n_restarts += 1

    def _advance(self) -> None:
        """Take the start's best as centre, move the centre, or restart, as far as told values allow."""
        while True:  # terminates: each move strictly improves the centre, a restart waits for asks
            pending = set(self._pending)
            if self._center is None:
                if len(self._pool) < self.init or self._pool & pending:
                    return
                self._set_center(max(self._pool, key=self._value))
                continue
            if self._queue:
                self._queue = [a for a, new in zip(self._queue, self.is_new(np.stack(self._queue))) if new]
            known = [k for k in self._round if k in self._told]
            best = max(known, key=self._value, default=None)
            improves = best is not None and self._value(best) > self._value(self._center)
            done = not self._queue and not self._round & pending
            if improves and (done or self.first_improvement):
                self._set_center(best)
            elif done:
                self._restart()
            else:
                return

    # --- asking ---------------------------------------------------------------------------------
    def propose(self) -> np.ndarray:
        self._advance()
        if self._queue:
            return self._queue.pop()
        arch = self.random_unseen(1)[0]  # starting a run, or waiting for pending neighbours
        if self._center is None:
            self._pool.add(self._key(arch))
        return arch
