"""Image-classification datasets for training architectures, held whole as tensors.

Every dataset has one fixed, recorded train/valid/test split, so records made on different machines
or days are comparable:

* `digits`: scikit-learn's 8x8 digits, 1 channel; train/valid/test 1077/360/360 carved from all
  1797 images; no augmentation (too small to crop, and digits are not mirror-symmetric).
* `fashion-mnist`: 28x28, 1 channel; 50000/10000/10000, valid carved from the official train set;
  random crop with padding 2, no flip (its shoes all face one way: a flip makes images the test set
  never shows).
* `cifar10`: 32x32, 3 channels; 40000/10000/10000, valid carved from the official train set;
  random crop with padding 4 and horizontal flip (NB201's).

The carve is a permutation with seed `SPLIT_SEED`; pixels are normalised per channel by the mean and
std of the *train* split. A cheaper *protocol* (`reduce`) may keep a class-balanced subset of the
train split (valid and test stay whole, so records stay comparable) and average-pool every image to
a lower resolution; both are recorded in `split`. `checksum` is a sha256 of the raw arrays as read (uint8 images, int64
labels, official train part then test part), so a record can name exactly what it was trained on.
Character-level text datasets (`shakespeare`, `text:DIR`) live in `surrogate.train.text`; `load` and
`with_valid_in_train` serve both kinds.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from surrogate.errors import UsageError
from surrogate.registry import Registry


SPLIT_SEED = 0
#: images carved from the official train part for validation
VALID_SIZE = {"fashion-mnist": 10_000, "cifar10": 10_000}
#: where Fashion-MNIST is looked for after --data-dir (and its torchvision layout)
FASHION_SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
FASHION_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


@dataclass(frozen=True)
class Augment:
    """Random crop (zero padding `pad`, then a crop of the original size) and optional horizontal
    flip, vectorised over the batch so it runs on the device next to the data."""

    pad: int = 0
    flip: bool = False

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        if self.pad:
            padded = torch.nn.functional.pad(x, (self.pad,) * 4)
            dy, dx = torch.randint(0, 2 * self.pad + 1, (2, n, 1), generator=generator, device=x.device)
            rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]  # (n, 1, h, 1)
            cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]  # (n, 1, 1, w)
            x = padded[torch.arange(n, device=x.device)[:, None, None, None],
                       torch.arange(x.shape[1], device=x.device)[None, :, None, None], rows, cols]
        if self.flip:
            mirror = torch.rand(n, generator=generator, device=x.device) < 0.5
            x = torch.where(mirror[:, None, None, None], x.flip(3), x)
        return x

    @property
    def description(self) -> str:
        parts = ([f"random-crop(pad={self.pad})"] if self.pad else []) + (["hflip"] if self.flip else [])
        return "+".join(parts) or "none"


@dataclass(frozen=True)
class Data:
    """One dataset split three ways: images (N, C, H, W) float32 normalised, labels int64."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    checksum: str
    augment: Augment = Augment()
    protocol: tuple[tuple[str, int], ...] = ()

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def split(self) -> dict:
        """What a record needs to name the split: sizes and the carve's seed."""
        return {"train": len(self.y_train), "valid": len(self.y_valid), "test": len(self.y_test), "seed": SPLIT_SEED,
                **dict(self.protocol)}

    def to(self, device: str | torch.device, memory_format: torch.memory_format = torch.contiguous_format) -> "Data":
        """The same data on `device` (images in `memory_format`, e.g. channels_last on CUDA)."""
        move = {k: getattr(self, k).to(device) for k in ("y_train", "y_valid", "y_test")}
        move |= {k: getattr(self, k).to(device, memory_format=memory_format)
                 for k in ("x_train", "x_valid", "x_test")}
        return replace(self, **move)


#: the text datasets' loader, a lazy registry entry (`surrogate.train.text` builds on this module's
#: `Augment` and `SPLIT_SEED`, so this module names it by path rather than importing it)
TEXT_DATASETS: Registry[Callable[..., object]] = Registry("text dataset", {"text": "surrogate.train.text:load"})


def is_text(name: str) -> bool:
    """Whether `name` is a text dataset (character language modelling) rather than images."""
    return name == "shakespeare" or name.startswith("text:")


def load(name: str, data_dir: str | Path | None = None, subset: int | None = None,
         resolution: int | None = None) -> "Data | text.TextData":
    """The dataset `name` (`digits`, `fashion-mnist`, `cifar10`), cut down by `reduce` when `subset`
    or `resolution` is given; or the text dataset `shakespeare` or `text:DIR` (`surrogate.train.text`),
    cut down by `reduce_text`; UsageError when it is missing."""
    if is_text(name):

        if resolution is not None:
            raise UsageError(f"--resolution applies to image datasets, not the text dataset {name}; leave it out")
        return TEXT_DATASETS["text"](name, data_dir, subset)
    if name not in DATASETS:
        raise UsageError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)}, shakespeare, text:DIR)")
    return reduce(DATASETS[name](Path(data_dir).expanduser() if data_dir else None), subset, resolution)


