"""Training: one pair (`train_job`), and a worker that trains pair after pair from a journal or a
shared study, in this process or in a spawned one. The dataset is loaded onto the device once."""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Callable, Iterable

import numpy as np

from surrogate._io import quiet_optuna, torch_threads
from surrogate.errors import UsageError
from surrogate.generate.config import JobConfig
from surrogate.generate.journal import Journal
from surrogate.generate.shared import open_shared
from surrogate.spaces import get_space


def train_job(config: JobConfig, arch: np.ndarray, seed: int, data, device, until: int | None = None,
              resume: dict | None = None) -> dict[str, np.ndarray]:
    """Train one (architecture, seed) pair on `data` (a `surrogate.train.data.Data`, best already on
    `device`): its per-epoch records, costs, and what it ran on. `until`/`resume`: a partial
    training and its continuation (`train.trainer.train`); a partial record holds `state` and no
    costs, and `job_seconds` counts every segment so far."""
    import torch

    from surrogate.nets import build_network
    from surrogate.train.trainer import costs, seeded, train

    start = time.perf_counter()
    with seeded(seed):
        network = build_network(config.space, arch, config.channels, config.cells, data.num_classes, data.input_shape[0])
    if (until is not None or resume is not None) and config.text:
        raise UsageError("partial trainings (--fidelity) of language models are not built yet")
    if config.text:
        from surrogate.train.language import text_costs, train_text

        record = train_text(network, data, epochs=config.epochs, seed=seed, batch_size=config.batch_size,
                            seq_len=config.seq_len, lr=config.lr, weight_decay=config.weight_decay,
                            grad_clip=config.grad_clip, device=device, test_at_end=config.test_at_end)
        spent = text_costs(network, data.num_classes, config.seq_len, device)
    else:
        record = train(network, data, epochs=config.epochs, seed=seed, batch_size=config.batch_size, lr=config.lr,
                       device=device, momentum=config.momentum, weight_decay=config.weight_decay,
                       nesterov=config.nesterov, test_at_end=config.test_at_end, until=until, resume=resume)
        spent = {} if "state" in record else costs(network, data.input_shape, device)
    record |= {k: np.array([v]) for k, v in spent.items()}
    before = float(resume["job_seconds"]) if resume is not None else 0.0
    record["job_seconds"] = np.array([before + time.perf_counter() - start])  # the pair: training, evaluation, costs
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return record | {"arch": np.array(get_space(config.space).format(arch)), "seed": np.array(seed),
                     "torch_version": np.array(torch.__version__), "device_name": np.array(where),
                     "threads": np.array(torch.get_num_threads()),
                     "worker": np.array(f"{socket.gethostname()}:{os.getpid()}")}


class Worker:
    """One training process: the dataset on the device, then pairs one after another, taken from a
    journal (`run_local`) or from a shared study (`run_shared`). Torch's thread count is the
    caller's to set (`torch_threads`)."""

    def __init__(self, config: JobConfig, data_dir: str | None, data=None):
        import torch

        from surrogate.train.data import load
        from surrogate.train.trainer import resolve_device

        self.config = config
        self.device = resolve_device(config.device)
        if data is None:
            data = load(config.dataset, data_dir, config.subset, config.resolution)
            if config.train_on_valid:
                from surrogate.train.data import with_valid_in_train

                data = with_valid_in_train(data)
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

        from surrogate.storage import POLL_SECONDS, fail_stale

        trained, idle = 0, False

        def objective(trial: optuna.Trial) -> float:
            nonlocal idle, trained
            if "job" not in trial.user_attrs:  # nothing was waiting: optuna made a fresh trial
                idle = True
                trial.set_user_attr("surplus", True)
                raise optuna.TrialPruned("no job waiting")
            job = self.config.job(int(trial.user_attrs["job"]))
            trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
            record = self.train(job)
            trial.set_user_attr("record", {k: v.tolist() for k, v in record.items()})
            trained += 1
            value = float(record[self.config.valid_metric][-1])
            return value if np.isfinite(value) else 0.0  # optuna fails NaN trials; `diverged` says why

        with quiet_optuna():
            while keep_going() and (max_jobs is None or trained < max_jobs):
                fail_stale(study)  # dead workers' trials come back as WAITING
                if idle:
                    if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                        idle = False
                    elif study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                        time.sleep(POLL_SECONDS)  # wait: a running trial may go stale and need us
                        continue
                    else:
                        break
                before = trained
                try:
                    study.optimize(objective, n_trials=1)
                except ValueError as err:  # SQLite has no row locks: two workers may pop one WAITING trial, and
                    if "Cannot tell a COMPLETE trial" not in str(err):  # the other finished it first: nothing lost
                        raise
                if trained > before:
                    on_done()
        return trained


def worker_process(config: dict, target: dict, data_dir: str | None, threads: int, parent: int) -> None:
    """Entry point of a spawned worker; it dies with its parent (`_io.die_with_parent`: a kill -9 of
    the command ends its training at once; the pair it trained is claimed again by the next run)."""
    from surrogate._io import die_with_parent

    die_with_parent(parent)
    try:
        with torch_threads(threads):
            worker = Worker(JobConfig(**config), data_dir)
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
