#!/bin/sh
# Weight-sharing benchmark on the shipped NB201-on-digits table (bench/results/supernet.md).
# About 25 minutes on one CPU core. Run from anywhere: it works from the repository root.
#
# enas and darts are strategies of the search campaign: each run trains its own supernet (seeded by
# the run's seed) and its first query is the derived architecture, so `--budget 1` is the one-pick
# comparison. Per setting (plain: darts and enas, 30 supernet epochs; beta: beta-DARTS, beta 2;
# plain100: darts, 100 epochs) the campaign's report is copied to RESULTS:
#   supernet_search_NAME.md    its summary.md: per strategy, found optimum (runs whose pick is the
#                              table's best cell), regret@1, best valid_acc (mean), s/query (the
#                              supernet's training and derivation), test_acc of the pick (--report)
#   supernet_search_NAME.csv   its trajectories.csv: one row per run (strategy, seed, step 1, arch,
#                              value = the pick's valid_acc in the table, best_so_far, regret)
#   supernet_search_NAME.json  the --json document (metric, optimum, results: found_optimum,
#                              median_queries_to_optimum, regret_at {"1"}, report_mean, seconds_per_query)
# env: RESULTS (bench/results), WORK (runs/ws: the campaigns' folders), SPOS_WORK (runs/bench-supernet),
#      SEEDS (3), SPOS_EPOCHS (30,100), SPOS_ARGS (more options of bench/supernet_digits.py, e.g.
#      "--feature-epochs 1 --multi-path 1" with SPOS_EPOCHS=1), WS_EPOCHS (30), WS_EPOCHS_LONG (100: plain100)
set -e
cd "$(dirname "$0")/.."
RESULTS=${RESULTS:-bench/results}
WORK=${WORK:-runs/ws}
SEEDS=${SEEDS:-3}
WS_EPOCHS=${WS_EPOCHS:-30}
python bench/supernet_digits.py --epochs "${SPOS_EPOCHS:-30,100}" --seeds "$SEEDS" --out "$RESULTS" \
    --work "${SPOS_WORK:-runs/bench-supernet}" ${SPOS_ARGS:-}   # SPOS tau, top pick, feature gain
mkdir -p "$WORK"
for run in "plain $WS_EPOCHS 0" "beta $WS_EPOCHS 2" "plain100 ${WS_EPOCHS_LONG:-100} 0"; do
    set -- $run
    surrogate search nb201-digits --metric valid_acc --strategies darts$( [ "$1" = plain ] && echo ,enas ) \
        --budget 1 --seeds "$SEEDS" --ws-epochs "$2" --darts-beta "$3" --report test_acc --out "$WORK/$1" \
        --no-progress --json > "$WORK/$1.json"
    cp "$WORK/$1/summary.md" "$RESULTS/supernet_search_$1.md"
    cp "$WORK/$1/trajectories.csv" "$RESULTS/supernet_search_$1.csv"
    cp "$WORK/$1.json" "$RESULTS/supernet_search_$1.json"
done
