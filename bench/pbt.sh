#!/usr/bin/env bash
# Population-based training against random search over the same hyperparameters (lr, weight
# decay, their default ranges), equal total epochs: population 8 x 12 epochs, exploit every 2
# epochs, on nb201-fmnist's protocol (Fashion-MNIST 7x7, 10,000 training images, C=8, N=2) and
# the cell that table ranks first by valid_acc; seeds 0..2. Writes runs/pbt-bench/*.json;
# bench/report_multi_fidelity.py puts them into bench/results/multi_fidelity.md.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${SURROGATE:-.venv/bin/surrogate}
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/pbt-bench}
SEEDS=${SEEDS:-"0 1 2"}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"
ARCH=$($PY -c "from surrogate.catalog import resolve; from surrogate.tabular import Table
t = Table.read(resolve('nb201-fmnist')); print(t.arch_strings[int(t.metric('valid_acc').argmax())])")
for seed in $SEEDS; do
    for kind in pbt rs; do
        name="$kind-seed$seed"
        [ -s "$OUT/$name.json" ] && continue
        extra=(); [ "$kind" = rs ] && extra=(--no-explore)
        $S pbt --space nb201 --dataset fashion-mnist --resolution 7 --subset 10000 --channels 8 --cells 2 \
            --arch "$ARCH" --population 8 --epochs 12 --interval 2 --seed "$seed" "${extra[@]}" \
            --out "$OUT/$name" --json --no-progress > "$OUT/$name.json.tmp" && mv "$OUT/$name.json.tmp" "$OUT/$name.json"
    done
done
