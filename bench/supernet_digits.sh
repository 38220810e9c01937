#!/bin/sh
# Weight-sharing benchmark on the shipped NB201-on-digits table (bench/results/supernet.md).
# About 25 minutes on one CPU core.
set -e
python bench/supernet_digits.py --epochs 30,100 --seeds 3 --out bench/results   # SPOS tau, top pick, feature gain
for run in "plain 30 0" "beta 30 2" "plain100 100 0"; do
    set -- $run
    surrogate search nb201-digits --metric valid_acc --strategies darts$( [ "$1" = plain ] && echo ,enas ) \
        --seeds 3 --ws-epochs "$2" --darts-beta "$3" --report test_acc --out "runs/ws/$1" --no-progress
    cp "runs/ws/$1/weight_sharing.md" "bench/results/supernet_search_$1.md"
    cp "runs/ws/$1/weight_sharing.csv" "bench/results/supernet_search_$1.csv"
done
