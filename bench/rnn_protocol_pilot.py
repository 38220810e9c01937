"""Pilot a training protocol for rnn-shakespeare: train the shipped table's first 48 twice-trained
cells with seeds 0 and 1 under a variant of the table's protocol, and print the seed-to-seed Kendall
tau beside the table's own on the same cells.

Usage: python bench/rnn_protocol_pilot.py NAME [key=value ...]
  keys: subset, hidden, lr, batch, seq, epochs, init (a factor on the cell's weights: node 0's two
  maps and every node's matrix), wd. Unset keys take the values the table was made with in
  2026-12-07 (lr 3e-2).
Results go to runs/rnn-pilot/NAME.jsonl, one line per training; a killed pilot resumes. With init 1
it trains exactly what `surrogate generate` trains (same seeding: the values match the generated
records bit for bit), so a pilot's lines can be compared with a table's.
"""

from __future__ import annotations

import json
import os
import sys
import time
from functools import lru_cache
from multiprocessing import Pool

import numpy as np
from scipy import stats

CELLS = 48
DEFAULTS = dict(subset=1_000_000, hidden=32, lr=3e-2, batch=128, seq=16, epochs=1, init=1.0, wd=0.0)


def parse(argv: list[str]) -> dict:
    config = dict(DEFAULTS)
    for pair in argv:
        key, value = pair.split("=")
        config[key] = int(float(value)) if isinstance(DEFAULTS[key], int) else float(value)
    return config


def table_cells() -> tuple[np.ndarray, np.ndarray]:
    """The shipped table's first `CELLS` twice-trained cells and their two seeds' valid_bpc."""
    from surrogate.catalog import resolve
    from surrogate.tabular import Table

    table = Table.read(resolve("rnn-shakespeare"))
    valid = table.metrics["valid_bpc"][:, :, -1]
    twice = np.where(np.isfinite(valid).all(axis=1))[0][:CELLS]
    return table.archs[twice], valid[twice]


@lru_cache(maxsize=1)
def corpus(subset: int):
    """The corpus, read once per worker process (not once per training)."""
    from surrogate.train.data import load

    return load("shakespeare", None, subset)


def train_one(job: tuple[dict, int, list[int], int]) -> dict:
    config, index, arch, seed = job
    import torch

    from surrogate.nets import build_network
    from surrogate.train.language import train_text

    torch.set_num_threads(1)
    data = corpus(config["subset"])
    torch.manual_seed(seed)
    network = build_network("rnn-cell:8", np.array(arch), config["hidden"], 1, data.num_classes, data.input_shape[0])
    if config["init"] != 1.0:
        with torch.no_grad():
            for weight in (network.cell.node_weights, network.cell.input_gate.weight, network.cell.state_gate.weight):
                weight.mul_(config["init"])
    start = time.time()
    out = train_text(network, data, epochs=config["epochs"], seed=seed, batch_size=config["batch"],
                     seq_len=config["seq"], lr=config["lr"], weight_decay=config["wd"], test_at_end=True)
    return dict(i=index, seed=seed, valid=float(out["valid_bpc"][-1]), s=time.time() - start)


def main(name: str, argv: list[str]) -> None:
    config = parse(argv)
    path = f"runs/rnn-pilot/{name}.jsonl"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    archs, table_valid = table_cells()
    done = {}
    if os.path.exists(path):
        for line in open(path):
            row = json.loads(line)
            done[(row["i"], row["seed"])] = row["valid"]
    todo = [(config, i, archs[i].tolist(), s) for i in range(len(archs)) for s in (0, 1) if (i, s) not in done]
    with Pool(2) as pool, open(path, "a") as f:
        for row in pool.imap_unordered(train_one, todo):
            done[(row["i"], row["seed"])] = row["valid"]
            f.write(json.dumps(row) + "\n")
            f.flush()
    valid = np.array([[done[(i, s)] for s in (0, 1)] for i in range(len(archs))])
    mean = valid.mean(axis=1)
    print(f"{name} {config}: seed-to-seed tau {stats.kendalltau(valid[:, 0], valid[:, 1]).statistic:.3f} "
          f"(the table on these cells {stats.kendalltau(table_valid[:, 0], table_valid[:, 1]).statistic:.3f}); "
          f"noise {np.std(valid[:, 0] - valid[:, 1]) / np.sqrt(2):.3f}; median {np.median(mean):.3f}, "
          f"best {mean.min():.3f}, spread {np.median(mean) - mean.min():.3f}; "
          f"tau against the table's seed means {stats.kendalltau(mean, table_valid.mean(axis=1)).statistic:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
