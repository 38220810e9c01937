"""Networks built from architectures (torch lives here; spaces stay torch-free)."""

from __future__ import annotations

from typing import Callable

import numpy as np
from torch import nn

from surrogate.errors import UsageError
from surrogate.registry import Registry

#: space kind -> builder(space, arch, channels, cells, num_classes, in_channels). New spaces register here.
NETWORKS: Registry[Callable[..., nn.Module]] = Registry("network", {
    "nb201": "surrogate.nets.nb201:build",
    "categorical": "surrogate.nets.chain:build",
    "rnn-cell": "surrogate.nets.rnn:build",
})
#: space kinds whose networks are character language models (they read text, not images)
LANGUAGE_MODELS = frozenset({"rnn-cell"})


def build_network(space_spec, arch: np.ndarray, channels: int = 16, cells: int = 5, num_classes: int = 10,
                  in_channels: int = 3) -> nn.Module:
    """The network of `arch` in space `space_spec`.

    * `nb201`: `NB201Network` with C=`channels`, N=`cells` (NB201's own setting is 16, 5).
    * `categorical:...`: a `ChainNetwork`; choice j of every position is block
      `chain.DEFAULT_BLOCKS[j]` (identity, mb3_k3, mb6_k5, mb3_k5, ...), so `categorical:8x3` is
      NAS-Bench-Macro's space. `channels` is the stem width, doubled at each of the default
      downsampling positions; `cells` does not apply (the chain's length is the space's).
    * `rnn-cell:N`: an `RNNCellNetwork` (a character language model) with hidden size `channels`;
      `num_classes` and `in_channels` are the vocabulary.
    """
    from surrogate.spaces import get_space

    space = get_space(space_spec)
    if space.kind not in NETWORKS:
        raise UsageError(f"no network definition for space {space.spec}")
    return NETWORKS[space.kind](space, space.check(arch), channels=channels, cells=cells, num_classes=num_classes,
                                in_channels=in_channels)
