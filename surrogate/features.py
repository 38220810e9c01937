"""Extra input columns appended to an encoding: metrics of the tabular file, or costs the package
computes from the network definition (`params`, `flops`) when the file lacks them. `zc` stands for
every zero-cost proxy column of the file (`zc_*`, written by `surrogate proxies`)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from surrogate.errors import UsageError
from surrogate.tabular import Table

COMPUTED = ("params", "flops")
#: the prefix of zero-cost proxy columns (`surrogate proxies`)
PROXY_PREFIX = "zc_"
#: shorthand for every zero-cost proxy column of a table
ZC = "zc"


def default_features(table: Table | None) -> list[str]:
    """The columns bo reads beside its encoding when none are named: the table's zero-cost proxies
    (`zc`) when it has any; nothing for a live campaign (`table` None)."""
    return [ZC] if table is not None and any(m.startswith(PROXY_PREFIX) for m in table.metrics) else []


def with_free_proxies(table: Table, note: Callable[[str], None] | None = None, source: str = "FILE") -> Table:
    """The one rule for zero-cost proxy columns, wherever a table is used (`import`, `search`,
    `bench predictors`): a table with `zc_` columns keeps them; one whose classes the shipped cache
    holds under its configuration gets them from the cache (no computing: a lookup); otherwise, for
    a space with a network, `note` is told what `surrogate proxies` would add to `source` (the
    table's file or shipped name) and about what it would cost."""
    if any(m.startswith(PROXY_PREFIX) for m in table.metrics):
        return table
    from surrogate import proxies

    found = proxies.cached_columns(table)
    if found is not None:
        columns, facts = found
        for name, column in columns.items():
            table = table.with_metric(name, column)
        table.attrs["proxies"] = {name: facts for name in columns}
        return table
    try:
        proxies.config_for_table(table)
    except UsageError:  # no network: no proxies
        return table
    if note is not None:
        from surrogate.spaces import get_space

        classes = len(np.unique(get_space(table.space).canonical_ids(table.archs)))
        minutes = classes * proxies.SECONDS_PER_CLASS / 60
        from surrogate.catalog import SHIPPED

        command = f"surrogate proxies {source}"
        if source in SHIPPED:
            command = f'cp "$(surrogate datasets --path {source})" my.h5 && surrogate proxies my.h5'
        from surrogate.spaces import CellSpace

        blocks = "" if isinstance(get_space(table.space), CellSpace) else (
            " (proxies of the block chain each choice vector builds: useful when the choices are network blocks, "
            "not for a table of other hyperparameters)")
        note(f"{source} has no zero-cost proxy columns and no shipped cache holds its networks; `{command}` would "
             f"add them (zc_*, read by bo and the predictors by default), about {minutes:.0f} CPU-minutes for its "
             f"{classes} classes (--workers K divides it){blocks}")
    return table


def expand_features(table: Table, names: list[str]) -> list[str]:
    """`names` with `zc` replaced by the table's `zc_*` columns (in file order); a UsageError when
    it has none."""
    out: list[str] = []
    for name in names:
        if name == ZC:
            columns = [m for m in table.metrics if m.startswith("zc_")]
            if not columns:
                raise UsageError("feature 'zc': the file has no zc_ columns; add them with `surrogate proxies FILE`")
            out += columns
        else:
            out.append(name)
    return list(dict.fromkeys(out))


def raw_feature(table: Table, name: str) -> np.ndarray:
    """Column `name` for every architecture of `table` (mean over seeds, last epoch)."""
    if name in table.metrics:
        return table.metric(name)
    if name in COMPUTED:
        from surrogate.nets.costs import costs

        return costs(table.space, table.archs, **network_kwargs(table, name))[name]
    raise UsageError(f"unknown feature {name!r}: not a column of the file ({', '.join(table.metrics)}) "
                     f"nor a computed one ({', '.join(COMPUTED)})")


def network_kwargs(table: Table, what: str = "costs") -> dict:
    """The network settings a table's training recorded (`channels`, `cells`, `num_classes`,
    `input_shape`), as `nets.costs.costs` and `nets.latency` take them: the input shape and classes
    from its image dataset (pooled to its `resolution`) where the configuration does not name them;
    those it lacks keep their defaults (NB201's on CIFAR-10)."""
    from surrogate.train.data import IMAGE_SHAPES

    config = table.attrs.get("training_config") or {}
    kwargs = {k: int(config[k]) for k in ("channels", "cells", "num_classes") if k in config}
    if table.attrs.get("dataset") in IMAGE_SHAPES:
        (c, h, w), classes = IMAGE_SHAPES[table.attrs["dataset"]]
        side = config.get("resolution")
        kwargs = {"num_classes": classes, "input_shape": (c, int(side or h), int(side or w)), **kwargs}
    if "input_shape" in config:
        kwargs["input_shape"] = tuple(int(x) for x in config["input_shape"])
    from surrogate.nets import LANGUAGE_MODELS
    from surrogate.spaces import get_space

    if get_space(table.space).kind in LANGUAGE_MODELS:  # a language model's costs depend on its vocabulary
        vocab = (config.get("split") or {}).get("vocab")
        if not vocab or "channels" not in config:
            raise UsageError(f"{what} of {table.space} networks depend on the vocabulary and hidden size, which "
                             f"this table does not record: add a {what} column to it")
        kwargs |= {"num_classes": len(vocab), "input_shape": (len(vocab),)}
    return kwargs


def feature_matrix(table: Table, names: list[str]) -> np.ndarray:
    """(n, len(names)) standardised features (`zc` expanded). Zero-cost proxy columns (`zc_*`) become
    normal scores of their ranks; other positive columns spanning over a decade are taken in
    log10 first (params, FLOPs); every other column is then z-scored over the whole table, which uses no
    target values, so distance-based models weigh a feature like one encoding bit."""
    columns = []
    for name in expand_features(table, names):
        x = raw_feature(table, name).astype(np.float64)
        finite = x[np.isfinite(x)]
        if len(finite) == 0:
            raise UsageError(f"feature {name!r} is NaN for every architecture")
        if name.startswith("zc_"):  # heavy-tailed scores whose scale means nothing: normal scores of the ranks
            columns.append(_normal_scores(x))
            continue
        if finite.min() > 0 and finite.max() / finite.min() > 10:
            x = np.log10(x)
            finite = x[np.isfinite(x)]
        center, scale = finite.mean(), finite.std() or 1.0
        columns.append(np.nan_to_num((x - center) / scale, nan=0.0))  # missing -> the mean
    return np.stack(columns, axis=1) if columns else np.zeros((table.n, 0))


class ClassFeatures:
    """`feature_matrix` of a table as a function of architectures, by isomorphism class (the mean
    of the class's rows): the extra inputs a search strategy reads beside its encoding for any
    architecture of the table, whichever member of a class it holds. Calling it on an architecture
    whose class the table lacks is a UsageError: its measurements do not exist."""

    def __init__(self, table: Table, names: list[str]):
        from surrogate.spaces import get_space

        self.names = expand_features(table, names)
        self.space = get_space(table.space)
        x = feature_matrix(table, names)
        self.classes, inverse = np.unique(self.space.canonical_ids(table.archs), return_inverse=True)
        sums = np.zeros((len(self.classes), x.shape[1]))
        np.add.at(sums, inverse, x)
        self.rows = sums / np.bincount(inverse, minlength=len(self.classes))[:, None]

    def __call__(self, archs: np.ndarray) -> np.ndarray:
        ids = self.space.canonical_ids(np.atleast_2d(archs))
        at = np.minimum(np.searchsorted(self.classes, ids), len(self.classes) - 1)
        if (self.classes[at] != ids).any():
            raise UsageError(f"feature columns {', '.join(self.names)} hold no value for architecture class "
                             f"{ids[self.classes[at] != ids][0]}: it is not in the table")
        return self.rows[at]


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """Ranks over the whole table (ties averaged, no target values) mapped to standard normal
    quantiles; NaN -> 0, the median."""
    from scipy import stats

    out = np.zeros(len(x))
    finite = np.isfinite(x)
    if finite.sum() > 1:
        ranks = stats.rankdata(x[finite])
        out[finite] = stats.norm.ppf((ranks - 0.5) / finite.sum())
    return out
