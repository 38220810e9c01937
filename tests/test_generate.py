import socket

import numpy as np
import pytest
import torch

from surrogate import generate as gen
from surrogate.cli import main
from surrogate.errors import UsageError
from surrogate.spaces import get_space
from surrogate.tabular import Table

SMALL = ["generate", "--space", "nb201", "--dataset", "digits", "--archs", "8", "--epochs", "2", "--channels", "8",
         "--cells", "1", "--no-progress"]
PER_EPOCH = ("train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss", "test_acc", "epoch_seconds")


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what generate's workers use
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _values(table: Table) -> dict:
    """Everything but timings, which differ between runs."""
    return {k: v for k, v in table.metrics.items() if k not in ("epoch_seconds", "job_seconds") and not k.startswith("latency")}


def test_generate_end_to_end(tmp_path, capsys):
    out = tmp_path / "X.h5"
    assert main([*SMALL, "--out", str(out)]) == 0
    assert "8 archs x 1 seed(s), 8/8" in capsys.readouterr().out
    table = Table.read(out)
    assert table.n == 8 and table.space == "nb201" and table.attrs["dataset"] == "digits"
    assert all(table.metrics[m].shape == (8, 1, 2) for m in PER_EPOCH)
    assert all(table.metrics[m].shape == (8, 1, 1) for m in gen.FINAL_METRICS)
    assert not np.isnan(table.metrics["valid_acc"]).any()
    config, provenance = table.attrs["training_config"], table.attrs["provenance"]
    assert config["epochs"] == 2 and config["channels"] == 8 and config["cells"] == 1 and config["batch_size"] == 256
    assert config["split"] == {"train": 1077, "valid": 360, "test": 360, "seed": 0} and config["torch_version"]
    assert provenance["dataset_checksum"].startswith("sha256:") and "--archs 8" in provenance["command"]
    assert main(["info", str(out)]) == 0 and "archs: 8" in capsys.readouterr().out
    # the same command again trains nothing and rewrites the same records
    assert main([*SMALL, "--out", str(out)]) == 0
    again = Table.read(out)
    assert all(np.array_equal(again.metrics[k], table.metrics[k], equal_nan=True) for k in table.metrics)


def test_resume_after_a_crash_completes_without_duplicates(tmp_path):
    out = tmp_path / "X.h5"
    config, data = gen.make_config("nb201", "digits", archs="5", seeds=2, epochs=1, channels=4, cells=1, batch_size=128)
    gen.generate(config, out, progress=False, max_jobs=3, data=data)
    journal = gen.Journal(gen.journal_path(out))
    first = {job: journal.read(job)["valid_acc"].copy() for job in journal.done()}
    assert len(first) == 3 and Table.read(out).n == 3  # seed-major: three archs of seed 0
    # what a kill -9 leaves: no table, a claim of a dead process and a half-written temp record
    out.unlink()
    dead = f"{socket.gethostname()} 999999999 1"
    (journal.claims / "a0000003_s000.lock").write_text(dead)
    (journal.records / ".999999999.abc.tmp").write_bytes(b"half")
    table = gen.generate(config, out, progress=False, data=data)
    assert sorted(journal.done()) == [(a, s) for a in range(5) for s in range(2)]
    assert table.n == 5 and not np.isnan(table.metrics["valid_acc"]).any()
    assert all(np.array_equal(journal.read(job)["valid_acc"], v) for job, v in first.items())  # kept, not retrained
    assert not list(journal.claims.iterdir()) and not list(journal.records.glob(".*"))
    # a straight run gives the same records (CPU training is deterministic)
    straight = gen.generate(config, tmp_path / "Y.h5", progress=False, data=data)
    assert all(np.array_equal(straight.metrics[k], table.metrics[k]) for k in _values(table))


def test_two_local_workers_make_one_consistent_file(tmp_path):
    out = tmp_path / "W.h5"
    config, data = gen.make_config("nb201", "digits", archs="6", epochs=1, channels=4, cells=1, batch_size=128)
    table = gen.generate(config, out, workers=2, threads=1, progress=False)
    journal = gen.Journal(gen.journal_path(out))
    assert len(journal.done()) == 6 and table.n == 6 and not list(journal.claims.iterdir())
    assert Table.read(out).checksum() == table.checksum()
    alone = gen.generate(config, tmp_path / "A.h5", progress=False, data=data)  # same records as one worker
    assert all(np.array_equal(alone.metrics[k], table.metrics[k]) for k in _values(table))


