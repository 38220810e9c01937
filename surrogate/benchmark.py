"""The predictor benchmark: how well does model M on encoding E rank unseen architectures after
training on n of them? Isomorphism-disjoint splits, the same splits for every model and encoding."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from surrogate._io import atomic_write, run_record, save_figure
from surrogate.encodings import get_encoding
from surrogate.errors import UsageError
from surrogate.features import feature_matrix
from surrogate.metrics import METRIC_NAMES, prediction_metrics
from surrogate.models import get_model
from surrogate.spaces import get_space
from surrogate.splits import disjoint_splits
from surrogate.tabular import Table

#: model name of the weight-sharing estimate: it reads a column (`supernet_column`) and needs no training data.
SUPERNET = "supernet"
JSON_FIELDS = ("model", "encoding", "train_size", "kendall_tau", "kendall_tau_std", "spearman", "pearson",
               "precision_top1pct", "precision_top5pct", "rmse", "nll", "coverage90", "fit_seconds", "predict_seconds")


def run_and_report(bench: "PredictorBenchmark", table: Table, out: Path, source: str, command: str,
                   progress: bool = True, notes: Sequence[str] = ()) -> list[dict]:
    """`surrogate bench predictors`: every check before any work (the output folder too), the
    `notes` for the user, the runs, then the report under `out`; returns the summary."""
    from surrogate._io import check_output_folder, note

    bench.validate(table)
    check_output_folder(out)
    for text in notes:
        note(text)
    start = time.perf_counter()
    results = bench.run(table, progress=progress)
    return write_report(bench, table, results, out, source, command, time.perf_counter() - start)


def default_pairs(space: str, features: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(model, encoding) runs the default sweep adds beside its cross product: on a space of plain
    choices (no cell DAG) the categorical GP on choice indices, the model bo uses there, which
    reads no feature columns (bench/results/out_of_the_box.md)."""
    from surrogate.spaces import CellSpace

    return [] if features or isinstance(get_space(space), CellSpace) else [("cgp", "index")]


def default_encodings(space: str) -> list[str]:
    """Every default encoding the space can have (a chain space has no DAG, so no adjacency/path),
    `graf` included: the default run shows the best the project has."""
    usable = []
    for name in ("onehot", "adjacency", "path", "graf"):
        try:
            get_encoding(name, space)
            usable.append(name)
        except UsageError:
            pass
    return usable


def corrupt_labels(y: np.ndarray, corruption: str | None, seed: int, n: int) -> np.ndarray:
    """Training labels as a robustness case makes them (test labels stay clean), drawn from
    (seed, n): `diverged:K:VALUE` sets K of them to VALUE (a diverged network: 10 on CIFAR-10
    accuracy), `t:DF:SCALE` adds Student-t noise with DF degrees of freedom times SCALE (heavy tails:
    DF 1 is Cauchy). None leaves them as they are."""
    if not corruption:
        return y
    kind, *args = corruption.split(":")
    rng = np.random.default_rng([seed, n, 22])
    y = np.array(y, dtype=np.float64)
    if kind == "diverged" and len(args) == 2:
        y[rng.choice(len(y), min(int(args[0]), len(y)), replace=False)] = float(args[1])
        return y
    if kind == "t" and len(args) == 2:
        return y + float(args[1]) * rng.standard_t(float(args[0]), len(y))
    raise UsageError(f"unknown corruption {corruption!r} (diverged:K:VALUE or t:DF:SCALE)")


