"""Build a tabular store from a CSV with one row per architecture."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from surrogate.errors import UsageError
from surrogate.spaces import Space, get_space
from surrogate.tabular import Table

#: columns that identify rows rather than measure them; never imported as metrics by default.
ID_COLUMNS = {"index", "id", "arch_index", "arch_id"}


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def read_csv_table(
    path: str | Path,
    space: Space | str,
    arch_column: str = "arch",
    metrics: Sequence[str] | None = None,
    dataset: str | None = None,
) -> Table:
    """Read `path` into a Table: `arch_column` holds arch strings of `space`; every other numeric
    column (any column with a number in it, minus identifier columns such as `index`; a stray
    non-number in it is an error) is a final-only, single-seed metric unless
    `metrics` picks some. Errors name the offending row or column. Columns empty in every row are
    not imported; their names go into the provenance (`dropped_empty_columns`) so the caller can say so."""
    space = get_space(space)
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, dtype={arch_column: str}, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from None
    if arch_column not in frame.columns:
        raise UsageError(f"{path}: no column {arch_column!r} (columns: {', '.join(map(str, frame.columns))}); pick one with --arch-column")
    if metrics:
        missing = [m for m in metrics if m not in frame.columns]
        if missing:
            raise UsageError(f"{path}: no column {missing[0]!r} (columns: {', '.join(map(str, frame.columns))})")
        names = list(metrics)
        empty = []
    else:
        empty = [str(c) for c in frame.columns if c != arch_column and str(c).lower() not in ID_COLUMNS
                 and not str(c).startswith("Unnamed:") and frame[c].isna().all()]
        names = [c for c in frame.columns if c != arch_column and str(c).lower() not in ID_COLUMNS
                 and not str(c).startswith("Unnamed:") and pd.to_numeric(frame[c], errors="coerce").notna().any()]
        if not names:
            raise UsageError(f"{path}: no numeric metric column besides {arch_column!r}")
    values = {}
    for name in names:
        column = pd.to_numeric(frame[name], errors="coerce")
        bad = np.flatnonzero(column.isna().to_numpy() & frame[name].notna().to_numpy())
        if len(bad):
            raise UsageError(f"{path}: column {name!r}, row {bad[0] + 1}: not a number ({frame[name].iloc[bad[0]]!r})")
        infinite = np.flatnonzero(np.isinf(column.to_numpy(dtype=np.float64)))
        if len(infinite):  # inf, or a number beyond float64 such as 1e309: never a measurement
            raise UsageError(f"{path}: column {name!r}, row {infinite[0] + 1}: not a finite number "
                             f"({frame[name].iloc[infinite[0]]!r}); leave the cell empty for a missing value")
        values[str(name)] = column.to_numpy(dtype=np.float64)[:, None, None]

    strings = frame[arch_column].tolist()
    archs = np.empty((len(strings), space.num_decisions), dtype=np.int64)
    for row, text in enumerate(strings):
        if not isinstance(text, str):
            raise UsageError(f"{path}: row {row + 1}: empty {arch_column!r}")
        try:
            archs[row] = space.parse(text)
        except UsageError as err:
            raise UsageError(f"{path}: row {row + 1}: {err}") from None
    _, first, inverse = np.unique(space.index(archs) if space.size < 2**63 else archs, axis=0,
                                  return_index=True, return_inverse=True)
    duplicated = np.flatnonzero(first[inverse.ravel()] != np.arange(len(archs)))
    if len(duplicated):
        row = int(duplicated[0])
        raise UsageError(f"{path}: rows {first[inverse.ravel()[row]] + 1} and {row + 1} hold the same architecture {strings[row]!r}")
    attrs = {
        "dataset": dataset or path.stem,
        "training_config": {},
        "provenance": {"source": path.name, "source_checksum": file_sha256(path), "imported_columns": names},
    }
    if empty:
        attrs["provenance"]["dropped_empty_columns"] = empty
    return Table(space=space.spec, archs=archs, arch_strings=np.array(space.format_many(archs), dtype=object),
                 metrics=values, attrs=attrs)


def import_table(path: str | Path, space: Space | str, out: str | Path, arch_column: str = "arch",
                 metrics: Sequence[str] | None = None, dataset: str | None = None, command: str = "") -> Table:
    """`surrogate import`: read the CSV (`read_csv_table`), add the zero-cost proxy columns wherever
    they are free (`features.with_free_proxies`: the shipped cache holds the table's classes under
    its configuration), and write the table to
    `out` under its lock. A column dropped for being empty is said on stderr."""
    from surrogate._io import file_lock
    from surrogate.features import with_free_proxies

    table = read_csv_table(path, space, arch_column=arch_column, metrics=metrics, dataset=dataset)
    table.attrs["provenance"]["command"] = command
    dropped = table.attrs["provenance"].get("dropped_empty_columns")
    if dropped:
        import sys

        print(f"surrogate: warning: {path}: column(s) {', '.join(dropped)} hold no value in any row and are not "
              "imported", file=sys.stderr)
    table = with_free_proxies(table)
    with file_lock(out):
        table.write(out)
    return table

