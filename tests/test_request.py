"""`surrogate search` as a user runs it: one request, checked once (one line, exit 2, nothing
written), one JSON shape and set of files for one objective or several, and an output folder
that belongs to one campaign."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from surrogate.cli import main
from surrogate.search import pareto
from surrogate.search.report import TRAJECTORY_COLUMNS, result_fields
from surrogate.spaces import get_space
from surrogate.tabular import Table

ROOT = Path(__file__).resolve().parents[1]


def chain_table(tmp_path, nan_after: int | None = None):
    """Every architecture of categorical:4x3: an additive accuracy, a 'long training' column, params at
    odds with accuracy, a per-epoch time column; `nan_after`: accuracy NaN beyond that many rows."""
    space = get_space("categorical:4x3")
    archs = space.enumerate()
    rows = np.arange(4)
    acc = 60 + np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [0.5, 2.5, 0.0], [2.0, 1.0, 0.0]])[rows, archs].sum(1)
    if nan_after is not None:
        acc[nan_after:] = np.nan
    params = 1000 + np.array([[0, 3, 1], [2, 0, 5], [1, 4, 0], [3, 2, 0]])[rows, archs].sum(1) * 1000.0
    seconds = np.stack([10 + archs.sum(1), 10 + archs.sum(1)], axis=1)[:, None, :].astype(float)
    path = tmp_path / "chain.h5"
    Table(space.spec, archs, space.format_many(archs),
          {"valid_acc": acc, "test_acc": acc + 1, "params": params, "epoch_seconds": seconds}).write(path)
    return path


def search(path, *args: str) -> list[str]:
    return ["search", str(path), *args, "--no-progress"]


def test_one_objective_writes_four_files_and_the_json_shape(tmp_path, capsys):
    path = chain_table(tmp_path)
    out = tmp_path / "search"
    assert main(search(path, "--metric", "valid_acc", "--strategies", "rs,bo", "--budget", "30", "--seeds", "2",
                       "--init", "5", "--report", "test_acc", "--validate-top", "3", "--out", str(out), "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metric"] == "valid_acc" and doc["optimum"] == pytest.approx(60 + 2 + 3 + 2.5 + 2)
    assert doc["objectives"] == ["valid_acc:max"] and doc["ref_point"] is None
    assert [r["strategy"] for r in doc["results"]] == ["rs", "bo"]
    for row in doc["results"]:
        assert tuple(row) == result_fields(1)
        assert set(row["regret_at"]) == {"15", "30"} and row["regret_at"]["15"] >= row["regret_at"]["30"]
        assert row["seeds"] == 2 and row["budget"] == 30 and 0 <= row["found_optimum"] <= 2
        assert row["report_mean"] is not None and row["seconds_per_query"] >= 0 and row["train_seconds"] > 0
    for name in ("trajectories.csv", "summary.md", "regret.png", "run.json"):
        assert (out / name).is_file()
    traj = pd.read_csv(out / "trajectories.csv")
    assert tuple(traj.columns) == TRAJECTORY_COLUMNS and len(traj) == 2 * 2 * 30
    run = json.loads((out / "run.json").read_text())
    assert run["input_checksum"].startswith("sha256:") and run["seeds"] == [0, 1] and "surrogate search" in run["command"]
    summary = (out / "summary.md").read_text()
    assert "regret@15" in summary and "budget + 1" in summary and "best test_acc of top 3" in summary


def test_several_objectives_write_the_same_shape_and_their_fronts(tmp_path, capsys):
    path = chain_table(tmp_path)
    out = tmp_path / "mo"
    assert main(search(path, "--objectives", "valid_acc:max,params:min", "--budget", "16", "--seeds", "2", "--init", "5",
                       "--out", str(out), "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["objectives"] == ["valid_acc:max", "params:min"] and doc["true_front_size"] >= 5
    assert doc["metric"] is None and doc["optimum"] is None
    assert [r["strategy"] for r in doc["results"]] == ["bo", "nsga2", "re", "rs"]  # the defaults for this kind
    for row in doc["results"]:
        assert tuple(row) == result_fields(2) and set(row["hypervolume_ratio_at"]) == {"8", "16"}
        assert 0 < row["hypervolume_ratio_at"]["16"] <= 1 and 0 < row["found_front_fraction"] <= 1
    for name in ("trajectories.csv", "pareto.csv", "pareto.png", "hypervolume.png", "summary.md", "run.json"):
        assert (out / name).is_file(), name
    traj = pd.read_csv(out / "trajectories.csv")
    assert len(traj) == 4 * 2 * 16 and {"valid_acc", "params", "feasible", "hypervolume_ratio"} <= set(traj.columns)
    for _, run in traj.groupby(["strategy", "seed"]):
        assert (np.diff(run.hypervolume_ratio) >= -1e-12).all() and run.arch.nunique() == len(run)
    fronts = pd.read_csv(out / "pareto.csv", dtype={"arch": str})
    true = fronts[fronts.strategy == "true front"]
    assert len(true) == doc["true_front_size"]
    for _, rows in fronts[fronts.strategy != "true front"].groupby(["strategy", "seed"]):
        Y = np.c_[rows.valid_acc, -rows.params]
        assert pareto.non_dominated(Y).all()  # each run's found set is non-dominated ...
        assert all(((np.c_[true.valid_acc, -true.params] >= y).all(axis=1)).any() for y in Y)  # ... and under the truth
    run = json.loads((out / "run.json").read_text())
    assert run["ref_point"] == doc["ref_point"] and "HV ratio@16" in (out / "summary.md").read_text()


def test_a_constrained_objective_reports_regret_against_the_best_feasible(tmp_path, capsys):
    path = chain_table(tmp_path)
    out = tmp_path / "so"
    assert main(search(path, "--metric", "valid_acc", "--constraint", "params<=6000", "--strategies", "bo,rs",
                       "--budget", "20", "--seeds", "2", "--init", "5", "--out", str(out), "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    table = Table.read(path)
    assert doc["optimum"] == pytest.approx(table.metric("valid_acc")[table.metric("params") <= 6000].max())
    assert doc["constraints"] == ["params<=6000"] and doc["results"][0]["found_optimum"] == 2
    assert (out / "regret.png").is_file() and not (out / "pareto.png").exists()


def test_the_default_strategies_all_run(tmp_path, capsys):
    path = chain_table(tmp_path)
    assert main(search(path, "--metric", "valid_acc", "--budget", "12", "--seeds", "1", "--init", "4", "--batch", "3",
                       "--out", str(tmp_path / "all"), "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["strategy"] for r in doc["results"]] == ["bo", "re", "ls", "rs", "reinforce", "tpe"]


@pytest.mark.parametrize("args, needle", [
    (["--strategies", "bo,sgd"], "unknown strategy"),
    (["--metric", "nope"], "unknown metric"),
    (["--budget", "500"], "exceeds"),
    (["--acq", "pi"], "unknown acquisition"),
    (["--model", "xgb"], "unknown model"),
    (["--report", "nope"], "unknown metric"),
    (["--features", "nope"], "unknown feature"),
    (["--features", "zc"], "no zc_ columns"),
    (["--fidelity", "epochs"], "needs per-epoch records"),
    (["--strategies", "asha"], "give --fidelity epochs"),
    (["--eta", "3"], "give --fidelity epochs too"),
    (["--rank-by", "sotl"], "give --fidelity epochs too"),
    (["--fidelity", "epochs", "--eta", "1"], "--eta must be at least 2"),
    (["--budget-seconds", "0"], "--budget-seconds must be at least"),
    (["--epochs", "3"], "only for a live campaign"),
    (["--budget", "0"], "--budget must be at least 1"),
    (["--validate-top", "-1"], "--validate-top must be at least 0"),
    (["--validate-top", "11"], "exceeds the budget"),
    (["--objectives", "valid_acc:max,params:min"], "--objectives replaces --metric"),
    (["--storage", "sqlite:///x.db"], "go together"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, args, needle):
    path = chain_table(tmp_path)
    argv = search(path, "--metric", "valid_acc", "--budget", "10", "--seeds", "1", "--out", str(tmp_path / "o"))
    argv += args
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, needle", [
    (["--objectives", ""], "no objective given"),
    (["--objectives", "valid_acc:max,params:min", "--budget", "30"], "exceeds the 20 distinct architectures"),
    (["--metric", "valid_acc", "--budget", "30"], "exceeds the 20 distinct architectures"),
    (["--objectives", "valid_acc:max,params:min", "--model", "rf"], "--model and --batch"),
])
def test_several_objectives_are_checked_like_one(tmp_path, capsys, args, needle):
    path = chain_table(tmp_path, nan_after=20)  # 20 of 81 classes have an accuracy
    assert main(search(path, *args, "--seeds", "1", "--out", str(tmp_path / "o"))) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_a_folder_belongs_to_one_campaign(tmp_path, capsys):
    path = chain_table(tmp_path)
    out = tmp_path / "search"
    argv = search(path, "--metric", "valid_acc", "--strategies", "rs", "--budget", "12", "--seeds", "2", "--out", str(out))
    assert main(argv) == 0
    assert main(argv) == 0  # the same campaign again: resumes
    capsys.readouterr()
    other = search(path, "--metric", "valid_acc", "--strategies", "rs", "--budget", "10", "--seeds", "2", "--out", str(out))
    assert main(other) == 2
    assert "holds another campaign" in capsys.readouterr().err
    mo = search(path, "--objectives", "valid_acc:max,params:min", "--strategies", "rs", "--budget", "10", "--seeds", "1",
                "--out", str(out))
    assert main(mo) == 2  # nor one with other objectives
    assert "holds another campaign" in capsys.readouterr().err


def test_two_different_campaigns_at_once_into_one_folder_exactly_one_runs(tmp_path):
    """Issue 26, item 3: the folder is claimed atomically before any work."""
    path = chain_table(tmp_path)
    out = tmp_path / "shared"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "surrogate.cli", "search", str(path), "--metric", "valid_acc",
                               "--strategies", "rs,re", "--budget", budget, "--seeds", "3", "--out", str(out),
                               "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for budget in ("20", "21")]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "holds another campaign" in loser and loser.count("\n") == 1
    budgets = {json.loads((out / "run.json").read_text())["campaign"]["budget"]}
    assert budgets <= {20, 21} and len(pd.read_csv(out / "trajectories.csv")) in (2 * 3 * 20, 2 * 3 * 21)


LIVE = ["--space", "nb201", "--dataset", "digits", "--epochs", "1", "--channels", "8", "--cells", "1",
        "--metric", "valid_acc", "--strategies", "rs", "--seeds", "1", "--no-progress"]


def _live(out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "surrogate.cli", "search", *LIVE, *extra, "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_interruptible)


def _interruptible() -> None:
    """Ctrl-C as a terminal delivers it, even when the tests run from a background shell (which
    starts its children ignoring SIGINT, and Python then keeps ignoring it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for_workers(proc: subprocess.Popen, n: int, timeout: float = 120) -> list[int]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        workers = [c for c in _children(proc.pid) if "multiprocessing" in (Path("/proc") / str(c) / "cmdline")
                   .read_bytes().decode(errors="replace")] if _alive(proc.pid) else []
        if len(workers) >= n:
            return workers
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"no {n} workers appeared: {proc.stderr.read()[-1000:]}")


@pytest.mark.slow
def test_signals_on_a_live_search_with_workers(tmp_path):
    """Issue 26, items 7, 10 and 12: Ctrl-C prints one line (no worker tracebacks); SIGTERM says
    "terminated" (exit 143); after a kill -9 of the campaign its workers die with it."""
    proc = _live(tmp_path / "int", "--workers", "2", "--budget", "40")
    _wait_for_workers(proc, 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and err.strip().splitlines()[-1] == "surrogate: interrupted"

    proc = _live(tmp_path / "term", "--budget", "40")
    deadline = time.time() + 60  # until the campaign trains (its handlers are set), however slow the imports
    while time.time() < deadline and not (tmp_path / "term" / "records.h5.parts").exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip().splitlines()[-1] == "surrogate: terminated"

    proc = _live(tmp_path / "kill", "--workers", "2", "--budget", "40")
    workers = _wait_for_workers(proc, 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "workers outlived the campaign"
