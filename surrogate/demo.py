"""`surrogate demo`: the suite's three jobs on the embedded default, in about a minute.

1. The predictor benchmark on a shipped table with architecture signal (`DEMO_TABLE`): how well do
   gp, rf and mlp on the onehot and path encodings rank cells they have not seen?
2. A search campaign on the same table: BO against regularized evolution and random search.
3. A tiny real `surrogate generate`: a handful of NB201 cells trained on scikit-learn's digits (always
   installed), so a newcomer sees networks being trained and recorded in the project's format.

The tables are package data (`surrogate datasets`), so a plain `pip install .` runs the same demo.
"""

from __future__ import annotations

import time
from pathlib import Path

from surrogate.benchmark import PredictorBenchmark
from surrogate.search.request import SearchRequest, run_search
from surrogate.tabular import Table

DEMO_TABLE = "nb201-fmnist"
#: the tiny generate job: NB201 cells of width 8, one cell per stage, a few epochs on digits
GENERATE = {"space": "nb201", "dataset": "digits", "archs": "4", "unique": True, "epochs": 4, "channels": 8, "cells": 1,
            "batch_size": 64}


def benchmark(metric: str) -> PredictorBenchmark:
    return PredictorBenchmark(metric=metric, models=["gp", "rf", "mlp"], encodings=["onehot", "path"],
                              train_sizes=[20, 50, 100], test_size=300, seeds=3)


def search(table: Table, source: str, metric: str, out: Path, command: str = "", progress: bool = True) -> SearchRequest:
    """BO against regularized evolution and random search, 5 seeds x 60 queries, reporting the top
    pick's test accuracy."""
    report = next((m for m in ("test_acc", metric.replace("valid", "test")) if m in table.metrics and m != metric), None)
    return SearchRequest(file=source, metric=metric, strategies=["bo", "re", "rs"], budget=min(60, table.n // 2),
                         seeds=5, report=report, out=str(out), command=command, progress=progress)


def default_metric(table: Table) -> str:
    """`valid_acc`, or the first `*valid_acc` column (an imported table such as nb201)."""
    if "valid_acc" in table.metrics:
        return "valid_acc"
    return next((m for m in table.metrics if m.endswith("valid_acc")), next(iter(table.metrics)))


def run(table: Table, source: str, out: Path, command: str, progress: bool = True) -> str:
    """The three jobs; returns what the command prints (the two summaries, the trained cells, where
    each job wrote its outputs)."""
    from surrogate.benchmark import write_report
    from surrogate.generate import generate, make_config

    metric = default_metric(table)
    bench = benchmark(metric)
    start = time.perf_counter()
    results = bench.run(table, progress=progress)
    write_report(bench, table, results, out / "predictors", source, command, time.perf_counter() - start)
    run_search(search(table, source, metric, out / "search", command, progress))
    config, data = make_config(**GENERATE)
    trained = generate(config, out / "generate" / "digits.h5", command=command, progress=progress, data=data,
                       threads=1)
    cells = [f"  valid_acc {acc:6.2f}  {seconds:5.1f} s  {arch}" for arch, acc, seconds in
             zip(trained.arch_strings, trained.metric("valid_acc"), trained.metric("job_seconds"))]
    return "\n".join([(out / "predictors" / "summary.md").read_text(), (out / "search" / "summary.md").read_text(),
                      f"# A tiny real `surrogate generate`: {trained.n} NB201 cells trained on digits\n", *cells,
                      f"\nwrote {out / 'predictors'}/ (results.csv, summary.md, kendall_tau.png, run.json), "
                      f"{out / 'search'}/ (trajectories.csv, summary.md, regret.png, run.json) and "
                      f"{out / 'generate' / 'digits.h5'}"])
