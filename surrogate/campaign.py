"""Search campaigns on a tabular benchmark: every query is a lookup, with a simulated training clock.

A campaign runs each strategy for `budget` queries under seeds 0..S-1 and records, per query, the
architecture, its value, the best value so far and the regret (table optimum minus best so far).
Each finished (strategy, seed) run is checkpointed, so a killed campaign resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from surrogate import __version__
from surrogate._io import atomic_write, run_record, save_figure
from surrogate.errors import UsageError
from surrogate.search import STRATEGIES, get_strategy
from surrogate.spaces import ENUMERATE_LIMIT, Space, get_space
from surrogate.tabular import Table

TRAJECTORY_COLUMNS = ("strategy", "seed", "step", "arch", "value", "best_so_far", "regret", "simulated_seconds")
JSON_FIELDS = ("strategy", "seeds", "budget", "found_optimum", "median_queries_to_optimum", "regret_at",
               "report_mean", "seconds_per_query")
REGRET_STEPS = (50, 100, 150)
#: metric names read as "seconds of training" for the simulated clock (first match wins).
TIME_COLUMN = re.compile(r"(train|training|epoch)_?(time|seconds|secs)|(time|seconds)$")


class TabularOracle:
    """Answers queries from a table: an architecture's own record, else the mean record of its
    isomorphism class (isomorphs compute the same function; their records differ only by noise)."""

    def __init__(self, table: Table, metric: str, report: str | None = None, time_column: str | None = None):
        self.space: Space = get_space(table.space)
        self.table = table
        self.values = _final(table, metric)
        if np.isnan(self.values).all():
            raise UsageError(f"metric {metric!r} is NaN for every architecture")
        if np.isinf(self.values).any():
            raise UsageError(f"metric {metric!r} holds infinite values (row {np.flatnonzero(np.isinf(self.values))[0] + 1})")
        self.report_values = _final(table, report) if report else None
        self.seconds = _total_seconds(table, time_column) if time_column else None
        self.optimum = float(np.nanmax(self.values))
        self._row = {arch.tobytes(): i for i, arch in enumerate(table.archs)}
        ids = self.space.canonical_ids(table.archs)
        self.class_ids, inverse = np.unique(ids, return_inverse=True)
        self._class_rows = pd.Series(np.arange(len(ids))).groupby(inverse).agg(list).tolist()

    @cached_property
    def covers_space(self) -> bool:
        """Does the table hold every isomorphism class of its space (so strategies may roam freely)?"""
        space = self.space
        return space.size <= ENUMERATE_LIMIT and len(np.unique(space.canonical_ids(space.enumerate()))) == len(self.class_ids)

    def rows(self, archs: np.ndarray) -> list[int | list[int]]:
        """Row of each arch, or the rows of its isomorphism class when the arch itself is absent."""
        found: list[int | list[int]] = []
        for arch in np.atleast_2d(archs):
            row = self._row.get(np.ascontiguousarray(arch, dtype=np.int64).tobytes())
            if row is None:
                class_id = self.space.canonical_ids(arch)[0]
                k = np.searchsorted(self.class_ids, class_id)
                if k >= len(self.class_ids) or self.class_ids[k] != class_id:
                    raise UsageError(f"{self.space.format(arch)} is not in the table (nor any isomorph)")
                row = self._class_rows[k]
            found.append(row)
        return found

    def lookup(self, column: np.ndarray | None, archs: np.ndarray) -> np.ndarray:
        if column is None:
            return np.full(len(np.atleast_2d(archs)), np.nan)
        return np.array([np.nanmean(column[r]) if isinstance(r, list) else column[r] for r in self.rows(archs)])

    def __call__(self, archs: np.ndarray) -> np.ndarray:
        return self.lookup(self.values, archs)


def _final(table: Table, name: str) -> np.ndarray:
    if name not in table.metrics:
        raise UsageError(f"unknown metric {name!r} (the file has: {', '.join(table.metric_names)})")
    return table.metric(name)  # last epoch, mean over seeds


def _total_seconds(table: Table, name: str) -> np.ndarray:
    """Training seconds per architecture: a per-epoch time column summed over epochs (mean over seeds)."""
    if name not in table.metrics:
        raise UsageError(f"unknown time column {name!r} (the file has: {', '.join(table.metric_names)})")
    values = table.metrics[name]
    return np.nanmean(values, axis=1).sum(axis=1) if values.shape[2] > 1 else np.nanmean(values[:, :, 0], axis=1)


def detect_time_column(table: Table) -> str | None:
    """The table's training-time metric, if one is named like one (`train_seconds`, `epoch_time`, ...)."""
    return next((name for name in table.metric_names if TIME_COLUMN.search(name)), None)


