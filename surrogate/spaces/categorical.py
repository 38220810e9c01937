"""User-defined categorical spaces: N positions with K_i choices each (a chain of blocks, a vector
of hyperparameters)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from surrogate.errors import UsageError
from surrogate.spaces.base import Space


class CategoricalSpace(Space):
    """A product of categorical choices; architectures print as digits (`02012100`) when every
    K_i <= 10, otherwise dash-separated (`0-2-11-3`). Both forms parse.

    `choice_names` optionally names the choices of each position (for display and networks);
    they do not change the arch strings, which stay index-based and therefore unambiguous.
    """

    kind = "categorical"

    def __init__(self, num_choices: Sequence[int], choice_names: Sequence[Sequence[str]] | None = None):
        k = [int(x) for x in num_choices]
        if not k or any(x < 1 for x in k):
            raise UsageError("a categorical space needs at least one position, each with >= 1 choice")
        if choice_names is None:
            choice_names = [[str(j) for j in range(x)] for x in k]
        if len(choice_names) != len(k) or any(len(n) != x for n, x in zip(choice_names, k)):
            raise UsageError("choice_names must give one name per choice of every position")
        self.choices = tuple(tuple(str(n) for n in names) for names in choice_names)
        self.spec = "categorical:" + _compact(k)
        self._digits = max(k) <= 10

    @classmethod
    def from_spec(cls, argument: str) -> "CategoricalSpace":
        """Parse the part after `categorical:` — comma-separated `K` or `NxK` items, e.g. `8x3` or `3,3,5`."""
        k: list[int] = []
        try:
            for item in argument.split(","):
                count, x, choices = item.strip().rpartition("x")
                k.extend([int(choices)] * (int(count) if x else 1))
        except ValueError:
            raise UsageError(f"malformed categorical spec {argument!r}: use e.g. categorical:8x3 or categorical:3,3,5") from None
        return cls(k)

    def format(self, arch: np.ndarray) -> str:
        a = self.check(arch)
        return ("" if self._digits else "-").join(str(int(x)) for x in a)

    def parse(self, text: str) -> np.ndarray:
        d = self.num_decisions
        s = str(text).strip()
        if "-" in s:
            parts = s.split("-")
        elif len(s) == d:
            parts = list(s)
        elif d == 1:
            parts = [s]
        else:
            raise UsageError(f"malformed arch string {text!r} for {self.spec}: expected {d} digits or {d} dash-separated indices")
        if len(parts) != d or not all(p.isdigit() for p in parts):
            raise UsageError(f"malformed arch string {text!r} for {self.spec}: expected {d} choice indices")
        arch = np.array([int(p) for p in parts], dtype=np.int64)
        bad = np.flatnonzero(arch >= self.num_choices)
        if len(bad):
            i = int(bad[0])
            raise UsageError(f"arch string {text!r}: position {i} has choice {arch[i]} but only {self.num_choices[i]} choices")
        return arch

    def label(self, arch: np.ndarray) -> list[str]:
        """The choice names of one architecture."""
        return [self.choices[i][j] for i, j in enumerate(self.check(arch))]


def _compact(k: list[int]) -> str:
    """Canonical spec text: runs of equal K written as NxK (`8x3`), single ones as K."""
    out, i = [], 0
    while i < len(k):
        j = i
        while j < len(k) and k[j] == k[i]:
            j += 1
        out.append(f"{j - i}x{k[i]}" if j - i > 1 else str(k[i]))
        i = j
    return ",".join(out)
