"""Architecture encodings, by name: `onehot`, `adjacency`, `path`, `path-truncated:K`."""

from __future__ import annotations

from typing import Callable

from surrogate.encodings.adjacency import Adjacency
from surrogate.encodings.base import Encoding
from surrogate.encodings.onehot import OneHot
from surrogate.encodings.path import Path
from surrogate.errors import UsageError
from surrogate.spaces import Space, get_space


def _path_truncated(space: Space, arg: str) -> Encoding:
    try:
        keep = int(arg)
    except ValueError:
        raise UsageError(f"path-truncated needs a number of paths, e.g. path-truncated:20 (got {arg!r})") from None
    return Path(space, keep=keep)


def _plain(cls: type[Encoding]) -> Callable[[Space, str], Encoding]:
    def make(space: Space, arg: str) -> Encoding:
        if arg:
            raise UsageError(f"encoding {cls.name!r} takes no argument")
        return cls(space)

    return make


#: name -> factory(space, argument after ':'). Later encodings register here.
ENCODINGS: dict[str, Callable[[Space, str], Encoding]] = {
    "onehot": _plain(OneHot),
    "adjacency": _plain(Adjacency),
    "path": _plain(Path),
    "path-truncated": _path_truncated,
}


def get_encoding(name: str, space: Space | str) -> Encoding:
    """The encoding `name` bound to `space`; UsageError if unknown or impossible for that space."""
    key, _, arg = name.strip().partition(":")
    if key not in ENCODINGS:
        raise UsageError(f"unknown encoding {name!r} (known: onehot, adjacency, path, path-truncated:K)")
    return ENCODINGS[key](get_space(space), arg)


__all__ = ["Encoding", "OneHot", "Adjacency", "Path", "ENCODINGS", "get_encoding"]
