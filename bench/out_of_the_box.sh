#!/usr/bin/env bash
# Out of the box on a user's own table (issue 22): every row as a new user runs it, a CSV imported
# with `surrogate import`, then the default command. Tables: NB201 (the shared CSV) imported as its
# own space with CIFAR-100 labels (its proxies come from the shipped cache at import) and as a plain
# categorical:6x5 table (no network, no proxies, no isomorphism help) with CIFAR-10 and CIFAR-100
# labels; nb201-fmnist read the same way; two synthetic categorical functions with known low-order
# structure; one of ordered choices and a real hyperparameter table (an MLP on digits, trained here);
# the chain table on Fashion-MNIST when it is shipped. On every categorical table bo's
# previous default (`--encoding onehot`: the RBF GP on one-hot codes) runs beside it ("before-" rows).
# Writes runs/out-of-the-box/*.json; bench/report_out_of_the_box.py makes bench/results/out_of_the_box.md.
# Killed runs resume (every (strategy, seed) run is checkpointed). ROWS="a b" runs some rows only.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${SURROGATE:-.venv/bin/surrogate}
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/out-of-the-box}
SEEDS=${SEEDS:-20}
MO_SEEDS=${MO_SEEDS:-10}
BEFORE_SEEDS=${BEFORE_SEEDS:-$SEEDS}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
CSV=${CSV:-../shared/data/nb201/nb201_hp12_accuracy.csv}
mkdir -p "$OUT"

# the user's CSVs: NB201's arch strings with one dataset's labels, or its op indices as plain choices
TABLES="nb201_c100 cat_c10 cat_c100 cat_fmnist synth_8x3 synth_6x5 synth_ord_6x6 hpo_digits chain_fmnist"
MO_TABLES="mo_cat_c100 mo_cat_fmnist mo_synth_8x3 hpo_digits"  # with a params column, for several objectives
[ -f "$OUT/synth_ord_6x6.csv" ] || $PY bench/out_of_the_box_csv.py "$CSV" "$OUT"
[ -f "$OUT/hpo_digits.csv" ] || $PY bench/hpo_digits_csv.py "$OUT/hpo_digits.csv" 2  # trains 2 x 1,440 MLPs: ~20 min
for name in $TABLES $MO_TABLES; do
    [ -f "$OUT/$name.csv" ] || continue
    space=$(head -1 "$OUT/$name.space")
    [ -f "$OUT/$name.h5" ] || $S import "$OUT/$name.csv" --space "$space" --out "$OUT/$name.h5"
done

row() {  # row NAME ARGS...: the default command's --json document in OUT/NAME.json
    local name=$1; shift
    case " ${ROWS:-$name} " in *" $name "*) ;; *) return 0 ;; esac
    [ -s "$OUT/$name.json" ] || { nice -n 10 $S "$@" --out "$OUT/$name" --json --no-progress > "$OUT/$name.json.tmp" \
        && mv "$OUT/$name.json.tmp" "$OUT/$name.json"; }
}
for table in $TABLES; do
    [ -f "$OUT/$table.h5" ] || continue
    row "search-$table" search "$OUT/$table.h5" --metric acc --strategies bo,tpe,re --seeds "$SEEDS" --budget 150
    case $(head -1 "$OUT/$table.space") in categorical:*)
        row "before-$table" search "$OUT/$table.h5" --metric acc --strategies bo --encoding onehot \
            --seeds "$BEFORE_SEEDS" --budget 150 ;;
    esac
done
[ -f "$OUT/nb201_c100.h5" ] && row mo-nb201_c100 search "$OUT/nb201_c100.h5" --objectives acc:max,params:min \
    --strategies bo,nsga2 --seeds "$MO_SEEDS" --budget 100
for table in $MO_TABLES; do  # plain categorical tables; bo's previous default there: the RBF GP on graf
    row "mo-$table" search "$OUT/$table.h5" --objectives acc:max,params:min --strategies bo,nsga2 \
        --seeds "$MO_SEEDS" --budget 100
    row "mo-before-$table" search "$OUT/$table.h5" --objectives acc:max,params:min --strategies bo \
        --encoding graf --seeds "$MO_SEEDS" --budget 100
done
[ -f "$OUT/chain_fmnist.h5" ] && row mo-chain_fmnist search "$OUT/chain_fmnist.h5" --objectives acc:max,flops:min \
    --strategies bo,nsga2 --seeds "$MO_SEEDS" --budget 100
row predictors-nb201 bench predictors nb201 --metric cifar10_valid_acc --train-sizes 100
$PY bench/report_out_of_the_box.py "$OUT" bench/results/out_of_the_box.md > "$OUT/report.md.tmp"  # keeps its Reading
mv "$OUT/report.md.tmp" bench/results/out_of_the_box.md
