import subprocess
import sys

import h5py
import json

import numpy as np
import pytest

from surrogate.catalog import resolve
from surrogate.cli import main
from surrogate.spaces import get_space
from surrogate.tabular import Table


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_categorical_csv(path, n=40, seed=0, extra=""):
    space = get_space("categorical:8x3")
    archs = np.unique(space.sample(n, seed), axis=0)
    rng = np.random.default_rng(seed)
    lines = ["index,arch,valid_acc,test_acc,note"]
    for i, a in enumerate(archs):
        lines.append(f"{i},{space.format(a)},{rng.uniform(50, 90):.3f},{rng.uniform(50, 90):.3f},x")
    path.write_text("\n".join(lines) + "\n" + extra)
    return len(archs)


def test_import_and_info_categorical(tmp_path, capsys):
    csv, out = tmp_path / "cat.csv", tmp_path / "cat.h5"
    n = write_categorical_csv(csv)
    code, stdout, _ = run(capsys, "import", str(csv), "--space", "categorical:8x3", "--out", str(out))
    assert code == 0 and out.is_file()
    table = Table.read(out)
    assert table.n == n and sorted(table.metrics) == ["test_acc", "valid_acc"]  # index is an id, note not numeric
    assert table.space == "categorical:8x3"
    assert "surrogate import" in table.attrs["provenance"]["command"]
    code, stdout, _ = run(capsys, "info", str(out))
    assert code == 0
    assert f"archs: {n}" in stdout and f"unique: {n}" in stdout and "metrics: 2" in stdout
    assert "valid_acc" in stdout and "checksum: sha256:" in stdout


def test_import_metric_selection_and_arch_column(tmp_path, capsys):
    csv, out = tmp_path / "cat.csv", tmp_path / "cat.h5"
    csv.write_text("cell,a,b\n0-1-2-0-1-2-0-1,1,2\n22222222,3,4\n")
    code, _, err = run(capsys, "import", str(csv), "--space", "categorical:8x3", "--out", str(out),
                       "--arch-column", "cell", "--metrics", "b")
    assert code == 0, err
    table = Table.read(out)
    assert list(table.metrics) == ["b"]
    assert list(table.arch_strings) == ["01201201", "22222222"]


@pytest.mark.parametrize("body,needle", [
    ("arch,acc\n01201201,1\n0120120,2\n", "row 2"),
    ("arch,acc\n01201201,1\n01201201,2\n", "rows 1 and 2"),
    ("arch,acc\n01201201,1\n01201202,abc\n", "column 'acc'"),
    ("cell,acc\n01201201,1\n", "no column 'arch'"),
])
def test_import_errors_name_the_row_or_column(tmp_path, capsys, body, needle):
    csv, out = tmp_path / "bad.csv", tmp_path / "bad.h5"
    csv.write_text(body)
    code, _, err = run(capsys, "import", str(csv), "--space", "categorical:8x3", "--out", str(out))
    assert code == 2 and needle in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()  # never a half-written file


