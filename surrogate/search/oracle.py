"""What answers a campaign's queries: one `Oracle` protocol behind every campaign.

* `TableOracle`: every query is a lookup in a table, with a simulated training clock taken from
  the table's time column;
* `LiveOracle`: every query really trains the architecture with `surrogate generate`'s trainer and
  journal (`DIR/records.h5`), so a killed campaign retrains nothing that finished, and an
  architecture one run trained is reused by every other run (charged to each asker alike).

An oracle answers an outcome matrix over the problem's columns and the seconds each query is
charged (`Outcome`). One rule for isomorphs, everywhere: **every strategy treats an isomorphism
class as one point (it never asks two members), so a class has one outcome: a measured column is
the mean of its members' finite records (isomorphs compute the same function; their records differ
by training noise), an exact cost the class's smallest (the cheapest network computing that
function)**. Which member a strategy happens to ask never changes what it sees, and
the table's best is always reachable. A live oracle trains the class's canonical member once (its
record is the class's) and computes params and FLOPs as the class's smallest, as a table does.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from abc import ABC, abstractmethod
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from surrogate._io import signals_held
from surrogate.errors import UsageError
from surrogate.features import COMPUTED, raw_feature
from surrogate.search.problem import Problem
from surrogate.spaces import ENUMERATE_LIMIT, Space, get_space
from surrogate.tabular import Table

#: spaces larger than this are not enumerated to count their classes (the space's size stands in).
COUNT_LIMIT = 100_000


@dataclass(frozen=True)
class Outcome:
    """The outcome vectors of the asked architectures, (n, len(columns)) in the columns' units, and
    the training seconds each is charged, (n,) (NaN: unknown)."""

    values: np.ndarray
    seconds: np.ndarray


class Oracle(ABC):
    """Answers queries over `columns`. `exact_columns` are known from the architecture alone
    (`exact`, no training); `clock` says whether `Outcome.seconds` are meaningful; `fingerprint`
    names what answers, so checkpoints of another oracle are never reused."""

    space: Space
    columns: tuple[str, ...]
    exact_columns: tuple[str, ...] = ()
    clock: bool = False
    table: Table | None = None  # the table answering, if any (its columns are strategy features)

    @abstractmethod
    def evaluate(self, archs: np.ndarray, epochs: np.ndarray | None = None) -> Outcome:
        """The outcome of each architecture (a matrix of them), training them if need be; `epochs`
        (one per architecture, None: a whole training): the outcome after that many epochs, and
        the seconds of training to that epoch (a campaign charges what a continuation adds)."""

    def max_epochs(self, column: str) -> int | None:
        """Epochs of a whole training when `column` is recorded per epoch (multi-fidelity), else None."""
        return None

    def recorded(self, name: str, archs: np.ndarray, epochs: Sequence[int | None]) -> np.ndarray:
        """(n,): per-epoch column `name` of each answered job after its epochs (None: a whole
        training), beside the problem's columns (a learning-curve rule's training loss); NaN where
        nothing records it. Read after `evaluate`/`finish` of those jobs, whose records then exist."""
        return np.full(len(np.atleast_2d(archs)), np.nan)

    @abstractmethod
    def exact(self, archs: np.ndarray) -> np.ndarray:
        """(n, len(exact_columns)): the exact columns of each architecture."""

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """A checksum of what answers queries (the table, or the training configuration)."""

    @property
    def dataset(self) -> str | None:
        return None

    @property
    def directions(self) -> dict[str, str]:
        """Each column's recorded direction ("max"/"min"), where one is recorded."""
        return {}

    def problem(self, objectives: Sequence[str], constraints: Sequence[str] = (),
                ref_point: Sequence[float] | None = None) -> Problem:
        """The `Problem` over this oracle's columns (its exact columns exact)."""
        problem = Problem.parse(objectives, constraints, ref_point=None if ref_point is None else tuple(ref_point))
        if problem.columns != self.columns:
            raise UsageError(f"the oracle answers {', '.join(self.columns)}, the problem asks "
                             f"{', '.join(problem.columns)}")
        return replace(problem, exact_columns=self.exact_columns, exact=self.exact if self.exact_columns else None)

    def domain(self) -> np.ndarray | None:
        """The architectures strategies may ask (one per class counts), or None: the whole space."""
        return None

    @abstractmethod
    def max_queries(self, problem: Problem) -> int:
        """How many distinct classes a run can ask: those with finite objectives (a table) that
        satisfy the exact constraints."""

    #: jobs this oracle trains at once when they are started one by one (`start` / `finish`)
    parallel = 1

    def start(self, arch: np.ndarray, epochs: int | None) -> Future:
        """Begin one job (`evaluate`'s, for one architecture) without waiting for it; `finish` reads
        its outcome once the future is done. Here: nothing runs ahead, `finish` evaluates."""
        future: Future = Future()
        future.set_result(None)
        return future

    def finish(self, future: Future, arch: np.ndarray, epochs: int | None) -> Outcome:
        """The outcome of a started job (one row)."""
        future.result()
        return self.evaluate(np.atleast_2d(arch), None if epochs is None else [epochs])

    def close(self, abort: bool = False) -> None:
        """Release what answering holds (worker processes; `abort`: at once, the campaign was interrupted)."""


