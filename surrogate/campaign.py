"""Search campaigns: strategies against each other on one `Objective` (a table, or live training).

A campaign runs each strategy for `budget` queries under seeds 0..S-1 and records, per query, the
architecture, its value, the best value so far, the regret (optimum minus best so far, when the
optimum is known) and the training clock (a table's time column, simulated; or the seconds live
training took, charged to every run that asks an architecture). Each finished (strategy, seed)
run is checkpointed, so a killed campaign resumes where it stopped (a live one also keeps every
trained record, so the interrupted run replays without training again).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from surrogate import __version__
from surrogate._io import atomic_write, run_record, save_figure
from surrogate.errors import UsageError
from surrogate.features import default_features
from surrogate.search import STRATEGIES, get_strategy
from surrogate.objective import Objective, TabularObjective
from surrogate.spaces import CellSpace
from surrogate.tabular import Table

#: `simulated_seconds`: cumulative training seconds of the run (a table's time column, or measured live).
TRAJECTORY_COLUMNS = ("strategy", "seed", "step", "arch", "value", "best_so_far", "regret", "simulated_seconds")
JSON_FIELDS = ("strategy", "seeds", "budget", "found_optimum", "median_queries_to_optimum", "regret_at",
               "report_mean", "seconds_per_query", "train_seconds")
VALIDATED_FIELDS = ("strategy", "seed", "arch", "search_value", "validated_value")
REGRET_STEPS = (50, 100, 150)
#: metric names read as "seconds of training" for the simulated clock (first match wins).
TIME_COLUMN = re.compile(r"(train|training|epoch)_?(time|seconds|secs)|(time|seconds)$")


def detect_time_column(table: Table) -> str | None:
    """The table's training-time metric, if one is named like one (`train_seconds`, `epoch_time`, ...)."""
    return next((name for name in table.metric_names if TIME_COLUMN.search(name)), None)


