from dataclasses import replace

from surrogate import catalog, demo
from surrogate.cli import main
from surrogate.search.request import run_search
from surrogate.tabular import Table


def test_demo_search_shows_bo_ahead_of_random_search(one_torch_thread, tmp_path):
    table = Table.read(catalog.resolve(demo.DEMO_TABLE))
    metric = demo.default_metric(table)
    request = replace(demo.search(table, demo.DEMO_TABLE, metric, tmp_path, progress=False), strategies=["bo", "rs"],
                      seeds=3)  # the claim, at 3 of its 5 seeds
    results = {r["strategy"]: r for r in run_search(request).document["results"]}
    assert results["bo"]["regret_at"]["50"] < results["rs"]["regret_at"]["50"]


def test_demo_refuses_a_missing_table_before_any_work(tmp_path, capsys):
    assert main(["demo", "--data", str(tmp_path / "no" / "such.h5"), "--out", str(tmp_path / "out")]) == 2
    assert "no such file, nor a shipped dataset" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
