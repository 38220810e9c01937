#!/usr/bin/env bash
# Pilot for the chain-fmnist protocol: bench/fmnist_protocol.sh on NAS-Bench-Macro chains
# (`categorical:8x3`), candidates A-K there; `python bench/report_chain_protocol.py DIR/*.h5` compares them.
# Usage: bench/chain_fmnist_protocol.sh [OUT_DIR] (default runs/chain_fmnist_protocol); env as there.
SPACE=categorical:8x3 exec "$(dirname "$0")/fmnist_protocol.sh" "$@"
