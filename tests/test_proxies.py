import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from surrogate import proxies as zc
from surrogate.cli import main
from surrogate.proxies import PROXIES, ProxyConfig, make_batch, score, score_arch
from surrogate.spaces import get_space
from surrogate.tabular import Table

TINY = dict(channels=4, cells=1, batch_size=8)


@pytest.fixture(autouse=True)
def _threads(one_torch_thread):
    yield


def _table(path, n=40, seed=0, space="nb201"):
    sp = get_space(space)
    archs = sp.sample(n, seed)
    _, keep = np.unique(sp.index(archs), return_index=True)
    archs = archs[np.sort(keep)]
    y = np.random.default_rng(seed).normal(size=len(archs))
    Table(sp.spec, archs, sp.format_many(archs), {"acc": y}, {"dataset": "toy"}).write(path)
    return path


# --- the formulas, on networks small enough to compute by hand ---------------------------------------
def test_synflow_of_a_linear_layer_is_the_sum_of_absolute_weights():
    net = nn.Sequential(nn.Linear(3, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.5, -2.0, 1.0]]))
    assert zc.synflow(net, (3,)) == pytest.approx(3.5)
    assert net[0].weight[0, 1] == -2.0  # the caller's network is untouched


def test_nwot_kernel_counts_agreeing_codes():
    x = torch.tensor([[1.0, -1.0, 2.0], [1.0, 1.0, -1.0], [-1.0, -1.0, -1.0]])
    net = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))
    codes = (x > 0).double()
    k = codes @ codes.T + (1 - codes) @ (1 - codes).T  # units minus Hamming distance
    assert score(net, x, torch.tensor([0, 1, 0]), ["nwot"])["nwot"] == pytest.approx(np.linalg.slogdet(k.numpy())[1])


def test_jacov_of_a_linear_network_and_of_a_constant_one():
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    linear = nn.Sequential(nn.Linear(3, 2))  # the same Jacobian for every input: correlations all 1
    v = np.array([4.0, 0, 0, 0])
    expected = -np.sum(np.log(v + 1e-5) + 1 / (v + 1e-5))
    assert score(linear, x, torch.zeros(4, dtype=torch.long), ["jacov"])["jacov"] == pytest.approx(expected, rel=1e-6)


def test_snip_grad_norm_fisher_against_autograd():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 16, 4))
    x, y = torch.randn(5, 2, 4, 4), torch.tensor([0, 1, 2, 3, 0])
    got = score(net, x, y, ["snip", "grad_norm", "fisher"])
    net.zero_grad()
    conv_out = net[0](x)
    conv_out.retain_grad()
    out = net[3](net[2](net[1](conv_out)))
    out.retain_grad()
    nn.functional.cross_entropy(out, y).backward()
    layers = [net[0], net[3]]
    assert got["snip"] == pytest.approx(float(sum((m.weight.detach() * m.weight.grad).abs().sum() for m in layers)), rel=1e-5)
    assert got["grad_norm"] == pytest.approx(float(sum(m.weight.grad.norm() for m in layers)), rel=1e-5)
    g_conv = (conv_out.detach() * conv_out.grad).sum(dim=(2, 3))
    fisher = 0.5 * g_conv.pow(2).mean(0).sum() + 0.5 * (out.detach() * out.grad).pow(2).mean(0).sum()
    assert got["fisher"] == pytest.approx(float(fisher), rel=1e-5)


def test_proxies_deterministic_under_a_seed():
    space = get_space("nb201")
    arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|")
    config = ProxyConfig(space="nb201", **TINY)
    a = score_arch(config, arch, *make_batch(config))
    b = score_arch(config, arch, *make_batch(config))
    assert a == b and set(a) == set(PROXIES) and all(np.isfinite(list(a.values())))
    other = ProxyConfig(space="nb201", seed=1, **TINY)
    c = score_arch(other, arch, *make_batch(other))
    assert c["snip"] != a["snip"]
    assert c["synflow"] != a["synflow"]


def test_nwot_sees_the_whole_batch_and_gradient_proxies_its_head():
    space = get_space("nb201")
    arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|")
    config = ProxyConfig(space="nb201", channels=4, cells=1, batch_size=12, grad_batch=4)
    x, y = make_batch(config)
    split = score_arch(config, arch, x, y)
    whole = score_arch(ProxyConfig(space="nb201", channels=4, cells=1, batch_size=12, grad_batch=12), arch, x, y)
    head = score_arch(ProxyConfig(space="nb201", channels=4, cells=1, batch_size=4, grad_batch=4), arch, x[:4], y[:4])
    assert split["nwot"] == whole["nwot"] and split["synflow"] == whole["synflow"]
    for p in ("jacov", "snip", "grad_norm", "fisher"):
        assert split[p] == pytest.approx(head[p], rel=1e-6)
    assert split["snip"] != whole["snip"]


