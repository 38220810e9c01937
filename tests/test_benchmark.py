import json

import numpy as np
import pytest

from surrogate.benchmark import JSON_FIELDS, PredictorBenchmark, json_document, summarize
from surrogate.cli import main
from surrogate.errors import UsageError
from surrogate.spaces import get_space
from surrogate.tabular import Table


def toy_table(tmp_path):
    """nb201 cells with an accuracy that depends on the ops (plus noise): a learnable signal."""
    space = get_space("nb201")
    archs = np.unique(space.sample(400, 0), axis=0)
    rng = np.random.default_rng(0)
    acc = 50 + 5 * (archs == 3).sum(1) + 2 * (archs == 2).sum(1) - 4 * (archs == 0).sum(1) + rng.normal(0, 1, len(archs))
    table = Table("nb201", archs, space.format_many(archs), {"acc": acc, "empty": np.full(len(archs), np.nan)})
    path = tmp_path / "toy.h5"
    table.write(path)
    return table, path


def test_small_sweep_end_to_end(tmp_path, capsys):
    _, path = toy_table(tmp_path)
    out = tmp_path / "bench"
    code = main(["bench", "predictors", str(path), "--metric", "acc", "--models", "rf,mlp", "--encodings",
                 "onehot,path", "--train-sizes", "20,40", "--test-size", "60", "--seeds", "2", "--features",
                 "params", "--out", str(out), "--json", "--no-progress"])
    stdout = capsys.readouterr().out
    assert code == 0
    doc = json.loads(stdout)
    assert doc["metric"] == "acc" and len(doc["results"]) == 2 * 2 * 2
    for row in doc["results"]:
        assert set(row) == set(JSON_FIELDS)
        assert row["kendall_tau"] > 0.3
    for name in ("results.csv", "summary.md", "kendall_tau.png", "run.json"):
        assert (out / name).is_file()
    run = json.loads((out / "run.json").read_text())
    assert run["input_checksum"].startswith("sha256:") and run["seeds"] == [0, 1] and "surrogate bench" in run["command"]


def test_same_splits_for_every_model(tmp_path):
    table, _ = toy_table(tmp_path)
    bench = PredictorBenchmark(metric="acc", models=["rf"], encodings=["onehot"], train_sizes=[20], test_size=50, seeds=2)
    a, b = bench.run(table, progress=False), bench.run(table, progress=False)
    timing = ["fit_seconds", "predict_seconds"]
    assert a.drop(columns=timing).equals(b.drop(columns=timing))  # deterministic under the seeds
    doc = json_document("acc", summarize(a))
    assert doc["results"][0]["train_size"] == 20


def test_corrupted_training_labels_and_model_variants(tmp_path):
    from surrogate.benchmark import corrupt_labels

    y = np.linspace(60, 90, 50)
    diverged = corrupt_labels(y, "diverged:3:10", seed=1, n=50)
    assert (diverged == 10).sum() == 3 and np.array_equal(diverged[diverged != 10], y[diverged != 10])
    np.testing.assert_array_equal(diverged, corrupt_labels(y, "diverged:3:10", seed=1, n=50))
    noisy = corrupt_labels(y, "t:1:1", seed=1, n=50)
    assert not np.array_equal(noisy, y) and corrupt_labels(y, None, 0, 50) is y
    table, _ = toy_table(tmp_path)
    bench = PredictorBenchmark(metric="acc", models=["rf", "rf-raw"], encodings=["onehot"], train_sizes=[40],
                               test_size=50, seeds=1, variants={"rf-raw": ("rf", {"targets": "raw"})},
                               corruption="diverged:2:0")
    rows = bench.run(table, progress=False)
    assert list(rows.model) == ["rf", "rf-raw"] and rows.coverage90.between(0, 1).all()
    assert rows.kendall_tau.iloc[0] != rows.kendall_tau.iloc[1]


@pytest.mark.parametrize("kwargs,needle", [
    ({"models": ["xgb"]}, "unknown model"),
    ({"encodings": ["graph"]}, "unknown encoding"),
    ({"metric": "nope"}, "unknown metric"),
    ({"metric": "empty"}, "NaN for every"),
    ({"train_sizes": [300], "test_size": 200}, "exceeds"),
    ({"corruption": "flip:3"}, "unknown corruption"),
])
def test_bad_sweeps_fail_fast(tmp_path, kwargs, needle):
    table, _ = toy_table(tmp_path)
    settings = {"metric": "acc", "models": ["rf"], "encodings": ["onehot"], "train_sizes": [20], "test_size": 50,
                "seeds": 1, **kwargs}
    with pytest.raises(UsageError, match=needle):
        PredictorBenchmark(**settings).run(table, progress=False)


