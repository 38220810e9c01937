"""What a search campaign reports, for one objective or several, on a table or live: per-strategy
summaries (the `--json` fields), the markdown table, the figures, `pareto.csv` and `run.json`.

One document shape: `{"metric", "objectives", "constraints", "optimum", "ref_point",
"true_front_size", "results": [...]}` (plus `"validated"` when a live campaign retrains its top
picks). With one objective a result holds regret and queries to the optimum (`regret.png`); with
several, hypervolume ratios and the share of the true front found (`pareto.png`,
`hypervolume.png`, `pareto.csv`). Live, nothing is known of the answer: regret and ratios are
null, and the hypervolume found is reported from a reference point shared by every strategy.
Reads trajectories, the problem's `Truth` and the oracle; runs nothing.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from surrogate._io import atomic_write, run_record, save_figure
from surrogate.search import pareto
from surrogate.search.problem import Problem, Truth

#: trajectories.csv of one objective without constraints (`value`: the objective); otherwise the
#: problem's columns and `feasible` replace `value`, and several objectives put `hypervolume_ratio`
#: (live: `hypervolume`) where one puts `best_so_far` and `regret`.
TRAJECTORY_COLUMNS = ("strategy", "seed", "step", "arch", "value", "best_so_far", "regret", "simulated_seconds")
#: the per-strategy `--json` fields, every kind of campaign alike ...
COMMON_FIELDS = ("strategy", "seeds", "budget", "seconds_per_query", "train_seconds", "epochs_trained")
#: ... and with one objective, or several.
ONE_FIELDS = ("found_optimum", "median_queries_to_optimum", "regret_at", "regret_at_budget_fraction", "report_mean")
SEVERAL_FIELDS = ("hypervolume_ratio_at", "found_front_fraction")
#: what the validation protocol's test metric is, in words
_TEST_METRIC_WORDS = {"test_acc": "test accuracy", "test_bpc": "test bits per character"}
VALIDATED_FIELDS = ("strategy", "seed", "arch", "search_value", "validated_value")
#: pseudo-strategies of pareto.csv: the table's true front; live, the front of every run combined.
TRUE_FRONT, COMBINED_FRONT = "true front", "combined front"
#: regret is also reported at these fractions of the budget (of its seconds, when a run has a budget of seconds).
BUDGET_FRACTIONS = ("0.1", "0.25", "0.5", "1.0")
#: columns a multi-fidelity (or clocked) campaign adds to trajectories.csv
FIDELITY_COLUMNS = ("epochs", "epochs_trained", "wall_seconds")
#: regret and hypervolume are reported at these steps within the budget, at half the budget and at the budget.
REPORT_STEPS = (50, 100, 150)


def result_fields(m: int) -> tuple[str, ...]:
    return COMMON_FIELDS + (ONE_FIELDS if m == 1 else SEVERAL_FIELDS)


def report_steps(budget: int) -> list[int]:
    """The steps that exist: the fixed ones within the budget, half the budget and the budget."""
    return sorted({s for s in REPORT_STEPS if s <= budget} | {max(1, budget // 2), budget})


def top_picks(run: pd.DataFrame, k: int, problem: Problem) -> pd.DataFrame:
    """The k best queries of one run by its first objective, feasible first (ties: the earlier query);
    of a multi-fidelity run, the trainings that went furthest (whole ones, once there are any)."""
    run = run.sort_values("step")
    if "epochs" in run:
        run = run[run.epochs == run.epochs.max()]
    outcomes = run[["value"]].to_numpy() if problem.plain else run[list(problem.columns)].to_numpy(dtype=np.float64)
    score = np.nan_to_num(problem.scalar(outcomes), nan=-np.inf)
    return run.iloc[np.argsort(-score, kind="stable")[:k]]


# --- summaries ------------------------------------------------------------------------------------
def _at(run: pd.DataFrame, column: str, step: int) -> float:
    return float(run[column].iloc[step - 1]) if step <= len(run) else np.nan


def _mean(values: Sequence[float]) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    return None if not np.isfinite(values).any() else float(np.nanmean(values))


def _clean(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def outcome_matrix(run: pd.DataFrame, problem: Problem) -> np.ndarray:
    return run[["value"] if problem.plain else list(problem.columns)].to_numpy(dtype=np.float64)


def found_front(run: pd.DataFrame, truth: Truth) -> pd.DataFrame:
    """The run's feasible non-dominated rows (distinct objective vectors, first found)."""
    Y = truth.objectives(outcome_matrix(run, truth.problem))
    keep = np.isfinite(Y).all(axis=1)
    keep[keep] = pareto.non_dominated(Y[keep])
    rows = run[keep]
    return rows[~pd.DataFrame(Y[keep]).duplicated().to_numpy()]


