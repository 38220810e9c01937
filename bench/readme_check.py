"""Run every command of README.md's console blocks as a newcomer would, and record which exit 0.

A newcomer has a fresh clone (committed files only), no `../shared` beside it, ran `make demo` and
`. .venv/bin/activate`. So this script clones the repository's HEAD into a temporary folder (whose
parent holds no `shared/`), puts this repository's `.venv/bin` first on PATH (what activating gives)
with the clone's code first on PYTHONPATH (so the clone's package and its shipped tables run), and
runs each `$ command` line of every ```console fence of the clone's README.md, in README order (a
later command may read an earlier one's files), under bash in the clone's root. It writes
bench/results/readme_check.md: commit, machine, and per command its exit status and seconds.
Usage:

    python bench/readme_check.py [--only TEXT] [--keep] [--no-record]

`--only TEXT` runs the commands containing TEXT (with the others skipped, a later command may miss
an earlier one's files); `--keep` keeps the clone and prints its path. The whole README takes about
15-25 minutes on 2 cores (the demo, the search campaigns and the weight-sharing runs dominate).
tests/test_readme.py checks the cheap part on every run: every console command is one of the
project's and reads no file a clone lacks (`static_problems`).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "bench" / "results" / "readme_check.md"
#: file arguments a command reads, by their ending (outputs under runs/ are made by earlier commands)
INPUT_SUFFIXES = (".csv", ".h5", ".pt", ".npz", ".txt")


#: commands that need a service a clone does not bring (reported as not run, with the reason)
EXTERNAL = {"--storage postgresql": "needs a PostgreSQL server"}


def console_commands(text: str) -> list[str]:
    """The `$ command` lines of every ```console fence, in order (a line ending in a backslash
    continues on the next)."""
    commands, inside, continued = [], False, False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            inside, continued = (stripped == "```console" if not inside else False), False
            continue
        if inside and continued:
            commands[-1] = commands[-1][:-1].rstrip() + " " + stripped
        elif inside and line.startswith("$ "):
            commands.append(line[2:].strip())
        else:
            continue
        continued = commands[-1].endswith("\\")
    return commands


def external(command: str) -> str | None:
    """Why `command` cannot run in a bare clone, or None."""
    return next((why for pattern, why in EXTERNAL.items() if pattern in command), None)


def static_problems(commands: list[str], tracked: set[str]) -> list[str]:
    """What would fail in a fresh clone before running anything: a command that is not the
    project's (`surrogate ...`, or `cp` of a shipped table), or that reads a file outside the clone
    or one the clone does not track (files under runs/ are made by earlier commands)."""
    problems = []
    for command in commands:
        try:
            words = shlex.split(command)
        except ValueError as err:
            problems.append(f"{command}: not a shell command ({err})")
            continue
        if words[0] not in ("surrogate", "cp"):
            problems.append(f"{command}: runs {words[0]!r}, not `surrogate`")
        for word in words:
            if word.startswith("-") or "$(" in word:
                continue
            if word.startswith(("../", "/", "~")):
                problems.append(f"{command}: reads {word}, outside a fresh clone")
            elif word.endswith(INPUT_SUFFIXES) and not word.startswith("runs/") and word not in tracked:
                problems.append(f"{command}: reads {word}, which the repository does not track")
    return problems


def tracked_files(root: Path = ROOT) -> set[str]:
    run = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True)
    return set(run.stdout.splitlines())


def run_all(clone: Path, commands: list[str], only: str | None) -> list[dict]:
    venv_bin = ROOT / ".venv" / "bin"
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
           "VIRTUAL_ENV": str(ROOT / ".venv"), "PYTHONPATH": str(clone),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    results = []
    for command in commands:
        if only and only not in command:
            results.append({"command": command, "status": "skipped", "seconds": 0.0, "error": ""})
            continue
        if external(command):
            results.append({"command": command, "status": "not run", "seconds": 0.0, "error": external(command)})
            continue
        print(f"running: {command}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        done = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        error = (done.stderr.strip().splitlines() or [""])[-1] if done.returncode else ""
        results.append({"command": command, "status": done.returncode, "seconds": seconds, "error": error})
        print(f"  exit {done.returncode} in {seconds:.1f} s {error}", file=sys.stderr, flush=True)
    return results


def record(results: list[dict], commit: str, total: float) -> str:
    passed = sum(r["status"] == 0 for r in results)
    ran = sum(isinstance(r["status"], int) for r in results)
    lines = ["# README check: every console command in a fresh clone", "",
             f"`python bench/readme_check.py`, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit[:12]}, "
             f"{platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}; a clone of the "
             "commit in a temporary folder without `../shared`, this repository's `.venv/bin` on PATH (as "
             f"`. .venv/bin/activate` gives), the clone's code on PYTHONPATH. **{passed}/{ran} exit 0**, "
             f"{total / 60:.1f} min in all.", "",
             "| # | command | exit | seconds |", "|---|---|---|---|"]
    for i, r in enumerate(results, 1):
        note = f" ({r['error']})" if r["error"] else ""
        lines.append(f"| {i} | `{r['command'].replace('|', chr(92) + '|')}` | {r['status']}{note} | {r['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the commands containing this text")
    parser.add_argument("--keep", action="store_true", help="keep the clone and print its path")
    parser.add_argument("--no-record", action="store_true", help=f"do not write {RECORD.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="readme-check-"))
    clone = base / "clone"
    assert not (base / "shared").exists()
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True,
                            check=True).stdout.strip()
    commands = console_commands((clone / "README.md").read_text())
    problems = static_problems(commands, tracked_files(clone))
    for problem in problems:
        print(f"static: {problem}", file=sys.stderr)
    start = time.perf_counter()
    results = run_all(clone, commands, args.only)
    total = time.perf_counter() - start
    if not args.no_record and not args.only:
        RECORD.write_text(record(results, commit, total))
    failed = [r for r in results if isinstance(r["status"], int) and r["status"] != 0]
    print(f"{len(results) - len(failed)}/{len(results)} commands exit 0 or were not run ({total / 60:.1f} min)"
          + (f"; failed: {', '.join(r['command'] for r in failed)}" if failed else ""))
    if args.keep:
        print(f"clone kept at {clone}")
    else:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
