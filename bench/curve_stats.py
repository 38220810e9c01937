"""What a table's learning curves say, for datasets/README.md and the learning-curve rule of
multi-fidelity search (`--rank-by`): the seed-to-seed Kendall tau of the final `valid_acc`, its
spread, and per epoch how well the validation accuracy then, and the training loss then (SoTL-E,
E = 1), rank the final validation accuracy (seed mean) and the test accuracy (also among the best
10 % of cells by test accuracy).

    python bench/curve_stats.py nb201-fmnist nb201-digits
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.stats import kendalltau, spearmanr

from surrogate import __version__
from surrogate.catalog import resolve
from surrogate.tabular import Table


def stats(name: str) -> None:
    table = Table.read(resolve(name))
    valid, loss = table.metrics["valid_acc"], table.metrics["train_loss"]
    final = np.nanmean(valid[:, :, -1], axis=1)
    test = np.nanmean(table.metrics["test_acc"][:, :, -1], axis=1)
    twice = np.isfinite(valid[:, :, -1]).all(axis=1)
    ok = np.isfinite(final) & np.isfinite(test)
    print(f"## {name} ({table.checksum()}; surrogate {__version__})\n")
    a, b = valid[twice, 0, -1], valid[twice, 1, -1]
    print(f"- seed-to-seed Kendall tau of final valid_acc over {twice.sum()} cells trained twice: "
          f"{kendalltau(a, b).statistic:.3f} (Spearman {spearmanr(a, b).statistic:.3f})")
    print(f"- valid_acc (seed mean) min / median / max: {np.nanmin(final):.2f} / {np.nanmedian(final):.2f} / "
          f"{np.nanmax(final):.2f}; test_acc {np.nanmin(test):.2f} / {np.nanmedian(test):.2f} / {np.nanmax(test):.2f}; "
          f"tau(valid, test) {kendalltau(final[ok], test[ok]).statistic:.3f}")
    print(f"- diverged: {int(np.nansum(table.metrics['diverged']))}" if "diverged" in table.metrics else "")
    top = ok & (test >= np.nanquantile(test, 0.9))
    print("\n| epoch | median valid_acc | tau(valid@e, final valid) | tau(-train_loss@e, final valid) "
          "| tau(valid@e, test) | tau(-train_loss@e, test) | the same two among the best 10 % by test |")
    print("|---|---|---|---|---|---|---|")
    for e in range(valid.shape[2]):
        v, tl = np.nanmean(valid[:, :, e], axis=1), np.nanmean(loss[:, :, e], axis=1)
        m = ok & np.isfinite(v) & np.isfinite(tl)
        tau = lambda x, y: kendalltau(x[m], y[m]).statistic  # noqa: E731
        best = lambda x: kendalltau(x[m & top], test[m & top]).statistic  # noqa: E731
        print(f"| {e + 1} | {np.nanmedian(v):.2f} | {tau(v, final):.3f} | {tau(-tl, final):.3f} | {tau(v, test):.3f} "
              f"| {tau(-tl, test):.3f} | {best(v):.3f} / {best(-tl):.3f} |")
    print()


if __name__ == "__main__":
    for table_name in sys.argv[1:]:
        stats(table_name)
