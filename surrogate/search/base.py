"""The ask/tell protocol every search strategy follows (Optuna's sampler / SMAC's ask-tell).

A strategy proposes architectures of a space (`ask`), is told their measured values (`tell`) and
maximises them. It never proposes an architecture it has already been told about, nor one that is
pending (asked, not yet told), nor an isomorph of either: it works on canonical ids.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from surrogate.errors import UsageError
from surrogate.spaces import ENUMERATE_LIMIT, Space, get_space

#: rejection sampling gives up after this many draws per architecture asked for.
_MAX_DRAWS = 1000


class Strategy(ABC):
    """Base class: bookkeeping of observations, pending asks and seen isomorphism classes.

    Subclasses implement `propose()` (one new architecture, a (d,) int vector) and may override
    `observe(arch, value)` to update their own state. `ask()` guarantees novelty around them: a
    proposal that is not new is replaced by a random new one and counted in `fallbacks` (a
    well-behaved strategy keeps it at 0; tests assert that).
    """

    name = "strategy"
    #: told outcome vectors over a `Problem`'s columns (`multiobjective.MultiObjectiveStrategy`), or one number
    vector_outcomes = False
    #: a multi-fidelity strategy's `fidelity.Fidelity`; None: every ask is a whole training
    fidelity = None
    #: per-epoch columns a job's outcome comes with, beside the objective (`tell_job`'s `recorded`)
    recorded_columns: tuple[str, ...] = ()

    def __init__(self, space: Space | str, seed: int | None = None):
        self.space = get_space(space)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.archs: list[np.ndarray] = []
        self.values: list[float] = []
        self._seen: set[int] = set()
        self._pending: dict[int, np.ndarray] = {}
        self._domain: np.ndarray | None = None
        self._domain_ids: np.ndarray | None = None
        self._domain_is_space = False  # True when the domain is merely the enumerated space (a cache)
        self.fallbacks = 0

    def restrict(self, archs: np.ndarray) -> "Strategy":
        """Only ever ask architectures isomorphic to one of `archs` (a tabular benchmark that does not
        cover its whole space). Call before the first ask."""
        archs = self.space.check(archs)
        ids = self.space.canonical_ids(archs)
        _, first = np.unique(ids, return_index=True)
        first = np.sort(first)
        self._domain, self._domain_ids = archs[first], ids[first]
        return self

    # --- the protocol ---------------------------------------------------------------------------
    def ask(self) -> np.ndarray:
        """One architecture never evaluated or pending, nor isomorphic to one (UsageError when the
        space is exhausted)."""
        if self.exhausted():
            raise UsageError(f"every architecture class of {self.space.spec} has been asked for")
        arch = self.space.check(self.propose())
        key = self._key(arch)
        if not self.is_new(arch[None])[0]:  # a subclass slipped (seen, pending, outside the domain): a fresh random one
            self.fallbacks += 1
            arch = self.random_unseen(1)[0]
            key = self._key(arch)
        self._pending[key] = arch
        return arch

    def ask_batch(self, q: int) -> np.ndarray:
        """q architectures at once (default: q asks; pending ones count as taken)."""
        return np.stack([self.ask() for _ in range(q)])

    def tell(self, arch: np.ndarray, value: float) -> None:
        """Record the measured value of an architecture (NaN = failed; it is not retried)."""
        arch = self.space.check(arch)
        key = self._key(arch)
        self._pending.pop(key, None)
        if key in self._seen:
            return
        self._seen.add(key)
        self.archs.append(arch)
        self.values.append(float(value))
        self.observe(arch, float(value))

    def ask_job(self) -> tuple[np.ndarray, int | None] | None:
        """The next training to run: (architecture, epochs), epochs None for a whole training (every
        strategy but the multi-fidelity ones, `search.fidelity`); None: nothing until a result comes."""
        return self.ask(), None

    def tell_job(self, arch: np.ndarray, epochs: int | None, value, recorded: dict[str, float] | None = None) -> None:
        """The outcome of a job `ask_job` gave; `recorded`: its `recorded_columns` at those epochs
        (NaN where the oracle records none)."""
        self.tell(arch, value)

    def set_pending(self, archs: np.ndarray | None) -> None:
        """Declare the architectures being evaluated elsewhere (other workers' trials), replacing
        the pending set, as BoTorch's `set_X_pending`: they are never asked again and model-based
        strategies keep away from them. Ones already told are ignored."""
        self._pending = {}
        if archs is not None and len(archs):
            archs = np.atleast_2d(self.space.check(archs))
            for arch, key in zip(archs, self.space.canonical_ids(archs).tolist()):
                if key not in self._seen:
                    self._pending[int(key)] = arch

    def condition(self, archs: list[np.ndarray], values: list[float], like: "Strategy") -> None:
        """Replace what this strategy was told with `archs`/`values`, and take `like`'s seen and
        pending classes: a multi-fidelity scheduler asks its searcher for a new architecture from the
        results of one rung (`search.fidelity`), which are not the searcher's own tells."""
        self.archs, self.values = list(archs), list(values)
        self._seen, self._pending = set(like._seen), dict(like._pending)

    @property
    def pending(self) -> np.ndarray:
        """The architectures asked and not yet told, as an (n, d) matrix."""
        if not self._pending:
            return np.zeros((0, self.space.num_decisions), dtype=np.int64)
        return np.stack(list(self._pending.values()))

    # --- for subclasses -------------------------------------------------------------------------
    @abstractmethod
    def propose(self) -> np.ndarray:
        """One new architecture (a (d,) int vector); `ask` checks that it is new."""

    def observe(self, arch: np.ndarray, value: float) -> None:
        """Hook after `tell` recorded an observation."""

    @property
    def n_observed(self) -> int:
        return len(self.values)

    def best(self) -> tuple[np.ndarray | None, float]:
        """Best architecture told so far and its value (ignoring NaN)."""
        values = np.array(self.values, dtype=np.float64)
        if not np.isfinite(values).any():
            return None, float("nan")
        i = int(np.nanargmax(values))
        return self.archs[i], float(values[i])

    def is_new(self, archs: np.ndarray) -> np.ndarray:
        """Boolean mask: which rows are neither seen nor pending (by isomorphism class)."""
        ids = self.space.canonical_ids(np.atleast_2d(archs))
        taken = self._seen | set(self._pending)
        new = np.fromiter((int(i) not in taken for i in ids), dtype=bool, count=len(ids))
        if self._domain_ids is not None:
            new &= np.isin(ids, self._domain_ids)
        return new

    def unseen_classes(self) -> np.ndarray:
        """One architecture per isomorphism class not yet seen or pending (the domain when restricted,
        else the enumerated space)."""
        open_ = self.unseen_mask()
        return self._domain[open_]

    def unseen_mask(self) -> np.ndarray:
        """Boolean mask over `self._domain` (built on first use): which classes are still open."""
        if self._domain is None:
            if self.space.size > ENUMERATE_LIMIT:
                raise UsageError(f"{self.space.spec} is too large to enumerate")
            archs = self.space.enumerate()
            ids = self.space.canonical_ids(archs)
            _, first = np.unique(ids, return_index=True)
            first = np.sort(first)
            self._domain, self._domain_ids = archs[first], ids[first]
            self._domain_is_space = True
        taken = np.fromiter(self._seen | set(self._pending), dtype=np.int64)
        return ~np.isin(self._domain_ids, taken)

    def random_unseen(self, n: int) -> np.ndarray:
        """n distinct architectures from new isomorphism classes, drawn uniformly."""
        if self._domain is not None and not self._domain_is_space:
            rest = self.unseen_classes()
            if len(rest) == 0:
                raise UsageError(f"no unexplored architecture left in the {len(self._domain)} classes searched")
            return rest[np.sort(self.rng.choice(len(rest), size=min(n, len(rest)), replace=False))]
        found: list[np.ndarray] = []
        keys: set[int] = set()
        for _ in range(_MAX_DRAWS):
            draws = self.space.sample(max(4 * n, 16), self.rng)
            new = self.is_new(draws)
            for arch, key in zip(draws[new], self.space.canonical_ids(draws[new]).tolist()):
                if key not in keys:
                    keys.add(key)
                    found.append(arch)
                    if len(found) == n:
                        return np.stack(found)
        if self.space.size <= ENUMERATE_LIMIT:  # small space: enumerate what is left
            rest = self.unseen_classes()
            rest = rest[~np.isin(self.space.canonical_ids(rest), np.fromiter(keys, dtype=np.int64))]
            if len(rest):
                take = self.rng.choice(len(rest), size=min(n - len(found), len(rest)), replace=False)
                found.extend(rest[take])
            if len(found):
                return np.stack(found)
        raise UsageError(f"no unexplored architecture left in {self.space.spec}")

    def exhausted(self) -> bool:
        if self._domain is None and self.space.size > ENUMERATE_LIMIT:
            return False
        return not self.unseen_mask().any()

    def _key(self, arch: np.ndarray) -> int:
        return int(self.space.canonical_ids(arch)[0])


class RandomSearch(Strategy):
    """Uniform sampling of new isomorphism classes — the baseline every method must beat."""

    name = "rs"

    def propose(self) -> np.ndarray:
        return self.random_unseen(1)[0]