# --- tables ---------------------------------------------------------------------------------------
class TableOracle(Oracle):
    """Answers from a table by the rule for isomorphs (module doc): one outcome per class. Columns
    are the table's metrics (last epoch, mean over seeds) or params/FLOPs computed from the network
    definition when it lacks them; `time_column` (per-epoch seconds, summed) drives the simulated
    clock. `values` holds one row per class, `archs` its representative (its first row in the table)."""

    def __init__(self, table: Table, columns: Sequence[str], time_column: str | None = None):
        self.space = get_space(table.space)
        self.table, self.columns = table, tuple(columns)
        # columns a network's definition fixes: params, FLOPs, and what the table lists (`surrogate latency --into`)
        self.computed = frozenset((*COMPUTED, *(table.attrs.get("exact_columns") or ())))
        self.exact_columns = tuple(c for c in self.columns if c in self.computed)
        ids = self.space.canonical_ids(table.archs)
        self.class_ids, first, self._inverse = np.unique(ids, return_index=True, return_inverse=True)
        self.archs = table.archs[first]
        self._classes: dict[str, np.ndarray] = {}
        self.values = np.column_stack([self.column(c) for c in self.columns]) if self.columns else \
            np.zeros((len(self.class_ids), 0))
        self.seconds = None
        self.time_column = time_column
        if time_column:
            self.seconds = _by_class(total_seconds(table, time_column), self._inverse, "mean")
        self.clock = self.seconds is not None
        self._curves: dict[str, np.ndarray] = {}

    def column(self, name: str) -> np.ndarray:
        """Column `name` of every class: its members' finite records averaged (an exact cost: the
        smallest); NaN where none is finite."""
        if name not in self._classes:
            if name not in self.table.metrics and name not in COMPUTED:
                from surrogate.nets.latency import COLUMN

                hint = (f"; `surrogate latency --into FILE` writes {COLUMN}, predicted from a latency table measured "
                        "on your device" if name == COLUMN else "")
                raise UsageError(f"unknown metric {name!r}: not a column of the file "
                                 f"({', '.join(self.table.metric_names)}) nor a computed one ({', '.join(COMPUTED)})"
                                 + hint)
            own = raw_feature(self.table, name).astype(np.float64)
            if np.isinf(own).any():
                raise UsageError(f"column {name!r} holds infinite values (row {np.flatnonzero(np.isinf(own))[0] + 1})")
            self._classes[name] = _by_class(own, self._inverse, "min" if name in self.computed else "mean")
        return self._classes[name]

    @property
    def fingerprint(self) -> str:
        return self.table.checksum()

    @property
    def dataset(self) -> str | None:
        return self.table.attrs.get("dataset")

    @property
    def directions(self) -> dict[str, str]:
        return dict(self.table.attrs.get("directions") or {})

    def domain(self) -> np.ndarray:
        """The table's architectures: strategies ask one representative per class, its first row
        (the same one whether it is drawn at random or scored by a model, so an encoding that tells
        isomorphs apart, one-hot say, sees one architecture per class)."""
        return self.table.archs

    def max_queries(self, problem: Problem) -> int:
        ok = np.isfinite(self.values[:, :problem.m]).all(axis=1) & problem.exactly_feasible(self.archs)
        return int(ok.sum())

    def index(self, archs: np.ndarray) -> np.ndarray:
        """Class position of each architecture (UsageError for one whose class the table lacks)."""
        archs = np.atleast_2d(archs)
        ids = self.space.canonical_ids(archs)
        k = np.minimum(np.searchsorted(self.class_ids, ids), len(self.class_ids) - 1)
        missing = np.flatnonzero(self.class_ids[k] != ids)
        if len(missing):
            raise UsageError(f"{self.space.format(archs[missing[0]])} is not in the table (nor any isomorph)")
        return k

    def lookup(self, name: str, archs: np.ndarray) -> np.ndarray:
        """Column `name`'s value of each architecture (its class's, by the rule for isomorphs)."""
        return self.column(name)[self.index(archs)]

    def max_epochs(self, column: str) -> int | None:
        values = self.table.metrics.get(column)
        return None if values is None or values.shape[2] < 2 else int(values.shape[2])

    def curve(self, name: str) -> np.ndarray:
        """(classes, epochs) of column `name` after each epoch, by the rule for isomorphs (a column
        recorded once, params say, is the same at every epoch); `seconds` the training seconds to
        each epoch (a time column recorded once is spread evenly over the epochs)."""
        if name not in self._curves:
            if name == "seconds":
                values = self.table.metrics[self.time_column]
                epochs = self.max_epochs(self.columns[0]) or 1
                per_arch = (np.cumsum(np.nanmean(values, axis=1), axis=1) if values.shape[2] > 1 else
                            np.nanmean(values[:, :, 0], axis=1)[:, None] * np.arange(1, epochs + 1) / epochs)
            elif name in self.table.metrics and self.table.metrics[name].shape[2] > 1:
                per_arch = np.nanmean(self.table.metrics[name], axis=1)
            else:
                per_arch = self.column(name)[self._inverse][:, None]
            self._curves[name] = _by_class(per_arch, self._inverse, "min" if name in self.computed else "mean")
        return self._curves[name]

    def _at(self, name: str, k: np.ndarray, epochs: Sequence[int | None]) -> np.ndarray:
        """Column `name`'s curve of classes `k` after each one's epochs (None: the last; a column
        recorded once reads the same at every epoch)."""
        curve = self.curve(name)
        at = [curve.shape[1] if e is None else min(int(e), curve.shape[1]) for e in epochs]
        return curve[k, np.asarray(at) - 1]

    def recorded(self, name: str, archs: np.ndarray, epochs: Sequence[int | None]) -> np.ndarray:
        if name not in self.table.metrics or self.table.metrics[name].shape[2] < 2:
            return super().recorded(name, archs, epochs)
        return self._at(name, self.index(archs), epochs)

    def evaluate(self, archs: np.ndarray, epochs: np.ndarray | None = None) -> Outcome:
        k = self.index(archs)
        if epochs is None or all(e is None for e in epochs):
            return Outcome(self.values[k], np.full(len(k), np.nan) if self.seconds is None else self.seconds[k])
        at = [self.max_epochs(self.columns[0]) if e is None else int(e) for e in epochs]
        values = np.column_stack([self._at(c, k, at) for c in self.columns])
        return Outcome(values, np.full(len(k), np.nan) if self.seconds is None else self._at("seconds", k, at))

    def exact(self, archs: np.ndarray) -> np.ndarray:
        return self.values[self.index(archs)][:, [self.columns.index(c) for c in self.exact_columns]]


