"""How multi-objective and constrained BO's defaults were chosen: short campaigns of `bo` alone on
NB201 CIFAR-10 with one setting changed at a time (the GPs' encoding, the log costs as extra
inputs, the kernel, the initial design, the target transform). Each prints one line:
name, hypervolume ratio at 50 and 100 queries (or found optimum / median queries for the
constrained rows), front fraction, seconds per query. Resumable (checkpoints under OUT/<name>).

  OMP_NUM_THREADS=1 .venv/bin/python bench/mo_bo_choices.py [OUT] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import lru_cache
from pathlib import Path

from surrogate.catalog import resolve
from surrogate.features import ClassFeatures
from surrogate.search import STRATEGIES, Family, family
from surrogate.search.request import SearchRequest, run_search
from surrogate.tabular import Table

C10 = "cifar10_valid_acc"
PARAMS_BUDGET = "params<=344346"  # the median params of NB201's cells (bench/report_search_mo.py)
#: name -> (objectives, constraints, seeds, budget, bo hyperparameters)
VARIANTS: dict[str, tuple[str, list[str], int, int, dict]] = {
    "path+costs": (f"{C10}:max,params:min", [], 4, 100, {"encoding": "path", "cost_features": True}),
    "path+costs-raw": (f"{C10}:max,params:min", [], 4, 100, {"encoding": "path", "cost_features": True,
                                                            "targets": "raw"}),
    "graf+costs": (f"{C10}:max,params:min", [], 4, 100, {"encoding": "graf", "cost_features": True}),
    "graf": (f"{C10}:max,params:min", [], 4, 100, {"encoding": "graf", "cost_features": False}),
    "graf-matern": (f"{C10}:max,params:min", [], 4, 100, {"encoding": "graf", "cost_features": False,
                                                          "model_params": {"kernel": "matern"}}),
    "graf-init5": (f"{C10}:max,params:min", [], 4, 100, {"encoding": "graf", "cost_features": False, "init": 5}),
    "flops-path+costs": (f"{C10}:max,flops:min", [], 4, 100, {"encoding": "path", "cost_features": True}),
    "flops-graf": (f"{C10}:max,flops:min", [], 4, 100, {"encoding": "graf", "cost_features": False}),
    "graf+zc": (f"{C10}:max,params:min", [], 4, 100, {"encoding": "graf", "cost_features": False, "features": "zc"}),
    "graf+costs+zc": (f"{C10}:max,params:min", [], 4, 100, {"encoding": "graf", "features": "zc"}),
    "flops-graf+zc": (f"{C10}:max,flops:min", [], 4, 100, {"encoding": "graf", "cost_features": False,
                                                           "features": "zc"}),
    "graf+costs+zc-10": (f"{C10}:max,params:min", [], 10, 100, {"encoding": "graf", "features": "zc"}),
    "graf+zc-10": (f"{C10}:max,params:min", [], 10, 100, {"encoding": "graf", "cost_features": False,
                                                          "features": "zc"}),
    "graf+costs+zc-init5-10": (f"{C10}:max,params:min", [], 10, 100, {"encoding": "graf", "features": "zc",
                                                                      "init": 5}),
    "graf+costs+zc-init20-10": (f"{C10}:max,params:min", [], 10, 100, {"encoding": "graf", "features": "zc",
                                                                       "init": 20}),
    "flops-graf+zc-10": (f"{C10}:max,flops:min", [], 10, 100, {"encoding": "graf", "cost_features": False,
                                                                "features": "zc"}),
    "onehot+costs+zc-10": (f"{C10}:max,params:min", [], 10, 100, {"encoding": "onehot", "features": "zc"}),
    "path+costs+zc-10": (f"{C10}:max,params:min", [], 10, 100, {"encoding": "path", "features": "zc"}),
    "flops-onehot+costs+zc-10": (f"{C10}:max,flops:min", [], 10, 100, {"encoding": "onehot", "features": "zc"}),
    "constrained-onehot+zc": (f"{C10}:max", [PARAMS_BUDGET], 10, 100, {"encoding": "onehot", "features": "zc"}),
    "constrained-graf+zc": (f"{C10}:max", [PARAMS_BUDGET], 10, 100, {"encoding": "graf", "features": "zc"}),
    "constrained-path": (f"{C10}:max", [PARAMS_BUDGET], 10, 100, {"encoding": "path"}),
    "constrained-graf": (f"{C10}:max", [PARAMS_BUDGET], 10, 100, {"encoding": "graf"}),
}


@lru_cache(maxsize=None)
def nb201_features(names: str) -> ClassFeatures:
    """Table columns by name (`zc`: every zero-cost proxy): NB201's per-class values."""
    return ClassFeatures(Table.read(resolve("nb201")), names.split(","))


def run(name: str, out: Path) -> str:
    objectives, constraints, seeds, budget, params = VARIANTS[name]
    original = STRATEGIES["bo"]  # restored after: the Family (plain and general members) as registered
    bo = family("bo")
    general = bo.members()[1]  # multiobjective.make_bo: the member serving every variant here

    def make_bo(space, seed=None, problem=None, **given):
        chosen = {**given, **params}
        if isinstance(chosen.get("features"), str):  # table columns by name: the table's per-class values
            chosen["features"] = nb201_features(chosen["features"])
        return general(space, seed=seed, problem=problem, **chosen)

    STRATEGIES.register("bo", Family(bo.plain, general=make_bo))
    try:
        request = SearchRequest(file="nb201", objectives=objectives, constraints=list(constraints), budget=budget,
                                seeds=seeds, strategies=["bo"], out=str(out / name), progress=False,
                                features=[])  # the variant's params say which columns bo reads
        doc = run_search(request).document
    finally:
        STRATEGIES.register("bo", original)
    r = doc["results"][0]
    if "hypervolume_ratio_at" in r:
        at = r["hypervolume_ratio_at"]
        return json.dumps({"name": name, "seeds": seeds, "hv50": round(at["50"], 4), "hv100": round(at["100"], 4),
                           "front": round(r["found_front_fraction"], 3), "s_per_query": round(r["seconds_per_query"], 3),
                           "params": params})
    return json.dumps({"name": name, "seeds": seeds, "found": r["found_optimum"],
                       "median_queries": r["median_queries_to_optimum"], "regret100": round(r["regret_at"]["100"], 3),
                       "s_per_query": round(r["seconds_per_query"], 3), "params": params})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="runs/search-mo/choices")
    parser.add_argument("--only", help="comma-separated variant names")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(VARIANTS)
    for name in names:
        print(run(name, Path(args.out)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
