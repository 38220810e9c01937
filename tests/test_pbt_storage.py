"""`surrogate pbt --storage`: workers in separate processes share a population through an Optuna
storage (SQLite; PostgreSQL where conftest's `postgres_url` can start one), are killed with SIGKILL
and restarted, and the records still equal one process's."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from surrogate.cli import main

#: test_pbt.py's tiny population: two NB201 cells on digits, 4 members, 3 generations of 1 epoch
ARCHS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
         "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|"]
POPULATION = dict(space="nb201", dataset="digits", archs=ARCHS, population=4, epochs=3, interval=1, channels=4, cells=1)


def cli(population: dict) -> list[str]:
    return ["pbt", *(f for k, v in population.items() if k != "archs" for f in (f"--{k}", str(v))),
            *(f for a in population["archs"] for f in ("--arch", a)), "--no-progress"]


TINY = cli(POPULATION)


def _storage_worker(out, db, study, population=POPULATION) -> subprocess.Popen:
    """`surrogate pbt --storage` as a process, with 1-second heartbeats (a dead worker is found after 2 s)."""
    args = dict(population, out=str(out), storage=db, study=study, progress=False, heartbeat_interval=1)
    code = ("import json; from surrogate.search.pbt import PBTRequest, run_pbt; "
            f"print(json.dumps(run_pbt(PBTRequest(**{args!r}))[0]))")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)


@pytest.mark.slow
def test_workers_sharing_sqlite_survive_a_kill_and_give_one_process_records(tmp_path, capsys, one_torch_thread):
    """The same on a file (no server needed; PostgreSQL below takes 5 kills)."""
    import optuna
    from optuna.trial import TrialState

    assert main([*TINY, "--out", str(tmp_path / "one"), "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    db, study = f"sqlite:///{tmp_path / 'study.db'}", "pbt"
    victim = _storage_worker(tmp_path / "shared", db, study)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None:  # kill it while it trains a segment
        try:
            trials = optuna.load_study(study_name=study, storage=db).get_trials(deepcopy=False)
        except Exception:  # not created yet
            trials = []
        if any(t.state == TrialState.RUNNING and str(victim.pid) in t.user_attrs.get("worker", "") for t in trials):
            break
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    workers = [_storage_worker(tmp_path / "shared", db, study) for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for w, (stdout, stderr) in zip(workers, outputs):
        assert w.returncode == 0, stderr
        assert json.loads(stdout)["generations"] == one["generations"]
    trials = optuna.load_study(study_name=study, storage=db).get_trials(deepcopy=False)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    complete = [t.user_attrs["segment"] for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(complete) == sorted(f"{g}:{i}" for g in range(3) for i in range(4))  # each segment once
    assert any(t.state == TrialState.FAIL and str(victim.pid) in t.user_attrs.get("worker", "") for t in trials)


@pytest.mark.slow
def test_four_workers_on_postgresql_survive_five_kills(tmp_path, capsys, one_torch_thread, postgres_url):
    """Issue 23's fault injection: 4 workers, 5 kill -9 at random moments, each restarted. Every
    segment ends complete exactly once, nothing is left running or waiting, and the population's
    records are those of one process."""
    import numpy as np
    import optuna
    from optuna.trial import TrialState

    population = dict(POPULATION, epochs=5)  # 20 segments
    assert main([*cli(population), "--out", str(tmp_path / "one"), "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    study, rng = f"pbt-kills-{tmp_path.name}", np.random.default_rng(0)
    start = lambda: _storage_worker(tmp_path / "shared", postgres_url, study, population)  # noqa: E731
    workers, kills = [start() for _ in range(4)], 0
    while kills < 5 and any(w.poll() is None for w in workers):
        time.sleep(rng.uniform(0.5, 2.0))
        live = [k for k, w in enumerate(workers) if w.poll() is None]
        if live:
            k = live[rng.integers(len(live))]
            workers[k].send_signal(signal.SIGKILL)
            workers[k].wait()
            workers[k], kills = start(), kills + 1
    for w in workers:
        stdout, stderr = w.communicate(timeout=300)
        assert w.returncode == 0, stderr
        assert json.loads(stdout)["generations"] == one["generations"]
    trials = optuna.load_study(study_name=study, storage=postgres_url).get_trials(deepcopy=False)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    complete = sorted(t.user_attrs["segment"] for t in trials if t.state == TrialState.COMPLETE)
    assert complete == sorted(f"{g}:{i}" for g in range(5) for i in range(4)) and kills == 5
