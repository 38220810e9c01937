"""Merge the runs of bench/predictors_nb201.sh into one markdown report (stdout)."""

import json
import sys
from pathlib import Path

import pandas as pd

from surrogate.benchmark import markdown_table, summarize


def main(root: Path) -> None:
    print("# Predictor benchmark on NAS-Bench-201 (hp=12)\n")
    print("Produced by `bench/predictors_nb201.sh` (`surrogate bench predictors`, default sweep: 4 models x "
          "3 encodings x train sizes 20-400, test size 1000, 5 seeds, isomorphism-disjoint splits). "
          "Validation accuracy is the target (`*_valid_acc`); test accuracy is never used.\n")
    for metric in ("cifar10_valid_acc", "cifar100_valid_acc"):
        plain = pd.read_csv(root / metric / "results.csv")
        costs = pd.read_csv(root / f"{metric}-costs" / "results.csv")
        run = json.loads((root / metric / "run.json").read_text())
        costs_run = json.loads((root / f"{metric}-costs" / "run.json").read_text())
        a, b = summarize(plain), summarize(costs)
        print(f"## {metric}\n")
        print(f"package {run['package_version']}, input checksum `{run['input_checksum']}`, seeds {run['seeds']}, "
              f"sweep wall time {run['seconds']:.0f} s (with features: {costs_run['seconds']:.0f} s) on 2 CPU cores.\n")
        best = a.loc[a.groupby("train_size").kendall_tau.idxmax()]
        print("Best model/encoding per training-set size (encodings alone):\n")
        print("| n | best | Kendall tau | with params+FLOPs | gain |\n|---|---|---|---|---|")
        for _, row in best.iterrows():
            with_costs = b[(b.model == row.model) & (b.encoding == row.encoding) & (b.train_size == row.train_size)]
            best_costs = b[b.train_size == row.train_size].kendall_tau.max()
            tau_c = float(with_costs.kendall_tau.iloc[0])
            print(f"| {row.train_size} | {row.model}/{row.encoding} | {row.kendall_tau:.3f} ± {row.kendall_tau_std:.3f} "
                  f"| {tau_c:.3f} (best of all: {best_costs:.3f}) | {tau_c - row.kendall_tau:+.3f} |")
        print(f"\n### Encodings alone\n\nCommand: `{run['command']}`\n")
        print(markdown_table(a))
        print(f"\n### With computed params and FLOPs as extra features\n\nCommand: `{costs_run['command']}`\n")
        print(markdown_table(b))
        print()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
