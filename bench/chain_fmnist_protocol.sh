#!/usr/bin/env bash
# Pilot for the chain-fmnist protocol: the same NAS-Bench-Macro chains (`categorical:8x3`: identity /
# mb3_k3 / mb6_k5 at 8 positions; --archs N distinct ones, drawn with the generator's fixed seed)
# trained with seeds 0 and 1 under each candidate protocol on Fashion-MNIST;
# `python bench/report_chain_protocol.py DIR/*.h5` compares seed-to-seed
# Kendall tau, spread and cost.
# Usage: bench/chain_fmnist_protocol.sh [OUT_DIR]; env: ONLY="A B" (candidates), ARCHS (50), WORKERS (2
# per candidate), PARALLEL=1 (all candidates at once), SECONDS_LIMIT (stop cleanly after that),
# DATA_DIR. Resumable: rerun after a kill. Runs niced, one torch thread per worker.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/chain_fmnist_protocol}
surrogate=${SURROGATE:-.venv/bin/surrogate}
mkdir -p "$out"
declare -A protocols=(
    [A]="--resolution 7 --subset 10000 --epochs 6 --batch-size 256 --channels 8"
    [B]="--resolution 7 --subset 10000 --epochs 6 --batch-size 256 --channels 4"
    [C]="--resolution 14 --subset 10000 --epochs 6 --batch-size 256 --channels 8"
    [D]="--resolution 7 --subset 20000 --epochs 5 --batch-size 256 --channels 4"
    [E]="--resolution 7 --subset 10000 --epochs 6 --batch-size 64 --channels 8"
    [I]="--resolution 14 --subset 10000 --epochs 6 --batch-size 256 --channels 4"
    [K]="--resolution 14 --subset 10000 --epochs 3 --batch-size 128 --channels 8"
)
run() {
    local name=$1
    OMP_NUM_THREADS=1 timeout -s INT "${SECONDS_LIMIT:-86400}" nice -n 19 $surrogate generate --space categorical:8x3 \
        --dataset fashion-mnist ${DATA_DIR:+--data-dir "$DATA_DIR"} --archs "${ARCHS:-50}" --seeds 2 \
        --test-at-end --workers "${WORKERS:-2}" --no-progress \
        ${protocols[$name]} --out "$out/$name.h5"
}
for name in ${ONLY:-A B}; do
    if [ "${PARALLEL:-0}" = 1 ]; then run "$name" > "$out/$name.log" 2>&1 & else run "$name"; fi
done
wait
