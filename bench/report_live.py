"""Report of a live search campaign (bench/live_fmnist.sh): per strategy, the best value found, the
validated test accuracy of each run's top picks, the training it cost, and, where the shipped
`nb201-fmnist` table holds the picks (same protocol), their regret against its optimum.

Reads OUT/.checkpoints/*.csv (finished runs, so a campaign still running reports what is done),
OUT/records.h5 and OUT/validated.h5. Usage: python bench/report_live.py OUT [--k 3] > bench/results/live_fmnist.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from surrogate import __version__, catalog
from surrogate.search.oracle import TableOracle
from surrogate.search.problem import Truth
from surrogate.search.report import top_picks
from surrogate.spaces import get_space
from surrogate.tabular import Table


def canonical_values(table: Table, metric: str) -> dict[int, float]:
    space = get_space(table.space)
    return dict(zip(space.canonical_ids(table.archs).tolist(), table.metric(metric).tolist()))


def markdown(frame: pd.DataFrame, digits: int = 2) -> str:
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "n/a" if not np.isfinite(value) else f"{value:.{digits}f}"
        return str(value).replace("|", "\\|")  # NB201 arch strings are full of pipes

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--reference", default="nb201-fmnist")
    args = parser.parse_args()
    space = get_space("nb201")
    runs = pd.concat([pd.read_csv(p, dtype={"arch": str}) for p in sorted((args.out / ".checkpoints").glob("*.csv"))])
    records = Table.read(args.out / "records.h5")
    validated = canonical_values(Table.read(args.out / "validated.h5"), "test_acc") if (args.out / "validated.h5").is_file() else {}
    reference = Table.read(catalog.resolve(args.reference))
    ref = TableOracle(reference, ["valid_acc"])
    problem = ref.problem(["valid_acc:max"])  # the live campaign's: valid_acc, maximised, no constraint
    optimum = Truth.of(ref.values, problem).optimum
    ref_valid = canonical_values(reference, "valid_acc")
    ref_test = canonical_values(reference, "test_acc")
    run_file = args.out / "run.json"
    command = json.loads(run_file.read_text())["command"] if run_file.is_file() else "bash bench/live_fmnist.sh"

    rows, picks = [], []
    for (strategy, seed), run in runs.groupby(["strategy", "seed"], sort=False):
        run = run.sort_values("step")
        top = top_picks(run, args.k, problem)
        ids = space.canonical_ids(space.parse_many(top.arch)).tolist()
        checked = [validated.get(i, np.nan) for i in ids]
        rows.append({"strategy": strategy, "seed": seed, "best": run.best_so_far.iloc[-1],
                     "hours": run.simulated_seconds.iloc[-1] / 3600, "top_validated": checked[0],
                     "best_validated": np.nanmax(checked) if np.isfinite(checked).any() else np.nan,
                     "top_in_reference": ids[0] in ref_valid,
                     "top_reference_regret": optimum - ref_valid[ids[0]] if ids[0] in ref_valid else np.nan})
        for rank, (arch, i, value, check) in enumerate(zip(top.arch, ids, top.value, checked), start=1):
            picks.append({"strategy": strategy, "seed": seed, "rank": rank, "arch": arch, "live valid_acc": value,
                          "validated test_acc": check, "table valid_acc": ref_valid.get(i, np.nan),
                          "table test_acc": ref_test.get(i, np.nan)})
    frame = pd.DataFrame(rows)
    print("# Live search on Fashion-MNIST (nb201-fmnist protocol), CPU\n")
    print(f"Command: `{command}` (surrogate {__version__}). Every query trains its network (7x7 inputs, 10k "
          "training images, 6 epochs, C=8, N=2, batch 256; two training processes of one thread each on a "
          f"2-core CPU machine shared with other jobs); each run's top {args.k} by validation accuracy are trained "
          "again with the validation protocol (train+valid, `--validate-epochs`) and judged on test "
          "(`validated.h5`). Runs finished: "
          f"{len(frame)}; distinct networks trained: {records.n} for {len(runs)} queries.\n")
    print(f"Reference: the shipped `{args.reference}` table holds 1,000 of NB201's 6,466 classes trained with the "
          f"same protocol (optimum valid_acc {optimum:.2f}); a live pick's regret against it is shown where the "
          "table holds that class.\n")
    summary = frame.groupby("strategy", sort=False).agg(
        runs=("seed", "count"), best_valid=("best", "mean"), top_pick_validated=("top_validated", "mean"),
        best_of_top_validated=("best_validated", "mean"), training_hours=("hours", "mean"),
        top_pick_in_table=("top_in_reference", "sum"), top_pick_table_regret=("top_reference_regret", "mean"))
    print(markdown(summary.reset_index(), 3))
    print("\nMeans over runs; training hours = seconds charged to one run (reused trainings included).\n")
    means = summary.top_pick_validated
    if "bo" in means and "rs" in means:
        per_seed = frame.pivot(index="seed", columns="strategy", values="top_validated")
        wins = int((per_seed["bo"] > per_seed["rs"]).sum())
        print(f"Does bo's validated top pick beat rs's? Mean {means['bo']:.2f} vs {means['rs']:.2f} test accuracy "
              f"({means['bo'] - means['rs']:+.2f} points), bo ahead in {wins} of {len(per_seed)} seeds.\n")
    print("## Every run's top picks\n")
    print(markdown(pd.DataFrame(picks)))


if __name__ == "__main__":
    main()