def test_dead_cell_gets_finite_worst_scores():
    space = get_space("nb201")
    config = ProxyConfig(space="nb201", **TINY)
    x, y = make_batch(config)
    dead = score_arch(config, space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), x, y)
    live = score_arch(config, space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|"), x, y)
    assert all(np.isfinite(list(dead.values())))
    assert dead["jacov"] < live["jacov"] and dead["synflow"] == 0 < live["synflow"]


# --- the command ---------------------------------------------------------------------------------------
def test_proxies_command_fills_columns_once_per_class(tmp_path, capsys):
    path = _table(tmp_path / "t.h5")
    assert main(["proxies", str(path), "--channels", "4", "--cells", "1", "--batch-size", "8", "--no-progress"]) == 0
    table = Table.read(path)
    space = get_space("nb201")
    ids = space.canonical_ids(table.archs)
    for p in PROXIES:
        column = table.metric(f"zc_{p}")
        assert np.isfinite(column).all()
        for c in np.unique(ids):  # one value per isomorphism class
            assert len(np.unique(column[ids == c])) == 1
    facts = table.attrs["proxies"]["zc_nwot"]
    assert facts["config"]["batch_size"] == 8 and facts["config"]["channels"] == 4
    assert facts["computed"] == len(np.unique(ids))
    # the same values as scoring a representative directly
    config = ProxyConfig(**facts["config"])
    row = 0
    direct = score_arch(config, space.canonicalize(table.archs[row]), *make_batch(config))
    assert table.metric("zc_snip")[row] == pytest.approx(direct["snip"], rel=1e-6)
    # an existing column only with --overwrite; a rerun reads the journal
    assert main(["proxies", str(path), "--channels", "4", "--cells", "1", "--batch-size", "8"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["proxies", str(path), "--channels", "4", "--cells", "1", "--batch-size", "8", "--overwrite",
                 "--proxies", "snip", "--no-progress"]) == 0
    assert Table.read(path).attrs["proxies"]["zc_snip"]["from_journal"] == len(np.unique(ids))


@pytest.mark.parametrize("argv, message", [
    (["--proxies", "synflow,zen"], "unknown proxy 'zen'"),
    (["--dataset", "imagenet"], "unknown proxy dataset 'imagenet'"),
    (["--batch-size", "1"], "--batch-size and --grad-batch must be >= 2"),
    (["--batch-size", "8", "--grad-batch", "16"], "--grad-batch 16 exceeds --batch-size 8"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    path = _table(tmp_path / "t.h5", n=5)
    assert main(["proxies", str(path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_space_without_network_is_refused(tmp_path, capsys):
    path = _table(tmp_path / "t.h5", n=5, space="categorical:3,12,2")
    assert main(["proxies", str(path)]) == 2
    err = capsys.readouterr().err
    assert "has no network definition" in err and err.count("\n") == 1


def test_interrupted_run_resumes_from_the_journal(tmp_path, monkeypatch):
    path = _table(tmp_path / "t.h5", n=30)
    config = zc.config_for_table(Table.read(path), **TINY)
    real, calls = zc._worker_score, {"n": 0}

    def dies_after_five(job):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(zc, "_worker_score", dies_after_five)
    with pytest.raises(KeyboardInterrupt):
        zc.fill_table(path, list(PROXIES), config, progress=False)
    assert "zc_snip" not in Table.read(path).metrics  # nothing half-written
    assert len(zc.ProxyJournal(path, config).read()) == 5
    monkeypatch.setattr(zc, "_worker_score", real)
    facts = zc.fill_table(path, list(PROXIES), config, progress=False)
    assert facts["from_journal"] == 5 and facts["computed"] == facts["classes"] - 5
    resumed = Table.read(path)
    fresh = _table(tmp_path / "fresh.h5", n=30)
    zc.fill_table(fresh, list(PROXIES), config, progress=False)
    for p in PROXIES:
        np.testing.assert_array_equal(resumed.metric(f"zc_{p}"), Table.read(fresh).metric(f"zc_{p}"))


def test_a_torn_journal_line_is_recomputed(tmp_path):
    path = _table(tmp_path / "t.h5", n=10)
    config = zc.config_for_table(Table.read(path), **TINY)
    journal = zc.ProxyJournal(path, config)
    with journal.open() as handle:
        journal.append(handle, 7, {"snip": 1.0})
        handle.write('{"class": 8, "val')
    assert journal.read() == {7: {"snip": 1.0}}
    with journal.open() as handle:
        journal.append(handle, 9, {"snip": 2.0})
    assert journal.read() == {7: {"snip": 1.0}, 9: {"snip": 2.0}}


def test_a_partial_cache_fills_what_it_has_and_computes_the_rest(tmp_path, monkeypatch):
    path = _table(tmp_path / "t.h5", n=30)
    table = Table.read(path)
    config = zc.config_for_table(table, **TINY)
    space = get_space("nb201")
    classes = np.unique(space.canonical_ids(table.archs))
    x, y = make_batch(config)
    known = {int(c): score_arch(config, space.unindex(np.array([c]))[0], x, y) for c in classes[:10]}
    known[int(classes[0])]["snip"] = 123.0  # a marker: this value can only come from the cache
    monkeypatch.setattr(zc, "CACHE_FILES", ("cache.npz",))
    monkeypatch.setattr(zc, "cache_path", lambda name: tmp_path / name)
    zc.write_cache(tmp_path / "cache.npz", config, known, seconds=1.0)
    facts = zc.fill_table(path, list(PROXIES), config, progress=False)
    assert facts["from_cache"] == 10 and facts["computed"] == len(classes) - 10
    out = Table.read(path)
    assert np.isfinite(out.metric("zc_snip")).all()
    assert (out.metric("zc_snip")[space.canonical_ids(out.archs) == classes[0]] == 123.0).all()
    # another configuration never reads that cache
    other = zc.config_for_table(table, channels=4, cells=1, batch_size=16)
    assert zc.read_cache(other, list(PROXIES)) == {}


def test_shipped_nb201_cache_serves_an_imported_table(tmp_path, nb201_csv):
    import pandas as pd

    config = zc.config_for_table(Table("nb201", np.zeros((0, 6), np.int64), []))
    cached = zc.read_cache(config, list(PROXIES))
    assert len(cached) == 6466  # every NB201 class, so any imported NB201 table is served whole
    frame = pd.read_csv(nb201_csv)
    space = get_space("nb201")
    frame.sample(50, random_state=0).to_csv(tmp_path / "c50.csv", index=False)
    out = tmp_path / "c50.h5"
    assert main(["import", str(tmp_path / "c50.csv"), "--space", "nb201", "--out", str(out)]) == 0
    imported = Table.read(out)  # import already took every proxy from the cache (features.with_free_proxies)
    assert imported.attrs["proxies"]["zc_synflow"]["from_cache"] == imported.attrs["proxies"]["zc_synflow"]["classes"]
    assert main(["proxies", str(out), "--overwrite", "--no-progress"]) == 0  # and `proxies` serves the same
    table = Table.read(out)
    facts = table.attrs["proxies"]["zc_synflow"]
    assert facts["computed"] == 0 and facts["from_cache"] == facts["classes"]
    table_ids = space.canonical_ids(table.archs)
    assert np.allclose(table.metric("zc_nwot"), [cached[int(c)]["nwot"] for c in table_ids])
    assert np.array_equal(table.metric("zc_nwot"), imported.metric("zc_nwot"))


@pytest.mark.slow
def test_kill_and_rerun_from_the_command_line(tmp_path):
    path = _table(tmp_path / "t.h5", n=120)
    argv = [sys.executable, "-m", "surrogate.cli", "proxies", str(path), "--channels", "4", "--cells", "1",
            "--batch-size", "8", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = path.with_name(path.name + ".proxies")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lines = sum(len(f.read_text().splitlines()) for f in journal.glob("*.jsonl")) if journal.exists() else 0
        if lines >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "zc_snip" not in Table.read(path).metrics
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    facts = Table.read(path).attrs["proxies"]["zc_snip"]
    assert facts["from_journal"] >= 5 and facts["from_journal"] + facts["computed"] == facts["classes"]
    assert json.loads((journal / next(journal.glob("*.json")).name).read_text())["batch_size"] == 8


def test_features_zc_means_every_proxy_column(tmp_path, capsys):
    from surrogate.features import expand_features, feature_matrix

    path = _table(tmp_path / "t.h5", n=60)
    bare = Table.read(path)
    bare.attrs["training_config"] = {"channels": 4, "cells": 1}  # a network no shipped cache holds
    bare.write(path)
    assert main(["bench", "predictors", str(path), "--metric", "acc", "--features", "zc", "--models", "rf",
                 "--encodings", "graf", "--train-sizes", "10", "--test-size", "10", "--seeds", "1",
                 "--out", str(tmp_path / "b0")]) == 2
    err = capsys.readouterr().err
    assert "no zc_ columns" in err and err.count("\n") == 1
    zc.fill_table(path, ["synflow", "nwot"], zc.config_for_table(bare, **TINY), progress=False)
    table = Table.read(path)
    assert expand_features(table, ["params", "zc"]) == ["params", "zc_synflow", "zc_nwot"]
    x = feature_matrix(table, ["zc"])
    assert x.shape == (table.n, 2) and np.isfinite(x).all() and abs(x.mean()) < 0.2  # normal scores of ranks
    assert main(["bench", "predictors", str(path), "--metric", "acc", "--features", "zc", "--models", "rf,gbt",
                 "--encodings", "graf", "--train-sizes", "10", "--test-size", "10", "--seeds", "1",
                 "--out", str(tmp_path / "b1"), "--json"]) == 0
    run = json.loads((tmp_path / "b1" / "run.json").read_text())
    assert run["features"] == ["zc_synflow", "zc_nwot"]


def test_the_cache_is_package_data():
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"tables/*.npz"' in pyproject and zc.CACHE_FILES == ("nb201_proxies.npz",)


# --- concurrent runs on one table, unwritable files, workers killed with their parent (issue 26) -----
def _proxies_argv(path, *extra):
    return [sys.executable, "-m", "surrogate.cli", "proxies", str(path), "--channels", "4", "--cells", "1",
            "--batch-size", "8", "--no-progress", *extra]


def _together(*argvs):
    """Start every command at once (real processes), wait for all: [(exit status, stdout, stderr)]."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for argv in argvs]
    return [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]


def _computed(stdout):
    import re

    return int(re.search(r", (\d+) computed in", stdout).group(1))


def test_concurrent_runs_share_the_work_and_keep_every_column(tmp_path):
    """Three real processes on one table: two identical synflow runs split the classes between
    them (each class scored once), a run of other proxies keeps its columns beside theirs."""
    path = _table(tmp_path / "t.h5", n=80)
    classes = len(np.unique(get_space("nb201").canonical_ids(Table.read(path).archs)))
    results = _together(_proxies_argv(path, "--proxies", "synflow"), _proxies_argv(path, "--proxies", "synflow"),
                        _proxies_argv(path, "--proxies", "nwot,snip"))
    for code, out, err in results:
        assert code == 0, err  # no KeyError, no lost column; the second synflow writer finds its very column
    assert _computed(results[0][1]) + _computed(results[1][1]) == classes  # shared, not done twice
    assert _computed(results[2][1]) == classes
    table = Table.read(path)
    assert {"zc_synflow", "zc_nwot", "zc_snip", "acc"} <= set(table.metrics)
    config = zc.config_for_table(table, **TINY)
    journaled = zc.ProxyJournal(path, config).read()  # merged by (class, proxy)
    ids = get_space("nb201").canonical_ids(table.archs)
    assert all({"synflow", "nwot", "snip"} <= set(journaled[int(c)]) for c in np.unique(ids))
    row = 3
    direct = score_arch(config, get_space("nb201").canonicalize(table.archs[row]), *make_batch(config))
    for p in ("synflow", "nwot", "snip"):
        assert table.metric(f"zc_{p}")[row] == pytest.approx(direct[p], rel=1e-6)


def test_a_journal_line_per_run_merges_by_class_and_proxy(tmp_path):
    path = _table(tmp_path / "t.h5", n=5)
    journal = zc.ProxyJournal(path, zc.config_for_table(Table.read(path), **TINY))
    with journal.open() as handle:
        journal.append(handle, 7, {"synflow": 1.0})
        journal.append(handle, 7, {"nwot": 2.0})  # another run's proxy of the same class
    assert journal.read() == {7: {"synflow": 1.0, "nwot": 2.0}}


def test_an_unwritable_file_or_folder_is_refused_before_any_work(tmp_path, capsys, read_only):
    folder = tmp_path / "locked"
    folder.mkdir()
    path = _table(folder / "t.h5", n=5)
    read_only(folder)
    assert main(["proxies", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the folder" in err and "is not writable" in err
    assert not (folder / "t.h5.proxies").exists()
    immutable = read_only(_table(tmp_path / "t.h5", n=5))
    assert main(["proxies", str(immutable), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the file is not writable" in err
    assert not (tmp_path / "t.h5.proxies").exists()  # refused before the journal, before any compute


@pytest.mark.slow
def test_kill_9_with_workers_leaves_no_process_behind(tmp_path, process_tree):
    path = _table(tmp_path / "t.h5", n=400)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(_proxies_argv(path, "--workers", "2"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    journal = path.with_name(path.name + ".proxies")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # both workers scoring
        if journal.exists() and sum(len(f.read_text().splitlines()) for f in journal.glob("*.jsonl")) >= 10:
            break
        time.sleep(0.05)
    process_tree.kill_and_check_all_die(proc, seconds=15)
