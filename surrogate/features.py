"""Extra input columns appended to an encoding: metrics of the tabular file, or costs the package
computes from the network definition (`params`, `flops`) when the file lacks them."""

from __future__ import annotations

import numpy as np

from surrogate.errors import UsageError
from surrogate.tabular import Table

COMPUTED = ("params", "flops")


def raw_feature(table: Table, name: str) -> np.ndarray:
    """Column `name` for every architecture of `table` (mean over seeds, last epoch)."""
    if name in table.metrics:
        return table.metric(name)
    if name in COMPUTED:
        from surrogate.nets.costs import costs

        config = table.attrs.get("training_config") or {}
        kwargs = {k: int(config[k]) for k in ("channels", "cells", "num_classes") if k in config}
        if "input_shape" in config:
            kwargs["input_shape"] = tuple(int(x) for x in config["input_shape"])
        return costs(table.space, table.archs, **kwargs)[name]
    raise UsageError(f"unknown feature {name!r}: not a column of the file ({', '.join(table.metrics)}) "
                     f"nor a computed one ({', '.join(COMPUTED)})")


def feature_matrix(table: Table, names: list[str]) -> np.ndarray:
    """(n, len(names)) standardised features. Positive columns spanning over a decade are taken in
    log10 first (params, FLOPs); every column is then z-scored over the whole table, which uses no
    target values, so distance-based models weigh a feature like one encoding bit."""
    columns = []
    for name in names:
        x = raw_feature(table, name).astype(np.float64)
        finite = x[np.isfinite(x)]
        if len(finite) == 0:
            raise UsageError(f"feature {name!r} is NaN for every architecture")
        if finite.min() > 0 and finite.max() / finite.min() > 10:
            x = np.log10(x)
            finite = x[np.isfinite(x)]
        center, scale = finite.mean(), finite.std() or 1.0
        columns.append(np.nan_to_num((x - center) / scale, nan=0.0))  # missing -> the mean
    return np.stack(columns, axis=1) if columns else np.zeros((table.n, 0))
