"""The encoding protocol: a function from an (n, d) architecture matrix to an (n, f) float matrix."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from surrogate.errors import UsageError
from surrogate.spaces import CellSpace, Space


class Encoding(ABC):
    """An encoding bound to one space. Calling it encodes many architectures at once.

    `names` labels the output columns (useful in tables and for feature importances).
    """

    name: str
    names: list[str]

    def __init__(self, space: Space):
        self.space = space

    @classmethod
    def from_spec(cls, space: Space, argument: str) -> "Encoding":
        """The encoding named `<name>:<argument>` on the command line; plain encodings take none."""
        if argument:
            raise UsageError(f"encoding {cls.name!r} takes no argument")
        return cls(space)

    @property
    def dim(self) -> int:
        return len(self.names)

    def __call__(self, archs: np.ndarray) -> np.ndarray:
        a = np.atleast_2d(self.space.check(archs))
        return self.encode(a)

    @abstractmethod
    def encode(self, archs: np.ndarray) -> np.ndarray:
        """(n, d) checked architectures -> (n, dim) float matrix."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, space={self.space.spec!r}, dim={self.dim})"


def require_cell(space: Space, encoding: str) -> None:
    """Cell encodings need the space's node-op DAG view; say so clearly when it has none."""
    if not isinstance(space, CellSpace):
        raise UsageError(f"encoding {encoding!r} needs a cell space (a DAG of ops); {space.spec} is not one — use onehot")
