"""Architecture encodings, by name: `onehot`, `index`, `adjacency`, `path`, `path-truncated:K`, `graf`."""

from __future__ import annotations

from typing import Callable

from surrogate.encodings.adjacency import Adjacency
from surrogate.encodings.base import Encoding
from surrogate.encodings.graf import Graf
from surrogate.encodings.index import Index
from surrogate.encodings.onehot import OneHot
from surrogate.encodings.path import Path
from surrogate.registry import Registry
from surrogate.spaces import Space, get_space

#: name -> factory(space, argument after ':'). New encodings register here.
ENCODINGS: Registry[Callable[[Space, str], Encoding]] = Registry("encoding", {
    "onehot": OneHot.from_spec,
    "index": Index.from_spec,
    "adjacency": Adjacency.from_spec,
    "path": Path.from_spec,
    "path-truncated": Path.truncated,
    "graf": Graf.from_spec,
})


def get_encoding(name: str, space: Space | str) -> Encoding:
    """The encoding `name` bound to `space`; UsageError if unknown or impossible for that space."""
    key, argument = Registry.split(name)
    return ENCODINGS[key](get_space(space), argument)


__all__ = ["Encoding", "OneHot", "Index", "Adjacency", "Path", "Graf", "ENCODINGS", "get_encoding"]
