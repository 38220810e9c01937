"""Weight-sharing strategies (ENAS, DARTS) behind the ask/tell protocol, so they run in the same
campaign, against the same oracle, as every other strategy.

A run's first ask trains its own supernet live on a dataset (`SupernetConfig`, seeded by the run's
seed) and returns the derived architecture; later asks go down the method's own ranking of the
candidates it may ask (DARTS: the architecture weights' log-probability, whose argmax is the
derived cell; ENAS: its final controller's samples ranked by their supernet estimate, then random
new classes). Like every strategy, it stays inside the domain it is given: on a table holding only
part of its space it asks the best-ranked architecture the table holds. `--budget 1` is the
classic one-pick comparison.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from surrogate._io import default_threads, torch_threads
from surrogate.errors import UsageError
from surrogate.search.base import Strategy
from surrogate.spaces import ENUMERATE_LIMIT, Space
from surrogate.tabular import Table


def supernet_settings(table: Table | None, dataset: str | None, epochs: int, channels: int | None,
                      cells: int | None, batch_size: int | None, device: str, data_dir: str | None = None,
                      beta: float = 0.0) -> dict:
    """The supernet settings of enas/darts runs: the table's network, batch size and protocol where
    it records them (a table from `surrogate generate`), so the supernet shares the records'
    network; its dataset when none is given."""
    from surrogate.train.data import DATASETS

    recorded = (table.attrs.get("training_config") if table is not None else None) or {}
    if dataset is None and table is not None and table.attrs.get("dataset") in DATASETS:
        dataset = table.attrs["dataset"]
    if not dataset:
        where = f"; the table records {table.attrs.get('dataset')!r}" if table is not None else ""
        raise UsageError(f"enas/darts train a supernet live: pass --dataset ({', '.join(DATASETS)}){where}")
    return {"dataset": dataset, "epochs": epochs, "channels": channels or int(recorded.get("channels", 16)),
            "cells": cells or int(recorded.get("cells", 5)), "batch_size": batch_size or int(recorded.get("batch_size", 256)),
            "device": device, "subset": recorded.get("subset"), "resolution": recorded.get("resolution"),
            "data_dir": data_dir, "beta": beta}


@lru_cache(maxsize=4)
def _dataset(dataset: str, data_dir: str | None, subset: int | None, resolution: int | None):
    from surrogate.train.data import load

    return load(dataset, data_dir, subset, resolution)


class WeightSharing(Strategy):
    """A supernet-trained strategy (subclasses: `search` and `rank`). Its settings are those of
    `supernet_settings`; a missing dataset or device fails when it is built, before any run."""

    def __init__(self, space: Space | str, seed: int | None = None, dataset: str | None = None, epochs: int = 50,
                 channels: int = 16, cells: int = 5, batch_size: int = 256, device: str = "cpu",
                 subset: int | None = None, resolution: int | None = None, data_dir: str | None = None):
        from surrogate.supernet.spos import SupernetConfig
        from surrogate.train.trainer import resolve_device

        super().__init__(space, seed)
        if dataset is None:
            raise UsageError(f"{self.name} trains a supernet live: it needs a dataset")
        resolve_device(device)
        self.config = SupernetConfig(space=self.space.spec, dataset=dataset, epochs=epochs, channels=channels,
                                     cells=cells, batch_size=batch_size, seed=seed or 0, device=device,
                                     subset=subset, resolution=resolution)
        self.data = _dataset(dataset, data_dir, subset, resolution)  # a missing dataset fails now
        self.ranking: np.ndarray | None = None

    def propose(self) -> np.ndarray:
        if self.ranking is None:
            with torch_threads(default_threads(1)):
                self.ranking = self.search()
        fresh = self.ranking[self.is_new(self.ranking)] if len(self.ranking) else self.ranking
        return fresh[0] if len(fresh) else self.random_unseen(1)[0]

    def search(self) -> np.ndarray:
        """Train the supernet; the candidates in the order the method prefers them (the derived
        architecture first)."""
        raise NotImplementedError

    def candidates(self) -> np.ndarray | None:
        """One architecture per class the run may ask (None: too many to enumerate)."""
        if self._domain is not None:
            return self._domain
        if self.space.size > ENUMERATE_LIMIT:
            return None
        return self.unseen_classes()


class DARTS(WeightSharing):
    """First-order DARTS (`supernet.darts`); `beta` > 0 adds beta-DARTS' regularisation."""

    name = "darts"

    def __init__(self, space: Space | str, seed: int | None = None, beta: float = 0.0, **settings):
        super().__init__(space, seed, **settings)
        if not beta >= 0:
            raise UsageError(f"--darts-beta must be >= 0 (0 is plain DARTS), got {beta}")
        self.beta = beta

    def search(self) -> np.ndarray:
        from surrogate.supernet.darts import darts_search

        result = darts_search(self.config, self.data, beta=self.beta, progress=False)
        candidates = self.candidates()
        if candidates is None:
            return result["arch"][None]
        log_alpha = [np.log(np.asarray(a)) for a in result["alphas"]]
        score = sum(log_alpha[i][candidates[:, i]] for i in range(self.space.num_decisions))
        return candidates[np.argsort(-score, kind="stable")]


class ENAS(WeightSharing):
    """ENAS (`supernet.enas`): its final controller's samples, best supernet estimate first."""

    name = "enas"

    def search(self) -> np.ndarray:
        from surrogate.supernet.enas import enas_search

        return enas_search(self.config, self.data, progress=False)["ranking"]
