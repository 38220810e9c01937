"""What a search campaign maximises: one `Objective` protocol behind every campaign.

* `TabularObjective`: every query is a lookup in a table, with a simulated training clock taken
  from the table's time column;
* `LiveObjective`: every query really trains the architecture with `surrogate generate`'s trainer
  and journal (`DIR/records.h5`), so a killed campaign retrains nothing that finished, and an
  architecture one run trained is reused by every other run (charged to each asker alike).

One rule for isomorphs, everywhere: an architecture's own finite record; else the mean of the finite
records of its isomorphism class (isomorphs compute the same function; their records differ only
by training noise); NaN when there is none. A live objective trains the class's canonical member,
so which run asks first never changes a value.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from surrogate.errors import UsageError
from surrogate.spaces import ENUMERATE_LIMIT, Space, get_space
from surrogate.tabular import Table


@dataclass(frozen=True)
class Evaluation:
    """Values of the asked architectures and the training seconds each is charged (NaN: unknown)."""

    values: np.ndarray
    seconds: np.ndarray


class Objective(ABC):
    """The function a campaign maximises. `optimum` is the best value when it is known (a table);
    `clock` says whether `Evaluation.seconds` are meaningful; `fingerprint` names what answers, so
    checkpoints of another objective are never reused."""

    space: Space
    metric: str
    optimum: float | None = None
    clock: bool = False

    @abstractmethod
    def evaluate(self, archs: np.ndarray) -> Evaluation:
        """The metric of each architecture (a matrix of them), training them if need be."""

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """A checksum of what answers queries (the table, or the training configuration)."""

    def domain(self) -> np.ndarray | None:
        """The architectures strategies may ask (a table that misses part of its space), or None."""
        return None

    def __call__(self, archs: np.ndarray) -> np.ndarray:
        return self.evaluate(archs).values


# --- tables ---------------------------------------------------------------------------------------
class TabularObjective(Objective):
    """Answers queries from a table (the rule for isomorphs: the module doc)."""

    def __init__(self, table: Table, metric: str, report: str | None = None, time_column: str | None = None):
        self.space = get_space(table.space)
        self.table, self.metric = table, metric
        self.values = final_values(table, metric)
        if np.isnan(self.values).all():
            raise UsageError(f"metric {metric!r} is NaN for every architecture")
        if np.isinf(self.values).any():
            raise UsageError(f"metric {metric!r} holds infinite values (row {np.flatnonzero(np.isinf(self.values))[0] + 1})")
        self.report_values = final_values(table, report) if report else None
        self.seconds = total_seconds(table, time_column) if time_column else None
        self.clock = self.seconds is not None
        self.optimum = float(np.nanmax(self.values))
        self._row = {arch.tobytes(): i for i, arch in enumerate(table.archs)}
        ids = self.space.canonical_ids(table.archs)
        self.class_ids, inverse = np.unique(ids, return_inverse=True)
        self._class_rows = pd.Series(np.arange(len(ids))).groupby(inverse).agg(list).tolist()

    @property
    def fingerprint(self) -> str:
        return self.table.checksum()

    @cached_property
    def covers_space(self) -> bool:
        """Does the table hold every isomorphism class of its space (so strategies may roam freely)?"""
        space = self.space
        return space.size <= ENUMERATE_LIMIT and len(np.unique(space.canonical_ids(space.enumerate()))) == len(self.class_ids)

    def domain(self) -> np.ndarray | None:
        return None if self.covers_space else self.table.archs

    def classes_with_values(self) -> int:
        """How many isomorphism classes have a finite value (the most a campaign can query)."""
        ok = np.isfinite(self.values)
        return len(np.unique(self.space.canonical_ids(self.table.archs[ok]))) if ok.any() else 0

    def rows(self, archs: np.ndarray) -> list[tuple[int | None, list[int]]]:
        """(own row or None, rows of its isomorphism class) of each arch."""
        archs = np.atleast_2d(archs)
        found = []
        for arch, class_id in zip(archs, self.space.canonical_ids(archs)):
            k = np.searchsorted(self.class_ids, class_id)
            if k >= len(self.class_ids) or self.class_ids[k] != class_id:
                raise UsageError(f"{self.space.format(arch)} is not in the table (nor any isomorph)")
            found.append((self._row.get(np.ascontiguousarray(arch, dtype=np.int64).tobytes()), self._class_rows[k]))
        return found

    def lookup(self, column: np.ndarray | None, archs: np.ndarray) -> np.ndarray:
        """`column`'s value of each arch under the rule for isomorphs."""
        if column is None:
            return np.full(len(np.atleast_2d(archs)), np.nan)
        out = []
        for own, rows in self.rows(archs):
            if own is not None and np.isfinite(column[own]):
                out.append(float(column[own]))
                continue
            finite = column[rows][np.isfinite(column[rows])]
            out.append(float(finite.mean()) if len(finite) else np.nan)
        return np.array(out, dtype=np.float64)

    def evaluate(self, archs: np.ndarray) -> Evaluation:
        return Evaluation(self.lookup(self.values, archs), self.lookup(self.seconds, archs))


