"""Search strategies behind one ask/tell protocol (`Strategy`), by name.

`get_strategy("bo", space, seed=0, model="gp")` builds one; `STRATEGIES` lists the names the
campaign runner (`surrogate search`) accepts. Modules load lazily: BoTorch and Optuna are only
imported when their strategy is asked for.
"""

from __future__ import annotations

import importlib

from surrogate.errors import UsageError
from surrogate.search.base import RandomSearch, Strategy

#: name -> (module, class)
_REGISTRY: dict[str, tuple[str, str]] = {
    "bo": ("surrogate.search.bo", "BayesianOptimization"),
    "re": ("surrogate.search.evolution", "RegularizedEvolution"),
    "ls": ("surrogate.search.local", "LocalSearch"),
    "rs": ("surrogate.search.base", "RandomSearch"),
    "reinforce": ("surrogate.search.reinforce", "Reinforce"),
    "tpe": ("surrogate.search.tpe", "TPESearch"),
}
STRATEGIES = tuple(_REGISTRY)


def strategy_class(name: str) -> type[Strategy]:
    if name not in _REGISTRY:
        raise UsageError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})")
    module, cls = _REGISTRY[name]
    return getattr(importlib.import_module(module), cls)


def get_strategy(name: str, space, seed: int | None = None, **params) -> Strategy:
    """Build strategy `name` on `space`; `params` are its keyword hyperparameters."""
    return strategy_class(name)(space, seed=seed, **params)


__all__ = ["STRATEGIES", "RandomSearch", "Strategy", "get_strategy", "strategy_class"]
