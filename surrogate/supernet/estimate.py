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
                    provenance: dict, overwrite: bool = True) -> Table:
    """Add (or replace) `column` (accuracy) and its loss column in the table at `path` and write it
    atomically; the supernet's training configuration goes into the `supernet` attribute. The file
    is re-read under its lock (`_io.file_lock`), so columns another writer added since `table` was
    read are kept; `table` gives the architectures the estimates are of."""
    from surrogate._io import file_lock

    with file_lock(path):
        current = Table.read(path)
        if current.n != table.n or not np.array_equal(current.archs, table.archs):
            raise UsageError(f"{path} was replaced by a table of other architectures during the estimate; rerun")
        check_column(current, column, overwrite)  # another run may have written it meanwhile
        out = current.with_metric(column, estimates["acc"]).with_metric(loss_column(column), estimates["loss"])
        recorded = dict(out.attrs.get("supernet") or {})
        recorded[column] = provenance
        out.attrs["supernet"] = recorded
        out.write(path)
    return out


# --- the command: `surrogate supernet estimate SUPERNET --into FILE` ------------------------------------
def prepare(supernet_path: str | Path, into: str | Path, column: str = "supernet_acc", overwrite: bool = False,
            calib_batches: int = 4, data_dir: str | None = None, device: str = "cpu") -> dict:
    """Every check of `supernet estimate`, before any work: a finished checkpoint; `into` an existing
    table, not a shipped one (by name or path), that can be rewritten (file and folder writable), of
    the supernet's space, with architectures; a column that is free (or this command's, with
    `overwrite`); the dataset the supernet was trained on, present and identical. Returns the plan
    `run` takes; its `notes` are worth telling the user (a table of another dataset)."""
    import os

    from surrogate._io import check_rewritable
    from surrogate.catalog import SHIPPED, refuse_write
    from surrogate.supernet.spos import load_supernet
    from surrogate.train.data import load
    from surrogate.train.trainer import resolve_device

    if str(into) in SHIPPED and not os.path.exists(into):
        raise UsageError(f"--into {into}: a shipped dataset is read-only; copy it first "
                         f"(cp \"$(surrogate datasets --path {into})\" my.h5) and estimate into the copy")
    refuse_write(into, "--into")
    net, document = load_supernet(supernet_path)
    config = document["config"]
    table = Table.read(into)
    check_rewritable(into, "--into")
    if table.space != config["space"]:
        raise UsageError(f"{into} holds space {table.space}, the supernet is of {config['space']}")
    if table.n == 0:
        raise UsageError(f"{into} holds no architectures")
    check_column(table, column, overwrite)
    if calib_batches < 1:
        raise UsageError("need at least one calibration batch of at least 2 images (--calib-batches >= 1)")
    data = load(config["dataset"], data_dir, config.get("subset"), config.get("resolution"))
    if data.checksum != document["dataset_checksum"]:
        raise UsageError(f"dataset {config['dataset']} here differs from the one the supernet was trained on "
                         "(checksum mismatch)")
    notes = []
    if table.attrs.get("dataset") not in (None, config["dataset"]):
        notes.append(f"{into} records {table.attrs.get('dataset')}, the supernet was trained on {config['dataset']}")
    return {"net": net, "document": document, "table": table, "data": data, "device": resolve_device(device),
            "supernet": str(supernet_path), "into": str(into), "column": column, "overwrite": overwrite,
            "calib_batches": calib_batches, "notes": notes}


def run(plan: dict, seed: int = 0, progress: bool = True, command: str = "") -> dict:
    """Estimate every architecture of the plan's table and write the two columns with their
    provenance. Returns what to tell the user: the columns, the number of architectures, and the
    Kendall tau of the estimates against the table's `*valid_acc` column when it has one."""
    from scipy import stats

    from surrogate.importer import file_sha256

    document, table, column = plan["document"], plan["table"], plan["column"]
    config = document["config"]
    estimates = estimate(plan["net"], table.archs, plan["data"], calib_batches=plan["calib_batches"],
                         batch_size=config["batch_size"], seed=seed, device=plan["device"], progress=progress)
    provenance = {"method": document["method"], "training_config": config, "epochs_done": document["epochs_done"],
                  "train_seconds": round(document["seconds"], 2), "dataset_checksum": document["dataset_checksum"],
                  "checkpoint": plan["supernet"], "checkpoint_sha256": file_sha256(plan["supernet"]),
                  "calibration": {"batches": plan["calib_batches"], "batch_size": config["batch_size"], "seed": seed,
                                  "split": "train"},
                  "evaluated_on": "valid", "loss_column": loss_column(column),
                  "package_version": document["package_version"], "command": command}
    write_estimates(table, plan["into"], column, estimates, provenance, overwrite=plan["overwrite"])
    facts = {"column": column, "loss_column": loss_column(column), "archs": table.n, "reference": None, "tau": None}
    reference = next((m for m in table.metrics if m.endswith("valid_acc") and m != column), None)
    if reference:
        y = table.metric(reference)
        ok = np.isfinite(y) & np.isfinite(estimates["acc"])
        facts |= {"reference": reference, "tau": float(stats.kendalltau(estimates["acc"][ok], y[ok]).statistic)}
    return facts
