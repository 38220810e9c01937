"""Weight-sharing supernets: weight inheritance, BN recalibration, seeded estimates, the checkpoint
(resume, refusal of other settings), the `surrogate supernet` commands and the `supernet` model of
the predictor benchmark. Every network here is tiny (C=2..3, one cell) and trains on `digits`."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import surrogate.supernet.spos as spos
from surrogate.benchmark import PredictorBenchmark
from surrogate.cli import main
from surrogate.errors import UsageError
from surrogate.nets import build_network
from surrogate.spaces import get_space
from surrogate.supernet.estimate import calibration_batches, estimate, evaluate_path, loss_column, recalibrate
from surrogate.supernet.network import build_supernet
from surrogate.supernet.spos import (SupernetConfig, load_checkpoint, load_supernet, sample_paths, save_checkpoint,
                                     train_supernet)
from surrogate.tabular import Table
from surrogate.train.data import load

#: the tiny training every test uses (1077 digits / 128 = 9 steps an epoch)
TINY = dict(space="nb201", dataset="digits", epochs=1, channels=2, cells=1, batch_size=128)
TINY_ARGS = ["--space", "nb201", "--dataset", "digits", "--channels", "2", "--cells", "1", "--batch-size", "128",
             "--no-progress"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@functools.lru_cache(maxsize=1)
def digits():
    return load("digits")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished checkpoint (nb201, 1 epoch of SPOS) shared by the read-only tests."""
    path = tmp_path_factory.mktemp("supernet") / "nb201.pt"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_supernet(SupernetConfig(**TINY), digits(), path, progress=False)
    finally:
        torch.set_num_threads(threads)
    return path


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, needle=""):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("surrogate: error:"), err
    assert needle in lines[0], lines[0]


def nb201_table(path, n=20, seed=0, dataset="digits"):
    space = get_space("nb201")
    archs = np.unique(space.sample(4 * n, seed), axis=0)[:n]
    rng = np.random.default_rng(seed)
    valid = rng.uniform(10, 90, (len(archs), 2, 3))  # 2 seeds x 3 epochs: must survive an estimate untouched
    table = Table("nb201", archs, space.format_many(archs), {"valid_acc": valid}, attrs={"dataset": dataset})
    table.write(path)
    return table


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- 1. weight inheritance ------------------------------------------------------------------------
SPACES = {"nb201": dict(channels=3, cells=1), "categorical:4x3": dict(channels=2, cells=1)}


@functools.lru_cache(maxsize=None)
def busy_supernet(spec: str):
    """A supernet whose BatchNorm running statistics are not the initial (0, 1): a few train-mode
    passes along random paths, so the eval-mode comparison exercises the inherited statistics."""
    torch.manual_seed(0)
    net = build_supernet(spec, num_classes=5, in_channels=1, **SPACES[spec])
    generator = torch.Generator().manual_seed(0)
    net.train()
    with torch.no_grad():
        for arch in sample_paths(net.space, 6, generator):
            net(torch.randn(8, 1, 8, 8, generator=generator) * 2 + 1, arch=arch)
    return net.eval()


def arch_strategy(spec: str):
    return st.tuples(*(st.integers(0, int(k) - 1) for k in get_space(spec).num_choices)).map(np.array)


@pytest.mark.parametrize("spec", list(SPACES))
def test_standalone_state_is_the_standalone_network(spec):
    net = busy_supernet(spec)
    shared = {t.data_ptr() for t in net.state_dict().values()}

    @settings(max_examples=8)
    @given(arch=arch_strategy(spec))
    def check(arch):
        state = net.standalone_state(arch)
        torch.manual_seed(1)  # a different init than the supernet's: loading must overwrite all of it
        alone = build_network(spec, arch, num_classes=5, in_channels=1, **SPACES[spec])
        expected = alone.state_dict()
        assert state.keys() == expected.keys()
        assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in expected.items()}
        assert all(v.data_ptr() in shared for v in state.values())  # inherited, not copied
        alone.load_state_dict(state)  # strict
        alone.eval()
        x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            ours, theirs = net(x, arch=arch), alone(x)
            # DARTS' relaxation with one-hot weights is the same single path
            onehot = [torch.nn.functional.one_hot(torch.tensor(int(a)), int(k)).float()
                      for a, k in zip(arch, net.space.num_choices)]
            relaxed = net(x, weights=onehot)
        assert ours.shape == (4, 5)
        torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(relaxed, ours, rtol=1e-5, atol=1e-6)

    check()


