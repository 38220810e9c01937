"""Single-path one-shot training (SPOS; Guo et al., 2020) and the supernet checkpoint file.

Every step draws `paths_per_step` architectures uniformly from the space and trains the shared
weights along each path on the same batch (their gradients add up; with more than one path this is
the "sandwich"/multi-path variant that lowers the variance of each step). The optimizer and schedule
are the stand-alone trainer's (SGD with Nesterov momentum, per-step cosine), so a supernet is
trained under the same conditions as the records it is compared with.

The checkpoint is one `torch.save` file of plain types and tensors (loaded with
`weights_only=True`): the config, the weights, and, while training is unfinished, the optimizer and
RNG state. It is rewritten atomically after every epoch, so a killed `surrogate supernet train`
resumes where it stopped when rerun with the same settings.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from surrogate import __version__
from surrogate._io import atomic_write
from surrogate.errors import UsageError
from surrogate.spaces import Space, get_space
from surrogate.supernet.network import Supernet, build_supernet
from surrogate.train.data import Data

FORMAT = "surrogate-supernet"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SupernetConfig:
    """How a supernet is trained; recorded in the checkpoint and in every column it estimates."""

    space: str
    dataset: str
    epochs: int = 50
    channels: int = 16
    cells: int = 5
    batch_size: int = 256
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    paths_per_step: int = 1
    seed: int = 0
    device: str = "cpu"
    subset: int | None = None
    resolution: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "channels", "cells", "batch_size", "paths_per_step"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise UsageError(f"lr must be > 0, got {self.lr}")
        get_space(self.space)

    def load_data(self, data_dir: str | None = None) -> Data:
        """The dataset under this config's protocol (train subset, resolution)."""
        from surrogate.train.data import load

        return load(self.dataset, data_dir, self.subset, self.resolution)

    def build(self, data: Data) -> Supernet:
        return build_supernet(self.space, self.channels, self.cells, data.num_classes, data.input_shape[0])


#: what `protocol` fills: the settings a table's records were trained with, and their defaults.
PROTOCOL = {"space": None, "dataset": None, "channels": 16, "cells": 5, "batch_size": 256, "subset": None,
            "resolution": None}


def protocol(like=None, name: str = "", **given) -> dict:
    """Space, dataset and training protocol of a supernet: the `given` settings (None: not given),
    else those `like` (a table from `surrogate generate`, named `name`) was trained with, else the
    defaults (`PROTOCOL`); so the supernet learns what the records learned."""
    recorded: dict = {}
    if like is not None:
        recorded = dict(like.attrs.get("training_config") or {})
        if not recorded.get("channels"):
            raise UsageError(f"--like {name}: the table records no training protocol (not made by surrogate generate)")
        recorded |= {"space": like.space, "dataset": like.attrs.get("dataset")}
    settings = {key: given[key] if given.get(key) is not None else recorded.get(key, default)
                for key, default in PROTOCOL.items()}
    for key in ("space", "dataset"):
        if settings[key] is None:
            raise UsageError(f"supernet train needs --{key} (or --like TABLE)")
    return settings


def sample_paths(space: Space, n: int, generator: torch.Generator) -> np.ndarray:
    """n architectures drawn uniformly (every decision independently), from a torch generator so
    the draw is part of the resumable RNG state."""
    u = torch.rand(n, space.num_decisions, generator=generator, device=generator.device).cpu().numpy()
    return np.minimum((u * space.num_choices).astype(np.int64), space.num_choices - 1)


def shuffled_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator,
                     augment=None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One pass over (x, y) in a random order (a last batch of one image is dropped: BatchNorm)."""
    order = torch.randperm(len(y), generator=generator, device=y.device)
    for first in range(0, len(y), batch_size):
        rows = order[first:first + batch_size]
        if len(rows) > 1:
            yield (augment(x[rows], generator) if augment else x[rows]), y[rows]


def endless_batches(data: Data, split: str, batch_size: int, generator: torch.Generator,
                    device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled batches of a split (no augmentation), pass after pass: DARTS' and ENAS' validation feed."""
    x = getattr(data, f"x_{split}").to(device, memory_format=torch.channels_last)
    y = getattr(data, f"y_{split}").to(device)
    while True:
        yield from shuffled_batches(x, y, batch_size, generator)


