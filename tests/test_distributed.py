"""Several worker processes share one campaign through a real PostgreSQL server.

The server is conftest's `postgres_url`; without PostgreSQL these tests skip.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

from surrogate.search.distributed import run_worker
from surrogate.errors import UsageError
from surrogate.search.sampler import CLAIM_ATTR
from surrogate.spaces import get_space
from surrogate.tabular import Table

SPACE = "categorical:4x4"  # 256 archs
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def table_path(tmp_path_factory) -> Path:
    """The whole of categorical:4x4 with a synthetic metric (distinct values, one optimum)."""
    space = get_space(SPACE)
    archs = space.enumerate()
    acc = 50 + (archs * np.array([7, 5, 3, 2])).sum(axis=1) + np.arange(len(archs)) / 1000
    path = tmp_path_factory.mktemp("table") / "synth.h5"
    Table(space=SPACE, archs=archs, arch_strings=space.format_many(archs), metrics={"acc": acc}).write(path)
    return path


@pytest.fixture(scope="module")
def curve_path(tmp_path_factory) -> Path:
    """categorical:4x4 with 9-epoch acc curves whose early ranking differs from the final one."""
    space = get_space(SPACE)
    archs = space.enumerate()
    final = 50 + (archs * np.array([7, 5, 3, 2])).sum(axis=1) + np.arange(len(archs)) / 1000
    speed = np.random.default_rng(0).uniform(0.3, 3.0, len(archs))
    acc = final[:, None] * (1 - np.exp(-np.arange(1, 10)[None, :] * speed[:, None]))
    path = tmp_path_factory.mktemp("curves") / "curves.h5"
    Table(space=SPACE, archs=archs, arch_strings=space.format_many(archs),
          metrics={"acc": acc[:, None, :], "epoch_seconds": np.ones((len(archs), 1, 9))}).write(path)
    return path


def _check_rungs(url: str, study_name: str, table: Path, budget: int) -> list[optuna.trial.FrozenTrial]:
    """A multi-fidelity campaign: `budget` whole trainings; every trial reported the table's curve at
    the rungs it reached (1, 3), and a PRUNED one stopped below the whole training."""
    study = optuna.load_study(study_name=study_name, storage=url)
    trials = study.get_trials()
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == budget
    tab, space = Table.read(table), get_space(SPACE)
    stopped = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED and not t.user_attrs.get("surplus")]
    assert stopped, "ASHA stopped no training"
    for t in complete + stopped:
        curve = tab.metrics["acc"][tab.lookup(space.parse_many([t.user_attrs["arch"]]))[0], 0]
        assert set(t.intermediate_values) <= {1, 3}
        assert all(v == curve[e - 1] for e, v in t.intermediate_values.items())
        assert t.state != optuna.trial.TrialState.COMPLETE or t.value == curve[-1]
    archs = space.parse_many([t.user_attrs["arch"] for t in complete + stopped])
    assert len(set(space.canonical_ids(archs).tolist())) == len(archs), "an arch was trained twice"
    return trials


def test_asha_bo_runs_as_storage_workers_stopping_trainings_through_the_studys_pruner(curve_path, tmp_path):
    from surrogate.cli import main

    url = f"sqlite:///{tmp_path / 'asha.db'}"
    argv = ["search", str(curve_path), "--metric", "acc", "--strategies", "asha-bo", "--fidelity", "epochs",
            "--init", "3", "--budget", "4", "--storage", url, "--study", "asha", "--no-progress"]
    assert main(argv) == 0
    _check_rungs(url, "asha", curve_path, 4)
    with pytest.raises(UsageError, match="give --fidelity epochs"):
        run_worker(str(curve_path), "acc", "asha", url, "other", 3)
    with pytest.raises(UsageError, match="cannot run as workers sharing a storage"):
        run_worker(str(curve_path), "acc", "tpe-hb", url, "other", 3, fidelity={})
    with pytest.raises(UsageError, match="needs about 261 architecture classes"):
        run_worker(str(curve_path), "acc", "asha", url, "other", 29, fidelity={})  # 29 x 3^2 > 256


def test_a_retried_trial_does_not_inherit_its_pruner_state(tmp_path):
    """The retry of a stale trial is a new trial (in Hyperband, maybe another bracket): it keeps
    the failed one's params and claim, not the rungs the pruner recorded for it."""
    import time

    from surrogate.storage import fail_stale, open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(storage=storage, study_name="s")
    orphan = study.ask({"d0": optuna.distributions.CategoricalDistribution(["0", "1"])})
    storage.set_trial_system_attr(orphan._trial_id, "completed_rung_0", 0.5)
    storage.set_trial_system_attr(orphan._trial_id, CLAIM_ATTR, [1])
    time.sleep(1.5)
    fail_stale(study)
    retry = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.WAITING]
    assert len(retry) == 1 and retry[0].params == orphan.params and retry[0].system_attrs[CLAIM_ATTR] == [1]
    assert not any(k.startswith("completed_rung_") for k in retry[0].system_attrs)


