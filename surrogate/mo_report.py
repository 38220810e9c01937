"""What a multi-objective campaign reports (`surrogate.mo_campaign`): per-strategy summaries (the
`--json` fields), the markdown table, the Pareto and hypervolume figures, `pareto.csv` and
`run.json`. Reads trajectories and the campaign's `Truth`; runs nothing."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from surrogate import pareto
from surrogate._io import atomic_write, run_record, save_figure

if TYPE_CHECKING:
    from surrogate.mo_campaign import MOCampaign, Truth

#: pseudo-strategies of pareto.csv: the table's true front; live, the front of every run combined.
TRUE_FRONT, COMBINED_FRONT = "true front", "combined front"
#: the hypervolume ratio (or regret) is reported at these steps and at the budget.
REPORT_STEPS = (50, 100, 150)
MO_JSON_FIELDS = ("strategy", "seeds", "budget", "hypervolume_ratio_at", "found_front_fraction", "seconds_per_query")
SO_JSON_FIELDS = ("strategy", "seeds", "budget", "regret_at", "found_optimum", "median_queries_to_optimum",
                  "seconds_per_query")


# --- summaries ------------------------------------------------------------------------------------
def report_steps(budget: int) -> list[int]:
    return sorted(set(REPORT_STEPS) | {budget})


def _at(run: pd.DataFrame, column: str, step: int) -> float:
    return float(run[column].iloc[step - 1]) if step <= len(run) else np.nan


def _mean(values: Sequence[float]) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    return None if not np.isfinite(values).any() else float(np.nanmean(values))


def found_front(run: pd.DataFrame, truth: Truth) -> pd.DataFrame:
    """The run's feasible non-dominated rows (distinct objective vectors, first found)."""
    Y = truth.objectives(run[list(truth.oracle.columns)].to_numpy(dtype=np.float64))
    keep = np.isfinite(Y).all(axis=1)
    keep[keep] = pareto.non_dominated(Y[keep])
    rows = run[keep]
    return rows[~pd.DataFrame(Y[keep]).duplicated().to_numpy()]


