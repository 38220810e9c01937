"""Gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor); the uncertainty is the
spread of an ensemble of boosted models, each fitted on a bootstrap sample with its own seed.

xgboost and lightgbm were not measured: neither is a dependency, and scikit-learn's histogram
boosting is the same algorithm family (LightGBM-style), so the choice stays dependency-free.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from surrogate.models.base import Predictor


class GradientBoostedTrees(Predictor):
    """`ensemble` boosted models on bootstrap resamples; mean and std over them.

    Defaults suit the small training sets of NAS (tens to hundreds of points): shallow trees,
    small leaves, shrinkage 0.05, half the features per split, no early stopping.
    """

    def __init__(self, ensemble: int = 8, max_iter: int = 200, learning_rate: float = 0.05, max_leaf_nodes: int = 8,
                 min_samples_leaf: int = 3, max_features: float = 0.5, l2_regularization: float = 0.0,
                 bootstrap: bool = True, seed: int | None = None):
        self.ensemble = ensemble
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.l2_regularization = l2_regularization
        self.bootstrap = bootstrap
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> "GradientBoostedTrees":
        from threadpoolctl import threadpool_limits

        X, y = self._check_xy(X, y)
        rng = np.random.default_rng(self.seed)
        self.models_ = []
        with threadpool_limits(1 if len(X) <= 5000 else None, user_api="openmp"):  # tiny fits lose to thread hand-offs
            for _ in range(self.ensemble):
                rows = rng.integers(0, len(X), len(X)) if self.bootstrap else np.arange(len(X))
                model = HistGradientBoostingRegressor(
                    max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
                    min_samples_leaf=min(self.min_samples_leaf, max(1, len(rows) // 4)),
                    max_features=self.max_features, l2_regularization=self.l2_regularization, early_stopping=False,
                    random_state=int(rng.integers(2**31 - 1)))
                self.models_.append(model.fit(X[rows], y[rows]))
        return self

    def members(self, X: np.ndarray) -> np.ndarray:
        """(members, n) predictions, for Thompson sampling."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1 if len(X) <= 5000 else None, user_api="openmp"):
            return np.stack([m.predict(X) for m in self.models_])

    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_member = self.members(X)
        return per_member.mean(axis=0), per_member.std(axis=0)
