"""Train a character language model (an `rnn-cell` network) on a text dataset, and measure it in
bits per character.

The train stream is cut into `batch_size` parallel streams and read in windows of `seq_len`
characters; the state is carried from one window to the next and detached between them
(truncated backpropagation through time). A random offset per epoch (from the seeded generator)
shifts the windows, so epochs do not always cut at the same characters. Adam with a per-step
cosine to 0 and gradient-norm clipping: a protocol of a few epochs needs an optimiser that does
not have to be tuned per cell. Evaluation cuts the valid (and test) text into `EVAL_STREAMS`
parallel streams, each read from a zero state with the state carried through it: every character
but each stream's first (and the tail that does not fill a stream) is predicted once, from
everything before it in its stream.

Bits per character is the mean cross-entropy in nats over every predicted character, divided by
ln 2. On CPU a seeded training is bit-for-bit reproducible (fixed thread count).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from surrogate.errors import UsageError
from surrogate.train.trainer import forward_ms, seeded

#: per-epoch records of a language-model training (arrays of length `epochs`); losses in nats per
#: character, bpc = loss / ln 2; `diverged` is one 0/1 value.
TEXT_EPOCH_METRICS = ("train_loss", "train_bpc", "valid_loss", "valid_bpc", "test_loss", "test_bpc", "epoch_seconds")
#: streams the valid and test text are cut into for evaluation
EVAL_STREAMS = 128


def streams(tokens: torch.Tensor, count: int) -> torch.Tensor:
    """A 1-D character stream as `count` equal parallel streams (count, L); the tail that does not
    fill a row is dropped (fewer than `count` characters)."""
    length = len(tokens) // count
    return tokens[:length * count].reshape(count, length)


def train_text(network: nn.Module, data, epochs: int = 1, seed: int = 0, batch_size: int = 128, seq_len: int = 16,
               lr: float = 1e-2, weight_decay: float = 0.0, grad_clip: float = 1.0,
               device: str | torch.device = "cpu", test_at_end: bool = False) -> dict[str, np.ndarray]:
    """Train `network` in place on `data` (a `TextData`); per-epoch `TEXT_EPOCH_METRICS` and
    `diverged` (1.0 when the training loss went non-finite: training stops there, as for images)."""
    if epochs < 1 or batch_size < 1 or seq_len < 1 or not lr > 0:
        raise UsageError(f"epochs, batch size and sequence length must be >= 1 and lr > 0 "
                         f"(got {epochs}, {batch_size}, {seq_len}, {lr})")
    dev = torch.device(device)
    data = data.to(dev)
    network.to(dev)
    train = streams(data.train, batch_size)
    if train.shape[1] < seq_len + 1:
        raise UsageError(f"the train text ({len(data.train)} characters) is too short for {batch_size} streams of "
                         f"--seq-len {seq_len}")
    optimizer = torch.optim.Adam(network.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    windows = (train.shape[1] - 1) // seq_len
    total_steps = epochs * windows
    out = {name: np.full(epochs, np.nan) for name in TEXT_EPOCH_METRICS}
    diverged = 0.0
    with seeded(seed, dev):
        for epoch in range(epochs):
            start = time.perf_counter()
            network.train()
            offset = int(torch.randint(0, (train.shape[1] - 1) - windows * seq_len + 1, (1,), generator=generator))
            state = None
            loss_sum = torch.zeros((), device=dev, dtype=torch.float64)
            for step in range(windows):
                first = offset + step * seq_len
                x, y = train[:, first:first + seq_len], train[:, first + 1:first + seq_len + 1]
                for group in optimizer.param_groups:
                    group["lr"] = 0.5 * lr * (1 + math.cos(math.pi * (epoch * windows + step) / total_steps))
                logits, state = network(x, state)
                state = state.detach()
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(network.parameters(), grad_clip)
                optimizer.step()
                loss_sum += loss.detach().double()
            seconds = time.perf_counter() - start
            train_loss = loss_sum.item() / windows
            out["epoch_seconds"][epoch] = seconds
            if not math.isfinite(train_loss):
                diverged = 1.0
                break
            out["train_loss"][epoch], out["train_bpc"][epoch] = train_loss, train_loss / math.log(2)
            out["valid_loss"][epoch] = evaluate_text(network, data.valid, seq_len)
            out["valid_bpc"][epoch] = out["valid_loss"][epoch] / math.log(2)
            if not test_at_end or epoch == epochs - 1:
                out["test_loss"][epoch] = evaluate_text(network, data.test, seq_len)
                out["test_bpc"][epoch] = out["test_loss"][epoch] / math.log(2)
    out["diverged"] = np.array([diverged])
    return out


@torch.no_grad()
def evaluate_text(network: nn.Module, tokens: torch.Tensor, seq_len: int, count: int = EVAL_STREAMS) -> float:
    """Mean cross-entropy (nats per predicted character) over `tokens` cut into `count` streams
    (fewer when the text is short), the state carried through each; NaN when non-finite."""
    network.eval()
    count = max(1, min(count, (len(tokens) - 1) // max(seq_len, 1)))
    rows = streams(tokens, count)
    if rows.shape[1] < 2:
        raise UsageError(f"an evaluation text of {len(tokens)} characters is too short to predict anything")
    total, predicted, state = torch.zeros((), dtype=torch.float64, device=tokens.device), 0, None
    for first in range(0, rows.shape[1] - 1, seq_len):
        x = rows[:, first:min(first + seq_len, rows.shape[1] - 1)]
        y = rows[:, first + 1:first + 1 + x.shape[1]]
        logits, state = network(x, state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").double()
        predicted += y.numel()
    loss = total.item() / predicted
    return loss if math.isfinite(loss) else math.nan


@torch.no_grad()
def text_costs(network: nn.Module, vocab: int, seq_len: int, device: str | torch.device = "cpu") -> dict[str, float]:
    """`params`, `flops` (multiply-accumulates per character) and the median inference latency of
    one window of `seq_len` characters at batch 1 and 64 (`latency_b1_ms`, `latency_b64_ms`) on
    `device`, after 2 warm-up passes."""
    from surrogate.nets.costs import count

    network.cpu()
    params, flops = count(network, (vocab,))
    dev = torch.device(device)
    network.to(dev)
    return {"params": float(params), "flops": float(flops),
            **{f"latency_b{batch}_ms": forward_ms(network, torch.zeros(batch, seq_len, dtype=torch.int64, device=dev))
               for batch in (1, 64)}}
