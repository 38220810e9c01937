"""The project's data format: a tabular NAS store in HDF5 (schema in datasets/README.md).

Architectures are an int matrix plus their strings; each metric is a dense float64 array
(archs, seeds, epochs) with NaN where missing. Writes are atomic; reads verify a content checksum.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np
import pandas as pd

from surrogate import __version__
from surrogate._io import atomic_path
from surrogate.errors import UsageError

SCHEMA_VERSION = 1
_JSON_ATTRS = ("training_config", "provenance")


@dataclass
class Table:
    """An in-memory tabular benchmark: `metrics[name]` has shape (n, seeds, epochs)."""

    space: str
    archs: np.ndarray
    arch_strings: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.archs = np.asarray(self.archs, dtype=np.int64)
        if self.archs.ndim != 2:
            raise UsageError(f"archs must be an (n, d) matrix, got shape {self.archs.shape}")
        self.arch_strings = np.asarray([str(s) for s in self.arch_strings], dtype=object)
        if len(self.arch_strings) != self.n:
            raise UsageError("one arch string is needed per architecture")
        if len(set(self.arch_strings.tolist())) != self.n:
            raise UsageError("arch strings must be unique")
        self.metrics = {str(k): _as_metric(v, self.n, k) for k, v in self.metrics.items()}
        self.attrs = dict(self.attrs)
        self._index: dict[str, int] | None = None

    @property
    def n(self) -> int:
        return len(self.archs)

    @property
    def metric_names(self) -> list[str]:
        return list(self.metrics)

    # --- values ---------------------------------------------------------------------------------
    def metric(self, name: str, epoch: int = -1, seed: int | str = "mean") -> np.ndarray:
        """One value per architecture: at `epoch`, for seed index `seed` or the mean over seeds."""
        if name not in self.metrics:
            raise UsageError(f"unknown metric {name!r} (available: {', '.join(self.metrics) or 'none'})")
        values = self.metrics[name]
        _, seeds, epochs = values.shape
        if not -epochs <= epoch < epochs:
            raise UsageError(f"metric {name!r} has {epochs} epoch(s); epoch {epoch} is out of range")
        at_epoch = values[:, :, epoch]
        if seed == "mean":
            counts = np.sum(~np.isnan(at_epoch), axis=1)
            sums = np.nansum(at_epoch, axis=1)
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        if not isinstance(seed, (int, np.integer)) or not -seeds <= seed < seeds:
            raise UsageError(f"metric {name!r} has {seeds} seed(s); seed {seed!r} is out of range")
        return at_epoch[:, seed].copy()

    def with_metric(self, name: str, values: np.ndarray) -> "Table":
        """A copy with metric `name` added or replaced; (n,), (n, seeds) or (n, seeds, epochs)."""
        metrics = dict(self.metrics)
        metrics[name] = values
        return Table(self.space, self.archs.copy(), self.arch_strings.copy(), metrics, json.loads(json.dumps(self.attrs)))

    def lookup(self, items: np.ndarray | Sequence[str]) -> np.ndarray:
        """Row of each architecture (given as strings or an int matrix), -1 where absent."""
        if isinstance(items, np.ndarray) and items.dtype != object and np.issubdtype(items.dtype, np.integer):
            rows = np.atleast_2d(items).astype(np.int64)
            keys = {r.tobytes(): i for i, r in enumerate(self.archs)}
            return np.array([keys.get(r.tobytes(), -1) for r in rows], dtype=np.int64)
        if self._index is None:
            self._index = {s: i for i, s in enumerate(self.arch_strings.tolist())}
        return np.array([self._index.get(str(s), -1) for s in items], dtype=np.int64)

    def to_frame(self, epoch: int = -1, seed: int | str = "mean") -> pd.DataFrame:
        frame = pd.DataFrame({"arch": self.arch_strings})
        for name in self.metrics:
            frame[name] = self.metric(name, epoch=epoch, seed=seed)
        return frame

    # --- integrity ------------------------------------------------------------------------------
    def checksum(self) -> str:
        """sha256 over the content (archs, strings, metric names and values), not the HDF5 bytes."""
        digest = hashlib.sha256()
        digest.update(self.space.encode())
        digest.update(np.ascontiguousarray(self.archs, dtype="<i8").tobytes())
        digest.update("\n".join(self.arch_strings.tolist()).encode())
        for name in sorted(self.metrics):
            values = self.metrics[name]
            digest.update(f"\n{name}{values.shape}".encode())
            digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
        return "sha256:" + digest.hexdigest()

    # --- files ----------------------------------------------------------------------------------
    def write(self, path: str | Path) -> None:
        """Write atomically (`_io.atomic_path`): a killed write never leaves half a table. A shipped
        table's file is never written (`catalog.refuse_write`), whatever path names it."""
        from surrogate.catalog import refuse_write

        refuse_write(path)
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["space"] = self.space
            f.attrs["package_version"] = __version__
            f.attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            f.attrs["checksum"] = self.checksum()
            f.attrs["metric_names"] = json.dumps(list(self.metrics))  # HDF5 groups forget order
            for key, value in self.attrs.items():
                if key not in ("schema_version", "space", "package_version", "created", "checksum", "metric_names"):
                    f.attrs[key] = json.dumps(value) if key in _JSON_ATTRS or not isinstance(value, str) else value
            f.create_dataset("archs", data=self.archs, compression="gzip", shuffle=True)
            f.create_dataset("arch_strings", data=self.arch_strings.astype(object), dtype=h5py.string_dtype())
            group = f.create_group("metrics")
            for name, values in self.metrics.items():
                group.create_dataset(name, data=values, compression="gzip", shuffle=True)

    @classmethod
    def read(cls, path: str | Path) -> "Table":
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        try:
            with h5py.File(path, "r") as f:
                version = int(f.attrs.get("schema_version", -1))
                if version != SCHEMA_VERSION:
                    raise UsageError(f"{path}: not a surrogate tabular file of schema {SCHEMA_VERSION} (found {version})")
                attrs = {}
                for key, value in f.attrs.items():
                    value = value.decode() if isinstance(value, bytes) else value
                    if key in _JSON_ATTRS or (isinstance(value, str) and key not in ("space", "checksum", "created", "package_version")):
                        try:
                            value = json.loads(value)
                        except (TypeError, ValueError):
                            pass
                    attrs[key] = value.item() if isinstance(value, np.generic) else value
                table = cls(space=str(attrs.pop("space")), archs=f["archs"][()],
                            arch_strings=[s.decode() if isinstance(s, bytes) else s for s in f["arch_strings"][()]],
                            metrics={name: f["metrics"][name][()] for name in attrs.pop("metric_names", list(f["metrics"]))},
                            attrs=attrs)
        except UsageError:
            raise
        except (OSError, KeyError, ValueError) as err:
            raise UsageError(f"{path}: unreadable or corrupt HDF5 file ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
        stored = table.attrs.get("checksum")
        checksum = table.checksum()
        if stored != checksum:
            raise UsageError(f"{path}: checksum mismatch (file modified or corrupt)")
        from surrogate.catalog import check_shipped

        check_shipped(path, checksum)  # a shipped file holds exactly what it shipped with
        return table


#: how a metric's name says which way is better, for the tables `surrogate generate` writes
_HIGHER_IS_BETTER = re.compile(r"(^|_)(acc|accuracy|auc|f1)($|_)")
_LOWER_IS_BETTER = re.compile(r"(^|_)(loss|bpc|ppl|perplexity|error|err|seconds|params|flops|latency|ms|diverged)($|_)")


def direction_of(name: str) -> str | None:
    """`"max"` or `"min"` for a metric whose name says which way is better (accuracies; losses,
    bits per character, costs), None when it does not."""
    if _HIGHER_IS_BETTER.search(name):
        return "max"
    return "min" if _LOWER_IS_BETTER.search(name) else None


def directions(metrics) -> dict[str, str]:
    """The `directions` attribute a generated table records: each metric's direction, where its
    name says one (`direction_of`). A search that asks a metric the other way is refused."""
    return {name: d for name in metrics if (d := direction_of(name)) is not None}


def _as_metric(values: np.ndarray, n: int, name: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None, None]
    elif a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[0] != n:
        raise UsageError(f"metric {name!r} must have shape (archs={n}, seeds, epochs), got {a.shape}")
    return a


def describe(table: Table) -> dict:
    """What `surrogate info` prints: per-metric counts and quantiles of the default vector;
    `seeds` is the array's seed axis, `seed_counts` how many architectures have records of k seeds
    ({k: archs}, k >= 1: a table whose second seed covers a quarter of the cells says {1: 750, 2: 250})."""
    metrics = {}
    for name, values in table.metrics.items():
        v = table.metric(name)
        finite = v[~np.isnan(v)]
        q = np.quantile(finite, [0, 0.5, 1]) if len(finite) else [np.nan] * 3
        per_arch = (~np.isnan(values)).any(axis=2).sum(axis=1)  # seeds with a record, per architecture
        counts = np.bincount(per_arch, minlength=values.shape[1] + 1)
        metrics[name] = {"count": int(len(finite)), "seeds": values.shape[1], "epochs": values.shape[2],
                         "seed_counts": {k: int(c) for k, c in enumerate(counts) if k and c},
                         "min": float(q[0]), "median": float(q[1]), "max": float(q[2])}
    return {"archs": table.n, "metrics": metrics, "package_version": table.attrs.get("package_version", ""),
            "checksum": table.checksum()}


def describe_shipped() -> list[dict]:
    """One summary per shipped table: name, path, space, archs, unique classes, metrics, source, checksum."""
    from surrogate.catalog import available
    from surrogate.spaces import get_space

    rows = []
    for shipped in available():
        table = Table.read(shipped.path)
        unique = len(np.unique(get_space(table.space).canonical_ids(table.archs))) if table.n else 0
        rows.append({"name": shipped.name, "path": str(shipped.path), "space": table.space, "archs": table.n,
                     "unique": unique, "metrics": list(table.metrics), "source": shipped.source,
                     "checksum": table.checksum()})
    return rows


def _columns(rows: list[tuple[str, ...]], left: tuple[int, ...], indent: str = "") -> list[str]:
    """Rows as aligned text columns (`left`: the left-aligned ones, the rest right-aligned)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
            .rstrip() for r in rows]


def shipped_text() -> str:
    """What `surrogate datasets` prints: one line per shipped table, then where each comes from."""
    rows = describe_shipped()
    lines = _columns([("name", "space", "archs", "unique", "metrics", "checksum")]
                     + [(r["name"], r["space"], str(r["archs"]), str(r["unique"]), str(len(r["metrics"])),
                         r["checksum"][:19] + "…") for r in rows], left=(0, 1, 5))
    return "\n".join([*lines, "", *(f"{r['name']}: {r['source']}" for r in rows),
                      "use a name wherever a command takes a table FILE, e.g. `surrogate info nb201`"])


def info_text(table: Table, name: str) -> str:
    """What `surrogate info` prints: the table's facts, per-metric counts and quantiles, its
    training configuration, provenance and checksum."""
    from surrogate.spaces import get_space

    facts = describe(table)
    unique = len(np.unique(get_space(table.space).canonical_ids(table.archs))) if table.n else 0
    rows = [("name", "count", "seeds", "epochs", "min", "median", "max")]
    for metric, m in facts["metrics"].items():
        counts = m["seed_counts"]  # architectures per number of seeds recorded: "1: 750, 2: 250" when they differ
        seeds = str(next(iter(counts))) if len(counts) == 1 else ", ".join(f"{k}: {n}" for k, n in counts.items())
        rows.append((metric, str(m["count"]), seeds or "0", str(m["epochs"]),
                     *(f"{m[k]:.4g}" for k in ("min", "median", "max"))))
    lines = [f"file: {name}", f"space: {table.space}", f"dataset: {table.attrs.get('dataset', '')}",
             f"archs: {table.n}", f"unique: {unique}", f"metrics: {len(facts['metrics'])}",
             *_columns(rows, left=(0,), indent="  ")]
    if table.attrs.get("directions"):
        lines.append("minimised: " + ", ".join(k for k, d in table.attrs["directions"].items() if d == "min"))
    lines += [f"{key}: " + ", ".join(f"{k}={v}" for k, v in table.attrs[key].items())
              for key in ("training_config", "provenance") if table.attrs.get(key)]
    return "\n".join([*lines, f"package_version: {facts.get('package_version', '')}", f"checksum: {facts['checksum']}"])