def _spawn(table: Path, url: str, study: str, budget: int, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "surrogate.search.distributed", str(table), "--metric", "acc", "--storage", url,
           "--study", study, "--budget", str(budget), "--seed", "0", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(procs: list[subprocess.Popen], timeout: float = 120) -> list[int]:
    done = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-2000:]
        done.append(int(out.split()[-1]))
    return done


def _check_campaign(url: str, study_name: str, table: Path, budget: int) -> list[optuna.trial.FrozenTrial]:
    """Exactly `budget` COMPLETE trials, distinct isomorphism classes, values straight from the table."""
    study = optuna.load_study(study_name=study_name, storage=url)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == budget
    space, tab = get_space(SPACE), Table.read(table)
    archs = space.parse_many([t.user_attrs["arch"] for t in complete])
    assert len(set(space.canonical_ids(archs).tolist())) == budget, "an arch was evaluated twice"
    expected = tab.metric("acc")[tab.lookup(archs)]
    np.testing.assert_array_equal([t.value for t in complete], expected)
    for t, arch in zip(complete, archs):
        assert t.system_attrs[CLAIM_ATTR] == arch.tolist()
    return study.get_trials()


def test_one_worker_on_sqlite(table_path, tmp_path):
    """The loop itself, without a server: exact budget, table values, reproducible under a seed."""
    runs = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        assert run_worker(str(table_path), "acc", "re", url, "solo", 6, seed=5) == 6
        trials = _check_campaign(url, "solo", table_path, 6)
        assert run_worker(str(table_path), "acc", "re", url, "solo", 6, seed=5) == 0  # already done
        runs.append([t.user_attrs["arch"] for t in trials])
    assert runs[0] == runs[1]


def test_four_workers_share_one_campaign(postgres_url, table_path):
    budget = 24
    # BO with UCB on a forest is greedy and deterministic: workers asking at once pick the same arch,
    # so the claim protocol is exercised (without it, this test finds duplicates)
    params = '{"model": "rf", "init": 4, "acq": "ucb", "model_params": {"n_estimators": 20}}'
    procs = [_spawn(table_path, postgres_url, "four", budget, "--strategy", "bo", "--strategy-params", params)
             for _ in range(4)]
    done = _finish(procs)
    assert sum(done) == budget
    trials = _check_campaign(postgres_url, "four", table_path, budget)
    others = [t for t in trials if t.state != optuna.trial.TrialState.COMPLETE]
    assert all(t.state == optuna.trial.TrialState.PRUNED and t.user_attrs.get("surplus") and not t.params
               for t in others), "only surplus starts may end otherwise"


