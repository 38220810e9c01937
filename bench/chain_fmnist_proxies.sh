#!/usr/bin/env bash
# Zero-cost proxies of every one of the 6,561 chains of `categorical:8x3`, with the network and inputs
# the chain-fmnist table was trained with (its `dataset` and `training_config`: stem width C, 1x7x7
# inputs, 10 classes), then the shipped cache surrogate/tables/chain_fmnist_proxies.npz and the
# table's zc_ columns from the same values.
# Usage: bench/chain_fmnist_proxies.sh [TABLE] (default runs/gen/chain_fmnist.h5, the generated table,
# before it is copied into surrogate/tables). Resumable (the proxies journal); niced, one thread per worker.
set -euo pipefail
cd "$(dirname "$0")/.."
table=${1:-runs/gen/chain_fmnist.h5}
all=${ALL:-runs/zc/chain_all.h5}
py=${PYTHON:-.venv/bin/python}
surrogate=${SURROGATE:-.venv/bin/surrogate}
mkdir -p "$(dirname "$all")"
# 1. a table of all 6,561 chains, no metrics, with the generated table's dataset and training config,
#    so that `surrogate proxies` builds the same network on the same input shape
[ -f "$all" ] || "$py" - "$table" "$all" <<'EOF'
import sys
from surrogate.spaces import get_space
from surrogate.tabular import Table
source = Table.read(sys.argv[1])
space = get_space(source.space)
archs = space.enumerate()
attrs = {k: source.attrs[k] for k in ("dataset", "training_config")}
attrs["provenance"] = {"what": "every architecture of the space, no records: the proxies cache's table",
                       "training_config_from": sys.argv[1], "table_checksum": source.checksum()}
Table(space.spec, archs, [space.format(a) for a in archs], {}, attrs).write(sys.argv[2])
print(f"wrote {sys.argv[2]}: {len(archs)} architectures of {space.spec}")
EOF
# 2. the proxies of every chain (about 0.06 CPU-seconds each at C=8, 7x7)
OMP_NUM_THREADS=1 nice -n 19 "$surrogate" proxies "$all" --workers "${WORKERS:-2}" --no-progress
# 3. the cache, shipped beside the table
"$py" -m surrogate.proxies export "$all" surrogate/tables/chain_fmnist_proxies.npz cpu
# 4. the table's zc_ columns: the same journal (same configuration digest), so nothing is computed again
mkdir -p "$table.proxies"
cp -n "$all.proxies"/*.json "$all.proxies"/*.jsonl "$table.proxies"/
OMP_NUM_THREADS=1 "$surrogate" proxies "$table" --no-progress
