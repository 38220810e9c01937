"""Predictors by name: `gp`, `rf`, `svr`, `mlp`. Each is a scikit-learn estimator whose
`predict(X)` returns `(mean, std)`."""

from __future__ import annotations

from surrogate.errors import UsageError
from surrogate.models.base import Predictor
from surrogate.models.gp import GaussianProcess
from surrogate.models.mlp import MLPEnsemble
from surrogate.models.rf import RandomForest
from surrogate.models.svr import SupportVectorRegression

MODELS: dict[str, type[Predictor]] = {
    "gp": GaussianProcess,
    "rf": RandomForest,
    "svr": SupportVectorRegression,
    "mlp": MLPEnsemble,
}


def get(name: str, **params) -> Predictor:
    """A fresh, unfitted predictor `name` with the given hyperparameters."""
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    return MODELS[name](**params)


__all__ = ["Predictor", "MODELS", "get", "GaussianProcess", "RandomForest", "SupportVectorRegression", "MLPEnsemble"]
