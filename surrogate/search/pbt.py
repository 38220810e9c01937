"""Population-based training (Jaderberg et al. 2017) of training hyperparameters, live.

A population of `population` trainings of the given architectures (member i trains
`archs[i % len(archs)]` under its own seed), each with hyperparameters drawn log-uniformly from the
declared ranges (`lr`, `weight_decay`). Training runs in generations of `interval` epochs of the
whole `epochs`-long schedule. After each generation but the last, the members are ranked by
validation accuracy: each of the bottom `quantile` copies a random top-`quantile` member
(weights, optimiser and RNG state, hyperparameters: *exploit*) and multiplies each hyperparameter by
0.8 or 1.2 (*explore*), clipped to its range. `explore=False` is the baseline with the same
trainings and epochs: random search, every member trained alone.

The best member by final validation accuracy is the answer; its test accuracy is measured once,
after the last epoch. Every (generation, member) segment is a checkpoint under `out/members/`, so a
killed run resumes where it stopped, with the same records (`train.trainer.train`'s resume gives the
bytes of an uninterrupted training); `--workers` trains a generation's members in parallel.

Across machines (`storage`, `study`: an Optuna RDB storage such as PostgreSQL, as `search --storage`),
each process is one worker and `out` a folder they all see (a network file system: exploiting copies
a member's checkpoint file). The study is the queue of segments: a worker claims an untrained
segment of the current generation as a trial, trains it with Optuna's heartbeats and writes its
checkpoint; a worker killed at any moment leaves a trial that stops beating, is failed after the
grace period, and its segment is trained again by whichever worker is free. Exploit and explore
are a function of the generation's records and the seed, so every worker computes the same next
generation, and the records are those of one process.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from surrogate._io import atomic_write, check_output_folder, run_record
from surrogate.errors import UsageError

#: the training hyperparameters population-based training may change, and their default ranges.
HYPERPARAMETERS = {"lr": (0.01, 0.5), "weight_decay": (1e-5, 1e-2)}
#: what exploring multiplies a hyperparameter by (one of them, at random)
PERTURB = (0.8, 1.2)


def parse_hyper(specs: list[str] | None) -> dict[str, tuple[float, float]]:
    """`["lr=0.01:0.5", "weight_decay"]` -> ranges (a bare name takes its default range)."""
    ranges = {}
    for spec in specs or list(HYPERPARAMETERS):
        name, _, bounds = str(spec).partition("=")
        name = name.strip()
        if name not in HYPERPARAMETERS:
            raise UsageError(f"unknown hyperparameter {name!r} (population-based training tunes "
                             f"{', '.join(HYPERPARAMETERS)})")
        try:
            low, high = (float(b) for b in bounds.split(":")) if bounds else HYPERPARAMETERS[name]
        except ValueError:
            raise UsageError(f"malformed --hyper {spec!r}: write NAME=LOW:HIGH, e.g. lr=0.01:0.5") from None
        if not 0 < low < high:
            raise UsageError(f"--hyper {spec!r}: need 0 < LOW < HIGH")
        ranges[name] = (low, high)
    return ranges


@dataclass
class PBTRequest:
    """The options of `surrogate pbt` (its `--help`)."""

    space: str
    dataset: str
    archs: list[str]
    population: int = 8
    interval: int = 2
    epochs: int = 12
    hyper: list[str] | None = None
    quantile: float = 0.25
    explore: bool = True
    seed: int = 0
    workers: int = 1
    out: str = "runs/pbt"
    channels: int | None = None
    cells: int | None = None
    batch_size: int | None = None
    subset: int | None = None
    resolution: int | None = None
    device: str = "cpu"
    data_dir: str | None = None
    storage: str | None = None
    study: str | None = None
    progress: bool = True
    command: str = field(default="", repr=False)
    heartbeat_interval: int = field(default=10, repr=False)  # seconds; a worker silent for 2x is replaced

    def check(self) -> dict[str, tuple[float, float]]:
        for name in ("population", "interval", "epochs", "workers"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.population < 2 and self.explore:
            raise UsageError("--population must be at least 2: members exploit one another")
        if not 0 < self.quantile <= 0.5:
            raise UsageError(f"--quantile must be in (0, 0.5], got {self.quantile}")
        if not self.archs:
            raise UsageError("give at least one --arch")
        if bool(self.storage) != bool(self.study):
            raise UsageError("--storage and --study go together")
        if self.storage and self.workers != 1:
            raise UsageError("with --storage each process is one worker: start one per process or machine "
                             "(no --workers), all with the same --out folder")
        return parse_hyper(self.hyper)


@dataclass
class Member:
    arch: str
    seed: int
    hyper: dict[str, float]
    source: int | None = None  # the member it copied after the last generation (None: itself)


def run_pbt(request: PBTRequest) -> tuple[dict, str]:
    """Check everything (one-line UsageError before any work), train the population generation by
    generation (resuming from `out`), write `out/pbt.json`; returns it and the text to print."""
    from surrogate.search.oracle import live_config
    from surrogate.spaces import get_space

    ranges = request.check()
    space = get_space(request.space)
    archs = [space.format(a) for a in space.parse_many(request.archs)]  # malformed -> UsageError
    config, data = live_config(request.space, request.dataset, epochs=request.epochs, channels=request.channels,
                               cells=request.cells, batch_size=request.batch_size, device=request.device,
                               data_dir=request.data_dir, subset=request.subset, resolution=request.resolution)
    if config.text:
        raise UsageError("population-based training of language models is not built yet")
    out = Path(request.out)
    settings = {k: v for k, v in asdict(request).items()
                if k not in ("progress", "command", "workers", "out", "storage", "study", "heartbeat_interval")}
    trainer = (_Trainer(config, request.data_dir, data, request.workers) if not request.storage else
               _SharedTrainer(config, request.data_dir, data, request, settings))  # a storage is checked here
    check_output_folder(out)
    claim = out / "pbt.request.json"
    if claim.exists() and json.loads(claim.read_text()) != settings:
        raise UsageError(f"--out {out} holds another population-based training; choose another --out or remove it")
    atomic_write(claim, json.dumps(settings, sort_keys=True))
    (out / "members").mkdir(exist_ok=True)

    rng = np.random.default_rng(request.seed)
    members = [Member(archs[i % len(archs)], request.seed * 1000 + i,
                      {k: float(math.exp(rng.uniform(math.log(lo), math.log(hi)))) for k, (lo, hi) in ranges.items()})
               for i in range(request.population)]
    ends = list(range(request.interval, request.epochs, request.interval)) + [request.epochs]
    history: list[list[dict]] = []
    start = time.perf_counter()
    try:
        for g, until in enumerate(ends):
            records = trainer.generation(out, g, until, members, request.progress)
            history.append([{"member": i, "arch": m.arch, **m.hyper, "source": m.source,
                             "valid_acc": float(r["valid_acc"][until - 1]),
                             **({"test_acc": float(r["test_acc"][-1])} if until == request.epochs else {})}
                            for i, (m, r) in enumerate(zip(members, records))])
            if request.explore and until < request.epochs:
                members = exploit_and_explore(members, [h["valid_acc"] for h in history[-1]], ranges,
                                              request.quantile, np.random.default_rng([request.seed, g]))
    finally:
        trainer.close()
    final = history[-1]
    best = max(final, key=lambda h: (np.nan_to_num(h["valid_acc"], nan=-np.inf), -h["member"]))
    schedule = [{k: gen[best["member"]][k] for k in ("arch", *ranges, "source")} for gen in history]
    document = {"best": {"member": best["member"], "arch": best["arch"], "valid_acc": best["valid_acc"],
                         "test_acc": best["test_acc"], "schedule": schedule},
                "generations": history, "ends": ends,
                **run_record(request.command, None, config.dataset_checksum, [request.seed], space=request.space,
                             dataset=request.dataset, training_config=config.stored(), settings=settings,
                             seconds=round(time.perf_counter() - start, 2))}
    atomic_write(out / "pbt.json", json.dumps(document, indent=1) + "\n")
    kind = "population-based training" if request.explore else "random search (every member trained alone)"
    lines = [f"{kind}: {request.population} members x {request.epochs} epochs, generations ending at epochs "
             f"{', '.join(map(str, ends))}", "", "| generation | epochs | best valid_acc | median valid_acc |",
             "|---|---|---|---|"]
    for g, gen in enumerate(history):
        values = [h["valid_acc"] for h in gen]
        lines.append(f"| {g} | {ends[g]} | {np.nanmax(values):.2f} | {np.nanmedian(values):.2f} |")
    hyper = ", ".join(f"{k} {best[k]:.3g}" for k in ranges)
    lines += ["", f"best member {best['member']} ({best['arch']}, final {hyper}): valid_acc {best['valid_acc']:.2f}, "
              f"test_acc {best['test_acc']:.2f}", f"wrote {out}/pbt.json"]
    return document, "\n".join(lines)


def exploit_and_explore(members: list[Member], values: list[float], ranges: dict[str, tuple[float, float]],
                        quantile: float, rng: np.random.Generator) -> list[Member]:
    """Truncation selection: the bottom `quantile` copy a random member of the top `quantile` and
    perturb its hyperparameters; the rest go on as they are (`source` None)."""
    order = np.argsort(-np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-np.inf), kind="stable")
    n = max(1, int(len(members) * quantile))
    top, bottom = order[:n].tolist(), set(order[-n:].tolist())
    nxt = []
    for i, m in enumerate(members):
        if i not in bottom:
            nxt.append(Member(m.arch, m.seed, dict(m.hyper), None))
            continue
        j = top[int(rng.integers(n))]
        hyper = {k: float(np.clip(v * rng.choice(PERTURB), *ranges[k])) for k, v in members[j].hyper.items()}
        nxt.append(Member(members[j].arch, m.seed, hyper, j))
    return nxt


class _Trainer:
    """Trains a generation's segments, in this process or in `workers` spawned ones."""

    def __init__(self, config, data_dir: str | None, data, workers: int):
        self.config, self.data_dir, self.data, self.workers = config, data_dir, data, workers
        self._local = None
        self._pool = None

    @staticmethod
    def path(out: Path, g: int, i: int) -> Path:
        """Member `i`'s checkpoint after generation `g` (its whole record after the last)."""
        return out / "members" / f"g{g:03d}_m{i:03d}.pt"

    def job(self, out: Path, g: int, until: int, members: list[Member], i: int) -> tuple:
        """`ArchWorker.train_arch`'s arguments for member `i`'s segment of generation `g`."""
        from surrogate.spaces import get_space

        m, last = members[i], until == self.config.epochs
        resume = None if g == 0 else str(self.path(out, g - 1, i if m.source is None else m.source))
        return (get_space(self.config.space).parse(m.arch), None if last else until, resume,
                str(self.path(out, g, i)), m.seed, m.hyper)

    def train_here(self, job: tuple) -> None:
        from surrogate.search.oracle import ArchWorker

        if self._local is None:
            self._local = ArchWorker(self.config, self.data_dir, self.data)
        self._finish(self._local.train_arch(*job), job[3], job[1] is None)

    def generation(self, out: Path, g: int, until: int, members: list[Member], progress: bool) -> list[dict]:
        """Each member's record after generation `g` (trained now unless its checkpoint exists)."""
        from tqdm.auto import tqdm

        from surrogate.search.oracle import train_in_worker, training_pool

        last = until == self.config.epochs
        todo = [i for i in range(len(members)) if not self.path(out, g, i).exists()]
        jobs = {i: self.job(out, g, until, members, i) for i in todo}
        bar = tqdm(total=len(todo), desc=f"generation {g}", unit="member", disable=not progress or not todo)
        with bar:
            if self.workers > 1 and len(todo) > 1:
                if self._pool is None:
                    self._pool = training_pool(self.config, self.data_dir, self.workers)
                futures = {i: self._pool.submit(train_in_worker, *job) for i, job in jobs.items()}
                for i, future in futures.items():
                    self._finish(future.result(), jobs[i][3], last)
                    bar.update()
            else:
                for job in jobs.values():
                    self.train_here(job)
                    bar.update()
        return [self._read(self.path(out, g, i)) for i in range(len(members))]

    @staticmethod
    def _finish(record: dict, save: str, last: bool) -> None:
        """A last segment's whole record is kept as its checkpoint (a partial one wrote its own)."""
        if last:
            import torch

            from surrogate._io import atomic_write

            numbers = {k: torch.from_numpy(np.asarray(v, dtype=np.float64).reshape(-1)) for k, v in record.items()
                       if np.asarray(v).dtype.kind == "f"}
            atomic_write(save, lambda handle: torch.save({"record": numbers}, handle))

    @staticmethod
    def _read(path: Path) -> dict:
        import torch

        return {k: v.numpy() for k, v in torch.load(path, weights_only=True)["record"].items()}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


