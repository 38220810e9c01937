"""Regenerate the command outputs shown in README.md, so its numbers cannot drift from the code.

A README block to regenerate is a ```console fence preceded by a marker line:

    <!-- output: surrogate info nb201 -->
    <!-- output head=12: surrogate demo --out runs/demo --no-progress -->

The command runs under bash in the repository root with `.venv/bin` first on PATH; its stdout
replaces the fence's content as `$ command` followed by the output (`head=N` / `tail=N` keep the
first / last N lines, with a `...` line for what was cut). Progress bars go to stderr and are not
shown. Usage:

    python bench/readme_outputs.py [--only TEXT] [--list]

`--only TEXT` regenerates the blocks whose command contains TEXT (some take minutes); `--list`
prints the marked commands. tests/test_readme.py checks that every marker is well formed and that
the Python tour's doctest runs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = re.compile(r"^<!-- output(?: (head|tail)=(\d+))?: (.+?) -->$")


def blocks(text: str) -> list[tuple[int, int, re.Match]]:
    """(first line, end line exclusive, marker) of every marked console fence; ValueError on a marker
    that is not followed by a fence."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        marker = MARKER.match(line.strip())
        if not marker:
            if line.strip().startswith("<!-- output"):
                raise ValueError(f"README line {i + 1}: malformed output marker {line.strip()!r}")
            continue
        if i + 1 >= len(lines) or lines[i + 1].strip() != "```console":
            raise ValueError(f"README line {i + 1}: an output marker must be followed by a ```console fence")
        end = next((j for j in range(i + 2, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise ValueError(f"README line {i + 2}: unclosed ```console fence")
        found.append((i + 2, end, marker))
    return found


def render(marker: re.Match) -> list[str]:
    mode, count, command = marker.groups()
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "COLUMNS": "120", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "Haswell")}  # as tests/conftest.py
    run = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"`{command}` failed (exit {run.returncode}): {run.stderr.strip().splitlines()[-1:]}")
    out = run.stdout.rstrip("\n").splitlines()
    if mode and len(out) > int(count):
        out = out[:int(count)] + ["..."] if mode == "head" else ["..."] + out[-int(count):]
    return [f"$ {command}", *out]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="regenerate only the blocks whose command contains this text")
    parser.add_argument("--list", action="store_true", help="list the marked commands")
    args = parser.parse_args(argv)
    text = README.read_text()
    lines = text.splitlines()
    if args.list:
        print("\n".join(marker.group(3) for _, _, marker in blocks(text)))
        return 0
    rendered = []
    for start, end, marker in blocks(text):  # in README order: a later block may use an earlier one's files
        command = marker.group(3)
        if args.only and args.only not in command:
            continue
        print(f"running: {command}", file=sys.stderr)
        rendered.append((start, end, render(marker)))
    for start, end, new in reversed(rendered):  # from the bottom, so earlier line numbers stay valid
        lines[start:end] = new
    README.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
