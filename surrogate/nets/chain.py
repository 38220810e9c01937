"""Chain networks for `categorical` spaces, in the style of NAS-Bench-Macro (Su et al., 2021).

Position i of the architecture picks one block from `blocks[i]`, a list of block names:

* `identity` — the position is skipped (at a downsampling position it becomes the cheapest block
  that changes shape: 2x2 average pooling and a 1x1 conv + BN, NB201's reduction shortcut);
* `mb{e}_k{k}` — MobileNetV2's inverted residual: 1x1 expansion to e x width (left out when e = 1),
  k x k depthwise conv (stride 2 at a downsampling position), 1x1 linear projection, BN after each
  conv, ReLU6 after the first two, and a residual connection when the shape is unchanged.

The network is a 3x3 conv stem (`channels` wide), the chain, then ReLU, global average pooling and a
linear head. Each downsampling position halves the resolution and doubles the width.
NAS-Bench-Macro's space is `categorical:8x3` with blocks (identity, mb3_k3, mb6_k5): `DEFAULT_BLOCKS`
starts with exactly those, so choice j of a categorical position is `DEFAULT_BLOCKS[j]`.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import torch
from torch import nn

from surrogate.errors import UsageError

DEFAULT_BLOCKS = ("identity", "mb3_k3", "mb6_k5", "mb3_k5", "mb6_k3", "mb3_k7", "mb6_k7", "mb1_k3")
_MB = re.compile(r"mb(\d+)_k(\d+)")


def default_downsample(length: int) -> tuple[int, ...]:
    """Downsample at a third and two thirds of the chain (three stages, like NB201's network)."""
    return tuple(sorted({length // 3, (2 * length) // 3} - {0})) if length >= 3 else ()


def chain_shapes(length: int, channels: int, downsample: Sequence[int] | None = None) -> list[tuple[int, int, int]]:
    """(input width, output width, stride) of every position: each downsampling position halves
    the resolution and doubles the width."""
    down = set(default_downsample(length) if downsample is None else downsample)
    shapes, width = [], channels
    for i in range(length):
        out = width * 2 if i in down else width
        shapes.append((width, out, 2 if i in down else 1))
        width = out
    return shapes


class InvertedResidual(nn.Module):
    """MobileNetV2's block (Sandler et al., 2018): expand, depthwise, project; residual when it fits."""

    def __init__(self, c_in: int, c_out: int, kernel: int, expansion: int, stride: int):
        super().__init__()
        hidden = c_in * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU6(),
                   nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class Reduce(nn.Sequential):
    """The identity's stand-in where the shape must change: 2x2 average pool, 1x1 conv, BN."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(nn.AvgPool2d(2, 2, ceil_mode=True), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


def make_block(name: str, c_in: int, c_out: int, stride: int) -> nn.Module:
    """One block by name (`identity`, `mb{e}_k{k}`); UsageError for anything else."""
    if name == "identity":
        return nn.Identity() if stride == 1 and c_in == c_out else Reduce(c_in, c_out)
    match = _MB.fullmatch(name)
    if not match or int(match[1]) < 1 or int(match[2]) % 2 == 0:
        raise UsageError(f"unknown block {name!r}: use identity or mb<expansion>_k<odd kernel>, e.g. mb6_k5")
    return InvertedResidual(c_in, c_out, kernel=int(match[2]), expansion=int(match[1]), stride=stride)


class ChainNetwork(nn.Module):
    """Stem, one block per position (`blocks[i][arch[i]]`), ReLU, global pooling, linear head."""

    def __init__(self, arch: np.ndarray | Sequence[int], blocks: Sequence[Sequence[str]], channels: int = 16,
                 num_classes: int = 10, in_channels: int = 3, downsample: Sequence[int] | None = None):
        super().__init__()
        arch = np.asarray(arch, dtype=np.int64)
        if arch.ndim != 1 or len(arch) != len(blocks):
            raise UsageError(f"a chain of {len(blocks)} positions needs {len(blocks)} choices, got shape {arch.shape}")
        if ((arch < 0) | (arch >= np.array([len(b) for b in blocks]))).any():
            raise UsageError("choice index out of range for the chain's block lists")
        shapes = chain_shapes(len(arch), channels, downsample)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU())
        self.chain = nn.Sequential(*(make_block(blocks[i][int(c)], *shape) for i, (c, shape) in enumerate(zip(arch, shapes))))
        width = shapes[-1][1] if shapes else channels
        self.head = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.chain(self.stem(x)))


def default_blocks(space) -> list[tuple[str, ...]]:
    """Block names of every position of a categorical space: choice j is `DEFAULT_BLOCKS[j]`, so
    `categorical:8x3` is NAS-Bench-Macro's space."""
    if max(space.num_choices) > len(DEFAULT_BLOCKS):
        raise UsageError(f"space {space.spec}: a chain position has at most {len(DEFAULT_BLOCKS)} block choices "
                         f"({', '.join(DEFAULT_BLOCKS)})")
    return [DEFAULT_BLOCKS[:k] for k in space.num_choices]


def build(space, arch: np.ndarray, channels: int = 16, cells: int = 5, num_classes: int = 10,
          in_channels: int = 3) -> ChainNetwork:
    """The network registry's builder for categorical spaces (`cells` does not apply: the chain's
    length is the space's; `channels` is the stem width, doubled at each downsampling position)."""
    return ChainNetwork(arch, default_blocks(space), channels=channels, num_classes=num_classes, in_channels=in_channels)