def reduce(data: Data, subset: int | None = None, resolution: int | None = None) -> Data:
    """A cheaper training protocol on the same data.

    `subset`: keep that many training images, class-balanced (an equal share of every class, the
    remainder to the lowest labels), drawn with `SPLIT_SEED`; valid and test stay whole. `resolution`:
    average-pool every image to `resolution` x `resolution` (the side must divide the image's: 28 ->
    14 or 7), re-normalised by the train split, with the crop padding scaled alike."""
    if subset is None and resolution is None:
        return data
    x_train, y_train, x_valid, x_test, augment = data.x_train, data.y_train, data.x_valid, data.x_test, data.augment
    protocol = dict(data.protocol)
    if subset is not None:
        if not 0 < subset <= len(y_train):
            raise UsageError(f"--subset must be between 1 and the {len(y_train)} training images of {data.name}, "
                             f"got {subset}")
        rows = torch.from_numpy(balanced_rows(y_train.numpy(), subset, data.num_classes))
        x_train, y_train = x_train[rows], y_train[rows]
        protocol["train_subset"] = subset
    if resolution is not None:
        side = x_train.shape[-1]
        if resolution < 1 or side % resolution or x_train.shape[-2] != side:
            raise UsageError(f"--resolution must divide the {side}x{side} images of {data.name} (e.g. {side // 2}), "
                             f"got {resolution}")
        pool = side // resolution
        x_train, x_valid, x_test = (torch.nn.functional.avg_pool2d(x, pool) for x in (x_train, x_valid, x_test))
        mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
        std = x_train.std(dim=(0, 2, 3), keepdim=True)
        x_train, x_valid, x_test = ((x - mean) / std for x in (x_train, x_valid, x_test))
        augment = replace(augment, pad=round(augment.pad / pool))
        protocol["resolution"] = resolution
    return replace(data, x_train=x_train.contiguous(), y_train=y_train, x_valid=x_valid.contiguous(),
                   x_test=x_test.contiguous(), augment=augment, protocol=tuple(sorted(protocol.items())))


def with_valid_in_train(data: "Data | text.TextData") -> "Data | text.TextData":
    """The validation protocol of top picks: train on train+valid (more data, as NAS papers' final
    training does), judge on test only. The valid split stays (it is now seen in training: its
    metrics are no estimate of anything); `split` records the merge. Text: the valid stream is
    appended to the train stream."""
    protocol = dict(data.protocol) | {"train_plus_valid": 1}
    if not isinstance(data, Data):
        return replace(data, train=torch.cat([data.train, data.valid]), protocol=tuple(sorted(protocol.items())))
    return replace(data, x_train=torch.cat([data.x_train, data.x_valid]).contiguous(),
                   y_train=torch.cat([data.y_train, data.y_valid]), protocol=tuple(sorted(protocol.items())))


def balanced_rows(labels: np.ndarray, n: int, num_classes: int) -> np.ndarray:
    """Sorted indices of n rows of `labels`, an equal share of each class (the first n % K classes
    get one more; a class with too few rows gives all it has and the rest is topped up at random),
    drawn by a permutation seeded with `SPLIT_SEED`."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    quota = np.full(num_classes, n // num_classes) + (np.arange(num_classes) < n % num_classes)
    ranked = labels[order]
    rank_in_class = np.empty(len(labels), np.int64)
    for c in range(num_classes):  # K classes, vectorised within each
        mine = ranked == c
        rank_in_class[mine] = np.arange(mine.sum())
    chosen = rank_in_class < quota[ranked]
    if chosen.sum() < n:  # a short class: top up from the remaining rows in the same seeded order
        chosen[np.flatnonzero(~chosen)[:n - chosen.sum()]] = True
    return np.sort(order[chosen])


# --- the datasets ---------------------------------------------------------------------------------
def _digits(data_dir: Path | None) -> Data:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    images, labels = x.reshape(-1, 1, 8, 8).astype(np.uint8), y.astype(np.int64)
    test, valid, train = carve(len(labels), 360, 360)
    return _assemble("digits", images, labels, train, valid, (images[test], labels[test]), _checksum(images, labels))


def _fashion_mnist(data_dir: Path | None) -> Data:
    candidates = ([data_dir, data_dir / "FashionMNIST" / "raw"] if data_dir else []) + list(FASHION_SYSTEM_DIRS)
    folder = next((d for d in candidates if all(_idx_path(d, f) for f in FASHION_FILES)), None)
    if folder is None:
        raise UsageError(f"dataset fashion-mnist not found: looked for {FASHION_FILES[0]}(.gz) and its 3 sibling "
                         f"IDX files in {', '.join(map(str, candidates))}; download them from "
                         "https://github.com/zalandoresearch/fashion-mnist and pass --data-dir DIR")
    train_x, train_y, test_x, test_y = (_read_idx(_idx_path(folder, f)) for f in FASHION_FILES)  # type: ignore
    for images, labels, part in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise UsageError(f"{folder}: {part} images {images.shape} and labels {labels.shape} do not match")
    return _carve("fashion-mnist", train_x[:, None], train_y.astype(np.int64), test_x[:, None],
                  test_y.astype(np.int64), augment=Augment(pad=2))


def _cifar10(data_dir: Path | None) -> Data:
    hint = ("download the CIFAR-10 python version (cifar-10-python.tar.gz, "
            "https://www.cs.toronto.edu/~kriz/cifar.html), extract it and pass --data-dir pointing at "
            f"{CIFAR_FOLDER} or its parent")
    if data_dir is None:
        raise UsageError(f"dataset cifar10 needs --data-dir: {hint}")
    folder = next((d for d in (data_dir, data_dir / CIFAR_FOLDER) if (d / "test_batch").is_file()), None)
    if folder is None:
        raise UsageError(f"dataset cifar10 not found: no test_batch in {data_dir} or {data_dir / CIFAR_FOLDER}; {hint}")
    parts = [_read_cifar_batch(folder / b) for b in (*CIFAR_BATCHES, "test_batch")]
    train_x = np.concatenate([p[0] for p in parts[:-1]])
    train_y = np.concatenate([p[1] for p in parts[:-1]])
    return _carve("cifar10", train_x, train_y, *parts[-1], augment=Augment(pad=4, flip=True))


#: each image dataset's input shape (C, H, W, before `resolution` pools it) and classes, known without loading it
IMAGE_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {"digits": ((1, 8, 8), 10),
                                                              "fashion-mnist": ((1, 28, 28), 10),
                                                              "cifar10": ((3, 32, 32), 10)}
DATASETS: dict[str, Callable[[Path | None], Data]] = {"digits": _digits, "fashion-mnist": _fashion_mnist, "cifar10": _cifar10}


# --- splits and normalisation ---------------------------------------------------------------------
def carve(n: int, *sizes: int) -> tuple[np.ndarray, ...]:
    """Rows 0..n-1 split by a permutation seeded with `SPLIT_SEED`: parts of the given sizes, then
    the rest; each part sorted. The same n and sizes always give the same parts."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    return tuple(np.sort(part) for part in np.split(order, np.cumsum(sizes)))


