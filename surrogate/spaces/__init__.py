"""Search spaces, named on the command line by spec strings (`nb201`, `categorical:8x3`, `rnn-cell:8`)."""

from __future__ import annotations

from surrogate.registry import Registry
from surrogate.spaces.base import ENUMERATE_LIMIT, CellSpace, Space
from surrogate.spaces.categorical import CategoricalSpace
from surrogate.spaces.nb201 import NB201Space
from surrogate.spaces.rnn import RNNCellSpace

#: kind -> Space subclass; `<kind>:<argument>` builds `cls.from_spec(argument)`. New spaces register here.
SPACES: Registry[type[Space]] = Registry("space", {"nb201": NB201Space, "categorical": CategoricalSpace,
                                                   "rnn-cell": RNNCellSpace})

#: spaces are immutable once built, and some are costly (NB201's isomorphism table): one per spec.
_BUILT: dict[str, Space] = {}


def get_space(spec: str | Space) -> Space:
    """The space named by `spec`, e.g. `nb201`, `categorical:8x3`, `categorical:3,3,5` (built once)."""
    if isinstance(spec, Space):
        return spec
    key = str(spec).strip()
    if key not in _BUILT:
        kind, argument = Registry.split(key)
        space = SPACES[kind].from_spec(argument)
        _BUILT[key] = _BUILT.setdefault(space.spec, space)  # `categorical:3,3` and `categorical:2x3` share one
    return _BUILT[key]


__all__ = ["ENUMERATE_LIMIT", "CellSpace", "Space", "NB201Space", "CategoricalSpace", "RNNCellSpace", "SPACES",
           "get_space"]
