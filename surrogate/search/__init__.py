"""Search: strategies behind one ask/tell protocol, and the campaign that runs them.

The map, top down (`surrogate search` follows it):

    request.py   SearchRequest: what the command line asks, validated once; run_search(request)
    campaign.py  Campaign: strategies x seeds on one Oracle for one Problem, checkpointed per run
    oracle.py    Oracle: a table (lookup) or live training; one rule for isomorphs
    problem.py   Problem (objectives with directions, constraints), Truth (a table's answer)
    report.py    regret when m = 1, hypervolume and fronts when m > 1: one JSON shape, run.json
    base.py ...  the strategies (this registry), fidelity.py (partial trainings: sh, hyperband, asha,
                 median, bohb, asha-bo, tpe-hb), distributed.py (workers on an Optuna storage),
                 sampler.py (the strategies as an Optuna sampler), pareto.py (dominance, hypervolume)
    pbt.py       population-based training of training hyperparameters (`surrogate pbt`)

`get_strategy("bo", space, seed=0, model="gp")` builds one; `STRATEGIES` is the one registry of
names. A name stands for a `Family`: the class that serves one unconstrained objective (told one
number per query) and the class that serves several objectives or constraints (told outcome
vectors, `multiobjective.MultiObjectiveStrategy`). A strategy that cannot serve a problem refuses
it with one line. Modules load lazily: BoTorch and Optuna are imported when a strategy needs them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from surrogate.errors import UsageError
from surrogate.registry import Registry
from surrogate.search.base import RandomSearch, Strategy


@dataclass(frozen=True)
class Family:
    """The classes behind one strategy name: `plain` serves one objective without constraints,
    `general` several objectives or constraints (None: not served). A plain problem takes `plain`
    when there is one, else `general`. Entries are classes, factories or lazy "module:attr" paths."""

    plain: Any = None
    general: Any = None

    def serves(self, problem: Any) -> bool:
        return (problem is None or problem.plain) and self.plain is not None or self.general is not None

    def __call__(self, space, seed: int | None = None, problem: Any = None, **params) -> Strategy:
        """The member serving `problem` (None: one objective, maximised), built on `space`."""
        if problem is not None and not problem.plain and self.general is None:
            kind = "several objectives" if problem.m > 1 else "constraints"
            can = ", ".join(n for n in STRATEGIES if family(n).general is not None)
            raise UsageError(f"strategy {_load(self.plain).name!r} serves one objective without constraints, not "
                             f"{kind} (strategies that can: {can})")
        if (problem is None or problem.plain) and self.plain is not None:
            return _load(self.plain)(space, seed=seed, **params)
        return _load(self.general)(space, seed=seed, problem=problem, **params)

    def members(self) -> tuple:
        """The loaded classes (or factories), None where the family has no such member."""
        return tuple(None if m is None else _load(m) for m in (self.plain, self.general))


def _load(entry: Any) -> Any:
    if isinstance(entry, str):
        module, _, attribute = entry.partition(":")
        return getattr(importlib.import_module(module), attribute)
    return entry


_MO = "surrogate.search.multiobjective"
_WS = "surrogate.search.weight_sharing"
_MF = "surrogate.search.fidelity"

#: name -> Family (or a plain Strategy class / "module:attr", registered by users).
STRATEGIES: Registry[Family] = Registry("strategy", {
    "bo": Family("surrogate.search.bo:BayesianOptimization", f"{_MO}:make_bo"),
    "re": Family("surrogate.search.evolution:RegularizedEvolution", f"{_MO}:MORegularizedEvolution"),
    "ls": Family("surrogate.search.local:LocalSearch"),
    "rs": Family(RandomSearch, f"{_MO}:MORandomSearch"),
    "reinforce": Family("surrogate.search.reinforce:Reinforce"),
    "tpe": Family("surrogate.search.tpe:TPESearch"),
    "predict-top": Family("surrogate.search.predict_top:PredictTop"),
    "nsga2": Family(general=f"{_MO}:NSGA2Search"),
    "enas": Family(f"{_WS}:ENAS"),
    "darts": Family(f"{_WS}:DARTS"),
    "sh": Family(f"{_MF}:SuccessiveHalving"),
    "hyperband": Family(f"{_MF}:Hyperband"),
    "asha": Family(f"{_MF}:ASHA"),
    "median": Family(f"{_MF}:MedianStopping"),
    "bohb": Family(f"{_MF}:bohb"),
    "asha-bo": Family(f"{_MF}:asha_bo"),
    "tpe-hb": Family(f"{_MF}:tpe_hyperband"),
})

#: the strategies that train a supernet live (`weight_sharing`), never as distributed workers.
WEIGHT_SHARING = ("enas", "darts")
#: the strategies that train architectures partially (`--fidelity epochs`).
MULTI_FIDELITY = ("sh", "hyperband", "asha", "median", "bohb", "asha-bo", "tpe-hb")
#: the learning-curve rule ranking their partial trainings unless one is named (`fidelity.MultiFidelity`;
#: tpe-hb ranks by value, Optuna's pruner).
RANK_BY = "value"
#: what a campaign runs when no strategies are named, by the kind of problem.
DEFAULT_STRATEGIES = {"plain": ("bo", "re", "ls", "rs", "reinforce", "tpe"), "general": ("bo", "nsga2", "re", "rs"),
                      "fidelity": ("asha-bo", "bohb", "asha", "hyperband", "tpe-hb", "rs", "bo")}


def family(name: str) -> Family:
    """The Family registered as `name` (a bare class or path registered by a user is a plain one)."""
    entry = STRATEGIES[name]
    return entry if isinstance(entry, Family) else Family(entry)


def default_strategies(problem: Any, fidelity: bool = False) -> list[str]:
    """What runs when no strategy is named: by the kind of problem, and with partial trainings
    (`--fidelity`) the multi-fidelity strategies, then whole-training rs and bo under the same clock."""
    if fidelity:
        return list(DEFAULT_STRATEGIES["fidelity"])
    return list(DEFAULT_STRATEGIES["plain" if problem is None or problem.plain else "general"])


def get_strategy(name: str, space, seed: int | None = None, problem: Any = None, **params) -> Strategy:
    """Build strategy `name` on `space` for `problem` (None: one objective, maximised);
    `params` are its keyword hyperparameters."""
    return family(name)(space, seed=seed, problem=problem, **params)


__all__ = ["DEFAULT_STRATEGIES", "MULTI_FIDELITY", "RANK_BY", "WEIGHT_SHARING", "Family", "STRATEGIES", "RandomSearch", "Strategy",
           "default_strategies", "family",
           "get_strategy"]
