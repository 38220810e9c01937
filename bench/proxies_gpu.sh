#!/usr/bin/env bash
# The shipped NB201 proxy cache, computed on one lent GPU: every one of NB201's 6,466 isomorphism
# classes with `surrogate proxies`' defaults (random inputs, C=16, N=5, 3x32x32, batch 64, gradient
# batch 8, seed 0). Weights are initialised on the CPU (the seed means the same network on any
# device); the shipped partial cache is set aside so that every class is computed here, on one device.
# Stops cleanly after SECONDS_LIMIT (SIGINT; the journal keeps what finished and a rerun resumes).
# The shipped cache of 2026-11-27 was made by this script on an H200 before TF32 was switched off
# for proxies (datasets/README.md gives its agreement with the CPU). To resume on a fresh machine,
# carry the journal back in and copy it to $OUT/nb201.h5.proxies first.
# Usage (on the GPU machine, from the repository root; OUT is the folder results go to):
#   OUT=/some/folder bench/proxies_gpu.sh      env: GPU_WORKERS (default 14), SECONDS_LIMIT (default 400)
set -u
OUT=${OUT:-runs/gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
surrogate() { python3 -c "import sys; from surrogate.cli import main; sys.exit(main())" "$@"; }
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
  nproc
} | tee "$OUT/device.txt"
# set the partial cache aside on this machine's copy only: every class is computed on this device
rm -f surrogate/tables/nb201_proxies.npz
[ -f "$OUT/nb201.h5" ] || cp surrogate/tables/nb201.h5 "$OUT/nb201.h5"
start=$(date +%s.%N)
timeout -s INT "${SECONDS_LIMIT:-400}" bash -c "$(declare -f surrogate); surrogate proxies '$OUT/nb201.h5' \
  --device cuda --workers '${GPU_WORKERS:-14}' --no-progress" 2>&1 | tail -5 | tee "$OUT/proxies.log"
end=$(date +%s.%N)
python3 - "$OUT" "$start" "$end" <<'EOF' | tee -a "$OUT/proxies.log"
import json, sys
from pathlib import Path
out, start, end = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
rows = [json.loads(line) for p in (out / "nb201.h5.proxies").glob("*.jsonl") for line in p.open()]
print(json.dumps({"classes_journaled": len(rows), "wall_seconds": round(end - start, 1),
                  "classes_per_second": round(len(rows) / (end - start), 2)}))
EOF
python3 -m surrogate.proxies export "$OUT/nb201.h5" "$OUT/nb201_proxies.npz" "$(head -1 "$OUT/device.txt" | cut -d, -f1)" | tee -a "$OUT/proxies.log"
rm -f "$OUT/nb201.h5"  # 15,625 rows the repository already has; the journal and the cache come back
