"""How well does a SPOS supernet rank the shipped NB201-on-digits records, and does its estimate help
the predictors as a feature? Writes OUT/supernet_spos.md and OUT/supernet_spos.json.

    python bench/supernet_digits.py [--table nb201-digits] [--epochs 30,100] [--seeds 3] [--out bench/results]

The supernet uses the table's network settings (C, N, batch size from its training_config).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from surrogate import catalog
from surrogate import __version__
from surrogate.benchmark import PredictorBenchmark, summarize
from surrogate.supernet.estimate import estimate
from surrogate.supernet.spos import SupernetConfig, load_supernet, train_supernet
from surrogate.tabular import Table
from surrogate.train.data import load


def ranks_of(values: np.ndarray) -> np.ndarray:
    """1 = best (highest); ties share the best rank."""
    return stats.rankdata(-values, method="min").astype(int)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", default="nb201-digits")
    parser.add_argument("--epochs", default="30,100")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--feature-epochs", type=int, default=30, help="supernet whose column is the feature")
    parser.add_argument("--multi-path", type=int, default=4, help="also one run (seed 0, last --epochs) with K paths per step")
    parser.add_argument("--calibration", default="1x64,2x128,4x128,4x256", help="BN calibration sizes to compare")
    parser.add_argument("--work", default="runs/bench-supernet")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    work, out = Path(args.work), Path(args.out)
    table = Table.read(catalog.resolve(args.table))
    config = table.attrs["training_config"]
    data = load(table.attrs["dataset"])
    y = table.metric("valid_acc")
    y_seed = [table.metric("valid_acc", seed=s) for s in range(table.metrics["valid_acc"].shape[1])]
    train_loss = table.metric("train_loss")
    loss_seeds = [table.metric("train_loss", seed=s) for s in range(table.metrics["train_loss"].shape[1])]
    loss_ceiling = stats.kendalltau(loss_seeds[0], loss_seeds[1]).statistic if len(loss_seeds) > 1 else float("nan")
    ceiling = stats.kendalltau(y_seed[0], y_seed[1]).statistic if len(y_seed) > 1 else float("nan")
    rows, columns = [], {}
    epoch_list = [int(e) for e in args.epochs.split(",")]
    runs = [(e, s, 1) for e in epoch_list for s in range(args.seeds)]
    runs += [(epoch_list[-1], 0, args.multi_path)] if args.multi_path > 1 else []
    for epochs, seed, paths in runs:
        cfg = SupernetConfig(space=table.space, dataset=table.attrs["dataset"], epochs=epochs,
                             channels=int(config["channels"]), cells=int(config["cells"]),
                             batch_size=int(config["batch_size"]), seed=seed, paths_per_step=paths)
        path = work / (f"spos_e{epochs}_s{seed}.pt" if paths == 1 else f"spos_e{epochs}_s{seed}_p{paths}.pt")
        document = train_supernet(cfg, data, path, progress=False)
        net, _ = load_supernet(path)
        start = time.perf_counter()
        est = estimate(net, table.archs, data, seed=0, progress=False)
        est_seconds = time.perf_counter() - start
        if paths == 1:
            columns[(epochs, seed)] = est
        score = est["acc"] - 1e-6 * est["loss"]  # accuracy, ties broken by the loss
        top = int(np.argmax(score))
        rows.append({"epochs": epochs, "seed": seed, "paths_per_step": paths, "train_seconds": round(document["seconds"], 1),
                     "estimate_seconds": round(est_seconds, 1),
                     "kendall_tau": stats.kendalltau(est["acc"], y).statistic,
                     "kendall_tau_neg_loss": stats.kendalltau(-est["loss"], y).statistic,
                     "spearman": stats.spearmanr(est["acc"], y).statistic,
                     "kendall_tau_vs_seed": [stats.kendalltau(est["acc"], ys).statistic for ys in y_seed],
                     "kendall_tau_vs_train_loss": stats.kendalltau(est["acc"], -train_loss).statistic,
                     "top_pick": table.arch_strings[top], "top_pick_true_rank": int(ranks_of(y)[top]),
                     "top_pick_valid_acc": float(y[top])})
        print(rows[-1], file=sys.stderr)
    # how many calibration images the estimate needs
    net, _ = load_supernet(work / f"spos_e{args.feature_epochs}_s0.pt")
    calibration = []
    for item in args.calibration.split(","):
        batches, size = (int(v) for v in item.split("x"))
        start = time.perf_counter()
        est = estimate(net, table.archs, data, calib_batches=batches, batch_size=size, seed=0, progress=False)
        calibration.append({"batches": batches, "batch_size": size, "seconds": round(time.perf_counter() - start, 1),
                            "kendall_tau": stats.kendalltau(est["acc"], y).statistic})
    # the estimate as a predictor of its own and as a feature
    feature = columns[(args.feature_epochs, 0)]
    with_column = table.with_metric("supernet_acc", feature["acc"])
    sizes = [50, 100, 200]
    plain = PredictorBenchmark(metric="valid_acc", models=["gp", "rf", "mlp", "supernet"], encodings=["onehot", "path"],
                               train_sizes=sizes, test_size=500, seeds=5)
    featured = PredictorBenchmark(metric="valid_acc", models=["gp", "rf", "mlp"], encodings=["onehot", "path"],
                                  train_sizes=sizes, test_size=500, seeds=5, features=["supernet_acc"])
    base = summarize(plain.run(with_column, progress=False))
    plus = summarize(featured.run(with_column, progress=False))
    lines = [
        "# SPOS supernet on the shipped NB201-on-digits records", "",
        f"Table: `{args.table}` ({table.n} NB201 cells, C={config['channels']}, N={config['cells']}, "
        f"{config['epochs']} epochs, {len(y_seed)} seeds; content {table.checksum()}). Supernet: same network, "
        f"SPOS (one uniform path per step), batch {config['batch_size']}, SGD lr 0.05 cosine, 1 CPU thread; "
        "estimate = accuracy on the 360 validation images after recalibrating BatchNorm on 4 training batches. "
        f"Command: `{shlex.join(['python', *sys.argv])}`; package {__version__}.", "",
        f"**Noise ceiling:** Kendall tau between the table's two training seeds (valid_acc) is {ceiling:.3f}: a "
        "second real training run ranks the first one that well. Against the mean of both seeds, a perfect "
        "predictor of the expected accuracy would reach roughly 0.45 (reliability of a 2-seed mean).", "",
        f"The records' train_loss is more reliable (seed-to-seed tau {loss_ceiling:.3f}); the estimate's tau against "
        "it is the `vs -train_loss` column.", "",
        "| supernet epochs | seed | paths/step | Kendall tau | tau (-loss) | Spearman | tau vs seed 0 / 1 | vs -train_loss | "
        f"top pick's true rank (of {table.n}) | its valid_acc | train s | estimate s |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['epochs']} | {r['seed']} | {r['paths_per_step']} | {r['kendall_tau']:.3f} | "
                     f"{r['kendall_tau_neg_loss']:.3f} | "
                     f"{r['spearman']:.3f} | {' / '.join(f'{t:.3f}' for t in r['kendall_tau_vs_seed'])} | "
                     f"{r['kendall_tau_vs_train_loss']:.3f} | "
                     f"{r['top_pick_true_rank']} | {r['top_pick_valid_acc']:.2f} | {r['train_seconds']} | "
                     f"{r['estimate_seconds']} |")
    for epochs in sorted({r["epochs"] for r in rows}):
        sel = [r for r in rows if r["epochs"] == epochs and r["paths_per_step"] == 1]
        lines.append(f"| **{epochs} (mean)** | | 1 | **{np.mean([r['kendall_tau'] for r in sel]):.3f}** | "
                     f"{np.mean([r['kendall_tau_neg_loss'] for r in sel]):.3f} | "
                     f"{np.mean([r['spearman'] for r in sel]):.3f} | | "
                     f"{np.mean([r['kendall_tau_vs_train_loss'] for r in sel]):.3f} | "
                     f"{np.median([r['top_pick_true_rank'] for r in sel]):g} (median) | | | |")
    lines += ["", f"BatchNorm calibration size ({args.feature_epochs}-epoch seed-0 supernet, all {table.n} cells): "
              + "; ".join(f"{c['batches']} x {c['batch_size']} images: tau {c['kendall_tau']:.3f} ({c['seconds']} s)"
                          for c in calibration) + "."]
    lines += ["", f"## The estimate in `bench predictors` (supernet: {args.feature_epochs} epochs, seed 0)", "",
              "Isomorphism-disjoint splits, 5 seeds, test 500. `supernet` = the column itself (zero-shot); "
              "`+supernet_acc` = the column appended to the encoding.", "",
              "| model | encoding | " + " | ".join(f"tau @{n}" for n in sizes) + " | " +
              " | ".join(f"tau @{n} +supernet_acc" for n in sizes) + " |", "|---|---|" + "---|" * (2 * len(sizes))]
    for (model, encoding), group in base.groupby(["model", "encoding"], sort=False):
        other = plus[(plus.model == model) & (plus.encoding == encoding)]
        with_feature = [f"{v:.3f}" for v in other.kendall_tau] if len(other) else ["-"] * len(sizes)
        lines.append(f"| {model} | {encoding} | " + " | ".join(f"{v:.3f}" for v in group.kendall_tau) + " | " +
                     " | ".join(with_feature) + " |")
    at100 = base[(base.train_size == 100) & (base.model != "supernet")]
    at100_plus = plus[plus.train_size == 100]
    best, best_plus = at100.kendall_tau.max(), at100_plus.kendall_tau.max()
    lines += ["", f"Best predictor at 100 training architectures: {best:.3f} without the column, {best_plus:.3f} with "
              f"it ({best_plus - best:+.3f}).", ""]
    out.mkdir(parents=True, exist_ok=True)
    (out / "supernet_spos.md").write_text("\n".join(lines))
    (out / "supernet_spos.json").write_text(json.dumps({
        "package_version": __version__, "command": shlex.join(["python", *sys.argv]), "input": args.table,
        "input_checksum": table.checksum(), "dataset_checksum": data.checksum, "seed_ceiling_tau": ceiling,
        "train_loss_seed_ceiling_tau": loss_ceiling, "runs": rows, "calibration": calibration, "best_tau_at_100": best, "best_tau_at_100_with_supernet": best_plus,
        "predictors": base.to_dict("records"), "predictors_with_supernet": plus.to_dict("records")}, indent=2, default=float))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