def test_forward_needs_exactly_one_of_arch_and_weights():
    net = busy_supernet("nb201")
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(ValueError, match="exactly one"):
        net(x)
    with pytest.raises(ValueError, match="exactly one"):
        net(x, arch=[0] * 6, weights=[torch.ones(5) / 5] * 6)


def test_spaces_without_a_supernet_are_refused():
    with pytest.raises(UsageError, match="at most"):
        build_supernet("categorical:3x20")


def test_sample_paths_are_in_range_and_seeded():
    space = get_space("categorical:5x4")
    a = sample_paths(space, 200, torch.Generator().manual_seed(3))
    b = sample_paths(space, 200, torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(a, b)
    space.check(a)
    assert a.min() == 0 and a.max() == 3  # every choice is drawn, none beyond


# --- 2. BatchNorm recalibration --------------------------------------------------------------------
def running_stats(net):
    return {k: v.clone() for k, v in net.state_dict().items() if "running_" in k or "num_batches" in k}


def test_recalibration_replaces_the_running_statistics_by_an_exact_average(trained):
    net, _ = load_supernet(trained)
    data = digits()
    arch = get_space("nb201").sample(1, 5)[0]
    batches = calibration_batches(data, 3, 64, seed=0, device=torch.device("cpu"))
    before = running_stats(net)
    recalibrate(net, arch, batches)
    first = running_stats(net)
    assert not net.training
    assert any(not torch.equal(before[k], first[k]) for k in before)
    # the stem's BN sees the same input on every path: its mean is the plain average of batch means
    with torch.no_grad():
        means = torch.stack([net.stem[0](x).mean((0, 2, 3)) for x in batches])
    torch.testing.assert_close(net.stem[1].running_mean, means.mean(0), rtol=1e-4, atol=1e-6)
    assert int(net.stem[1].num_batches_tracked) == len(batches)
    # twice on the same batches: identical, whatever path was calibrated in between
    recalibrate(net, get_space("nb201").sample(1, 6)[0], batches)
    recalibrate(net, arch, batches)
    second = running_stats(net)
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_estimate_restores_the_batchnorm_momentum(trained):
    net, _ = load_supernet(trained)
    momenta = [bn.momentum for bn in net.batchnorms()]
    estimate(net, get_space("nb201").sample(2, 0), digits(), calib_batches=1, batch_size=64, progress=False)
    assert [bn.momentum for bn in net.batchnorms()] == momenta


# --- 3. determinism --------------------------------------------------------------------------------
def test_training_is_deterministic_under_its_seed(tmp_path):
    data = digits()
    docs = [train_supernet(SupernetConfig(**TINY, seed=seed), data, tmp_path / f"{name}.pt", progress=False)
            for name, seed in (("a", 0), ("b", 0), ("c", 1))]
    assert same_state(docs[0]["state_dict"], docs[1]["state_dict"])
    assert docs[0]["train_loss"] == docs[1]["train_loss"]
    assert not same_state(docs[0]["state_dict"], docs[2]["state_dict"])
    # the file holds what was returned, and a finished checkpoint keeps no optimizer or RNG state
    stored = load_checkpoint(tmp_path / "a.pt")
    assert same_state(stored["state_dict"], docs[0]["state_dict"])
    assert stored["epochs_done"] == 1 and stored["optimizer"] is None and stored["generator"] is None


def test_estimates_are_deterministic_under_the_calibration_seed(trained):
    data = digits()
    archs = get_space("nb201").sample(6, 1)
    kwargs = dict(calib_batches=2, batch_size=64, progress=False)
    a = estimate(load_supernet(trained)[0], archs, data, seed=0, **kwargs)
    net, _ = load_supernet(trained)
    b = estimate(net, archs, data, seed=0, **kwargs)
    for key in ("acc", "loss"):
        np.testing.assert_array_equal(a[key], b[key])
        assert a[key].shape == (6,)
    assert np.all((a["acc"] >= 0) & (a["acc"] <= 100)) and np.all(a["loss"] > 0)
    # the same (supernet, arch, seed) whatever was estimated before it (recalibration resets)
    reverse = estimate(net, archs[::-1], data, seed=0, **kwargs)
    np.testing.assert_array_equal(reverse["loss"][::-1], a["loss"])
    other = estimate(net, archs, data, seed=1, **kwargs)
    assert not np.array_equal(other["loss"], a["loss"])
    # an estimate is the recalibrated path evaluated on the validation split
    recalibrate(net, archs[0], calibration_batches(data, 2, 64, 0, torch.device("cpu")))
    acc, loss = evaluate_path(net, archs[0], data.x_valid, data.y_valid)
    assert acc == a["acc"][0] and loss == pytest.approx(a["loss"][0], rel=1e-6)


def test_estimate_refuses_an_empty_calibration(trained):
    net, _ = load_supernet(trained)
    with pytest.raises(UsageError, match="calibration"):
        estimate(net, get_space("nb201").sample(1, 0), digits(), calib_batches=0, progress=False)


def test_loss_column_names():
    assert loss_column("supernet_acc") == "supernet_loss"
    assert loss_column("spos_c8") == "spos_c8_loss"


# --- 4. the column lands in the file ----------------------------------------------------------------
def test_train_then_estimate_into_a_tabular_file(tmp_path, capsys):
    ckpt, h5 = tmp_path / "sn.pt", tmp_path / "t.h5"
    before = nb201_table(h5)
    code, out, err = run_cli(["supernet", "train", *TINY_ARGS, "--epochs", "1", "--out", ckpt], capsys)
    assert code == 0, err
    assert "1 epochs" in out and ckpt.is_file()
    code, out, err = run_cli(["supernet", "estimate", ckpt, "--into", h5, "--calib-batches", "2", "--no-progress"],
                             capsys)
    assert code == 0, err
    assert "supernet_acc" in out and "Kendall tau against valid_acc" in out
    after = Table.read(h5)
    assert list(after.metrics) == ["valid_acc", "supernet_acc", "supernet_loss"]
    for name in ("supernet_acc", "supernet_loss"):
        assert after.metrics[name].shape == (before.n, 1, 1)
        assert np.isfinite(after.metrics[name]).all()
    np.testing.assert_array_equal(after.metrics["valid_acc"], before.metrics["valid_acc"])
    np.testing.assert_array_equal(after.archs, before.archs)
    assert after.attrs["dataset"] == "digits"
    record = after.attrs["supernet"]["supernet_acc"]
    assert record["training_config"]["epochs"] == 1 and record["training_config"]["channels"] == 2
    assert record["training_config"]["cells"] == 1 and record["method"] == "spos"
    assert record["loss_column"] == "supernet_loss" and record["checkpoint_sha256"].startswith("sha256:")
    assert record["calibration"]["batches"] == 2 and record["evaluated_on"] == "valid"
    # the column is the library's estimate of the file's architectures
    net, _ = load_supernet(ckpt)
    direct = estimate(net, before.archs, digits(), calib_batches=2, batch_size=128, seed=0, progress=False)
    np.testing.assert_array_equal(after.metric("supernet_acc"), direct["acc"])
    np.testing.assert_array_equal(after.metric("supernet_loss"), direct["loss"])
    # a second column keeps the first, and both are recorded
    code, _, err = run_cli(["supernet", "estimate", ckpt, "--into", h5, "--column", "spos_acc", "--seed", "1",
                            "--calib-batches", "1", "--no-progress"], capsys)
    assert code == 0, err
    again = Table.read(h5)
    assert set(again.metrics) == {"valid_acc", "supernet_acc", "supernet_loss", "spos_acc", "spos_loss"}
    np.testing.assert_array_equal(again.metrics["supernet_acc"], after.metrics["supernet_acc"])
    assert set(again.attrs["supernet"]) == {"supernet_acc", "spos_acc"}
    assert again.attrs["supernet"]["spos_acc"]["calibration"]["seed"] == 1


def test_estimate_notes_a_file_of_another_dataset(trained, tmp_path, capsys):
    h5 = tmp_path / "t.h5"
    nb201_table(h5, n=3, dataset="cifar10")
    code, _, err = run_cli(["supernet", "estimate", trained, "--into", h5, "--calib-batches", "1", "--no-progress"],
                           capsys)
    assert code == 0 and "note" in err and "cifar10" in err
    assert Table.read(h5).metrics["supernet_acc"].shape == (3, 1, 1)


def test_estimate_into_an_unwritable_or_shipped_table_is_refused_before_any_work(trained, tmp_path, capsys,
                                                                                 monkeypatch, read_only):
    import shutil

    from surrogate import catalog
    from surrogate.supernet import estimate as module

    monkeypatch.setattr(module, "estimate", lambda *a, **k: pytest.fail("estimated before refusing"))
    folder = tmp_path / "locked"
    folder.mkdir()
    nb201_table(folder / "t.h5", n=3)
    read_only(folder)
    code, _, err = run_cli(["supernet", "estimate", trained, "--into", folder / "t.h5", "--no-progress"], capsys)
    assert_one_line_error(code, err, "is not writable")
    immutable = tmp_path / "t.h5"
    nb201_table(immutable, n=3)
    read_only(immutable)
    code, _, err = run_cli(["supernet", "estimate", trained, "--into", immutable, "--no-progress"], capsys)
    assert_one_line_error(code, err, "the file is not writable")
    tables = tmp_path / "package" / "tables"  # a copy of the package's table folder stands in for it
    tables.mkdir(parents=True)
    shutil.copy2(catalog.SHIPPED["nb201-digits"].path, tables / "nb201_digits.h5")
    monkeypatch.setattr(catalog, "FOLDER", tables)
    before = (tables / "nb201_digits.h5").read_bytes()
    for into in (tables / "nb201_digits.h5", tables / ".." / "tables" / "nb201_digits.h5", "nb201-digits"):
        code, _, err = run_cli(["supernet", "estimate", trained, "--into", into, "--no-progress"], capsys)
        assert_one_line_error(code, err, "read-only")
    assert (tables / "nb201_digits.h5").read_bytes() == before and len(list(tables.iterdir())) == 1


def test_concurrent_estimate_and_proxies_keep_both_columns(trained, tmp_path):
    """Two real processes write columns into one table: the lock and the re-read keep both."""
    import os
    import subprocess
    import sys

    h5 = tmp_path / "t.h5"
    nb201_table(h5, n=60)
    cli = [sys.executable, "-m", "surrogate.cli"]
    argvs = [[*cli, "supernet", "estimate", str(trained), "--into", str(h5), "--calib-batches", "1", "--no-progress"],
             [*cli, "proxies", str(h5), "--proxies", "synflow", "--channels", "2", "--cells", "1", "--no-progress"]]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen(a, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for a in argvs]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
    table = Table.read(h5)
    assert {"valid_acc", "supernet_acc", "supernet_loss", "zc_synflow"} <= set(table.metrics)
    assert set(table.attrs["supernet"]) == {"supernet_acc"} and set(table.attrs["proxies"]) == {"zc_synflow"}


# --- 5. the checkpoint: finished, other settings, resume --------------------------------------------
def test_rerun_on_a_finished_checkpoint_does_not_retrain(trained, tmp_path, capsys):
    path = tmp_path / "done.pt"
    path.write_bytes(trained.read_bytes())
    code, out, err = run_cli(["supernet", "train", *TINY_ARGS, "--epochs", "1", "--out", path], capsys)
    assert code == 0, err
    assert path.read_bytes() == trained.read_bytes()
    # other settings into the same file: refused, file untouched
    code, _, err = run_cli(["supernet", "train", *TINY_ARGS, "--epochs", "2", "--out", path], capsys)
    assert_one_line_error(code, err, "other settings")
    code, _, err = run_cli(["supernet", "train", *TINY_ARGS, "--epochs", "1", "--seed", "3", "--out", path], capsys)
    assert_one_line_error(code, err, "other settings")
    assert path.read_bytes() == trained.read_bytes()


def interrupt_after_first_epoch(monkeypatch):
    real = spos.save_checkpoint

    def save_then_die(path, document):
        real(path, document)
        raise KeyboardInterrupt

    monkeypatch.setattr(spos, "save_checkpoint", save_then_die)


def resume_matches_uninterrupted(tmp_path, capsys, monkeypatch, batch_size):
    args = ["supernet", "train", *TINY_ARGS, "--epochs", "2", "--batch-size", str(batch_size)]
    full, cut = tmp_path / "full.pt", tmp_path / "cut.pt"
    code, _, err = run_cli([*args, "--out", full], capsys)
    assert code == 0, err
    with monkeypatch.context() as patch:
        interrupt_after_first_epoch(patch)
        code, _, err = run_cli([*args, "--out", cut], capsys)
    assert code == 130 and "interrupted" in err
    half = load_checkpoint(cut)
    assert half["epochs_done"] == 1 and half["optimizer"] is not None and half["generator"] is not None
    with pytest.raises(UsageError, match="stopped after 1 of 2"):
        load_supernet(cut)
    code, _, err = run_cli(["supernet", "estimate", cut, "--into", tmp_path / "missing.h5"], capsys)
    assert_one_line_error(code, err, "rerun")
    code, _, err = run_cli([*args, "--out", cut], capsys)  # resume
    assert code == 0, err
    a, b = load_checkpoint(full), load_checkpoint(cut)
    assert b["epochs_done"] == 2 and b["optimizer"] is None
    assert a["train_loss"] == b["train_loss"]
    assert same_state(a["state_dict"], b["state_dict"])


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, capsys, monkeypatch):
    resume_matches_uninterrupted(tmp_path, capsys, monkeypatch, batch_size=128)


