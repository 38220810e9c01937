"""`surrogate generate`: train architectures of a space on a dataset and tabulate their records.

A generation job is a list of (architecture, seed) pairs, each trained once, seed-major (every
architecture with seed 0 first, so a partial table covers many architectures). Finished pairs go
to a *journal* folder next to the output (`X.h5.parts/`), one small file per pair, so the work
survives any crash, kill -9 included:

* `config.json` — the job (space, dataset and its checksum, training settings, the architecture
  list). A rerun with other settings into the same journal is refused; a rerun of the same command
  skips what is done and trains the rest.
* `records/a<arch>_s<seed>.npz` — one finished pair, written to a temp file and renamed into place,
  so it is either whole or absent, and keyed by (arch index, seed), so it can never be duplicated.
* `claims/a<arch>_s<seed>.lock` — "host pid start-time" of the process training that pair, linked
  into place atomically (link fails when the claim exists, like O_CREAT|O_EXCL, and the content is
  never half-written); concurrent workers skip claimed pairs. A claim whose process is gone is
  taken back by the next run on the same host (or the running parent), never while its owner lives.

The HDF5 table `X.h5` is rebuilt from the journal atomically (`Table.write`) every
`EXPORT_SECONDS` and at the end, so it is never corrupt and holds every finished record. Keep the
journal: it is the job's ground truth, and the table can always be rebuilt from it.

`--workers K` runs K spawned processes on one journal (torch threads per worker: `default_threads`).
`--storage URL --study NAME` shares one job between machines through an Optuna RDB storage instead:
one WAITING trial per pair (user attribute `job`), pulled by any worker; heartbeats make a dead
worker's trial stale and Optuna re-queues it; the record is the trial's user attribute `record`;
`--out` on any worker exports what is finished so far. A poll loads the study's waiting trials, so
this mode suits pairs that take long next to a database round trip (networks on GPUs); on one
machine the journal is lighter.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from surrogate.errors import UsageError
from surrogate.spaces import Space, get_space
from surrogate.spaces.base import ENUMERATE_LIMIT
from surrogate.tabular import Table

#: seed of `--archs N`'s draw: the same N always names the same architectures (and N is a prefix of N+1).
ARCH_SEED = 0
#: seconds between rebuilds of the output table while a job runs.
EXPORT_SECONDS = 300.0
FINAL_METRICS = ("params", "flops", "latency_b1_ms", "latency_b256_ms", "diverged", "job_seconds")
_RECORD = re.compile(r"a(\d+)_s(\d+)\.npz")


# --- what to train ---------------------------------------------------------------------------------
def select_archs(space: Space, which: str, unique: bool = False) -> np.ndarray:
    """The architectures of `--archs`: `all`, a count N (N distinct ones drawn with `ARCH_SEED`),
    or a file with one arch string per line (`#` comments and blank lines skipped). `unique`
    keeps one architecture per canonical class: the first of each class (for `all`, the one with
    the smallest index; NB201 then has 6,466)."""
    which = str(which).strip()
    if which == "all":
        archs = space.enumerate()
        return archs[_first_of_each_class(space, archs)] if unique else archs
    if which.isdigit():
        return _draw(space, int(which), unique)
    path = Path(which)
    if not path.is_file():
        raise UsageError(f"--archs {which!r}: expected 'all', a number, or a file of arch strings (no such file)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--archs {which}: not a text file of arch strings (one per line)") from None
    lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1)]
    lines = [(i, s) for i, s in lines if s and not s.startswith("#")]
    archs = np.empty((0, space.num_decisions), np.int64)
    if lines:
        archs = space.parse_many(s for _, s in lines)
    seen: dict[bytes, int] = {}
    for (line, _), row in zip(lines, archs):
        if row.tobytes() in seen:
            raise UsageError(f"{path}: line {line} repeats the architecture of line {seen[row.tobytes()]}")
        seen[row.tobytes()] = line
    if not len(archs):
        raise UsageError(f"{path}: no architectures in the file")
    return archs[_first_of_each_class(space, archs)] if unique else archs


def _first_of_each_class(space: Space, archs: np.ndarray) -> np.ndarray:
    _, first = np.unique(space.canonical_ids(archs), return_index=True)
    return np.sort(first)


def _draw(space: Space, n: int, unique: bool) -> np.ndarray:
    """n distinct architectures (distinct classes with `unique`), in a seeded random order."""
    if n < 1:
        raise UsageError("--archs N needs N >= 1")
    rng = np.random.default_rng(ARCH_SEED)
    if space.size <= ENUMERATE_LIMIT:
        pool = select_archs(space, "all", unique)
        if n > len(pool):
            raise UsageError(f"--archs {n}: the space has only {len(pool)} {'classes' if unique else 'architectures'}")
        return pool[rng.permutation(len(pool))[:n]]
    keys: dict[int | bytes, np.ndarray] = {}
    while len(keys) < n:  # a huge space: rejection sampling meets few repeats
        for row, key in zip(batch := space.sample(n, rng), space.canonical_ids(batch) if unique else batch):
            keys.setdefault(int(key) if unique else row.tobytes(), row)
    return np.array(list(keys.values())[:n], dtype=np.int64)


@dataclass(frozen=True)
class JobConfig:
    """Everything that makes two records comparable; a journal is bound to one of these."""

    space: str
    dataset: str
    dataset_checksum: str
    split: dict
    augmentation: str
    epochs: int
    seeds: int
    batch_size: int
    channels: int
    cells: int
    device: str
    archs: list[str] = field(repr=False)
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    schedule: str = "cosine, per step, to 0"
    subset: int | None = None
    resolution: int | None = None
    test_at_end: bool = False
    repeat_archs: int | None = None

    @property
    def repeated(self) -> int:
        """How many architectures (the first ones) are trained with seeds beyond 0."""
        return len(self.archs) if self.repeat_archs is None else min(self.repeat_archs, len(self.archs))

    @property
    def total_jobs(self) -> int:
        return len(self.archs) + (self.seeds - 1) * self.repeated

    def training_config(self) -> dict:
        """The table's `training_config` attribute (the architecture list is the table itself)."""
        config = {k: v for k, v in asdict(self).items() if k not in ("archs", "space", "dataset", "dataset_checksum")}
        return {**config, "seeds": list(range(self.seeds)), "optimizer": "sgd", "loss": "cross_entropy",
                "precision": "bf16 autocast" if self.device.startswith("cuda") else "float32",
                "memory_format": "channels_last"}


