"""bo's variants on tables, for choosing its defaults (issue 22): each variant runs through
`Campaign.run_one` on a `TableOracle` (the path `surrogate search` takes, with the table's default
feature columns: its zero-cost proxies when it has them), init 10, seeds 0..S-1; one JSON line per
(table, variant) with the runs that found the optimum, the median queries to it (a miss counts
budget + 1), mean regret at 50 and 100.

    python bench/bo_variants.py TABLE VARIANT[,VARIANT...] SEEDS [OBJECTIVE[,OBJECTIVE...]] [BUDGET]

TABLE: a file or a shipped name; OBJECTIVE: `acc:max` unless given (e.g. `valid_bpc:min`); BUDGET 150.
Several objectives (`acc:max,params:min`) run MO_VARIANTS and print hypervolume ratios instead.
Results in bench/results/out_of_the_box.md.
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial

import numpy as np

from surrogate.catalog import resolve
from surrogate.features import ClassFeatures, default_features
from surrogate.search import STRATEGIES, Family
from surrogate.search.bo import BayesianOptimization
from surrogate.search.campaign import Campaign
from surrogate.search.oracle import TableOracle
from surrogate.tabular import Table

#: name -> BayesianOptimization keyword arguments (orders above d mean d: the product term).
VARIANTS = {
    "cgp-12-ts3": {"model_params": {"orders": (1, 2), "counts": False, "ordinal": False}, "ts_every": 3},
    "cgp-12": {"model_params": {"orders": (1, 2), "counts": False, "ordinal": False}, "ts_every": 0},
    "cgp-12d-ts3": {"model_params": {"orders": (1, 2, 99), "counts": False, "ordinal": False}, "ts_every": 3},
    "cgp-12d": {"model_params": {"orders": (1, 2, 99), "counts": False, "ordinal": False}, "ts_every": 0},
    "cgp-12d-ts3-counts": {"model_params": {"orders": (1, 2, 99), "counts": True, "ordinal": False}, "ts_every": 3},
    "cgp-12d-counts": {"model_params": {"orders": (1, 2, 99), "counts": True, "ordinal": False}, "ts_every": 0},
    # the default until the ordinal term (2026-12-07); with it on: "default"
    "cgp-noord": {"model_params": {"ordinal": False}},
    "onehot": {"encoding": "onehot"},
    "gp": {"ts_every": 0},  # the GP on graf (+ the table's proxies): LogEI only
    "gp-ts3": {"ts_every": 3},  # every third model-based ask a joint Thompson draw
    "gp-ts5": {"ts_every": 5},
    "default": {},  # bo as `surrogate search` builds it on the table (init 10)
    "init5": {"init": 5},  # half the random initial design
}
#: several objectives (OBJECTIVE with a comma): name -> MultiObjectiveBO keyword arguments
MO_VARIANTS = {
    "mo-graf": {"encoding": "graf"},  # the RBF GP on graf, the default on plain choices until 2026-12-07
    "mo-cgp": {"ts_every": 0},  # the categorical GP (bo_encoding's `index`), EHVI only
    "mo-cgp-ts3": {"ts_every": 3},  # every third model-based ask a joint draw scored by its hypervolume gain
    "mo-cgp-ts5": {"ts_every": 5},
    "mo-cgp-noord": {"model_params": {"ordinal": False}},  # the default until the ordinal term
    "mo-default": {},  # bo as `surrogate search` builds it for several objectives
    "mo": {"ts_every": 0},  # whatever model bo_encoding selects (the GP on onehot + proxies on nb201): EHVI only
    "mo-ts3": {"ts_every": 3},
}


def main(table: str, names: str, seeds: str, objective: str = "acc:max", budget: str = "150") -> None:
    data, budget = Table.read(resolve(table)), int(budget)
    metric = objective.split(":")[0]
    oracle = TableOracle(data, [metric])
    features = default_features(data)
    extra = {"features": ClassFeatures(data, features)} if features else {}
    if "," in objective:
        return several(table, data, names, int(seeds), objective, budget, extra)
    for name in names.split(","):
        STRATEGIES.register(name, Family(partial(BayesianOptimization, **VARIANTS[name], **extra)))
        campaign = Campaign([objective], strategies=[name], budget=budget, seeds=int(seeds), init=10)
        problem, truth = campaign.validate(oracle)
        hits, at50, at100, start = [], [], [], time.time()
        for seed in range(int(seeds)):
            run = campaign.run_one(oracle, problem, truth, name, seed)
            found = np.flatnonzero(run.regret.to_numpy() <= 0)
            hits.append(int(found[0]) + 1 if len(found) else budget + 1)
            at50.append(float(run.regret.iloc[49]))
            at100.append(float(run.regret.iloc[min(99, budget - 1)]))
        print(json.dumps({"table": table, "variant": name, "objective": objective, "features": features,
                          "seeds": int(seeds), "budget": budget, "found": sum(h <= budget for h in hits),
                          "median": float(np.median(hits)), "regret50": round(float(np.mean(at50)), 4),
                          "regret100": round(float(np.mean(at100)), 4), "hits": hits,
                          "seconds": round(time.time() - start)}), flush=True)


def several(table: str, data: Table, names: str, seeds: int, objectives: str, budget: int, extra: dict) -> None:
    """MO_VARIANTS: the hypervolume ratio at 50 and 100 queries (mean, std over seeds)."""
    from surrogate.search.multiobjective import MultiObjectiveBO

    oracle = TableOracle(data, [o.split(":")[0] for o in objectives.split(",")])
    for name in names.split(","):
        STRATEGIES.register(name, Family(general=partial(MultiObjectiveBO, **MO_VARIANTS[name], **extra)))
        campaign = Campaign(objectives.split(","), strategies=[name], budget=budget, seeds=seeds, init=10)
        problem, truth = campaign.validate(oracle)
        ratios, start = [], time.time()
        for seed in range(seeds):
            ratios.append(campaign.run_one(oracle, problem, truth, name, seed).hypervolume_ratio.to_numpy())
        ratios = np.array(ratios)
        print(json.dumps({"table": table, "variant": name, "objectives": objectives,
                          "seeds": seeds, "budget": budget,
                          **{f"hv{q}": round(float(ratios[:, q - 1].mean()), 4) for q in (50, 100) if q <= budget},
                          "hv100_std": round(float(ratios[:, min(budget, 100) - 1].std()), 4),
                          "hv100_by_seed": ratios[:, min(budget, 100) - 1].round(4).tolist(),
                          "seconds": round(time.time() - start)}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
