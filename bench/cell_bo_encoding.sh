#!/usr/bin/env bash
# bo's encoding on cell spaces without feature columns (the default `path`, bo_encoding's rule)
# against graf, as a user runs it (--features none), 20 seeds x 100 queries on every cell table we
# ship: rnn-shakespeare (recurrent cells), nb201-fmnist, nb201-digits and nb201 (CIFAR-10 valid).
# Writes runs/cell-bo/*.json; the rows go into bench/results/rnn.md (bench/report_rnn.py).
set -euo pipefail
cd "$(dirname "$0")/.."
S=${SURROGATE:-.venv/bin/surrogate}
OUT=${OUT:-runs/cell-bo}
SEEDS=${SEEDS:-20}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"
# TABLES="rnn-shakespeare" runs some tables only (bench/report_rnn.py carries the others' rows over)
for row in "rnn-shakespeare valid_bpc" "nb201-fmnist valid_acc" "nb201-digits valid_acc" "nb201 cifar10_valid_acc"; do
    set -- $row
    case " ${TABLES:-$1} " in *" $1 "*) ;; *) continue ;; esac
    for encoding in path graf; do
        name="$1-$encoding"
        [ -s "$OUT/$name.json" ] || { $S search "$1" --metric "$2" --strategies bo --encoding "$encoding" --features none \
            --seeds "$SEEDS" --budget 100 --out "$OUT/$name" --json --no-progress > "$OUT/$name.json.tmp" \
            && mv "$OUT/$name.json.tmp" "$OUT/$name.json"; }
    done
done
