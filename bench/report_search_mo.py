"""Multi-objective and constrained search benchmark (issue 15): runs the campaigns and writes
bench/results/search_mo.md. Killed runs resume (every (strategy, seed) run is checkpointed).

Campaigns, each the Python call behind the `surrogate search` command shown in the report:
  c10-params   nb201, cifar10_valid_acc:max vs params:min, bo/nsga2/re/rs, SEEDS x 150
  c10-flops    the same against FLOPs
  constrained  cifar10_valid_acc:max s.t. params <= the space's median params, SEEDS x 100
  acq-*        bo's acquisitions (qLogEHVI, qLogNEHVI, qLogNParEGO), ACQ_SEEDS x 100, params
  chain-*      a synthetic chain table (see `chain_table`), bo/nsga2/re/rs, CHAIN_SEEDS x 150
  step         one MO-BO step at 150 observations per acquisition (bench/mo_step_time.py)

Usage: .venv/bin/python bench/report_search_mo.py [--out runs/search-mo] [--seeds 10] [--acq-seeds 3]
       [--chain-seeds 5] [--only c10-params,...] [--report-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from surrogate.catalog import resolve
from surrogate.features import raw_feature
from surrogate.nets.costs import costs
from surrogate.search.request import SearchRequest, run_search
from surrogate.spaces import get_space
from surrogate.tabular import Table

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ["bo", "nsga2", "re", "rs"]
C10 = "cifar10_valid_acc"


def chain_table(path: Path) -> Table:
    """NAS-Bench-Macro's space (`categorical:8x3`: identity, MBConv3 k3, MBConv6 k5 at 8 positions,
    6,561 chains) with params and FLOPs left to the package (computed from the network definition,
    C=16 on 32x32x3), and a *synthetic* accuracy: capacity (log params and log FLOPs, z-scored)
    through a saturating tanh, plus a random preference per (position, block), a random interaction
    per pair of neighbouring blocks and noise — so the front is not simply the cheapest-first order
    and the search has a landscape to learn. Seeded: the same table every time."""
    space = get_space("categorical:8x3")
    archs = space.enumerate()
    cost = costs(space, archs)
    z = lambda v: (np.log(v) - np.log(v).mean()) / np.log(v).std()  # noqa: E731
    capacity = 0.5 * z(cost["params"]) + 0.5 * z(cost["flops"])
    rng = np.random.default_rng(2024)
    position = rng.normal(0, 0.6, size=(8, 3))
    pairs = rng.normal(0, 0.4, size=(7, 3, 3))
    rows = np.arange(8)
    acc = (88 + 4 * np.tanh(capacity) + position[rows, archs].sum(1)
           + pairs[rows[:-1], archs[:, :-1], archs[:, 1:]].sum(1) + rng.normal(0, 0.3, len(archs)))
    provenance = {"generator": "bench/report_search_mo.py:chain_table"}
    table = Table(space.spec, archs, space.format_many(archs), {"valid_acc": acc},
                  attrs={"dataset": "synthetic-chain", "provenance": provenance})
    table.write(path)
    return table


def campaigns(out: Path, seeds: int, acq_seeds: int, chain_seeds: int) -> dict[str, dict]:
    """name -> `SearchRequest` fields (`file`: the table; `command`: the CLI command it stands for)."""
    nb201 = Table.read(resolve("nb201"))
    median = float(np.median(raw_feature(nb201, "params")))
    chain = out / "chain.h5"
    found = {
        "c10-params": dict(file="nb201", objectives=f"{C10}:max,params:min", budget=150, seeds=seeds),
        "c10-flops": dict(file="nb201", objectives=f"{C10}:max,flops:min", budget=150, seeds=seeds),
        "constrained": dict(file="nb201", objectives=f"{C10}:max", constraints=[f"params<={median!r}"], budget=100,
                            seeds=seeds),
        **{f"acq-{acq}": dict(file="nb201", objectives=f"{C10}:max,params:min", budget=100, seeds=acq_seeds,
                              strategies=["bo"], acq=acq) for acq in ("ehvi", "parego")},
        "chain-params": dict(file=str(chain), objectives="valid_acc:max,params:min", budget=150, seeds=chain_seeds),
        "chain-flops": dict(file=str(chain), objectives="valid_acc:max,flops:min", budget=150, seeds=chain_seeds),
        "acq-nehvi": dict(file="nb201", objectives=f"{C10}:max,params:min", budget=100, seeds=acq_seeds,
                          strategies=["bo"], acq="nehvi"),  # last: several times the cost of the others
    }
    for name, args in found.items():
        args.setdefault("strategies", STRATEGIES)
        args["out"] = str(out / name)
        flags = [f"--objectives {args['objectives']}", *[f"--constraint '{c}'" for c in args.get("constraints", [])],
                 f"--strategies {','.join(args['strategies'])}", f"--seeds {args['seeds']}",
                 f"--budget {args['budget']}",
                 *([f"--acq {args['acq']}"] if "acq" in args else []), f"--out {args['out']}"]
        args["command"] = f"surrogate search {args['file']} " + " ".join(flags)
    return found


def run(out: Path, seeds: int, acq_seeds: int, chain_seeds: int, only: set[str] | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "chain.h5").exists():
        chain_table(out / "chain.h5")
    for name, args in campaigns(out, seeds, acq_seeds, chain_seeds).items():
        if only and name not in only:
            continue
        print(f"== {name}: {args['command']}", file=sys.stderr, flush=True)
        doc = run_search(SearchRequest(**args, progress=False)).document
        (out / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    if not only or "step" in only:
        step = subprocess.run([sys.executable, str(ROOT / "bench" / "mo_step_time.py")], check=True,
                              capture_output=True, text=True).stdout
        (out / "step.jsonl").write_text(step)


# --- the report -----------------------------------------------------------------------------------
def _summary(out: Path, name: str) -> str:
    text = (out / name / "summary.md").read_text().splitlines()
    return "\n".join(["#" + text[0], *text[1:]]).strip()


def targets(out: Path) -> list[str]:
    """The issue's targets, checked against the recorded JSON."""
    lines = []
    for name, label in (("c10-params", "accuracy vs params"), ("c10-flops", "accuracy vs FLOPs")):
        doc = json.loads((out / f"{name}.json").read_text())
        at = {r["strategy"]: r["hypervolume_ratio_at"]["100"] for r in doc["results"]}
        bo = at.pop("bo")
        verdict = "meets >= 0.99" if bo >= 0.99 else f"misses >= 0.99 by {0.99 - bo:.4f}"
        ahead = "ahead of" if all(bo > v for v in at.values()) else "NOT ahead of"
        lines.append(f"- {label}: bo's mean hypervolume ratio at 100 queries {bo:.4f} ({verdict}); {ahead} "
                     + ", ".join(f"{s} {v:.4f}" for s, v in at.items()) + ".")
    doc = json.loads((out / "constrained.json").read_text())
    bo = next(r for r in doc["results"] if r["strategy"] == "bo")
    lines.append(f"- constrained (params <= median): bo found the best feasible cell in {bo['found_optimum']}/"
                 f"{bo['seeds']} seeds within {bo['budget']} queries "
                 f"({'meets' if bo['found_optimum'] >= 0.9 * bo['seeds'] else 'misses'} >= 9/10).")
    steps = [json.loads(line) for line in (out / "step.jsonl").read_text().splitlines() if line.strip()]
    for s in steps:
        lines.append(f"- MO-BO step ({s['acq']}, {s['candidates']} unseen classes, 150-159 observations): median "
                     f"{s['step_median_s']:.2f} s wall, {s['step_cpu_median_s']:.2f} s CPU "
                     f"(GP refit {s['gp_fit_median_s']:.2f} s), "
                     f"max {s['step_max_s']:.2f} s ({'meets' if s['step_median_s'] <= 1 else 'misses'} <= 1 s).")
    return lines


