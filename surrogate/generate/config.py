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


#: settings of text jobs only (None for images, and then not stored)
_TEXT_ONLY = ("seq_len", "optimizer", "grad_clip")


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
    #: characters per truncated-BPTT window: set exactly for text datasets (language modelling)
    seq_len: int | None = None
    #: the optimiser (None: SGD, as every image table was trained) and the gradient-norm clip
    optimizer: str | None = None
    grad_clip: float | None = None

    @property
    def text(self) -> bool:
        """A language-modelling job (a text dataset, an `rnn-cell` network)."""
        return self.seq_len is not None

    @property
    def epoch_metrics(self) -> tuple[str, ...]:
        """The per-epoch records one training of this job yields."""
        from surrogate.train.language import TEXT_EPOCH_METRICS
        from surrogate.train.trainer import EPOCH_METRICS

        return TEXT_EPOCH_METRICS if self.text else EPOCH_METRICS

    @property
    def test_metric(self) -> str:
        """What the validation protocol reports for a top pick: test accuracy, or test bits per character."""
        return "test_bpc" if self.text else "test_acc"

    @property
    def final_metrics(self) -> tuple[str, ...]:
        """The one-value-per-training records (costs, divergence, time)."""
        latency = "latency_b64_ms" if self.text else "latency_b256_ms"
        return ("params", "flops", "latency_b1_ms", latency, "diverged", "job_seconds")

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
        """The configuration as a journal or a study stores it (JSON types: tuples become lists). The
        text-only settings are left out when unset, so an image job stores what it always stored
        (and a campaign's fingerprint, which hashes this, stays the same)."""
        stored = {k: v for k, v in asdict(self).items() if not (v is None and k in _TEXT_ONLY)}
        return json.loads(json.dumps(stored))

    @property
    def valid_metric(self) -> str:
        """The validation metric of a training record: accuracy, or bits per character."""
        return "valid_bpc" if self.text else "valid_acc"

    def training_config(self) -> dict:
        """The table's `training_config` attribute (the architecture list is the table itself)."""
        config = {k: v for k, v in self.stored().items() if k not in ("archs", "space", "dataset", "dataset_checksum")}
        layout = {} if self.text else {"memory_format": "channels_last"}
        return {**config, "seeds": list(range(self.seeds)), "optimizer": self.optimizer or "sgd", "loss": "cross_entropy",
                "precision": "bf16 autocast" if self.device.startswith("cuda") and not self.text else "float32",
                **layout}


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
    safe = lambda name: re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "_"  # noqa: E731  (text:DIR holds a path)
    return Path(f"runs/generate/{safe(space)}-{safe(dataset)}.h5")


#: what `make_config` uses for an option left out (None): image classification (NB201's training)
#: and character language modelling (the `rnn-shakespeare` table's protocol, bench/results/rnn.md)
IMAGE_DEFAULTS = dict(epochs=12, channels=16, cells=5, batch_size=256)
TEXT_DEFAULTS = dict(epochs=1, channels=32, cells=1, batch_size=128, seq_len=16, lr=1e-2, momentum=0.9, weight_decay=0.0,
                     nesterov=False, optimizer="adam", grad_clip=1.0)


def make_config(space: str, dataset: str, archs: str = "all", unique: bool = False, epochs: int | None = None,
                seeds: int = 1, channels: int | None = None, cells: int | None = None, batch_size: int | None = None,
                device: str = "cpu", data_dir: str | None = None, subset: int | None = None,
                resolution: int | None = None, test_at_end: bool = False, repeat_archs: int | None = None,
                seq_len: int | None = None) -> tuple[JobConfig, object]:
    """Check the options, load the dataset once (for its checksum and split) and resolve the archs.
    Options left out (None) take the task's defaults: `IMAGE_DEFAULTS`, or `TEXT_DEFAULTS` for a
    text dataset (`seq_len` applies to text only)."""
    from surrogate.nets import LANGUAGE_MODELS, build_network
    from surrogate.train.data import is_text, load
    from surrogate.train.trainer import resolve_device

    text = is_text(dataset)
    sp = get_space(space)
    if text != (sp.kind in LANGUAGE_MODELS):
        raise UsageError(f"space {sp.spec} builds language models: use a text dataset (shakespeare, text:DIR)" if not text
                         else f"dataset {dataset} is text: use a space of language models (rnn-cell:N), not {sp.spec}")
    if seq_len is not None and not text:
        raise UsageError(f"--seq-len applies to text datasets (shakespeare, text:DIR), not {dataset}")
    given = dict(epochs=epochs, channels=channels, cells=cells, batch_size=batch_size, seq_len=seq_len)
    settings = {**(TEXT_DEFAULTS if text else IMAGE_DEFAULTS), **{k: v for k, v in given.items() if v is not None}}
    for name in ("epochs", "channels", "cells", "batch_size", "seq_len"):
        if name in settings and settings[name] < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {settings[name]}")
    for name, value in (("seeds", seeds), ("repeat-archs", 1 if repeat_archs is None else repeat_archs)):
        if value < 1:
            raise UsageError(f"--{name} must be at least 1, got {value}")
    resolve_device(device)
    data = load(dataset, data_dir, subset, resolution)
    if text:
        shortest = min(len(data.valid), len(data.test))
        if settings["seq_len"] >= shortest:
            raise UsageError(f"--seq-len {settings['seq_len']} is longer than the {shortest} characters of {dataset}'s "
                             "smallest evaluation split (valid or test)")
        if len(data.train) // settings["batch_size"] < settings["seq_len"] + 1:
            raise UsageError(f"{dataset}'s train text ({len(data.train)} characters) is too short for --batch-size "
                             f"{settings['batch_size']} streams of --seq-len {settings['seq_len']}")
    chosen = select_archs(sp, archs, unique)
    build_network(sp.spec, chosen[0], 1, 1, data.num_classes, data.input_shape[0])  # a space with no network fails here
    config = JobConfig(space=sp.spec, dataset=dataset, dataset_checksum=data.checksum, split=data.split,
                       augmentation=data.augment.description, seeds=seeds, device=str(device),
                       archs=sp.format_many(chosen), subset=subset, resolution=resolution, test_at_end=test_at_end,
                       repeat_archs=repeat_archs, **settings)
    return config, data