class _SharedTrainer(_Trainer):
    """Trains segments claimed from a study shared by workers on many machines (module doc).

    A claim is a RUNNING trial with user attribute `segment` ("g:i"); it trains only if, once
    running, it sees no other running claim of its segment, so of two workers claiming one segment
    at the same instant at most one trains (both may back off, as PRUNED `surplus` trials, and
    claim again). A segment is done when its checkpoint file exists (written atomically): a trial
    that finished training but died before its tell is not trained again, and the study's records
    never outrank the files."""

    def __init__(self, config, data_dir: str | None, data, request: "PBTRequest", settings: dict):
        import optuna

        from surrogate._io import quiet_optuna
        from surrogate.storage import open_storage

        super().__init__(config, data_dir, data, 1)
        rdb = open_storage(request.storage, heartbeat_interval=request.heartbeat_interval)
        with quiet_optuna():
            self.study = optuna.create_study(storage=rdb, study_name=request.study, direction="maximize",
                                             load_if_exists=True)
            found = self.study.user_attrs.get("pbt_settings")
            if found is None:
                self.study.set_user_attr("pbt_settings", settings)
            elif found != json.loads(json.dumps(settings)):
                raise UsageError(f"study {request.study!r} holds another population-based training; "
                                 "choose another --study")

    def _claims(self) -> dict[str, list]:
        """Waiting (a retry of a dead worker's segment) and running trials by the segment they hold."""
        from optuna.trial import TrialState

        claims: dict[str, list] = {}
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)):
            claims.setdefault(t.user_attrs.get("segment"), []).append(t)
        return claims

    def generation(self, out: Path, g: int, until: int, members: list[Member], progress: bool) -> list[dict]:
        import optuna
        from optuna.trial import TrialState
        from tqdm.auto import tqdm

        from surrogate._io import quiet_optuna
        from surrogate.storage import POLL_SECONDS, fail_stale

        todo = lambda: [i for i in range(len(members)) if not self.path(out, g, i).exists()]  # noqa: E731
        bar = tqdm(total=len(members), initial=len(members) - len(todo()), desc=f"generation {g}", unit="member",
                   disable=not progress or not todo())

        def train(trial: optuna.Trial) -> float:
            segment = trial.user_attrs.get("segment")  # a retried trial holds the segment of the one that died
            if segment is None:
                segment = f"{g}:{random.choice(free) if free else -1}"  # none free: the retry went elsewhere
                trial.set_user_attr("segment", segment)
            gen, i = (int(k) for k in segment.split(":"))
            rivals = [t for t in self._claims().get(segment, [])
                      if t.number != trial.number and t.state != TrialState.WAITING]
            if gen != g or i < 0 or self.path(out, g, i).exists() or rivals:  # claimants at one instant back off
                trial.set_user_attr("surplus", True)
                raise optuna.TrialPruned("segment taken by another worker")
            trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
            self.train_here(self.job(out, g, until, members, i))
            return float(self._read(self.path(out, g, i))["valid_acc"][until - 1])

        with bar, quiet_optuna():
            while left := todo():
                fail_stale(self.study)
                claims = self._claims()
                free = [i for i in left if f"{g}:{i}" not in claims]
                if free or any(t.state == TrialState.WAITING for ts in claims.values() for t in ts):
                    try:
                        self.study.optimize(train, n_trials=1, catch=())
                    except ValueError as err:  # SQLite locks no rows: two workers can pop one waiting trial,
                        if "Cannot tell a" not in str(err):  # train its segment alike, and the second tell fails
                            raise
                else:
                    time.sleep(POLL_SECONDS * (1 + random.random()))  # every open segment is trained elsewhere
                bar.n = len(members) - len(todo())
                bar.refresh()
        return [self._read(self.path(out, g, i)) for i in range(len(members))]


class PBTValidator:
    """`search --validate-top K --validate-with pbt`: a run's top picks get their final training by
    population-based training, `per_pick` members per pick (`request` gives everything else); a
    pick's validated value is the test accuracy of its best member by validation accuracy at the
    end (NaN when every member of it copied another architecture)."""

    per_pick = 4

    def __init__(self, request: PBTRequest):
        from surrogate.spaces import get_space

        self.request, self.space = request, get_space(request.space)

    def evaluate(self, archs: np.ndarray, tag: str) -> np.ndarray:
        names = self.space.format_many(np.atleast_2d(archs))
        doc, _ = run_pbt(replace(self.request, archs=names, population=self.per_pick * len(names),
                                 out=str(Path(self.request.out) / tag)))
        final = doc["generations"][-1]
        values = []
        for name in names:
            mine = [h for h in final if h["arch"] == name and np.isfinite(h["valid_acc"])]
            values.append(max(mine, key=lambda h: h["valid_acc"])["test_acc"] if mine else np.nan)
        return np.array(values, dtype=np.float64)

    def export(self) -> None:
        """Nothing to export: each population's pbt.json is written as it ends."""

    def close(self, abort: bool = False) -> None:
        """Nothing held between populations."""