def test_rerun_with_another_configuration_is_refused(tmp_path, capsys):
    out = tmp_path / "X.h5"
    config, data = gen.make_config("categorical:4x3", "digits", archs="2", epochs=1, channels=4, batch_size=128)
    gen.generate(config, out, progress=False, data=data, max_jobs=1)
    args = ["generate", "--space", "categorical:4x3", "--dataset", "digits", "--archs", "2", "--channels", "4",
            "--batch-size", "128", "--no-progress", "--out", str(out)]
    assert main([*args, "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "different job (epochs: 1 there, 2 now)" in err
    assert main([*args, "--epochs", "1"]) == 0  # the same job resumes
    assert Table.read(out).n == 2


def test_claims_are_exclusive_and_only_dead_ones_are_reclaimed(tmp_path):
    journal = gen.Journal(tmp_path / "j")
    journal.records.mkdir(parents=True)
    journal.claims.mkdir()
    assert journal.claim((0, 0)) and not journal.claim((0, 0))
    (journal.claims / "a0000001_s000.lock").write_text(f"{socket.gethostname()} 999999999 1")
    (journal.claims / "a0000002_s000.lock").write_text("another-host 1 1")
    assert journal.reclaim_dead() == 1  # ours is alive, the other host's is fresh: its heartbeat is recent
    assert sorted(p.name for p in journal.claims.iterdir()) == ["a0000000_s000.lock", "a0000002_s000.lock"]
    journal.release((0, 0))
    assert journal.claim((0, 0))


def test_another_hosts_claim_is_reclaimed_once_its_heartbeat_stops(tmp_path, monkeypatch):
    """A journal on a folder shared by hosts: a held claim is touched every BEAT_SECONDS; one of
    another host untouched for GRACE_SECONDS is dead (its worker was killed there)."""
    import os
    import time

    from surrogate.generate import journal as journal_module

    monkeypatch.setattr(journal_module, "BEAT_SECONDS", 0.05)
    journal = gen.Journal(tmp_path / "j")
    journal.records.mkdir(parents=True)
    journal.claims.mkdir()
    dead = journal.claims / "a0000002_s000.lock"
    dead.write_text("another-host 1 1")
    old = time.time() - journal_module.GRACE_SECONDS - 1
    os.utime(dead, (old, old))
    assert journal.claim((0, 0))
    mine = journal.claims / "a0000000_s000.lock"
    os.utime(mine, (old, old))
    time.sleep(1.5)
    assert time.time() - mine.stat().st_mtime < 1.5  # our keeper beat it back to life
    assert journal.reclaim_dead() == 1 and not dead.exists() and mine.exists()
    journal.release((0, 0))


def test_arch_selection():
    space = get_space("nb201")
    assert len(gen.select_archs(space, "all", unique=True)) == 6466
    drawn = gen.select_archs(space, "20", unique=True)
    assert len(np.unique(space.canonical_ids(drawn))) == 20
    assert np.array_equal(gen.select_archs(space, "5"), gen.select_archs(space, "20")[:5])  # N is a prefix of N+k
    with pytest.raises(UsageError, match="only 6466 classes"):
        gen.select_archs(space, "7000", unique=True)
    with pytest.raises(UsageError, match="expected 'all', a number, or a file"):
        gen.select_archs(space, "nope.txt")


def test_arch_file(tmp_path):
    space = get_space("categorical:3x3")
    path = tmp_path / "archs.txt"
    path.write_text("# chains\n012\n\n210\n")
    assert gen.select_archs(space, str(path)).tolist() == [[0, 1, 2], [2, 1, 0]]
    path.write_text("012\n210\n012\n")
    with pytest.raises(UsageError, match="line 3 repeats the architecture of line 1"):
        gen.select_archs(space, str(path))


@pytest.mark.parametrize("extra,message", [
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["--space", "categorical:2x12"], "at most 8 block choices"),
    (["--storage", "sqlite:///x.db"], "--storage and --study go together"),
    (["--workers", "0"], "--workers must be at least 1"),
])
def test_bad_input_is_one_line(tmp_path, capsys, extra, message):
    assert main([*SMALL, "--out", str(tmp_path / "X.h5"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err


def test_an_existing_table_without_journal_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "X.h5"
    out.write_bytes(b"someone's data")
    assert main([*SMALL, "--out", str(out)]) == 2
    assert "has no journal" in capsys.readouterr().err and out.read_bytes() == b"someone's data"


# --- shared through an Optuna RDB storage (SQLite here; PostgreSQL in production) -----------------
def _shared(tmp_path, archs="4"):
    config, data = gen.make_config("nb201", "digits", archs=archs, epochs=1, channels=4, cells=1, batch_size=128)
    return config, data, f"sqlite:///{tmp_path / 'jobs.db'}"


def test_shared_study_with_two_workers_exports_every_pair_once(tmp_path):
    import optuna

    config, data, url = _shared(tmp_path)
    table = gen.generate(config, tmp_path / "S.h5", workers=2, threads=1, progress=False, storage=url, study="g")
    assert table.n == 4 and not np.isnan(table.metrics["valid_acc"]).any()
    assert table.attrs["provenance"]["study"] == "g" and table.attrs["provenance"]["jobs_done"] == 4
    complete = optuna.load_study(study_name="g", storage=url).get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert sorted(t.user_attrs["job"] for t in complete) == [0, 1, 2, 3]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_shared_study_retries_the_pair_of_a_dead_worker(tmp_path, monkeypatch):
    import time

    monkeypatch.setattr(gen.shared, "HEARTBEAT_SECONDS", 1)  # stale after 2 s without a beat
    config, data, url = _shared(tmp_path, archs="3")
    study = gen.open_shared(config, url, "g")
    lost = study.ask()  # a worker takes a pair, beats once, and dies
    study._storage.record_heartbeat(lost._trial_id)
    time.sleep(2.5)
    table = gen.generate(config, tmp_path / "S.h5", progress=False, data=data, storage=url, study="g")
    assert table.n == 3 and not np.isnan(table.metrics["valid_acc"]).any()
    assert gen.open_shared(config, url, "g").trials[lost.number].state.name == "FAIL"


def test_shared_study_refuses_another_job(tmp_path, capsys):
    config, data, url = _shared(tmp_path, archs="2")
    gen.open_shared(config, url, "g")
    args = [*SMALL[:5], "--archs", "3", "--epochs", "1", "--channels", "4", "--cells", "1", "--batch-size", "128",
            "--no-progress", "--out", str(tmp_path / "S.h5"), "--storage", url, "--study", "g"]
    assert main(args) == 2
    assert "study 'g' was made by a different job (archs: 2 archs there, 3 archs now)" in capsys.readouterr().err


def test_repeat_archs_trains_later_seeds_for_the_first_archs_only(tmp_path, capsys):
    out = tmp_path / "R.h5"
    small = [*SMALL[:SMALL.index("--archs")], "--archs", "4", "--epochs", "1", "--channels", "4", "--cells", "1",
             "--no-progress"]
    assert main([*small, "--seeds", "2", "--repeat-archs", "3", "--test-at-end", "--out", str(out)]) == 0
    assert "4 archs x 2 seed(s), 7/7" in capsys.readouterr().out
    table = Table.read(out)
    second = table.metric("valid_acc", seed=1)
    assert np.isfinite(second[:3]).all() and np.isnan(second[3])
    assert np.isfinite(table.metrics["job_seconds"][:, 0]).all()
    assert table.attrs["training_config"]["repeat_archs"] == 3
    assert main([*small, "--seeds", "2", "--repeat-archs", "0", "--out", str(tmp_path / "bad.h5")]) == 2


def test_protocol_options_reach_the_records(tmp_path, monkeypatch):
    from tests.test_data import _fake_fashion
    from surrogate.train import data as datamod

    monkeypatch.setitem(datamod.VALID_SIZE, "fashion-mnist", 20)
    monkeypatch.setattr(datamod, "FASHION_SYSTEM_DIRS", ())
    _fake_fashion(tmp_path / "fm", n_train=60, n_test=20)
    out = tmp_path / "F.h5"
    assert main(["generate", "--space", "nb201", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "fm"),
                 "--archs", "2", "--epochs", "2", "--channels", "4", "--cells", "1", "--subset", "30",
                 "--resolution", "7", "--test-at-end", "--batch-size", "16", "--no-progress", "--out", str(out)]) == 0
    table = Table.read(out)
    config = table.attrs["training_config"]
    assert (config["subset"], config["resolution"], config["test_at_end"]) == (30, 7, True)
    assert config["split"] == {"train": 30, "valid": 20, "test": 20, "seed": 0, "train_subset": 30, "resolution": 7}
    test_acc = table.metrics["test_acc"]
    assert np.isnan(test_acc[:, :, 0]).all() and np.isfinite(test_acc[:, :, -1]).all()


def test_a_worker_that_finishes_first_says_the_table_is_not_complete(tmp_path, capsys):
    out = tmp_path / "P.h5"
    argv = ["generate", "--space", "nb201", "--dataset", "digits", "--archs", "2", "--epochs", "1", "--channels", "2",
            "--cells", "1", "--no-progress", "--out", str(out)]
    config, _ = gen.make_config("nb201", "digits", archs="2", epochs=1, channels=2, cells=1)
    journal = gen.Journal(gen.journal_path(out))
    journal.bind(config)
    assert journal.claim((1, 0))  # another live worker (this process) is training pair 1
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "1/2 (arch, seed) records" in captured.out
    assert "not complete yet: 1 pair(s) are still being trained by other workers" in captured.err


def test_binary_archs_file_is_a_usage_error(tmp_path, capsys):
    blob = tmp_path / "archs.bin"
    blob.write_bytes(bytes(range(256)) * 4)
    assert main([*SMALL, "--archs", str(blob), "--out", str(tmp_path / "b.h5")]) == 2
    assert "not a text file of arch strings" in capsys.readouterr().err


@pytest.mark.slow
def test_kill_9_with_workers_leaves_no_worker_training(tmp_path, process_tree):
    """A worker trains a pair of 400 epochs (about a minute); kill -9 of the command ends it at once."""
    import os
    import subprocess
    import sys
    import time

    out = tmp_path / "X.h5"
    argv = [sys.executable, "-m", "surrogate.cli", "generate", "--space", "nb201", "--dataset", "digits", "--archs", "4",
            "--epochs", "400", "--channels", "8", "--cells", "1", "--workers", "2", "--no-progress", "--out", str(out)]
    proc = subprocess.Popen(argv, env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    claims = tmp_path / "X.h5.parts" / "claims"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(claims.glob("*.lock")) if claims.exists() else []) < 2:
        time.sleep(0.05)  # both workers training a pair
    process_tree.kill_and_check_all_die(proc)
