"""Search spaces, named on the command line by spec strings (`nb201`, `categorical:8x3`)."""

from __future__ import annotations

from typing import Callable

from surrogate.errors import UsageError
from surrogate.spaces.base import Space
from surrogate.spaces.categorical import CategoricalSpace
from surrogate.spaces.nb201 import NB201Space

#: spec name -> factory taking the text after ':' ('' when absent). Later spaces register here.
SPACES: dict[str, Callable[[str], Space]] = {}


def register(name: str, factory: Callable[[str], Space]) -> None:
    SPACES[name] = factory


def _nb201(arg: str) -> Space:
    if arg:
        raise UsageError("space nb201 takes no arguments")
    return NB201Space()


register("nb201", _nb201)
register("categorical", CategoricalSpace.from_spec)


def get_space(spec: str | Space) -> Space:
    """The space named by `spec`, e.g. `nb201`, `categorical:8x3`, `categorical:3,3,5`."""
    if isinstance(spec, Space):
        return spec
    name, _, arg = str(spec).strip().partition(":")
    if name not in SPACES:
        raise UsageError(f"unknown space {spec!r} (known: {', '.join(sorted(SPACES))})")
    return SPACES[name](arg)


__all__ = ["Space", "NB201Space", "CategoricalSpace", "SPACES", "get_space", "register"]
