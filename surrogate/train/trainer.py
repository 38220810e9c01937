"""Train one network on a dataset held whole on the device, and measure what it costs.

Defaults follow NAS-Bench-201's training (SGD with Nesterov momentum 0.9, weight decay 5e-4 on all
parameters, learning rate 0.1 annealed to 0 by a per-step cosine, batch 256, cross-entropy). The
data never leaves the device: batches are index gathers and augmentation runs there too, so a small
network is not starved by a data loader. On CUDA the forward and backward passes run under bf16
autocast; on CPU everything is float32 and, under a seed (and a fixed thread count), bit-for-bit
reproducible (initial weights via `seeded`, shuffles and augmentation via a `torch.Generator`).
Tensors are channels_last on both devices: on CPU that trained NB201 C=8 on digits 28% faster
(oneDNN's convolutions prefer it), on CUDA it is what tensor cores want.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from surrogate.errors import UsageError
from surrogate.train.data import Data

#: per-epoch records `train` returns (arrays of length `epochs`); `diverged` is one 0/1 value.
EPOCH_METRICS = ("train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss", "test_acc", "epoch_seconds")


def resolve_device(device: str) -> torch.device:
    """`cpu` or `cuda[:i]`; a UsageError when CUDA is asked for but absent."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UsageError(f"unknown device {device!r} (use cpu or cuda)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here")
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"unsupported device {device!r} (use cpu or cuda)")
    return dev


