"""Multi-objective and constrained search campaigns on a table (`surrogate search --objectives`).

Each strategy runs `budget` queries under seeds 0..S-1. Per query the trajectory records the
architecture, its outcome columns, whether it is feasible and the hypervolume ratio reached so far
(the found set's hypervolume over the table's true Pareto front's); with one objective, the best
feasible value so far and the regret against the best feasible architecture instead. Finished
(strategy, seed) runs are checkpointed, so a killed campaign resumes.

Every isomorphism class has one outcome vector: a measured column is the mean of the class's
records (isomorphs compute the same function; their records differ by training noise), an exact
cost (params, FLOPs, from the table or computed from the network definition) is the class's
smallest, i.e. the network with its dead ops pruned — the representative a deployment would use.

Live (`surrogate search --space S --dataset D --objectives ...`): each query trains its class's
canonical member with `LiveObjective` (generate's trainer and journal, `OUT/records.h5`; a killed
campaign retrains nothing) and the outcome vector is read from the record (`LiveOracle`); params
and FLOPs are computed from the network definition, so they are exact before any training. No true
front is known: the hypervolume ratio and the front found are `null`, and the report gives the
hypervolume found itself, against the given reference point or BoTorch's rule applied to the front
of every run combined (the same point for every strategy).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from surrogate import __version__, pareto
from surrogate._io import default_threads, torch_threads
from surrogate.campaign import run_checkpointed
from surrogate.errors import UsageError
from surrogate.features import COMPUTED, ClassFeatures, default_features, raw_feature
from surrogate.mo_report import json_document, summarize, write_report
from surrogate.search.base import Strategy
from surrogate.search.multiobjective import MO_STRATEGIES, Problem, get_mo_strategy
from surrogate.spaces import ENUMERATE_LIMIT, Space, get_space
from surrogate.tabular import Table


class ClassOracle:
    """One outcome vector per isomorphism class of a table, over `columns` (see the module note)."""

    clock = False  # no training seconds: a table lookup

    def __init__(self, table: Table, columns: Sequence[str]):
        self.space: Space = get_space(table.space)
        self.table, self.columns = table, tuple(columns)
        self.exact_columns = tuple(c for c in self.columns if c in COMPUTED)
        ids = self.space.canonical_ids(table.archs)
        self.class_ids, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        self.archs = table.archs[first]  # one representative per class
        raw = pd.DataFrame({c: raw_feature(table, c) for c in self.columns}).groupby(inverse)
        how = {c: "min" if c in self.exact_columns else "mean" for c in self.columns}
        self.values = raw.agg(how)[list(self.columns)].to_numpy(dtype=np.float64)  # pandas' min/mean skip NaN
        infinite = np.flatnonzero(np.isinf(self.values).any(axis=0))
        if len(infinite):
            raise UsageError(f"column {self.columns[infinite[0]]!r} holds infinite values")

    def index(self, archs: np.ndarray) -> np.ndarray:
        """Class position of each architecture (UsageError for one the table lacks)."""
        ids = self.space.canonical_ids(np.atleast_2d(archs))
        k = np.minimum(np.searchsorted(self.class_ids, ids), len(self.class_ids) - 1)
        missing = np.flatnonzero(self.class_ids[k] != ids)
        if len(missing):
            arch = self.space.format(np.atleast_2d(archs)[missing[0]])
            raise UsageError(f"{arch} is not in the table (nor any isomorph)")
        return k

    def __call__(self, archs: np.ndarray) -> np.ndarray:
        return self.values[self.index(archs)]

    def evaluate(self, archs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(outcome vectors, training seconds: NaN, a table has no clock)."""
        return self(archs), np.full(len(np.atleast_2d(archs)), np.nan)

    def exact(self, archs: np.ndarray) -> np.ndarray:
        """The exact columns of each architecture: known from the architecture alone."""
        return self(archs)[:, [self.columns.index(c) for c in self.exact_columns]]

    @property
    def fingerprint(self) -> str:
        return self.table.checksum()

    @property
    def dataset(self) -> str | None:
        return self.table.attrs.get("dataset")


