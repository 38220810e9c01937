"""The CSVs a user would bring (bench/out_of_the_box.sh): one row per architecture, an `arch`
column and one metric `acc`.

- nb201_c100: NB201's own arch strings with CIFAR-100 validation accuracy (space nb201);
- cat_c10, cat_c100: the same 15,625 cells as plain choice vectors (space categorical:6x5: one
  position per edge, the op index as the choice), CIFAR-10 / CIFAR-100 validation accuracy;
- cat_fmnist: nb201-fmnist's 1,000 cells the same way (valid_acc, mean over its seeds);
- chain_fmnist: the shipped chain table (categorical:8x3, valid_acc), when this installation has it;
- synth_8x3, synth_6x5: synthetic categorical functions with known low-order structure (`synthetic`);
- synth_ord_6x6: a synthetic function of *ordered* choices (`synthetic_ordinal`), as a table of
  hyperparameters or network sizes is; bench/hpo_digits_csv.py writes a real one (hpo_digits);
- mo_cat_c100, mo_cat_fmnist, mo_synth_8x3: tables for several objectives with a `params` column a
  user's table would carry: cat_c100 and cat_fmnist with their cells' NB201 network params (C=16,
  N=5, as nb201 counts them; nb201-fmnist's own column), synth_8x3 with an additive cost (each
  position's choice a random price, as a chain's blocks are).

Usage: python bench/out_of_the_box_csv.py NB201_CSV OUT_DIR
"""

from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from surrogate.catalog import SHIPPED, resolve
from surrogate.nets.costs import costs
from surrogate.spaces import get_space
from surrogate.tabular import Table


def write(out: Path, name: str, space: str, archs: list[str], acc, **columns) -> None:
    pd.DataFrame({"arch": archs, "acc": acc, **columns}).to_csv(out / f"{name}.csv", index=False)
    (out / f"{name}.space").write_text(space + "\n")


def synthetic(d: int, k: int, pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every architecture of categorical:{d}x{k} and f(x) = 70 + 2 (sum_i a_i[x_i] + sum over `pairs`
    random pairs b_ij[x_i, x_j] + one 3-way term c[x_p, x_q, x_r] + noise): a ~ N(0, 1), b ~ N(0, 0.8),
    c ~ N(0, 0.5), a fixed per-architecture noise N(0, 0.15). Low-order structure a model can learn,
    plus a little it cannot."""
    rng = np.random.default_rng(seed)
    x = get_space(f"categorical:{d}x{k}").enumerate()
    f = np.zeros(len(x))
    for i in range(d):
        f += rng.normal(0, 1.0, k)[x[:, i]]
    every_pair = list(combinations(range(d), 2))
    for p in rng.choice(len(every_pair), size=pairs, replace=False):
        i, j = every_pair[p]
        f += rng.normal(0, 0.8, (k, k))[x[:, i], x[:, j]]
    i, j, m = rng.choice(d, 3, replace=False)
    f += rng.normal(0, 0.5, (k, k, k))[x[:, i], x[:, j], x[:, m]]
    f += rng.normal(0, 0.15, len(x))
    return x, 70 + 2 * f


def synthetic_ordinal(d: int, k: int, pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every architecture of categorical:{d}x{k}, u_i = x_i / (k - 1) its choices as ordered values in
    [0, 1], and f = 70 + 2 (-sum_i a_i (u_i - c_i)^2 + sum over `pairs` random pairs b_ij (u_i - c_i)
    (u_j - c_j) + ripple + noise): a ~ U(0.3, 4) (some positions matter little), optima c ~ U(0, 1),
    b ~ N(0, 1.5), a ripple 0.2 sin(3 pi u_i) at every position, a fixed noise N(0, 0.1). Smooth along
    each position's order, which the overlap terms of the categorical GP cannot see."""
    rng = np.random.default_rng(seed)
    x = get_space(f"categorical:{d}x{k}").enumerate()
    u = x / (k - 1)
    a, c = rng.uniform(0.3, 4.0, d), rng.uniform(0, 1, d)
    f = -((u - c) ** 2 * a).sum(axis=1) + 0.2 * np.sin(3 * np.pi * u).sum(axis=1)
    every_pair = list(combinations(range(d), 2))
    for p in rng.choice(len(every_pair), size=pairs, replace=False):
        i, j = every_pair[p]
        f += rng.normal(0, 1.5) * (u[:, i] - c[i]) * (u[:, j] - c[j])
    f += rng.normal(0, 0.1, len(x))
    return x, 70 + 2 * f


def main(csv: str, out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(csv)
    nb201, plain = get_space("nb201"), get_space("categorical:6x5")
    archs = nb201.parse_many(frame.arch)
    write(out, "nb201_c100", "nb201", list(frame.arch), frame.cifar100_valid_acc)
    write(out, "cat_c10", plain.spec, plain.format_many(archs), frame.cifar10_valid_acc)
    write(out, "cat_c100", plain.spec, plain.format_many(archs), frame.cifar100_valid_acc)
    fmnist = Table.read(resolve("nb201-fmnist"))
    write(out, "cat_fmnist", plain.spec, plain.format_many(fmnist.archs), fmnist.metric("valid_acc"))
    for name, (d, k, pairs, seed) in {"synth_8x3": (8, 3, 8, 2208), "synth_6x5": (6, 5, 6, 2265)}.items():
        space = get_space(f"categorical:{d}x{k}")
        archs, values = synthetic(d, k, pairs, seed)
        write(out, name, space.spec, space.format_many(archs), values)
    archs, values = synthetic_ordinal(6, 6, 4, 2266)
    write(out, "synth_ord_6x6", "categorical:6x6", get_space("categorical:6x6").format_many(archs), values)
    cells = nb201.parse_many(frame.arch)
    write(out, "mo_cat_c100", plain.spec, plain.format_many(cells), frame.cifar100_valid_acc,
          params=costs("nb201", cells)["params"])
    write(out, "mo_cat_fmnist", plain.spec, plain.format_many(fmnist.archs), fmnist.metric("valid_acc"),
          params=fmnist.metric("params"))
    chains, values = synthetic(8, 3, 8, 2208)
    price = np.random.default_rng(83).uniform(1e4, 1e5, (8, 3))
    write(out, "mo_synth_8x3", "categorical:8x3", get_space("categorical:8x3").format_many(chains), values,
          params=price[np.arange(8), chains].sum(axis=1).round())
    if "chain-fmnist" in SHIPPED and SHIPPED["chain-fmnist"].path.is_file():
        chain = Table.read(resolve("chain-fmnist"))
        write(out, "chain_fmnist", chain.space, chain.arch_strings, chain.metric("valid_acc"))


if __name__ == "__main__":
    main(*sys.argv[1:3])
