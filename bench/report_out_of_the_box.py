"""bench/results/out_of_the_box.md from the --json documents of bench/out_of_the_box.sh.

Usage: python bench/report_out_of_the_box.py runs/out-of-the-box [PREVIOUS.md] > bench/results/out_of_the_box.md

A `## Reading` section of PREVIOUS.md (the file being regenerated: the analysis written from the
tables) is carried over unchanged, and so are its rows (and run lines) of the runs this machine does
not hold, so rerunning some rows (`ROWS=...`) keeps the others.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from surrogate import __version__

TABLES = {"nb201_c100": "NB201 imported (space nb201), CIFAR-100 valid: proxies from the shipped cache at import",
          "cat_c10": "NB201 imported as categorical:6x5, CIFAR-10 valid: no features",
          "cat_c100": "NB201 imported as categorical:6x5, CIFAR-100 valid: no features",
          "cat_fmnist": "nb201-fmnist imported as categorical:6x5 (1,000 cells): no features",
          "synth_8x3": "synthetic categorical:8x3 (main effects, 8 pairs, one 3-way term, noise)",
          "synth_6x5": "synthetic categorical:6x5 (main effects, 6 pairs, one 3-way term, noise)",
          "synth_ord_6x6": "synthetic categorical:6x6 of ordered choices (a bowl per position, 4 pairs, ripple, noise)",
          "hpo_digits": "MLP hyperparameters on digits, categorical:5,4,6,4,3 of ordered choices (trained here)",
          "chain_fmnist": "chain-fmnist (categorical:8x3 on Fashion-MNIST) imported"}

#: several objectives (`mo-NAME` runs; `mo-before-NAME`: bo's previous default on a plain categorical table)
MO_TABLES = {"nb201_c100": "NB201 imported, CIFAR-100 valid vs params",
             "mo_cat_c100": "NB201 imported as categorical:6x5 with a params column, CIFAR-100 valid vs params",
             "mo_cat_fmnist": "nb201-fmnist imported as categorical:6x5 with its params column, valid acc vs params",
             "mo_synth_8x3": "synthetic categorical:8x3 with an additive params column, acc vs params",
             "hpo_digits": "MLP hyperparameters on digits (ordered choices), valid acc vs the MLP's params",
             "chain_fmnist": "chain-fmnist, valid acc vs FLOPs"}


def per_seed(folder: Path) -> pd.DataFrame:
    """Each run's queries to the optimum and regret at 50/100, from trajectories.csv."""
    t = pd.read_csv(folder / "trajectories.csv")
    rows = []
    for (strategy, seed), run in t.groupby(["strategy", "seed"], sort=False):
        hit = np.flatnonzero(run.regret.to_numpy() <= 0)
        rows.append({"strategy": strategy, "seed": seed, "hit": int(run.step.iloc[hit[0]]) if len(hit) else None,
                     "r50": float(run.regret.iloc[49]), "r100": float(run.regret.iloc[99])})
    return pd.DataFrame(rows)


PREVIOUS: list[str] = []  # the lines of the file being regenerated


def kept(what: str, before: bool | None = None) -> list[str]:
    """PREVIOUS's table rows of `what` (and of bo's previous default or not), for runs not held here."""
    rows = [line for line in PREVIOUS if line.startswith(f"| {what} | ")]
    return rows if before is None else [r for r in rows if ("(previous default" in r.split(" | ")[1]) == before]


def search_rows(out: Path) -> list[str]:
    """One row per table and strategy; on categorical tables also bo's previous default (the
    `before-` run: `--encoding onehot`, the RBF GP on one-hot codes), seeds as it ran."""
    lines = ["| table | strategy | found optimum | median queries to optimum | regret@50 (mean ± std) | "
             "regret@100 (mean ± std) | s/query |", "|---|---|---|---|---|---|---|"]
    for name, what in TABLES.items():
        for prefix, label in (("search", "{}"), ("before", "{} (previous default: --encoding onehot)")):
            doc = out / f"{prefix}-{name}.json"
            if not doc.is_file():
                lines += kept(what, before=prefix == "before")
                continue
            document = json.loads(doc.read_text())
            budget = document["results"][0]["budget"]
            speed = {r["strategy"]: r["seconds_per_query"] for r in document["results"]}
            runs = per_seed(out / f"{prefix}-{name}")
            for strategy, r in runs.groupby("strategy", sort=False):
                hits = r.hit.fillna(budget + 1)
                lines.append(f"| {what} | {label.format(strategy)} | {r.hit.notna().sum()}/{len(r)} | "
                             f"{np.median(hits):g} | {r.r50.mean():.3f} ± {r.r50.std():.3f} | "
                             f"{r.r100.mean():.3f} ± {r.r100.std():.3f} | {speed[strategy]:.3f} |")
    return lines