def _by_class(own: np.ndarray, inverse: np.ndarray, how: str) -> np.ndarray:
    """Each class's mean (or min) of its members' finite values; NaN where none is finite. `own`
    (n,) gives (classes,), (n, epochs) gives (classes, epochs)."""
    return pd.DataFrame(own).groupby(inverse).agg(how).to_numpy(dtype=np.float64).reshape(-1, *own.shape[1:])


def total_seconds(table: Table, name: str) -> np.ndarray:
    """Training seconds per architecture: a per-epoch time column summed over epochs (mean over seeds)."""
    if name not in table.metrics:
        raise UsageError(f"unknown time column {name!r} (the file has: {', '.join(table.metric_names)})")
    values = table.metrics[name]
    return np.nanmean(values, axis=1).sum(axis=1) if values.shape[2] > 1 else np.nanmean(values[:, :, 0], axis=1)


# --- live training --------------------------------------------------------------------------------
#: the training seed of every live query: an architecture trained once serves every run that asks it.
TRAIN_SEED = 0


def live_columns(config) -> tuple[str, ...]:
    """What a live outcome vector may hold: a training record's columns (a per-epoch metric read at
    its last epoch; params, flops, latencies, `job_seconds`...) and `train_seconds` (the epochs'
    seconds summed: the training alone, without evaluation and cost measurement)."""
    return (*config.epoch_metrics, *config.final_metrics, "train_seconds")