def live_columns() -> tuple[str, ...]:
    """What a live outcome vector may hold: a training record's columns (a per-epoch metric read at
    its last epoch; params, flops, latencies, `job_seconds`...) and `train_seconds` (the epochs'
    seconds summed: the training alone, without evaluation and cost measurement)."""
    from surrogate.generate.table import FINAL_METRICS
    from surrogate.train.trainer import EPOCH_METRICS

    return (*EPOCH_METRICS, *FINAL_METRICS, "train_seconds")


class LiveOracle:
    """One outcome vector per isomorphism class, trained live by `objective` (a `LiveObjective`:
    the class's canonical member, once, into its journal) and read from the record; the exact
    columns (params, flops) are computed from the network definition, before any training (the
    values the record then holds). `archs` is None: the strategies roam the whole space."""

    clock = True  # the seconds each record's training took (`job_seconds`), charged to every asker
    archs = None

    def __init__(self, objective, columns: Sequence[str]):
        known = live_columns()
        for name in columns:
            if name not in known:
                raise UsageError(f"unknown column {name!r} for a live campaign: a training record holds "
                                 f"{', '.join(known)}")
        self.objective, self.space = objective, objective.space
        self.columns = tuple(columns)
        self.exact_columns = tuple(c for c in self.columns if c in COMPUTED)

    @staticmethod
    def _read(record: dict, name: str) -> float:
        if name == "train_seconds":
            return float(np.sum(record["epoch_seconds"])) if "epoch_seconds" in record else np.nan
        values = np.asarray(record.get(name, np.nan), dtype=np.float64).reshape(-1)
        return float(values[-1])

    def evaluate(self, archs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(outcome vectors, training seconds) of each architecture, training what is not recorded yet."""
        archs = np.atleast_2d(archs)
        records = self.objective.records(archs)
        values = np.array([[self._read(r, c) for c in self.columns] for r in records], dtype=np.float64)
        if self.exact_columns:  # the exact function the strategies were told, bit for bit
            values[:, [self.columns.index(c) for c in self.exact_columns]] = self.exact(archs)
        return values, np.array([self._read(r, "job_seconds") for r in records])

    def __call__(self, archs: np.ndarray) -> np.ndarray:
        return self.evaluate(archs)[0]

    def exact(self, archs: np.ndarray) -> np.ndarray:
        """The exact columns of each architecture, from the network definition (nothing trained)."""
        if not self.exact_columns:
            return np.zeros((len(np.atleast_2d(archs)), 0))
        costs = self.objective.network_costs(archs)
        return np.column_stack([costs[c] for c in self.exact_columns])

    @property
    def fingerprint(self) -> str:
        return self.objective.fingerprint

    @property
    def dataset(self) -> str | None:
        return self.objective.config.dataset

    def domain_size(self, problem: Problem) -> int:
        """Distinct classes of the space the strategies may ask (those satisfying the exact
        constraints); the space's size when it is too large to count and nothing filters it."""
        space = self.space
        if not problem.exact_constraints and space.size > 100_000:
            return int(space.size)
        if space.size > ENUMERATE_LIMIT:
            names = ", ".join(c.name for c in problem.exact_constraints)
            raise UsageError(f"constraints on {names} filter the enumerated space, and space {space.spec} is too "
                             "large to enumerate: constrain a measured column instead")
        archs = space.enumerate()
        return len(np.unique(space.canonical_ids(archs[problem.exactly_feasible(archs)])))


@dataclass
class Truth:
    """What the table says the answer is: the true feasible front (maximisation form), the
    reference point and its hypervolume; with one objective, the best feasible value."""

    problem: Problem
    oracle: ClassOracle | LiveOracle
    front: np.ndarray | None  # None: unknown (live)
    ref: np.ndarray | None
    hypervolume: float | None
    optimum: float
    #: live: the front of every run combined (maximisation form), set with the hypervolumes found
    combined: np.ndarray | None = None

    @property
    def known(self) -> bool:
        """Is the answer known (a table), or only what the runs found (live)?"""
        return self.front is not None

    @classmethod
    def unknown(cls, oracle: LiveOracle, problem: Problem) -> "Truth":
        """A live space: no front, no optimum; the reference point is the given one, if any."""
        ref = None if problem.ref_point is None else np.asarray(problem.ref_point, dtype=np.float64) * problem.signs
        return cls(problem, oracle, None, ref, None, float("nan"))

    @classmethod
    def of(cls, oracle: ClassOracle, problem: Problem) -> "Truth":
        ok = problem.feasible(oracle.values)
        Y = problem.objective_matrix(oracle.values[ok])
        Y = Y[np.isfinite(Y).all(axis=1)]
        if len(Y) == 0:
            raise UsageError("no architecture of the table satisfies the constraints (with finite objectives)")
        front = np.unique(Y[pareto.non_dominated(Y)], axis=0)
        if problem.m == 1:
            return cls(problem, oracle, front, None, None, float(front.max()))
        given = problem.ref_point
        ref = pareto.reference_point(front) if given is None else np.asarray(given, dtype=np.float64) * problem.signs
        volume = pareto.hypervolume(front, ref)
        if volume <= 0:
            raw = ", ".join(f"{o.name}={v:g}" for o, v in zip(problem.objectives, ref * problem.signs))
            raise UsageError(f"no feasible architecture beats the reference point ({raw}) in every objective: "
                             "its hypervolume would be 0")
        return cls(problem, oracle, front, ref, volume, float("nan"))

    def objectives(self, outcomes: np.ndarray) -> np.ndarray:
        """Objective matrix (maximisation form) with infeasible or failed rows at -inf."""
        Y = self.problem.objective_matrix(outcomes)
        keep = self.problem.feasible(outcomes) & np.isfinite(Y).all(axis=1)
        return np.where(keep[:, None], Y, -np.inf)


@dataclass
class MOCampaign:
    """A comparison of strategies on several objectives (or one, constrained) of a table."""

    objectives: list[str] | str
    constraints: list[str] = field(default_factory=list)
    ref_point: list[float] | None = None  # objective units; None = BoTorch's rule on the true front
    strategies: list[str] = field(default_factory=lambda: ["bo", "nsga2", "re", "rs"])
    budget: int = 150
    seeds: int = 10
    init: int = 10
    acq: str = "ehvi"
    features: list[str] | None = None  # bo's extra inputs (table columns); None: the table's zc_ columns
    encoding: str | None = None  # bo's GP encoding; None: multiobjective's default (onehot beside features)

    def __post_init__(self) -> None:
        self.objectives = [str(o) for o in pareto.parse_objectives(self.objectives)]
        self.constraints = [str(pareto.parse_constraint(c)) for c in self.constraints]

    def bo_features(self, oracle=None) -> list[str]:
        """The table columns `bo` reads beside its encoding, by isomorphism class: `features` when
        given; by default every zero-cost proxy column (`zc`) of a table that holds them (as for
        single-objective bo). Measured on NB201 CIFAR-10 (bench/results/search_mo.md): the proxies
        raised the hypervolume found and took constrained bo to the best feasible cell sooner. None
        live: an untrained architecture has no columns."""
        if self.features is not None:
            return list(self.features)
        return default_features(getattr(oracle, "table", None))

    def params_for(self, name: str, oracle=None) -> dict:
        """bo's random initial design, acquisition and feature columns (by name; `oracle`: the
        table's, for the default); nsga2, re and rs keep their own defaults."""
        if name != "bo":
            return {}
        features = self.bo_features(oracle)
        return {"init": self.init, "acq": self.acq, **({"encoding": self.encoding} if self.encoding else {}),
                **({"features": features} if features else {})}

    def strategy(self, name: str, oracle, problem: Problem, seed: int) -> Strategy:
        """Strategy `name` of this campaign: feature columns become the table's per-class values."""
        params = self.params_for(name, oracle)
        if params.get("features"):
            params["features"] = ClassFeatures(oracle.table, params["features"])
        return get_mo_strategy(name, oracle.space, problem, seed=seed, **params)

    def problem(self, oracle: ClassOracle) -> Problem:
        return Problem.parse(self.objectives, self.constraints, exact_columns=oracle.exact_columns, exact=oracle.exact,
                             ref_point=None if self.ref_point is None else tuple(self.ref_point))

    def columns(self) -> list[str]:
        p = Problem.parse(self.objectives, self.constraints)
        return list(p.columns)

    def validate(self, source) -> Truth:
        """Fail fast, before any work (any training), on names, sizes or a reference point that
        cannot run. `source`: a table, or a `LiveObjective` (a live campaign)."""
        for name in self.strategies:
            MO_STRATEGIES[name]  # unknown name -> UsageError
        if len(set(self.strategies)) != len(self.strategies):
            raise UsageError("a strategy is named twice")
        if self.budget < 1 or self.seeds < 1 or self.init < 1:
            raise UsageError("budget, seeds and init must be >= 1")
        m = len(self.objectives)
        if self.ref_point is not None and len(self.ref_point) != m:
            raise UsageError(f"--ref-point needs {m} values, one per objective, got {len(self.ref_point)}")
        if m == 1 and self.ref_point is not None:
            raise UsageError("--ref-point needs two or more objectives")
        if not isinstance(source, Table):
            oracle = LiveOracle(source, self.columns())  # unknown columns fail here
            problem = self.problem(oracle)
            domain = oracle.domain_size(problem)
            if domain == 0:
                raise UsageError(f"no architecture of space {oracle.space.spec} satisfies "
                                 f"{', '.join(map(str, problem.exact_constraints))}")
            if self.budget > domain:
                allowed = " that satisfy the exact constraints" if problem.exact_constraints else ""
                raise UsageError(f"budget {self.budget} exceeds the {domain} distinct architectures of space "
                                 f"{oracle.space.spec}{allowed}")
            if self.features:
                raise UsageError("--features reads columns of a table: a live campaign has none")
            for name in self.strategies:
                self.strategy(name, oracle, problem, seed=0)
            return Truth.unknown(oracle, problem)
        table = source
        for name in self.columns():
            if name not in table.metrics and name not in COMPUTED:
                raise UsageError(f"unknown column {name!r}: not a column of the file ({', '.join(table.metrics)}) "
                                 f"nor a computed one ({', '.join(COMPUTED)})")
        oracle = ClassOracle(table, self.columns())
        problem = self.problem(oracle)
        truth = Truth.of(oracle, problem)
        domain = int(problem.exactly_feasible(oracle.archs).sum())
        if self.budget > domain:
            allowed = " that satisfy the exact constraints" if problem.exact_constraints else ""
            raise UsageError(f"budget {self.budget} exceeds the {domain} distinct architectures of the table{allowed}")
        for name in self.strategies:
            self.strategy(name, oracle, problem, seed=0)  # bad hyperparameters or feature columns fail here
        return truth

    def key(self, oracle, strategy: str, seed: int) -> str:
        """Checkpoint name: changes whenever anything that shapes this run's trajectory changes
        (the oracle's fingerprint: the table's checksum, or the live training configuration's)."""
        spec = {**asdict(self), "strategies": strategy, "seeds": seed, "input": oracle.fingerprint,
                "version": __version__}
        params = self.params_for(strategy, oracle)
        spec.update(features=params.get("features"), encoding=params.get("encoding"))  # bo's own: others' keys hold
        for name in ("features", "encoding"):  # unset: keys of campaigns made before these fields still hold
            if spec[name] is None:
                del spec[name]
        return f"{strategy}-seed{seed}-{hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]}"

    def run_one(self, truth: Truth, strategy: str, seed: int,
                step_done: Callable[[int], None] | None = None) -> pd.DataFrame:
        """One strategy under one seed: `budget` queries, then the per-query metrics (live: the
        hypervolume found is added once every run is done, see `found_hypervolume`)."""
        oracle, problem = truth.oracle, truth.problem
        search = self.strategy(strategy, oracle, problem, seed)
        if oracle.archs is not None:
            search.restrict(oracle.archs)
        archs, outcomes, seconds, spent = [], [], [], 0.0
        for _ in range(self.budget):
            start = time.perf_counter()
            arch = search.ask()
            spent += time.perf_counter() - start
            y, sec = oracle.evaluate(arch)
            y = y[0]
            start = time.perf_counter()
            search.tell(arch, y)
            spent += time.perf_counter() - start
            archs.append(arch)
            outcomes.append(y)
            seconds.append(sec[0])
            if step_done:
                step_done(1)
        outcomes = np.stack(outcomes)
        frame = pd.DataFrame(outcomes, columns=list(oracle.columns))
        frame.insert(0, "arch", oracle.space.format_many(np.stack(archs)))
        frame.insert(0, "step", np.arange(1, self.budget + 1))
        frame.insert(0, "seed", seed)
        frame.insert(0, "strategy", strategy)
        frame["feasible"] = problem.feasible(outcomes)
        Y = truth.objectives(outcomes)
        if problem.m == 1:
            best = np.maximum.accumulate(Y[:, 0])
            frame["best_so_far"] = np.where(np.isfinite(best), best * problem.signs[0], np.nan)
            frame["regret"] = np.where(np.isfinite(best), truth.optimum - best, np.nan)  # NaN live: no optimum
        elif truth.known:
            frame["hypervolume_ratio"] = pareto.hypervolume_trace(Y, truth.ref) / truth.hypervolume
        if oracle.clock:
            frame["simulated_seconds"] = np.cumsum(np.nan_to_num(seconds))  # as a live single-objective campaign
        frame["seconds_per_query"] = spent / self.budget
        return frame

    def run(self, source, checkpoints: Path | None = None, progress: bool = True,
            truth: Truth | None = None) -> pd.DataFrame:
        """Every (strategy, seed) run on `source` (a table, or a `LiveObjective`: its records.h5 is
        exported after each run); live, with several objectives, the hypervolume found is added
        against the truth's reference point (inferred from every run's front when not given)."""
        truth = truth or self.validate(source)
        oracle = truth.oracle
        after_run = (lambda frame: oracle.objective.export()) if isinstance(oracle, LiveOracle) else None
        trajectories = run_checkpointed(self.strategies, self.seeds, self.budget,
                                        lambda s, seed: self.key(oracle, s, seed),
                                        lambda s, seed, done: self.run_one(truth, s, seed, step_done=done),
                                        checkpoints, progress, after_run)
        if truth.problem.m > 1 and not truth.known:
            trajectories = found_hypervolume(trajectories, truth)
        return trajectories


def found_hypervolume(trajectories: pd.DataFrame, truth: Truth) -> pd.DataFrame:
    """Live, several objectives: the `hypervolume` each run has found after each query. The
    reference point is the truth's when given, else BoTorch's rule on the front of every run
    combined (so every strategy is measured from the same point; an objective in which that front
    is flat takes its margin from the range of every feasible point found instead, not from
    BoTorch's 1e-9 floor); both are set on `truth`."""
    Y = truth.objectives(trajectories[list(truth.oracle.columns)].to_numpy(dtype=np.float64))
    ok = np.isfinite(Y).all(axis=1)
    truth.combined = np.unique(Y[ok][pareto.non_dominated(Y[ok])], axis=0) if ok.any() else Y[:0]
    if truth.problem.ref_point is None:
        truth.ref = pareto.reference_point(truth.combined) if len(truth.combined) else None
    if truth.problem.ref_point is None and truth.ref is not None:
        flat = (np.ptp(truth.combined, axis=0) == 0) & (np.ptp(Y[ok], axis=0) > 0)
        truth.ref[flat] = truth.combined.min(axis=0)[flat] - pareto.REF_MARGIN * np.ptp(Y[ok], axis=0)[flat]
    volume = np.zeros(len(trajectories))
    if truth.ref is not None:
        for rows in trajectories.groupby(["strategy", "seed"], sort=False).indices.values():
            rows = rows[np.argsort(trajectories.step.to_numpy()[rows], kind="stable")]
            volume[rows] = pareto.hypervolume_trace(Y[rows], truth.ref)
    return trajectories.assign(hypervolume=volume)


# --- the entry point the CLI calls ----------------------------------------------------------------
def parse_ref_point(text: str | Sequence[float] | None) -> list[float] | None:
    """`auto` (or None) -> None; `"0.8,1e6"` or a sequence -> floats."""
    if text is None or (isinstance(text, str) and text.strip() == "auto"):
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        values = [float(v) for v in items]
    except (TypeError, ValueError):
        raise UsageError(f"malformed --ref-point {text!r}: write auto or one number per objective, "
                         "e.g. 70,2e6") from None
    if not all(np.isfinite(values)):
        raise UsageError(f"--ref-point {text!r}: values must be finite")
    return values


def live_objective(space: str, dataset: str, out: str | Path, epochs: int = 12, command: str = "",
                   data_dir: str | None = None, **training):
    """The `LiveObjective` of a live campaign into `out` (records in `out/records.h5`): `training`
    is `live_config`'s (channels, cells, batch_size, device, subset, resolution). The dataset is
    loaded now (a missing one fails here); nothing is written before the first query."""
    from surrogate.objective import LiveObjective, live_config

    config, data = live_config(space, dataset, epochs=epochs, data_dir=data_dir, **training)
    # `metric` is what `evaluate` returns; a multi-objective campaign reads whole records instead
    return LiveObjective(config, out, "valid_acc", data=data, data_dir=data_dir, command=command)


def run_mo_search(table, objectives: str | Sequence[str], constraints: Sequence[str] = (),
                  ref_point: str | Sequence[float] | None = "auto",
                  strategies: Sequence[str] = ("bo", "nsga2", "re", "rs"),
                  budget: int = 150, seeds: int = 10, init: int = 10, out: str | Path | None = None,
                  command: str = "", progress: bool = True, source: str | None = None, acq: str = "ehvi",
                  features: Sequence[str] | None = None, encoding: str | None = None) -> dict:
    """Validate everything (UsageError before any work), run the campaign with checkpoints under
    `out/.checkpoints`, write the report under `out` (when given) and return the JSON document.
    `table`: a table (object, file or shipped name), or a `LiveObjective` (`live_objective`: a
    live campaign, every query trained; give it the same `out`)."""
    from surrogate.objective import LiveObjective

    live = isinstance(table, LiveObjective)
    if not live and not isinstance(table, Table):
        from surrogate.catalog import resolve

        source = source or str(table)
        table = Table.read(resolve(table))
    if live:
        source = source or f"live: {table.config.space} on {table.config.dataset}"
    else:
        source = source or table.attrs.get("dataset") or table.space
    campaign = MOCampaign(objectives=objectives, constraints=list(constraints), ref_point=parse_ref_point(ref_point),
                          strategies=list(strategies), budget=budget, seeds=seeds, init=init, acq=acq,
                          features=None if features is None else list(features), encoding=encoding)
    truth = campaign.validate(table)
    start = time.perf_counter()
    out = Path(out) if out is not None else None
    checkpoints = out / ".checkpoints" if out else None
    try:  # live: training in this process uses the idle cores (`default_threads`)
        with torch_threads(default_threads(1)) if live else contextlib.nullcontext():
            trajectories = campaign.run(table, checkpoints=checkpoints, progress=progress, truth=truth)
    finally:
        if live:
            table.close()
    if out is None:
        return json_document(truth, summarize(trajectories, truth, campaign))
    return write_report(campaign, truth, trajectories, out, source, command, time.perf_counter() - start)