def with_found_hypervolume(trajectories: pd.DataFrame, truth: Truth) -> pd.DataFrame:
    """Live, several objectives: the `hypervolume` each run has found after each query. The
    reference point is the problem's when given, else BoTorch's rule on the front of every run
    combined (so every strategy is measured from the same point; an objective in which that front
    is flat takes its margin from the range of every feasible point found instead, not from
    BoTorch's 1e-9 floor); both are set on `truth`."""
    Y = truth.objectives(outcome_matrix(trajectories, truth.problem))
    ok = np.isfinite(Y).all(axis=1)
    truth.combined = np.unique(Y[ok][pareto.non_dominated(Y[ok])], axis=0) if ok.any() else Y[:0]
    if truth.problem.ref_point is None:
        truth.ref = pareto.reference_point(truth.combined) if len(truth.combined) else None
        if truth.ref is not None:
            flat = (np.ptp(truth.combined, axis=0) == 0) & (np.ptp(Y[ok], axis=0) > 0)
            truth.ref[flat] = truth.combined.min(axis=0)[flat] - pareto.REF_MARGIN * np.ptp(Y[ok], axis=0)[flat]
    volume = np.zeros(len(trajectories))
    if truth.ref is not None:
        for rows in trajectories.groupby(["strategy", "seed"], sort=False).indices.values():
            rows = rows[np.argsort(trajectories.step.to_numpy()[rows], kind="stable")]
            volume[rows] = pareto.hypervolume_trace(Y[rows], truth.ref)
    return trajectories.assign(hypervolume=volume)


def regret_at_fraction(run: pd.DataFrame, fraction: float, budget: int, budget_seconds: float | None) -> float:
    """A run's regret once it has spent `fraction` of its budget: of its training seconds (the
    last query finished within them) or of its queries. NaN before its first whole training."""
    if budget_seconds is None:
        return _at(run, "regret", max(1, int(np.ceil(fraction * budget))))
    within = run[run.simulated_seconds <= fraction * budget_seconds * (1 + 1e-12)]
    return float(within.regret.iloc[-1]) if len(within) else np.nan


def _all_or_none(values: Sequence[float]) -> float | None:
    """The mean when every run has a value (a regret undefined in one run leaves the mean undefined)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if len(values) and np.isfinite(values).all() else None


def epochs_trained(run: pd.DataFrame, full_epochs: int | None) -> float:
    """Epochs a run trained: its jobs' own (a continuation counts what it added), else whole trainings."""
    if "epochs_trained" in run:
        return float(run.epochs_trained.sum())
    return float(len(run) * full_epochs) if full_epochs else np.nan


