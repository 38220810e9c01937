"""A search campaign: strategies against each other on one `Problem` of one `Oracle`.

Each strategy runs `budget` queries under seeds 0..S-1, asked `batch` at a time. Per query the
trajectory records the architecture and its outcome; with one objective the best value so far and
the regret (the table's best minus the best found, when the answer is known), with several the
hypervolume ratio reached so far (the found set's hypervolume over the true front's), and the
training clock (a table's time column, simulated; or the seconds live training took, charged to
every run that asks an architecture). Each finished (strategy, seed) run is checkpointed, so a
killed campaign resumes where it stopped (a live one also keeps every trained record, so the
interrupted run replays without training again).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from surrogate import __version__
from surrogate._io import atomic_write
from surrogate.errors import UsageError
from surrogate.features import ClassFeatures, default_features
from surrogate.search import STRATEGIES, Strategy, default_strategies, get_strategy, pareto
from surrogate.search.oracle import Oracle, TableOracle
from surrogate.search.problem import Problem, Truth, parse_constraint, parse_objectives

@dataclass
class Campaign:
    """Strategies x seeds on one problem: `objectives` ("COL:max"/"COL:min" items) and
    `constraints` ("COL<=V"...). `strategies` None: the defaults for the problem's kind. BO's
    options: `model` (one objective), `encoding`, `acq` (None: logei, or ehvi for several
    objectives), `features` (table columns it reads beside its encoding; None: the table's zero-cost
    proxies when it has them). `report`: a table column shown for each run's top pick (the best
    of the `validate_top` best). `weight_sharing`: the supernet settings of enas/darts."""

    objectives: list[str]
    constraints: list[str] = field(default_factory=list)
    ref_point: list[float] | None = None
    strategies: list[str] | None = None
    budget: int = 150
    seeds: int = 20
    init: int = 10
    batch: int = 1
    model: str = "gp"
    encoding: str | None = None
    acq: str | None = None
    features: list[str] | None = None
    pool_size: int = 1000
    report: str | None = None
    validate_top: int = 0
    weight_sharing: dict | None = None

    def __post_init__(self) -> None:
        self.objectives = [str(o) for o in parse_objectives(self.objectives)]
        self.constraints = [str(parse_constraint(c)) for c in self.constraints]
        if self.strategies is None:
            self.strategies = default_strategies(Problem.parse(self.objectives, self.constraints))

    @property
    def columns(self) -> list[str]:
        """The outcome columns an oracle must answer: the objectives, then what constraints read."""
        return list(Problem.parse(self.objectives, self.constraints).columns)

    # --- strategies ---------------------------------------------------------------------------------
    def params_for(self, name: str, oracle: Oracle, problem: Problem) -> dict:
        """Keyword hyperparameters of strategy `name` (JSON: feature columns by name). `init` is the
        random initial design of the model-based strategies (bo; tpe's `n_startup_trials`) and the
        random starts of ls; re's first population (30) and reinforce's controller are their own
        hyperparameters."""
        if name == "bo":
            from surrogate.search.bo import bo_encoding  # BoTorch loads when bo is asked for

            features = list(self.features) if self.features is not None else default_features(oracle.table)
            encoding = self.encoding or bo_encoding(oracle.space, problem, bool(features), self.model)
            plain = {"model": self.model} if problem.plain else {}
            return {"init": self.init, **plain, "acq": self.acq or ("logei" if problem.m == 1 else "ehvi"),
                    **({"encoding": encoding} if encoding else {}), **({"features": features} if features else {})}
        if name == "predict-top":
            return {"init": self.init, "model": self.model, "pool_size": self.pool_size,
                    **({"encoding": self.encoding} if self.encoding else {})}
        if name in ("enas", "darts"):
            settings = dict(self.weight_sharing or {})
            return {k: v for k, v in settings.items() if k != "beta" or name == "darts"}
        return {"tpe": {"n_startup_trials": self.init}, "ls": {"init": self.init}}.get(name, {})

    def strategy(self, name: str, oracle: Oracle, problem: Problem, seed: int) -> Strategy:
        """Strategy `name` for this campaign: feature columns become the table's per-class features."""
        params = self.params_for(name, oracle, problem)
        if params.get("features"):
            params["features"] = ClassFeatures(oracle.table, params["features"])
        return get_strategy(name, oracle.space, seed=seed, problem=problem, **params)

    # --- checks -------------------------------------------------------------------------------------
    def validate(self, oracle: Oracle) -> tuple[Problem, Truth]:
        """Fail fast, before any work (any training), on names, sizes or a reference point that
        cannot run; returns the problem and what the table says its answer is (unknown live)."""
        problem = oracle.problem(self.objectives, self.constraints, self.ref_point)
        for name in self.strategies:
            STRATEGIES[name]  # unknown name -> UsageError
        if not self.strategies:
            raise UsageError("--strategies is empty")
        if len(set(self.strategies)) != len(self.strategies):
            raise UsageError("a strategy is named twice")
        if self.validate_top > self.budget:
            raise UsageError(f"--validate-top {self.validate_top} exceeds the budget {self.budget}")
        if not problem.plain and (self.model != "gp" or self.batch != 1):
            raise UsageError("--model and --batch serve one objective without constraints: bo with several "
                             "objectives or constraints fits GPs and asks one architecture at a time")
        if self.features and oracle.table is None:
            raise UsageError("--features reads columns of a table: a live campaign has none")
        if isinstance(oracle, TableOracle) and self.report:
            oracle.column(self.report)  # unknown -> UsageError
        available = oracle.max_queries(problem)
        if available == 0:
            raise UsageError(f"no architecture satisfies {', '.join(map(str, problem.exact_constraints))}"
                             if problem.exact_constraints else "no architecture has a finite value of every objective")
        if self.budget > available:
            where = "of the table" if oracle.table is not None else f"of space {oracle.space.spec}"
            also = " that satisfy the exact constraints" if problem.exact_constraints else ""
            finite = " with finite objectives" if oracle.table is not None else ""
            raise UsageError(f"budget {self.budget} exceeds the {available} distinct architectures "
                             f"{where}{also}{finite}")
        truth = Truth.of(oracle.values, problem) if isinstance(oracle, TableOracle) else Truth.unknown(problem)
        for name in self.strategies:
            self.strategy(name, oracle, problem, seed=0)  # bad model/encoding/acq/features fail here
        return problem, truth

    def key(self, oracle: Oracle, problem: Problem, strategy: str, seed: int) -> str:
        """Checkpoint name: changes whenever anything that shapes this run's trajectory changes
        (the oracle's fingerprint: the table's checksum, or the live training configuration's)."""
        spec = {**asdict(self), "strategies": strategy, "seeds": seed, "input": oracle.fingerprint,
                "version": __version__, "params": self.params_for(strategy, oracle, problem)}
        return f"{strategy}-seed{seed}-{hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]}"

    # --- running ------------------------------------------------------------------------------------
    def run_one(self, oracle: Oracle, problem: Problem, truth: Truth, strategy: str, seed: int,
                step_done: Callable[[int], None] | None = None) -> pd.DataFrame:
        """One strategy under one seed: `budget` queries, asked `batch` at a time."""
        search = self.strategy(strategy, oracle, problem, seed)
        domain = oracle.domain()
        if domain is not None:
            search.restrict(domain)
        archs, outcomes, seconds, spent = [], [], [], 0.0
        while len(archs) < self.budget:
            q = min(self.batch, self.budget - len(archs))
            start = time.perf_counter()
            asked = search.ask_batch(q) if q > 1 else search.ask()[None]
            spent += time.perf_counter() - start
            answer = oracle.evaluate(asked)
            start = time.perf_counter()
            told = answer.values if search.vector_outcomes else problem.scalar(answer.values)
            for arch, y in zip(asked, told):
                search.tell(arch, y if search.vector_outcomes else float(y))
            spent += time.perf_counter() - start
            archs.extend(asked)
            outcomes.extend(answer.values)
            seconds.extend(answer.seconds)
            if step_done:
                step_done(len(asked))
        frame = trajectory(strategy, seed, oracle.space.format_many(np.stack(archs)), np.stack(outcomes),
                           np.asarray(seconds), problem, truth, oracle.clock)
        frame["seconds_per_query"] = spent / self.budget
        return frame

    def run(self, oracle: Oracle, checkpoints: Path | None = None, progress: bool = True,
            after_run: Callable[[pd.DataFrame], None] | None = None,
            checked: tuple[Problem, Truth] | None = None) -> tuple[pd.DataFrame, Problem, Truth]:
        """Every (strategy, seed) run, each finished one kept as `checkpoints/<key>.csv` so a rerun
        resumes; `after_run(frame)` is called after each (a live campaign exports its records and
        validates the run's top picks there). Runs go seed-major (a campaign stopped early holds
        comparable runs of every strategy); the frames come back strategy-major. `checked`: what
        `validate` returned, when it was called already."""
        problem, truth = checked or self.validate(oracle)
        frames = {}
        with tqdm(total=len(self.strategies) * self.seeds * self.budget, desc="search", unit="query",
                  disable=not progress, dynamic_ncols=True) as bar:
            for seed in range(self.seeds):
                for strategy in self.strategies:
                    saved = checkpoints / f"{self.key(oracle, problem, strategy, seed)}.csv" if checkpoints else None
                    bar.set_postfix_str(f"{strategy} seed {seed}", refresh=False)
                    if saved and saved.exists():
                        frame = pd.read_csv(saved, dtype={"arch": str})
                        bar.update(self.budget)
                    else:
                        frame = self.run_one(oracle, problem, truth, strategy, seed, step_done=bar.update)
                        if saved:
                            atomic_write(saved, frame.to_csv(index=False))
                    if after_run:
                        after_run(frame)
                    frames[strategy, seed] = frame
        trajectories = pd.concat([frames[s, seed] for s in self.strategies for seed in range(self.seeds)],
                                 ignore_index=True)
        return trajectories, problem, truth


def trajectory(strategy: str, seed: int, archs: list[str], outcomes: np.ndarray, seconds: np.ndarray,
               problem: Problem, truth: Truth, clock: bool) -> pd.DataFrame:
    """One run's per-query rows (`report.TRAJECTORY_COLUMNS` with one objective and no constraint)."""
    frame = pd.DataFrame({"strategy": strategy, "seed": seed, "step": np.arange(1, len(archs) + 1), "arch": archs})
    if problem.plain:
        frame["value"] = outcomes[:, 0]
    else:
        for j, name in enumerate(problem.columns):
            frame[name] = outcomes[:, j]
        frame["feasible"] = problem.feasible(outcomes)
    Y = truth.objectives(outcomes)
    if problem.m == 1:
        best = np.maximum.accumulate(Y[:, 0])
        frame["best_so_far"] = np.where(np.isfinite(best), best * problem.signs[0], np.nan)
        frame["regret"] = np.where(np.isfinite(best), truth.optimum - best, np.nan)  # NaN live: no optimum
    elif truth.known:
        frame["hypervolume_ratio"] = pareto.hypervolume_trace(Y, truth.ref) / truth.hypervolume
    frame["simulated_seconds"] = np.cumsum(np.nan_to_num(seconds)) if clock else np.nan
    return frame