def summarize(trajectories: pd.DataFrame, truth: Truth, campaign: MOCampaign) -> list[dict]:
    """One dict per strategy: the `--json` fields (means over seeds) and a few for the report."""
    results = []
    steps = report_steps(campaign.budget)
    columns = list(truth.oracle.columns)
    for strategy, runs in trajectories.groupby("strategy", sort=False):
        runs = [run.sort_values("step") for _, run in runs.groupby("seed")]
        common = {"strategy": strategy, "seeds": len(runs), "budget": campaign.budget,
                  "seconds_per_query": float(np.mean([run.seconds_per_query.iloc[0] for run in runs]))}
        if not truth.known:  # live: what was found, and the training it cost (summed over seeds)
            common["train_seconds"] = float(sum(np.nan_to_num(r.simulated_seconds.iloc[-1]) for r in runs))
        if truth.problem.m == 1 and not truth.known:
            results.append({**common, "regret_at": {str(s): None for s in steps}, "found_optimum": None,
                            "median_queries_to_optimum": None, "best_mean": _mean([r.best_so_far.iloc[-1] for r in runs])})
            continue
        if not truth.known:
            finals = [float(r.hypervolume.iloc[-1]) for r in runs]
            median_run = runs[int(np.argsort(finals, kind="stable")[(len(finals) - 1) // 2])]
            results.append({**common, "hypervolume_ratio_at": {str(s): None for s in steps},
                            "found_front_fraction": None, "median_seed": int(median_run.seed.iloc[0]),
                            "hypervolume_at": {str(s): _mean([_at(r, "hypervolume", s) for r in runs]) for s in steps},
                            "hypervolume_quartiles": [float(q) for q in np.quantile(finals, [0.25, 0.5, 0.75])],
                            "front_size": float(np.mean([len(found_front(r, truth)) for r in runs]))})
            continue
        if truth.problem.m == 1:
            hits = []
            for run in runs:
                reached = np.flatnonzero(run.regret.to_numpy() <= 0)
                hits.append(int(run.step.iloc[reached[0]]) if len(reached) else campaign.budget + 1)
            results.append({**common, "regret_at": {str(s): _mean([_at(r, "regret", s) for r in runs]) for s in steps},
                            "found_optimum": int(sum(h <= campaign.budget for h in hits)),
                            "median_queries_to_optimum": float(np.median(hits)),
                            "best_mean": _mean([r.best_so_far.iloc[-1] for r in runs])})
            continue
        fractions = [pareto.found_front_fraction(truth.objectives(r[columns].to_numpy(dtype=np.float64)), truth.front)
                     for r in runs]
        finals = [float(r.hypervolume_ratio.iloc[-1]) for r in runs]
        median_run = runs[int(np.argsort(finals, kind="stable")[(len(finals) - 1) // 2])]
        results.append({**common,
                        "hypervolume_ratio_at": {str(s): _mean([_at(r, "hypervolume_ratio", s) for r in runs])
                                                 for s in steps},
                        "found_front_fraction": float(np.mean(fractions)),
                        "median_seed": int(median_run.seed.iloc[0]),
                        "hypervolume_ratio_quartiles": [float(q) for q in np.quantile(finals, [0.25, 0.5, 0.75])]})
    return results


def json_document(truth: Truth, results: list[dict]) -> dict:
    """The `--json` contract: the problem, then exactly the per-strategy fields."""
    p = truth.problem
    head = {"objectives": [str(o) for o in p.objectives], "constraints": [str(c) for c in p.constraints]}
    if p.m == 1:  # live: no optimum is known
        return {**head, "optimum": truth.optimum * p.signs[0] if truth.known else None,
                "results": [{k: r[k] for k in SO_JSON_FIELDS} for r in results]}
    return {**head, "ref_point": None if truth.ref is None else (truth.ref * p.signs).tolist(),
            "true_front_size": len(truth.front) if truth.known else None,
            "results": [{k: r[k] for k in MO_JSON_FIELDS} for r in results]}


def markdown_summary(results: list[dict], truth: Truth, budget: int) -> str:
    steps = [s for s in report_steps(budget) if s <= budget]
    f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    g = lambda v: "-" if v is None else f"{v:.4g}"  # noqa: E731  (a hypervolume: objective units multiplied)
    minutes = lambda r: f"{r['train_seconds'] / r['seeds'] / 60:.1f}"  # noqa: E731
    if truth.problem.m == 1 and not truth.known:
        header = ["strategy", "seeds", "best feasible (mean)", "s/query", "training min"]
        rows = [[r["strategy"], str(r["seeds"]), f(r["best_mean"]), f"{r['seconds_per_query']:.3f}", minutes(r)]
                for r in results]
    elif not truth.known:
        header = ["strategy", "seeds", *[f"HV@{s}" for s in steps], "final HV (quartiles)", "front size",
                  "s/query", "training min"]
        rows = [[r["strategy"], str(r["seeds"]), *[g(r["hypervolume_at"][str(s)]) for s in steps],
                 " / ".join(g(q) for q in r["hypervolume_quartiles"]), f"{r['front_size']:.1f}",
                 f"{r['seconds_per_query']:.3f}", minutes(r)] for r in results]
    elif truth.problem.m == 1:
        header = ["strategy", "seeds", "found optimum", "median queries to optimum", *[f"regret@{s}" for s in steps],
                  "s/query"]
        rows = [[r["strategy"], str(r["seeds"]), f"{r['found_optimum']}/{r['seeds']}",
                 f"{r['median_queries_to_optimum']:g}",
                 *[f(r["regret_at"][str(s)]) for s in steps], f"{r['seconds_per_query']:.3f}"] for r in results]
    else:
        header = ["strategy", "seeds", *[f"HV ratio@{s}" for s in steps], "final HV ratio (quartiles)",
                  "front found", "s/query"]
        rows = [[r["strategy"], str(r["seeds"]), *[f(r["hypervolume_ratio_at"][str(s)]) for s in steps],
                 " / ".join(f"{q:.3f}" for q in r["hypervolume_ratio_quartiles"]),
                 f"{r['found_front_fraction']:.2f}", f"{r['seconds_per_query']:.3f}"] for r in results]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


# --- plots ----------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_hypervolume(trajectories: pd.DataFrame, path: Path, title: str, column: str = "hypervolume_ratio") -> None:
    """Median and quartiles of the hypervolume ratio (live: of the hypervolume found, `column`
    "hypervolume") per strategy against queries."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = ["-", "--", "-.", ":"]
    lowest = 1.0
    for k, (strategy, runs) in enumerate(trajectories.groupby("strategy", sort=False)):
        ratio = runs.pivot(index="step", columns="seed", values=column)
        q1, med, q3 = (ratio.quantile(q, axis=1) for q in (0.25, 0.5, 0.75))
        line, = ax.plot(ratio.index, med, label=strategy, linestyle=styles[k % 4], linewidth=2.2 - 0.3 * (k % 4),
                        zorder=3 + k)
        ax.fill_between(ratio.index, q1, q3, alpha=0.2, color=line.get_color())
        lowest = min(lowest, float(med.iloc[len(med) // 10]))
    if column == "hypervolume_ratio":
        ax.set_ylim(max(0.0, lowest - 0.02), 1.005)
    else:
        ax.set_ylim(bottom=0.0)
    ax.set_xlabel("queries")
    ax.set_ylabel(f"{column.replace('_', ' ')} (median, quartiles)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)


def plot_fronts(pareto_rows: pd.DataFrame, truth: Truth, path: Path, title: str) -> None:
    """The true front (live: the front of every run combined) and each strategy's median-run
    front, objective 0 against each other one, within the reference point; a positive `min`
    objective (a cost) on a log axis."""
    plt = _pyplot()
    objectives = truth.problem.objectives
    front = truth.front if truth.known else truth.combined
    fig, axes = plt.subplots(1, len(objectives) - 1, figsize=(6.5 * (len(objectives) - 1), 4.8), squeeze=False)
    markers = ["o", "s", "^", "D", "v", "P"]
    for j, ax in enumerate(axes[0], start=1):
        x_name, y_name = objectives[j].name, objectives[0].name
        for k, (strategy, rows) in enumerate(pareto_rows.groupby("strategy", sort=False)):
            rows = rows.sort_values(x_name)
            true = strategy in (TRUE_FRONT, COMBINED_FRONT)
            # the attainment staircase: between two front points the better value holds until the next one
            where = "pre" if objectives[j].maximize == objectives[0].maximize else "post"
            if true:
                ax.step(rows[x_name], rows[y_name], where=where, color="0.6", linewidth=1, zorder=1)
                ax.scatter(rows[x_name], rows[y_name], s=70, facecolors="none", edgecolors="black", zorder=2,
                           label=f"{strategy} ({len(rows)})")
            else:
                ax.step(rows[x_name], rows[y_name], where=where, linewidth=1.2, alpha=0.9,
                        marker=markers[k % len(markers)], markersize=4, zorder=3 + k,
                        label=f"{strategy} (median run, seed {int(rows.seed.iloc[0])})")
        values = pareto_rows[x_name].to_numpy(dtype=np.float64)
        if not objectives[j].maximize and (values > 0).all():
            ax.set_xscale("log")
        # only the region beyond the reference point counts: show that, not a stray point far below it
        for axis, k in ((ax.set_xlim, j), (ax.set_ylim, 0)) if truth.ref is not None and len(front) else ():
            span = np.ptp(front[:, k]) or 1.0
            limit = float(truth.ref[k] - 0.05 * span) * objectives[k].sign  # a little beyond, in objective units
            axis(**({"left" if axis == ax.set_xlim else "bottom": limit} if objectives[k].maximize
                    else {"right" if axis == ax.set_xlim else "top": limit}))
        ax.set_xlabel(f"{x_name} ({'max' if objectives[j].maximize else 'min'})")
        ax.set_ylabel(f"{y_name} ({'max' if objectives[0].maximize else 'min'})")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def pareto_frame(trajectories: pd.DataFrame, truth: Truth) -> pd.DataFrame:
    """Every run's found front, then the true front (strategy "true front", no seed): one
    architecture per distinct objective vector, as the fronts are counted. Live, the front of
    every run combined instead (strategy "combined front")."""
    keep = ["strategy", "seed", "step", "arch", *[o.name for o in truth.problem.objectives]]
    runs = trajectories.groupby(["strategy", "seed"], sort=False)
    found = [found_front(run.sort_values("step"), truth)[keep] for _, run in runs]
    if not truth.known:
        combined = found_front(trajectories.assign(strategy=COMBINED_FRONT, seed=pd.NA, step=pd.NA), truth)[keep]
        return pd.concat(found + [combined], ignore_index=True)
    p, oracle = truth.problem, truth.oracle
    Y = truth.objectives(oracle.values)
    rows = [np.flatnonzero((Y == point).all(axis=1))[0] for point in truth.front]  # one architecture per point
    true = pd.DataFrame(oracle.values[rows][:, :p.m], columns=[o.name for o in p.objectives])
    true.insert(0, "arch", oracle.space.format_many(oracle.archs[rows]))
    true.insert(0, "step", pd.NA)
    true.insert(0, "seed", pd.NA)
    true.insert(0, "strategy", TRUE_FRONT)
    return pd.concat(found + [true], ignore_index=True)


def write_report(campaign: MOCampaign, truth: Truth, trajectories: pd.DataFrame, out: Path, source: str,
                 command: str, seconds: float) -> dict:
    """trajectories.csv, pareto.csv, pareto.png, hypervolume.png (regret.png with one objective),
    summary.md and run.json under `out`; returns the JSON document."""
    from surrogate.campaign import plot_regret

    p, oracle = truth.problem, truth.oracle
    live = not truth.known
    results = summarize(trajectories, truth, campaign)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "trajectories.csv", trajectories.drop(columns="seconds_per_query").to_csv(index=False))
    title = f"{oracle.dataset or oracle.space.spec}: " + ", ".join(map(str, p.objectives)) + \
        (f" s.t. {', '.join(map(str, p.constraints))}" if p.constraints else "") + (" (live)" if live else "")
    doc = json_document(truth, results)
    if live:
        trained = len(oracle.objective.journal.done()) if oracle.objective.journal.records.is_dir() else 0
        intro = (f"{trained} distinct networks trained for {len(trajectories)} queries (an architecture trained once "
                 "serves every run that asks it, charged to each: training min is per run). ")
    if p.m == 1 and live:
        plot_regret(trajectories, out / "regret.png", title, clock=True, live=True)
        what = (intro + f"Best feasible = best feasible {p.objectives[0].name} found; mean over seeds (no optimum is "
                "known for a live space: regret n/a).")
    elif p.m == 1:
        plot_regret(trajectories.assign(simulated_seconds=np.nan), out / "regret.png", title, clock=False)
        what = (f"Best feasible {p.objectives[0].name}: {doc['optimum']:g}. Regret = best feasible - best feasible "
                "found; mean over seeds. A run that never found the optimum counts as "
                f"{campaign.budget + 1} queries in the median.")
    elif live:
        rows = pareto_frame(trajectories, truth)
        atomic_write(out / "pareto.csv", rows.to_csv(index=False))
        median = {r["strategy"]: r["median_seed"] for r in results}
        shown = rows[(rows.strategy == COMBINED_FRONT) | (rows.seed == rows.strategy.map(median))]
        plot_fronts(shown, truth, out / "pareto.png", title)
        plot_hypervolume(trajectories, out / "hypervolume.png", title, column="hypervolume")
        if doc["ref_point"] is None:
            where = "no feasible point was found, so every hypervolume is 0"
        else:
            ref = ", ".join(f"{o.name} {v:g}" for o, v in zip(p.objectives, doc["ref_point"]))
            rule = "given" if campaign.ref_point is not None else (
                f"BoTorch's rule on the {len(truth.combined)}-point front of every run combined: its nadir minus "
                f"{pareto.REF_MARGIN:g} of its range, or of every feasible point's where the front is flat")
            where = f"reference point {ref} ({rule})"
        what = (intro + "No true front is known for a live space: HV = hypervolume of the feasible points found, "
                f"{where}; mean over seeds; front size = the run's non-dominated points (final). HV ratio and "
                "front found are null in --json.")
    else:
        rows = pareto_frame(trajectories, truth)
        atomic_write(out / "pareto.csv", rows.to_csv(index=False))
        median = {r["strategy"]: r["median_seed"] for r in results}
        shown = rows[(rows.strategy == "true front") | (rows.seed == rows.strategy.map(median))]
        plot_fronts(shown, truth, out / "pareto.png", title)
        plot_hypervolume(trajectories, out / "hypervolume.png", title)
        ref = ", ".join(f"{o.name} {v:g}" for o, v in zip(p.objectives, doc["ref_point"]))
        rule = "given" if campaign.ref_point is not None else \
            f"BoTorch's rule: the true front's nadir minus {pareto.REF_MARGIN:g} of its range"
        what = (f"True Pareto front: {len(truth.front)} points; reference point {ref} ({rule}). HV ratio = "
                "hypervolume of the feasible points found / the true front's; mean over seeds. Front found = "
                "share of the true front's points found (final).")
    if live:
        where = {"training_config": oracle.objective.config.stored(),
                 "oracle": "live training (generate's trainer; records in records.h5, one per isomorphism class: "
                           "its canonical member), exact costs (params, flops) from the network definition"}
    else:
        where = {"oracle": "one outcome vector per isomorphism class: measured columns averaged over its records, "
                           "exact costs (params, flops) its smallest"}
    run = run_record(command, source, oracle.fingerprint, range(campaign.seeds), space=oracle.space.spec,
                     dataset=oracle.dataset, campaign=asdict(campaign),
                     strategy_params={s: campaign.params_for(s, oracle) for s in campaign.strategies}, **where,
                     seconds=round(seconds, 2), **{k: v for k, v in doc.items() if k != "results"}, results=results)
    atomic_write(out / "run.json", json.dumps(run, indent=2) + "\n")
    text = [f"# Multi-objective search: {title}", "",
            f"{campaign.seeds} seeds x {campaign.budget} queries. {what}", f"Command: `{command}`", "",
            markdown_summary(results, truth, campaign.budget), ""]
    atomic_write(out / "summary.md", "\n".join(text))
    return doc
