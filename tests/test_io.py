"""The shared file and process helpers: atomic writes, the run record, Optuna quieting, threads,
the table lock, rewritability checks, workers that die with their parent."""

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import torch

from surrogate import __version__
from surrogate._io import (atomic_write, check_rewritable, create_new, default_threads, file_lock, quiet_optuna,
                           run_record, save_figure, torch_threads)
from surrogate.errors import UsageError


def test_atomic_write_text_bytes_and_callables(tmp_path):
    atomic_write(tmp_path / "a" / "x.txt", "hello")
    atomic_write(tmp_path / "y.bin", b"\x00\x01")
    atomic_write(tmp_path / "z.json", lambda handle: handle.write(json.dumps({"k": 1}).encode()))
    assert (tmp_path / "a" / "x.txt").read_text() == "hello"
    assert (tmp_path / "y.bin").read_bytes() == b"\x00\x01"
    assert json.loads((tmp_path / "z.json").read_text()) == {"k": 1}
    assert oct((tmp_path / "y.bin").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_atomic_write_failure_keeps_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "result.csv"
    target.write_text("old")

    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["result.csv"]


def test_temp_names_carry_the_writer_pid(tmp_path):
    """The generate journal reclaims a dead writer's temp files by the pid after the leading dot."""
    seen = []
    atomic_write(tmp_path / "f", lambda handle: seen.extend(os.listdir(tmp_path)))
    assert len(seen) == 1 and seen[0].split(".")[1] == str(os.getpid()) and seen[0].endswith(".tmp")


def test_save_figure(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    save_figure(fig, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_run_record_fields():
    record = run_record("surrogate x", "t.h5", "sha256:0", range(3), metric="acc")
    assert record == {"package_version": __version__, "command": "surrogate x", "input": "t.h5",
                      "input_checksum": "sha256:0", "seeds": [0, 1, 2], "metric": "acc"}


def test_quiet_optuna_restores_the_verbosity():
    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    with quiet_optuna():
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
    assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    optuna.logging.set_verbosity(optuna.logging.INFO)


def test_torch_threads_is_scoped():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_default_threads_honours_omp(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads(2) == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_threads(10_000) == 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_create_new_lets_the_first_writer_win(tmp_path):
    assert create_new(tmp_path / "claim", "me")
    assert not create_new(tmp_path / "claim", "you")
    assert (tmp_path / "claim").read_text() == "me" and os.listdir(tmp_path) == ["claim"]


def _wait_for(path, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_file_lock_excludes_another_process_and_a_killed_holder_leaves_no_stale_lock(tmp_path):
    table, held = tmp_path / "t.h5", tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom surrogate._io import file_lock\n"
                               "with file_lock(sys.argv[1]):\n    open(sys.argv[2], 'w').close()\n    time.sleep(60)\n",
                               str(table), str(held)])
    try:
        _wait_for(held)
        waited = []

        def kill_the_holder():  # called because the other process holds the lock
            waited.append(True)
            holder.send_signal(signal.SIGKILL)

        start = time.monotonic()
        with file_lock(table, on_wait=kill_the_holder):
            assert waited == [True]  # the kernel released the killed holder's lock
        assert time.monotonic() - start < 30
        assert (tmp_path / "t.h5.lock").exists() and not table.exists()
        with file_lock(table, on_wait=lambda: waited.append(False)):  # free now: no waiting
            pass
        assert waited == [True]
    finally:
        holder.kill()
        holder.wait()


def test_check_rewritable_refuses_a_read_only_file_or_folder(tmp_path, read_only):
    table = tmp_path / "t.h5"
    table.write_text("x")
    check_rewritable(table)
    read_only(table)
    with pytest.raises(UsageError, match="t.h5: the file is not writable"):
        check_rewritable(table, "--into")
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "t.h5").write_text("x")
    read_only(folder)
    with pytest.raises(UsageError, match="the folder .*sub is not writable"):
        check_rewritable(folder / "t.h5")
    other = tmp_path / "other"
    other.mkdir()
    (other / "t.h5").write_text("x")
    with pytest.raises(UsageError, match="the folder .*sub is not writable"):  # a journal folder beside it
        check_rewritable(other / "t.h5", folders=(folder,))


_PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid()), sys.argv[2]])
print(child.pid, flush=True)
time.sleep(120)
"""

_CHILD = """
import sys, time
poll = 60.0  # only the prctl can act within the test's 10 s
{setup}
from surrogate._io import die_with_parent
die_with_parent(int(sys.argv[1]), poll_seconds=poll)
open(sys.argv[2], "w").close()
time.sleep(120)
"""


@pytest.mark.parametrize("setup", ["", "sys.platform, poll = 'darwin', 0.1  # no prctl: the watchdog thread alone"],
                         ids=["prctl", "watchdog"])
def test_a_worker_dies_when_its_parent_is_killed(tmp_path, setup, process_tree):
    alive = process_tree.alive
    ready = tmp_path / "ready"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _CHILD.format(setup=setup), str(ready)],
                              stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        _wait_for(ready)
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child), "the worker outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()
        if alive(child):
            os.kill(child, signal.SIGKILL)


def test_signals_held_delivers_a_held_signal_after_the_block():
    from surrogate._io import signals_held

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a background shell starts us ignoring it
    try:
        with pytest.raises(KeyboardInterrupt):
            with signals_held():
                os.kill(os.getpid(), signal.SIGINT)
                reached = True  # the interrupt waited for the block to end
        assert reached
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
