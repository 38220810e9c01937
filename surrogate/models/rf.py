"""Random forest; its uncertainty is the spread of the trees."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from surrogate.models.base import Predictor


class RandomForest(Predictor):
    def __init__(self, n_estimators: int = 200, max_features: float = 0.5, min_samples_leaf: int = 1,
                 seed: int | None = None, n_jobs: int | None = None):
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed
        self.n_jobs = n_jobs

    def fit(self, X: np.ndarray, y: np.ndarray) -> "RandomForest":
        X, y = self._check_xy(X, y)
        self.forest_ = RandomForestRegressor(n_estimators=self.n_estimators, max_features=self.max_features,
                                             min_samples_leaf=self.min_samples_leaf, random_state=self.seed,
                                             n_jobs=self.n_jobs).fit(X, y)
        return self

    def members(self, X: np.ndarray) -> np.ndarray:
        """(trees, n) predictions, for Thompson sampling."""
        return np.stack([tree.predict(X) for tree in self.forest_.estimators_])

    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_tree = self.members(X)
        return per_tree.mean(axis=0), per_tree.std(axis=0)
