#!/usr/bin/env bash
# Search campaigns on NAS-Bench-201 (hp=12): every strategy, 20 seeds x 150 queries, searching on
# validation accuracy and reporting the top pick's test accuracy; writes bench/results/search_nb201.md.
# Needs the shared CSV (../shared/data/nb201/nb201_hp12_accuracy.csv). Killed runs resume.
set -euo pipefail
cd "$(dirname "$0")/.."
CSV=${CSV:-../shared/data/nb201/nb201_hp12_accuracy.csv}
OUT=${OUT:-runs/search-nb201}
SEEDS=${SEEDS:-20}
mkdir -p "$OUT"
[ -f "$OUT/nb201.h5" ] || .venv/bin/surrogate import "$CSV" --space nb201 --out "$OUT/nb201.h5"
for data in cifar10 cifar100; do
  .venv/bin/surrogate search "$OUT/nb201.h5" --metric ${data}_valid_acc --report ${data}_test_acc \
    --validate-top 5 --seeds "$SEEDS" --budget 150 --out "$OUT/$data" --json > "$OUT/$data.json"
done
{
  echo "# Search campaigns on NAS-Bench-201 (hp=12)"
  echo
  echo "Produced by \`bench/search_nb201.sh\` on $(nproc) CPU cores ($(date -u +%Y-%m-%d)). Each strategy searches on"
  echo "validation accuracy; the test accuracy of its top pick (\`--report\`) and the best test accuracy among its"
  echo "5 best picks (\`--validate-top 5\`) are reported, never searched on. Regret is in accuracy points."
  for data in cifar10 cifar100; do
    echo
    sed -e '1s/^# /## /' "$OUT/$data/summary.md"
    echo

  done
} > bench/results/search_nb201.md