def test_killed_worker_trial_is_retried(postgres_url, table_path):
    budget = 12
    slow = ("--strategy", "rs", "--simulate-seconds", "1", "--heartbeat-interval", "1", "--grace-period", "2")
    procs = [_spawn(table_path, postgres_url, "kill", budget, *slow) for _ in range(4)]
    victim, storage = procs[0], optuna.storages.RDBStorage(postgres_url)
    mine = f":{victim.pid}"
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until the victim is inside a trial (sleeping in it), then kill it
        time.sleep(0.1)
        try:
            running = optuna.load_study(study_name="kill", storage=storage).get_trials(
                states=(optuna.trial.TrialState.RUNNING,))
        except KeyError:  # study not created yet
            continue
        if any(t.user_attrs.get("worker", "").endswith(mine) for t in running):
            break
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert sum(_finish(procs[1:])) == budget
    trials = _check_campaign(postgres_url, "kill", table_path, budget)
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)  # optuna < 4.9: the old name
    retry = retry or optuna.storages.RetryFailedTrialCallback
    killed = [t for t in trials if t.user_attrs.get("worker", "").endswith(mine)
              and retry.retried_trial_number(t) is None and t.state != optuna.trial.TrialState.COMPLETE]
    assert [t.state for t in killed] == [optuna.trial.TrialState.FAIL], "the victim's trial was not failed"
    retries = [t for t in trials if retry.retried_trial_number(t) == killed[0].number]
    assert [t.state for t in retries] == [optuna.trial.TrialState.COMPLETE]
    assert retries[0].params == killed[0].params


def test_bad_storage_and_metric_are_usage_errors(postgres_url, table_path, tmp_path):
    with pytest.raises(UsageError, match="cannot open storage"):
        run_worker(str(table_path), "acc", "rs", "nosuchdb://x", "s", 3)
    with pytest.raises(UsageError, match="unknown metric"):
        run_worker(str(table_path), "loss", "rs", postgres_url, "s", 3)
    with pytest.raises(UsageError, match="exceeds"):
        run_worker(str(table_path), "acc", "rs", postgres_url, "s", 1000)


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_failed(tmp_path):
    """Optuna finds a trial stale by its last heartbeat, so one that never beat stayed RUNNING
    forever; `fail_stale` fails it once it is older than the grace period."""
    import time

    from surrogate.storage import fail_stale, open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(storage=storage, study_name="s")
    orphan = study.ask()  # created, never beaten: its worker was killed at this point
    fail_stale(study)
    assert study.get_trials()[orphan.number].state == optuna.trial.TrialState.RUNNING  # young: it may still beat
    time.sleep(1.5)
    fail_stale(study)
    assert study.get_trials()[orphan.number].state == optuna.trial.TrialState.FAIL


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["rs", "asha"])
def test_five_random_kills_lose_nothing(postgres_url, table_path, curve_path, strategy):
    """Fault injection: 4 workers, 5 kill -9 at random moments (a random live worker each time,
    replaced at once). The campaign still ends with exactly `budget` COMPLETE trials of distinct
    classes, nothing stays RUNNING, and every other trial was reclaimed (FAIL, re-queued) or is a
    surplus start (PRUNED); with asha (each rung a simulated training), PRUNED also as ASHA stopped it."""
    budget, rng = 20 if strategy == "rs" else 6, np.random.default_rng(7)
    slow = ("--strategy", strategy, "--simulate-seconds", "0.5" if strategy == "rs" else "0.1",
            "--heartbeat-interval", "1", "--grace-period", "2")
    if strategy == "asha":
        table_path, slow = curve_path, (*slow, "--fidelity", '{"eta": 3}')
    study = f"faults-{strategy}"
    procs = [_spawn(table_path, postgres_url, study, budget, *slow) for _ in range(4)]
    killed = []
    for _ in range(5):
        time.sleep(float(rng.uniform(0.2, 2.0)))
        alive = [p for p in procs if p.poll() is None]
        if not alive:
            break
        victim = alive[int(rng.integers(len(alive)))]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed.append(victim)
        procs = [p for p in procs if p is not victim] + [_spawn(table_path, postgres_url, study, budget, *slow)]
    assert len(killed) == 5
    _finish(procs, timeout=180)
    check = _check_campaign if strategy == "rs" else _check_rungs
    trials = check(postgres_url, study, table_path, budget)
    states = [t.state for t in trials]
    assert optuna.trial.TrialState.RUNNING not in states and optuna.trial.TrialState.WAITING not in states
    for t in trials:
        assert t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL) or t.user_attrs.get("surplus") \
            or (strategy == "asha" and t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values)
