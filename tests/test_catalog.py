import json

import numpy as np
import pandas as pd
import pytest

from surrogate import catalog
from surrogate.cli import main
from surrogate.errors import UsageError
from surrogate.spaces import get_space
from surrogate.tabular import Table


def test_shipped_tables_are_listed_with_the_promised_fields(capsys):
    assert main(["datasets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = [r["name"] for r in rows]
    assert {"nb201", "nb201-digits", "nb201-fmnist"} <= set(names)
    for r in rows:
        assert {"name", "path", "space", "archs", "unique", "metrics", "source", "checksum"} <= set(r)
        assert Table.read(r["path"]).checksum() == r["checksum"]
    nb201 = rows[names.index("nb201")]
    assert (nb201["space"], nb201["archs"], nb201["unique"]) == ("nb201", 15625, 6466)
    assert main(["datasets"]) == 0 and "nb201-digits" in capsys.readouterr().out


def test_names_resolve_wherever_a_table_file_is_read(tmp_path, capsys, monkeypatch):
    assert catalog.resolve("nb201") == catalog.SHIPPED["nb201"].path
    assert main(["info", "nb201-digits"]) == 0 and "archs: 1000" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nb201").write_text("a local file wins over a shipped name")
    assert catalog.resolve("nb201").resolve() == (tmp_path / "nb201").resolve()
    with pytest.raises(UsageError, match="no-such: no such file, nor a shipped dataset .*nb201"):
        catalog.resolve("no-such")
    assert main(["info", "no-such"]) == 2


def test_shipped_nb201_reproduces_the_shared_csv_exactly(nb201_csv):
    table = Table.read(catalog.resolve("nb201"))
    csv = pd.read_csv(nb201_csv)
    rows = table.lookup(get_space("nb201").format_many(get_space("nb201").parse_many(csv["arch"])))
    assert len(csv) == table.n == 15625 and (rows >= 0).all() and len(np.unique(rows)) == table.n
    for column in ("cifar10_valid_acc", "cifar10_test_acc", "cifar100_valid_acc", "cifar100_test_acc"):
        assert np.array_equal(table.metric(column)[rows], csv[column].to_numpy(dtype=float))


def test_nb201_fmnist_has_the_promised_signal():
    from scipy import stats

    table = Table.read(catalog.resolve("nb201-fmnist"))
    ids = get_space("nb201").canonical_ids(table.archs)
    assert table.n >= 1000 and len(np.unique(ids)) == table.n  # one cell per isomorphism class
    first, second = table.metric("valid_acc", seed=0), table.metric("valid_acc", seed=1)
    assert np.isfinite(first).all()
    twice = np.isfinite(second)
    assert twice.sum() >= 250
    assert stats.kendalltau(first[twice], second[twice]).statistic >= 0.5  # digits: 0.196
    mean = table.metric("valid_acc")
    assert mean.max() - np.median(mean) >= 3.0
    assert table.metrics["valid_acc"].shape[2] == table.attrs["training_config"]["epochs"]  # per-epoch records
    assert {"params", "flops", "latency_b1_ms"} <= set(table.metrics)
