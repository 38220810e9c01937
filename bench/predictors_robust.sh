#!/usr/bin/env bash
# Predictors robust to long-training labels (issue 22, item 4): copula targets, calibrated stds,
# the ensemble, CatBoost as gbt's backend; writes bench/results/predictors_robust.md.
#  1. `surrogate bench predictors` as a user runs it (default encodings, zc where the table has it)
#     on nb201 CIFAR-10/100 valid and nb201-fmnist (test 500: the table has 1,000 cells);
#  2. NB201 C10 graf+zc, training labels corrupted (a few diverged cells at 10 %, Cauchy noise),
#     every model with copula and raw targets (bench/predictors_robust.py);
#  3. gbt on CatBoost (ordered boosting) against scikit-learn's histogram boosting, same splits;
#  4. the ensemble with all five models, or equal weights, on nb201-fmnist.
# CatBoost is not a dependency: CB=/path/to/a/folder/holding/catboost (pip install --target ...) for
# step 3, which is skipped without it. Run niced and single-threaded, at most two sweeps at a time:
#   OMP_NUM_THREADS=1 nice -n 10 bench/predictors_robust.sh
set -euo pipefail
cd "$(dirname "$0")/.."
S=.venv/bin/surrogate
PY=.venv/bin/python
OUT=${OUT:-runs/robust}
MODELS=${MODELS:-gp,rf,svr,mlp,gbt,ensemble}
mkdir -p "$OUT"
cli() {  # cli NAME TABLE METRIC TEST ARGS...: one default sweep, skipped when its JSON exists
  local name=$1 table=$2 metric=$3 test=$4; shift 4
  [ -s "$OUT/$name.json" ] || $S bench predictors "$table" --metric "$metric" --train-sizes 50,100 \
    --test-size "$test" --models "$MODELS" --out "$OUT/$name" --json --no-progress "$@" > "$OUT/$name.json"
}
robust() { $PY bench/predictors_robust.py "$OUT" "$@"; }
ALL=gp,gp-raw,gp-keep,rf,rf-raw,svr,svr-raw,mlp,mlp-raw,gbt,gbt-raw,ensemble,ensemble-raw

# 1. the defaults, as a user runs them (two at a time)
cli nb201-c10 nb201 cifar10_valid_acc 1000 &
cli nb201-c100 nb201 cifar100_valid_acc 1000
wait
cli fmnist nb201-fmnist valid_acc 500

# 2. robustness: NB201 C10 graf+zc, corrupted training labels, copula vs raw targets
robust c10-clean nb201 cifar10_valid_acc none $ALL,svr-old,mlp-old,gbt-old &
robust c10-diverged1 nb201 cifar10_valid_acc diverged:1:10 $ALL
wait
robust c10-diverged3 nb201 cifar10_valid_acc diverged:3:10 $ALL &
robust c10-cauchy nb201 cifar10_valid_acc t:1:1 $ALL
wait

# 3. CatBoost (ordered boosting) as gbt's backend, same splits and features
if [ -n "${CB:-}" ]; then
  export PYTHONPATH="${PYTHONPATH:-.}:$CB"
  robust cb-c10 nb201 cifar10_valid_acc none gbt,gbt-cb &
  robust cb-c100 nb201 cifar100_valid_acc none gbt,gbt-cb
  wait
  robust cb-fmnist nb201-fmnist valid_acc none gbt,gbt-cb 500
  robust cb-c10-diverged3 nb201 cifar10_valid_acc diverged:3:10 gbt,gbt-cb &
  robust cb-single-c10 nb201 cifar10_valid_acc none gbt,cb-single 1000 100  # one CatBoost, its defaults: slow
  wait
fi

# 4. the ensemble's members and weights where it trailed (nb201-fmnist, onehot/adjacency at n = 50)
robust fmnist-ensembles nb201-fmnist valid_acc none ensemble-3,ensemble,ensemble-equal 500 50,100 5 \
  onehot,adjacency,path,graf
$PY bench/report_predictors_robust.py "$OUT" > bench/results/predictors_robust.md
