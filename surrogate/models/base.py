"""What every predictor shares: the scikit-learn estimator shape, `predict -> (mean, std)`, and the
`targets` a model is fitted on (the one place that warps training values and maps predictions back)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin

from surrogate._io import torch_threads
from surrogate.models.warp import Warp, check_targets

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
    """Base of the suite's predictors. Subclasses take `targets` as a constructor argument and
    implement `_fit(X, z)` and `_predict(X) -> (mean, std)` in the units of `z`.

    `fit(X, y)` fits the model on `z = Warp(y, targets)(y)`: `targets="copula"` (the default) maps the
    ranks of y to normal quantiles, so one diverged network (10 % among 60-90 %) is just the lowest
    rank and moves the others' fit no more than any other lowest value would; `"raw"` fits y itself
    (for a caller that warps its values already: bo does). `predict(X)` returns `(mean, std)` in y's
    units as float64 vectors, the protocol the benchmark and BO use: the mean is the model's mean
    through the inverse warp (the median of the back-transformed normal, since the warp is
    monotone), and the std is half the width the inverse warp gives mean ± std,
    `(W⁻¹(m + s) - W⁻¹(m - s)) / 2`: the ±1 std interval maps exactly, so intervals and ranks keep
    their meaning, and where the observed values are sparse (a long lower tail) the std widens.
    (scikit-learn's `score` still works: it takes the mean.)
    """

    def fit(self, X: np.ndarray, y: np.ndarray) -> "Predictor":
        """Learn from encoded architectures X (n, d) and their values y (n,); returns self."""
        X, y = self._check_xy(X, y)
        warp = check_targets(self.targets) != "raw" and np.ptp(y) > 0  # a constant y has no ranks to warp
        self.warp_ = Warp(y, self.targets) if warp else None
        self._fit(X, self.warp_(y) if warp else y)
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = (np.asarray(a, dtype=np.float64) for a in self._predict(np.asarray(X, dtype=np.float64)))
        if self.warp_ is not None:
            low, high = self.warp_.inverse(mean - std), self.warp_.inverse(mean + std)
            mean, std = self.warp_.inverse(mean), (high - low) / 2
        floor = STD_FLOOR * max(getattr(self, "y_scale_", 1.0), 1e-12)
        return mean, np.maximum(std, floor)

    @abstractmethod
    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        """Learn from encoded architectures X (n, d) and their targets z (n,), already warped."""

    @abstractmethod
    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std at each row of X, in the units of the targets `_fit` saw."""

    def check_inputs(self, X: np.ndarray, source: str = "the inputs") -> None:
        """UsageError when this model cannot read X (`source` names where X comes from); every
        float matrix suits the default. Callers check before any work."""

    def out_of_sample(self, X: np.ndarray, z: np.ndarray, folds: int = 5) -> np.ndarray:
        """(n,) predictions of the targets `z` this fitted model saw at X (model units), each by a
        model that did not see it: the ensemble weighs its members by them. Here `folds`-fold
        cross-validation with refitted clones; bagged models answer with their out-of-bag
        predictions (`oob_`, NaN where a point was in every bag) at no cost."""
        if hasattr(self, "oob_"):
            return self.oob_
        from sklearn.base import clone

        out = np.full(len(z), np.nan)
        for fold in np.array_split(np.random.default_rng(self.seed).permutation(len(z)), folds):
            keep = np.setdiff1d(np.arange(len(z)), fold)
            model = clone(self).set_params(targets="raw")
            model._cv_start(self)
            out[fold] = model.fit(X[keep], z[keep])._predict(X[fold])[0]
        return out

    def _cv_start(self, full: "Predictor") -> None:
        """Hook: a cross-validation clone may start from the fitted `full` model (the GP's hyperparameters)."""

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


class Members(ABC):
    """Ability mixin: the predictor is an ensemble whose members' predictions can be read one by
    one (`members(X)`, in y's units), e.g. for Thompson sampling."""

    def members(self, X: np.ndarray) -> np.ndarray:
        """(members, n) predictions, each through the inverse warp."""
        z = self._members(np.asarray(X, dtype=np.float64))
        return z if self.warp_ is None else self.warp_.inverse(z)

    @abstractmethod
    def _members(self, X: np.ndarray) -> np.ndarray:
        """(members, n) predictions in the units of the targets `_fit` saw."""


def out_of_bag(predictions: np.ndarray, in_bag: np.ndarray) -> np.ndarray:
    """(n,) mean prediction at each training point of the members that did not see it (NaN where
    every member did); `predictions` and `in_bag`: (members, n)."""
    out = ~in_bag
    count = out.sum(axis=0)
    return np.where(count > 0, (predictions * out).sum(axis=0) / np.maximum(count, 1), np.nan)


def spread_noise(z: np.ndarray, oob: np.ndarray, predictions: np.ndarray) -> float:
    """What an ensemble's spread leaves out, as a variance to add to it: the mean squared
    out-of-bag residual of the training targets `z` less the members' mean variance
    (`predictions`: (members, n) at the training points); 0 when negative or nothing is out of bag."""
    seen = np.isfinite(oob)
    if not seen.any():
        return 0.0
    return max(float(np.mean((z[seen] - oob[seen]) ** 2) - np.mean(predictions.var(axis=0))), 0.0)


def standardise(z: np.ndarray) -> tuple[float, float]:
    """Mean and std (1 when constant) of targets, for models that fit standardised values."""
    return float(np.mean(z)), float(np.std(z)) or 1.0


class JointPosterior(ABC):
    """Ability mixin: the predictor has a BoTorch posterior with correlations across a q-batch
    (a GP), which q-point acquisitions use; others get independent normals."""

    @abstractmethod
    def posterior(self, X):
        """BoTorch posterior, joint over the last-but-one dim, at encoded architectures X."""
