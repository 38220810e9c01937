"""Predictors by name: `gp`, `rf`, `svr`, `mlp`, `gbt`, `ensemble` (those five, stacked), and `cgp` (a GP
on choice indices, BO's model on plain categorical spaces). Each is a scikit-learn-style estimator whose
`predict(X)` returns `(mean, std)`; modules load on first use (the GP imports BoTorch)."""

from __future__ import annotations

from surrogate.models.base import JointPosterior, Predictor
from surrogate.registry import Registry

#: name -> Predictor subclass (hyperparameters as keyword arguments). New models register here.
MODELS: Registry[type[Predictor]] = Registry("model", {
    "gp": "surrogate.models.gp:GaussianProcess",
    "rf": "surrogate.models.rf:RandomForest",
    "svr": "surrogate.models.svr:SupportVectorRegression",
    "mlp": "surrogate.models.mlp:MLPEnsemble",
    "gbt": "surrogate.models.gbt:GradientBoostedTrees",
    "ensemble": "surrogate.models.ensemble:Ensemble",
    "cgp": "surrogate.models.categorical:CategoricalGP",
})


def get_model(name: str, **params) -> Predictor:
    """A fresh, unfitted predictor `name` with the given hyperparameters (`seed=` for determinism)."""
    return MODELS[name](**params)


__all__ = ["JointPosterior", "Predictor", "MODELS", "get_model"]
