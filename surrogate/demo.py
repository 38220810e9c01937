"""The embedded default of `surrogate demo`.

`EMBEDDED_DATASET` is the dataset this repository ships (NB201 cells trained on digits by
`surrogate generate`, see datasets/README.md). Where the package runs without its repository
(a plain `pip install .`), the demo falls back to a small table it trains itself, below.

The space is a chain of 3 dense layers, each one of {32, 64 units} x {ReLU, tanh}, plus a
learning rate in {1e-3, 3e-3, 1e-2, 3e-2} (`categorical:4x4`, 256 architectures; no identity
choice, so no two architectures compute the same function). Each is trained full-batch with Adam
on scikit-learn's 8x8 digits (always installed) and its train, validation and test accuracy
recorded; that takes about half a minute on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from surrogate.spaces import CategoricalSpace
from surrogate.tabular import Table

EMBEDDED_DATASET = Path(__file__).resolve().parents[1] / "datasets" / "nb201_digits.h5"

LAYERS = ("dense32_relu", "dense64_relu", "dense32_tanh", "dense64_tanh")
LEARNING_RATES = (1e-3, 3e-3, 1e-2, 3e-2)
SPACE = CategoricalSpace([4] * 4, choice_names=[LAYERS] * 3 + [[f"lr={lr:g}" for lr in LEARNING_RATES]])
STEPS = 60


def _digits(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Digits split 60/20/20 into train/valid/test with a fixed seed, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = torch.tensor(x[order] / 16.0, dtype=torch.float32), torch.tensor(y[order])
    a, b = int(0.6 * len(y)), int(0.8 * len(y))
    return x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:]


def build(arch: np.ndarray) -> nn.Sequential:
    layers, width = [], 64
    for choice in arch[:3]:
        name = LAYERS[int(choice)]
        out = 32 if name.startswith("dense32") else 64
        layers += [nn.Linear(width, out), nn.ReLU() if name.endswith("relu") else nn.Tanh()]
        width = out
    return nn.Sequential(*layers, nn.Linear(width, 10))


def build_table(seed: int = 0, progress: bool = True, archs: np.ndarray | None = None) -> Table:
    """Train every architecture of SPACE (or just `archs`) once, seeded per architecture, and
    tabulate train/valid/test accuracy in percent."""
    torch.set_num_threads(1)
    xtr, ytr, xva, yva, xte, yte = _digits(seed)
    archs = SPACE.enumerate() if archs is None else SPACE.check(archs)
    valid, test, train = (np.empty(len(archs)) for _ in range(3))
    for i, arch in enumerate(tqdm(archs, desc="demo: training", unit="arch", disable=not progress)):
        torch.manual_seed(seed * 100_003 + int(SPACE.index(arch)[0]))
        net = build(arch)
        opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATES[int(arch[3])])
        for _ in range(STEPS):
            opt.zero_grad()
            nn.functional.cross_entropy(net(xtr), ytr).backward()
            opt.step()
        with torch.no_grad():
            train[i], valid[i], test[i] = ((net(x).argmax(1) == y).float().mean().item() * 100
                                           for x, y in ((xtr, ytr), (xva, yva), (xte, yte)))
    config = {"steps": STEPS, "optimizer": "adam", "batch": "full", "split": "60/20/20", "split_seed": seed}
    return Table(space=SPACE.spec, archs=archs, arch_strings=np.array(SPACE.format_many(archs), dtype=object),
                 metrics={"train_acc": train[:, None, None], "valid_acc": valid[:, None, None],
                          "test_acc": test[:, None, None]},
                 attrs={"dataset": "digits", "training_config": config,
                        "provenance": {"builder": "surrogate.demo.build_table", "seed": seed}})
