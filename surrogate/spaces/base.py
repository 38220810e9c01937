"""The space protocol: an architecture is a row of choice indices, a space is the set of such rows."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import ClassVar, Iterable, Sequence

import numpy as np

from surrogate.errors import UsageError

RngLike = np.random.Generator | int | None

#: spaces larger than this are never materialised by `enumerate()`.
ENUMERATE_LIMIT = 5_000_000


class Space(ABC):
    """Base class of every search space: a product of categorical decisions.

    Subclasses set `kind` (their registry name), `spec` and `choices` (one tuple of choice names per
    decision) and implement `from_spec`, `parse` and `format`; spaces whose architectures can be
    functionally identical override `canonicalize` and `canonical_ids`. Everything else (sampling,
    enumeration, mutation, neighbours, ids) is vectorised here. Optional abilities are mixins
    (`CellSpace`: the architectures are cells, DAGs of ops).
    """

    kind: ClassVar[str]
    spec: str
    choices: tuple[tuple[str, ...], ...]

    @classmethod
    @abstractmethod
    def from_spec(cls, argument: str) -> "Space":
        """The space named `<kind>:<argument>` on the command line ('' when there is no argument)."""

    # --- shape of the space -------------------------------------------------------------------
    @property
    def num_choices(self) -> np.ndarray:
        """K_i for every decision i, as an int64 vector."""
        return np.array([len(c) for c in self.choices], dtype=np.int64)

    @property
    def num_decisions(self) -> int:
        return len(self.choices)

    @property
    def size(self) -> int:
        """Number of architectures (an exact Python int; may exceed int64)."""
        return int(np.prod([len(c) for c in self.choices], dtype=object))

    @property
    def decision_names(self) -> list[str]:
        """A name per decision (Optuna parameter names; they sort in decision order)."""
        width = len(str(self.num_decisions - 1))
        return [f"d{i:0{width}d}" for i in range(self.num_decisions)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    # --- generating architectures ------------------------------------------------------------
    def sample(self, n: int, rng: RngLike = None) -> np.ndarray:
        """`n` architectures drawn uniformly (with replacement) as an (n, d) int64 matrix."""
        rng = np.random.default_rng(rng)
        return rng.integers(0, self.num_choices, size=(n, self.num_decisions), dtype=np.int64)

    def enumerate(self) -> np.ndarray:
        """Every architecture, in mixed-radix order (row i has `index` i)."""
        if self.size > ENUMERATE_LIMIT:
            raise UsageError(f"space {self.spec} has {self.size} architectures, too many to enumerate")
        return self.unindex(np.arange(self.size, dtype=np.int64))

    def mutate(self, archs: np.ndarray, rng: RngLike = None) -> np.ndarray:
        """Change exactly one decision (chosen uniformly) of each architecture to another value."""
        rng = np.random.default_rng(rng)
        archs = self.check(archs)
        out = np.atleast_2d(archs).copy()
        rows = np.arange(len(out))
        k = self.num_choices
        mutable = np.flatnonzero(k > 1)
        if len(mutable) == 0:
            raise UsageError(f"space {self.spec} has no decision with two or more choices")
        pos = mutable[rng.integers(0, len(mutable), size=len(out))]
        shift = rng.integers(1, k[pos])  # never 0: the value always changes
        out[rows, pos] = (out[rows, pos] + shift) % k[pos]
        return out if archs.ndim == 2 else out[0]

    def neighbors(self, arch: np.ndarray) -> np.ndarray:
        """All architectures that differ from `arch` in exactly one decision, as a matrix."""
        arch = self.check(arch)
        if arch.ndim != 1:
            raise UsageError("neighbors() takes one architecture (a vector)")
        k = self.num_choices
        pos = np.repeat(np.arange(self.num_decisions), k - 1)
        shift = np.concatenate([np.arange(1, ki) for ki in k]) if len(pos) else np.zeros(0, np.int64)
        out = np.tile(arch, (len(pos), 1))
        out[np.arange(len(pos)), pos] = (arch[pos] + shift) % k[pos]
        return out

    # --- identity ------------------------------------------------------------------------------
    def check(self, archs: np.ndarray | Sequence) -> np.ndarray:
        """Return `archs` as int64 after verifying shape and ranges (UsageError otherwise)."""
        a = np.asarray(archs)
        if a.ndim not in (1, 2) or a.shape[-1] != self.num_decisions:
            raise UsageError(f"architectures for {self.spec} need {self.num_decisions} decisions, got shape {a.shape}")
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise UsageError(f"architectures must be integer choice indices, got dtype {a.dtype}")
        a = a.astype(np.int64, copy=False)
        if a.size and ((a < 0).any() or (a >= self.num_choices).any()):
            raise UsageError(f"choice index out of range for space {self.spec}")
        return a

    def index(self, archs: np.ndarray) -> np.ndarray:
        """Mixed-radix rank of each architecture (the inverse of `unindex`); needs size < 2**63."""
        if self.size >= 2**63:
            raise UsageError(f"space {self.spec} is too large for int64 indices")
        a = np.atleast_2d(self.check(archs))
        weights = np.cumprod(np.concatenate([self.num_choices[1:], [1]])[::-1])[::-1]
        return a @ weights

    def unindex(self, indices: np.ndarray) -> np.ndarray:
        """Architectures from their mixed-radix ranks."""
        idx = np.asarray(indices, dtype=np.int64)
        return np.stack(np.unravel_index(idx, tuple(self.num_choices)), axis=-1).astype(np.int64)

    def canonicalize(self, archs: np.ndarray) -> np.ndarray:
        """Map each architecture to the representative of its isomorphism class (identity here)."""
        return self.check(archs)

    def canonical_ids(self, archs: np.ndarray) -> np.ndarray:
        """An int64 id per architecture, equal exactly for functionally identical architectures."""
        canon = np.atleast_2d(self.canonicalize(archs))
        if self.size < 2**63:
            return self.index(canon)
        digest = (hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in canon)
        return np.array([int.from_bytes(d, "little", signed=True) for d in digest], dtype=np.int64)

    # --- strings -----------------------------------------------------------------------------
    @abstractmethod
    def parse(self, text: str) -> np.ndarray:
        """One architecture from its string form (UsageError when malformed)."""

    @abstractmethod
    def format(self, arch: np.ndarray) -> str:
        """The string form of one architecture (the inverse of `parse`)."""

    def parse_many(self, texts: Iterable[str]) -> np.ndarray:
        """Parse many strings into an (n, d) matrix."""
        rows = [self.parse(t) for t in texts]
        return np.array(rows, dtype=np.int64).reshape(len(rows), self.num_decisions)

    def format_many(self, archs: np.ndarray) -> list[str]:
        return [self.format(a) for a in np.atleast_2d(self.check(archs))]


class CellSpace(ABC):
    """Ability mixin: every architecture is a cell, a DAG of ops in node-op form (ops on nodes), which
    the graph encodings (`adjacency`, `path`) read. A space with this mixin is a cell space."""

    #: ops that compute the identity (graph encodings skip them, as NAS-Bench-201's unique strings do).
    dag_identity: tuple[str, ...] = ()

    @property
    @abstractmethod
    def dag_ops(self) -> tuple[str, ...]:
        """Op vocabulary of the node-op DAG (absence is not an op)."""

    @property
    @abstractmethod
    def dag_possible(self) -> np.ndarray:
        """(V, V) bool: which node-op edges can exist; node 0 is the input, node V-1 the output."""

    @abstractmethod
    def dag(self, archs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Node-op form of many cells: adjacency (n, V, V) bool and ops (n, V) int64 (-1: no op)."""
