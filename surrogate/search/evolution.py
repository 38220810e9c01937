"""Regularized (aging) evolution, Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search" — the strongest simple baseline on tabular NAS benchmarks."""

from __future__ import annotations

from collections import deque

import numpy as np

from surrogate.errors import UsageError
from surrogate.search.base import Strategy
from surrogate.spaces import Space


class RegularizedEvolution(Strategy):
    """Tournament selection + one-decision mutation; the oldest member dies, not the worst.

    The first `init` architectures (default: `population`) are random. After that each ask draws
    `sample_size` distinct members uniformly (a tournament, as naszilla does), mutates the best one
    in one decision and asks the child; a child whose isomorphism class is already seen or pending
    is mutated again from the same parent up to `retries` times, then a random new architecture is
    asked instead. Told architectures join the population in the order they are told (so pending
    children only count once told, which makes batch and asynchronous use safe); beyond
    `population` members the oldest is removed. Failed evaluations (NaN) never join.

    Defaults (population 30, tournament 10, `init` = population) follow NASLib/naszilla's
    settings for budgets of a few hundred queries. A smaller `init` starts evolving earlier from
    a population that then grows to `population` before aging starts (naszilla's `num_init`).
    """

    name = "re"

    def __init__(self, space: Space | str, seed: int | None = None, population: int = 30, sample_size: int = 10,
                 init: int | None = None, retries: int = 10):
        super().__init__(space, seed)
        if population < 1 or sample_size < 1 or retries < 0:
            raise UsageError("population and sample_size must be >= 1, retries >= 0")
        if init is not None and not 1 <= init <= population:
            raise UsageError(f"init must lie in 1..population ({population}), got {init}")
        self.population, self.sample_size, self.init, self.retries = population, sample_size, init, retries
        self.members: deque[tuple[np.ndarray, float]] = deque(maxlen=population)

    @property
    def n_init(self) -> int:
        return self.population if self.init is None else self.init

    def observe(self, arch: np.ndarray, value: float) -> None:
        if np.isfinite(value):
            self.members.append((arch, value))  # a full deque drops its oldest member

    def propose(self) -> np.ndarray:
        # pending asks will join the population when told, so they count towards the random start
        if not self.members or len(self.members) + len(self._pending) < self.n_init:
            return self.random_unseen(1)[0]
        parent = self.tournament()
        for _ in range(self.retries + 1):
            child = self.space.mutate(parent, self.rng)
            if self.is_new(child)[0]:
                return child
        return self.random_unseen(1)[0]

    def tournament(self) -> np.ndarray:
        """The best of `sample_size` members drawn without replacement."""
        size = min(self.sample_size, len(self.members))
        picked = self.rng.choice(len(self.members), size=size, replace=False)
        best = max(picked, key=lambda i: self.members[i][1])
        return self.members[best][0]