@dataclass
class Campaign:
    """A comparison of strategies on one metric of a table; `run` returns the trajectories."""

    metric: str
    strategies: list[str] = field(default_factory=lambda: ["bo", "re", "ls", "rs", "reinforce", "tpe"])
    budget: int = 150
    seeds: int = 20
    init: int = 10
    batch: int = 1
    model: str = "gp"
    encoding: str | None = None
    acq: str = "logei"
    report: str | None = None
    validate_top: int = 0
    time_column: str | None = None

    def params_for(self, name: str) -> dict:
        """Keyword hyperparameters of strategy `name`. `init` is the random initial design of the
        model-based strategies (bo; tpe's `n_startup_trials`) and the random starts of ls; re's
        first population (30) and reinforce's controller are their own hyperparameters."""
        if name == "bo":
            return {"init": self.init, "model": self.model, "acq": self.acq,
                    **({"encoding": self.encoding} if self.encoding else {})}
        return {"tpe": {"n_startup_trials": self.init}, "ls": {"init": self.init}}.get(name, {})

    def validate(self, table: Table) -> TabularOracle:
        """Fail fast, before any work, on names or sizes that cannot run."""
        for name in self.strategies:
            STRATEGIES[name]  # unknown name -> UsageError
        if len(set(self.strategies)) != len(self.strategies):
            raise UsageError("a strategy is named twice")
        if self.budget < 1 or self.seeds < 1 or self.init < 1 or self.batch < 1 or self.validate_top < 0:
            raise UsageError("budget, seeds, init and batch must be >= 1 (validate-top >= 0)")
        if self.validate_top and not self.report:
            raise UsageError("--validate-top needs --report COL (the column that validates the top picks)")
        oracle = TabularOracle(table, self.metric, self.report, self.time_column)
        n_classes = len(oracle.class_ids)
        if self.budget > n_classes:
            raise UsageError(f"budget {self.budget} exceeds the {n_classes} distinct architectures of the table")
        for name in self.strategies:
            get_strategy(name, table.space, seed=0, **self.params_for(name))  # bad model/encoding/acq fail here
        return oracle

    def key(self, table: Table, strategy: str, seed: int) -> str:
        """Checkpoint name: changes whenever anything that shapes this run's trajectory changes."""
        spec = {**asdict(self), "strategies": strategy, "seeds": seed, "input": table.checksum(),
                "version": __version__}
        return f"{strategy}-seed{seed}-{hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]}"

    def run_one(self, oracle: TabularOracle, strategy: str, seed: int, step_done=None) -> pd.DataFrame:
        """One strategy under one seed: `budget` queries, asked `batch` at a time."""
        table = oracle.table
        search = get_strategy(strategy, table.space, seed=seed, **self.params_for(strategy))
        if not oracle.covers_space:
            search.restrict(table.archs)
        rows, best, clock, spent = [], -math.inf, 0.0, 0.0
        while len(rows) < self.budget:
            q = min(self.batch, self.budget - len(rows))
            start = time.perf_counter()
            archs = search.ask_batch(q) if q > 1 else search.ask()[None]
            spent += time.perf_counter() - start
            values = oracle(archs)
            seconds = oracle.lookup(oracle.seconds, archs)
            start = time.perf_counter()
            for arch, value in zip(archs, values):
                search.tell(arch, value)
            spent += time.perf_counter() - start
            for arch, value, sec in zip(archs, values, seconds):
                best = max(best, value) if np.isfinite(value) else best
                clock += sec if np.isfinite(sec) else 0.0
                rows.append({"strategy": strategy, "seed": seed, "step": len(rows) + 1,
                             "arch": oracle.space.format(arch), "value": value,
                             "best_so_far": best if np.isfinite(best) else np.nan,
                             "regret": oracle.optimum - best if np.isfinite(best) else np.nan,
                             "simulated_seconds": clock if oracle.seconds is not None else np.nan})
            if step_done:
                step_done(len(archs))
        frame = pd.DataFrame(rows, columns=TRAJECTORY_COLUMNS)
        frame["seconds_per_query"] = spent / self.budget
        return frame

    def run(self, table: Table, checkpoints: Path | None = None, progress: bool = True) -> pd.DataFrame:
        oracle = self.validate(table)
        runs = [(s, seed) for s in self.strategies for seed in range(self.seeds)]
        frames = []
        with tqdm(total=len(runs) * self.budget, desc="search", unit="query", disable=not progress,
                  dynamic_ncols=True) as bar:
            for strategy, seed in runs:
                saved = checkpoints / f"{self.key(table, strategy, seed)}.csv" if checkpoints else None
                bar.set_postfix_str(f"{strategy} seed {seed}", refresh=False)
                if saved and saved.exists():
                    frame = pd.read_csv(saved, dtype={"arch": str})
                    bar.update(self.budget)
                else:
                    frame = self.run_one(oracle, strategy, seed, step_done=bar.update)
                    if saved:
                        atomic_write(saved, frame.to_csv(index=False))
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)


