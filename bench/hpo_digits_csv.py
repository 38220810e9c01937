"""A real hyperparameter table a user might bring (bench/out_of_the_box.sh, issue 22): an MLP on
scikit-learn's digits trained for every point of a grid whose choices are *ordered* (each position's
index follows its values), as in most hyperparameter and network-size tables:

    width {16, 32, 64, 128, 256} x depth {1, 2, 3, 4} x Adam lr {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2}
    x weight decay {0, 1e-4, 1e-3, 1e-2} x batch {16, 64, 256}: categorical:5,4,6,4,3, 1,440 points.

Each point is trained with seeds 0 and 1 for 15 epochs on a fixed split of the 1,797 images (1,078
train, 359 valid, 360 test; pixels scaled to [0, 1]); `acc` is the mean validation accuracy (%) of
the two seeds, `test_acc` the mean test accuracy, `params` the MLP's parameter count (for several
objectives: acc:max,params:min). Resumable: finished points are appended to
OUT.partial and skipped on a rerun; OUT is written when every point is done.

Usage: python bench/hpo_digits_csv.py OUT.csv [WORKERS]
"""

from __future__ import annotations

import itertools
import os
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits

from surrogate.spaces import get_space

GRID = {"width": [16, 32, 64, 128, 256], "depth": [1, 2, 3, 4], "lr": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
        "weight_decay": [0.0, 1e-4, 1e-3, 1e-2], "batch": [16, 64, 256]}
SPACE = "categorical:" + ",".join(str(len(v)) for v in GRID.values())
EPOCHS, SEEDS = 15, (0, 1)


def split() -> tuple[torch.Tensor, ...]:
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = torch.tensor(x[order] / 16.0, dtype=torch.float32), torch.tensor(y[order])
    return x[:1078], y[:1078], x[1078:1437], y[1078:1437], x[1437:], y[1437:]


def train(point: tuple[int, ...]) -> dict:
    torch.set_num_threads(1)
    xt, yt, xv, yv, xs, ys = split()
    width, depth, lr, wd, batch = (GRID[k][i] for k, i in zip(GRID, point))
    valid, test = [], []
    for seed in SEEDS:
        torch.manual_seed(seed)
        layers, d = [], 64
        for _ in range(depth):
            layers += [torch.nn.Linear(d, width), torch.nn.ReLU()]
            d = width
        net = torch.nn.Sequential(*layers, torch.nn.Linear(d, 10))
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=wd)
        g = torch.Generator().manual_seed(seed)
        for _ in range(EPOCHS):
            for idx in torch.randperm(len(xt), generator=g).split(batch):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
                opt.step()
        with torch.no_grad():
            valid.append((net(xv).argmax(1) == yv).float().mean().item() * 100)
            test.append((net(xs).argmax(1) == ys).float().mean().item() * 100)
    return {"arch": "".join(map(str, point)), "acc": round(float(np.mean(valid)), 4),
            "test_acc": round(float(np.mean(test)), 4)}


def main(out: str, workers: str = "2") -> None:
    partial = Path(out + ".partial")
    done = set(pd.read_csv(partial, dtype={"arch": str}).arch) if partial.is_file() else set()
    points = [p for p in itertools.product(*(range(len(v)) for v in GRID.values()))
              if "".join(map(str, p)) not in done]
    with Pool(int(workers)) as pool, open(partial, "a") as f:
        if not done:
            f.write("arch,acc,test_acc\n")
        for k, row in enumerate(pool.imap_unordered(train, points, chunksize=4)):
            f.write(f"{row['arch']},{row['acc']},{row['test_acc']}\n")
            f.flush()
            if k % 50 == 0:
                print(f"{len(done) + k + 1}/{len(done) + len(points)}", file=sys.stderr, flush=True)
    frame = pd.read_csv(partial, dtype={"arch": str}).drop_duplicates("arch")
    space = get_space(SPACE)
    points = space.enumerate()
    frame = frame.set_index("arch").loc[space.format_many(points)].reset_index()
    width, depth = np.array(GRID["width"])[points[:, 0]], np.array(GRID["depth"])[points[:, 1]]
    frame["params"] = (64 + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * 10
    frame.to_csv(out, index=False)
    Path(out).with_suffix(".space").write_text(SPACE + "\n")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main(*sys.argv[1:3])
