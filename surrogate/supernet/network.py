"""Weight-sharing supernets: one network holding every choice of every decision of a space.

A supernet runs one architecture at a time (single path: `net(x, arch)`, SPOS and ENAS) or the
weighted sum of all choices of every decision (`net(x, weights=w)`, DARTS' continuous relaxation).
It is built from the same modules as the stand-alone networks of `surrogate.nets`, and its
parameter names are theirs with the choice index inserted after the decision's module
(`cells.0.edge_ops.3.2.1.weight` holds `cells.0.edge_ops.3.1.weight` of every cell whose edge 3
is op 2), so `standalone_state(arch)` hands an architecture its inherited weights.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from surrogate.errors import UsageError
from surrogate.registry import Registry
from surrogate.spaces import Space, get_space

#: one weight vector per decision (DARTS); each sums to one.
Weights = Sequence[torch.Tensor]


class MixedChoice(nn.ModuleList):
    """Every candidate of decision `decision`: run one (`choice`) or their `weights`-weighted sum."""

    def __init__(self, modules: Sequence[nn.Module], decision: int):
        super().__init__(modules)
        self.decision = decision

    def forward(self, x: torch.Tensor, arch: Sequence[int] | None = None, weights: Weights | None = None) -> torch.Tensor:
        if weights is None:
            return self[int(arch[self.decision])](x)  # type: ignore[index]
        w = weights[self.decision]
        return sum(w[j] * op(x) for j, op in enumerate(self))


class SuperCell(nn.Module):
    """An NB201 cell whose every edge holds all five ops (same node rule as `nets.nb201.Cell`)."""

    def __init__(self, channels: int):
        super().__init__()
        from surrogate.nets.nb201 import make_op
        from surrogate.spaces.nb201 import EDGES, OPS

        self.edges = EDGES
        self.edge_ops = nn.ModuleList(MixedChoice([make_op(name, channels) for name in OPS], e) for e in range(len(EDGES)))

    def forward(self, x: torch.Tensor, arch: Sequence[int] | None = None, weights: Weights | None = None) -> torch.Tensor:
        nodes = [x]
        for node in range(1, 4):
            nodes.append(sum(self.edge_ops[e](nodes[src], arch, weights)
                             for e, (dst, src) in enumerate(self.edges) if dst == node))
        return nodes[-1]


class Supernet(nn.Module):
    """Shared behaviour: forward along a path or a relaxation, and weight inheritance."""

    space: Space

    def forward(self, x: torch.Tensor, arch: np.ndarray | Sequence[int] | None = None,
                weights: Weights | None = None) -> torch.Tensor:
        if (arch is None) == (weights is None):
            raise ValueError("pass exactly one of arch (a single path) or weights (a relaxation)")
        path = None if arch is None else [int(a) for a in arch]
        return self.run(x, path, weights)

    def run(self, x: torch.Tensor, arch: list[int] | None, weights: Weights | None) -> torch.Tensor:
        raise NotImplementedError

    def standalone_state(self, arch: np.ndarray) -> dict[str, torch.Tensor]:
        """The state dict of `arch`'s stand-alone network (`surrogate.nets.build_network` with the
        same settings), taken from the shared weights (tensors are shared, not copied)."""
        arch = self.space.check(arch)
        choices = {name: module.decision for name, module in self.named_modules() if isinstance(module, MixedChoice)}
        state = {}
        for key, value in self.state_dict(keep_vars=False).items():
            parts = key.split(".")
            for cut in range(len(parts) - 1, 0, -1):
                prefix = ".".join(parts[:cut])
                if prefix in choices:
                    if int(parts[cut]) == int(arch[choices[prefix]]):
                        state[".".join(parts[:cut] + parts[cut + 1:])] = value
                    break
            else:
                state[key] = value
        return state

    def batchnorms(self) -> list[nn.BatchNorm2d]:
        return [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


class NB201Supernet(Supernet):
    """NB201's skeleton (`nets.nb201.NB201Skeleton`) with a `SuperCell` in every cell slot; as in
    NB201, every cell of an architecture is the same cell."""

    def __init__(self, channels: int = 16, cells: int = 5, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        from surrogate.nets.nb201 import NB201Skeleton

        self.space = get_space("nb201")
        skeleton = NB201Skeleton(SuperCell, channels, cells, num_classes, in_channels)
        self.stem, self.cells, self.head = skeleton.stem, skeleton.cells, skeleton.head

    def run(self, x: torch.Tensor, arch: list[int] | None, weights: Weights | None) -> torch.Tensor:
        h = self.stem(x)
        for layer in self.cells:
            h = layer(h, arch, weights) if isinstance(layer, SuperCell) else layer(h)
        return self.head(h)


class ChainSupernet(Supernet):
    """A `nets.chain.ChainNetwork` whose every position holds all of its candidate blocks."""

    def __init__(self, space: Space, blocks: Sequence[Sequence[str]], channels: int = 16, num_classes: int = 10,
                 in_channels: int = 3):
        super().__init__()
        from surrogate.nets.chain import chain_shapes, make_block

        self.space = space
        shapes = chain_shapes(len(blocks), channels)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU())
        self.chain = nn.ModuleList(MixedChoice([make_block(name, *shape) for name in names], i)
                                   for i, (names, shape) in enumerate(zip(blocks, shapes)))
        width = shapes[-1][1] if shapes else channels
        self.head = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))

    def run(self, x: torch.Tensor, arch: list[int] | None, weights: Weights | None) -> torch.Tensor:
        h = self.stem(x)
        for position in self.chain:
            h = position(h, arch, weights)
        return self.head(h)


def _nb201_supernet(space: Space, channels: int, cells: int, num_classes: int, in_channels: int) -> Supernet:
    return NB201Supernet(channels, cells, num_classes, in_channels)


def _chain_supernet(space: Space, channels: int, cells: int, num_classes: int, in_channels: int) -> Supernet:
    from surrogate.nets.chain import default_blocks

    return ChainSupernet(space, default_blocks(space), channels, num_classes, in_channels)


#: space kind -> builder(space, channels, cells, num_classes, in_channels), as `surrogate.nets.NETWORKS`.
SUPERNETS: Registry[Callable[..., Supernet]] = Registry("supernet", {"nb201": _nb201_supernet,
                                                                     "categorical": _chain_supernet})


def build_supernet(space_spec: str, channels: int = 16, cells: int = 5, num_classes: int = 10,
                   in_channels: int = 3) -> Supernet:
    """The supernet of a space, with the settings `surrogate.nets.build_network` takes."""
    space = get_space(space_spec)
    if space.kind not in SUPERNETS:
        raise UsageError(f"no supernet definition for space {space.spec}")
    return SUPERNETS[space.kind](space, channels, cells, num_classes, in_channels)