@dataclass
class Campaign:
    """A comparison of strategies on one metric of an objective; `run` returns the trajectories."""

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
    pool_size: int = 1000
    features: list[str] | None = None

    def bo_features(self, objective: Objective | None) -> list[str]:
        """The table columns `bo` reads beside its encoding: `features` when given; by default every
        zero-cost proxy column (`zc`) of a table that holds them. Measured (bench/results/predictors_zc.md):
        the proxies took BO to the optimum sooner on NB201 CIFAR-10, CIFAR-100, nb201-fmnist and a chain
        table. None for a live campaign, whose architectures have no columns before they are trained."""
        if self.features is not None:
            return list(self.features)
        return default_features(getattr(objective, "table", None))

    def params_for(self, name: str, objective: Objective | None = None) -> dict:
        """Keyword hyperparameters of strategy `name` (JSON: feature columns by name). `init` is the
        random initial design of the model-based strategies (bo; tpe's `n_startup_trials`) and the
        random starts of ls; re's first population (30) and reinforce's controller are their own
        hyperparameters. With feature columns, bo's default encoding on a cell space is `graf` (with
        the proxies it beat `path`; on the chain table `onehot` beat `graf`)."""
        encoding = {"encoding": self.encoding} if self.encoding else {}
        if name == "bo":
            features = self.bo_features(objective)
            if features and not self.encoding and isinstance(objective.space, CellSpace):
                encoding = {"encoding": "graf"}
            return {"init": self.init, "model": self.model, "acq": self.acq, **encoding,
                    **({"features": features} if features else {})}
        if name == "predict-top":
            return {"init": self.init, "model": self.model, "pool_size": self.pool_size, **encoding}
        return {"tpe": {"n_startup_trials": self.init}, "ls": {"init": self.init}}.get(name, {})

    def validate(self, objective: Objective | Table, live: bool = False) -> Objective:
        """Fail fast, before any work, on names or sizes that cannot run; returns the objective (a
        table becomes its `TabularObjective`)."""
        if isinstance(objective, Table):
            objective = TabularObjective(objective, self.metric, self.report, self.time_column)
        for name in self.strategies:
            STRATEGIES[name]  # unknown name -> UsageError
        if len(set(self.strategies)) != len(self.strategies):
            raise UsageError("a strategy is named twice")
        if self.budget < 1 or self.seeds < 1 or self.init < 1 or self.batch < 1 or self.validate_top < 0:
            raise UsageError("budget, seeds, init and batch must be >= 1 (validate-top >= 0)")
        if self.validate_top > self.budget:
            raise UsageError(f"--validate-top {self.validate_top} exceeds the budget {self.budget}")
        if self.validate_top and not self.report and not live:
            raise UsageError("--validate-top needs --report COL (the column that validates the top picks)")
        if isinstance(objective, TabularObjective):
            n_classes = objective.classes_with_values()
            if self.budget > n_classes:
                raise UsageError(f"budget {self.budget} exceeds the {n_classes} distinct architectures of the table")
        if self.features and not isinstance(objective, TabularObjective):
            raise UsageError("--features reads columns of a table: give a table FILE")
        for name in self.strategies:
            self.strategy(name, objective, seed=0)  # bad model/encoding/acq/features fail here
        return objective

    def strategy(self, name: str, objective: Objective, seed: int):
        """Strategy `name` for this campaign on `objective`: feature columns become the table's
        per-class feature function."""
        params = self.params_for(name, objective)
        if params.get("features"):
            from surrogate.features import ClassFeatures

            params["features"] = ClassFeatures(objective.table, params["features"])
        return get_strategy(name, objective.space, seed=seed, **params)

    def key(self, fingerprint: str, strategy: str, seed: int) -> str:
        """Checkpoint name: changes whenever anything that shapes this run's trajectory changes."""
        spec = {**asdict(self), "strategies": strategy, "seeds": seed, "input": fingerprint, "version": __version__}
        if spec["features"] is None:  # the default: keys of campaigns made before the field existed still hold
            del spec["features"]
        return f"{strategy}-seed{seed}-{hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]}"

    def run_one(self, objective: Objective, strategy: str, seed: int, step_done=None) -> pd.DataFrame:
        """One strategy under one seed: `budget` queries, asked `batch` at a time."""
        search = self.strategy(strategy, objective, seed)
        domain = objective.domain()
        if domain is not None:
            search.restrict(domain)
        optimum = objective.optimum
        rows, best, clock, spent = [], -math.inf, 0.0, 0.0
        while len(rows) < self.budget:
            q = min(self.batch, self.budget - len(rows))
            start = time.perf_counter()
            archs = search.ask_batch(q) if q > 1 else search.ask()[None]
            spent += time.perf_counter() - start
            answer = objective.evaluate(archs)
            start = time.perf_counter()
            for arch, value in zip(archs, answer.values):
                search.tell(arch, value)
            spent += time.perf_counter() - start
            for arch, value, sec in zip(archs, answer.values, answer.seconds):
                best = max(best, value) if np.isfinite(value) else best
                clock += sec if np.isfinite(sec) else 0.0
                found = np.isfinite(best)
                rows.append({"strategy": strategy, "seed": seed, "step": len(rows) + 1,
                             "arch": objective.space.format(arch), "value": value,
                             "best_so_far": best if found else np.nan,
                             "regret": optimum - best if found and optimum is not None else np.nan,
                             "simulated_seconds": clock if objective.clock else np.nan})
            if step_done:
                step_done(len(archs))
        frame = pd.DataFrame(rows, columns=TRAJECTORY_COLUMNS)
        frame["seconds_per_query"] = spent / self.budget
        return frame

    def run(self, objective: Objective | Table, checkpoints: Path | None = None, progress: bool = True,
            after_run=None) -> pd.DataFrame:
        """Every (strategy, seed) run; `after_run(frame)` is called after each (validating its top picks)."""
        objective = self.validate(objective, live=not isinstance(objective, (Table, TabularObjective)))
        return run_checkpointed(self.strategies, self.seeds, self.budget,
                                lambda s, seed: self.key(objective.fingerprint, s, seed),
                                lambda s, seed, done: self.run_one(objective, s, seed, step_done=done),
                                checkpoints, progress, after_run)