def provenance(out: Path) -> list[str]:
    """Each run's command, seeds and input checksum, from its run.json."""
    lines, held = [], set()
    for record in sorted(out.glob("*/run.json")):
        run = json.loads(record.read_text())
        seeds = run.get("seeds")
        seeds = f"seeds {seeds[0]}-{seeds[-1]}" if isinstance(seeds, list) and seeds else f"seeds {seeds}"
        lines.append(f"- `{run['command']}`: {seeds}, input {run.get('input_checksum', 'n/a')}")
        held.add(str(record.parent))
    runs = PREVIOUS[PREVIOUS.index("## Runs"):] if "## Runs" in PREVIOUS else []
    return [line for line in runs if line.startswith("- `") and _out_folder(line) not in held] + lines


def _out_folder(line: str) -> str:
    """The folder a run line's `--out` names."""
    words = line.split("`")[1].split()
    return str(Path(words[words.index("--out") + 1])) if "--out" in words else ""


def mo_rows(out: Path) -> list[str]:
    lines = ["| table | strategy | seeds | HV ratio@50 | HV ratio@100 (mean ± std) | front found |", "|---|---|---|---|---|---|"]
    for name, what in MO_TABLES.items():
        for prefix, label in (("mo", "{}"), ("mo-before", "{} (previous default: --encoding graf)")):
            doc = out / f"{prefix}-{name}.json"
            if not doc.is_file():
                lines += kept(what, prefix == "mo-before")
                continue
            t = pd.read_csv(out / f"{prefix}-{name}" / "trajectories.csv")
            finals = t[t.step == 100].groupby("strategy", sort=False).hypervolume_ratio
            for r in json.loads(doc.read_text())["results"]:
                lines.append(f"| {what} | {label.format(r['strategy'])} | {r['seeds']} | "
                             f"{r['hypervolume_ratio_at']['50']:.4f} | {r['hypervolume_ratio_at']['100']:.4f} ± "
                             f"{finals.get_group(r['strategy']).std():.4f} | {r['found_front_fraction']:.2f} |")
    return lines


def predictor_rows(out: Path) -> list[str]:
    doc = out / "predictors-nb201.json"
    if not doc.is_file():
        start = next((i for i, line in enumerate(PREVIOUS) if line.startswith("| model | encoding |")), None)
        if start is None:
            return []
        end = next((i for i in range(start, len(PREVIOUS)) if not PREVIOUS[i].startswith("|")), len(PREVIOUS))
        return PREVIOUS[start:end]
    results = json.loads(doc.read_text())["results"]
    best = sorted(results, key=lambda r: -r["kendall_tau"])[:5]
    lines = ["| model | encoding | n | Kendall tau | NLL |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['encoding']} | {r['train_size']} | {r['kendall_tau']:.3f} ± "
              f"{r['kendall_tau_std']:.3f} | {r['nll']:.3g} |" for r in best]
    return lines


def reading(previous: str | None) -> list[str]:
    if previous is None or not Path(previous).is_file():
        return []
    text = Path(previous).read_text()
    if "## Reading" not in text:
        return []
    section = text[text.index("## Reading"):]
    return [section.split("\n## Runs")[0].rstrip(), ""]


def main(out: str, previous: str | None = None) -> None:
    out = Path(out)
    if previous is not None and Path(previous).is_file():
        PREVIOUS[:] = Path(previous).read_text().splitlines()
    seeds = {}
    for name in TABLES:
        if (out / f"search-{name}.json").is_file():
            seeds[name] = json.loads((out / f"search-{name}.json").read_text())["results"][0]["seeds"]
    text = ["# Out of the box on a user's own table", "",
            f"Produced by `bench/out_of_the_box.sh` (surrogate {__version__}) on {os.cpu_count()} CPU cores, "
            f"{datetime.now(timezone.utc):%Y-%m-%d}. Every row is what a new user runs: a CSV with an `arch` and an "
            "`acc` column (`bench/out_of_the_box_csv.py` writes them from the shared NB201 CSV and the shipped "
            "tables), `surrogate import CSV --space SPACE`, then the default command. Search: "
            "`surrogate search T.h5 --metric acc --strategies bo,tpe,re --seeds 20 --budget 150`; a run that never "
            "found the optimum counts as 151 queries in the median.", "",
            "## Search, one objective", "", *search_rows(out), "",
            "## Several objectives (`--objectives acc:max,params:min` or `flops:min`, bo and nsga2, 100 queries)", "",
            *mo_rows(out), "", "## `surrogate bench predictors nb201 --metric cifar10_valid_acc --train-sizes 100` "
            "(the defaults), the five best rows", "", *predictor_rows(out), "",
            *reading(previous), "## Runs", "", *provenance(out), ""]
    sys.stdout.write("\n".join(text))


if __name__ == "__main__":
    main(*sys.argv[1:3])
