"""What every predictor shares: the scikit-learn estimator shape and `predict -> (mean, std)`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin

from surrogate._io import torch_threads

#: smallest std a predictor reports, relative to the training targets' spread (BO needs std > 0).
STD_FLOOR = 1e-6


@contextmanager
def model_threads(n_points: int):
    """One torch thread for small models (GPs, the MLP ensemble on a few hundred points): their
    tensors are too small to gain from more, and on a busy machine thread hand-offs made a 150-point
    GP fit 10x slower (measured on 2 cores)."""
    with torch_threads(1 if n_points <= 2000 else torch.get_num_threads()):
        yield


class Predictor(RegressorMixin, BaseEstimator, ABC):
    """Base of the suite's predictors. Subclasses implement `fit(X, y)` and `predict_dist(X)`.

    `predict(X)` returns `(mean, std)` as float64 vectors — the protocol the benchmark and BO use.
    (scikit-learn's `score` still works: it takes the mean.)
    """

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = self.predict_dist(np.asarray(X, dtype=np.float64))
        floor = STD_FLOOR * max(getattr(self, "y_scale_", 1.0), 1e-12)
        return np.asarray(mean, dtype=np.float64), np.maximum(np.asarray(std, dtype=np.float64), floor)

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray) -> "Predictor":
        """Learn from encoded architectures X (n, d) and their values y (n,); returns self."""

    @abstractmethod
    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the prediction at each row of X."""

    def score(self, X: np.ndarray, y: np.ndarray, sample_weight=None) -> float:
        from sklearn.metrics import r2_score

        return r2_score(y, self.predict(X)[0], sample_weight=sample_weight)

    def _check_xy(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64).ravel()
        if X.ndim != 2 or len(X) != len(y) or len(y) < 2:
            raise ValueError(f"fit needs X (n, d) and y (n,) with n >= 2, got {X.shape} and {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or inf")
        self.y_scale_ = float(np.std(y)) or 1.0
        return X, y


class JointPosterior(ABC):
    """Ability mixin: the predictor has a BoTorch posterior with correlations across a q-batch
    (a GP), which q-point acquisitions use; others get independent normals."""

    @abstractmethod
    def posterior(self, X):
        """BoTorch posterior, joint over the last-but-one dim, at encoded architectures X."""
