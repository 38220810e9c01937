"""Report of bench/chain_fmnist_protocol.sh: for each candidate protocol's table (the same chains, two
training seeds each), the seed-to-seed agreement of the final validation accuracy, the spread of the
chains and the cost.

    python bench/report_chain_protocol.py runs/chain_fmnist_protocol/A.h5 ... > bench/results/chain_fmnist_protocol.md

s/job is the mean `job_seconds` of one (chain, seed) pair: wall seconds of one worker with one torch
thread, niced, on this project's 2-core CPU machine (shared with other work, so an upper bound).
"""

import sys
from pathlib import Path

import numpy as np
from scipy import stats

from report_protocol import CORES, SHIPPED_JOBS, print_rows  # bench/, beside this script
from surrogate.tabular import Table


def row(path: Path) -> dict:
    table = Table.read(path)
    config = table.attrs["training_config"]
    first, second = (table.metric("valid_acc", seed=s) for s in (0, 1))
    both = np.isfinite(first) & np.isfinite(second)
    mean = table.metric("valid_acc")
    job = float(np.nanmean(table.metrics["job_seconds"]))
    epoch = float(np.nanmean(np.nansum(table.metrics["epoch_seconds"], axis=2)))
    return {"protocol": path.stem, "resolution": config.get("resolution") or "native",
            "train subset": config.get("subset") or config["split"]["train"], "epochs": config["epochs"],
            "batch": config["batch_size"], "C (stem width)": config["channels"],
            "chains x seeds": f"{int(both.sum())} x 2",
            "seed-to-seed tau": f"{stats.kendalltau(first[both], second[both]).statistic:.3f}",
            "Spearman": f"{stats.spearmanr(first[both], second[both]).statistic:.3f}",
            "min / median / max valid %": f"{np.nanmin(mean):.2f} / {np.nanmedian(mean):.2f} / {np.nanmax(mean):.2f}",
            "best - median": f"{np.nanmax(mean) - np.nanmedian(mean):.2f}",
            "train s/job": f"{epoch:.1f}", "s/job": f"{job:.1f}",
            f"shipped table on {CORES} cores (h)": f"{SHIPPED_JOBS * job / CORES / 3600:.2f}"}


def main(args: list[str]) -> None:
    paths = [Path(a) for a in args]
    rows = [row(p) for p in paths]
    print("# Fashion-MNIST protocol pilot for `chain-fmnist`\n")
    print("Produced by `bench/chain_fmnist_protocol.sh`: the same NAS-Bench-Macro chains (`categorical:8x3`, "
          "identity / mb3_k3 / mb6_k5 at each of 8 positions, `--archs 50`: 50 distinct chains drawn with the "
          "generator's fixed seed) trained with seeds 0 and 1 under each candidate protocol (`surrogate generate "
          "--dataset fashion-mnist --test-at-end --workers 2`, one torch thread per worker, `nice -n 19`, on the "
          "2-core CPU machine). Valid (10,000) and test (10,000) splits are whole and fixed in every protocol; "
          "only the training split is subsampled (class-balanced) and images are average-pooled to the stated "
          "resolution. Seed-to-seed tau is Kendall's tau between the two seeds' final validation accuracy: "
          "the ceiling any predictor of one run can reach. Valid % is the two seeds' mean. train s/job is the "
          "summed `epoch_seconds` of one (chain, seed) pair, s/job its whole `job_seconds` (building, training, "
          "every evaluation, costs); both are niced wall seconds on a machine shared with other work, so upper "
          f"bounds. The last column projects the shipped table ({SHIPPED_JOBS} pairs) on {CORES} cores.\n")
    print_rows(rows, paths)


if __name__ == "__main__":
    main(sys.argv[1:])
