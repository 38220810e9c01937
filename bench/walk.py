"""The walk of `surrogate search` (issue 21's measure of how a newcomer follows the arguments):
run one small search with a profiler hook and count, over the package's own modules,

- modules: the distinct surrogate modules the run enters;
- climbs: distinct (caller module -> callee module) calls into a module that is already on the
  module stack below the caller, i.e. the reader climbs back up to a module already left;
- returns: distinct (module -> module) returns that cross a module boundary.

Each edge counts once, however often a loop repeats it, so the numbers describe the code's shape,
not the run's length; module bodies (imports) are not steps. The counts are given twice: over every
module of the package, and over the search path the arguments follow (`surrogate.cli` and
`surrogate.search.*`: CLI -> request -> campaign -> oracle/strategy -> report), leaving out the
helpers they call (spaces, encodings, models, tables, registry, I/O).

    python bench/walk.py [SEARCH ARGS...]   (default: nb201 --strategies bo,re --seeds 1 --budget 12)
"""

from __future__ import annotations

import os
import sys
import tempfile

from surrogate import cli


def module_of(frame) -> str | None:
    """The surrogate module a frame runs in; None outside the package and for module bodies (an
    import is not a step of the walk)."""
    if frame.f_code.co_name == "<module>":
        return None
    name = frame.f_globals.get("__name__", "")
    return name if name == "surrogate" or name.startswith("surrogate.") else None


def main(argv: list[str]) -> None:
    args = argv or ["nb201", "--metric", "cifar10_valid_acc", "--strategies", "bo,re", "--seeds", "1",
                    "--budget", "12", "--no-progress"]
    stack: list[str | None] = []
    modules: set[str] = set()
    climbs: set[tuple[str, str]] = set()
    returns: set[tuple[str, str]] = set()

    def hook(frame, event, arg):
        if event == "call":
            callee, caller = module_of(frame), (stack[-1] if stack else None)
            if callee is not None:
                modules.add(callee)
                if caller is not None and callee != caller and callee in stack[:-1]:
                    climbs.add((caller, callee))
            stack.append(callee if callee is not None else caller)
        elif event == "return" and stack:
            leaving = stack.pop()
            back = stack[-1] if stack else None
            if leaving is not None and back is not None and leaving != back:
                returns.add((leaving, back))

    with tempfile.TemporaryDirectory() as out:
        sys.setprofile(hook)
        try:
            cli.main(["search", *args, "--out", f"{out}/walk"])
        except SystemExit:
            pass
        finally:
            sys.setprofile(None)
    print(f"surrogate search {' '.join(args)}")
    print(f"every module: modules {len(modules)}, climbs back up {len(climbs)}, returns across modules {len(returns)}")
    path = lambda m: m == "surrogate.cli" or m.startswith("surrogate.search")  # noqa: E731
    on_path = [m for m in modules if path(m)]
    climbs_on = [(a, b) for a, b in climbs if path(a) and path(b)]
    returns_on = [(a, b) for a, b in returns if path(a) and path(b)]
    print(f"search path: modules {len(on_path)}, climbs back up {len(climbs_on)}, returns across modules {len(returns_on)}")
    for a, b in sorted(climbs):
        print(f"  climb {a} -> {b}")
    if os.environ.get("WALK_VERBOSE"):
        for a, b in sorted(returns):
            print(f"  return {a} -> {b}")


if __name__ == "__main__":
    main(sys.argv[1:])
