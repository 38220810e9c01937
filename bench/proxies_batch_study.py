"""How each zero-cost proxy's Spearman (against NB201 hp12 CIFAR-10 valid) and its cost change with the
batch size, on a fixed sample of NB201 isomorphism classes, random (data-free) inputs, C=16, N=5.
Resumable: one npz per batch size under runs/proxies-study/. Run single-threaded and niced:
  OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python bench/proxies_batch_study.py [CLASSES]
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from surrogate.catalog import resolve
from surrogate.proxies import PROXIES, ProxyConfig, make_batch, score_arch
from surrogate.spaces import get_space
from surrogate.tabular import Table

OUT = Path("runs/proxies-study")
BATCHES = (8, 16, 64, 32)  # 64 (the reference) before 32: 32 is needed only if 16 is not within 0.02 of 64


def sample(n: int):
    table = Table.read(resolve("nb201"))
    space = get_space("nb201")
    ids = space.canonical_ids(table.archs)
    classes = np.unique(ids)
    chosen = np.sort(np.random.default_rng(0).choice(classes, n, replace=False))
    return space.unindex(chosen), table, ids, chosen


def main(n: int = 300) -> None:
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    archs, table, ids, chosen = sample(n)
    for b in BATCHES:
        path = OUT / f"b{b}_n{n}.npz"
        if path.exists():
            continue
        config = ProxyConfig(space="nb201", batch_size=b)
        x, y = make_batch(config)
        values, seconds = np.zeros((n, len(PROXIES))), np.zeros(n)
        for i, arch in enumerate(archs):
            start = time.perf_counter()
            s = score_arch(config, arch, x, y)
            seconds[i] = time.perf_counter() - start
            values[i] = [s[p] for p in PROXIES]
        np.savez(path, values=values, seconds=seconds, classes=chosen)
        print(f"batch {b}: {seconds.sum():.0f} s for {n} classes", flush=True)
    report(n, table, ids, chosen)


def report(n, table, ids, chosen):
    rows = {c: np.flatnonzero(ids == c) for c in chosen}
    lines = [f"sample: {n} NB201 classes (seed 0), random inputs, C=16, N=5, one torch thread", "",
             "| batch | s/class | " + " | ".join(PROXIES) + " |", "|---" * (len(PROXIES) + 2) + "|"]
    for metric in ("cifar10_valid_acc", "cifar100_valid_acc"):
        y_all = table.metric(metric)
        y = np.array([y_all[rows[c]].mean() for c in chosen])
        for b in sorted(BATCHES):
            path = OUT / f"b{b}_n{n}.npz"
            if not path.exists():
                continue
            d = np.load(path)
            rho = [stats.spearmanr(d["values"][:, j], y).statistic for j in range(len(PROXIES))]
            lines.append(f"| {b} ({metric}) | {d['seconds'].mean():.3f} | " + " | ".join(f"{r:.3f}" for r in rho) + " |")
    print("\n".join(lines))
    (OUT / f"report_n{n}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