def test_cli_bad_metric_is_one_line(tmp_path, capsys):
    _, path = toy_table(tmp_path)
    code = main(["bench", "predictors", str(path), "--metric", "nope", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_default_encodings_are_those_the_space_has(tmp_path, capsys):
    space = get_space("categorical:6x3")
    archs = space.enumerate()
    acc = 50 + (archs * np.arange(1, 7)).sum(1) + np.random.default_rng(0).normal(0, 1, len(archs))
    path = tmp_path / "chain.h5"
    Table(space.spec, archs, space.format_many(archs), {"acc": acc}).write(path)
    code = main(["bench", "predictors", str(path), "--metric", "acc", "--models", "rf", "--train-sizes", "20",
                 "--test-size", "50", "--seeds", "1", "--features", "params,flops", "--out", str(tmp_path / "b"),
                 "--json", "--no-progress"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["encoding"] for r in doc["results"]] == ["onehot", "graf"]  # a chain has no DAG: no adjacency/path


def test_plain_choices_add_the_categorical_gp_on_indices_to_the_default_sweep(tmp_path, capsys, monkeypatch):
    from surrogate import benchmark

    assert benchmark.default_pairs("categorical:6x3") == [("cgp", "index")]
    assert benchmark.default_pairs("categorical:6x3", ["params"]) == []  # cgp reads no feature columns
    assert benchmark.default_pairs("nb201") == []
    space = get_space("categorical:6x3")
    archs = space.enumerate()
    acc = 50 + (archs * np.arange(1, 7)).sum(1) + np.random.default_rng(0).normal(0, 1, len(archs))
    path = tmp_path / "chain.h5"
    Table(space.spec, archs, space.format_many(archs), {"acc": acc}).write(path)
    seen = []
    monkeypatch.setattr(benchmark, "run_and_report", lambda bench, *a, **k: seen.append(bench) or [])
    monkeypatch.setattr(benchmark, "json_document", lambda *a: {})
    for extra in ([], ["--models", "rf"], ["--encodings", "onehot"]):
        main(["bench", "predictors", str(path), "--metric", "acc", "--json", "--out", str(tmp_path / "b"), *extra])
    assert [b.pairs for b in seen] == [[("cgp", "index")], [], []]
    assert seen[0].models == ["gp", "rf", "svr", "mlp", "gbt", "ensemble"]
    bench = PredictorBenchmark(metric="acc", models=["rf", "cgp"], encodings=["onehot"], train_sizes=[30],
                               test_size=100, seeds=1, pairs=[("cgp", "index"), ("rf", "onehot")])
    rows = bench.run(Table.read(path), progress=False)
    assert list(zip(rows.model, rows.encoding)) == [("rf", "onehot"), ("cgp", "onehot"), ("cgp", "index")]
    assert (rows.kendall_tau > 0.5).all()


def test_kendall_tau_figure_with_one_training_size_is_a_dot_per_model_and_encoding(tmp_path, monkeypatch):
    import pandas as pd

    from surrogate import benchmark

    figures = []
    monkeypatch.setattr(benchmark, "save_figure", lambda fig, path: figures.append(fig))
    rows = [{"model": m, "encoding": e, "train_size": n, "kendall_tau": 0.5, "kendall_tau_std": 0.05}
            for m in ("gp", "rf") for e in ("onehot", "path") for n in (100,)]
    benchmark.plot_kendall_tau(pd.DataFrame(rows), tmp_path / "k.png", "toy")
    ax = figures[-1].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["gp / onehot", "gp / path", "rf / onehot", "rf / path"]
    assert "100 training architectures" in ax.get_xlabel()
    points = sorted(tuple(np.round(line.get_xydata()[0], 6)) for line in ax.lines if len(line.get_xydata()) == 1)
    assert len({y for _, y in points}) == 4  # one row each: nothing overlaps
    rows += [dict(r, train_size=200) for r in rows]  # several sizes: tau against the size, as before
    benchmark.plot_kendall_tau(pd.DataFrame(rows), tmp_path / "k.png", "toy")
    ax = figures[-1].axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "training architectures"


def test_a_model_that_cannot_read_an_encoding_says_so_before_any_fit(tmp_path, capsys, monkeypatch):
    _, path = toy_table(tmp_path)
    fits = []
    monkeypatch.setattr("surrogate.models.rf.RandomForest._fit", lambda self, X, z: fits.append(1))
    assert main(["bench", "predictors", str(path), "--metric", "acc", "--models", "rf,cgp", "--encodings",
                 "onehot,graf", "--features", "none", "--train-sizes", "20", "--test-size", "60", "--seeds", "1",
                 "--out", str(tmp_path / "b"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "model 'cgp' reads choice codes" in err and "encoding 'graf'" in err and err.count("\n") == 1
    assert fits == [] and not (tmp_path / "b").exists()
