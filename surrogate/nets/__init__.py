"""Networks built from architectures (torch lives here; spaces stay torch-free)."""

from __future__ import annotations

import numpy as np
from torch import nn

from surrogate.errors import UsageError


def build_network(space_spec: str, arch: np.ndarray, channels: int = 16, cells: int = 5, num_classes: int = 10,
                  in_channels: int = 3) -> nn.Module:
    """The network of `arch` in space `space_spec`.

    * `nb201`: `NB201Network` with C=`channels`, N=`cells` (NB201's own setting is 16, 5).
    * `categorical:...`: a `ChainNetwork`; choice j of every position is block
      `chain.DEFAULT_BLOCKS[j]` (identity, mb3_k3, mb6_k5, mb3_k5, ...), so `categorical:8x3` is
      NAS-Bench-Macro's space. `channels` is the stem width, doubled at each of the default
      downsampling positions; `cells` does not apply (the chain's length is the space's).
    """
    from surrogate.spaces import get_space

    space = get_space(space_spec)
    arch = space.check(arch)
    if space.spec == "nb201":
        from surrogate.nets.nb201 import NB201Network

        return NB201Network(arch, channels=channels, cells=cells, num_classes=num_classes, in_channels=in_channels)
    if space.spec.startswith("categorical:"):
        from surrogate.nets.chain import DEFAULT_BLOCKS, ChainNetwork

        if max(space.num_choices) > len(DEFAULT_BLOCKS):
            raise UsageError(f"space {space.spec}: a chain position has at most {len(DEFAULT_BLOCKS)} block choices "
                             f"({', '.join(DEFAULT_BLOCKS)})")
        blocks = [DEFAULT_BLOCKS[:k] for k in space.num_choices]
        return ChainNetwork(arch, blocks, channels=channels, num_classes=num_classes, in_channels=in_channels)
    raise UsageError(f"no network definition for space {space.spec}")
