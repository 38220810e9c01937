"""Robustness and ablation sweeps of bench/predictors_robust.sh that `surrogate bench predictors`
cannot express: corrupted training labels (test labels clean), raw-target variants of every model,
and CatBoost as gbt's backend. Each writes the CLI's report (results.csv, summary.md, run.json) to
OUT/NAME; a folder whose results.csv exists is skipped.

    python bench/predictors_robust.py OUT NAME TABLE METRIC CORRUPTION MODELS [TEST_SIZE] [SIZES] [SEEDS] [ENCODINGS]

CORRUPTION: none, diverged:K:VALUE or t:DF:SCALE (surrogate.benchmark.corrupt_labels). MODELS:
registry names or the variants below (`gp-raw` = gp with targets="raw", `gbt-cb` = gbt on
CatBoost, which must be importable: it is not a dependency). Encoding graf unless ENCODINGS says,
features zc when the table has them (else none).
"""

import sys
import time
from pathlib import Path

from surrogate.benchmark import PredictorBenchmark, write_report
from surrogate.catalog import resolve
from surrogate.features import default_features, expand_features, with_free_proxies
from surrogate.tabular import Table

VARIANTS = {f"{m}-raw": (m, {"targets": "raw"}) for m in ("gp", "rf", "svr", "mlp", "gbt", "ensemble")}
VARIANTS.update({
    "gp-keep": ("gp", {"outlier_z": None}),  # copula, no outlier trimming
    "mlp-nobag": ("mlp", {"bootstrap": False}),  # members on every point, spread only (the old std)
    "gbt-nocal": ("gbt", {"calibrate": False}),  # spread only (the old std)
    # the models as they were before issue 22: raw targets, the members' spread as the std
    "svr-old": ("svr", {"targets": "raw", "calibrate": False}),
    "mlp-old": ("mlp", {"targets": "raw", "bootstrap": False}),
    "gbt-old": ("gbt", {"targets": "raw", "calibrate": False}),
    "gbt-cb": ("gbt", {"backend": "catboost"}),  # ordered boosting, the same hyperparameters mapped
    # one CatBoost model near its own defaults (1000 iterations, depth 6, l2 3, its automatic learning
    # rate for this size, every feature), ordered boosting: a tau measurement (no ensemble, so no std)
    "cb-single": ("gbt", {"backend": "catboost", "ensemble": 1, "bootstrap": False, "calibrate": False,
                          "max_iter": 1000, "max_leaf_nodes": 64, "learning_rate": 0.03, "max_features": 1.0,
                          "l2_regularization": 3.0}),
    "ensemble-gp-gbt": ("ensemble", {"models": ("gp", "gbt")}),
    "ensemble-all": ("ensemble", {"models": ("gp", "rf", "gbt", "svr", "mlp")}),
    "ensemble-equal": ("ensemble", {"weights": "equal"}),
    "ensemble-3": ("ensemble", {"models": ("gp", "rf", "gbt")}),  # the first default
})


def main(argv: list[str]) -> None:
    out, name, source, metric, corruption, models = argv[:6]
    test_size = int(argv[6]) if len(argv) > 6 else 1000
    sizes = [int(s) for s in argv[7].split(",")] if len(argv) > 7 else [50, 100]
    seeds = int(argv[8]) if len(argv) > 8 else 5
    encodings = argv[9].split(",") if len(argv) > 9 else ["graf"]
    folder = Path(out) / name
    if (folder / "results.csv").exists():
        return
    table = with_free_proxies(Table.read(resolve(source)))
    bench = PredictorBenchmark(metric=metric, models=models.split(","), encodings=encodings, train_sizes=sizes,
                               test_size=test_size, seeds=seeds,
                               features=expand_features(table, default_features(table)),
                               variants={m: VARIANTS[m] for m in models.split(",") if m in VARIANTS},
                               corruption=None if corruption == "none" else corruption)
    start = time.perf_counter()
    results = bench.run(table, progress=False)
    write_report(bench, table, results, folder, source, "python bench/predictors_robust.py " + " ".join(argv),
                 time.perf_counter() - start)


if __name__ == "__main__":
    main(sys.argv[1:])
