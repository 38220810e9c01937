"""One job shared between machines through an Optuna RDB storage (`--storage URL --study NAME`),
for when the workers have no common file system: the study is the job queue and holds the records."""

from __future__ import annotations

import time

import numpy as np

from surrogate._io import quiet_optuna
from surrogate.generate.config import JobConfig, check_same_job

#: study user attribute holding the job's configuration (a study serves one job)
CONFIG_ATTR = "generate_config"
#: seconds between a worker's heartbeats; a trial whose worker missed them for 2x this is retried
HEARTBEAT_SECONDS = 10


def open_shared(config: JobConfig, storage: str, study_name: str):
    """The study sharing `config`'s pairs, created (one WAITING trial per pair) by the first worker;
    later workers check that they run the same job."""
    import optuna

    from surrogate.storage import open_storage

    rdb = open_storage(storage, heartbeat_interval=HEARTBEAT_SECONDS)
    with quiet_optuna():
        study = optuna.create_study(storage=rdb, study_name=study_name, direction="maximize", load_if_exists=True)
        _bind_study(study, rdb, config, study_name)
    return study


def _bind_study(study, rdb, config: JobConfig, study_name: str) -> None:
    wanted = config.stored()
    found = study.user_attrs.get(CONFIG_ATTR)
    if found is None:
        study.set_user_attr(CONFIG_ATTR, wanted)
        found = wanted
    check_same_job(found, wanted, f"study {study_name!r}")
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
        from surrogate.storage import without_password

        self.study, self.config = study, config
        self.where = {"storage": without_password(storage), "study": study_name}

    def _complete(self) -> dict[tuple[int, int], dict]:
        from optuna.trial import TrialState

        records: dict[tuple[int, int], dict] = {}
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        for trial in sorted(complete, key=lambda t: t.number):
            job = self.config.job(int(trial.user_attrs["job"]))
            if "record" in trial.user_attrs and job not in records:
                records[job] = {k: np.asarray(v, dtype=float if isinstance(v, list) else None)
                                for k, v in trial.user_attrs["record"].items()}
        return records

    def count_done(self) -> int:
        return len(self._complete())

    def records(self) -> tuple[dict, dict]:
        return self._complete(), self.where
