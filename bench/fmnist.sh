#!/usr/bin/env bash
# What the new data shows (bench/results/fmnist.md): on the shipped nb201-fmnist table and, beside
# it, on nb201 (CIFAR-10 valid): the predictor benchmark at 50/100/200 training cells (every model x
# encoding), a search campaign (bo, re, ls, rs, tpe; 20 seeds x 100 queries) and, on nb201-fmnist, an
# SPOS supernet trained with the table's own protocol (`--like`) whose estimates are ranked against
# the records and the seed-to-seed ceiling. About 40 minutes on 2 cores; every step resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/fmnist-bench}
SPOS_EPOCHS=${SPOS_EPOCHS:-100}
S=.venv/bin/surrogate
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
TABLES=${TABLES:-nb201-fmnist:valid_acc:test_acc nb201:cifar10_valid_acc:cifar10_test_acc}
for entry in $TABLES; do
    IFS=: read -r name metric report <<< "$entry"
    mkdir -p "$OUT/$name"
    [ -f "$OUT/$name/predictors/run.json" ] || $S bench predictors "$name" --metric "$metric" --train-sizes 50,100,200 \
        --test-size 500 --seeds 5 --out "$OUT/$name/predictors" --no-progress > /dev/null
    $S search "$name" --metric "$metric" --strategies bo,re,ls,rs,tpe --seeds 20 --budget 100 --report "$report" \
        --out "$OUT/$name/search" --no-progress > /dev/null
done
[[ " $TABLES" == *" nb201-fmnist:"* ]] || exit 0  # SPOS and the report need the Fashion-MNIST table
$S supernet train --like nb201-fmnist --epochs "$SPOS_EPOCHS" --out "$OUT/spos.pt" --no-progress
[ -f "$OUT/spos.h5" ] || cp "$(.venv/bin/python -c 'from surrogate.catalog import resolve; print(resolve("nb201-fmnist"))')" "$OUT/spos.h5"
.venv/bin/python - "$OUT/spos.h5" <<'PY' || $S supernet estimate "$OUT/spos.pt" --into "$OUT/spos.h5" --no-progress
import sys
from surrogate.tabular import Table
sys.exit(0 if "supernet_acc" in Table.read(sys.argv[1]).metrics else 1)
PY
# the same supernet, BatchNorm recalibrated on 16 batches instead of 4
[ -f "$OUT/spos_calib16.h5" ] || { cp "$OUT/spos.h5" "$OUT/spos_calib16.h5.tmp" && mv "$OUT/spos_calib16.h5.tmp" "$OUT/spos_calib16.h5"; }
$S supernet estimate "$OUT/spos.pt" --into "$OUT/spos_calib16.h5" --calib-batches 16 --overwrite --no-progress
.venv/bin/python bench/report_fmnist.py "$OUT" > bench/results/fmnist.md
cat bench/results/fmnist.md