@dataclass
class PredictorBenchmark:
    """A sweep definition; `run(table)` returns one row per (model, encoding, train size, seed).

    `variants` names models with hyperparameters: `{"gp-raw": ("gp", {"targets": "raw"})}` lets
    `models` hold "gp-raw" beside "gp". `pairs` are (model, encoding) runs beside the cross product
    of `models` and `encodings` (`default_pairs`). `corruption` corrupts the training labels only
    (`corrupt_labels`), the same way for every model.
    """

    metric: str
    models: list[str] = field(default_factory=lambda: ["gp", "rf", "svr", "mlp", "gbt", "ensemble"])
    encodings: list[str] = field(default_factory=lambda: ["onehot", "adjacency", "path"])
    train_sizes: list[int] = field(default_factory=lambda: [20, 50, 100, 200, 400])
    test_size: int = 1000
    seeds: int = 5
    features: list[str] = field(default_factory=list)
    supernet_column: str = "supernet_acc"
    variants: dict[str, tuple[str, dict]] = field(default_factory=dict)
    corruption: str | None = None
    pairs: list[tuple[str, str]] = field(default_factory=list)

    def learned_runs(self) -> list[tuple[str, str]]:
        """Every (model, encoding) fitted: the cross product, then `pairs` not already in it."""
        runs = [(m, e) for e in self.encodings for m in self.models if m != SUPERNET]
        return runs + [pair for pair in self.pairs if pair not in runs]

    def model(self, name: str, seed: int | None = None):
        """A fresh predictor for `name`: a registry name or one of `variants`."""
        model, params = self.variants.get(name, (name, {}))
        return get_model(model, **{**params, "seed": seed})

    def targets(self, table: Table) -> np.ndarray:
        """The metric, better-is-higher: a metric the table records as minimised (bits per
        character, a loss) is negated, so precision@top-k counts the best architectures and the
        correlations keep their sign."""
        y = table.metric(self.metric)
        return -y if (table.attrs.get("directions") or {}).get(self.metric) == "min" else y

    def validate(self, table: Table) -> None:
        """Fail fast, before any work, on names or sizes that cannot run."""
        y = self.targets(table)
        if np.isnan(y).all():
            raise UsageError(f"metric {self.metric!r} is NaN for every architecture")
        if np.isinf(y).any():
            raise UsageError(f"metric {self.metric!r} holds infinite values (row {np.flatnonzero(np.isinf(y))[0] + 1})")
        for name in [*self.models, *(m for m, _ in self.pairs)]:
            if name != SUPERNET:
                self.model(name)
            elif self.supernet_column not in table.metrics:
                raise UsageError(f"model {SUPERNET!r} reads column {self.supernet_column!r}, which the file lacks: "
                                 "add it with `surrogate supernet estimate SUPERNET.pt --into FILE`")
        extra = feature_matrix(table, self.features)[:16]
        with_features = f" with features {','.join(self.features)}" if self.features else ""
        for name, encoding in self.learned_runs():  # a model that cannot read an encoding (cgp and graf) says so
            probe = np.hstack([get_encoding(encoding, table.space)(table.archs[:16]), extra])
            self.model(name).check_inputs(probe, f"encoding {encoding!r}{with_features}")
        if min(self.train_sizes) < 2 or self.test_size < 2 or self.seeds < 1:
            raise UsageError("train sizes and the test size must be >= 2, and seeds >= 1")
        corrupt_labels(np.zeros(2), self.corruption, 0, 2)

    def run(self, table: Table, progress: bool = True) -> pd.DataFrame:
        self.validate(table)
        space = get_space(table.space)
        y = self.targets(table)
        class_ids = space.canonical_ids(table.archs)
        extra = feature_matrix(table, self.features)
        learned = self.learned_runs()
        encodings = dict.fromkeys(e for _, e in learned)  # each once, in order
        inputs = {e: np.hstack([get_encoding(e, space)(table.archs), extra]) for e in encodings}
        splits = [disjoint_splits(class_ids, self.train_sizes, self.test_size, seed, valid=~np.isnan(y))
                  for seed in range(self.seeds)]
        total = self.seeds * (len(learned) + (SUPERNET in self.models)) * len(self.train_sizes)
        rows = []
        with tqdm(total=total, desc="bench predictors", unit="fit", disable=not progress, dynamic_ncols=True) as bar:
            for seed, (train_sets, test) in enumerate(splits):
                runs = [(m, e, inputs[e]) for m, e in learned]
                if SUPERNET in self.models:  # the estimate itself: one "encoding", the column
                    runs.append((SUPERNET, self.supernet_column, table.metric(self.supernet_column)[:, None]))
                for model_name, encoding, x in runs:
                    for n in self.train_sizes:
                        train = train_sets[n]
                        model = ColumnEstimate() if model_name == SUPERNET else self.model(model_name, seed)
                        start = time.perf_counter()
                        model.fit(x[train], corrupt_labels(y[train], self.corruption, seed, n))
                        fitted = time.perf_counter()
                        mean, std = model.predict(x[test])
                        predicted = time.perf_counter()
                        rows.append({"model": model_name, "encoding": encoding, "features": ",".join(self.features),
                                     "train_size": n, "seed": seed, **prediction_metrics(y[test], mean, std),
                                     "fit_seconds": fitted - start, "predict_seconds": predicted - fitted})
                        bar.set_postfix_str(f"{model_name}/{encoding}/n={n}", refresh=False)
                        bar.update()
        return pd.DataFrame(rows)


class ColumnEstimate:
    """A zero-shot predictor: the input's single column is the prediction (a supernet estimate).
    It ignores its training data, so its row is the same at every training size; it has no
    uncertainty, so its NLL is NaN (its RMSE says how far the estimate's scale is from the target's)."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> "ColumnEstimate":
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        column = X[:, 0].astype(np.float64)
        finite = column[np.isfinite(column)]
        return np.nan_to_num(column, nan=finite.min() if len(finite) else 0.0), np.full(len(X), np.nan)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (model, encoding, train size), plus the std of every measured column."""
    keys = ["model", "encoding", "train_size"]
    values = [*METRIC_NAMES, "fit_seconds", "predict_seconds"]
    grouped = results.groupby(keys, sort=False)[values]
    mean, std = grouped.mean(), grouped.std(ddof=0)
    return mean.join(std.add_suffix("_std")).reset_index()


