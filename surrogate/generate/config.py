"""What a job is: the settings that make two records comparable, and its seed-major list of pairs.

A journal or a shared study is bound to one `JobConfig`; a rerun with other settings is refused
(`check_same_job`) rather than mixing records trained differently."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from surrogate.errors import UsageError
from surrogate.generate.archs import select_archs
from surrogate.spaces import get_space


@dataclass(frozen=True)
class JobConfig:
    """Everything that makes two records comparable; a journal is bound to one of these."""

    space: str
    dataset: str
    dataset_checksum: str
    split: dict
    augmentation: str
    epochs: int
    seeds: int
    batch_size: int
    channels: int
    cells: int
    device: str
    archs: list[str] = field(repr=False)
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    schedule: str = "cosine, per step, to 0"
    subset: int | None = None
    resolution: int | None = None
    test_at_end: bool = False
    repeat_archs: int | None = None
    #: train on train+valid (validating top picks; None, not False, so older journals still match)
    train_on_valid: bool | None = None

    @property
    def repeated(self) -> int:
        """How many architectures (the first ones) are trained with seeds beyond 0."""
        return len(self.archs) if self.repeat_archs is None else min(self.repeat_archs, len(self.archs))

    @property
    def total_jobs(self) -> int:
        return len(self.archs) + (self.seeds - 1) * self.repeated

    def job(self, k: int) -> tuple[int, int]:
        """(arch index, seed) of pair k of the seed-major job list: all archs with seed 0, then the
        repeated ones with seed 1, ..."""
        first = len(self.archs)
        if k < first:
            return k, 0
        return (k - first) % self.repeated, 1 + (k - first) // self.repeated

    def jobs(self) -> list[tuple[int, int]]:
        """Every pair, seed-major, so a partial table covers many architectures early."""
        return [self.job(k) for k in range(self.total_jobs)]

    def stored(self) -> dict:
        """The configuration as a journal or a study stores it (JSON types: tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    def training_config(self) -> dict:
        """The table's `training_config` attribute (the architecture list is the table itself)."""
        config = {k: v for k, v in asdict(self).items() if k not in ("archs", "space", "dataset", "dataset_checksum")}
        return {**config, "seeds": list(range(self.seeds)), "optimizer": "sgd", "loss": "cross_entropy",
                "precision": "bf16 autocast" if self.device.startswith("cuda") else "float32",
                "memory_format": "channels_last"}


def check_same_job(found: dict, wanted: dict, where: str) -> None:
    """A one-line UsageError naming the first setting in which two stored job configurations differ."""
    key = next((k for k in wanted if found.get(k) != wanted[k]), None)  # a key added since reads as None
    if key is None:
        return
    there, here = found.get(key), wanted[key]
    if key == "archs":
        there, here = f"{len(there or [])} archs", f"{len(here)} archs"
    raise UsageError(f"{where} was made by a different job ({key}: {there} there, {here} now); "
                     "rerun with the same options or use another --out/--study")


def default_out(space: str, dataset: str) -> Path:
    """Where `surrogate generate` writes when no --out is given: runs/generate/SPACE-DATASET.h5."""
    return Path(f"runs/generate/{re.sub(r'[^A-Za-z0-9_.-]+', '_', space)}-{dataset}.h5")


def make_config(space: str, dataset: str, archs: str = "all", unique: bool = False, epochs: int = 12, seeds: int = 1,
                channels: int = 16, cells: int = 5, batch_size: int = 256, device: str = "cpu",
                data_dir: str | None = None, subset: int | None = None, resolution: int | None = None,
                test_at_end: bool = False, repeat_archs: int | None = None) -> tuple[JobConfig, object]:
    """Check the options, load the dataset once (for its checksum and split) and resolve the archs."""
    from surrogate.nets import build_network
    from surrogate.train.data import load
    from surrogate.train.trainer import resolve_device

    for name, value in (("epochs", epochs), ("seeds", seeds), ("channels", channels), ("cells", cells),
                        ("batch-size", batch_size), ("repeat-archs", 1 if repeat_archs is None else repeat_archs)):
        if value < 1:
            raise UsageError(f"--{name} must be at least 1, got {value}")
    sp = get_space(space)
    resolve_device(device)
    data = load(dataset, data_dir, subset, resolution)
    chosen = select_archs(sp, archs, unique)
    build_network(sp.spec, chosen[0], 1, 1, data.num_classes, data.input_shape[0])  # a space with no network fails here
    config = JobConfig(space=sp.spec, dataset=dataset, dataset_checksum=data.checksum, split=data.split,
                       augmentation=data.augment.description, epochs=epochs, seeds=seeds, batch_size=batch_size,
                       channels=channels, cells=cells, device=str(device), archs=sp.format_many(chosen),
                       subset=subset, resolution=resolution, test_at_end=test_at_end, repeat_archs=repeat_archs)
    return config, data
