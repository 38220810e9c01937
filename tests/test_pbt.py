"""`surrogate pbt`: exploit and explore, a tiny population on digits, resume, workers, bad input
(workers sharing a storage: tests/test_pbt_storage.py)."""

import json

import numpy as np
import pytest

from surrogate.cli import main
from surrogate.search.pbt import PERTURB, Member, exploit_and_explore

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
OTHER = "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|"
TINY = ["pbt", "--space", "nb201", "--dataset", "digits", "--arch", ARCH, "--arch", OTHER, "--population", "4",
        "--epochs", "3", "--interval", "1", "--channels", "4", "--cells", "1", "--no-progress"]


@pytest.mark.parametrize("seed", range(5))
def test_the_bottom_quantile_copies_the_top_and_perturbs(seed):
    rng = np.random.default_rng(seed)
    ranges = {"lr": (0.01, 0.5), "weight_decay": (1e-5, 1e-2)}
    members = [Member(f"a{i}", i, {"lr": float(rng.uniform(0.01, 0.5)), "weight_decay": 1e-4}) for i in range(8)]
    values = rng.permutation(8).astype(float).tolist()
    nxt = exploit_and_explore(members, values, ranges, 0.25, np.random.default_rng(seed))
    order = np.argsort(values)[::-1]
    top, bottom = set(order[:2]), set(order[-2:])
    for i, m in enumerate(nxt):
        if i in bottom:
            assert m.source in top and m.arch == members[m.source].arch and m.seed == members[i].seed
            for k, v in m.hyper.items():
                lo, hi = ranges[k]
                assert any(np.isclose(v, np.clip(members[m.source].hyper[k] * f, lo, hi)) for f in PERTURB)
        else:
            assert m.source is None and m == Member(members[i].arch, members[i].seed, members[i].hyper)


def test_a_tiny_population_trains_resumes_and_records(tmp_path, capsys, one_torch_thread):
    out = tmp_path / "pbt"
    assert main([*TINY, "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ends"] == [1, 2, 3] and len(doc["generations"]) == 3
    assert {"package_version", "command", "input_checksum", "seeds", "training_config"} <= set(doc)
    for before, after in zip(doc["generations"], doc["generations"][1:]):
        ranked = sorted(range(4), key=lambda i: -before[i]["valid_acc"])
        for row in after:
            assert row["source"] is None or (row["source"] == ranked[0] and row["member"] == ranked[-1])
    final = doc["generations"][-1]
    assert doc["best"]["valid_acc"] == max(r["valid_acc"] for r in final) and 0 < doc["best"]["test_acc"] <= 100
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "members").iterdir()}
    assert len(stamps) == 4 * 3
    assert main([*TINY, "--out", str(out), "--json"]) == 0  # a rerun reads every segment back, trains nothing
    again = json.loads(capsys.readouterr().out)
    assert again["generations"] == doc["generations"]
    assert {p.name: p.stat().st_mtime_ns for p in (out / "members").iterdir()} == stamps


@pytest.mark.slow
def test_workers_give_the_records_one_process_gives(tmp_path, capsys, one_torch_thread):
    assert main([*TINY, "--out", str(tmp_path / "one"), "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main([*TINY, "--out", str(tmp_path / "two"), "--workers", "2", "--json"]) == 0
    two = json.loads(capsys.readouterr().out)
    assert one["generations"] == two["generations"]


@pytest.mark.parametrize("args, needle", [(["--hyper", "momentum"], "unknown hyperparameter 'momentum'"),
                                          (["--hyper", "lr=0.5:0.1"], "need 0 < LOW < HIGH"),
                                          (["--quantile", "0.7"], "--quantile must be in (0, 0.5]"),
                                          (["--population", "1"], "--population must be at least 2"),
                                          (["--arch", "nope"], "nope"),
                                          (["--storage", "sqlite:///x.db"], "--storage and --study go together"),
                                          (["--storage", "sqlite:///x.db", "--study", "s", "--workers", "2"],
                                           "each process is one worker")])
def test_bad_input_is_one_line_exit_2_before_any_work(tmp_path, capsys, args, needle):
    out = tmp_path / "o"
    assert main([*TINY, "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and not out.exists()
