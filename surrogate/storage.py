"""Optuna RDB storages shared by workers on many machines: opening one (with heartbeats and retry of
stale trials) and failing the trials of workers that stopped beating. Both `surrogate generate`'s
job queue and a search campaign's workers (`surrogate.search.distributed`) stand on this."""

from __future__ import annotations

import copy
import random
import time
import warnings

import optuna
import sqlalchemy.exc

from surrogate._io import quiet_optuna
from surrogate.errors import UsageError

#: seconds an idle worker waits between looks at the study.
POLL_SECONDS = 0.25


#: system attrs of a trial that belong to the pruner's view of that run (`SuccessiveHalvingPruner`'s
#: rungs), which a retry must not inherit: the retry is a new trial, possibly in another bracket.
PRUNER_ATTRS = "completed_rung_"


def _retry_callback(max_retry: int):
    """Optuna's retry of stale trials, re-queueing a failed trial's params without its pruner state."""
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)  # optuna >= 4.9
    base = retry or optuna.storages.RetryFailedTrialCallback

    class Retry(base):
        def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            trial = copy.deepcopy(trial)
            trial._system_attrs = {k: v for k, v in trial.system_attrs.items() if not k.startswith(PRUNER_ATTRS)}
            super().__call__(study, trial)

    return {"heartbeat_stale_trial_callback" if retry else "failed_trial_callback": Retry(max_retry=max_retry)}


def open_storage(url: str, heartbeat_interval: int = 10, grace_period: int | None = None,
                 max_retry: int = 3) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats and retry of stale trials (UsageError when unreachable)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (optuna.exceptions.ExperimentalWarning, FutureWarning))
        callback = _retry_callback(max_retry)
        for _ in range(5):
            try:
                return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat_interval,
                                                  grace_period=grace_period, **callback)
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as err:
                # workers racing to create the schema of a fresh database: one wins, the rest retry
                failure = err
                time.sleep(0.2 + random.random())
            except Exception as err:  # sqlalchemy raises many kinds: bad URL, no driver, no server
                failure = err
                break
    reason = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
    raise UsageError(f"cannot open storage {without_password(url)!r}: {reason.replace(url, without_password(url))}")


def without_password(url: str) -> str:
    """The URL as it may appear in an error message or a provenance record (password as ***)."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def fail_stale(study: optuna.Study) -> None:
    """Fail trials whose worker stopped beating (runs the retry callback); Optuna only does this
    when a worker starts a trial, and idle workers must notice too (search workers and `generate`).
    A trial whose worker died before its first heartbeat has none, and Optuna never finds it
    stale: it is failed too once it is older than the grace period (`unbeaten_trials`)."""
    with quiet_optuna():
        optuna.storages.fail_stale_trials(study)
        storage = study._storage
        retry = getattr(storage, "get_heartbeat_stale_trial_callback", lambda: None)()
        for trial_id in unbeaten_trials(getattr(storage, "_backend", storage), study._study_id):  # under Optuna's cache
            try:
                if not storage.set_trial_state_values(trial_id, state=optuna.trial.TrialState.FAIL):
                    continue
            except (RuntimeError, sqlalchemy.exc.SQLAlchemyError):  # another worker failed it first
                continue
            if retry is not None:
                retry(study, storage.get_trial(trial_id))


def unbeaten_trials(storage, study_id: int) -> list[int]:
    """RUNNING trials with no heartbeat that started longer than the grace period ago (by the
    clock of the machine that created them, as Optuna records `datetime_start`)."""
    import datetime

    interval = getattr(storage, "heartbeat_interval", None)
    if interval is None or not hasattr(storage, "scoped_session"):
        return []
    from optuna.storages._rdb import models  # the heartbeat table has no public reader

    grace = datetime.timedelta(seconds=storage.grace_period or 2 * interval)
    now = datetime.datetime.now()
    session = storage.scoped_session()
    try:
        rows = (session.query(models.TrialModel).filter(models.TrialModel.study_id == study_id)
                .filter(models.TrialModel.state == optuna.trial.TrialState.RUNNING).all())
        return [t.trial_id for t in rows if not t.heartbeats and t.datetime_start is not None
                and now - t.datetime_start > grace]
    finally:
        session.close()
