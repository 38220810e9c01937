"""BO on a table with a given model, encoding and extra feature columns (`zc` = every zero-cost proxy
column, none when FEATURES is empty): `surrogate search TABLE --metric METRIC --strategies bo --model M
--encoding E --features F` for 20 seeds x 150 queries. Prints one JSON line (found optimum, median
queries, regrets).
  OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python bench/bo_zc.py TABLE METRIC MODEL ENCODING [FEATURES] [SEEDS]
  env: BO_INIT (random asks first, default 10), BO_ACQ (logei, ucb, ts; default logei)
Resumable: finished seeds are checkpointed under runs/zc/bo/.
"""
import json
import os
import sys
from pathlib import Path

from surrogate.catalog import resolve
from surrogate.search.campaign import Campaign
from surrogate.search.oracle import TableOracle
from surrogate.search.report import summarize
from surrogate.tabular import Table


def main(table_name, metric, model, encoding, features="", seeds=20, budget=150):
    table = Table.read(resolve(table_name))
    names = [f for f in features.split(",") if f]  # [] = none, never the campaign's default
    init, acq = int(os.environ.get("BO_INIT", 10)), os.environ.get("BO_ACQ", "logei")
    run = Campaign(objectives=[f"{metric}:max"], strategies=["bo"], budget=budget, seeds=seeds, model=model,
                   encoding=encoding, init=init, acq=acq, features=names)
    tag = f"{Path(str(table_name)).stem}-{metric}-{model}-{encoding}-{features.replace(',', '+') or 'none'}"
    tag += "".join(f"-{k}{v}" for k, v, default in (("init", init, 10), ("acq", acq, "logei")) if v != default)
    folder = Path("runs/zc/bo") / tag
    folder.mkdir(parents=True, exist_ok=True)
    oracle = TableOracle(table, run.columns)
    trajectories, _, truth = run.run(oracle, checkpoints=folder, progress=False)
    (result,) = summarize(trajectories, truth, budget, oracle)
    print(json.dumps({"table": str(table_name), "metric": metric, "model": model, "encoding": encoding,
                      "features": features, "init": init, "acq": acq, "seeds": seeds, "found": result["found_optimum"],
                      "median_queries": result["median_queries_to_optimum"], "regret_at": result["regret_at"],
                      "seconds_per_query": result["seconds_per_query"]}), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[1], args[2], args[3], args[4] if len(args) > 4 else "", int(args[5]) if len(args) > 5 else 20)
