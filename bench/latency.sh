#!/usr/bin/env bash
# Latency lookup tables (`surrogate latency`) on this machine's CPU, one thread, batch 1 and 64:
# NB201's own networks (C=16, N=5, 3x32x32), nb201-fmnist's (--like) and the NAS-Bench-Macro chain
# (categorical:8x3 at the chain pilot's 14x14 inputs, C=8). Each table is checked against random
# networks timed whole (50 at batch 1, 20 at batch 64). Writes runs/latency/*.json; bench/report_latency.py makes bench/results/latency.md.
# Run it on a quiet machine: the entries are wall-clock medians.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${SURROGATE:-.venv/bin/surrogate}
OUT=${OUT:-runs/latency}
mkdir -p "$OUT"
for batch in 1 64; do  # batch 64: fewer rounds (an NB201 forward pass there takes about 0.3 s)
    opts="--batch $batch --check 50"
    [ "$batch" = 1 ] || opts="--batch $batch --repeats 10 --warmup 2 --check 20"
    [ -s "$OUT/nb201-b$batch.json" ] || $S latency --space nb201 $opts --out "$OUT/nb201-b$batch.json" --no-progress
    [ -s "$OUT/nb201-fmnist-b$batch.json" ] || $S latency --like nb201-fmnist $opts \
        --out "$OUT/nb201-fmnist-b$batch.json" --no-progress
    [ -s "$OUT/chain-b$batch.json" ] || $S latency --space categorical:8x3 --channels 8 --input-shape 1,14,14 $opts \
        --out "$OUT/chain-b$batch.json" --no-progress
done
.venv/bin/python bench/report_latency.py "$OUT" > bench/results/latency.md
