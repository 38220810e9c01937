"""NAS-Bench-201's network (Dong & Yang, 2020): stem, three stages of N cells with C, 2C, 4C
channels joined by residual reduction blocks, global pooling and a linear head."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from surrogate.spaces.nb201 import EDGES, NUM_NODES, OPS


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int):
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out))


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int) -> nn.Module:
    """One cell op at stride 1 (NB201 cells never change resolution or width)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown nb201 op {name!r}")


class Cell(nn.Module):
    """Node j is the sum over i<j of op_(j<-i)(node i); the cell's output is the last node."""

    def __init__(self, arch: np.ndarray, channels: int):
        super().__init__()
        self.edge_ops = nn.ModuleList(make_op(OPS[int(op)], channels) for op in arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in range(1, NUM_NODES):
            nodes.append(sum(self.edge_ops[e](nodes[src]) for e, (dst, src) in enumerate(EDGES) if dst == node))
        return nodes[-1]


class ResidualReduction(nn.Module):
    """NB201's ResNet basic block between stages: stride-2 conv pair plus pooled 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        # ceil_mode: an odd side (7 -> 4) matches the strided conv; even sides are as in NB201
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2, ceil_mode=True), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Skeleton(nn.Module):
    """NB201's macro skeleton around a cell factory: stem, three stages of `cells` cells of width C,
    2C, 4C joined by residual reductions, then BN-ReLU, global pooling and a linear head. The
    stand-alone network and the weight-sharing supernet share it, so their parameter names match."""

    def __init__(self, make_cell: Callable[[int], nn.Module], channels: int = 16, cells: int = 5,
                 num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        c = channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        layers: list[nn.Module] = []
        for stage in range(3):
            width = c * 2**stage
            if stage:
                layers.append(ResidualReduction(width // 2, width))
            layers.extend(make_cell(width) for _ in range(cells))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(4 * c), nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(4 * c, num_classes))


class NB201Network(NB201Skeleton):
    """The benchmark's network for one cell; C=16, N=5 is NAS-Bench-201's own setting."""

    def __init__(self, arch: np.ndarray, channels: int = 16, cells: int = 5, num_classes: int = 10, in_channels: int = 3):
        super().__init__(lambda width: Cell(arch, width), channels, cells, num_classes, in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)))


def build(space, arch: np.ndarray, channels: int = 16, cells: int = 5, num_classes: int = 10,
          in_channels: int = 3) -> NB201Network:
    """The network registry's builder for NB201 (its own setting: C=16, N=5)."""
    return NB201Network(arch, channels=channels, cells=cells, num_classes=num_classes, in_channels=in_channels)
