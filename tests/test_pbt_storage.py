"""`surrogate pbt --storage`: workers in separate processes share a population through PostgreSQL
(conftest's `postgres_url`; skipped without it), are killed with SIGKILL and restarted, and the
records still equal one process's. (A one-kill run on SQLite passed too; the suite's time limit
keeps one of them, on the storage the issue names.)"""

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


def _storage_worker(out, db, study, population=POPULATION) -> subprocess.Popen:
    """`surrogate pbt --storage` as a process, with 1-second heartbeats (a dead worker is found after 2 s)."""
    args = dict(population, out=str(out), storage=db, study=study, progress=False, heartbeat_interval=1)
    code = ("import json; from surrogate.search.pbt import PBTRequest, run_pbt; "
            f"print(json.dumps(run_pbt(PBTRequest(**{args!r}))[0]))")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)


@pytest.mark.slow
def test_four_workers_on_postgresql_survive_five_kills(tmp_path, capsys, one_torch_thread, postgres_url):
    """Issue 23's fault injection: 4 workers, 5 kill -9 at random moments, each restarted. Every
    segment ends complete exactly once, nothing is left running or waiting, and the population's
    records are those of one process."""
    import numpy as np
    import optuna
    from optuna.trial import TrialState

    population = dict(POPULATION, epochs=4)  # 16 segments
    assert main([*cli(population), "--out", str(tmp_path / "one"), "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    study, rng = f"pbt-kills-{tmp_path.name}", np.random.default_rng(0)
    start = lambda: _storage_worker(tmp_path / "shared", postgres_url, study, population)  # noqa: E731
    workers, kills = [start() for _ in range(4)], 0
    while kills < 5 and any(w.poll() is None for w in workers):
        time.sleep(rng.uniform(0.3, 1.5))
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
    assert complete == sorted(f"{g}:{i}" for g in range(4) for i in range(4)) and kills == 5


def test_a_study_of_another_population_is_one_line_exit_2_before_any_work(tmp_path, capsys):
    import optuna

    db = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(storage=db, study_name="s").set_user_attr("pbt_settings", {"population": 99})
    capsys.readouterr()  # Optuna's own note of the study it created
    out = tmp_path / "o"
    assert main([*cli(POPULATION), "--storage", db, "--study", "s", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds another population-based training" in err and err.count("\n") == 1 and not out.exists()

