"""Random forest; its uncertainty is the spread of the trees."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from surrogate.models.base import Members, Predictor, out_of_bag


class RandomForest(Members, Predictor):
    def __init__(self, n_estimators: int = 200, max_features: float = 0.5, min_samples_leaf: int = 1,
                 targets: str = "copula", seed: int | None = None, n_jobs: int | None = None):
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.targets = targets
        self.seed = seed
        self.n_jobs = n_jobs

    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        self.forest_ = RandomForestRegressor(n_estimators=self.n_estimators, max_features=self.max_features,
                                             min_samples_leaf=self.min_samples_leaf, random_state=self.seed,
                                             n_jobs=self.n_jobs).fit(X, z)
        in_bag = np.zeros((self.n_estimators, len(z)), dtype=bool)
        for tree, rows in enumerate(self.forest_.estimators_samples_):
            in_bag[tree, rows] = True
        self.oob_ = out_of_bag(self._members(X), in_bag)

    def _members(self, X: np.ndarray) -> np.ndarray:
        return np.stack([tree.predict(X) for tree in self.forest_.estimators_])

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_tree = self._members(X)
        return per_tree.mean(axis=0), per_tree.std(axis=0)
