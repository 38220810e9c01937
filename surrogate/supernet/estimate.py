"""Estimating architectures with a trained supernet, and writing the estimate into a tabular file.

An architecture inherits its path's weights; its BatchNorm statistics are recalibrated on a few
training batches (the shared running statistics average over every path trained and fit none:
SPOS's fix), then it is evaluated on the validation split. Recalibration batches are a fixed,
seeded draw, so an estimate is a deterministic function of (supernet, architecture, seed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from surrogate.errors import UsageError
from surrogate.supernet.network import Supernet
from surrogate.tabular import Table
from surrogate.train.data import Data


@torch.no_grad()
def recalibrate(supernet: Supernet, arch: np.ndarray, batches: list[torch.Tensor]) -> None:
    """Reset every BatchNorm's running statistics and re-estimate them along `arch`'s path as an
    exact average over `batches` (momentum None: a cumulative mean, not an exponential one)."""
    norms = supernet.batchnorms()
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
    supernet.train()
    for x in batches:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
            supernet(x, arch=arch)
    supernet.eval()


@torch.no_grad()
def evaluate_path(supernet: Supernet, arch: np.ndarray, x: torch.Tensor, y: torch.Tensor,
                  batch_size: int = 1024) -> tuple[float, float]:
    """(accuracy in percent, mean cross-entropy) of one path in eval mode."""
    correct, loss = 0, 0.0
    for first in range(0, len(y), batch_size):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
            logits = supernet(x[first:first + batch_size], arch=arch).float()
        target = y[first:first + batch_size]
        correct += int((logits.argmax(1) == target).sum())
        loss += float(F.cross_entropy(logits, target, reduction="sum"))
    return 100.0 * correct / len(y), loss / len(y)


def calibration_batches(data: Data, batches: int, batch_size: int, seed: int, device: torch.device) -> list[torch.Tensor]:
    """`batches` training batches of a seeded permutation (no augmentation: statistics of the data
    the network will be evaluated on)."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data.y_train), generator=generator)
    rows = [order[i * batch_size:(i + 1) * batch_size] for i in range(batches)]
    return [data.x_train[r].to(device, memory_format=torch.channels_last) for r in rows if len(r) > 1]


def estimate(supernet: Supernet, archs: np.ndarray, data: Data, calib_batches: int = 4, batch_size: int = 256,
             seed: int = 0, device: str | torch.device = "cpu", progress: bool = True,
             split: str = "valid") -> dict[str, np.ndarray]:
    """Supernet estimate of every architecture: `acc` (percent) and `loss` on `split` (`valid` by
    default: estimates steer search and model selection, so they never look at the test split)."""
    if calib_batches < 1 or batch_size < 2:
        raise UsageError("need at least one calibration batch of at least 2 images")
    device = torch.device(device)
    archs = supernet.space.check(archs)
    supernet.to(device, memory_format=torch.channels_last)
    calib = calibration_batches(data, calib_batches, batch_size, seed, device)
    x = getattr(data, f"x_{split}").to(device, memory_format=torch.channels_last)
    y = getattr(data, f"y_{split}").to(device)
    acc, loss = np.empty(len(archs)), np.empty(len(archs))
    momenta = [bn.momentum for bn in supernet.batchnorms()]
    try:
        for i, arch in enumerate(tqdm(archs, desc="supernet estimates", unit="arch", disable=not progress,
                                      dynamic_ncols=True)):
            recalibrate(supernet, arch, calib)
            acc[i], loss[i] = evaluate_path(supernet, arch, x, y)
    finally:
        for bn, momentum in zip(supernet.batchnorms(), momenta):
            bn.momentum = momentum
    return {"acc": acc, "loss": loss}


def loss_column(column: str) -> str:
    """The companion loss column of an accuracy column (`supernet_acc` -> `supernet_loss`)."""
    return column[: -len("_acc")] + "_loss" if column.endswith("_acc") else column + "_loss"


def check_column(table: Table, column: str, overwrite: bool = False) -> None:
    """Refuse, before any work, a column name that is not a plain name, or one that already holds
    records: only a column this command wrote before may be replaced, and only with `overwrite`."""
    import re

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", column or ""):
        raise UsageError(f"--column {column!r}: use a plain name (letters, digits, _ . -), e.g. supernet_acc")
    written = set(table.attrs.get("supernet") or {})
    for name in (column, loss_column(column)):
        if name not in table.metrics:
            continue
        if name != column and column in written or name in written:
            if not overwrite:
                raise UsageError(f"column {name!r} holds earlier supernet estimates: pass --overwrite to replace them")
        else:
            raise UsageError(f"column {name!r} holds records this command did not write; choose another --column")


def write_estimates(table: Table, path: str | Path, column: str, estimates: dict[str, np.ndarray],
                    provenance: dict) -> Table:
    """Add (or replace) `column` (accuracy) and its loss column in `table` and write it to `path`
    atomically; the supernet's training configuration goes into the `supernet` attribute."""
    out = table.with_metric(column, estimates["acc"]).with_metric(loss_column(column), estimates["loss"])
    recorded = dict(out.attrs.get("supernet") or {})
    recorded[column] = provenance
    out.attrs["supernet"] = recorded
    out.write(path)
    return out