def final_values(table: Table, name: str) -> np.ndarray:
    """A metric's last epoch, mean over seeds (UsageError naming the file's metrics when unknown)."""
    if name not in table.metrics:
        raise UsageError(f"unknown metric {name!r} (the file has: {', '.join(table.metric_names)})")
    return table.metric(name)


def total_seconds(table: Table, name: str) -> np.ndarray:
    """Training seconds per architecture: a per-epoch time column summed over epochs (mean over seeds)."""
    if name not in table.metrics:
        raise UsageError(f"unknown time column {name!r} (the file has: {', '.join(table.metric_names)})")
    values = table.metrics[name]
    return np.nanmean(values, axis=1).sum(axis=1) if values.shape[2] > 1 else np.nanmean(values[:, :, 0], axis=1)


# --- live training --------------------------------------------------------------------------------
#: the training seed of every live query: an architecture trained once serves every run that asks it.
TRAIN_SEED = 0


class LiveObjective(Objective):
    """Trains each asked architecture (its class's canonical member) with `config` (a
    `generate.JobConfig` without an architecture list), journaled under `root/<name>.parts` and
    exported to `root/<name>` (`records.h5`). `workers` > 1 trains that many at once in spawned
    processes; values are `metric`'s last epoch, seconds each record's `job_seconds`."""

    def __init__(self, config, root: str | Path, metric: str, data=None, data_dir: str | None = None,
                 workers: int = 1, name: str = "records.h5", command: str = ""):
        from surrogate.generate import Journal, journal_path
        from surrogate.train.trainer import EPOCH_METRICS

        if metric not in EPOCH_METRICS:
            raise UsageError(f"a live campaign maximises a training metric ({', '.join(EPOCH_METRICS)}), got {metric!r}")
        self.space, self.metric, self.config = get_space(config.space), metric, config
        if self.space.size >= 2**63:
            raise UsageError(f"space {self.space.spec} is too large for live campaigns (ids beyond int64)")
        self.clock, self.workers, self.data_dir, self.command = True, workers, data_dir, command
        self.out = Path(root) / name
        self.journal = Journal(journal_path(self.out))
        self._bound = False  # the journal is created by the first evaluation, not by checking options
        self._data = data
        self._worker = None
        self._pool: ProcessPoolExecutor | None = None
        self.trained = 0  # records this process trained (the rest were found in the journal)

    @property
    def fingerprint(self) -> str:
        return "sha256:" + hashlib.sha256(json.dumps(self.config.stored(), sort_keys=True).encode()).hexdigest()

    def evaluate(self, archs: np.ndarray) -> Evaluation:
        records = self.records(archs)
        values = np.array([float(r[self.metric][-1]) for r in records])
        seconds = np.array([float(r["job_seconds"][0]) for r in records])
        return Evaluation(values, seconds)

    def records(self, archs: np.ndarray) -> list[dict]:
        """The training record of each architecture (its class's canonical member, trained now if no
        record holds it yet): every per-epoch metric, the costs, `job_seconds` (generate's record)."""
        archs = np.atleast_2d(self.space.check(archs))
        if not self._bound:
            self.journal.bind(self.config)
            self._bound = True
        keys = self.space.canonical_ids(archs).tolist()
        canonical = self.space.canonicalize(archs)
        missing = {k: a for k, a in zip(keys, canonical) if not self.journal.has((k, TRAIN_SEED))}
        if missing:
            self._train(missing)
        return [self.journal.read((k, TRAIN_SEED)) for k in keys]

    def network_costs(self, archs: np.ndarray) -> dict[str, np.ndarray]:
        """`params` and `flops` of the networks `records` trains for `archs` (their classes' canonical
        members), from the network definition alone: no training, the values the records will hold."""
        from surrogate.nets.costs import costs

        if self._data is None:
            from surrogate.train.data import load

            config = self.config
            self._data = load(config.dataset, self.data_dir, config.subset, config.resolution)
        data = self._data
        return costs(self.space, self.space.canonicalize(np.atleast_2d(archs)), channels=self.config.channels,
                     cells=self.config.cells, num_classes=data.num_classes, input_shape=tuple(data.input_shape))

    def _train(self, todo: dict[int, np.ndarray]) -> None:
        """Train what no record holds yet; a pair another process is training is waited for."""
        self.journal.reclaim_dead()
        mine = [k for k in todo if self.journal.claim((k, TRAIN_SEED))]
        try:
            if self.workers > 1 and len(mine) > 1:
                pool = self._processes()
                futures = {k: pool.submit(_train_in_worker, todo[k]) for k in mine}
                for k, future in futures.items():
                    self._store(k, future.result())
            else:
                for k in mine:
                    self._store(k, self._local().train_arch(todo[k]))
        finally:
            for k in mine:
                self.journal.release((k, TRAIN_SEED))
        for k in todo:  # claimed elsewhere: another process of this campaign trains it
            while not self.journal.has((k, TRAIN_SEED)):
                time.sleep(0.5)
                if self.journal.reclaim_dead() and self.journal.claim((k, TRAIN_SEED)):
                    try:
                        self._store(k, self._local().train_arch(todo[k]))
                    finally:
                        self.journal.release((k, TRAIN_SEED))

    def _store(self, key: int, record: dict) -> None:
        self.journal.write((key, TRAIN_SEED), record)
        self.trained += 1

    def _local(self):
        if self._worker is None:
            self._worker = _ArchWorker(self.config, self.data_dir, self._data)
        return self._worker

    def _processes(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            from surrogate._io import default_threads

            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_worker,
                                             initargs=(self.config, self.data_dir, default_threads(self.workers)))
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

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class _ArchWorker:
    """The dataset on the device once, then architectures trained one after another."""

    def __init__(self, config, data_dir: str | None, data=None):
        from surrogate.generate import Worker

        self.worker = Worker(config, data_dir, data)

    def train_arch(self, arch: np.ndarray) -> dict:
        from surrogate.generate import train_job

        worker = self.worker
        return train_job(worker.config, arch, TRAIN_SEED, worker.data, worker.device)