def summarize(trajectories: pd.DataFrame, truth: Truth, budget: int, oracle=None, report: str | None = None,
              validate_top: int = 0, validated: list[dict] | None = None, budget_seconds: float | None = None,
              full_epochs: int | None = None) -> list[dict]:
    """One dict per strategy: the `--json` fields (means over seeds) and a few for the markdown.
    `report` (a table column, through `oracle.lookup`): its value of each run's top pick, and with
    `validate_top` the best among the top k; `validated`: a live campaign's retrained top picks."""
    problem = truth.problem
    steps = report_steps(budget)
    checked = pd.DataFrame(validated or [], columns=list(VALIDATED_FIELDS))
    results = []
    for strategy, group in trajectories.groupby("strategy", sort=False):
        runs = [run.sort_values("step") for _, run in group.groupby("seed")]
        clocked = "simulated_seconds" in group and group.simulated_seconds.notna().any()
        result = {"strategy": strategy, "seeds": len(runs), "budget": budget,
                  "seconds_per_query": float(np.mean([run.seconds_per_query.iloc[0] for run in runs])),
                  "train_seconds": float(sum(np.nan_to_num(r.simulated_seconds.iloc[-1]) for r in runs))
                  if clocked else None,
                  "epochs_trained": _mean([epochs_trained(r, full_epochs) for r in runs])}
        if problem.m == 1:
            hits = [int(r.step.iloc[np.flatnonzero(r.regret.to_numpy() <= 0)[0]]) if (r.regret <= 0).any()
                    else budget + 1 for r in runs]
            result |= {"found_optimum": int(sum(h <= budget for h in hits)) if truth.known else None,
                       "median_queries_to_optimum": float(np.median(hits)) if truth.known else None,
                       "regret_at": {str(s): _mean([_at(r, "regret", s) for r in runs]) for s in steps},
                       "regret_at_budget_fraction": {
                           f: _all_or_none([regret_at_fraction(r, float(f), budget, budget_seconds) for r in runs])
                           if truth.known else None for f in BUDGET_FRACTIONS},
                       "report_mean": None, "best_mean": _mean([r.best_so_far.iloc[-1] for r in runs])}
            if report is not None:
                tops = [top_picks(r, max(validate_top, 1), problem) for r in runs]
                values = [oracle.lookup(report, oracle.space.parse_many(t.arch)) for t in tops]
                result["report_mean"] = _mean([v[0] for v in values])
                if validate_top:
                    lowest = oracle.directions.get(report) == "min"  # e.g. test_bpc: the best is the lowest
                    best = _mean([np.nanmin(v) if lowest else np.nanmax(v) for v in values])
                    result["validate_top"] = {"k": validate_top, "report_best_mean": best}
            mine = [checked[(checked.strategy == strategy) & (checked.seed == r.seed.iloc[0])] for r in runs]
            mine = [m for m in mine if len(m)]
            if mine:
                result["validated"] = {"k": validate_top,
                                       "top_pick_mean": _mean([m.validated_value.iloc[0] for m in mine]),
                                       "best_of_top_k_mean": _mean([m.validated_value.max() if problem.objectives[0].maximize
                                                                    else m.validated_value.min() for m in mine])}
        elif truth.known:
            fractions = [pareto.found_front_fraction(truth.objectives(outcome_matrix(r, problem)), truth.front)
                         for r in runs]
            finals = [float(r.hypervolume_ratio.iloc[-1]) for r in runs]
            result |= {"hypervolume_ratio_at": {str(s): _mean([_at(r, "hypervolume_ratio", s) for r in runs])
                                                for s in steps},
                       "found_front_fraction": float(np.mean(fractions)),
                       "median_seed": int(runs[int(np.argsort(finals, kind="stable")[(len(finals) - 1) // 2])].seed.iloc[0]),
                       "hypervolume_ratio_quartiles": [float(q) for q in np.quantile(finals, [0.25, 0.5, 0.75])]}
        else:
            finals = [float(r.hypervolume.iloc[-1]) for r in runs]
            result |= {"hypervolume_ratio_at": {str(s): None for s in steps}, "found_front_fraction": None,
                       "median_seed": int(runs[int(np.argsort(finals, kind="stable")[(len(finals) - 1) // 2])].seed.iloc[0]),
                       "hypervolume_at": {str(s): _mean([_at(r, "hypervolume", s) for r in runs]) for s in steps},
                       "hypervolume_quartiles": [float(q) for q in np.quantile(finals, [0.25, 0.5, 0.75])],
                       "front_size": float(np.mean([len(found_front(r, truth)) for r in runs]))}
        results.append(result)
    return results


def json_document(truth: Truth, results: list[dict], validated: list[dict] | None = None) -> dict:
    """The `--json` contract: the problem, the answer where known, then exactly the per-strategy fields."""
    p = truth.problem
    several = p.m > 1
    document = {"metric": None if several else p.objectives[0].name,
                "objectives": [str(o) for o in p.objectives], "constraints": [str(c) for c in p.constraints],
                "optimum": truth.optimum * p.signs[0] if truth.known and not several else None,
                "ref_point": (truth.ref * p.signs).tolist() if several and truth.ref is not None else None,
                "true_front_size": len(truth.front) if several and truth.known else None,
                "results": [{k: r[k] for k in result_fields(p.m)} for r in results]}
    if validated is not None:
        document["validated"] = [{k: v[k] for k in VALIDATED_FIELDS} for v in validated]
    return document


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None or not np.isfinite(value) else format(value, spec)


def markdown_summary(results: list[dict], truth: Truth, budget: int, report: str | None = None,
                     validate_top: int = 0, validated_metric: str = "test_acc",
                     budget_seconds: float | None = None, partial: bool = False) -> str:
    steps = report_steps(budget)
    g = lambda v: "-" if v is None else f"{v:.4g}"  # noqa: E731  (a hypervolume: objective units multiplied)
    minutes = lambda r: _fmt((r["train_seconds"] or 0) / r["seeds"] / 60, ".1f")  # noqa: E731
    live = not truth.known
    header, rows = ["strategy", "seeds"], [[r["strategy"], str(r["seeds"])] for r in results]

    def add(name: str, cell) -> None:
        header.append(name)
        for row, r in zip(rows, results):
            row.append(cell(r))

    if truth.problem.m == 1:
        if not live:
            add("found optimum", lambda r: f"{r['found_optimum']}/{r['seeds']}")
            add("median queries to optimum", lambda r: f"{r['median_queries_to_optimum']:g}")
            if budget_seconds:
                for f in BUDGET_FRACTIONS:
                    add(f"regret@{float(f):.0%} s", lambda r, f=f: _fmt(r["regret_at_budget_fraction"][f]))
            else:
                for s in steps:
                    add(f"regret@{s}", lambda r, s=s: _fmt(r["regret_at"][str(s)]))
        add("best (mean)", lambda r: _fmt(r["best_mean"]))
        add("s/query", lambda r: f"{r['seconds_per_query']:.3f}")
        if budget_seconds or partial:
            add("epochs trained", lambda r: _fmt(r["epochs_trained"], ".0f"))
        if live:
            add("training min", minutes)
        if report:
            add(f"{report} of top pick", lambda r: _fmt(r["report_mean"]))
        if report and validate_top:
            add(f"best {report} of top {validate_top}", lambda r: _fmt(r["validate_top"]["report_best_mean"]))
        if live and validate_top:
            add(f"validated {validated_metric.replace('_', ' ')} of top pick", lambda r: _fmt(r.get("validated", {}).get("top_pick_mean")))
            add(f"best validated of top {validate_top}", lambda r: _fmt(r.get("validated", {}).get("best_of_top_k_mean")))
    elif live:
        for s in steps:
            add(f"HV@{s}", lambda r, s=s: g(r["hypervolume_at"][str(s)]))
        add("final HV (quartiles)", lambda r: " / ".join(g(q) for q in r["hypervolume_quartiles"]))
        add("front size", lambda r: f"{r['front_size']:.1f}")
        add("s/query", lambda r: f"{r['seconds_per_query']:.3f}")
        add("training min", minutes)
    else:
        for s in steps:
            add(f"HV ratio@{s}", lambda r, s=s: _fmt(r["hypervolume_ratio_at"][str(s)]))
        add("final HV ratio (quartiles)", lambda r: " / ".join(f"{q:.3f}" for q in r["hypervolume_ratio_quartiles"]))
        add("front found", lambda r: f"{r['found_front_fraction']:.2f}")
        add("s/query", lambda r: f"{r['seconds_per_query']:.3f}")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


# --- figures --------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_STYLES = ["-", "--", "-.", ":"]


def plot_regret(trajectories: pd.DataFrame, path: Path, title: str, clock: bool, live: bool = False) -> None:
    """Median and quartiles of regret (live: of the best value so far) per strategy against queries
    and the training clock."""
    plt = _pyplot()
    column, label = ("best_so_far", "best so far (median, quartiles)") if live else ("regret", "regret (median, quartiles)")
    panels = 2 if clock else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.5), squeeze=False)
    for k, (strategy, runs) in enumerate(trajectories.groupby("strategy", sort=False)):
        curve = runs.pivot(index="step", columns="seed", values=column)
        q1, med, q3 = (curve.quantile(q, axis=1) for q in (0.25, 0.5, 0.75))
        # identical curves (re and rs share a random start, say) stay visible: own style, thinner on top
        line, = axes[0, 0].plot(curve.index, med, label=strategy, linestyle=_STYLES[k % 4],
                                linewidth=2.2 - 0.3 * (k % 4), zorder=3 + k)
        axes[0, 0].fill_between(curve.index, q1, q3, alpha=0.2, color=line.get_color())
        if clock:  # each run's curve read on one grid of seconds (runs differ in how long their queries took)
            grid = np.linspace(0, float(trajectories.simulated_seconds.max()), 200)
            on_grid = []
            for _, run in runs.groupby("seed"):
                at = np.searchsorted(run.simulated_seconds.to_numpy(), grid, side="right") - 1
                on_grid.append(np.where(at >= 0, run[column].to_numpy()[np.maximum(at, 0)], np.nan))
            with warnings.catch_warnings():  # before a run's first whole training its value is NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                g1, gmed, g3 = (np.nanquantile(np.array(on_grid, dtype=np.float64), q, axis=0) for q in (0.25, 0.5, 0.75))
            axes[0, 1].plot(grid / 3600, gmed, label=strategy, color=line.get_color(), linestyle=line.get_linestyle(),
                            linewidth=line.get_linewidth(), zorder=line.get_zorder())
            axes[0, 1].fill_between(grid / 3600, g1, g3, alpha=0.2, color=line.get_color())
    axes[0, 0].set_xlabel("queries")
    if clock:
        axes[0, 1].set_xlabel(("training time" if live else "simulated training time") + " (hours)")
    for ax in axes[0]:
        if not live:
            ax.set_yscale("symlog", linthresh=0.01)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def plot_hypervolume(trajectories: pd.DataFrame, path: Path, title: str, column: str = "hypervolume_ratio") -> None:
    """Median and quartiles of the hypervolume ratio (live: of the hypervolume found, `column`
    "hypervolume") per strategy against queries, every query shown (the axis starts below the
    lowest quartile)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lowest = np.inf
    for k, (strategy, runs) in enumerate(trajectories.groupby("strategy", sort=False)):
        ratio = runs.pivot(index="step", columns="seed", values=column)
        q1, med, q3 = (ratio.quantile(q, axis=1) for q in (0.25, 0.5, 0.75))
        line, = ax.plot(ratio.index, med, label=strategy, linestyle=_STYLES[k % 4], linewidth=2.2 - 0.3 * (k % 4),
                        zorder=3 + k)
        ax.fill_between(ratio.index, q1, q3, alpha=0.2, color=line.get_color())
        lowest = min(lowest, float(np.nanmin(q1.to_numpy())))
    if column == "hypervolume_ratio":
        ax.set_ylim(max(0.0, lowest - 0.02) if np.isfinite(lowest) else 0.0, 1.005)
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
            # the attainment staircase: between two front points the better value holds until the next one
            where = "pre" if objectives[j].maximize == objectives[0].maximize else "post"
            if strategy in (TRUE_FRONT, COMBINED_FRONT):
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


def pareto_frame(trajectories: pd.DataFrame, truth: Truth, oracle) -> pd.DataFrame:
    """Every run's found front, then the true front (strategy "true front", no seed): one
    architecture per distinct objective vector, as the fronts are counted. Live, the front of
    every run combined instead (strategy "combined front")."""
    keep = ["strategy", "seed", "step", "arch", *[o.name for o in truth.problem.objectives]]
    found = [found_front(run.sort_values("step"), truth)[keep] for _, run in
             trajectories.groupby(["strategy", "seed"], sort=False)]
    if not truth.known:
        combined = found_front(trajectories.assign(strategy=COMBINED_FRONT, seed=pd.NA, step=pd.NA), truth)[keep]
        return pd.concat(found + [combined], ignore_index=True)
    p = truth.problem
    Y = truth.objectives(oracle.values)
    rows = [np.flatnonzero((Y == point).all(axis=1))[0] for point in truth.front]  # one architecture per point
    true = pd.DataFrame(oracle.values[rows][:, :p.m], columns=[o.name for o in p.objectives])
    true.insert(0, "arch", oracle.space.format_many(oracle.archs[rows]))
    true.insert(0, "step", pd.NA)
    true.insert(0, "seed", pd.NA)
    true.insert(0, "strategy", TRUE_FRONT)
    return pd.concat(found + [true], ignore_index=True)


# --- the report -----------------------------------------------------------------------------------
def write_report(campaign, problem: Problem, truth: Truth, oracle, trajectories: pd.DataFrame, out: Path,
                 source: str, command: str, seconds: float,
                 validated: list[dict] | None = None) -> tuple[dict, list[str]]:
    """trajectories.csv, summary.md, run.json and the figures (regret.png with one objective;
    pareto.csv, pareto.png and hypervolume.png with several) under `out`; returns the JSON
    document and the files written."""
    live = not truth.known
    if problem.m > 1 and live:
        trajectories = with_found_hypervolume(trajectories, truth)
    report = campaign.report if oracle.table is not None else None
    budget = campaign.budget or int(trajectories.groupby(["strategy", "seed"]).size().max())
    results = summarize(trajectories, truth, budget, oracle, report, campaign.validate_top, validated,
                        campaign.budget_seconds, oracle.max_epochs(problem.objectives[0].name))
    doc = json_document(truth, results, validated)
    out.mkdir(parents=True, exist_ok=True)
    columns = list(TRAJECTORY_COLUMNS) if problem.plain else [c for c in trajectories if c != "seconds_per_query"]
    columns += [c for c in FIDELITY_COLUMNS if c in trajectories and c not in columns]
    atomic_write(out / "trajectories.csv", trajectories[columns].to_csv(index=False))
    title = f"{oracle.dataset or oracle.space.spec}: {problem}" + (" (live)" if live else "")
    intro = (f"{campaign.seeds} seeds x {campaign.budget} {'jobs' if campaign.fidelity else 'queries'}"
             if campaign.budget_seconds is None else
             f"{campaign.seeds} seeds x {campaign.budget_seconds:g} s of {'' if live else 'simulated '}training"
             + (f" on {campaign.workers} asynchronous workers" if campaign.workers > 1 else "")
             + (f", architectures trained partially ({', '.join(f'{k} {v}' for k, v in campaign.fidelity.items())}); "
                "regret counts whole trainings only" if campaign.fidelity else ""))
    if live:
        trained = len(oracle.journal.done()) if oracle.journal.records.is_dir() else 0
        if campaign.fidelity:
            networks = trajectories.arch.nunique()
            intro += (f", each trained live: {networks} distinct networks trained for {len(trajectories)} jobs, "
                      f"{trained} of them to the end (partial trainings are checkpointed and resumed when promoted; a "
                      "network trained once serves every run that asks it, charged to each: training min is per run).")
        else:
            intro += (f", each trained live: {trained} distinct networks trained for {len(trajectories)} queries (an "
                      "architecture trained once serves every run that asks it, charged to each: training min is per "
                      "run).")
    else:
        intro += "."
    files = ["trajectories.csv", "summary.md", "run.json"]
    if problem.m == 1:
        plot_regret(trajectories, out / "regret.png", title, clock=oracle.clock, live=live)
        files.append("regret.png")
        name = problem.objectives[0].name
        best = "best feasible" if problem.constraints else "best"
        if live:
            intro += (f" Best = {best} {name} found; mean over seeds (no optimum is known for a live space: regret n/a)."
                      + (f" Top {campaign.validate_top} of each run retrained with the validation protocol "
                         f"(train+valid, {_TEST_METRIC_WORDS.get(oracle.config.test_metric)})." if campaign.validate_top
                         else ""))
        else:
            intro += (f" Table's {best} {name}: {doc['optimum']:g}. Regret = that - the {best} found (in the "
                      f"direction of {problem.objectives[0]}); mean over seeds. A run that never found it counts as "
                      f"{budget + 1} queries (budget + 1) in the median.")
    else:
        rows = pareto_frame(trajectories, truth, oracle)
        atomic_write(out / "pareto.csv", rows.to_csv(index=False))
        median = {r["strategy"]: r["median_seed"] for r in results}
        shown = rows[rows.strategy.isin([TRUE_FRONT, COMBINED_FRONT]) | (rows.seed == rows.strategy.map(median))]
        plot_fronts(shown, truth, out / "pareto.png", title)
        plot_hypervolume(trajectories, out / "hypervolume.png", title,
                         column="hypervolume" if live else "hypervolume_ratio")
        files += ["pareto.csv", "pareto.png", "hypervolume.png"]
        ref = None if doc["ref_point"] is None else ", ".join(
            f"{o.name} {v:g}" for o, v in zip(problem.objectives, doc["ref_point"]))
        if live:
            rule = "given" if problem.ref_point is not None else (
                f"BoTorch's rule on the {len(truth.combined)}-point front of every run combined: its nadir minus "
                f"{pareto.REF_MARGIN:g} of its range, or of every feasible point's where the front is flat")
            where = "no feasible point was found, so every hypervolume is 0" if ref is None else \
                f"reference point {ref} ({rule})"
            intro += (" No true front is known for a live space: HV = hypervolume of the feasible points found, "
                      f"{where}; mean over seeds; front size = the run's non-dominated points (final). HV ratio and "
                      "front found are null in --json.")
        else:
            rule = "given" if problem.ref_point is not None else \
                f"BoTorch's rule: the true front's nadir minus {pareto.REF_MARGIN:g} of its range"
            intro += (f" True Pareto front: {len(truth.front)} points; reference point {ref} ({rule}). HV ratio = "
                      "hypervolume of the feasible points found / the true front's; mean over seeds. Front found = "
                      "share of the true front's points found (final).")
    if live:
        where = {"training_config": oracle.config.stored(),
                 "oracle": "live training (generate's trainer; records in records.h5, one per isomorphism class: "
                           "its canonical member), exact costs (params, flops) from the network definition"}
        files.append("records.h5")
    else:
        where = {"oracle": "table lookup: the architecture's own record, else its isomorphism class's mean"}
    run = run_record(command, source, oracle.fingerprint, range(campaign.seeds), space=oracle.space.spec,
                     dataset=oracle.dataset, campaign=asdict(campaign),
                     strategy_params={s: campaign.params_for(s, oracle, problem) for s in campaign.strategies},
                     **where, seconds=round(seconds, 2), **{k: v for k, v in doc.items() if k != "results"},
                     results=results)
    atomic_write(out / "run.json", json.dumps(run, indent=2, default=str) + "\n")
    text = [f"# Search campaign: {title}", "", intro, f"Command: `{command}`", "",
            markdown_summary(results, truth, budget, report, campaign.validate_top,
                             oracle.config.test_metric if live else "test_acc", campaign.budget_seconds,
                             bool(campaign.fidelity)), ""]
    atomic_write(out / "summary.md", "\n".join(text))
    return doc, files