def run_checkpointed(strategies: list[str], seeds: int, budget: int, key, run_one, checkpoints: Path | None = None,
                     progress: bool = True, after_run=None) -> pd.DataFrame:
    """Every (strategy, seed) run of a campaign (single- or multi-objective), each finished one kept
    as `checkpoints/<key(strategy, seed)>.csv` so a rerun resumes; `run_one(strategy, seed, step_done)`
    makes a run's frame. Runs go seed-major (a campaign stopped early holds comparable runs of every
    strategy); the frames come back strategy-major."""
    frames = {}
    with tqdm(total=len(strategies) * seeds * budget, desc="search", unit="query", disable=not progress,
              dynamic_ncols=True) as bar:
        for seed in range(seeds):
            for strategy in strategies:
                saved = checkpoints / f"{key(strategy, seed)}.csv" if checkpoints else None
                bar.set_postfix_str(f"{strategy} seed {seed}", refresh=False)
                if saved and saved.exists():
                    frame = pd.read_csv(saved, dtype={"arch": str})
                    bar.update(budget)
                else:
                    frame = run_one(strategy, seed, bar.update)
                    if saved:
                        atomic_write(saved, frame.to_csv(index=False))
                if after_run:
                    after_run(frame)
                frames[strategy, seed] = frame
    return pd.concat([frames[s, seed] for s in strategies for seed in range(seeds)], ignore_index=True)


def top_picks(run: pd.DataFrame, k: int) -> pd.DataFrame:
    """The k best queries of one run by the search metric (ties: the earlier query)."""
    order = np.argsort(-np.nan_to_num(run.value.to_numpy(), nan=-np.inf), kind="stable")
    return run.iloc[order[:k]]


def validate_picks(run: pd.DataFrame, k: int, validator: Objective) -> list[dict]:
    """Train one run's k best architectures with the validation protocol (`validator`, e.g. a
    `LiveObjective` training on train+valid and reporting test accuracy); one row per pick."""
    picks = top_picks(run.sort_values("step"), k)
    values = validator.evaluate(validator.space.parse_many(picks.arch)).values
    return [{"strategy": str(p.strategy), "seed": int(p.seed), "arch": str(p.arch), "search_value": float(p.value),
             "validated_value": _clean(v)} for p, v in zip(picks.itertuples(), values)]


