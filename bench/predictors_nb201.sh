#!/usr/bin/env bash
# The predictor benchmark on NAS-Bench-201 (hp=12) for CIFAR-10 and CIFAR-100, with encodings alone
# and with the computed params/FLOPs features; writes bench/results/predictors_nb201.md.
# Needs the shared CSV (../shared/data/nb201/nb201_hp12_accuracy.csv). About 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
CSV=${CSV:-../shared/data/nb201/nb201_hp12_accuracy.csv}
OUT=${OUT:-runs/bench-nb201}
mkdir -p "$OUT"
.venv/bin/surrogate import "$CSV" --space nb201 --out "$OUT/nb201.h5"
for metric in cifar10_valid_acc cifar100_valid_acc; do
  .venv/bin/surrogate bench predictors "$OUT/nb201.h5" --metric $metric --out "$OUT/$metric" --json > "$OUT/$metric.json"
  .venv/bin/surrogate bench predictors "$OUT/nb201.h5" --metric $metric --features params,flops \
    --out "$OUT/$metric-costs" --json > "$OUT/$metric-costs.json"
done
.venv/bin/python bench/report_predictors.py "$OUT" > bench/results/predictors_nb201.md
