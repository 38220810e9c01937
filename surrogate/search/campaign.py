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
import heapq
import json
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
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
from surrogate.search import MULTI_FIDELITY, RANK_BY, STRATEGIES, Strategy, default_strategies, get_strategy, pareto
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
    fidelity: dict | None = None
    budget_seconds: float | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        self.objectives = [str(o) for o in parse_objectives(self.objectives)]
        self.constraints = [str(parse_constraint(c)) for c in self.constraints]
        if self.strategies is None:
            self.strategies = default_strategies(Problem.parse(self.objectives, self.constraints),
                                                 fidelity=self.fidelity is not None)

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
        if name in MULTI_FIDELITY:
            fidelity = self.fidelity_of(oracle, problem)
            if name == "tpe-hb":
                return {"fidelity": fidelity, "n_startup_trials": self.init}
            bo = {k: v for k, v in self.params_for("bo", oracle, problem).items() if k != "init"}
            rule = self.fidelity.get("rank_by", RANK_BY)  # named only when not the default: old keys hold
            return {"fidelity": fidelity, "init": self.init, **({"rank_by": rule} if rule != RANK_BY else {}),
                    **({"searcher_params": bo} if name in ("bohb", "asha-bo") else {})}
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
        for where in (params, params.get("searcher_params") or {}):
            if where.get("features"):
                where["features"] = ClassFeatures(oracle.table, where["features"])
        return get_strategy(name, oracle.space, seed=seed, problem=problem, **params)

    def fidelity_of(self, oracle: Oracle, problem: Problem) -> dict | None:
        """The `fidelity.Fidelity` fields of this campaign on `oracle` (None: whole trainings only)."""
        if self.fidelity is None:
            return None
        full = oracle.max_epochs(problem.objectives[0].name)
        fields = {k: v for k, v in self.fidelity.items() if k != "rank_by"}  # the rule is the strategies' (params_for)
        if full is None:
            name = problem.objectives[0].name
            raise UsageError(f"--fidelity epochs needs per-epoch records of {name}: this table holds one value per "
                             "architecture" if oracle.table is not None else
                             f"--fidelity epochs: {name} is not a per-epoch metric, or these networks (language "
                             "models) are not trained partially yet")
        return {"max_epochs": full, **fields}

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
        partial = [n for n in self.strategies if n in MULTI_FIDELITY]
        if self.budget is None and self.budget_seconds is None:
            raise UsageError("give --budget (queries per run) or --budget-seconds (training seconds per run)")
        if (self.fidelity or self.budget_seconds or self.workers > 1) and not problem.plain:
            raise UsageError("--fidelity, --budget-seconds and simulated --workers serve one objective without "
                             "constraints")
        if partial and self.fidelity is None:
            raise UsageError(f"{', '.join(partial)} train architectures partially: give --fidelity epochs")
        if self.fidelity is not None:
            from surrogate.search.fidelity import Fidelity

            Fidelity(**self.fidelity_of(oracle, problem))  # --min-epochs beyond a whole training, --eta < 2
        if (self.budget_seconds or self.workers > 1) and not oracle.clock:
            raise UsageError("--budget-seconds and simulated --workers run on a training clock: this table has no "
                             "time column (name one with --time-column)")
        if self.validate_top > (self.budget or 0) and self.budget_seconds is None:
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
        if self.budget is not None and self.budget > available and self.fidelity is None:
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
        """One strategy under one seed: jobs until `budget` of them or `budget_seconds` of training.

        Jobs are asked `batch` at a time, evaluated together and told in order; with `workers` > 1
        on a table, they run on that many simulated asynchronous workers instead: a job ends at its
        start plus its training seconds, and the first to end is told first (Syne Tune's simulator).
        A job continuing an architecture is charged only the epochs (and seconds) it adds."""
        search = self.strategy(strategy, oracle, problem, seed)
        domain = oracle.domain()
        if domain is not None:
            search.restrict(domain)
        full = oracle.max_epochs(problem.objectives[0].name)
        simulated = self.workers > 1
        # live workers start jobs one by one, each as a process frees (a short job never waits for a long one)
        asynchronous = not simulated and oracle.parallel > 1 and bool(self.fidelity or self.budget_seconds)
        slots = self.workers if simulated else oracle.parallel if asynchronous else self.batch
        rows: list[tuple] = []  # arch, epochs, outcome, seconds charged, epochs charged, finish
        trained: dict[int, tuple[int, float]] = {}  # class -> epochs trained in this run, and their seconds
        running: list[tuple] = []  # heap of (finish, order, arch, epochs, outcome, told value, seconds, epochs charged,
        #   recorded columns)
        futures: dict[Future, tuple] = {}  # asynchronous: the jobs in training, (order, arch, epochs)
        asked, started, now, spent, t0 = 0, 0.0, 0.0, 0.0, time.perf_counter()

        def charge(arch: np.ndarray, e: int | None, to_epoch: float) -> tuple[float, int | None]:
            """Seconds and epochs a job adds to what this run trained of its class."""
            key = int(oracle.space.canonical_ids(arch)[0])
            before, paid = trained.get(key, (0, 0.0))
            now_epochs = full if e is None else int(e)
            trained[key] = (now_epochs or 0, float(to_epoch))
            return float(to_epoch) - paid, None if now_epochs is None else now_epochs - before

        while True:
            wave = []
            while (len(running) + len(futures) + len(wave) < slots and (self.budget is None or asked < self.budget)
                   and (self.budget_seconds is None or started < self.budget_seconds)):
                clock = time.perf_counter()
                try:
                    job = search.ask_job()
                except UsageError:
                    if not search.exhausted():
                        raise
                    job = None  # every class of the table asked (a budget in seconds): the run ends
                spent += time.perf_counter() - clock
                if job is None:
                    break
                wave.append(job)
                asked += 1
                if not simulated and not asynchronous and len(wave) == 1 and self.budget_seconds is not None:
                    break  # whole waves would overshoot a budget of seconds: one job, charged, then the next
            if wave and asynchronous:
                for j, (arch, e) in enumerate(wave):
                    futures[oracle.start(arch, e)] = (asked - len(wave) + j, arch, e)
            elif wave:
                archs = np.stack([a for a, _ in wave])
                epochs = [e for _, e in wave]
                answer = oracle.evaluate(archs, None if all(e is None for e in epochs) else epochs)
                told = answer.values if search.vector_outcomes else problem.scalar(answer.values)
                side = {c: oracle.recorded(c, archs, epochs) for c in search.recorded_columns}
                for i, (arch, e) in enumerate(wave):
                    seconds, charged_epochs = charge(arch, e, answer.seconds[i])
                    started += np.nan_to_num(seconds)
                    duration = seconds if np.isfinite(seconds) else float(charged_epochs or 1)
                    finish = now + duration if simulated else 0.0
                    heapq.heappush(running, (finish, len(rows) + len(running), arch, e, answer.values[i], told[i],
                                             seconds, charged_epochs, {c: float(v[i]) for c, v in side.items()}))
            if asynchronous:
                if not futures:
                    break
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                done = []
                for future in sorted(finished, key=lambda f: futures[f][0]):
                    _, arch, e = futures.pop(future)
                    answer = oracle.finish(future, arch, e)
                    y = answer.values if search.vector_outcomes else problem.scalar(answer.values)
                    seconds, charged_epochs = charge(arch, e, answer.seconds[0])
                    started += np.nan_to_num(seconds)
                    side = {c: float(oracle.recorded(c, arch, [e])[0]) for c in search.recorded_columns}
                    done.append((time.perf_counter() - t0, 0, arch, e, answer.values[0], y[0], seconds, charged_epochs,
                                 side))
            elif running:
                done = [heapq.heappop(running)] if simulated else [heapq.heappop(running) for _ in range(len(running))]
            else:
                break
            clock = time.perf_counter()
            for finish, _, arch, e, outcome, y, seconds, charged_epochs, side in done:
                search.tell_job(arch, e, y if search.vector_outcomes else float(y), side)
                now = max(now, finish)
                rows.append((arch, e, outcome, seconds, charged_epochs, finish))
            spent += time.perf_counter() - clock
            if step_done:
                step_done(len(done) if self.budget_seconds is None else sum(np.nan_to_num(d[6]) for d in done))
        archs, epochs, outcomes, seconds, charged, finish = zip(*rows)
        partial = np.array([e is not None and e != full for e in epochs])
        frame = trajectory(strategy, seed, oracle.space.format_many(np.stack(archs)), np.stack(outcomes),
                           np.asarray(seconds, dtype=np.float64), problem, truth, oracle.clock, partial)
        if self.fidelity or self.budget_seconds or simulated:
            frame["epochs"] = [full if e is None else e for e in epochs]
            frame["epochs_trained"] = [np.nan if c is None else c for c in charged]
            frame["wall_seconds"] = np.asarray(finish) if simulated or asynchronous else frame["simulated_seconds"]
        frame["seconds_per_query"] = spent / len(rows)
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
        per_run = self.budget if self.budget_seconds is None else self.budget_seconds  # the bar counts what ends a run
        with tqdm(total=len(self.strategies) * self.seeds * per_run, desc="search",
                  unit="query" if self.budget_seconds is None else "s",
                  disable=not progress, dynamic_ncols=True) as bar:
            for seed in range(self.seeds):
                for strategy in self.strategies:
                    saved = checkpoints / f"{self.key(oracle, problem, strategy, seed)}.csv" if checkpoints else None
                    bar.set_postfix_str(f"{strategy} seed {seed}", refresh=False)
                    if saved and saved.exists():
                        frame = pd.read_csv(saved, dtype={"arch": str})
                        bar.update(per_run)
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
               problem: Problem, truth: Truth, clock: bool, partial: np.ndarray | None = None) -> pd.DataFrame:
    """One run's per-query rows (`report.TRAJECTORY_COLUMNS` with one objective and no constraint).
    `partial` marks partial trainings: the best so far (and regret) counts whole trainings only."""
    frame = pd.DataFrame({"strategy": strategy, "seed": seed, "step": np.arange(1, len(archs) + 1), "arch": archs})
    if problem.plain:
        frame["value"] = outcomes[:, 0]
    else:
        for j, name in enumerate(problem.columns):
            frame[name] = outcomes[:, j]
        frame["feasible"] = problem.feasible(outcomes)
    Y = truth.objectives(outcomes)
    if partial is not None and partial.any():
        Y = np.where(partial[:, None], -np.inf, Y)
    if problem.m == 1:
        best = np.maximum.accumulate(Y[:, 0])
        frame["best_so_far"] = np.where(np.isfinite(best), best * problem.signs[0], np.nan)
        frame["regret"] = np.where(np.isfinite(best), truth.optimum - best, np.nan)  # NaN live: no optimum
    elif truth.known:
        frame["hypervolume_ratio"] = pareto.hypervolume_trace(Y, truth.ref) / truth.hypervolume
    frame["simulated_seconds"] = np.cumsum(np.nan_to_num(seconds)) if clock else np.nan
    return frame
