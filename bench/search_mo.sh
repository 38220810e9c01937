#!/usr/bin/env bash
# Multi-objective and constrained search (issue 15): NB201 CIFAR-10 accuracy vs params and vs FLOPs,
# accuracy under a params budget, bo's acquisitions compared, a synthetic chain table, and the time
# of one MO-BO step; writes bench/results/search_mo.md (and its figures in bench/results/search_mo/).
# Killed runs resume. One torch thread and nice: the campaigns share the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
nice -n 10 .venv/bin/python bench/report_search_mo.py --out "${OUT:-runs/search-mo}" --seeds "${SEEDS:-10}" \
  --acq-seeds "${ACQ_SEEDS:-3}" --chain-seeds "${CHAIN_SEEDS:-5}" "$@"