_PROCESS_WORKER: _ArchWorker | None = None


def _start_worker(config, data_dir: str | None, threads: int) -> None:
    import torch

    global _PROCESS_WORKER
    torch.set_num_threads(threads)
    _PROCESS_WORKER = _ArchWorker(config, data_dir)


def _train_in_worker(arch: np.ndarray) -> dict:
    assert _PROCESS_WORKER is not None
    return _PROCESS_WORKER.train_arch(arch)


def live_config(space: str, dataset: str, epochs: int = 12, channels: int = 16, cells: int = 5, batch_size: int = 256,
                device: str = "cpu", data_dir: str | None = None, subset: int | None = None,
                resolution: int | None = None, validation: bool = False):
    """The training configuration of a live campaign's queries (as `surrogate generate --test-at-end`
    would train them, with no architecture list: the campaign chooses them), and the dataset loaded
    once. Test accuracy is measured once, after the last epoch: the search never looks at it.
    `validation=True`: the protocol that validates top picks (train on train+valid)."""
    from surrogate.generate import make_config
    from surrogate.train.data import with_valid_in_train

    config, data = make_config(space, dataset, archs="1", epochs=epochs, channels=channels, cells=cells,
                               batch_size=batch_size, device=device, data_dir=data_dir, subset=subset,
                               resolution=resolution, test_at_end=True)
    if validation:
        data = with_valid_in_train(data)
        config = replace(config, split=data.split, train_on_valid=True)
    return replace(config, archs=[]), data