def test_resume_is_exact_when_the_last_batch_is_dropped(tmp_path, capsys, monkeypatch):
    resume_matches_uninterrupted(tmp_path, capsys, monkeypatch, batch_size=269)


def test_a_checkpoint_survives_a_round_trip(trained, tmp_path):
    document = load_checkpoint(trained)
    assert document["format"] == "surrogate-supernet" and document["method"] == "spos"
    assert document["config"] == {**SupernetConfig(**TINY).__dict__}
    assert document["num_classes"] == 10 and document["input_shape"] == [1, 8, 8]
    copy = tmp_path / "copy.pt"
    save_checkpoint(copy, document)
    assert same_state(load_checkpoint(copy)["state_dict"], document["state_dict"])
    assert [p.name for p in tmp_path.iterdir()] == ["copy.pt"]  # no temp file left behind


# --- 6. user errors on the command line --------------------------------------------------------------
@pytest.mark.parametrize("argv,needle", [
    (["--dataset", "nope"], "unknown dataset"),
    (["--epochs", "0"], "epochs must be at least 1"),
    (["--channels", "0"], "channels must be at least 1"),
    (["--lr", "0"], "lr must be > 0"),
    (["--space", "nope"], "unknown space"),
    (["--space", "categorical:3x20"], "at most"),
    (["--epochs", "many"], "invalid int"),
])
def test_train_user_errors_are_one_line(tmp_path, capsys, argv, needle):
    base = {"--space": "nb201", "--dataset": "digits", "--epochs": "1", "--channels": "2", "--cells": "1"}
    base.update(dict(zip(argv[::2], argv[1::2])))
    out = tmp_path / "sn.pt"
    code, _, err = run_cli(["supernet", "train", *[x for kv in base.items() for x in kv], "--no-progress",
                            "--out", out], capsys)
    assert_one_line_error(code, err, needle)
    assert not out.exists()


