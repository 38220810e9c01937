"""The surrogate flow of the original NAS-with-predictors papers as a strategy: train some at
random, fit a predictor once, rank a random pool by it, train the best-ranked in order.

`--init 100 --budget 110 --validate-top 10` is "train 100, the GP predicts 1,000, fully train the
top 10". Unlike BO it never refits: it measures what one predictor, fitted once, is worth.
"""

from __future__ import annotations

import numpy as np

from surrogate.encodings import get_encoding
from surrogate.errors import UsageError
from surrogate.models import get_model
from surrogate.search.base import Strategy
from surrogate.spaces import CellSpace, Space


class PredictTop(Strategy):
    """`init` random asks; then `model` on `encoding`, fitted on what was told, scores `pool_size`
    random unseen classes, and the rest of the budget asks them best first."""

    name = "predict-top"

    def __init__(self, space: Space | str, seed: int | None = None, init: int = 10, pool_size: int = 1000,
                 model: str = "gp", encoding: str | None = None):
        super().__init__(space, seed)
        if init < 2 or pool_size < 1:
            raise UsageError(f"predict-top needs init >= 2 and pool-size >= 1, got {init} and {pool_size}")
        self.init, self.pool_size = init, pool_size
        self.encoding = get_encoding(encoding or ("path" if isinstance(self.space, CellSpace) else "onehot"), self.space)
        self.predictor = get_model(model, seed=seed)
        self.ranked: np.ndarray | None = None  # the pool, best predicted first (after the fit)

    def propose(self) -> np.ndarray:
        if self.ranked is None and (self.n_observed < self.init or self._pending):
            return self.random_unseen(1)[0]  # the random design (asked at once by parallel workers too)
        if self.ranked is None:
            self.ranked = self._rank()
        new = self.is_new(self.ranked) if len(self.ranked) else np.zeros(0, bool)
        if not new.any():
            return self.random_unseen(1)[0]  # the pool is spent: keep going at random
        return self.ranked[np.argmax(new)]

    def _rank(self) -> np.ndarray:
        values = np.array(self.values, dtype=np.float64)
        ok = np.isfinite(values)
        pool = self.random_unseen(self.pool_size)
        if ok.sum() < 2 or np.ptp(values[ok]) == 0:
            return pool  # nothing to learn from: the pool in random order
        self.predictor.fit(self.encoding(np.stack(self.archs)[ok]), values[ok])
        mean, _ = self.predictor.predict(self.encoding(pool))
        return pool[np.argsort(-mean, kind="stable")]
