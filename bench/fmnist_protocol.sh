#!/usr/bin/env bash
# Pilot for a Fashion-MNIST protocol: the same architectures trained with seeds 0 and 1 under each
# candidate protocol; bench/report_protocol.py (NB201 cells) or bench/report_chain_protocol.py (chains)
# compares seed-to-seed Kendall tau, spread and cost.
# SPACE=nb201 (default; for nb201-fmnist): NB201 cells, one per isomorphism class, drawn uniformly
#   (--archs N --unique), C=8, N=1.
# SPACE=categorical:8x3 (for chain-fmnist; bench/chain_fmnist_protocol.sh): NAS-Bench-Macro chains
#   (identity / mb3_k3 / mb6_k5 at 8 positions), --archs N drawn with the generator's fixed seed.
# Usage: bench/fmnist_protocol.sh [OUT_DIR]; env: ONLY="B D" (candidates), ARCHS (50), WORKERS (2
# per candidate), PARALLEL=1 (all candidates at once), SECONDS_LIMIT (stop cleanly after that),
# DATA_DIR. Resumable: rerun after a kill. Niced, one torch thread per worker.
set -uo pipefail
cd "$(dirname "$0")/.."
space=${SPACE:-nb201}
surrogate=${SURROGATE:-.venv/bin/surrogate}
if [ "$space" = nb201 ]; then
    out=${1:-runs/fmnist_protocol}
    fixed="--unique --channels 8 --cells 1"
    declare -A protocols=(
        [A]="--resolution 14 --subset 5000 --epochs 6 --batch-size 128"
        [B]="--resolution 7 --subset 10000 --epochs 8 --batch-size 256"
        [D]="--resolution 7 --subset 20000 --epochs 5 --batch-size 256"
        [F]="--resolution 7 --subset 10000 --epochs 6 --batch-size 256 --cells 2"
        [H]="--resolution 7 --subset 10000 --epochs 6 --batch-size 256 --channels 16"
    )
    all="A B D F H"
else
    out=${1:-runs/chain_fmnist_protocol}
    fixed=""
    declare -A protocols=(
        [A]="--resolution 7 --subset 10000 --epochs 6 --batch-size 256 --channels 8"
        [B]="--resolution 7 --subset 10000 --epochs 6 --batch-size 256 --channels 4"
        [C]="--resolution 14 --subset 10000 --epochs 6 --batch-size 256 --channels 8"
        [D]="--resolution 7 --subset 20000 --epochs 5 --batch-size 256 --channels 4"
        [E]="--resolution 7 --subset 10000 --epochs 6 --batch-size 64 --channels 8"
        [I]="--resolution 14 --subset 10000 --epochs 6 --batch-size 256 --channels 4"
        [K]="--resolution 14 --subset 10000 --epochs 3 --batch-size 128 --channels 8"
    )
    all="A B"
fi
mkdir -p "$out"
run() {
    local name=$1
    OMP_NUM_THREADS=1 timeout -s INT "${SECONDS_LIMIT:-86400}" nice -n 19 $surrogate generate --space "$space" \
        --dataset fashion-mnist ${DATA_DIR:+--data-dir "$DATA_DIR"} --archs "${ARCHS:-50}" $fixed --seeds 2 \
        --test-at-end --workers "${WORKERS:-2}" --no-progress ${protocols[$name]} --out "$out/$name.h5"
}
for name in ${ONLY:-$all}; do
    if [ "${PARALLEL:-0}" = 1 ]; then run "$name" > "$out/$name.log" 2>&1 & else run "$name"; fi
done
wait
