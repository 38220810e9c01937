"""bench/results/latency.md from bench/latency.sh's tables: per table, the device, the base network,
the spread of the entries, and the check against networks timed whole.

Usage: python bench/report_latency.py runs/latency > bench/results/latency.md
A `## Reading` section of the existing bench/results/latency.md is carried over.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from surrogate import __version__


def main(folder: str) -> None:
    docs = [(p.stem, json.loads(p.read_text())) for p in sorted(Path(folder).glob("*.json"))]
    lines = ["# Latency lookup tables", "",
             f"Made by `bench/latency.sh` (surrogate {__version__}): `surrogate latency` per space and batch, "
             "each checked against random networks timed whole (same rounds, repeats and warm-up). Entries "
             "are wall-clock medians on the device named; the predicted latency of a network is the base "
             "network plus one entry per decision.", "",
             "| table | space | network | device | batch | threads | rounds (warm-up) | base ms | entries (min / max ms) | "
             "checked networks | measured ms (min / median / max) | Kendall tau, predicted vs measured | "
             "mean abs. error |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, d in docs:
        f, c = d["facts"], d.get("check", {})
        entries = np.array([v for row in d["deltas_ms"] for v in row[1:]])
        measured = np.array(c.get("measured_ms", [np.nan]))
        cells = f", N={f['cells']}" if d["space"] == "nb201" else ""  # a chain's length is its space's
        network = f"C={f['channels']}{cells}, input {'x'.join(map(str, f['input_shape']))}"
        lines.append(f"| {name} | {d['space']} | {network} | {f['device']} ({f['device_name']}) | {f['batch']} | "
                     f"{f['threads']} | {f['repeats']} ({f['warmup']}) | {d['base_ms']:.3f} | {entries.min():+.3f} / "
                     f"{entries.max():+.3f} | {len(c.get('archs', []))} | "
                     f"{measured.min():.3f} / {np.median(measured):.3f} / {measured.max():.3f} | "
                     f"{c.get('kendall_tau', float('nan')):.3f} | {c.get('mean_abs_percent_error', float('nan')):.1f} % |")
    previous = Path("bench/results/latency.md")
    if previous.is_file() and "## Reading" in previous.read_text():  # the analysis written from the tables, kept
        lines += ["", previous.read_text().split("## Reading")[1].split("\n## Runs")[0].join(["## Reading", ""]).rstrip()]
    lines += ["", "## Runs", ""] + [f"- `{d['command']}`" for _, d in docs]
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1])