def test_estimate_user_errors_are_one_line(trained, tmp_path, capsys):
    h5 = tmp_path / "t.h5"
    nb201_table(h5, n=3)
    cases = [(["supernet", "estimate", tmp_path / "missing.pt", "--into", h5], "no supernet checkpoint")]
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    cases.append((["supernet", "estimate", garbage, "--into", h5], "not a readable supernet checkpoint"))
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    cases.append((["supernet", "estimate", foreign, "--into", h5], "not a surrogate supernet checkpoint"))
    cases.append((["supernet", "estimate", trained, "--into", tmp_path / "missing.h5"], "no such file"))
    space = get_space("categorical:4x3")
    archs = space.sample(5, 0)
    chain = tmp_path / "chain.h5"
    Table(space.spec, archs, space.format_many(archs), {"valid_acc": np.arange(5.0)}, attrs={"dataset": "digits"}
          ).write(chain)
    cases.append((["supernet", "estimate", trained, "--into", chain], "holds space categorical:4x3"))
    cases.append((["supernet", "estimate", trained, "--into", h5, "--calib-batches", "0"], "calibration batch"))
    cases.append((["supernet", "estimate", trained], "--into"))
    stamp = h5.read_bytes()
    for argv, needle in cases:
        code, _, err = run_cli([*argv, "--no-progress"], capsys)
        assert_one_line_error(code, err, needle)
    assert h5.read_bytes() == stamp
    assert Table.read(chain).metrics.keys() == {"valid_acc"}