# --- the journal -----------------------------------------------------------------------------------
def journal_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".parts")


class Journal:
    """The folder of finished records, claims and the bound configuration (see the module doc)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.records = self.root / "records"
        self.claims = self.root / "claims"
        self._cache: dict[tuple[int, int], dict[str, np.ndarray]] = {}

    def bind(self, config: JobConfig) -> None:
        """Create the journal for `config`, or check that the existing one was made for it."""
        for folder in (self.records, self.claims):
            folder.mkdir(parents=True, exist_ok=True)
        wanted = json.loads(json.dumps(asdict(config)))
        target = self.root / "config.json"
        if not target.exists():
            tmp = _write_temp(self.root, json.dumps(wanted, indent=1).encode())
            try:
                os.link(tmp, target)  # fails if another process bound it first: then compare below
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        try:
            found = json.loads(target.read_text())
        except ValueError:
            raise UsageError(f"{target}: unreadable journal configuration; delete the journal to start over") from None
        _check_same(found, wanted, f"journal {self.root}")

    def done(self) -> set[tuple[int, int]]:
        """(arch index, seed) of every finished record."""
        return {(int(m[1]), int(m[2])) for e in os.scandir(self.records) if (m := _RECORD.fullmatch(e.name))}

    def has(self, job: tuple[int, int]) -> bool:
        return (self.records / f"{self._name(job)}.npz").exists()

    def _name(self, job: tuple[int, int]) -> str:
        return f"a{job[0]:07d}_s{job[1]:03d}"

    def write(self, job: tuple[int, int], record: dict[str, np.ndarray]) -> None:
        """Store one finished record atomically (temp file, fsync, rename)."""
        fd, tmp = tempfile.mkstemp(prefix=f".{os.getpid()}.", suffix=".tmp", dir=self.records)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **record)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.records / f"{self._name(job)}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, job: tuple[int, int]) -> dict[str, np.ndarray]:
        if job not in self._cache:
            path = self.records / f"{self._name(job)}.npz"
            try:
                with np.load(path, allow_pickle=False) as npz:
                    self._cache[job] = {k: npz[k] for k in npz.files}
            except (OSError, ValueError) as err:
                raise UsageError(f"{path}: unreadable record ({err}); delete it and rerun to train it again") from None
        return self._cache[job]

    # claims: one lock file per job in training
    def claim(self, job: tuple[int, int]) -> bool:
        """Take `job` for this process; False when another process holds it."""
        tmp = _write_temp(self.claims, _process_id().encode(), fsync=False)
        try:
            os.link(tmp, self.claims / f"{self._name(job)}.lock")  # atomic, and fails when the lock exists
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)

    def release(self, job: tuple[int, int]) -> None:
        (self.claims / f"{self._name(job)}.lock").unlink(missing_ok=True)

    def reclaim_dead(self) -> int:
        """Drop claims (and temp files) of processes of this host that no longer run; returns how many."""
        freed = 0
        for lock in self.claims.glob("*.lock"):
            if _alive(_read(lock)):
                continue
            tomb = lock.with_name(f"{lock.name}.reclaim-{os.getpid()}")
            try:
                os.rename(lock, tomb)  # atomic: only one reclaimer gets it
            except FileNotFoundError:
                continue
            if _alive(_read(tomb)):  # raced with a fresh claim: put it back unless claimed again since
                try:
                    os.link(tomb, lock)
                except FileExistsError:
                    pass
            else:
                freed += 1
            tomb.unlink(missing_ok=True)
        for tmp in [*self.records.glob(".*.tmp"), *self.claims.glob(".*.tmp"), *self.root.glob(".*.tmp")]:
            pid = tmp.name.split(".")[1]
            if pid.isdigit() and not _alive(f"{socket.gethostname()} {pid} {_start_time(int(pid))}"):
                tmp.unlink(missing_ok=True)
        return freed


def _write_temp(folder: Path, content: bytes, fsync: bool = True) -> str:
    """A temp file in `folder` holding `content`, to be linked or renamed into place whole."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.getpid()}.", suffix=".tmp", dir=folder)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())
    return tmp


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (tells a reused pid apart), '' if unknown;
    'zombie' for a process that has exited but was not yet reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return ""
    return "zombie" if fields[0] in ("Z", "X") else fields[19]


