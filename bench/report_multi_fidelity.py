"""bench/results/multi_fidelity.md (and a figure per table) from bench/multi_fidelity.sh's and
bench/pbt.sh's runs: regret at fractions of a budget of training seconds (mean, std and quartiles
over seeds), epochs trained, the issue's three comparisons, 4 simulated workers against 1, and
population-based training against random search. Sections after "## Reading" are kept as written, and
so is every section whose runs this machine does not hold."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from surrogate.search import DEFAULT_STRATEGIES  # noqa: E402
from surrogate.search.report import BUDGET_FRACTIONS, regret_at_fraction  # noqa: E402

RUNS = ROOT / "runs" / "multi-fidelity"
PBT = ROOT / "runs" / "pbt-bench"
OUT = ROOT / "bench" / "results" / "multi_fidelity.md"
FULL = ("rs", "bo")  # whole trainings only


def per_run(folder: Path) -> tuple[pd.DataFrame, dict]:
    """Each (strategy, seed)'s regret at every budget fraction, and the campaign's run.json."""
    run = json.loads((folder / "run.json").read_text())
    budget = run["campaign"]["budget_seconds"]
    t = pd.read_csv(folder / "trajectories.csv")
    rows = []
    for (strategy, seed), r in t.groupby(["strategy", "seed"], sort=False):
        rows.append({"strategy": strategy, "seed": seed, "epochs": r.epochs_trained.sum(), "jobs": len(r),
                     "archs": r.arch.nunique(),
                     **{f: regret_at_fraction(r, float(f), len(r), budget) for f in BUDGET_FRACTIONS}})
    return pd.DataFrame(rows), run


def fmt(values: pd.Series) -> str:
    v = values.to_numpy(dtype=np.float64)
    if not np.isfinite(v).all():
        return f"n/a ({int(np.isfinite(v).sum())}/{len(v)} runs)"
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"


def verdict(a: pd.Series, b: pd.Series) -> str:
    """a's regret against b's: lower, higher, or within noise (the difference under twice its standard error)."""
    a, b = a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return "n/a"
    diff = a.mean() - b.mean()
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    word = "within noise" if abs(diff) < 2 * se else ("lower" if diff < 0 else "higher")
    return f"{word} ({a.mean():.3f} vs {b.mean():.3f}, difference {diff:+.3f} ± {se:.3f})"


def figure(folder: Path, run: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budget = run["campaign"]["budget_seconds"]
    t = pd.read_csv(folder / "trajectories.csv")
    grid = np.linspace(0, budget, 201)[1:]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for k, (strategy, runs) in enumerate(t.groupby("strategy", sort=False)):
        curves = []
        for _, r in runs.groupby("seed"):
            idx = np.searchsorted(r.simulated_seconds.to_numpy(), grid, side="right") - 1
            regret = np.where(idx >= 0, r.regret.to_numpy()[np.maximum(idx, 0)], np.nan)
            curves.append(regret)
        curves = np.array(curves)
        med = np.nanmedian(np.where(np.isnan(curves), np.inf, curves), axis=0)
        ax.plot(grid / budget, np.where(np.isfinite(med), med, np.nan), label=strategy,
                linestyle=["-", "--", "-.", ":"][k % 4], linewidth=1.8)
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_xlabel("fraction of the budget of training seconds (simulated)")
    ax.set_ylabel("regret (median over seeds)")
    ax.set_title(f"{run['dataset']}: budget {budget:g} s = 100 whole trainings")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table_section(name: str) -> list[str]:
    folder = RUNS / name
    if not (folder / "run.json").exists():
        return [f"## {name}", "", "(not run yet)", ""]
    frame, run = per_run(folder)
    budget = run["campaign"]["budget_seconds"]
    lines = [f"## {name}", "", f"Command: `{run['command']}`", "",
             f"Input checksum {run['input_checksum']}; seeds 0..{len(run['seeds']) - 1}; package {run['package_version']}. "
             f"Budget {budget:g} s of simulated training per run (100 x the table's mean whole-training seconds). "
             "Regret: the table's best valid_acc minus the best *whole* training found by then; mean ± std over seeds "
             "(n/a: some run had not finished a whole training by then).", "",
             "| strategy | " + " | ".join(f"regret@{float(f):.0%}" for f in BUDGET_FRACTIONS)
             + " | jobs | architectures | epochs trained |", "|---" * (len(BUDGET_FRACTIONS) + 4) + "|"]
    for strategy, g in frame.groupby("strategy", sort=False):
        lines.append(f"| {strategy} | " + " | ".join(fmt(g[f]) for f in BUDGET_FRACTIONS)
                     + f" | {g.jobs.mean():.0f} | {g.archs.mean():.0f} | {g.epochs.mean():.0f} |")
    png = OUT.with_name(f"multi_fidelity_{name}.png")
    figure(folder, run, png)
    lines += ["", f"![regret against simulated seconds]({png.name})", ""]
    means = frame.groupby("strategy", sort=False)[list(BUDGET_FRACTIONS)].mean()
    default = DEFAULT_STRATEGIES["fidelity"][0]
    partial = [s for s in means.index if s not in FULL]
    best = min(partial, key=lambda s: (means.loc[s, "0.25"], means.loc[s, "1.0"]))
    rs = frame[frame.strategy == "rs"]["1.0"]
    mine = lambda f: frame[frame.strategy == default][f]  # noqa: E731
    lines += [f"Checks for the default multi-fidelity strategy, **{default}** (means over seeds; \"within noise\": the "
              "difference is under twice its standard error). Lowest regret at 25 % among the multi-fidelity "
              f"strategies: {best} ({means.loc[best, '0.25']:.3f}).", "",
              f"- {default} at 25 % against full-training rs at 100 %: {mine('0.25').mean():.3f} vs {rs.mean():.3f}: "
              f"{verdict(mine('0.25'), rs)}"]
    for peer in ("asha", "tpe-hb"):
        if peer in means.index:
            cells = [f"{float(f):.0%} {verdict(mine(f), frame[frame.strategy == peer][f])}" for f in ("0.25", "0.5", "1.0")]
            lines.append(f"- {default} against {peer}: " + "; ".join(cells))
    parallel = RUNS / f"{name}-w4"
    if (parallel / "run.json").exists():
        w4, run4 = per_run(parallel)
        lines += ["", f"4 simulated asynchronous workers, same total seconds (`{run4['command']}`):", "",
                  "| strategy | workers | " + " | ".join(f"regret@{float(f):.0%}" for f in BUDGET_FRACTIONS) + " |",
                  "|---" * (len(BUDGET_FRACTIONS) + 2) + "|"]
        verdicts = []
        for strategy, g in w4.groupby("strategy", sort=False):
            one = frame[frame.strategy == strategy]
            lines.append(f"| {strategy} | 1 | " + " | ".join(fmt(one[f]) for f in BUDGET_FRACTIONS) + " |")
            lines.append(f"| {strategy} | 4 | " + " | ".join(fmt(g[f]) for f in BUDGET_FRACTIONS) + " |")
            verdicts.append(f"- {strategy}, 4 workers against 1: " + "; ".join(
                f"{float(f):.0%} {verdict(g[f], one[f]).split(' (')[0]}" for f in BUDGET_FRACTIONS))
        lines += ["", *verdicts]
    return lines + [""]


def pbt_section() -> list[str]:
    runs = sorted(PBT.glob("*.json"))
    if not runs:
        return ["## Population-based training", "", "(not run yet)", ""]
    rows = {}
    for path in runs:
        doc = json.loads(path.read_text())
        kind, seed = path.stem.split("-seed")
        rows[kind, int(seed)] = doc
    seeds = sorted({s for _, s in rows})
    first = next(iter(rows.values()))
    lines = ["## Population-based training", "", f"Command (seed 0): `{rows.get(('pbt', 0), first)['command']}`; the "
             "baseline adds `--no-explore` (random search over the same ranges: every member trained alone, equal "
             f"epochs). Dataset checksum {first['input_checksum']}; package {first['package_version']}.", "",
             "| seed | pbt valid_acc | pbt test_acc | rs valid_acc | rs test_acc | pbt >= rs (test) |", "|---|---|---|---|---|---|"]
    for seed in seeds:
        p, r = rows.get(("pbt", seed)), rows.get(("rs", seed))
        if p is None or r is None:
            continue
        lines.append(f"| {seed} | {p['best']['valid_acc']:.2f} | {p['best']['test_acc']:.2f} | {r['best']['valid_acc']:.2f} "
                     f"| {r['best']['test_acc']:.2f} | {'yes' if p['best']['test_acc'] >= r['best']['test_acc'] else 'no'} |")
    return lines + [""]


def live_section() -> list[str]:
    folder = Path(os.environ.get("LIVE_MF", ROOT / "runs" / "live-mf"))  # bench/live_multi_fidelity.sh's OUT
    if not ((folder / "rs.json").exists() and (folder / "mf.json").exists()):
        return ["## Live on Fashion-MNIST", "", "(not run yet)", ""]
    rows, commands, walls = [], [], {}
    for kind in ("rs", "mf", "mf-wall"):
        if not (folder / f"{kind}.json").exists():
            continue
        run = json.loads((folder / kind / "run.json").read_text())
        walls[kind] = run["seconds"]
        doc = json.loads((folder / f"{kind}.json").read_text())
        t = pd.read_csv(folder / kind / "trajectories.csv")
        commands.append(f"`{run['command']}`")
        for seed, r in t.groupby("seed"):
            picked = [v for v in doc["validated"] if v["seed"] == seed]
            rows.append({"kind": kind, "strategy": r.strategy.iloc[0], "seed": seed, "jobs": len(r),
                         "archs": r.arch.nunique(), "whole": int((r.epochs == r.epochs.max()).sum()) if "epochs" in r
                         else len(r), "seconds": r.simulated_seconds.iloc[-1],
                         "validated": picked[0]["validated_value"] if picked else np.nan})
    frame = pd.DataFrame(rows)
    lines = ["## Live on Fashion-MNIST", "", "Commands (`bench/live_multi_fidelity.sh`): " + "; then ".join(commands)
             + ". The second's --budget-seconds is the first's mean training seconds per run; the third's is that "
             "scaled by rs's campaign wall seconds over the second's. nb201-fmnist's protocol, 2 workers, this "
             "machine's CPU (conditions: the Reading section). Validated: each run's top pick (among whole "
             "trainings) retrained on train+valid, test accuracy. Campaign wall seconds (3 runs and their "
             "validation): " + ", ".join(f"{k} {v:.0f}" for k, v in walls.items()) + ".", "",
             "| campaign | strategy | seed | jobs | architectures | whole trainings | training s | validated test_acc of top pick |",
             "|---|---|---|---|---|---|---|---|"]
    for r in frame.itertuples():
        lines.append(f"| {r.kind} | {r.strategy} | {r.seed} | {r.jobs} | {r.archs} | {r.whole} | {r.seconds:.0f} "
                     f"| {r.validated:.2f} |")
    rs = frame[frame.kind == "rs"].set_index("seed")
    lines.append("")
    for kind in ("mf", "mf-wall"):
        mf = frame[frame.kind == kind].set_index("seed")
        if len(mf):
            ratio = mf.archs.mean() / rs.archs.mean()
            better = int((mf.validated >= rs.validated).sum())
            lines.append(f"- {kind}: architectures evaluated {ratio:.1f}x rs's (target >= 3x: "
                         f"{'met' if ratio >= 3 else 'not met'}); validated top pick at least as good as rs's in "
                         f"{better}/{len(rs)} seeds (target: every seed)")
    return lines + [""]


def _sections(text: str) -> dict[str, str]:
    """The file's "## " sections by title, each with its text up to the next one."""
    parts = ("\n" + text).split("\n## ")[1:]
    return {part.split("\n", 1)[0]: "## " + part.rstrip("\n") + "\n" for part in parts}


