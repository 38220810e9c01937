"""bo's variants on plain categorical tables, for choosing its default there (issue 22, item 2):
each variant runs through `Campaign.run_one` on a `TableOracle` (the path `surrogate search`
takes), budget 150, init 10, seeds 0..S-1; one JSON line per (table, variant) with the runs that
found the optimum, the median queries to it (a miss counts 151), mean regret at 50 and 100.

    python bench/categorical_bo_variants.py TABLE.h5 VARIANT[,VARIANT...] SEEDS

The tables are bench/out_of_the_box.sh's imports (runs/out-of-the-box/*.h5); results in
bench/results/out_of_the_box.md.
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial

import numpy as np

from surrogate.search import STRATEGIES, Family
from surrogate.search.bo import BayesianOptimization
from surrogate.search.campaign import Campaign
from surrogate.search.oracle import TableOracle
from surrogate.tabular import Table

#: name -> BayesianOptimization keyword arguments (orders above d mean d: the product term).
VARIANTS = {
    "cgp-12-ts3": {"model_params": {"orders": (1, 2), "counts": False}, "ts_every": 3},
    "cgp-12": {"model_params": {"orders": (1, 2), "counts": False}, "ts_every": 0},
    "cgp-12d-ts3": {"model_params": {"orders": (1, 2, 99), "counts": False}, "ts_every": 3},
    "cgp-12d": {"model_params": {"orders": (1, 2, 99), "counts": False}, "ts_every": 0},
    "cgp-12d-ts3-counts": {"model_params": {"orders": (1, 2, 99), "counts": True}, "ts_every": 3},
    "cgp-12d-counts": {"model_params": {"orders": (1, 2, 99), "counts": True}, "ts_every": 0},
    "onehot": {"encoding": "onehot"},
}


def main(table: str, names: str, seeds: str) -> None:
    oracle = TableOracle(Table.read(table), ["acc"])
    for name in names.split(","):
        STRATEGIES.register(name, Family(partial(BayesianOptimization, **VARIANTS[name])))
        campaign = Campaign(["acc:max"], strategies=[name], budget=150, seeds=int(seeds), init=10)
        problem, truth = campaign.validate(oracle)
        hits, at50, at100, start = [], [], [], time.time()
        for seed in range(int(seeds)):
            run = campaign.run_one(oracle, problem, truth, name, seed)
            found = np.flatnonzero(run.regret.to_numpy() <= 0)
            hits.append(int(found[0]) + 1 if len(found) else 151)
            at50.append(float(run.regret.iloc[49]))
            at100.append(float(run.regret.iloc[99]))
        print(json.dumps({"table": table, "variant": name, "seeds": int(seeds), "found": sum(h <= 150 for h in hits),
                          "median": float(np.median(hits)), "regret50": round(float(np.mean(at50)), 3),
                          "regret100": round(float(np.mean(at100)), 3), "hits": hits,
                          "seconds": round(time.time() - start)}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
