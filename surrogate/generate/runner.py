"""Running a job: `generate()` picks where pairs come from (journal or shared study), runs one worker
here or K spawned ones, shows progress and keeps the output table current."""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import asdict
from pathlib import Path

from surrogate._io import default_threads, signals_held, torch_threads
from surrogate.errors import UsageError
from surrogate.generate.config import JobConfig
from surrogate.generate.journal import Journal, journal_path
from surrogate.generate.shared import Shared, open_shared
from surrogate.generate.table import build_table
from surrogate.generate.worker import Worker, worker_process
from surrogate.tabular import Table

#: seconds between rebuilds of the output table while a job runs.
EXPORT_SECONDS = 300.0


def generate(config: JobConfig, out: str | Path, workers: int = 1, data_dir: str | None = None, command: str = "",
             progress: bool = True, threads: int | None = None, max_jobs: int | None = None, data=None,
             storage: str | None = None, study: str | None = None) -> Table:
    """Run (or resume) the job and write `out`; return the table.

    Pairs come from `out`'s journal, or with `storage` and `study` from a shared Optuna study (then
    `out` gets what is finished so far when this process stops). `threads`: torch threads per worker
    (default: `default_threads`). `max_jobs`: stop after that many newly trained pairs (one worker;
    for tests and for running a job in slices). `data`: the dataset already loaded (by `make_config`)."""
    out = Path(out)
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if bool(storage) != bool(study):
        raise UsageError("--storage and --study go together")
    threads = threads or default_threads(workers)
    if storage:
        shared = open_shared(config, storage, study)  # type: ignore[arg-type]
        source: Local | Shared = Shared(shared, config, storage, study)  # type: ignore[arg-type]
        target: dict = {"storage": storage, "study": study}
    else:
        journal = Journal(journal_path(out))
        if out.exists() and not journal.root.exists():
            raise UsageError(f"{out} exists and has no journal {journal.root}: remove it or choose another --out")
        journal.bind(config)
        journal.reclaim_dead()
        source = Local(journal, config)
        target = {"journal": str(journal.root), "jobs": source.pending()}
    bar = Progress(config.total_jobs, source.count_done(), config.total_jobs / len(config.archs), progress)
    exporter = Exporter(source, config, out, command)
    try:
        if workers == 1:
            with torch_threads(threads):
                worker = Worker(config, data_dir, data)
                on_done = lambda: (bar.update(bar.bar.n + 1), exporter.maybe())  # noqa: E731
                if storage:
                    worker.run_shared(shared, max_jobs=max_jobs, on_done=on_done)
                else:
                    worker.run_local(journal, target["jobs"], max_jobs=max_jobs, on_done=on_done)
        else:
            run_processes(config, target, workers, data_dir, threads, bar, exporter, source)
    finally:
        bar.close()
        table = exporter.export()
    return table


class Local:
    """Finished records of a journal, for the progress bar and the exporter."""

    poll_seconds = 1.0

    def __init__(self, journal: Journal, config: JobConfig):
        self.journal, self.config = journal, config

    def pending(self) -> list[tuple[int, int]]:
        done = self.journal.done()
        return [job for job in self.config.jobs() if job not in done]

    def count_done(self) -> int:
        return len(self.journal.done())

    def records(self) -> tuple[dict, dict]:
        self.journal.reclaim_dead()
        return {job: self.journal.read(job) for job in self.journal.done()}, {"journal": str(self.journal.root)}


def run_processes(config: JobConfig, target: dict, workers: int, data_dir: str | None, threads: int,
                  bar: Progress, exporter: Exporter, source: Local | Shared) -> None:
    """K spawned workers on one job; the parent shows progress and exports."""
    context = multiprocessing.get_context("spawn")
    targets = [target] * workers
    if "jobs" in target:  # each local worker starts at another place in the list, so they rarely contend
        jobs = target["jobs"]
        targets = [target | {"jobs": jobs[k * len(jobs) // workers:] + jobs[:k * len(jobs) // workers]}
                   for k in range(workers)]
    procs = [context.Process(target=worker_process, args=(asdict(config), t, data_dir, threads, os.getpid()))
             for t in targets]
    try:
        with signals_held():  # a signal while a worker's start-up data is written would cut it short
            for p in procs:
                p.start()
        last = 0.0
        while any(p.is_alive() for p in procs):
            time.sleep(0.2)
            if time.monotonic() - last >= source.poll_seconds:
                bar.update(source.count_done())
                exporter.maybe()
                last = time.monotonic()
    except BaseException:
        for p in procs:
            if p.pid is not None:
                p.terminate()
        raise
    finally:
        for p in procs:
            if p.pid is not None:
                p.join()
    bar.update(source.count_done())
    failed = [p.exitcode for p in procs if p.exitcode]
    if failed:
        raise UsageError(f"{len(failed)} worker(s) failed (exit status {failed[0]}); "
                         "finished records are kept, rerun to resume")


class Exporter:
    """Rebuilds the output table from the finished records every `EXPORT_SECONDS` and at the end."""

    def __init__(self, source: Local | Shared, config: JobConfig, out: Path, command: str):
        self.source, self.config, self.out, self.command = source, config, out, command
        self.last = time.monotonic()

    def maybe(self) -> None:
        if time.monotonic() - self.last >= EXPORT_SECONDS:
            self.export()

    def export(self) -> Table:
        records, where = self.source.records()
        table = build_table(records, self.config, self.command, where)
        table.write(self.out)
        self.last = time.monotonic()
        return table


class Progress:
    """tqdm over (arch, seed) pairs, with ETA and the rate in architectures per hour."""

    def __init__(self, total: int, done: int, seeds: float, enabled: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=done, desc="generate", unit="job", disable=not enabled, dynamic_ncols=True)
        self.start, self.first, self.seeds = time.monotonic(), done, seeds

    def update(self, done: int) -> None:
        if done > self.bar.n:
            hours = (time.monotonic() - self.start) / 3600
            self.bar.set_postfix_str(f"{(done - self.first) / self.seeds / max(hours, 1e-9):.0f} archs/h", refresh=False)
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()