@pytest.mark.parametrize("argv", [
    ["info", "/nonexistent/file.h5"],
    ["import", "/nonexistent.csv", "--space", "nb201", "--out", "/tmp/x.h5"],
    ["import", "x.csv", "--space", "nb999", "--out", "/tmp/x.h5"],
    ["import", "x.csv", "--out", "/tmp/x.h5"],
    ["frobnicate"],
])
def test_cli_errors_are_one_line_exit_2(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("surrogate: error:")


def test_info_on_corrupt_file(tmp_path, capsys):
    bad = tmp_path / "corrupt.h5"
    bad.write_bytes(b"not an hdf5 file at all" * 10)
    code, _, err = run(capsys, "info", str(bad))
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_info_on_unknown_metric_via_tampering(tmp_path, capsys):
    csv, out = tmp_path / "cat.csv", tmp_path / "cat.h5"
    write_categorical_csv(csv)
    assert run(capsys, "import", str(csv), "--space", "categorical:8x3", "--out", str(out))[0] == 0
    with h5py.File(out, "r+") as f:
        f["metrics/valid_acc"][0, 0, 0] = 1234.5
    code, _, err = run(capsys, "info", str(out))
    assert code == 2 and "checksum" in err


def test_nb201_import_matches_the_benchmark(nb201_csv, tmp_path, capsys):
    out = tmp_path / "nb201.h5"
    code, _, err = run(capsys, "import", str(nb201_csv), "--space", "nb201", "--out", str(out))
    assert code == 0, err
    code, stdout, _ = run(capsys, "info", str(out))
    assert "archs: 15625" in stdout and "unique: 6466" in stdout and "metrics: 10" in stdout  # + six proxies
    table = Table.read(out)
    imported = ["cifar10_valid_acc", "cifar10_test_acc", "cifar100_valid_acc", "cifar100_test_acc"]
    assert list(table.metrics)[:4] == imported and all(m.startswith("zc_") for m in list(table.metrics)[4:])
    assert table.checksum() == Table.read(resolve("nb201")).checksum()  # exactly the shipped nb201: the cache's proxies
    row = table.lookup(["|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"])[0]
    assert table.metric("cifar10_valid_acc")[row] == pytest.approx(63.364)  # the CSV's first row


def test_console_script_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "surrogate.cli", "info", str(tmp_path / "missing.h5")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def one_line_error(code, err, fragment):
    assert code == 2 and err.count("\n") == 1 and err.startswith("surrogate: error: ") and fragment in err, err


def test_import_refuses_to_overwrite_its_input_and_non_finite_values(tmp_path, capsys):
    csv = tmp_path / "cat.csv"
    write_categorical_csv(csv)
    before = csv.read_bytes()
    one_line_error(*run(capsys, "import", str(csv), "--space", "categorical:8x3", "--out", str(csv))[::2],
                   "is one of the inputs")
    assert csv.read_bytes() == before
    for bad in ("inf", "1e309", "-inf"):
        write_categorical_csv(csv, extra=f"99,22222222,{bad},1,x\n")
        one_line_error(*run(capsys, "import", str(csv), "--space", "categorical:8x3", "--out",
                            str(tmp_path / "x.h5"))[::2], "column 'valid_acc', row ")
        assert not (tmp_path / "x.h5").exists()


def test_search_and_bench_refuse_an_infinite_metric(tmp_path, capsys):
    table = Table.read(__import__("surrogate.catalog", fromlist=["resolve"]).resolve("nb201-digits"))
    values = table.metrics["valid_acc"].copy()
    values[3] = np.inf
    path = tmp_path / "inf.h5"
    table.with_metric("valid_acc", values).write(path)
    one_line_error(*run(capsys, "search", str(path), "--metric", "valid_acc", "--strategies", "rs", "--budget", "5",
                        "--seeds", "1", "--out", str(tmp_path / "s"))[::2], "infinite values")
    one_line_error(*run(capsys, "bench", "predictors", str(path), "--metric", "valid_acc", "--models", "rf",
                        "--out", str(tmp_path / "b"))[::2], "infinite values")
    assert not (tmp_path / "s").exists() and not (tmp_path / "b").exists()


def test_bad_outputs_fail_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    for argv in (["bench", "predictors", "nb201-digits", "--metric", "valid_acc", "--out", f"{blocker}/b"],
                 ["search", "nb201-digits", "--metric", "valid_acc", "--out", f"{blocker}/s"],
                 ["search", "nb201-digits", "--metric", "valid_acc", "--out", str(blocker)],
                 ["generate", "--space", "nb201", "--dataset", "digits", "--out", f"{blocker}/g.h5"],
                 ["supernet", "train", "--space", "nb201", "--dataset", "digits", "--out", f"{blocker}/x.pt"],
                 ["demo", "--out", f"{blocker}/d"]):
        one_line_error(*run(capsys, *argv)[::2], "exists and is not a folder")


def test_search_checks_every_strategy_before_running_any(tmp_path, capsys):
    out = tmp_path / "s"
    one_line_error(*run(capsys, "search", "nb201", "--metric", "cifar10_valid_acc", "--strategies", "rs,darts",
                        "--budget", "5", "--seeds", "1", "--out", str(out))[::2], "pass --dataset")
    assert not out.exists()
    one_line_error(*run(capsys, "search", "nb201-digits", "--metric", "valid_acc", "--strategies", "darts",
                        "--darts-beta", "-1", "--out", str(out))[::2], "--darts-beta must be at least 0")


def test_plain_command_shows_usage_and_one_prefix(capsys):
    code, _, err = run(capsys)
    assert code == 2 and err.startswith("usage: surrogate") and "a command is required" in err
    code, _, err = run(capsys, "search")
    one_line_error(code, err, "--metric is required")
    assert "surrogate: error: surrogate" not in err


@pytest.mark.parametrize("args, needle", [
    (["--objectives", "cifar10_valid_acc:max,nope:min"], "nope"),
    (["--objectives", "cifar10_valid_acc,params:min"], ":max"),
    (["--objectives", "cifar10_valid_acc:max,params:min", "--constraint", "params<<3"], "constraint"),
    (["--objectives", "cifar10_valid_acc:max,params:min", "--ref-point", "100,1"], "reference point"),
    (["--metric", "cifar10_valid_acc", "--objectives", "cifar10_valid_acc:max,params:min"], "replaces --metric"),
    (["--objectives", "cifar10_valid_acc:max,params:min", "--features", "zc_nope"], "zc_nope"),
    (["--objectives", "cifar10_valid_acc:max,params:min", "--model", "rf"], "--model and --batch"),
    (["--objectives", "cifar10_valid_acc:max,params:min", "--acq", "logei"], "unknown acquisition 'logei'"),
    (["--objectives", "cifar10_valid_acc:max,params:min", "--encoding", "nope"], "nope"),
])
def test_multi_objective_bad_input_fails_before_work(tmp_path, capsys, args, needle):
    out = tmp_path / "mo"
    assert main(["search", "nb201", *args, "--budget", "20", "--seeds", "1", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not out.exists()


def test_multi_objective_search_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "mo"
    assert main(["search", "nb201", "--objectives", "cifar10_valid_acc:max,params:min", "--strategies", "rs,re",
                 "--seeds", "2", "--budget", "20", "--out", str(out), "--no-progress", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    for result in document["results"]:
        assert {"strategy", "seeds", "budget", "hypervolume_ratio_at", "found_front_fraction",
                "seconds_per_query"} <= set(result)
        assert 0 < result["hypervolume_ratio_at"]["20"] <= 1
    for name in ("pareto.csv", "pareto.png", "hypervolume.png", "summary.md", "run.json"):
        assert (out / name).is_file()
    assert json.loads((out / "run.json").read_text())["strategy_params"] == {"rs": {}, "re": {}}
    acq = tmp_path / "acq"
    assert main(["search", "nb201", "--objectives", "cifar10_valid_acc:max,params:min", "--strategies", "bo",
                 "--acq", "parego", "--encoding", "path", "--features", "none", "--seeds", "1", "--budget", "12",
                 "--init", "10", "--out", str(acq), "--no-progress", "--json"]) == 0  # the flags reach bo
    assert json.loads((acq / "run.json").read_text())["strategy_params"]["bo"] == {"init": 10, "acq": "parego",
                                                                                   "encoding": "path"}
    code, _, err = run(capsys, "search", "nb201", "--objectives", "cifar10_valid_acc:max,flops:min", "--strategies",
                       "rs,re", "--seeds", "2", "--budget", "20", "--out", str(out), "--no-progress")
    one_line_error(code, err, "holds another campaign")  # another campaign's folder is not mixed with this one


def test_import_warns_about_a_column_it_drops_for_being_empty(tmp_path, capsys):
    csv, out = tmp_path / "cat.csv", tmp_path / "cat.h5"
    csv.write_text("arch,acc,latency,note\n01201201,1,,x\n22222222,3,,y\n")
    code, stdout, err = run(capsys, "import", str(csv), "--space", "categorical:8x3", "--out", str(out))
    assert code == 0 and "1 metrics (acc)" in stdout
    assert err.count("\n") == 1 and err.startswith("surrogate: warning:") and "latency" in err and "note" not in err
    assert Table.read(out).attrs["provenance"]["dropped_empty_columns"] == ["latency"]
    csv.write_text("arch,acc\n01201201,1\n22222222,3\n")  # nothing dropped: nothing said
    assert run(capsys, "import", str(csv), "--space", "categorical:8x3", "--out", str(out))[2] == ""


def test_info_shows_how_many_architectures_have_each_seed_count(tmp_path, capsys):
    space = get_space("categorical:8x3")
    archs = np.unique(space.sample(40, 0), axis=0)[:8]
    acc = np.full((8, 2, 3), np.nan)
    acc[:, 0] = 50.0
    acc[:2, 1] = 60.0  # a second seed for 2 of the 8
    path = tmp_path / "t.h5"
    Table(space.spec, archs, space.format_many(archs), {"acc": acc, "cost": np.ones(8)}).write(path)
    code, stdout, _ = run(capsys, "info", str(path))
    assert code == 0
    rows = {line.split()[0]: line for line in stdout.splitlines() if line.startswith("  ")}
    assert "1: 6, 2: 2" in rows["acc"]
    assert rows["cost"].split()[1:3] == ["8", "1"]  # count 8, every one with 1 seed


def test_the_recorded_command_hides_a_storage_password():
    from surrogate.cli import command_line

    recorded = command_line(["pbt", "--storage", "postgresql+psycopg2://me:s3cret@db:5432/nas", "--study", "x"])
    assert "s3cret" not in recorded and "postgresql+psycopg2://me:***@db:5432/nas" in recorded
    assert command_line(["search", "--storage", "sqlite:///x.db"]) == "surrogate search --storage sqlite:///x.db"
