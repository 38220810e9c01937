#!/usr/bin/env bash
# Live search on Fashion-MNIST with the protocol of the shipped `nb201-fmnist` table (7x7, 10k train
# images, 6 epochs, C=8, N=2): every query really trains its network; each run's top 3 are trained
# again on train+valid (6 epochs) and judged on test. Resumable: rerun to continue.
# Then: python bench/report_live.py runs/bench/live_fmnist > bench/results/live_fmnist.md
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/bench/live_fmnist}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
.venv/bin/surrogate search --space nb201 --dataset fashion-mnist --resolution 7 --subset 10000 --epochs 6 \
  --batch-size 256 --channels 8 --cells 2 --metric valid_acc --strategies bo,re,rs,predict-top \
  --budget 40 --seeds 3 --init 10 --validate-top 3 --validate-epochs 6 --workers "${WORKERS:-1}" \
  --out "$OUT" "$@"
