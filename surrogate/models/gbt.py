"""Gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor); the uncertainty is the
spread of an ensemble of boosted models, each fitted on a bootstrap sample with its own seed, plus
what that spread leaves out of their out-of-bag residuals.

xgboost and lightgbm were not measured: neither is a dependency, and scikit-learn's histogram
boosting is the same algorithm family (LightGBM-style), so the choice stays dependency-free.
CatBoost's ordered boosting (`backend="catboost"`, the same ensemble and hyperparameters) was
measured against it on the same splits and was within noise or behind
(bench/results/predictors_robust.md), so it is no dependency; the backend stays for measurement.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from surrogate.models.base import Members, Predictor, out_of_bag, spread_noise


class GradientBoostedTrees(Members, Predictor):
    """`ensemble` boosted models on bootstrap resamples; their mean, and their spread plus the
    out-of-bag variance it leaves out (`calibrate`; the spread alone made 90 % intervals that held
    about 60 % of NB201's test cells) as the std.

    Defaults suit the small training sets of NAS (tens to hundreds of points): shallow trees,
    small leaves, shrinkage 0.05, half the features per split, no early stopping.
    """

    def __init__(self, ensemble: int = 8, max_iter: int = 200, learning_rate: float = 0.05, max_leaf_nodes: int = 8,
                 min_samples_leaf: int = 3, max_features: float = 0.5, l2_regularization: float = 0.0,
                 bootstrap: bool = True, calibrate: bool = True, backend: str = "sklearn", targets: str = "copula",
                 seed: int | None = None):
        self.ensemble = ensemble
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.l2_regularization = l2_regularization
        self.bootstrap = bootstrap
        self.calibrate = calibrate
        self.backend = backend
        self.targets = targets
        self.seed = seed

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from threadpoolctl import threadpool_limits

        rng = np.random.default_rng(self.seed)
        self.models_, in_bag = [], np.zeros((self.ensemble, len(X)), dtype=bool)
        with threadpool_limits(1 if len(X) <= 5000 else None, user_api="openmp"):  # tiny fits lose to thread hand-offs
            for _ in range(self.ensemble):
                rows = rng.integers(0, len(X), len(X)) if self.bootstrap else np.arange(len(X))
                in_bag[len(self.models_), rows] = True
                model = self._booster(len(rows), int(rng.integers(2**31 - 1)))
                self.models_.append(model.fit(X[rows], y[rows]))
        members = self._members(X)
        self.oob_ = out_of_bag(members, in_bag)
        self.noise_ = spread_noise(y, self.oob_, members) if self.calibrate else 0.0

    def _booster(self, n: int, seed: int):
        if self.backend == "sklearn":
            return HistGradientBoostingRegressor(
                max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=min(self.min_samples_leaf, max(1, n // 4)), max_features=self.max_features,
                l2_regularization=self.l2_regularization, early_stopping=False, random_state=seed)
        if self.backend == "catboost":  # measured only (bench/results/predictors_robust.md): not a dependency
            from catboost import CatBoostRegressor

            return CatBoostRegressor(
                iterations=self.max_iter, learning_rate=self.learning_rate,
                depth=max(1, int(round(np.log2(self.max_leaf_nodes)))), rsm=self.max_features,
                l2_leaf_reg=self.l2_regularization or 3.0, boosting_type="Ordered", random_seed=seed, thread_count=1,
                verbose=False, allow_writing_files=False)
        raise ValueError(f"unknown gbt backend {self.backend!r} (sklearn, catboost)")

    def _members(self, X: np.ndarray) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1 if len(X) <= 5000 else None, user_api="openmp"):
            return np.stack([m.predict(X) for m in self.models_])

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_member = self._members(X)
        return per_member.mean(axis=0), np.sqrt(per_member.var(axis=0) + self.noise_)