class SharedWeights:
    """SGD on a supernet's shared weights with the stand-alone trainer's optimizer and schedule;
    SPOS, ENAS and DARTS all train their weights through it."""

    def __init__(self, supernet: Supernet, data: Data, epochs: int, batch_size: int, lr: float, momentum: float = 0.9,
                 weight_decay: float = 5e-4, device: torch.device | str = "cpu", generator: torch.Generator | None = None):
        self.device = torch.device(device)
        self.supernet = supernet.to(self.device, memory_format=torch.channels_last)
        self.x = data.x_train.to(self.device, memory_format=torch.channels_last)
        self.y = data.y_train.to(self.device)
        self.augment = data.augment
        self.batch_size, self.lr = batch_size, lr
        self.optimizer = torch.optim.SGD(supernet.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay,
                                         nesterov=True)
        self.generator = generator or torch.Generator(device=self.device)
        self.steps_per_epoch = len(self.y) // batch_size + (len(self.y) % batch_size > 1)  # as `batches` yields
        self.total_steps = epochs * self.steps_per_epoch
        self.step_count = 0

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of shuffled, augmented training batches."""
        return shuffled_batches(self.x, self.y, self.batch_size, self.generator, self.augment)

    def step(self, x: torch.Tensor, y: torch.Tensor, archs: np.ndarray | None = None, weights=None) -> float:
        """One SGD step on the summed loss of every path in `archs` (or of the relaxation `weights`);
        returns the mean loss."""
        progress = min(self.step_count / max(self.total_steps, 1), 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = 0.5 * self.lr * (1 + math.cos(math.pi * progress))
        self.supernet.train()
        self.optimizer.zero_grad(set_to_none=True)
        paths = [None] if archs is None else list(archs)
        total = 0.0
        for arch in paths:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                loss = F.cross_entropy(self.supernet(x, arch=arch, weights=weights).float(), y)
            loss.backward()
            total += loss.detach()
        torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), 5.0)
        self.optimizer.step()
        self.step_count += 1
        return float(total) / len(paths)


# --- the checkpoint ----------------------------------------------------------------------------
def save_checkpoint(path: Path, document: dict) -> None:
    """Atomic `torch.save`: temp file in the same folder, fsync, rename."""
    atomic_write(path, lambda handle: torch.save(document, handle))


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint document; UsageError for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no supernet checkpoint at {path}")
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or holding non-plain objects
        raise UsageError(f"{path} is not a readable supernet checkpoint ({type(err).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UsageError(f"{path} is not a surrogate supernet checkpoint")
    if document.get("format_version") != FORMAT_VERSION:
        raise UsageError(f"{path}: supernet checkpoint version {document.get('format_version')} is not supported")
    return document


def load_supernet(path: str | Path) -> tuple[Supernet, dict]:
    """(supernet with its trained weights, in eval mode on the CPU; the checkpoint document)."""
    document = load_checkpoint(path)
    if document["epochs_done"] < document["config"]["epochs"]:
        raise UsageError(f"{path}: training stopped after {document['epochs_done']} of {document['config']['epochs']} "
                         "epochs; rerun `surrogate supernet train` with the same settings to finish it")
    config = document["config"]
    net = build_supernet(config["space"], config["channels"], config["cells"], document["num_classes"],
                         document["input_shape"][0])
    net.load_state_dict(document["state_dict"])
    return net.eval(), document


# --- SPOS training ---------------------------------------------------------------------------------
def train_supernet(config: SupernetConfig, data: Data, out: str | Path, command: str = "",
                   progress: bool = True) -> dict:
    """Train (or resume training) a supernet by SPOS into checkpoint `out`; return its document."""
    from surrogate.train.trainer import resolve_device, seeded

    out = Path(out)
    device = resolve_device(config.device)
    space = get_space(config.space)
    with seeded(config.seed):
        net = config.build(data)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    trainer = SharedWeights(net, data, config.epochs, config.batch_size, config.lr, config.momentum,
                            config.weight_decay, device, generator)
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, "method": "spos", "config": asdict(config),
                "num_classes": data.num_classes, "input_shape": list(data.input_shape),
                "dataset_checksum": data.checksum, "split": data.split, "augmentation": data.augment.description,
                "package_version": __version__, "torch_version": str(torch.__version__), "command": command,
                "epochs_done": 0, "train_loss": [], "seconds": 0.0}
    if out.exists():
        previous = load_checkpoint(out)
        if previous["config"] != document["config"] or previous["dataset_checksum"] != data.checksum:
            raise UsageError(f"{out} holds a supernet trained with other settings: remove it or choose another --out")
        if previous["epochs_done"] >= config.epochs:
            return previous
        net.load_state_dict(previous["state_dict"])
        trainer.optimizer.load_state_dict(previous["optimizer"])
        generator.set_state(previous["generator"])
        trainer.step_count = previous["epochs_done"] * trainer.steps_per_epoch
        document.update({k: previous[k] for k in ("epochs_done", "train_loss", "seconds", "command")})
    with tqdm(total=config.epochs, initial=document["epochs_done"], desc="supernet (spos)", unit="epoch",
              disable=not progress, dynamic_ncols=True) as bar:
        for epoch in range(document["epochs_done"], config.epochs):
            start = time.perf_counter()
            losses = [trainer.step(x, y, sample_paths(space, config.paths_per_step, generator))
                      for x, y in trainer.batches()]
            document["train_loss"].append(float(np.mean(losses)))
            document["seconds"] += time.perf_counter() - start
            document["epochs_done"] = epoch + 1
            done = epoch + 1 == config.epochs
            document["state_dict"] = {k: v.detach().cpu() for k, v in net.state_dict().items()}
            document["optimizer"] = None if done else trainer.optimizer.state_dict()
            document["generator"] = None if done else generator.get_state()
            save_checkpoint(out, document)
            bar.set_postfix_str(f"loss {document['train_loss'][-1]:.3f}", refresh=False)
            bar.update()
    return document
