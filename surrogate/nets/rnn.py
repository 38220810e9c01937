"""The recurrent-cell network of `rnn-cell:N`: embedding -> the cell unrolled over time -> a linear
decoder (DARTS's and ENAS's language models, without their regularisers). The decoder is not tied to
the embedding: untied, a small network learned faster in the table's short protocol (pilot in
bench/results/rnn.md).

The cell is the ENAS/DARTS recurrent cell (Pham et al. 2018; Liu et al. 2019) with DARTS's
highway gates: node 0 mixes the character and the previous state, and every node i after it gates
its predecessor j the same way: `c, h = sigmoid(W_c s_j), act(W_h s_j)`, `s_i = s_j + c * (h - s_j)`.
The new state is the mean of the nodes no other node reads (ENAS's rule; DARTS averages all). Every node has its own weights, so two cells whose trees are
isomorphic compute the same family of functions (the space's canonical ids rely on it).

Nodes run level by level (all nodes of a tree level in one batched matmul), so an unrolled step
costs one kernel per level rather than one per node: Python overhead, not arithmetic, is what a
small recurrent network spends its time on.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from surrogate.spaces.rnn import ACTIVATIONS

_FUNCTIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda x: x}


def cell_tree(arch: np.ndarray) -> tuple[list[int], list[str]]:
    """(predecessor, activation) of nodes 1..N from a row `[pred_1, act_1, pred_2, act_2, ...]`."""
    arch = [int(v) for v in arch]
    return arch[0::2], [ACTIVATIONS[a] for a in arch[1::2]]


class RecurrentCell(nn.Module):
    """One step of the cell: (input embedding x, state h) -> new state."""

    def __init__(self, preds: list[int], acts: list[str], hidden: int):
        super().__init__()
        n = len(preds)
        self.hidden = hidden
        self.input_gate = nn.Linear(hidden, 2 * hidden, bias=False)  # x_t part of node 0
        self.state_gate = nn.Linear(hidden, 2 * hidden, bias=False)  # h_{t-1} part of node 0
        depth = [0] * (n + 1)
        for i, p in enumerate(preds, start=1):
            depth[i] = depth[p] + 1
        used = set(preds)
        self.leaves = [i for i in range(1, n + 1) if i not in used]
        # levels: nodes of equal depth, sorted by activation so each activation applies to a slice
        self.levels: list[tuple[list[int], list[int], list[tuple[str, int, int]]]] = []
        for d in range(1, max(depth) + 1):
            nodes = sorted((i for i in range(1, n + 1) if depth[i] == d), key=lambda i: (ACTIVATIONS.index(acts[i - 1]), i))
            slices, start = [], 0
            for act in ACTIVATIONS:
                k = sum(acts[i - 1] == act for i in nodes)
                if k:
                    slices.append((act, start, start + k))
                    start += k
            self.levels.append((nodes, [preds[i - 1] for i in nodes], slices))
        self.node_weights = nn.Parameter(torch.empty(n, hidden, 2 * hidden))
        bound = 1 / math.sqrt(hidden)
        nn.init.uniform_(self.node_weights, -bound, bound)

    def input_part(self, x: torch.Tensor) -> torch.Tensor:
        """Node 0's input projection, for every time step at once (B, T, 2H)."""
        return self.input_gate(x)

    def level_weights(self) -> list[torch.Tensor]:
        """Each level's stacked node weights (k, H, 2H), gathered once per sequence, not per step."""
        return [self.node_weights[[i - 1 for i in nodes]] for nodes, _, _ in self.levels]

    def forward(self, x_part: torch.Tensor, h: torch.Tensor, weights: list[torch.Tensor] | None = None) -> torch.Tensor:
        c, g = (x_part + self.state_gate(h)).chunk(2, dim=-1)
        c = torch.sigmoid(c)
        states: dict[int, torch.Tensor] = {0: h + c * (torch.tanh(g) - h)}
        for (nodes, preds, slices), w in zip(self.levels, weights or self.level_weights()):
            inputs = states[preds[0]][None] if len(set(preds)) == 1 else torch.stack([states[p] for p in preds])
            c, g = torch.matmul(inputs, w).chunk(2, dim=-1)  # (k, B, 2H); one shared input broadcasts
            c = torch.sigmoid(c)
            g = torch.cat([_FUNCTIONS[act](g[a:b]) for act, a, b in slices]) if len(slices) > 1 else _FUNCTIONS[slices[0][0]](g)
            new = inputs + c * (g - inputs)  # (k, B, H)
            for k, node in enumerate(nodes):
                states[node] = new[k]
        return torch.stack([states[i] for i in self.leaves]).mean(dim=0)


class RNNCellNetwork(nn.Module):
    """Character language model: `forward(tokens (B, T), state (B, H) | None) -> (logits (B, T, V),
    state)`. A float input (B, V) reads as one one-hot character per sequence (one time step), so
    the project's cost counter measures parameters and MACs per character."""

    def __init__(self, preds: list[int], acts: list[str], hidden: int, vocab: int):
        super().__init__()
        self.hidden = hidden
        self.embedding = nn.Embedding(vocab, hidden)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        self.cell = RecurrentCell(preds, acts, hidden)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if tokens.is_floating_point():
            tokens = tokens.reshape(len(tokens), -1).argmax(dim=-1, keepdim=True)
        batch, steps = tokens.shape
        if state is None:
            state = torch.zeros(batch, self.hidden, device=tokens.device)
        x_part = self.cell.input_part(self.embedding(tokens))
        weights = self.cell.level_weights()
        outputs = []
        for t in range(steps):
            state = self.cell(x_part[:, t], state, weights)
            outputs.append(state)
        return self.decoder(torch.stack(outputs, dim=1)), state


def build(space, arch: np.ndarray, channels: int = 128, cells: int = 1, num_classes: int = 10,
          in_channels: int = 10) -> RNNCellNetwork:
    """`channels` is the hidden (and embedding) size; `num_classes` the vocabulary (`in_channels`
    must equal it: a language model predicts what it reads); `cells` does not apply."""
    from surrogate.errors import UsageError

    if in_channels != num_classes:
        raise UsageError(f"an rnn-cell network reads and predicts one vocabulary: {in_channels} input symbols, "
                         f"{num_classes} outputs (use a text dataset)")
    preds, acts = cell_tree(arch)
    return RNNCellNetwork(preds, acts, channels, num_classes)
