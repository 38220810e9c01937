#!/usr/bin/env bash
# Predictors with structural graph features (graf), zero-cost proxies (zc) and gradient-boosted trees:
# NB201 hp12 CIFAR-10/100 valid, nb201-fmnist (proxies on random inputs and on Fashion-MNIST) and a
# chain table (graf vs onehot); writes bench/results/predictors_zc.md.
# The NB201 proxies come from the shipped cache (surrogate/tables/nb201_proxies.npz) at once; classes
# it lacks are computed (and journaled: a killed run resumes). Run niced and single-threaded:
#   OMP_NUM_THREADS=1 nice -n 19 bench/predictors_zc.sh
set -euo pipefail
cd "$(dirname "$0")/.."
S=.venv/bin/surrogate
OUT=${OUT:-runs/zc}
SIZES=${SIZES:-50,100,200}
MODELS=${MODELS:-gp,rf,gbt}
mkdir -p "$OUT"
bench() {  # bench NAME TABLE METRIC TEST SIZES ARGS...: one sweep, skipped when its JSON exists
  local name=$1 table=$2 metric=$3 test=$4 sizes=$5; shift 5
  [ -s "$OUT/$name.json" ] || $S bench predictors "$table" --metric "$metric" --train-sizes "$sizes" \
    --test-size "$test" --models "$MODELS" --out "$OUT/$name" --json --no-progress "$@" > "$OUT/$name.json"
}

# 0. NB201 hp12 on the 300 classes of the proxy batch-size study (bench/proxies_batch_study.py): an
#    estimate of what zc adds that needs no full cache (train 50/100, test 200)
[ -f runs/proxies-study/b64_n300.npz ] || .venv/bin/python bench/proxies_batch_study.py 300
[ -f "$OUT/nb201-sample.h5" ] || .venv/bin/python bench/zc_sample_table.py "$OUT/nb201-sample.h5" 300
for metric in cifar10_valid_acc cifar100_valid_acc; do
  bench "sample-$metric" "$OUT/nb201-sample.h5" $metric 200 50,100 --encodings path,graf
  bench "sample-$metric-zc" "$OUT/nb201-sample.h5" $metric 200 50,100 --encodings path,graf --features zc
done

# 1. NB201 hp12: encodings alone, then graf/path + every zc_ column (random inputs, the defaults)
[ -f "$OUT/nb201.h5" ] || cp "$($S datasets --path nb201)" "$OUT/nb201.h5"
.venv/bin/python -c "from surrogate.tabular import Table; import sys; sys.exit('zc_synflow' not in Table.read('$OUT/nb201.h5').metrics)" \
  || $S proxies "$OUT/nb201.h5" --no-progress
for metric in cifar10_valid_acc cifar100_valid_acc; do
  bench "nb201-$metric" "$OUT/nb201.h5" $metric 1000 "$SIZES" --encodings onehot,path,graf
  bench "nb201-$metric-zc" "$OUT/nb201.h5" $metric 1000 "$SIZES" --encodings graf,path --features zc
done

# 2. nb201-fmnist: proxies on random inputs and on Fashion-MNIST (the table's own network and protocol)
for inputs in random fashion-mnist; do
  t="$OUT/fmnist-$inputs.h5"
  [ -f "$t" ] || cp "$($S datasets --path nb201-fmnist)" "$t"
  .venv/bin/python -c "from surrogate.tabular import Table; import sys; sys.exit('zc_synflow' not in Table.read('$t').metrics)" \
    || $S proxies "$t" --dataset $inputs --no-progress
done
bench fmnist "$OUT/fmnist-random.h5" valid_acc 500 "$SIZES" --encodings onehot,path,graf
bench fmnist-zc-random "$OUT/fmnist-random.h5" valid_acc 500 "$SIZES" --encodings graf --features zc
bench fmnist-zc-fmnist "$OUT/fmnist-fashion-mnist.h5" valid_acc 500 "$SIZES" --encodings graf --features zc

# 3. a chain table (NAS-Bench-Macro's space on digits, trained here): graf vs onehot, and + zc
CHAIN="$OUT/chain.h5"
[ -f "$CHAIN" ] || { $S generate --space categorical:8x3 --dataset digits --archs 400 --epochs 12 --channels 8 \
  --out "$OUT/chain-digits.h5" --no-progress && cp "$OUT/chain-digits.h5" "$CHAIN"; }
.venv/bin/python -c "from surrogate.tabular import Table; import sys; sys.exit('zc_synflow' not in Table.read('$CHAIN').metrics)" \
  || $S proxies "$CHAIN" --no-progress
bench chain "$CHAIN" valid_acc 150 50,100 --encodings onehot,graf
bench chain-zc "$CHAIN" valid_acc 150 50,100 --encodings onehot,graf --features zc

.venv/bin/python bench/report_predictors_zc.py "$OUT" > bench/results/predictors_zc.md
