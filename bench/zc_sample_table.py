"""A NB201 table restricted to the classes of the proxy batch-size study (bench/proxies_batch_study.py),
with zc_ columns in the default configuration's batches (nwot on 64 random inputs, synflow data-free,
jacov/snip/grad_norm/fisher on 8): an estimate of what `--features zc` adds while the full NB201
cache is still being computed. Usage: python bench/zc_sample_table.py OUT.h5 [CLASSES]"""
import sys

import numpy as np

from surrogate.catalog import resolve
from surrogate.proxies import PROXIES
from surrogate.spaces import get_space
from surrogate.tabular import Table


def main(out: str, n: int = 300) -> None:
    table = Table.read(resolve("nb201"))
    b64, b8 = np.load(f"runs/proxies-study/b64_n{n}.npz"), np.load(f"runs/proxies-study/b8_n{n}.npz")
    assert (b64["classes"] == b8["classes"]).all()
    classes = b64["classes"]
    ids = get_space("nb201").canonical_ids(table.archs)
    rows = np.flatnonzero(np.isin(ids, classes))
    where = np.searchsorted(classes, ids[rows])
    metrics = {k: v[rows] for k, v in table.metrics.items()}
    for j, p in enumerate(PROXIES):
        source = b64 if p in ("synflow", "nwot") else b8
        metrics[f"zc_{p}"] = source["values"][where, j]
    Table("nb201", table.archs[rows], table.arch_strings[rows], metrics,
          {"dataset": "nb201-hp12 (proxy study sample)"}).write(out)
    print(f"wrote {out}: {len(rows)} cells of {len(classes)} classes")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300)
