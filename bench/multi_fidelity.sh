#!/usr/bin/env bash
# Multi-fidelity search simulated on tables with per-epoch records (issue 23): every strategy under
# the same budget of training seconds, 100 whole trainings' worth (100 x the table's mean seconds
# of a whole training, over its classes), 20 seeds, with `--fidelity epochs` at its defaults
# (--min-epochs 1, --eta 3). Full-training rs and bo run under the same clock. Then the candidates
# for the default on 4 simulated asynchronous workers at the same total seconds.
# Writes runs/multi-fidelity/*.json; bench/report_multi_fidelity.py makes bench/results/multi_fidelity.md.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${SURROGATE:-.venv/bin/surrogate}
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/multi-fidelity}
SEEDS=${SEEDS:-20}
TABLES=${TABLES:-"nb201-fmnist nb201-digits"}
STRATEGIES=${STRATEGIES:-rs,bo,asha,hyperband,sh,median,bohb,asha-bo,tpe-hb}
PARALLEL=${PARALLEL:-"asha,bohb,asha-bo"}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"
budget() {  # 100 whole trainings' seconds on table $1
    $PY -c "import sys, numpy as np
from surrogate.catalog import resolve
from surrogate.search.oracle import TableOracle
from surrogate.tabular import Table
print(round(100 * float(np.nanmean(TableOracle(Table.read(resolve(sys.argv[1])), ['valid_acc'], 'epoch_seconds').seconds)), 1))" "$1"
}
run() {  # name, table, extra args...
    local name=$1 table=$2; shift 2
    [ -s "$OUT/$name.json" ] && return
    $S search "$table" --metric valid_acc --fidelity epochs --budget-seconds "$B" --seeds "$SEEDS" \
        --out "$OUT/$name" --json --no-progress "$@" > "$OUT/$name.json.tmp" && mv "$OUT/$name.json.tmp" "$OUT/$name.json"
}
for table in $TABLES; do
    B=$(budget "$table")
    echo "$table: budget $B s" >&2
    run "$table" "$table" --strategies "$STRATEGIES"
    run "$table-w4" "$table" --strategies "$PARALLEL" --workers 4
done