def choices(out: Path) -> list[str]:
    """The short campaigns behind bo's defaults (`bench/mo_bo_choices.py`), when they were run."""
    path = out / "choices.jsonl"
    if not path.exists() or not path.read_text().strip():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = ["## How bo's defaults were chosen", "",
             f"`OMP_NUM_THREADS=1 .venv/bin/python bench/mo_bo_choices.py {os.path.relpath(path.parent / 'choices', ROOT)} --only ...`: bo alone, "
             "one setting changed at a time (the GPs' encoding, the log costs as extra GP inputs, the table's "
             "zero-cost proxies as extra GP inputs, the initial design).", "",
             "| variant | bo hyperparameters | seeds x queries | HV ratio@50 | HV ratio@100 | found (constrained) | "
             "median queries | s/query |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "hv100" in r:
            lines.append(f"| {r['name']} | `{json.dumps(r['params'])}` | {r['seeds']} x 100 | {r['hv50']:.4f} | "
                         f"{r['hv100']:.4f} | | | {r['s_per_query']:.3f} |")
        else:
            lines.append(f"| {r['name']} | `{json.dumps(r['params'])}` | {r['seeds']} x 100 | | | {r['found']}/{r['seeds']} | "
                         f"{r['median_queries']:g} | {r['s_per_query']:.3f} |")
    return lines + ["", "The constrained rows decide the encoding (graf is bo's default, `DEFAULT_ENCODING`). The "
                    "`+zc` rows add the table's six zero-cost proxies as GP inputs (`features: zc`, by isomorphism "
                    "class, as single-objective bo reads them): they raise every front variant and take constrained "
                    "bo to the best feasible cell in 10/10 seeds, so a table with `zc_` columns gives MO bo its "
                    "proxies by default (`--features none` turns them off). With the proxies the encoding matters "
                    "again: `onehot` beats `graf` on both fronts (10 seeds: onehot+costs+zc-10 against graf+costs+zc-10, "
                    "flops-onehot+costs+zc-10 against flops-graf+zc-10), so multi-objective bo reads onehot "
                    "beside feature columns (`FEATURES_ENCODING`); constrained single-objective bo keeps graf (the "
                    "best feasible cell in a median 34.5 queries against 40.5). With the proxies, the log costs as "
                    "extra inputs are within the seeds' spread (10 seeds: +0.004 against params, graf+costs+zc vs "
                    "graf+zc; -0.003 against FLOPs, the c10-flops campaign's bo vs flops-graf+zc-10) and stay, as "
                    "does the initial design's size (5, 10, 20).", ""]


def report(out: Path, seeds: int, acq_seeds: int, chain_seeds: int) -> str:
    specs = campaigns(out, seeds, acq_seeds, chain_seeds)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    parts = ["# Multi-objective and constrained search (issue 15)", "",
             f"Produced by `bench/search_mo.sh` on {os.cpu_count()} CPU cores, OMP_NUM_THREADS={threads}, niced, on a "
             f"machine shared with other work ({datetime.now(timezone.utc):%Y-%m-%d}). Each campaign is the "
             "Python call behind the `surrogate search` command shown; every (strategy, seed) run is checkpointed "
             "under its folder.",
             "", "## Targets", "", *targets(out), ""]
    for name, heading in (("c10-params", "NB201 CIFAR-10: validation accuracy vs params"),
                          ("c10-flops", "NB201 CIFAR-10: validation accuracy vs FLOPs"),
                          ("constrained", "NB201 CIFAR-10: accuracy s.t. params <= the space's median"),
                          ("chain-params", "Synthetic chain table (NAS-Bench-Macro space): accuracy vs params"),
                          ("chain-flops", "Synthetic chain table (NAS-Bench-Macro space): accuracy vs FLOPs")):
        parts += [f"## {heading}", "", f"`{specs[name]['command']}`", "", _summary(out, name), ""]
        if (out / name / "pareto.png").exists():
            parts += [f"![{name} fronts](search_mo/{name}-pareto.png) "
                      f"![{name} hypervolume](search_mo/{name}-hypervolume.png)", ""]
    parts += choices(out)
    parts += ["## bo's acquisition: exact EHVI vs qLogNEHVI vs qLogNParEGO", "",
              "`ehvi` is BoTorch's analytic EHVI for these one-at-a-time asks (qLogEHVI, its Monte-Carlo "
              "version, runs with pending points or measured constraints). Measured once against qLogEHVI "
              "(32 samples) with a temporary switch, graf encoding without log costs, 4 seeds x 100: hypervolume "
              "ratio at 100 queries 0.981 exact vs 0.980 sampled, 0.18 vs 0.65 s per query.", "",
              "| acquisition | seeds | HV ratio@50 | HV ratio@100 | front found | s/query |",
              "|---|---|---|---|---|---|"]
    for acq in ("ehvi", "nehvi", "parego"):
        if not (out / f"acq-{acq}.json").exists():
            parts.append(f"| {acq} | not run | | | | |")
            continue
        r = json.loads((out / f"acq-{acq}.json").read_text())["results"][0]
        h = r["hypervolume_ratio_at"]
        parts.append(f"| {acq} | {r['seeds']} | {h['50']:.4f} | {h['100']:.4f} | {r['found_front_fraction']:.2f} | "
                     f"{r['seconds_per_query']:.3f} |")
    parts += ["", "Step times at 150 observations (`bench/mo_step_time.py`):", "", "```"]
    parts += [(out / "step.jsonl").read_text().strip(), "```", ""]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "search-mo")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--acq-seeds", type=int, default=3)
    parser.add_argument("--chain-seeds", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated campaign names (and 'step') to run")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    if not args.report_only:
        run(args.out, args.seeds, args.acq_seeds, args.chain_seeds, set(filter(None, args.only.split(","))) or None)
    if args.only and not args.report_only:
        return
    figures = ROOT / "bench" / "results" / "search_mo"
    figures.mkdir(parents=True, exist_ok=True)
    for name in ("c10-params", "c10-flops", "chain-params", "chain-flops"):
        for plot in ("pareto", "hypervolume"):
            source = args.out / name / f"{plot}.png"
            if source.exists():
                (figures / f"{name}-{plot}.png").write_bytes(source.read_bytes())
    text = report(args.out, args.seeds, args.acq_seeds, args.chain_seeds)
    (ROOT / "bench" / "results" / "search_mo.md").write_text(text)


if __name__ == "__main__":
    main()
