"""bench/results/rnn.md from the rnn-shakespeare table and the --json documents of bench/rnn.sh.

Usage: python bench/report_rnn.py TABLE runs/rnn-bench > bench/results/rnn.md

A `## Reading` section of the existing bench/results/rnn.md (the analysis written from the numbers)
is carried over unchanged.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from surrogate import __version__
from surrogate.catalog import resolve
from surrogate.spaces import get_space
from surrogate.tabular import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_out_of_the_box import per_seed, provenance  # noqa: E402  (runs' regrets; commands, seeds, checksums)

RESULT = Path("bench/results/rnn.md")


def signal(table: Table) -> tuple[list[str], float]:
    """The table's seed-to-seed agreement and spread, measured on the table itself."""
    valid = table.metrics["valid_bpc"][:, :, -1]
    test = table.metrics["test_bpc"][:, :, -1]
    twice = np.isfinite(valid).all(axis=1)
    tau = float(stats.kendalltau(valid[twice, 0], valid[twice, 1]).statistic)
    rho = float(stats.spearmanr(valid[twice, 0], valid[twice, 1]).statistic)
    mean, test_mean = table.metric("valid_bpc"), table.metric("test_bpc")
    q = np.nanquantile(mean, [0, 0.1, 0.5, 0.9, 1])
    noise = float(np.nanstd(valid[twice, 0] - valid[twice, 1]) / np.sqrt(2))
    seconds = table.metrics["job_seconds"][:, :, 0]
    classes = len(np.unique(get_space(table.space).canonical_ids(table.archs)))
    lines = ["| measure | value |", "|---|---|",
             f"| architectures | {table.n} ({classes} isomorphism classes); {int(twice.sum())} trained with 2 seeds |",
             f"| seed-to-seed Kendall tau of final `valid_bpc` ({int(twice.sum())} cells) | **{tau:.3f}** "
             f"(Spearman {rho:.3f}) |",
             f"| `valid_bpc` (seed mean): best / 10% / median / 90% / worst | " + " / ".join(f"{v:.3f}" for v in q) + " |",
             f"| best-to-median spread | {q[2] - q[0]:.3f} bpc ({(q[2] - q[0]) / noise:.1f} x the noise of one training, "
             f"{noise:.3f} bpc: the std of a seed difference / sqrt 2) |",
             f"| Kendall tau, seed-mean `valid_bpc` vs `test_bpc` | "
             f"{stats.kendalltau(mean, test_mean, nan_policy='omit').statistic:.3f} |",
             f"| diverged trainings | {int(np.nansum(table.metrics['diverged']))} |",
             f"| seconds per training (training, evaluation, costs; 2 workers on 2 cores) | "
             f"{np.nanmean(seconds):.1f} (sum {np.nansum(seconds) / 3600:.2f} core-hours) |",
             f"| params / MACs per character | {np.nanmin(table.metric('params')):,.0f} / "
             f"{np.nanmin(table.metric('flops')):,.0f} (the same for every cell: each node has one "
             "weight matrix whatever its input and activation) |"]
    return lines, tau


def predictors(out: Path, tau_table: float) -> list[str]:
    doc = out / "predictors.json"
    if not doc.is_file():
        return ["(not run)"]
    results = pd.DataFrame(json.loads(doc.read_text())["results"])
    at100 = results[results.train_size == 100].sort_values("kendall_tau", ascending=False)
    lines = ["| model | encoding | n | Kendall tau (mean ± std over 5 splits) | precision@top-5% | NLL |",
             "|---|---|---|---|---|---|"]
    for r in at100.head(8).itertuples():
        lines.append(f"| {r.model} | {r.encoding} | {r.train_size} | {r.kendall_tau:.3f} ± {r.kendall_tau_std:.3f} | "
                     f"{r.precision_top5pct:.2f} | {r.nll:.3g} |")
    best = at100.iloc[0]
    by_encoding = at100.groupby("encoding").kendall_tau.max().sort_values(ascending=False)
    lines += ["", f"Best at n = 100: {best.model}/{best.encoding}, tau {best.kendall_tau:.3f} = "
              f"{best.kendall_tau / tau_table:.2f} x the table's seed-to-seed tau ({tau_table:.3f}); target >= 0.80 x. "
              "Best tau per encoding at n = 100: " + ", ".join(f"{e} {v:.3f}" for e, v in by_encoding.items()) + "."]
    return lines


def search(out: Path) -> list[str]:
    doc = out / "search.json"
    if not doc.is_file():
        return ["(not run)"]
    document = json.loads(doc.read_text())
    budget = document["results"][0]["budget"]
    speed = {r["strategy"]: r["seconds_per_query"] for r in document["results"]}
    runs = per_seed(out / "search").fillna({"hit": budget + 1})
    lines = [f"Objective {document['objectives'][0]}; the table's best valid_bpc {document['optimum']:.4f}.", "",
             "| strategy | seeds | found optimum | median queries to optimum | regret@50 (mean ± std) | "
             "regret@100 (mean ± std) | s/query |", "|---|---|---|---|---|---|---|"]
    for strategy, r in runs.groupby("strategy", sort=False):
        lines.append(f"| {strategy} | {len(r)} | {(r.hit <= budget).sum()}/{len(r)} | {np.median(r.hit):g} | "
                     f"{r.r50.mean():.4f} ± {r.r50.std():.4f} | {r.r100.mean():.4f} ± {r.r100.std():.4f} | "
                     f"{speed[strategy]:.3f} |")
    bo = runs[runs.strategy == "bo"].r50
    for other in ("rs", "reinforce"):
        theirs = runs[runs.strategy == other].r50
        if len(bo) and len(theirs):
            test = stats.mannwhitneyu(bo, theirs, alternative="less")
            lines.append(f"\nbo's regret@50 below {other}'s: {bo.mean():.4f} vs {theirs.mean():.4f} "
                         f"(one-sided Mann-Whitney p = {test.pvalue:.3g} over the seeds).")
    return lines


