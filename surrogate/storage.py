"""Optuna RDB storages shared by workers on many machines: opening one (with heartbeats and retry of
stale trials) and failing the trials of workers that stopped beating. Both `surrogate generate`'s
job queue and a search campaign's workers (`surrogate.search.distributed`) stand on this."""

from __future__ import annotations

import random
import time
import warnings

import optuna
import sqlalchemy.exc

from surrogate._io import quiet_optuna
from surrogate.errors import UsageError

#: seconds an idle worker waits between looks at the study.
POLL_SECONDS = 0.25


def open_storage(url: str, heartbeat_interval: int = 10, grace_period: int | None = None,
                 max_retry: int = 3) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats and retry of stale trials (UsageError when unreachable)."""
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (optuna.exceptions.ExperimentalWarning, FutureWarning))
        if retry is not None:  # optuna >= 4.9
            callback = {"heartbeat_stale_trial_callback": retry(max_retry=max_retry)}
        else:
            callback = {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=max_retry)}
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
    when a worker starts a trial, and idle workers must notice too (search workers and `generate`)."""
    with quiet_optuna():
        optuna.storages.fail_stale_trials(study)