# --- 7. the supernet column in the predictor benchmark -------------------------------------------------
def bench_table(with_column=True):
    space = get_space("nb201")
    archs = np.unique(space.sample(300, 0), axis=0)
    rng = np.random.default_rng(0)
    valid = 50 + 5 * (archs == 3).sum(1) + 2 * (archs == 2).sum(1) - 4 * (archs == 0).sum(1) + rng.normal(0, 1, len(archs))
    metrics = {"valid_acc": valid}
    if with_column:
        metrics["supernet_acc"] = valid + rng.normal(0, 0.1, len(archs))
    return Table("nb201", archs, space.format_many(archs), metrics, attrs={"dataset": "digits"})


def test_supernet_model_reads_the_column():
    table = bench_table()
    bench = PredictorBenchmark(metric="valid_acc", models=["rf", "supernet"], encodings=["onehot"], train_sizes=[10],
                               test_size=20, seeds=1)
    rows = bench.run(table, progress=False)
    assert len(rows) == 2
    rf, zero_shot = rows[rows.model == "rf"].iloc[0], rows[rows.model == "supernet"].iloc[0]
    assert zero_shot.encoding == "supernet_acc"
    assert zero_shot.kendall_tau > 0.8 and math.isnan(zero_shot.nll)
    assert math.isfinite(rf.kendall_tau)
    # zero-shot: the same row at every training size
    wide = PredictorBenchmark(metric="valid_acc", models=["supernet"], encodings=["onehot"], train_sizes=[10, 40],
                              test_size=20, seeds=1).run(table, progress=False)
    assert wide.kendall_tau.nunique() == 1 and wide.rmse.nunique() == 1


