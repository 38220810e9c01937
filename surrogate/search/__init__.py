"""Search strategies behind one ask/tell protocol (`Strategy`), by name.

`get_strategy("bo", space, seed=0, model="gp")` builds one; `STRATEGIES` is the registry of names
the campaign runner (`surrogate search`) accepts. Modules load lazily: BoTorch and Optuna are only
imported when their strategy is asked for.
"""

from __future__ import annotations

from surrogate.registry import Registry
from surrogate.search.base import RandomSearch, Strategy

#: name -> Strategy subclass, constructed as `cls(space, seed=..., **hyperparameters)`.
STRATEGIES: Registry[type[Strategy]] = Registry("strategy", {
    "bo": "surrogate.search.bo:BayesianOptimization",
    "re": "surrogate.search.evolution:RegularizedEvolution",
    "ls": "surrogate.search.local:LocalSearch",
    "rs": RandomSearch,
    "reinforce": "surrogate.search.reinforce:Reinforce",
    "tpe": "surrogate.search.tpe:TPESearch",
    "predict-top": "surrogate.search.predict_top:PredictTop",
})


def get_strategy(name: str, space, seed: int | None = None, **params) -> Strategy:
    """Build strategy `name` on `space`; `params` are its keyword hyperparameters."""
    return STRATEGIES[name](space, seed=seed, **params)


__all__ = ["STRATEGIES", "RandomSearch", "Strategy", "get_strategy"]