@contextlib.contextmanager
def seeded(seed: int, device: str | torch.device = "cpu") -> Iterator[None]:
    """Run a block (building a network, say) under torch's global RNG seeded with `seed`,
    restoring the caller's RNG state afterwards."""
    dev = torch.device(device)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def train(network: nn.Module, data: Data, epochs: int = 12, seed: int = 0, batch_size: int = 256, lr: float = 0.1,
          device: str | torch.device = "cpu", momentum: float = 0.9, weight_decay: float = 5e-4,
          nesterov: bool = True, compile: bool = False, eval_batch_size: int = 1024,
          channels_last: bool = True, test_at_end: bool = False, until: int | None = None,
          resume: dict | None = None) -> dict[str, np.ndarray]:
    """Train `network` in place; return per-epoch `EPOCH_METRICS` (accuracies in percent) and
    `diverged` (1.0 when the training loss went non-finite: training stops, and that epoch's and
    later epochs' records are NaN but for the seconds the diverging epoch took).

    `train_loss`/`train_acc` are running averages over the epoch's batches (as NB201 records them);
    valid and test are evaluated after every epoch (test only after the last one with `test_at_end`,
    which halves the evaluation cost of a cheap protocol); `epoch_seconds` times training only.

    Partial training: `until` stops after that many epochs of the `epochs`-long schedule, and the
    record then holds `state` (a `checkpoint`: weights, optimiser, RNG states, the records so far);
    `resume=state` continues from it, under this call's `lr` and `weight_decay`. On CPU, training to
    any epoch and continuing gives the bytes of an uninterrupted training (the learning rate follows
    the whole training's cosine).
    """
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise UsageError(f"epochs and batch size must be >= 1 and lr > 0 (got {epochs}, {batch_size}, {lr})")
    until = epochs if until is None else int(until)
    if not 1 <= until <= epochs:
        raise UsageError(f"until must be between 1 and epochs ({epochs}), got {until}")
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    layout = torch.channels_last if channels_last else torch.contiguous_format
    if data.x_train.device != dev or not data.x_train.is_contiguous(memory_format=layout):
        data = data.to(dev, layout)
    network.to(dev, memory_format=layout)
    model = torch.compile(network) if compile else network
    optimizer = torch.optim.SGD(network.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay,
                                nesterov=nesterov)
    generator = torch.Generator(device=dev)
    generator.manual_seed(seed)
    n = len(data.y_train)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch
    out = {name: np.full(epochs, np.nan) for name in EPOCH_METRICS}
    diverged, first_epoch = 0.0, 0
    if resume is not None:
        network.load_state_dict(resume["network"])
        optimizer.load_state_dict(resume["optimizer"])
        for group in optimizer.param_groups:  # this segment's hyperparameters (population-based training changes them)
            group.update(momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
        generator.set_state(resume["generator"])
        out = {name: resume["record"][name].numpy().copy() for name in EPOCH_METRICS}
        diverged, first_epoch = float(resume["diverged"]), int(resume["epoch"])
    with seeded(seed, dev):
        if resume is not None:
            torch.set_rng_state(resume["rng"])
            if cuda:
                torch.cuda.set_rng_state(resume["cuda_rng"], dev)
        for epoch in range(first_epoch, until if not diverged else first_epoch):
            start = time.perf_counter()
            model.train()
            loss_sum = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.int64)
            order = torch.randperm(n, generator=generator, device=dev)
            for step, first in enumerate(range(0, n, batch_size)):
                rows = order[first:first + batch_size]
                if len(rows) < 2:  # BatchNorm cannot train on a single image
                    continue
                for group in optimizer.param_groups:
                    group["lr"] = 0.5 * lr * (1 + math.cos(math.pi * (epoch * steps_per_epoch + step) / total_steps))
                x, y = data.augment(data.x_train[rows], generator), data.y_train[rows]
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
                    logits = model(x)
                    loss = F.cross_entropy(logits.float(), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach() * len(rows)
                correct += (logits.argmax(1) == y).sum()
            if cuda:
                torch.cuda.synchronize(dev)
            seconds = time.perf_counter() - start
            train_loss = loss_sum.item() / n
            out["epoch_seconds"][epoch] = seconds
            if not math.isfinite(train_loss):
                diverged = 1.0
                break
            out["train_loss"][epoch], out["train_acc"][epoch] = train_loss, 100.0 * correct.item() / n
            out["valid_loss"][epoch], out["valid_acc"][epoch] = evaluate(model, data.x_valid, data.y_valid, eval_batch_size)
            if not test_at_end or epoch == epochs - 1:
                out["test_loss"][epoch], out["test_acc"][epoch] = evaluate(model, data.x_test, data.y_test,
                                                                           eval_batch_size)
        if until < epochs:
            out["state"] = checkpoint(network, optimizer, generator, out, diverged, until, cuda and dev)
    out["diverged"] = np.array([diverged])
    return out


def checkpoint(network: nn.Module, optimizer, generator: torch.Generator, record: dict, diverged: float, epoch: int,
               cuda_device=None) -> dict:
    """What continuing a training needs, after `epoch` epochs (tensors only: `torch.load(...,
    weights_only=True)` reads it back)."""
    return {"network": {k: v.detach().cpu().clone() for k, v in network.state_dict().items()},
            "optimizer": copy.deepcopy(optimizer.state_dict()), "generator": generator.get_state(), "rng": torch.get_rng_state(),
            **({"cuda_rng": torch.cuda.get_rng_state(cuda_device)} if cuda_device else {}),
            "record": {k: torch.from_numpy(np.asarray(v, dtype=np.float64).copy()) for k, v in record.items()},
            "diverged": diverged, "epoch": epoch}


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in percent) in eval mode; a non-finite loss reads as NaN."""
    model.eval()
    loss_sum = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    for first in range(0, len(y), batch_size):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
            logits = model(x[first:first + batch_size]).float()
        loss_sum += F.cross_entropy(logits, y[first:first + batch_size], reduction="sum").double()
        correct += (logits.argmax(1) == y[first:first + batch_size]).sum()
    loss = loss_sum.item() / len(y)
    return (loss if math.isfinite(loss) else math.nan), 100.0 * correct.item() / len(y)


@torch.no_grad()
def latency_ms(network: nn.Module, input_shape: tuple[int, ...], batch: int, device: str | torch.device = "cpu",
               repeats: int = 5, warmup: int = 2) -> float:
    """Median wall-clock milliseconds of one inference forward pass at `batch` on `device`
    (eval mode, channels_last; bf16 on CUDA, as in training)."""
    dev = torch.device(device)
    x = torch.randn(batch, *input_shape, device=dev).to(memory_format=torch.channels_last)
    return forward_ms(network, x, repeats, warmup, autocast=dev.type == "cuda")


@torch.no_grad()
def forward_ms(network: nn.Module, x: torch.Tensor, repeats: int = 5, warmup: int = 2, autocast: bool = False) -> float:
    """Median wall-clock milliseconds of `network(x)` in eval mode after `warmup` passes (bf16
    autocast when asked, as CUDA training runs)."""
    dev = x.device
    cuda = dev.type == "cuda"
    network.eval()
    times = []
    for i in range(warmup + repeats):
        if cuda:
            torch.cuda.synchronize(dev)
        start = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
            network(x)
        if cuda:
            torch.cuda.synchronize(dev)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def costs(network: nn.Module, input_shape: tuple[int, ...], device: str | torch.device = "cpu") -> dict[str, float]:
    """`params`, `flops` (multiply-accumulates at batch 1, NB201's convention) and inference
    `latency_b1_ms` / `latency_b256_ms` of `network` on `device` (it is moved there)."""
    from surrogate.nets.costs import count

    network.cpu()
    params, flops = count(network, tuple(input_shape))
    dev = torch.device(device)
    network.to(dev, memory_format=torch.channels_last)
    return {"params": float(params), "flops": float(flops),
            "latency_b1_ms": latency_ms(network, input_shape, 1, dev, repeats=5),
            "latency_b256_ms": latency_ms(network, input_shape, 256, dev, repeats=3, warmup=1)}
