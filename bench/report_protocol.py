"""Report of bench/fmnist_protocol.sh: for each candidate protocol's table (the same cells, two
training seeds each), the seed-to-seed agreement of the final validation accuracy and the cost.

    python bench/report_protocol.py [MACHINE=]TABLE.h5 ... > bench/results/fmnist_protocol.md

MACHINE labels where a table was trained (default `here`); a protocol trained both here and
elsewhere calibrates the other machine's seconds to this one's for the projection.
"""

import sys
from pathlib import Path

import numpy as np
from scipy import stats

from surrogate import __version__
from surrogate.tabular import Table

SHIPPED_JOBS = 1000 + 250  # the shipped table: 1,000 cells at seed 0, 250 of them again at seed 1
CORES = 2


def row(machine: str, path: Path, speed: dict[str, float]) -> dict:
    table = Table.read(path)
    config = table.attrs["training_config"]
    first, second = (table.metric("valid_acc", seed=s) for s in (0, 1))
    both = np.isfinite(first) & np.isfinite(second)
    mean = table.metric("valid_acc")
    seconds = table.metrics["job_seconds"][:, :, 0]
    job = float(np.nanmean(seconds))
    here = job * speed.get(machine, float("nan"))
    return {"protocol": path.stem, "machine": machine, "resolution": config.get("resolution") or "native",
            "train subset": config.get("subset") or config["split"]["train"], "epochs": config["epochs"],
            "batch": config["batch_size"], "C, N": f"{config['channels']}, {config['cells']}",
            "cells x seeds": f"{int(both.sum())} x 2",
            "seed-to-seed tau": f"{stats.kendalltau(first[both], second[both]).statistic:.3f}",
            "Spearman": f"{stats.spearmanr(first[both], second[both]).statistic:.3f}",
            "median valid %": f"{np.nanmedian(mean):.2f}", "best - median": f"{np.nanmax(mean) - np.nanmedian(mean):.2f}",
            "s/job (1 core, that machine)": f"{job:.1f}",
            f"shipped table on {CORES} cores here (h)": f"{SHIPPED_JOBS * here / CORES / 3600:.2f}"}


def print_rows(rows: list[dict], paths: list[Path]) -> None:
    """The rows as a markdown table, then the version and the tables they came from."""
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")
    print(f"\nsurrogate {__version__}; tables: " + ", ".join(f"`{p}`" for p in paths))


def _mean_job(path: Path) -> float:
    return float(np.nanmean(Table.read(path).metrics["job_seconds"]))


def main(args: list[str]) -> None:
    runs = [(a.partition("=")[0], Path(a.partition("=")[2])) if "=" in a else ("here", Path(a)) for a in args]
    speed = {"here": 1.0}  # seconds here per second there, from a protocol trained on both
    by_name = {(m, p.stem): p for m, p in runs}
    for machine, path in runs:
        if machine not in speed and ("here", path.stem) in by_name:
            speed[machine] = _mean_job(by_name["here", path.stem]) / _mean_job(path)
    rows = [row(m, p, speed) for m, p in runs]
    paths = [p for _, p in runs]
    print("# Fashion-MNIST protocol pilot for `nb201-fmnist`\n")
    print("Produced by `bench/fmnist_protocol.sh`: the same 50 NB201 cells (one per isomorphism class, "
          "drawn uniformly: `--archs 50 --unique`) trained with seeds 0 and 1 under each candidate protocol "
          "(`surrogate generate --dataset fashion-mnist --test-at-end --workers 2`, one torch thread per "
          "worker on the 2-core CPU machine). Valid (10,000) and test (10,000) splits are whole and fixed "
          "in every protocol; only the training split is subsampled (class-balanced) and images are "
          "average-pooled to the stated resolution. Seed-to-seed tau is Kendall's tau between the two "
          "seeds' final validation accuracy: the ceiling any predictor of one run can reach. "
          f"s/job is the mean wall time of one (cell, seed) pair (training, evaluation, costs) on the machine "
          f"that trained it; the last column projects the shipped table ({SHIPPED_JOBS} pairs) on {CORES} cores "
          "of this machine (a protocol trained on both machines calibrates the other's seconds).\n")
    print_rows(rows, paths)


if __name__ == "__main__":
    main(sys.argv[1:])