def _process_id() -> str:
    return f"{socket.gethostname()} {os.getpid()} {_start_time(os.getpid())}"


def _alive(owner: str) -> bool:
    """Whether the process named by a claim ("host pid start") still runs. Claims of other hosts
    are assumed alive: only the host that made a claim can tell."""
    parts = owner.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return False  # claims are linked into place whole, so a malformed one is debris
    if parts[0] != socket.gethostname():
        return True
    pid, start = int(parts[1]), parts[2] if len(parts) > 2 else ""
    now = _start_time(pid)
    if now:
        return now != "zombie" and (not start or now == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- training ----------------------------------------------------------------------------------------
def train_job(config: JobConfig, arch: np.ndarray, seed: int, data, device) -> dict[str, np.ndarray]:
    """Train one (architecture, seed) pair on `data` (a `surrogate.train.data.Data`, best already on
    `device`): its per-epoch records, costs, and what it ran on."""
    import torch

    from surrogate.nets import build_network
    from surrogate.train.trainer import costs, seeded, train

    start = time.perf_counter()
    with seeded(seed):
        network = build_network(config.space, arch, config.channels, config.cells, data.num_classes, data.input_shape[0])
    record = train(network, data, epochs=config.epochs, seed=seed, batch_size=config.batch_size, lr=config.lr,
                   device=device, momentum=config.momentum, weight_decay=config.weight_decay, nesterov=config.nesterov,
                   test_at_end=config.test_at_end)
    record |= {k: np.array([v]) for k, v in costs(network, data.input_shape, device).items()}
    record["job_seconds"] = np.array([time.perf_counter() - start])  # the whole pair: training, evaluation, costs
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return record | {"arch": np.array(get_space(config.space).format(arch)), "seed": np.array(seed),
                     "torch_version": np.array(torch.__version__), "device_name": np.array(where),
                     "threads": np.array(torch.get_num_threads()),
                     "worker": np.array(f"{socket.gethostname()}:{os.getpid()}")}


class _Worker:
    """One training process: the dataset on the device, then pairs one after another, taken from a
    journal (`run_local`) or from a shared study (`run_shared`)."""

    def __init__(self, config: JobConfig, data_dir: str | None, threads: int | None, data=None):
        import torch

        from surrogate.train.data import load
        from surrogate.train.trainer import resolve_device

        if threads:
            torch.set_num_threads(threads)
        self.config = config
        self.device = resolve_device(config.device)
        data = data if data is not None else load(config.dataset, data_dir, config.subset, config.resolution)
        if data.checksum != config.dataset_checksum:
            raise UsageError(f"dataset {config.dataset} here has checksum {data.checksum}, the job was made with "
                             f"{config.dataset_checksum}")
        self.data = data.to(self.device, torch.channels_last)
        self.archs = get_space(config.space).parse_many(config.archs)

    def train(self, job: tuple[int, int]) -> dict[str, np.ndarray]:
        return train_job(self.config, self.archs[job[0]], job[1], self.data, self.device)

    def run_local(self, journal: Journal, jobs: Iterable[tuple[int, int]], max_jobs: int | None = None,
                  keep_going: Callable[[], bool] = lambda: True, on_done: Callable[[], None] = lambda: None) -> int:
        """Train the unclaimed, unfinished pairs of `jobs`; return how many this process trained."""
        trained = 0
        for job in jobs:
            if (max_jobs is not None and trained >= max_jobs) or not keep_going():
                break
            if not journal.claim(job):
                continue
            try:
                if journal.has(job):  # finished by another worker since the listing
                    continue
                journal.write(job, self.train(job))
                trained += 1
            finally:
                journal.release(job)
            on_done()
        return trained

    def run_shared(self, study, max_jobs: int | None = None, keep_going: Callable[[], bool] = lambda: True,
                   on_done: Callable[[], None] = lambda: None) -> int:
        """Pull WAITING trials (one per pair) of a shared study until none is waiting or running."""
        import optuna
        from optuna.trial import TrialState

        from surrogate.distributed import POLL_SECONDS, _fail_stale

        trained, idle = 0, False

        def objective(trial: optuna.Trial) -> float:
            nonlocal idle, trained
            if "job" not in trial.user_attrs:  # nothing was waiting: optuna made a fresh trial
                idle = True
                trial.set_user_attr("surplus", True)
                raise optuna.TrialPruned("no job waiting")
            job = _job_of(self.config, int(trial.user_attrs["job"]))
            trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
            record = self.train(job)
            trial.set_user_attr("record", {k: v.tolist() for k, v in record.items()})
            trained += 1
            value = float(record["valid_acc"][-1])
            return value if np.isfinite(value) else 0.0  # optuna fails NaN trials; `diverged` says why

        quiet = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            while keep_going() and (max_jobs is None or trained < max_jobs):
                _fail_stale(study)  # dead workers' trials come back as WAITING
                if idle:
                    if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                        idle = False
                    elif study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                        time.sleep(POLL_SECONDS)  # wait: a running trial may go stale and need us
                        continue
                    else:
                        break
                before = trained
                study.optimize(objective, n_trials=1)
                if trained > before:
                    on_done()
        finally:
            optuna.logging.set_verbosity(quiet)
        return trained


def _job_of(config: JobConfig, k: int) -> tuple[int, int]:
    """Pair k of the seed-major job list: all archs with seed 0, then the repeated ones with seed 1, ..."""
    first = len(config.archs)
    if k < first:
        return k, 0
    return (k - first) % config.repeated, 1 + (k - first) // config.repeated


def _job_list(config: JobConfig) -> list[tuple[int, int]]:
    """Seed-major, so a partial table covers many architectures early."""
    return [_job_of(config, k) for k in range(config.total_jobs)]


def _worker_process(config: dict, target: dict, data_dir: str | None, threads: int, parent: int) -> None:
    """Entry point of a spawned worker; it stops when its parent is gone (killed) rather than run on."""
    try:
        worker = _Worker(JobConfig(**config), data_dir, threads)
        keep_going = lambda: os.getppid() == parent  # noqa: E731
        if "journal" in target:
            worker.run_local(Journal(target["journal"]), [tuple(j) for j in target["jobs"]], keep_going=keep_going)
        else:
            study = open_shared(JobConfig(**config), target["storage"], target["study"])
            worker.run_shared(study, keep_going=keep_going)
    except UsageError as err:
        print(f"surrogate: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


# --- the table ------------------------------------------------------------------------------------
def build_table(records: dict[tuple[int, int], dict], config: JobConfig, command: str = "",
                source: dict | None = None) -> Table:
    """Finished records as a table: the archs with at least one finished seed, in job order.
    `source` (the journal or the study) goes into the provenance."""
    from surrogate.train.trainer import EPOCH_METRICS

    done = sorted(records)
    rows = sorted({a for a, _ in done})
    position = {a: i for i, a in enumerate(rows)}
    space = get_space(config.space)
    metrics = {name: np.full((len(rows), config.seeds, config.epochs), np.nan) for name in EPOCH_METRICS}
    metrics |= {name: np.full((len(rows), config.seeds, 1), np.nan) for name in FINAL_METRICS}
    seen: dict[str, set] = {"torch_version": set(), "device_name": set(), "worker": set()}
    for arch, seed in done:
        record = records[arch, seed]
        if str(np.asarray(record["arch"])) != config.archs[arch] or int(np.asarray(record["seed"])) != seed:
            raise UsageError(f"record a{arch}_s{seed} holds another pair ({record['arch']}, seed {record['seed']})")
        for name in metrics:
            metrics[name][position[arch], seed, :] = record.get(name, np.nan)  # job_seconds is newer than some journals
        for key, values in seen.items():
            values.add(str(np.asarray(record[key])))
    archs = space.parse_many(config.archs[a] for a in rows).reshape(len(rows), space.num_decisions)
    training = config.training_config() | {"torch_version": ", ".join(sorted(seen["torch_version"])),
                                            "device_name": ", ".join(sorted(seen["device_name"])),
                                            "network": "NB201Network" if config.space == "nb201" else "ChainNetwork"}
    provenance = {"generator": "surrogate.generate", "command": command, "dataset_checksum": config.dataset_checksum,
                  **(source or {}), "jobs_total": config.total_jobs, "jobs_done": len(done),
                  "workers": len(seen["worker"])}
    return Table(space=config.space, archs=archs, arch_strings=space.format_many(archs) if len(rows) else [],
                 metrics=metrics, attrs={"dataset": config.dataset, "training_config": training, "provenance": provenance})


# --- the command ----------------------------------------------------------------------------------
def make_config(space: str, dataset: str, archs: str = "all", unique: bool = False, epochs: int = 12, seeds: int = 1,
                channels: int = 16, cells: int = 5, batch_size: int = 256, device: str = "cpu",
                data_dir: str | None = None, subset: int | None = None, resolution: int | None = None,
                test_at_end: bool = False, repeat_archs: int | None = None) -> tuple[JobConfig, object]:
    """Check the options, load the dataset once (for its checksum and split) and resolve the archs."""
    from surrogate.nets import build_network
    from surrogate.train.data import load
    from surrogate.train.trainer import resolve_device

    for name, value in (("epochs", epochs), ("seeds", seeds), ("channels", channels), ("cells", cells),
                        ("batch-size", batch_size), ("repeat-archs", 1 if repeat_archs is None else repeat_archs)):
        if value < 1:
            raise UsageError(f"--{name} must be at least 1, got {value}")
    sp = get_space(space)
    resolve_device(device)
    data = load(dataset, data_dir, subset, resolution)
    chosen = select_archs(sp, archs, unique)
    build_network(sp.spec, chosen[0], 1, 1, data.num_classes, data.input_shape[0])  # a space with no network fails here
    config = JobConfig(space=sp.spec, dataset=dataset, dataset_checksum=data.checksum, split=data.split,
                       augmentation=data.augment.description, epochs=epochs, seeds=seeds, batch_size=batch_size,
                       channels=channels, cells=cells, device=str(device), archs=sp.format_many(chosen),
                       subset=subset, resolution=resolution, test_at_end=test_at_end, repeat_archs=repeat_archs)
    return config, data


def default_threads(workers: int) -> int:
    """Torch threads per worker: `OMP_NUM_THREADS` when set, else the idle cores shared out
    (cores // workers, less what other processes keep busy, at least 1). A torch thread whose core
    is busy stalls every parallel op: on 2 cores with one busy, 2 threads trained NB201 C=8 on
    digits 50x slower than 1 thread."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        return int(os.environ["OMP_NUM_THREADS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = int(os.getloadavg()[0] + 0.5) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores // workers, (cores - busy) // workers))


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
        source = Shared(shared, config, storage, study)  # type: ignore[arg-type]
        target: dict = {"storage": storage, "study": study}
    else:
        journal = Journal(journal_path(out))
        if out.exists() and not journal.root.exists():
            raise UsageError(f"{out} exists and has no journal {journal.root}: remove it or choose another --out")
        journal.bind(config)
        journal.reclaim_dead()
        source = Local(journal, config)
        target = {"journal": str(journal.root), "jobs": source.pending()}
    bar = _Progress(config.total_jobs, source.count_done(), config.total_jobs / len(config.archs), progress)
    exporter = _Exporter(source, config, out, command)
    try:
        if workers == 1:
            worker = _Worker(config, data_dir, threads, data)
            on_done = lambda: (bar.update(bar.bar.n + 1), exporter.maybe())  # noqa: E731
            if storage:
                worker.run_shared(shared, max_jobs=max_jobs, on_done=on_done)
            else:
                worker.run_local(journal, target["jobs"], max_jobs=max_jobs, on_done=on_done)
        else:
            _run_processes(config, target, workers, data_dir, threads, bar, exporter, source)
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
        return [job for job in _job_list(self.config) if job not in done]

    def count_done(self) -> int:
        return len(self.journal.done())

    def records(self) -> tuple[dict, dict]:
        self.journal.reclaim_dead()
        return {job: self.journal.read(job) for job in self.journal.done()}, {"journal": str(self.journal.root)}


def _run_processes(config: JobConfig, target: dict, workers: int, data_dir: str | None, threads: int,
                   bar: "_Progress", exporter: "_Exporter", source: "Local | Shared") -> None:
    """K spawned workers on one job; the parent shows progress and exports."""
    context = multiprocessing.get_context("spawn")
    targets = [target] * workers
    if "jobs" in target:  # each local worker starts at another place in the list, so they rarely contend
        jobs = target["jobs"]
        targets = [target | {"jobs": jobs[k * len(jobs) // workers:] + jobs[:k * len(jobs) // workers]}
                   for k in range(workers)]
    procs = [context.Process(target=_worker_process, args=(asdict(config), t, data_dir, threads, os.getpid()))
             for t in targets]
    for p in procs:
        p.start()
    try:
        last = 0.0
        while any(p.is_alive() for p in procs):
            time.sleep(0.2)
            if time.monotonic() - last >= source.poll_seconds:
                bar.update(source.count_done())
                exporter.maybe()
                last = time.monotonic()
    except BaseException:
        for p in procs:
            p.terminate()
        raise
    finally:
        for p in procs:
            p.join()
    bar.update(source.count_done())
    failed = [p.exitcode for p in procs if p.exitcode]
    if failed:
        raise UsageError(f"{len(failed)} worker(s) failed (exit status {failed[0]}); "
                         "finished records are kept, rerun to resume")


class _Exporter:
    """Rebuilds the output table from the finished records every `EXPORT_SECONDS` and at the end."""

    def __init__(self, source: "Local | Shared", config: JobConfig, out: Path, command: str):
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


class _Progress:
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


# --- many machines: one job in an Optuna RDB storage ----------------------------------------------
#: study user attribute holding the job's configuration (a study serves one job)
CONFIG_ATTR = "generate_config"
#: seconds between a worker's heartbeats; a trial whose worker missed them for 2x this is retried
HEARTBEAT_SECONDS = 10


def open_shared(config: JobConfig, storage: str, study_name: str):
    """The study sharing `config`'s pairs, created (one WAITING trial per pair) by the first worker;
    later workers check that they run the same job."""
    import optuna

    from surrogate.distributed import open_storage

    rdb = open_storage(storage, heartbeat_interval=HEARTBEAT_SECONDS)
    quiet = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(storage=rdb, study_name=study_name, direction="maximize", load_if_exists=True)
        _bind_study(study, rdb, config, study_name)
    finally:
        optuna.logging.set_verbosity(quiet)
    return study


def _bind_study(study, rdb, config: JobConfig, study_name: str) -> None:
    wanted = json.loads(json.dumps(asdict(config)))
    found = study.user_attrs.get(CONFIG_ATTR)
    if found is None:
        study.set_user_attr(CONFIG_ATTR, wanted)
        found = wanted
    _check_same(found, wanted, f"study {study_name!r}")
    _enqueue(study, rdb, study_name, config.total_jobs)


def _enqueue(study, rdb, study_name: str, total: int, stall_seconds: float = 60.0) -> None:
    """One WAITING trial (user attr `job`) per pair without a live trial. The first time, exactly one
    worker enqueues (creating a companion study is atomic) while the others wait for it; every
    worker's start then refills gaps: pairs whose trial failed (an error, Ctrl-C) or that a dying
    first worker never enqueued. Workers starting at the same instant may both refill a gap; the
    export keeps the first finished record of a pair."""
    import optuna
    from optuna.trial import TrialState

    if study.user_attrs.get("jobs_enqueued") != total:
        try:
            optuna.create_study(storage=rdb, study_name=f"{study_name}:enqueue-lock")
            owner = True
        except optuna.exceptions.DuplicatedStudyError:
            owner = False
        seen, changed = -1, time.monotonic()
        while not owner and time.monotonic() - changed < stall_seconds:  # wait while the owner makes progress
            if optuna.load_study(study_name=study_name, storage=rdb).user_attrs.get("jobs_enqueued") == total:
                break
            if (n := len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))) != seen:
                seen, changed = n, time.monotonic()
            time.sleep(1.0)
    live = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
    have = {t.user_attrs.get("job") for t in study.get_trials(deepcopy=False, states=live)}
    for k in range(total):
        if k not in have:
            study.enqueue_trial({}, user_attrs={"job": k})
    study.set_user_attr("jobs_enqueued", total)


class Shared:
    """Finished records of a shared study: the first COMPLETE trial of each pair."""

    poll_seconds = 30.0

    def __init__(self, study, config: JobConfig, storage: str, study_name: str):
        self.study, self.config = study, config
        self.where = {"storage": _redact(storage), "study": study_name}

    def _complete(self) -> dict[tuple[int, int], dict]:
        from optuna.trial import TrialState

        records: dict[tuple[int, int], dict] = {}
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        for trial in sorted(complete, key=lambda t: t.number):
            job = _job_of(self.config, int(trial.user_attrs["job"]))
            if "record" in trial.user_attrs and job not in records:
                records[job] = {k: np.asarray(v, dtype=float if isinstance(v, list) else None)
                                for k, v in trial.user_attrs["record"].items()}
        return records

    def count_done(self) -> int:
        return len(self._complete())

    def records(self) -> tuple[dict, dict]:
        return self._complete(), self.where


def _redact(url: str) -> str:
    """A storage URL without its password, for provenance."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _check_same(found: dict, wanted: dict, where: str) -> None:
    """A one-line UsageError naming the first setting in which two job configurations differ."""
    key = next((k for k in wanted if found.get(k) != wanted[k]), None)  # a key added since reads as None
    if key is None:
        return
    there, here = found.get(key), wanted[key]
    if key == "archs":
        there, here = f"{len(there or [])} archs", f"{len(here)} archs"
    raise UsageError(f"{where} was made by a different job ({key}: {there} there, {here} now); "
                     "rerun with the same options or use another --out/--study")
