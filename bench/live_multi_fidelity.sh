#!/usr/bin/env bash
# Live multi-fidelity on Fashion-MNIST (issue 23): full-training rs with a budget of 40 queries,
# then the default multi-fidelity strategy under the training seconds rs's runs took (their mean),
# both with 2 workers, 3 seeds and --validate-top 1 (each run's top pick retrained on train+valid,
# test accuracy). nb201-fmnist's protocol. Writes runs/live-mf/{rs,mf}.json (+ folders);
# bench/report_multi_fidelity.py reports them.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${SURROGATE:-.venv/bin/surrogate}
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/live-mf}
MF=${MF:-asha-bo}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"
LIVE=(--space nb201 --dataset fashion-mnist --resolution 7 --subset 10000 --channels 8 --cells 2 --epochs 6
      --metric valid_acc --seeds 3 --workers 2 --validate-top 1 --init 10 --json --no-progress)
[ -s "$OUT/rs.json" ] || { $S search "${LIVE[@]}" --strategies rs --budget 40 --out "$OUT/rs" > "$OUT/rs.json.tmp" \
    && mv "$OUT/rs.json.tmp" "$OUT/rs.json"; }
SECONDS_PER_RUN=$($PY -c "import json; r = json.load(open('$OUT/rs.json'))['results'][0]; print(round(r['train_seconds'] / r['seeds'], 1))")
echo "rs: $SECONDS_PER_RUN s of training per run" >&2
[ -s "$OUT/mf.json" ] || { $S search "${LIVE[@]}" --strategies "$MF" --fidelity epochs --budget-seconds "$SECONDS_PER_RUN" \
    --out "$OUT/mf" > "$OUT/mf.json.tmp" && mv "$OUT/mf.json.tmp" "$OUT/mf.json"; }
# The same at the rs campaign's wall time: the first multi-fidelity campaign took longer on the wall
# than its training seconds say (live workers run synchronous waves: a short job waits for its
# partner), so its budget is scaled by rs's wall seconds over its own.
WALL_BUDGET=$($PY -c "import json; rs, mf = (json.load(open(f'$OUT/{k}/run.json'))['seconds'] for k in ('rs', 'mf')); print(int($SECONDS_PER_RUN * rs / mf))")
echo "wall-matched budget: $WALL_BUDGET s of training per run" >&2
[ -s "$OUT/mf-wall.json" ] || { $S search "${LIVE[@]}" --strategies "$MF" --fidelity epochs --budget-seconds "$WALL_BUDGET" \
    --out "$OUT/mf-wall" > "$OUT/mf-wall.json.tmp" && mv "$OUT/mf-wall.json.tmp" "$OUT/mf-wall.json"; }
