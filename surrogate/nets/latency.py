"""Latency lookup tables: a space's networks' inference latency on a device as a sum over decisions.

ProxylessNAS and Once-for-All predict a network's latency as the sum of its operations' entries in a
table measured on the target device, so that search can read latency without running the network.
Here, as for params and FLOPs (`costs`), an entry is a decision's choice: the base network (every
decision at choice 0) is timed, and so is each network that differs from it in one decision;
latency(arch) = base + sum_i delta[i, arch_i]. Timing is interleaved (each round runs every network
once) so that a drift of the machine's speed moves all of them alike, and each network's latency is
the median over rounds after `warmup` rounds. `check` random architectures are then timed whole and
compared with their predictions (Kendall tau, mean absolute percentage error): the table says how
additive latency is on that device, not only what it predicts.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from surrogate.errors import UsageError


@dataclass
class LatencyTable:
    """The measured table: `base_ms`, and `deltas_ms[i][j]` for choice j of decision i (0 for j = 0)."""

    space: str
    base_ms: float
    deltas_ms: list[list[float]]
    facts: dict = field(default_factory=dict)  # device, batch, threads, repeats, warmup, network, versions

    def predict(self, archs: np.ndarray) -> np.ndarray:
        """Predicted milliseconds of each architecture (rows of choice indices)."""
        from surrogate.spaces import get_space

        archs = get_space(self.space).check(np.atleast_2d(archs))
        rows = [np.asarray(d, dtype=np.float64) for d in self.deltas_ms]
        return self.base_ms + sum(row[archs[:, i]] for i, row in enumerate(rows))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def read(cls, path: str | Path) -> "LatencyTable":
        try:
            doc = json.loads(Path(path).read_text())
            return cls(**{k: doc[k] for k in ("space", "base_ms", "deltas_ms", "facts")})
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UsageError(f"{path} is not a latency table written by `surrogate latency`: {err}") from None


#: the column `--into` writes: each architecture's latency predicted by the table (its sum)
COLUMN = "latency_ms"
#: table attribute listing columns computed from the architecture alone (search reads them as exact)
EXACT_ATTR = "exact_columns"


def check_into(path: str | Path, space: str):
    """Before any timing: `path` is an existing, rewritable table file of `space` (not a shipped
    one) whose `latency_ms` column, if any, this command wrote; returns the table."""
    from surrogate._io import check_rewritable
    from surrogate.catalog import refuse_write
    from surrogate.spaces import get_space
    from surrogate.tabular import Table

    refuse_write(path, "--into")
    table = Table.read(path)
    check_rewritable(path, "--into")
    if get_space(table.space).spec != get_space(space).spec:
        raise UsageError(f"--into {path} holds space {table.space}, the latency table is of {space}")
    if COLUMN in table.metrics and "latency" not in table.attrs:
        raise UsageError(f"--into {path} has a {COLUMN} column this command did not write; rename it first")
    return table


def write_column(path: str | Path, table: "LatencyTable", facts: dict):
    """Write each architecture's predicted latency into the table at `path` (atomically, under its
    lock), with the lookup table's facts in the `latency` attribute and the column listed as exact."""
    from surrogate._io import file_lock
    from surrogate.tabular import Table

    with file_lock(path):
        current = Table.read(path)
        out = current.with_metric(COLUMN, table.predict(current.archs))
        out.attrs["latency"] = facts
        out.attrs[EXACT_ATTR] = sorted(set(out.attrs.get(EXACT_ATTR) or []) | {COLUMN})
        out.write(path)
    return out


