"""The shared file and process helpers: atomic writes, the run record, Optuna quieting, threads."""

import json
import os

import optuna
import pytest
import torch

from surrogate import __version__
from surrogate._io import atomic_write, create_new, default_threads, quiet_optuna, run_record, save_figure, torch_threads


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
