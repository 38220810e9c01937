"""Seconds of one multi-objective BO step (GP refit + acquisition over every unseen NB201 class) at
150 observations, for each acquisition: qLogEHVI, qLogNEHVI, qLogNParEGO.

140 random observations, 10 BO steps to warm the GP up as a campaign would, then the asks at
150-159 observations are timed: wall and process CPU seconds (CPU time is what a busy machine
does not inflate), and the GP refit's share.

Usage: .venv/bin/python bench/mo_step_time.py [--acqs ehvi,nehvi,parego] [--cost params] [--mc 64]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from surrogate.catalog import resolve
from surrogate.search.campaign import Campaign
from surrogate.search.oracle import TableOracle
from surrogate.tabular import Table


def steps(acq: str, cost: str, mc: int, seed: int = 0) -> dict:
    table = Table.read(resolve("nb201"))
    campaign = Campaign(objectives=["cifar10_valid_acc:max", f"{cost}:min"], strategies=["bo"], acq=acq, init=140)
    oracle = TableOracle(table, campaign.columns)
    problem, _ = campaign.validate(oracle)
    bo = campaign.strategy("bo", oracle, problem, seed)  # the campaign's bo: its default proxies too
    bo.mc_samples = mc
    domain = oracle.domain()  # as a campaign run: the table's architectures, one per class
    if domain is not None:
        bo.restrict(domain)
    fits: list[float] = []
    fit = bo._fit

    def timed_fit() -> bool:  # the GP refit inside ask(), timed on its own
        start = time.perf_counter()
        try:
            return fit()
        finally:
            fits.append(time.perf_counter() - start)

    bo._fit = timed_fit
    wall, cpu, fit_share = [], [], []
    while bo.n_observed < 160:
        start, start_cpu, n_fits = time.perf_counter(), time.process_time(), len(fits)
        arch = bo.ask()
        if bo.n_observed >= 150:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            fit_share.append(sum(fits[n_fits:]))
        bo.tell(arch, oracle.evaluate(arch[None]).values[0])
    seconds = lambda values: round(float(values), 3)  # noqa: E731
    return {"acq": acq, "cost": cost, "mc_samples": mc, "encoding": bo.encoding.name,
            "features": campaign.params_for("bo", oracle, problem).get("features", []),
            "observations": "150-159",
            "candidates": int(bo.unseen_mask().sum()), "step_median_s": seconds(np.median(wall)),
            "step_max_s": seconds(max(wall)), "step_cpu_median_s": seconds(np.median(cpu)),
            "gp_fit_median_s": seconds(np.median(fit_share))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acqs", default="ehvi,nehvi,parego")
    parser.add_argument("--cost", default="params")
    parser.add_argument("--mc", type=int, default=64)
    args = parser.parse_args()
    for acq in args.acqs.split(","):
        print(json.dumps(steps(acq, args.cost, args.mc)), flush=True)


if __name__ == "__main__":
    main()