def test_supernet_model_without_the_column_is_a_usage_error():
    bench = PredictorBenchmark(metric="valid_acc", models=["rf", "supernet"], encodings=["onehot"], train_sizes=[10],
                               test_size=20, seeds=1)
    with pytest.raises(UsageError, match="supernet_acc"):
        bench.run(bench_table(with_column=False), progress=False)
    bench.supernet_column = "spos_acc"
    with pytest.raises(UsageError, match="spos_acc"):
        bench.run(bench_table(), progress=False)


def test_supernet_column_as_a_feature():
    rows = PredictorBenchmark(metric="valid_acc", models=["rf"], encodings=["onehot"], train_sizes=[10], test_size=20,
                              seeds=1, features=["supernet_acc"]).run(bench_table(), progress=False)
    assert len(rows) == 1 and rows.features.iloc[0] == "supernet_acc" and math.isfinite(rows.kendall_tau.iloc[0])


def test_bench_cli_with_the_supernet_model(tmp_path, capsys):
    path = tmp_path / "b.h5"
    bench_table().write(path)
    argv = ["bench", "predictors", path, "--metric", "valid_acc", "--encodings", "onehot", "--train-sizes", "10",
            "--test-size", "20", "--seeds", "1", "--out", tmp_path / "out", "--json", "--no-progress"]
    code, out, err = run_cli([*argv, "--models", "rf,supernet"], capsys)
    assert code == 0, err
    assert '"supernet"' in out
    bench_table(with_column=False).write(path)
    code, _, err = run_cli([*argv, "--models", "supernet"], capsys)
    assert_one_line_error(code, err, "supernet_acc")


