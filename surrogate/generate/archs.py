"""Which architectures a job trains (`--archs`): a job is only resumable if the same option always
names the same architectures, in the same order."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from surrogate.errors import UsageError
from surrogate.spaces import Space
from surrogate.spaces.base import ENUMERATE_LIMIT

#: seed of `--archs N`'s draw: the same N always names the same architectures (and N is a prefix of N+1).
ARCH_SEED = 0


def select_archs(space: Space, which: str, unique: bool = False) -> np.ndarray:
    """The architectures of `--archs`: `all`, a count N (N distinct ones drawn with `ARCH_SEED`),
    or a file with one arch string per line (`#` comments and blank lines skipped). `unique`
    keeps one architecture per canonical class: the first of each class (for `all`, the one with
    the smallest index; NB201 then has 6,466)."""
    which = str(which).strip()
    if which == "all":
        archs = space.enumerate()
        return archs[_first_of_each_class(space, archs)] if unique else archs
    if which.isdigit():
        return _draw(space, int(which), unique)
    path = Path(which)
    if not path.is_file():
        raise UsageError(f"--archs {which!r}: expected 'all', a number, or a file of arch strings (no such file)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--archs {which}: not a text file of arch strings (one per line)") from None
    lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1)]
    lines = [(i, s) for i, s in lines if s and not s.startswith("#")]
    archs = np.empty((0, space.num_decisions), np.int64)
    if lines:
        archs = space.parse_many(s for _, s in lines)
    seen: dict[bytes, int] = {}
    for (line, _), row in zip(lines, archs):
        if row.tobytes() in seen:
            raise UsageError(f"{path}: line {line} repeats the architecture of line {seen[row.tobytes()]}")
        seen[row.tobytes()] = line
    if not len(archs):
        raise UsageError(f"{path}: no architectures in the file")
    return archs[_first_of_each_class(space, archs)] if unique else archs


def _first_of_each_class(space: Space, archs: np.ndarray) -> np.ndarray:
    _, first = np.unique(space.canonical_ids(archs), return_index=True)
    return np.sort(first)


def _draw(space: Space, n: int, unique: bool) -> np.ndarray:
    """n distinct architectures (distinct classes with `unique`), in a seeded random order."""
    if n < 1:
        raise UsageError("--archs N needs N >= 1")
    rng = np.random.default_rng(ARCH_SEED)
    if space.size <= ENUMERATE_LIMIT:
        pool = select_archs(space, "all", unique)
        if n > len(pool):
            raise UsageError(f"--archs {n}: the space has only {len(pool)} {'classes' if unique else 'architectures'}")
        return pool[rng.permutation(len(pool))[:n]]
    keys: dict[int | bytes, np.ndarray] = {}
    while len(keys) < n:  # a huge space: rejection sampling meets few repeats
        for row, key in zip(batch := space.sample(n, rng), space.canonical_ids(batch) if unique else batch):
            keys.setdefault(int(key) if unique else row.tobytes(), row)
    return np.array(list(keys.values())[:n], dtype=np.int64)
