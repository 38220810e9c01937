#!/usr/bin/env bash
# Pilot for the nb201-fmnist protocol: the same NB201 cells (one per isomorphism class, drawn
# uniformly: --archs N --unique) trained with seeds 0 and 1 under each candidate protocol on
# Fashion-MNIST; bench/report_protocol.py compares seed-to-seed Kendall tau, spread and cost.
# Usage: bench/fmnist_protocol.sh [OUT_DIR]; env: ONLY="B D" (candidates), ARCHS (50), WORKERS (2
# per candidate), PARALLEL=1 (all candidates at once), SECONDS_LIMIT (stop cleanly after that),
# DATA_DIR. Resumable: rerun after a kill.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/fmnist_protocol}
surrogate=${SURROGATE:-.venv/bin/surrogate}
mkdir -p "$out"
declare -A protocols=(
    [A]="--resolution 14 --subset 5000 --epochs 6 --batch-size 128"
    [B]="--resolution 7 --subset 10000 --epochs 8 --batch-size 256"
    [D]="--resolution 7 --subset 20000 --epochs 5 --batch-size 256"
    [F]="--resolution 7 --subset 10000 --epochs 6 --batch-size 256 --cells 2"
    [H]="--resolution 7 --subset 10000 --epochs 6 --batch-size 256 --channels 16"
)
run() {
    local name=$1
    OMP_NUM_THREADS=1 timeout -s INT "${SECONDS_LIMIT:-86400}" $surrogate generate --space nb201 \
        --dataset fashion-mnist ${DATA_DIR:+--data-dir "$DATA_DIR"} --archs "${ARCHS:-50}" --unique --seeds 2 \
        --channels 8 --cells 1 --test-at-end --workers "${WORKERS:-2}" --no-progress \
        ${protocols[$name]} --out "$out/$name.h5"
}
for name in ${ONLY:-A B D F H}; do
    if [ "${PARALLEL:-0}" = 1 ]; then run "$name" > "$out/$name.log" 2>&1 & else run "$name"; fi
done
wait