def main() -> None:
    """Sections whose runs are not on this machine (runs/ is not committed) are kept as written, so
    rerunning one table's benchmark regenerates only its own section."""
    old = _sections(OUT.read_text()) if OUT.exists() else {}
    kept = old.pop("Reading", "")
    names = sorted(p.name for p in RUNS.iterdir() if p.is_dir() and not p.name.endswith("-w4")) if RUNS.exists() else []
    new = {section[0][3:]: "\n".join(section) for section in
           [table_section(n) for n in names] + [live_section(), pbt_section()]}
    new = {title: text for title, text in new.items() if "(not run yet)" not in text or title not in old}
    tables = sorted(t for t in {**old, **new} if t not in ("Live on Fashion-MNIST", "Population-based training"))
    lines = ["# Multi-fidelity search, simulated on tables; population-based training, live", "",
             "Made by `bench/multi_fidelity.sh` and `bench/pbt.sh`, then `bench/report_multi_fidelity.py`. "
             "Machine: this project's 2-core CPU machine (the simulations need no GPU; PBT trains on the CPU).", ""]
    for title in [*tables, "Live on Fashion-MNIST", "Population-based training"]:
        text = new.get(title, old.get(title))
        if text is not None:
            lines.append(text.rstrip("\n") + "\n")
    OUT.write_text("\n".join(lines) + ("\n" + kept if kept else ""))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