def live(out: Path, table: Table) -> list[str]:
    doc = out / "live.json"
    if not doc.is_file():
        return ["(not run)"]
    document = json.loads(doc.read_text())
    run = json.loads((out / "live" / "run.json").read_text())
    test = table.metric("test_bpc")
    valid = table.metric("valid_bpc")
    lines = ["| strategy | seed | top pick | search valid_bpc | validated test_bpc (train+valid) |", "|---|---|---|---|---|"]
    for v in document["validated"]:
        lines.append(f"| {v['strategy']} | {v['seed']} | `{v['arch']}` | {v['search_value']:.4f} | "
                     f"{v['validated_value']:.4f} |")
    rows = pd.DataFrame(document["validated"])
    lines += ["", "| strategy | mean validated test_bpc of top pick | best validated of top 2 | training min per run |",
              "|---|---|---|---|"]
    for r in document["results"]:
        mine = rows[rows.strategy == r["strategy"]].groupby("seed").validated_value
        lines.append(f"| {r['strategy']} | {mine.first().mean():.4f} | {mine.min().mean():.4f} | "
                     f"{r['train_seconds'] / r['seeds'] / 60:.1f} |")
    best = int(np.nanargmin(valid))
    lines += ["", f"The table (trained on train only, 1 seed mean): best-valid cell's test_bpc {test[best]:.4f}, "
              f"median test_bpc {np.nanmedian(test):.4f}, best test_bpc {np.nanmin(test):.4f}. "
              f"Validated picks: mean {rows.validated_value.mean():.4f}. Wall time {run['seconds'] / 60:.1f} min."]
    return lines


def cell_encodings(folder: Path = Path("runs/cell-bo")) -> list[str]:
    """bench/cell_bo_encoding.sh: bo with path (the old default on cell spaces without features)
    against graf (the default since), 20 seeds x 100 queries, `--features none`."""
    lines = ["| table | bo encoding | found optimum | median queries to optimum | regret@50 (mean ± std) | "
             "regret@100 (mean ± std) |", "|---|---|---|---|---|---|"]
    measured = set()
    for doc in sorted(folder.glob("*.json")):
        table, encoding = doc.stem.rsplit("-", 1)
        measured.add(table)
        r = per_seed(folder / doc.stem).fillna({"hit": 101})
        lines.append(f"| {table} | {encoding} | {(r.hit <= 100).sum()}/{len(r)} | {np.median(r.hit):g} | "
                     f"{r.r50.mean():.4f} ± {r.r50.std():.4f} | {r.r100.mean():.4f} ± {r.r100.std():.4f} |")
    carried = [row for row in _previous_section("## bo's encoding") if row.startswith("| ")
               and row.split("|")[1].strip().rstrip(" *") not in measured | {"table"}]
    lines += [row if row.split("|")[1].strip().endswith("*") else row.replace(" |", " * |", 1) for row in carried]
    if carried:
        lines += ["", "\\* carried over from the previous bench/results/rnn.md: that table's runs were not in "
                  f"{folder} this time (a change to rnn-shakespeare does not move them)."]
    return lines if len(lines) > 2 else ["(not run)"]


def _previous_section(title: str) -> list[str]:
    """The lines of a `##` section of the existing bench/results/rnn.md (empty when absent)."""
    text = RESULT.read_text() if RESULT.is_file() else ""
    return text.split(title, 1)[1].split("\n## ", 1)[0].splitlines() if title in text else []


def reading() -> list[str]:
    lines = _previous_section("## Reading")
    return [("## Reading" + "\n".join(lines)).rstrip(), ""] if lines else []


def main(name: str, out: str) -> None:
    out = Path(out)
    table = Table.read(resolve(name))
    rows, tau = signal(table)
    text = ["# Recurrent cells: rnn-shakespeare", "",
            f"Produced by `bench/rnn.sh` (surrogate {__version__}) on {os.cpu_count()} CPU cores, "
            f"{datetime.now(timezone.utc).date()}; table {name} (content checksum {table.checksum()}).", "",
            "## The table's signal", "", *rows, "",
            "## Predictors (`surrogate bench predictors rnn-shakespeare --metric valid_bpc`)", "",
            *predictors(out, tau), "",
            "## Search on the table (20 seeds x 100 queries, `--metric valid_bpc`: minimised, as the table records)", "",
            *search(out), "",
            "## bo's encoding on cell spaces without feature columns (`bench/cell_bo_encoding.sh`)", "",
            "Every cell table shipped, as a user without proxy columns runs it (`--features none`), 20 seeds x "
            "100 queries; `path` was bo's default there until 2026-12-07, `graf` is since.", "", *cell_encodings(), "",
            "## Live search (`--space rnn-cell:8 --dataset shakespeare`, the table's protocol)", "",
            *live(out, table), "", *reading(), "## Runs", "", *provenance(out), ""]
    sys.stdout.write("\n".join(text))


if __name__ == "__main__":
    main(*sys.argv[1:3])