def test_train_like_a_generated_table_takes_its_protocol(tmp_path, capsys):
    table = tmp_path / "gen.h5"
    assert main(["generate", "--space", "nb201", "--dataset", "digits", "--archs", "2", "--epochs", "1",
                 "--channels", "2", "--cells", "1", "--batch-size", "64", "--subset", "500", "--resolution", "4",
                 "--no-progress", "--out", str(table)]) == 0
    capsys.readouterr()
    ckpt = tmp_path / "like.pt"
    code, out, err = run_cli(["supernet", "train", "--like", table, "--epochs", "1", "--cells", "2",
                              "--no-progress", "--out", ckpt], capsys)
    assert code == 0, err
    config = load_checkpoint(ckpt)["config"]
    assert (config["space"], config["dataset"], config["channels"], config["batch_size"]) == ("nb201", "digits", 2, 64)
    assert (config["subset"], config["resolution"], config["cells"]) == (500, 4, 2)  # an explicit flag overrides
    assert load_checkpoint(ckpt)["split"]["train_subset"] == 500
    code, _, err = run_cli(["supernet", "train", "--like", "nb201", "--epochs", "1", "--out", tmp_path / "x.pt"], capsys)
    assert_one_line_error(code, err, "records no training protocol")
    code, _, err = run_cli(["supernet", "train", "--epochs", "1", "--out", tmp_path / "y.pt"], capsys)
    assert_one_line_error(code, err, "needs --space")


def test_estimate_never_overwrites_records_and_replaces_its_own_only_when_asked(trained, tmp_path, capsys):
    h5 = tmp_path / "t.h5"
    nb201_table(h5, n=4)
    before = h5.read_bytes()
    base = ["supernet", "estimate", trained, "--into", h5, "--calib-batches", "1", "--no-progress"]
    for column, message in (("valid_acc", "holds records this command did not write"),
                            ("", "use a plain name"), ("a/b", "use a plain name")):
        code, _, err = run_cli([*base, "--column", column], capsys)
        assert_one_line_error(code, err, message)
        assert h5.read_bytes() == before
    code, _, err = run_cli(base, capsys)
    assert code == 0, err
    written = h5.read_bytes()
    code, _, err = run_cli(base, capsys)
    assert_one_line_error(code, err, "pass --overwrite")
    assert h5.read_bytes() == written
    code, _, err = run_cli([*base, "--overwrite"], capsys)
    assert code == 0, err
    assert np.array_equal(Table.read(h5).metrics["valid_acc"], nb201_table(tmp_path / "fresh.h5", n=4).metrics["valid_acc"])