class LiveOracle(Oracle):
    """Trains each asked architecture (its class's canonical member) with `config` (a
    `generate.JobConfig` without an architecture list), journaled under `root/<name>.parts` and
    exported to `root/<name>` (`records.h5`). `workers` > 1 trains that many at once in spawned
    processes. Outcomes are read from each record (module doc); the exact columns (params, flops)
    are the class's, computed from the network definition before any training. Seconds are each
    record's `job_seconds`."""

    clock = True

    def __init__(self, config, root: str | Path, columns: Sequence[str], data=None, data_dir: str | None = None,
                 workers: int = 1, name: str = "records.h5", command: str = ""):
        from surrogate.generate import Journal, journal_path

        known = live_columns(config)
        for column in columns:
            if column not in known:
                raise UsageError(f"unknown column {column!r} for a live campaign: a training record holds "
                                 f"{', '.join(known)}")
        self.space, self.config, self.columns = get_space(config.space), config, tuple(columns)
        if self.space.size >= 2**63:
            raise UsageError(f"space {self.space.spec} is too large for live campaigns (ids beyond int64)")
        self.exact_columns = tuple(c for c in self.columns if c in COMPUTED)
        self.workers, self.data_dir, self.command = workers, data_dir, command
        self.out = Path(root) / name
        self.journal = Journal(journal_path(self.out))
        self._bound = False  # the journal is created by the first evaluation, not by checking options
        self._data = data
        self._worker = None
        self._pool: ProcessPoolExecutor | None = None
        self._class_costs: tuple | None = None  # (class ids, each class's smallest params and flops)
        self.trained = 0  # records this process trained (the rest were found in the journal)

    @property
    def fingerprint(self) -> str:
        return "sha256:" + hashlib.sha256(json.dumps(self.config.stored(), sort_keys=True).encode()).hexdigest()

    @property
    def dataset(self) -> str | None:
        return self.config.dataset

    @property
    def directions(self) -> dict[str, str]:
        from surrogate.tabular import directions

        return directions(live_columns(self.config))

    def max_queries(self, problem: Problem) -> int:
        """Distinct classes of the space the strategies may ask (those satisfying the exact
        constraints); the space's size when it is too large to count and nothing filters it."""
        space = self.space
        if not problem.exact_constraints and space.size > COUNT_LIMIT:
            return int(space.size)
        if space.size > ENUMERATE_LIMIT:
            names = ", ".join(c.name for c in problem.exact_constraints)
            raise UsageError(f"constraints on {names} filter the enumerated space, and space {space.spec} is too "
                             "large to enumerate: constrain a measured column instead")
        archs = space.enumerate()
        return len(np.unique(space.canonical_ids(archs[problem.exactly_feasible(archs)])))

    def max_epochs(self, column: str) -> int | None:
        """The epochs of a training, for a per-epoch column of an image classifier (language models
        are not trained partially yet)."""
        return int(self.config.epochs) if column in self.config.epoch_metrics and not self.config.text else None

    @staticmethod
    def _read(record: dict, name: str, epochs: int | None = None) -> float:
        """Column `name` of a record after `epochs` (None: its last); a whole training's job seconds
        read at fewer epochs are prorated by its epochs' seconds."""
        seconds = np.asarray(record.get("epoch_seconds", np.nan), dtype=np.float64).reshape(-1)
        if name == "train_seconds":
            return float(np.sum(seconds[:epochs])) if "epoch_seconds" in record else np.nan
        values = np.asarray(record.get(name, np.nan), dtype=np.float64).reshape(-1)
        if name == "job_seconds" and epochs is not None and "state" not in record and epochs < len(seconds):
            return float(values[-1] * np.sum(seconds[:epochs]) / np.sum(seconds))
        return float(values[epochs - 1] if epochs is not None and len(values) > 1 else values[-1])

    def evaluate(self, archs: np.ndarray, epochs: np.ndarray | None = None) -> Outcome:
        archs = np.atleast_2d(archs)
        full = int(self.config.epochs)
        want = [full if epochs is None or epochs[i] is None else int(epochs[i]) for i in range(len(archs))]
        records = self.records(archs, want)
        values = np.array([[self._read(r, c, w) for c in self.columns] for r, w in zip(records, want)],
                          dtype=np.float64)
        if self.exact_columns:  # the exact function the strategies were told, bit for bit
            values[:, [self.columns.index(c) for c in self.exact_columns]] = self.exact(archs)
        return Outcome(values.reshape(len(records), len(self.columns)),
                       np.array([self._read(r, "job_seconds", w) for r, w in zip(records, want)]))

    def recorded(self, name: str, archs: np.ndarray, epochs: Sequence[int | None]) -> np.ndarray:
        if name not in self.config.epoch_metrics:
            return super().recorded(name, archs, epochs)
        full = int(self.config.epochs)
        want = [full if e is None else int(e) for e in epochs]
        return np.array([self._read(r, name, w) for r, w in zip(self.records(archs, want), want)], dtype=np.float64)

    def exact(self, archs: np.ndarray) -> np.ndarray:
        if not self.exact_columns:
            return np.zeros((len(np.atleast_2d(archs)), 0))
        costs = self.network_costs(archs)
        return np.column_stack([costs[c] for c in self.exact_columns])

    def records(self, archs: np.ndarray, epochs: Sequence[int] | None = None) -> list[dict]:
        """The training record of each architecture (its class's canonical member, trained now if no
        record holds it yet): every per-epoch metric, the costs, `job_seconds` (generate's record).
        `epochs` (fewer than a whole training): a partial training, checkpointed under the
        journal's `partial/` and continued from its latest checkpoint when asked further; a whole
        training's record serves every epoch."""
        archs = np.atleast_2d(self.space.check(archs))
        self._bind()
        full = int(self.config.epochs)
        epochs = [full] * len(archs) if epochs is None else [int(e) for e in epochs]
        keys = self.space.canonical_ids(archs).tolist()
        canonical = self.space.canonicalize(archs)
        missing = {k: (a, e) for k, a, e in zip(keys, canonical, epochs) if not self._has(k, e)}
        if missing:
            self._train(missing)
        return [self.journal.read((k, TRAIN_SEED)) if self.journal.has((k, TRAIN_SEED)) else self._partial_record(k, e)
                for k, e in zip(keys, epochs)]

    def _bind(self) -> None:
        """Create the journal (or check it is this configuration's) on first use."""
        if not self._bound:
            self.journal.bind(self.config)
            self._bound = True

    # --- partial trainings ------------------------------------------------------------------------------
    def _checkpoint(self, key: int, epochs: int) -> Path:
        return self.journal.root / "partial" / f"a{key:07d}_s{TRAIN_SEED:03d}_e{epochs:04d}.pt"

    def _has(self, key: int, epochs: int) -> bool:
        return self.journal.has((key, TRAIN_SEED)) or (epochs < self.config.epochs and self._checkpoint(key, epochs).exists())

    def _latest(self, key: int, below: int) -> Path | None:
        """The checkpoint of `key` with the most epochs below `below`, if any."""
        found = sorted(self._checkpoint(key, 1).parent.glob(f"a{key:07d}_s{TRAIN_SEED:03d}_e*.pt"))
        found = [p for p in found if int(p.stem.rpartition("_e")[2]) < below]
        return found[-1] if found else None

    def _partial_record(self, key: int, epochs: int) -> dict:
        import torch

        state = torch.load(self._checkpoint(key, epochs), weights_only=True)
        return {**{k: v.numpy() for k, v in state["record"].items()}, "diverged": np.array([state["diverged"]]),
                "job_seconds": np.array([state["job_seconds"]]), "state": True}
    def network_costs(self, archs: np.ndarray) -> dict[str, np.ndarray]:
        """`params` and `flops` of each architecture's class, by the rule for isomorphs: its
        smallest member's, from the network definition alone (no training). Every member of a space
        small enough to enumerate is costed once; a larger space's classes are costed by their
        canonical member (a chain space's classes are single architectures)."""
        from surrogate.nets.costs import costs

        data = self.data()
        config = self.config
        cost = lambda a: costs(self.space, a, channels=config.channels, cells=config.cells,  # noqa: E731
                               num_classes=data.num_classes, input_shape=tuple(data.input_shape))
        archs = np.atleast_2d(archs)
        if self.space.size > ENUMERATE_LIMIT:
            return cost(self.space.canonicalize(archs))
        if self._class_costs is None:
            every = self.space.enumerate()
            ids, inverse = np.unique(self.space.canonical_ids(every), return_inverse=True)
            self._class_costs = ids, {k: _by_class(v, inverse, "min") for k, v in cost(every).items()}
        ids, smallest = self._class_costs
        k = np.searchsorted(ids, self.space.canonical_ids(archs))
        return {name: values[k] for name, values in smallest.items()}

    def data(self):
        """The dataset, loaded once."""
        if self._data is None:
            from surrogate.train.data import load

            config = self.config
            self._data = load(config.dataset, self.data_dir, config.subset, config.resolution)
        return self._data

    def _job(self, key: int, arch: np.ndarray, epochs: int) -> tuple:
        """What a worker is given: (arch, until or None, the checkpoint to resume or None, where to
        save the new one or None)."""
        partial = epochs < self.config.epochs
        resume = self._latest(key, epochs)
        return (arch, epochs if partial else None, None if resume is None else str(resume),
                str(self._checkpoint(key, epochs)) if partial else None)

    def _train(self, todo: dict[int, tuple[np.ndarray, int]]) -> None:
        """Train what no record holds yet (to the epochs asked); a pair another process is training
        is waited for."""
        self.journal.reclaim_dead()
        (self.journal.root / "partial").mkdir(exist_ok=True)
        mine = [k for k in todo if self.journal.claim((k, TRAIN_SEED))]
        try:
            if self.workers > 1 and len(mine) > 1:
                with signals_held():  # submit starts the workers
                    pool = self._processes()
                    futures = {k: pool.submit(train_in_worker, *self._job(k, *todo[k])) for k in mine}
                for k, future in futures.items():
                    self._store(k, future.result())
            else:
                for k in mine:
                    self._store(k, self._local().train_arch(*self._job(k, *todo[k])))
        finally:
            for k in mine:
                self.journal.release((k, TRAIN_SEED))
        for k in todo:  # claimed elsewhere: another process of this campaign trains it
            while not self._has(k, todo[k][1]):
                time.sleep(0.5)
                if self.journal.reclaim_dead() and self.journal.claim((k, TRAIN_SEED)):
                    try:
                        if not self._has(k, todo[k][1]):
                            self._store(k, self._local().train_arch(*self._job(k, *todo[k])))
                    finally:
                        self.journal.release((k, TRAIN_SEED))

    @property
    def parallel(self) -> int:
        return self.workers

    def start(self, arch: np.ndarray, epochs: int | None) -> Future:
        """Submit one job to a free training process (asynchronous workers: a short job never waits
        for a long one); a job some record already answers, or one another process holds, is left
        to `finish` (which reads it, or waits for it)."""
        arch = np.atleast_2d(self.space.check(arch))
        self._bind()
        key, canonical = int(self.space.canonical_ids(arch)[0]), self.space.canonicalize(arch)[0]
        epochs = int(self.config.epochs if epochs is None else epochs)
        if self.workers == 1 or self._has(key, epochs):
            return super().start(arch, epochs)
        self.journal.reclaim_dead()
        (self.journal.root / "partial").mkdir(exist_ok=True)
        if not self.journal.claim((key, TRAIN_SEED)):
            return super().start(arch, epochs)
        with signals_held():  # submit may start the workers
            future = self._processes().submit(train_in_worker, *self._job(key, canonical, epochs))
        future.claimed = key
        return future

    def finish(self, future: Future, arch: np.ndarray, epochs: int | None) -> Outcome:
        key = getattr(future, "claimed", None)
        if key is not None:
            try:
                self._store(key, future.result())
            finally:
                self.journal.release((key, TRAIN_SEED))
        return super().finish(future, arch, epochs)

    def _store(self, key: int, record: dict) -> None:
        """Journal a whole training's record (a partial one's checkpoint the worker wrote)."""
        if "state" not in record:
            self.journal.write((key, TRAIN_SEED), record)
        self.trained += 1

    def _local(self):
        if self._worker is None:
            self._worker = ArchWorker(self.config, self.data_dir, self._data)
        return self._worker

    def _processes(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = training_pool(self.config, self.data_dir, self.workers)
        return self._pool

    def export(self) -> Table | None:
        """Rebuild `records.h5` from the journal (atomically) and return it (None before any training)."""
        from surrogate.generate import build_table

        if not self.journal.records.is_dir():
            return None
        done = sorted(self.journal.done())
        table = build_table({job: self.journal.read(job) for job in done}, self.config, self.command,
                            source={"journal": str(self.journal.root)})
        table.write(self.out)
        return table

    def close(self, abort: bool = False) -> None:
        """Stop the worker processes: when they finish what they train, or at once (`abort`: the
        campaign was interrupted; journaled records are kept, a rerun resumes)."""
        if self._pool is not None:
            if abort:
                for process in list(getattr(self._pool, "_processes", {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=not abort, cancel_futures=True)
            self._pool = None


def training_pool(config, data_dir: str | None, workers: int) -> ProcessPoolExecutor:
    """`workers` spawned training processes, each with the dataset loaded once: submit
    `train_in_worker` with `ArchWorker.train_arch`'s arguments."""
    import multiprocessing

    from surrogate._io import default_threads

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                               initargs=(config, data_dir, default_threads(workers), os.getpid()))


class ArchWorker:
    """The dataset on the device once, then architectures trained one after another."""

    def __init__(self, config, data_dir: str | None, data=None):
        from surrogate.generate import Worker

        self.worker = Worker(config, data_dir, data)

    def train_arch(self, arch: np.ndarray, until: int | None = None, resume: str | None = None,
                   save: str | None = None, seed: int = TRAIN_SEED, hyper: dict | None = None) -> dict:
        """Train `arch` under `seed` (to `until` epochs, continuing the checkpoint `resume`; `hyper`:
        training hyperparameters replacing the configuration's, e.g. lr); a partial training's
        checkpoint is written to `save` and its record comes back marked `state`."""
        import torch

        from surrogate._io import atomic_write
        from surrogate.generate import train_job

        worker = self.worker
        state = None if resume is None else torch.load(resume, weights_only=True)
        config = replace(worker.config, **hyper) if hyper else worker.config
        record = train_job(config, arch, seed, worker.data, worker.device, until, state)
        if "state" in record:
            checkpoint = record["state"] | {"job_seconds": float(record["job_seconds"][0])}
            atomic_write(save, lambda handle: torch.save(checkpoint, handle))
            record["state"] = True
        return record


_PROCESS_WORKER: ArchWorker | None = None


def _start_worker(config, data_dir: str | None, threads: int, parent: int) -> None:
    """A training process: dies with the campaign (even after a kill -9 of it), leaves Ctrl-C to
    the campaign (which cancels the pool), and loads the dataset once."""
    import signal

    import torch

    from surrogate._io import die_with_parent

    global _PROCESS_WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    torch.set_num_threads(threads)
    _PROCESS_WORKER = ArchWorker(config, data_dir)


def train_in_worker(*args) -> dict:
    assert _PROCESS_WORKER is not None
    return _PROCESS_WORKER.train_arch(*args)


def live_config(space: str, dataset: str, epochs: int | None = None, channels: int | None = None,
                cells: int | None = None, batch_size: int | None = None, device: str = "cpu",
                data_dir: str | None = None, subset: int | None = None, resolution: int | None = None,
                seq_len: int | None = None, validation: bool = False):
    """The training configuration of a live campaign's queries (as `surrogate generate --test-at-end`
    would train them, with no architecture list: the campaign chooses them), and the dataset loaded
    once. Test accuracy is measured once, after the last epoch: the search never looks at it.
    `validation=True`: the protocol that validates top picks (train on train+valid)."""
    from surrogate.generate import make_config
    from surrogate.train.data import with_valid_in_train

    config, data = make_config(space, dataset, archs="1", epochs=epochs, channels=channels, cells=cells,
                               batch_size=batch_size, device=device, data_dir=data_dir, subset=subset,
                               resolution=resolution, test_at_end=True, seq_len=seq_len)
    if validation:
        data = with_valid_in_train(data)
        config = replace(config, split=data.split, train_on_valid=True)
    return replace(config, archs=[]), data
