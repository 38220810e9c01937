"""One registry pattern for everything the command line names: spaces, encodings, models,
strategies, networks and supernets.

A `Registry` maps a name to an object (a class or a factory function), given either directly or as
a lazy `"module:attribute"` path, so heavy dependencies (BoTorch, Optuna, torch) load only when
their entry is used. Names on the command line may carry an argument after a colon
(`categorical:8x3`, `path-truncated:20`): `split` separates the two, and what the argument means
is the entry's business.
"""

from __future__ import annotations

import importlib
from typing import Generic, Iterator, TypeVar

from surrogate.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """name -> entry, with one error message for unknown names."""

    def __init__(self, kind: str, entries: dict[str, T | str] | None = None):
        self.kind = kind
        self._entries: dict[str, T | str] = dict(entries or {})

    def register(self, name: str, entry: T | str) -> T | str:
        """Add (or replace) `name`; `entry` may be a `"module:attribute"` path, loaded on first use."""
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> T:
        if name not in self._entries:
            raise UsageError(f"unknown {self.kind} {name!r} (known: {', '.join(self)})")
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), attribute)
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    @staticmethod
    def split(spec: str) -> tuple[str, str]:
        """`'name:argument'` -> `('name', 'argument')`; the argument is '' when absent."""
        name, _, argument = str(spec).strip().partition(":")
        return name, argument