# --- summaries ------------------------------------------------------------------------------------
def regret_steps(budget: int) -> list[int]:
    """Where regret is reported: the fixed steps within the budget, half the budget and the budget,
    so a short campaign still gets its columns."""
    return sorted({s for s in REGRET_STEPS if s <= budget} | {max(1, budget // 2), budget})


def summarize(trajectories: pd.DataFrame, oracle: TabularOracle, campaign: Campaign) -> list[dict]:
    """One dict per strategy with the `--json` fields (means over seeds unless named otherwise)."""
    results = []
    for strategy, runs in trajectories.groupby("strategy", sort=False):
        steps = sorted(set(REGRET_STEPS) | set(regret_steps(campaign.budget)))
        finals, hits, regrets = [], [], {str(s): [] for s in steps}
        reports, tops = [], []
        for _, run in runs.groupby("seed"):
            run = run.sort_values("step")
            reached = np.flatnonzero(run.best_so_far.to_numpy() >= oracle.optimum)
            hits.append(int(run.step.iloc[reached[0]]) if len(reached) else campaign.budget + 1)
            for s in steps:
                regrets[str(s)].append(float(run.regret.iloc[s - 1]) if s <= len(run) else np.nan)
            archs = oracle.space.parse_many(run.arch)
            order = np.argsort(-np.nan_to_num(run.value.to_numpy(), nan=-np.inf), kind="stable")
            if oracle.report_values is not None:
                reports.append(float(oracle.lookup(oracle.report_values, archs[order[:1]])[0]))
                if campaign.validate_top:
                    tops.append(float(np.nanmax(oracle.lookup(oracle.report_values, archs[order[:campaign.validate_top]]))))
            finals.append(float(run.best_so_far.iloc[-1]))
        results.append({
            "strategy": strategy, "seeds": int(runs.seed.nunique()), "budget": campaign.budget,
            "found_optimum": int(sum(h <= campaign.budget for h in hits)),
            "median_queries_to_optimum": float(np.median(hits)),
            "regret_at": {k: _clean(np.mean(v)) if not np.isnan(v).all() else None for k, v in regrets.items()},
            "report_mean": _clean(np.mean(reports)) if reports else None,
            "seconds_per_query": float(runs.groupby("seed").seconds_per_query.first().mean()),
            "best_mean": float(np.mean(finals)),
            **({"validate_top": {"k": campaign.validate_top, "report_best_mean": _clean(np.mean(tops))}}
               if tops else {}),
        })
    return results


def _clean(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def json_document(metric: str, optimum: float, results: list[dict]) -> dict:
    """The `--json` contract: exactly JSON_FIELDS per strategy."""
    return {"metric": metric, "optimum": optimum, "results": [{k: r[k] for k in JSON_FIELDS} for r in results]}


def markdown_summary(results: list[dict], campaign: Campaign) -> str:
    header = ["strategy", "seeds", "found optimum", "median queries to optimum",
              *[f"regret@{s}" for s in regret_steps(campaign.budget)], "best (mean)", "s/query"]
    if campaign.report:
        header.append(f"{campaign.report} of top pick")
    if campaign.validate_top:
        header.append(f"best {campaign.report} of top {campaign.validate_top}")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        cells = [r["strategy"], str(r["seeds"]), f"{r['found_optimum']}/{r['seeds']}", f"{r['median_queries_to_optimum']:g}",
                 *[f"{r['regret_at'][str(s)]:.3f}" for s in regret_steps(campaign.budget)],
                 f"{r['best_mean']:.3f}", f"{r['seconds_per_query']:.3f}"]
        if campaign.report:
            cells.append(f"{r['report_mean']:.3f}")
        if campaign.validate_top:
            cells.append(f"{r['validate_top']['report_best_mean']:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_regret(trajectories: pd.DataFrame, path: Path, title: str, clock: bool) -> None:
    """Median and quartiles of regret per strategy against queries (and the simulated clock)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if clock else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.5), squeeze=False)
    styles = ["-", "--", "-.", ":"]
    for k, (strategy, runs) in enumerate(trajectories.groupby("strategy", sort=False)):
        regret = runs.pivot(index="step", columns="seed", values="regret")
        q1, med, q3 = (regret.quantile(q, axis=1) for q in (0.25, 0.5, 0.75))
        # identical curves (re and rs share a random start, say) stay visible: own style, thinner on top
        line, = axes[0, 0].plot(regret.index, med, label=strategy, linestyle=styles[k % 4], linewidth=2.2 - 0.3 * (k % 4),
                                zorder=3 + k)
        axes[0, 0].fill_between(regret.index, q1, q3, alpha=0.2, color=line.get_color())
        if clock:
            seconds = runs.pivot(index="step", columns="seed", values="simulated_seconds").median(axis=1) / 3600
            axes[0, 1].plot(seconds, med, label=strategy, color=line.get_color(), linestyle=line.get_linestyle(),
                            linewidth=line.get_linewidth(), zorder=line.get_zorder())
            axes[0, 1].fill_between(seconds, q1, q3, alpha=0.2, color=line.get_color())
    axes[0, 0].set_xlabel("queries")
    if clock:
        axes[0, 1].set_xlabel("simulated training time (hours, median over seeds)")
    for ax in axes[0]:
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_ylabel("regret (median, quartiles)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def write_report(campaign: Campaign, table: Table, trajectories: pd.DataFrame, out: Path, source: str,
                 command: str, seconds: float) -> dict:
    """trajectories.csv, summary.md, regret.png and run.json under `out`; returns the JSON document."""
    oracle = TabularOracle(table, campaign.metric, campaign.report, campaign.time_column)
    results = summarize(trajectories, oracle, campaign)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "trajectories.csv", trajectories[list(TRAJECTORY_COLUMNS)].to_csv(index=False))
    run = run_record(command, source, table.checksum(), range(campaign.seeds),
                     space=table.space, dataset=table.attrs.get("dataset"), optimum=oracle.optimum,
                     campaign=asdict(campaign), strategy_params={s: campaign.params_for(s) for s in campaign.strategies},
                     oracle="tabular lookup (an architecture's own record; its isomorphism class mean when absent)",
                     seconds=round(seconds, 2), results=results)
    atomic_write(out / "run.json", json.dumps(run, indent=2) + "\n")
    title = f"{table.attrs.get('dataset') or table.space}: {campaign.metric}"
    text = [f"# Search campaign: {title}", "",
            f"{campaign.seeds} seeds x {campaign.budget} queries, table optimum {oracle.optimum:g}. "
            "Regret = optimum - best found; mean over seeds. A run that never found the optimum counts "
            f"as {campaign.budget + 1} queries (budget + 1) in the median.", f"Command: `{command}`", "",
            markdown_summary(results, campaign), ""]
    atomic_write(out / "summary.md", "\n".join(text))
    plot_regret(trajectories, out / "regret.png", title, clock=oracle.seconds is not None)
    return json_document(campaign.metric, oracle.optimum, results)