def json_document(metric: str, summary: pd.DataFrame) -> dict:
    """The `--json` contract: means over seeds with exactly JSON_FIELDS; NaN becomes null."""
    def clean(v):
        if isinstance(v, (np.integer,)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return None if math.isnan(v) else float(v)
        return v

    return {"metric": metric, "results": [{k: clean(row[k]) for k in JSON_FIELDS} for _, row in summary.iterrows()]}


def markdown_table(summary: pd.DataFrame) -> str:
    header = ["model", "encoding", "n", "Kendall tau", "Spearman", "Pearson", "P@1%", "P@5%", "RMSE", "NLL", "cov90",
              "fit s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in summary.iterrows():
        cells = [r.model, r.encoding, str(r.train_size), f"{r.kendall_tau:.3f} ± {r.kendall_tau_std:.3f}",
                 f"{r.spearman:.3f}", f"{r.pearson:.3f}", f"{r.precision_top1pct:.2f}", f"{r.precision_top5pct:.2f}",
                 f"{r.rmse:.3g}", f"{r.nll:.3g}", f"{r.coverage90:.2f}", f"{r.fit_seconds:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_kendall_tau(summary: pd.DataFrame, path: Path, title: str) -> None:
    """kendall_tau.png: tau against the training-set size, one line per model/encoding; with a
    single size, a dot plot (one row per model/encoding, the spread over seeds as a bar)."""
    save_figure(kendall_tau_figure(summary, title), path)


def kendall_tau_figure(summary: pd.DataFrame, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (matplotlib.ticker below)

    sizes = sorted(summary.train_size.unique())
    # one colour per model, one line style and marker per encoding: 12 series stay tellable apart
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(summary.model.unique())}
    styles = {e: (["-", "--", ":", "-."][i % 4], "osD^v<>"[i % 7]) for i, e in enumerate(summary.encoding.unique())}
    if len(sizes) == 1:  # every point at one x would overlap: a dot per model/encoding instead
        rows = list(summary.groupby(["model", "encoding"], sort=False))
        fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * len(rows)))
        for y, ((model, encoding), group) in enumerate(rows):
            ax.errorbar(group.kendall_tau, [y] * len(group), xerr=group.kendall_tau_std, marker=styles[encoding][1],
                        capsize=3, linestyle="none", color=colours[model])
        ax.set_yticks(range(len(rows)), [f"{model} / {encoding}" for (model, encoding), _ in rows])
        ax.invert_yaxis()  # the summary's order, top to bottom
        ax.set_xlabel(f"Kendall tau on held-out classes ({sizes[0]} training architectures)")
        ax.grid(alpha=0.3, axis="x")
        ax.set_title(title)
        fig.tight_layout()
        return fig
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (model, encoding), group in summary.groupby(["model", "encoding"], sort=False):
        line, marker = styles[encoding]
        ax.errorbar(group.train_size, group.kendall_tau, yerr=group.kendall_tau_std, marker=marker, capsize=3,
                    linestyle=line, color=colours[model], label=f"{model} / {encoding}")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # log minor ticks collide with the sizes' labels
    ax.set_xlabel("training architectures")
    ax.set_ylabel("Kendall tau on held-out classes")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def write_report(bench: PredictorBenchmark, table: Table, results: pd.DataFrame, out: Path, source: str,
                 command: str, seconds: float) -> pd.DataFrame:
    """results.csv, summary.md, kendall_tau.png and run.json under `out`; returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    atomic_write(out / "results.csv", results.to_csv(index=False))
    run = run_record(command, source, table.checksum(), range(bench.seeds),
                     space=table.space, dataset=table.attrs.get("dataset"), metric=bench.metric,
                     test_size=bench.test_size, train_sizes=bench.train_sizes, models=bench.models,
                     encodings=bench.encodings, features=bench.features,
                     **({"pairs": [list(p) for p in bench.pairs]} if bench.pairs else {}),
                     **({"variants": {k: [m, p] for k, (m, p) in bench.variants.items()}} if bench.variants else {}),
                     **({"corruption": bench.corruption} if bench.corruption else {}),
                     split="isomorphism-disjoint (one architecture per canonical class; nested training sets)",
                     seconds=round(seconds, 2))
    atomic_write(out / "run.json", json.dumps(run, indent=2) + "\n")
    title = f"{table.attrs.get('dataset') or table.space}: {bench.metric}"
    text = [f"# Predictor benchmark: {title}", "",
            f"{bench.seeds} seeds, test size {bench.test_size}, isomorphism-disjoint splits"
            + (f", extra features: {', '.join(bench.features)}" if bench.features else "")
            + (f", training labels corrupted ({bench.corruption}; test labels clean)" if bench.corruption else "")
            + (f"; {bench.metric} is minimised, so the models predict -{bench.metric} (precision@top-k counts the "
               "lowest values)" if (table.attrs.get("directions") or {}).get(bench.metric) == "min" else "") + ".",
            f"Mean over seeds (± std for Kendall tau); cov90 is the share of test values inside the predicted "
            f"90 % interval (mean ± 1.645 std). Command: `{command}`", "", markdown_table(summary), ""]
    atomic_write(out / "summary.md", "\n".join(text))
    plot_kendall_tau(summary, out / "kendall_tau.png", title)
    return summary