@contextlib.contextmanager
def _threads(n: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def time_networks(networks: list, input_shape: tuple[int, ...], batch: int, device: str, repeats: int, warmup: int,
                  progress: bool = False, desc: str = "timing") -> np.ndarray:
    """Median milliseconds of one inference forward pass of each network, interleaved over rounds."""
    import torch
    from tqdm.auto import tqdm

    dev = torch.device(device)
    cuda = dev.type == "cuda"
    x = torch.randn(batch, *input_shape, device=dev)
    for net in networks:
        net.to(dev).eval()
    times = np.zeros((repeats, len(networks)))
    with torch.no_grad():
        for r in tqdm(range(warmup + repeats), desc=desc, unit="round", disable=not progress):
            for k, net in enumerate(networks):
                if cuda:
                    torch.cuda.synchronize(dev)
                start = time.perf_counter()
                net(x)
                if cuda:
                    torch.cuda.synchronize(dev)
                if r >= warmup:
                    times[r - warmup, k] = time.perf_counter() - start
    return np.median(times, axis=0) * 1e3


def measure_table(space: str, device: str = "cpu", batch: int = 1, threads: int = 1, repeats: int = 30,
                  warmup: int = 5, channels: int = 16, cells: int = 5, num_classes: int = 10,
                  input_shape: tuple[int, ...] = (3, 32, 32), progress: bool = False) -> LatencyTable:
    """Time the base network and one network per (decision, non-zero choice) of `space` on `device`."""
    import torch

    from surrogate.nets.costs import network_builder
    from surrogate.spaces import get_space

    s = get_space(space)
    build = network_builder(s, channels, cells, num_classes, input_shape[0])
    base = np.zeros(s.num_decisions, dtype=np.int64)
    variants = [(i, j) for i, k in enumerate(s.num_choices) for j in range(1, k)]
    archs = [base] + [np.where(np.arange(s.num_decisions) == i, j, base) for i, j in variants]
    torch.manual_seed(0)
    with _threads(threads):
        ms = time_networks([build(a) for a in archs], input_shape, batch, device, repeats, warmup, progress,
                           "latency table")
    deltas = [[0.0] * k for k in s.num_choices]
    for (i, j), value in zip(variants, ms[1:]):
        deltas[i][j] = float(value - ms[0])
    facts = {"device": device, "device_name": device_name(device), "batch": batch, "threads": threads,
             "repeats": repeats, "warmup": warmup, "channels": channels, "cells": cells, "num_classes": num_classes,
             "input_shape": list(input_shape), "torch_version": torch.__version__, "networks_timed": len(archs)}
    return LatencyTable(s.spec, float(ms[0]), deltas, facts)


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def check_request(space: str, device: str, batch: int, threads: int, repeats: int, warmup: int, check: int) -> None:
    """One-line UsageError for what `surrogate latency` cannot do, before any timing."""
    import torch

    from surrogate.nets import LANGUAGE_MODELS
    from surrogate.spaces import get_space

    s = get_space(space)
    if s.kind in LANGUAGE_MODELS:
        raise UsageError(f"latency tables time image networks; {s.spec} builds language models")
    for name, value, low in (("batch", batch, 1), ("threads", threads, 1), ("repeats", repeats, 1),
                             ("warmup", warmup, 0), ("check", check, 0)):
        if value < low:
            raise UsageError(f"--{name} must be at least {low}, got {value}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA device here")
    if device != "cpu" and not device.startswith("cuda"):
        raise UsageError(f"--device must be cpu or cuda[:N], got {device!r}")


def run_latency(space: str, out: str, device: str = "cpu", batch: int = 1, threads: int = 1, repeats: int = 30,
                warmup: int = 5, check: int = 20, seed: int = 0, channels: int = 16, cells: int = 5,
                num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32), command: str = "",
                progress: bool = True, into: str | None = None) -> tuple[dict, str]:
    """Measure `space`'s latency table, compare it with `check` architectures timed whole, write
    `out` (JSON) and, with `into`, every architecture's predicted latency into that table file
    (column `latency_ms`, which search then reads as exact: `--constraint latency_ms<=X`); returns
    the document and the text to print."""
    from scipy.stats import kendalltau

    from surrogate._io import atomic_write, run_record
    from surrogate.nets.costs import network_builder
    from surrogate.spaces import get_space

    check_request(space, device, batch, threads, repeats, warmup, check)
    if Path(out).is_dir():
        raise UsageError(f"--out {out} is a folder; give a .json file")
    if into is not None:
        check_into(into, space)
    table = measure_table(space, device, batch, threads, repeats, warmup, channels, cells, num_classes,
                          tuple(input_shape), progress)
    s = get_space(space)
    document = {**table.to_dict()}
    lines = [f"latency table of {s.spec} on {device} ({table.facts['device_name']}), batch {batch}, {threads} "
             f"thread(s), median of {repeats} rounds after {warmup}: base network {table.base_ms:.3f} ms",
             "", "| decision | " + " | ".join(f"choice {j}" for j in range(max(s.num_choices))) + " |",
             "|---|" + "---|" * max(s.num_choices)]
    for i, row in enumerate(table.deltas_ms):
        lines.append(f"| {i} | " + " | ".join(f"{v:+.3f}" for v in row) + " |" + " |" * (max(s.num_choices) - len(row)))
    if check:
        archs = s.sample(check, np.random.default_rng(seed))
        build = network_builder(s, channels, cells, num_classes, input_shape[0])
        with _threads(threads):
            measured = time_networks([build(a) for a in archs], tuple(input_shape), batch, device, repeats, warmup,
                                     progress, "check")
        predicted = table.predict(archs)
        tau = float(kendalltau(predicted, measured).statistic) if check > 1 else math.nan
        mape = float(np.mean(np.abs(predicted - measured) / measured) * 100)
        document["check"] = {"archs": s.format_many(archs), "predicted_ms": predicted.round(4).tolist(),
                             "measured_ms": measured.round(4).tolist(), "kendall_tau": tau,
                             "mean_abs_percent_error": mape}
        lines += ["", f"{check} random architectures timed whole against the table's sum: Kendall tau {tau:.3f}, "
                  f"mean absolute error {mape:.1f} % (measured {measured.min():.3f}-{measured.max():.3f} ms)"]
    document.update(run_record(command, None, None, [seed]))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, json.dumps(document, indent=1) + "\n")
    lines.append(f"wrote {out}")
    if into is not None:
        written = write_column(into, table, {"table": str(out), "base_ms": table.base_ms, **table.facts,
                                             "command": command})
        lines.append(f"wrote {COLUMN} (predicted by the table) for {written.n} archs into {into}")
    return document, "\n".join(lines)
