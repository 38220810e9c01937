#!/usr/bin/env bash
# The full-scale NB201 protocol on Fashion-MNIST on one GPU: C=16, N=5, 28x28, the whole 50k/10k
# train/valid carve of the 60k training images, the 10k test set, 12 epochs, batch 256, bf16
# autocast; GPU_WORKERS processes share the GPU. Stops cleanly after SECONDS_LIMIT (SIGINT: the
# table is exported from what finished; rerunning the same command resumes from the journal).
# Usage (on the GPU machine): bench/generate_gpu.sh [OUT.h5]   env: GPU_WORKERS, SECONDS_LIMIT, DATA_DIR
set -u
out=${1:-runs/gpu/nb201_fmnist_full.h5}
surrogate=${SURROGATE:-.venv/bin/surrogate}
timeout -s INT "${SECONDS_LIMIT:-86400}" $surrogate generate --space nb201 --dataset fashion-mnist \
    ${DATA_DIR:+--data-dir "$DATA_DIR"} --archs 1000 --unique --epochs 12 --channels 16 --cells 5 --batch-size 256 \
    --device cuda --workers "${GPU_WORKERS:-4}" --no-progress --out "$out"