# --- summaries ------------------------------------------------------------------------------------
def regret_steps(budget: int) -> list[int]:
    """Where regret is reported: the fixed steps within the budget, half the budget and the budget,
    so a short campaign still gets its columns."""
    return sorted({s for s in REGRET_STEPS if s <= budget} | {max(1, budget // 2), budget})


def summarize(trajectories: pd.DataFrame, objective: Objective, campaign: Campaign,
              validated: list[dict] | None = None) -> list[dict]:
    """One dict per strategy with the `--json` fields (means over seeds unless named otherwise).
    Without a known optimum (live) the optimum and regret fields are None; `validated` (live
    `--validate-top`) adds the validated value of each run's top pick and the best of its top k."""
    results = []
    optimum = objective.optimum
    report = objective.report_values if isinstance(objective, TabularObjective) else None
    checked = pd.DataFrame(validated or [], columns=list(VALIDATED_FIELDS))
    for strategy, runs in trajectories.groupby("strategy", sort=False):
        steps = sorted(set(REGRET_STEPS) | set(regret_steps(campaign.budget)))
        finals, hits, regrets = [], [], {str(s): [] for s in steps}
        reports, tops, picks, best_picks, seconds = [], [], [], [], []
        for seed, run in runs.groupby("seed"):
            run = run.sort_values("step")
            if optimum is not None:
                reached = np.flatnonzero(run.best_so_far.to_numpy() >= optimum)
                hits.append(int(run.step.iloc[reached[0]]) if len(reached) else campaign.budget + 1)
            for s in steps:
                regrets[str(s)].append(float(run.regret.iloc[s - 1]) if s <= len(run) else np.nan)
            top = top_picks(run, max(campaign.validate_top, 1))
            if report is not None:
                archs = objective.space.parse_many(top.arch)
                reports.append(float(objective.lookup(report, archs[:1])[0]))
                if campaign.validate_top:
                    tops.append(float(np.nanmax(objective.lookup(report, archs))))
            mine = checked[(checked.strategy == strategy) & (checked.seed == seed)]
            if len(mine):
                picks.append(float(mine.validated_value.iloc[0]) if mine.validated_value.notna().iloc[0] else np.nan)
                best_picks.append(float(mine.validated_value.max()))
            finals.append(float(run.best_so_far.iloc[-1]))
            seconds.append(float(np.nan_to_num(run.simulated_seconds.iloc[-1])))
        results.append({
            "strategy": strategy, "seeds": int(runs.seed.nunique()), "budget": campaign.budget,
            "found_optimum": int(sum(h <= campaign.budget for h in hits)) if optimum is not None else None,
            "median_queries_to_optimum": float(np.median(hits)) if optimum is not None else None,
            "regret_at": {k: _clean(np.mean(v)) if not np.isnan(v).all() else None for k, v in regrets.items()},
            "report_mean": _clean(np.mean(reports)) if reports else None,
            "seconds_per_query": float(runs.groupby("seed").seconds_per_query.first().mean()),
            "train_seconds": float(np.sum(seconds)) if objective.clock else None,
            "best_mean": float(np.mean(finals)),
            **({"validate_top": {"k": campaign.validate_top, "report_best_mean": _clean(np.mean(tops))}}
               if tops else {}),
            **({"validated": {"k": campaign.validate_top, "top_pick_mean": _clean(np.nanmean(picks)),
                              "best_of_top_k_mean": _clean(np.nanmean(best_picks))}} if picks else {}),
        })
    return results


def _clean(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def json_document(metric: str, optimum: float | None, results: list[dict], validated: list[dict] | None = None) -> dict:
    """The `--json` contract: exactly JSON_FIELDS per strategy (and the validated picks, if any)."""
    document = {"metric": metric, "optimum": optimum, "results": [{k: r[k] for k in JSON_FIELDS} for r in results]}
    if validated is not None:
        document["validated"] = [{k: v[k] for k in VALIDATED_FIELDS} for v in validated]
    return document


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None or not np.isfinite(value) else format(value, spec)


def markdown_summary(results: list[dict], campaign: Campaign, live: bool = False) -> str:
    header = ["strategy", "seeds"]
    if not live:
        header += ["found optimum", "median queries to optimum", *[f"regret@{s}" for s in regret_steps(campaign.budget)]]
    header += ["best (mean)", "s/query"]
    if live:
        header.append("training min")
    if campaign.report:
        header.append(f"{campaign.report} of top pick")
    if campaign.validate_top and not live:
        header.append(f"best {campaign.report} of top {campaign.validate_top}")
    if live and campaign.validate_top:
        header += ["validated test acc of top pick", f"best validated of top {campaign.validate_top}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        cells = [r["strategy"], str(r["seeds"])]
        if not live:
            cells += [f"{r['found_optimum']}/{r['seeds']}", f"{r['median_queries_to_optimum']:g}",
                      *[_fmt(r["regret_at"][str(s)]) for s in regret_steps(campaign.budget)]]
        cells += [f"{r['best_mean']:.3f}", f"{r['seconds_per_query']:.3f}"]
        if live:
            cells.append(_fmt((r["train_seconds"] or 0) / r["seeds"] / 60, ".1f"))
        if campaign.report:
            cells.append(_fmt(r["report_mean"]))
        if campaign.validate_top and not live:
            cells.append(_fmt(r["validate_top"]["report_best_mean"]))
        if live and campaign.validate_top:
            checked = r.get("validated", {})
            cells += [_fmt(checked.get("top_pick_mean")), _fmt(checked.get("best_of_top_k_mean"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_regret(trajectories: pd.DataFrame, path: Path, title: str, clock: bool, live: bool = False) -> None:
    """Median and quartiles of regret (live: of the best value so far) per strategy against queries
    and the training clock."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column, label = ("best_so_far", "best so far (median, quartiles)") if live else ("regret", "regret (median, quartiles)")
    panels = 2 if clock else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.5), squeeze=False)
    styles = ["-", "--", "-.", ":"]
    for k, (strategy, runs) in enumerate(trajectories.groupby("strategy", sort=False)):
        curve = runs.pivot(index="step", columns="seed", values=column)
        q1, med, q3 = (curve.quantile(q, axis=1) for q in (0.25, 0.5, 0.75))
        # identical curves (re and rs share a random start, say) stay visible: own style, thinner on top
        line, = axes[0, 0].plot(curve.index, med, label=strategy, linestyle=styles[k % 4], linewidth=2.2 - 0.3 * (k % 4),
                                zorder=3 + k)
        axes[0, 0].fill_between(curve.index, q1, q3, alpha=0.2, color=line.get_color())
        if clock:
            seconds = runs.pivot(index="step", columns="seed", values="simulated_seconds").median(axis=1) / 3600
            axes[0, 1].plot(seconds, med, label=strategy, color=line.get_color(), linestyle=line.get_linestyle(),
                            linewidth=line.get_linewidth(), zorder=line.get_zorder())
            axes[0, 1].fill_between(seconds, q1, q3, alpha=0.2, color=line.get_color())
    axes[0, 0].set_xlabel("queries")
    if clock:
        axes[0, 1].set_xlabel(("training time" if live else "simulated training time") + " (hours, median over seeds)")
    for ax in axes[0]:
        if not live:
            ax.set_yscale("symlog", linthresh=0.01)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def write_report(campaign: Campaign, objective: Objective | Table, trajectories: pd.DataFrame, out: Path, source: str,
                 command: str, seconds: float, validated: list[dict] | None = None, dataset: str | None = None) -> dict:
    """trajectories.csv, summary.md, regret.png and run.json under `out`; returns the JSON document."""
    if isinstance(objective, Table):
        objective = TabularObjective(objective, campaign.metric, campaign.report, campaign.time_column)
    live = not isinstance(objective, TabularObjective)
    results = summarize(trajectories, objective, campaign, validated)
    atomic_write(out / "trajectories.csv", trajectories[list(TRAJECTORY_COLUMNS)].to_csv(index=False))
    if live:
        where = {"space": objective.space.spec, "dataset": dataset, "optimum": None,
                 "training_config": objective.config.stored(),
                 "oracle": "live training (generate's trainer; records in records.h5, one per isomorphism class)"}
    else:
        table = objective.table
        dataset = table.attrs.get("dataset")
        where = {"space": table.space, "dataset": dataset, "optimum": objective.optimum,
                 "oracle": "tabular lookup (an architecture's own finite record; else its isomorphism class mean)"}
    run = run_record(command, source, objective.fingerprint, range(campaign.seeds), **where, campaign=asdict(campaign),
                     strategy_params={s: campaign.params_for(s, objective) for s in campaign.strategies},
                     seconds=round(seconds, 2), results=results,
                     **({"validated": validated} if validated is not None else {}))
    atomic_write(out / "run.json", json.dumps(run, indent=2) + "\n")
    title = f"{dataset or objective.space.spec}: {campaign.metric}" + (" (live)" if live else "")
    if live:
        trained = len(objective.journal.done()) if objective.journal.records.is_dir() else 0
        intro = (f"{campaign.seeds} seeds x {campaign.budget} queries, each trained live: {trained} distinct networks "
                 f"trained for {len(trajectories)} queries (an architecture trained once serves every run that asks "
                 "it, charged to each: training min is per run). Best = best value found; mean over seeds."
                 + (f" Top {campaign.validate_top} of each run retrained with the validation protocol "
                    "(train+valid, test accuracy)." if campaign.validate_top else ""))
    else:
        intro = (f"{campaign.seeds} seeds x {campaign.budget} queries, table optimum {objective.optimum:g}. "
                 "Regret = optimum - best found; mean over seeds. A run that never found the optimum counts "
                 f"as {campaign.budget + 1} queries (budget + 1) in the median.")
    text = [f"# Search campaign: {title}", "", intro, f"Command: `{command}`", "",
            markdown_summary(results, campaign, live), ""]
    atomic_write(out / "summary.md", "\n".join(text))
    plot_regret(trajectories, out / "regret.png", title, clock=objective.clock, live=live)
    return json_document(campaign.metric, objective.optimum, results, validated)