def _carve(name: str, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
           augment: Augment) -> Data:
    """Valid carved from the official train part; test kept as published."""
    valid = VALID_SIZE[name]
    if len(train_y) <= valid:
        raise UsageError(f"dataset {name}: the train part has {len(train_y)} images, "
                         f"fewer than the {valid} to carve for valid")
    valid_rows, train_rows = carve(len(train_y), valid)
    checksum = _checksum(train_x, train_y, test_x, test_y)
    return _assemble(name, train_x, train_y, train_rows, valid_rows, (test_x, test_y), checksum, augment)


def _assemble(name: str, images: np.ndarray, labels: np.ndarray, train: np.ndarray, valid: np.ndarray,
              test: tuple[np.ndarray, np.ndarray], checksum: str, augment: Augment = Augment()) -> Data:
    """Normalise with the train split's per-channel statistics and wrap as tensors."""
    train_x = images[train].astype(np.float32)
    mean = train_x.mean(axis=(0, 2, 3), dtype=np.float64, keepdims=True)
    std = train_x.std(axis=(0, 2, 3), dtype=np.float64, keepdims=True)

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((x.astype(np.float64) - mean) / std).astype(np.float32))

    all_labels = np.concatenate([labels, test[1]])
    if all_labels.min() < 0:
        raise UsageError(f"dataset {name}: negative labels")
    return Data(name, tensor(images[train]), torch.from_numpy(labels[train]), tensor(images[valid]),
                torch.from_numpy(labels[valid]), tensor(test[0]), torch.from_numpy(test[1]),
                num_classes=int(all_labels.max()) + 1, checksum=checksum, augment=augment)


def _checksum(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return "sha256:" + digest.hexdigest()


# --- file formats ---------------------------------------------------------------------------------
def _idx_path(folder: Path, stem: str) -> Path | None:
    """The IDX file `stem`, gzipped or not, in `folder` (None when absent)."""
    return next((p for p in (folder / f"{stem}.gz", folder / stem) if p.is_file()), None)


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format): 2 zero bytes, type code 0x08 (uint8), ndim, big-endian dims."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise UsageError(f"{path}: unreadable ({err})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise UsageError(f"{path}: not a uint8 IDX file")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    if len(raw) != offset + int(np.prod(dims)):
        raise UsageError(f"{path}: IDX header says {dims} but the file holds {len(raw) - offset} values")
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(dims)


class _ArraysOnly(pickle.Unpickler):
    """CIFAR's batches are pickles; allow only what numpy arrays need, so a planted file cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):  # type: ignore[override]
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: images (n, 3, 32, 32) uint8 and labels int64."""
    if not path.is_file():
        raise UsageError(f"dataset cifar10: {path} is missing (the folder must hold data_batch_1..5 and test_batch)")
    try:
        with open(path, "rb") as f:
            batch = _ArraysOnly(f, encoding="bytes").load()
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        images = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, AttributeError, KeyError, ValueError, TypeError) as err:
        raise UsageError(f"{path}: not a CIFAR-10 python batch ({err})") from None
    if len(images) != len(labels):
        raise UsageError(f"{path}: {len(images)} images but {len(labels)} labels")
    return images, labels
