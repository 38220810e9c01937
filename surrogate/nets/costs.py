"""Parameter and FLOP counts for every architecture of a space, from the network definition.

Counting a network takes a forward pass, far too slow for 15,625 cells one by one. Costs of the
networks built here are additive over decisions (each decision adds one op, and sums cost nothing),
so one base network plus one network per (decision, choice) gives an exact linear model:
cost(arch) = base + sum_i delta[i, arch_i]; `tests/test_nets.py` checks it against direct counts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from surrogate.spaces import Space, get_space


def count(net: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """(parameters, multiply-accumulates of one forward pass at batch 1), as NB201 reports them."""
    params = sum(p.numel() for p in net.parameters())
    net.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, *input_shape))
    return params, counter.get_total_flops() // 2  # torch counts a multiply-add as 2 FLOPs


def network_builder(space: Space, channels: int = 16, cells: int = 5, num_classes: int = 10,
                    in_channels: int = 3) -> Callable[[np.ndarray], nn.Module]:
    from surrogate.nets import build_network

    build_network(space.spec, np.zeros(space.num_decisions, dtype=np.int64), channels, cells, num_classes,
                  in_channels)  # a space without a network definition fails here, once
    return lambda arch: build_network(space.spec, arch, channels, cells, num_classes, in_channels)


@lru_cache(maxsize=16)
def _cost_model(spec: str, channels: int, cells: int, num_classes: int, input_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    space = get_space(spec)
    build = network_builder(space, channels, cells, num_classes, input_shape[0])
    base_arch = np.zeros(space.num_decisions, dtype=np.int64)
    base = np.array(count(build(base_arch), input_shape), dtype=np.float64)
    deltas = []
    for i, k in enumerate(space.num_choices):
        for j in range(k):
            arch = base_arch.copy()
            arch[i] = j
            deltas.append(np.array(count(build(arch), input_shape)) - base if j else np.zeros(2))
    return base, np.array(deltas, dtype=np.float64)


def costs(space: Space | str, archs: np.ndarray, channels: int = 16, cells: int = 5, num_classes: int = 10,
          input_shape: tuple[int, int, int] = (3, 32, 32)) -> dict[str, np.ndarray]:
    """`params` and `flops` (MACs, batch 1) of each architecture's network; defaults are NB201/CIFAR-10's."""
    space = get_space(space)
    base, deltas = _cost_model(space.spec, channels, cells, num_classes, tuple(input_shape))
    offsets = np.concatenate([[0], np.cumsum(space.num_choices)[:-1]])  # row of (decision, choice 0) in deltas
    total = base + deltas[offsets + space.check(np.atleast_2d(archs))].sum(axis=1)  # integer counts: exact sums
    return {"params": total[:, 0], "flops": total[:, 1]}
