"""Zero-cost proxies: scores of a network at initialisation, from one batch, that rank architectures
without training them.

Each proxy follows its paper (and the reference code of NAS-Bench-Suite-Zero / zero-cost-nas):

* `synflow` (Tanaka et al., 2020): sum over conv/linear weights of |theta * dR/dtheta| where
  R = sum(f(1)) of the network with |weights|, BatchNorm removed, in float64, on one all-ones input;
  data-free and independent of the batch.
* `nwot` (Mellor et al., ICML 2021, "NAS without training"): log |K| where K sums, over every ReLU,
  c c^T + (1-c)(1-c)^T of the binary codes c (pre-activation > 0) of the batch's inputs.
* `jacov` (Mellor et al., 2020, arXiv v1): -sum(log(v + k) + 1/(v + k)), k = 1e-5, over the
  eigenvalues v of the correlation matrix of the per-input Jacobians d sum(f(x)) / dx.
* `snip` (Lee et al., 2019, as a proxy: Abdelfattah et al., ICLR 2021): sum |theta * dL/dtheta|.
* `grad_norm` (Abdelfattah et al.): sum over conv/linear layers of ||dL/dW||_2.
* `fisher` (Theis et al., 2018, as a proxy: Abdelfattah et al.): sum over conv/linear output
  channels of 0.5 * mean over the batch of (sum over positions of activation * its gradient)^2.

L is the cross-entropy of the batch's labels; networks are in training mode (batch statistics), as
in the reference code. nwot sees the whole batch (`batch_size`, a forward pass without gradients);
one forward and two backward passes (the input Jacobian, then the loss) on its first `grad_batch`
inputs serve jacov, snip, grad_norm and fisher together: the values are exactly those of separate
passes, since no pass changes a weight. The defaults (64 and 8) are measured: see DEFAULT_BATCH. The network is built from a seed, so every proxy is
deterministic under (seed, batch). Degenerate cells (no path from input to output) have a constant
output: their Jacobian correlation is taken as 0 (the worst jacov) and a singular nwot kernel scores
0 (below any cell whose ReLUs tell the inputs apart).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from surrogate.errors import UsageError

PROXIES = ("synflow", "nwot", "jacov", "snip", "grad_norm", "fisher")
#: input kinds: `random` (Gaussian inputs, random labels: data-free) or a dataset of `train.data`
DATASETS = ("random", "digits", "fashion-mnist", "cifar10")
#: (channels, side, classes) of each dataset's images, native resolution
SHAPES = {"digits": (1, 8, 10), "fashion-mnist": (1, 28, 10), "cifar10": (3, 32, 10)}
COLUMN_PREFIX = "zc_"
#: default batches, measured on 300 NB201 classes (bench/results/predictors_zc.md): nwot's Spearman
#: still grows with its batch (0.52, 0.57, 0.62 at 8, 16, 64), so it sees the whole batch of 64 (a
#: forward pass only); the gradient proxies rank within 0.02 of batch 64 already at 8, so they see
#: its first 8 inputs (one eighth of the backward cost)
DEFAULT_BATCH = 64
DEFAULT_GRAD_BATCH = 8
#: version of the proxies' definitions: bump when a formula changes, so caches and journals refuse old values
VERSION = 1


@dataclass(frozen=True)
class ProxyConfig:
    """Everything a proxy value depends on (besides the architecture): the network's size and
    input, the batch, the seed. Stored in the table's attributes and keys caches and journals."""

    space: str
    dataset: str = "random"
    channels: int = 16
    cells: int = 5
    in_channels: int = 3
    side: int = 32
    num_classes: int = 10
    batch_size: int = DEFAULT_BATCH
    grad_batch: int = DEFAULT_GRAD_BATCH
    seed: int = 0
    subset: int | None = None
    resolution: int | None = None
    version: int = VERSION

    def key(self) -> dict:
        """What must match for a cached or journaled value to be reused (the dataset's name and
        protocol fix its content; the table records the data checksum beside it)."""
        return asdict(self)

    def digest(self) -> str:
        import hashlib
        import json

        return hashlib.sha256(json.dumps(self.key(), sort_keys=True).encode()).hexdigest()[:16]


def check_proxies(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in PROXIES]
    if unknown:
        raise UsageError(f"unknown proxy {unknown[0]!r} (known: {', '.join(PROXIES)})")
    if not names:
        raise UsageError("--proxies needs at least one proxy")
    return list(dict.fromkeys(names))


def check_dataset(name: str) -> str:
    if name not in DATASETS:
        raise UsageError(f"unknown proxy dataset {name!r} (known: {', '.join(DATASETS)})")
    return name


# --- the batch -------------------------------------------------------------------------------------
def make_batch(config: ProxyConfig, data=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The one batch every architecture is scored on: Gaussian inputs and uniform labels for
    `random`, else `batch_size` training images drawn with `seed` (the same for every cell)."""
    generator = torch.Generator().manual_seed(config.seed)
    if config.dataset == "random":
        x = torch.randn(config.batch_size, config.in_channels, config.side, config.side, generator=generator)
        y = torch.randint(0, config.num_classes, (config.batch_size,), generator=generator)
        return x, y
    if data is None:
        raise ValueError("a dataset batch needs the loaded data")
    rows = torch.randperm(len(data.y_train), generator=generator)[:config.batch_size]
    return data.x_train[rows].float().contiguous(), data.y_train[rows].long()


# --- the proxies -----------------------------------------------------------------------------------
def _weighted(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def synflow(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Tanaka et al. (2020): |theta| weights, no BatchNorm, float64, an all-ones input of batch 1."""
    net = copy.deepcopy(net)
    for name, module in list(net.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, child_name, nn.Identity())
    net = net.double().train()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad()
    device = next(net.parameters()).device
    out = net(torch.ones(1, *input_shape, dtype=torch.float64, device=device))
    out.sum().backward()
    total = 0.0
    for m in _weighted(net):
        if m.weight.grad is not None:
            total += float((m.weight.detach() * m.weight.grad).abs().sum())
    return total


def _logdet(k: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(k)
    return float(value) if sign > 0 and np.isfinite(value) else 0.0


def _jacov(jacobian: np.ndarray) -> float:
    j = jacobian.reshape(len(jacobian), -1).astype(np.float64)
    centered = j - j.mean(axis=1, keepdims=True)
    norms = np.sqrt((centered**2).sum(axis=1))
    ok = norms > 0
    unit = np.zeros_like(centered)
    unit[ok] = centered[ok] / norms[ok, None]
    corr = unit @ unit.T  # np.corrcoef, with a constant row correlating 0 (its own 1 included)
    v = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def nwot(net: nn.Module, x: torch.Tensor) -> float:
    """Mellor et al. (2021): log|K| of the ReLUs' binary codes over the batch; a forward pass only."""
    batch = len(x)
    kernel = torch.zeros((batch, batch), dtype=torch.float64, device=x.device)

    def relu_hook(module, inputs, output):
        codes = (inputs[0].detach().reshape(batch, -1) > 0).double()
        kernel.add_(codes @ codes.T + (1.0 - codes) @ (1.0 - codes).T)

    hooks = [m.register_forward_hook(relu_hook) for m in net.modules() if "ReLU" in type(m).__name__]
    try:
        net.train()
        with torch.no_grad():
            net(x)
    finally:
        for h in hooks:
            h.remove()
    return _logdet(kernel.cpu().numpy())


def score(net: nn.Module, x: torch.Tensor, y: torch.Tensor, proxies: tuple[str, ...] | list[str] = PROXIES,
          grad_batch: int | None = None) -> dict[str, float]:
    """Every proxy in `proxies` for one freshly initialised network on one batch: nwot on the whole
    batch, the gradient proxies (jacov, snip, grad_norm, fisher) on its first `grad_batch` inputs
    (all of them when None)."""
    out: dict[str, float] = {}
    wanted = set(proxies)
    if "synflow" in wanted:
        out["synflow"] = synflow(net, tuple(x.shape[1:]))
    if "nwot" in wanted:
        out["nwot"] = nwot(net, x)
    rest = wanted - {"synflow", "nwot"}
    if rest:
        out.update(_gradient_proxies(net, x[:grad_batch], y[:grad_batch], rest))
    return {name: out[name] for name in proxies}


def _gradient_proxies(net: nn.Module, x: torch.Tensor, y: torch.Tensor, wanted: set[str]) -> dict[str, float]:
    """jacov, snip, grad_norm and fisher from one forward and two backward passes (the input
    Jacobian of sum(f), then the cross-entropy loss): the values of separate passes, since no pass
    changes a weight."""
    out: dict[str, float] = {}
    net.train()
    net.zero_grad()
    hooks = []
    fisher_terms: list[torch.Tensor] = []
    capture = {"on": False}
    if "fisher" in wanted:
        def layer_hook(module, inputs, output):
            if not output.requires_grad:
                return
            act = output.detach()

            def grad_hook(grad):
                if capture["on"]:
                    g = (act * grad).sum(dim=tuple(range(2, act.dim()))) if act.dim() > 2 else act * grad
                    fisher_terms.append(g.pow(2).mean(0).mul(0.5).sum())

            output.register_hook(grad_hook)

        hooks += [m.register_forward_hook(layer_hook) for m in _weighted(net)]
    x = x.clone().requires_grad_("jacov" in wanted)
    try:
        logits = net(x)
        if "jacov" in wanted:
            (jacobian,) = torch.autograd.grad(logits.sum(), x, retain_graph=True)
            out["jacov"] = _jacov(jacobian.cpu().numpy())
        if wanted & {"snip", "grad_norm", "fisher"}:
            capture["on"] = True
            nn.functional.cross_entropy(logits, y).backward()
    finally:
        for h in hooks:
            h.remove()
    layers = _weighted(net)
    if "snip" in wanted:
        out["snip"] = float(sum((m.weight.detach() * m.weight.grad).abs().sum() for m in layers if m.weight.grad is not None))
    if "grad_norm" in wanted:
        out["grad_norm"] = float(sum(m.weight.grad.norm() for m in layers if m.weight.grad is not None))
    if "fisher" in wanted:
        out["fisher"] = float(sum(fisher_terms)) if fisher_terms else 0.0
    return out


def score_arch(config: ProxyConfig, arch: np.ndarray, x: torch.Tensor, y: torch.Tensor,
               proxies: tuple[str, ...] | list[str] = PROXIES) -> dict[str, float]:
    """Build `arch`'s network with weights seeded by `config.seed` and score it (on the CPU)."""
    return score_on(config, arch, x, y, proxies)


# --- configuration from a table ---------------------------------------------------------------------
def config_for_table(table, dataset: str = "random", batch_size: int | None = None, channels: int | None = None,
                     cells: int | None = None, seed: int = 0, grad_batch: int | None = None) -> ProxyConfig:
    """The network the table's records were trained with (its `training_config`), else NB201's own
    C=16, N=5 on 3x32x32 inputs (an imported table); explicit values override. UsageError when the
    space has no network definition."""
    from surrogate.nets import LANGUAGE_MODELS, NETWORKS
    from surrogate.spaces import get_space

    check_dataset(dataset)
    space = get_space(table.space)
    if space.kind not in NETWORKS:
        raise UsageError(f"space {space.spec} has no network definition: zero-cost proxies need one "
                         f"(spaces with networks: {', '.join(NETWORKS)})")
    if space.kind in LANGUAGE_MODELS:
        raise UsageError(f"space {space.spec} holds language models: the zero-cost proxies here score image "
                         "classifiers")
    trained = dict(table.attrs.get("training_config") or {})
    recorded = trained.get("channels") is not None
    trained_on = table.attrs.get("dataset") if recorded else None
    in_channels, side, classes = 3, 32, 10
    subset = resolution = None
    if recorded and trained_on in SHAPES:
        in_channels, side, classes = SHAPES[trained_on]
        resolution = trained.get("resolution")
        side = resolution or side
    if dataset != "random":
        if dataset != trained_on:  # another dataset than the records': its native shape
            in_channels, side, classes = SHAPES[dataset]
            resolution = None
        else:
            subset = trained.get("subset")
    config = ProxyConfig(space=space.spec, dataset=dataset,
                         channels=int(channels if channels is not None else trained.get("channels") or 16),
                         cells=int(cells if cells is not None else trained.get("cells") or 5),
                         in_channels=in_channels, side=int(side), num_classes=classes,
                         batch_size=int(batch_size if batch_size is not None else DEFAULT_BATCH),
                         grad_batch=int(grad_batch if grad_batch is not None else
                                        min(DEFAULT_GRAD_BATCH, batch_size or DEFAULT_BATCH)),
                         seed=seed, subset=subset, resolution=resolution)
    if config.batch_size < 2 or config.grad_batch < 2:
        raise UsageError("--batch-size and --grad-batch must be >= 2 (nwot and jacov compare the inputs of a batch)")
    if config.grad_batch > config.batch_size:
        raise UsageError(f"--grad-batch {config.grad_batch} exceeds --batch-size {config.batch_size}")
    if config.channels < 1 or config.cells < 1:
        raise UsageError("--channels and --cells must be >= 1")
    from surrogate.nets import build_network

    try:  # a space of a networked kind may still have no network (a chain position with too many choices)
        build_network(space.spec, np.zeros(space.num_decisions, dtype=np.int64), config.channels, config.cells,
                      config.num_classes, config.in_channels)
    except UsageError as err:
        raise UsageError(f"space {space.spec} has no network definition: zero-cost proxies need one ({err})") from None
    return config


def load_data(config: ProxyConfig, data_dir: str | None = None):
    """The dataset a non-random batch is drawn from (None for `random`)."""
    if config.dataset == "random":
        return None
    from surrogate.train.data import load

    return load(config.dataset, data_dir, config.subset, config.resolution)


def journal_root(table_path):
    """The journal folder of a table: `FILE.proxies/`, beside it."""
    from pathlib import Path

    return Path(str(table_path) + ".proxies")


# --- journal: one JSON line per finished (class, proxies), fsynced; a torn last line is ignored -------
class ProxyJournal:
    """`<table>.proxies/<config digest>.jsonl`, beside the table: kill and rerun resumes, and
    concurrent runs on one table share it. A line holds some proxies of one class (those its run
    computed); reading merges the lines, so values are keyed by (class, proxy) whatever order runs
    with different `--proxies` appended them in."""

    def __init__(self, table_path, config: ProxyConfig):
        self.root = journal_root(table_path)
        self.path = self.root / f"{config.digest()}.jsonl"
        self.config = config
        self._done: dict[int, dict[str, float]] = {}
        self._offset = 0

    def read(self) -> dict[int, dict[str, float]]:
        """Every journaled value, {class: {proxy: value}} (a fresh read of the whole file)."""
        self._done, self._offset = {}, 0
        return self.refresh()

    def refresh(self) -> dict[int, dict[str, float]]:
        """`read`, reading only what was appended since the last read (by this or another run)."""
        import json

        if not self.path.exists():
            return self._done
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            tail = f.read()
        complete = tail[:tail.rfind(b"\n") + 1]  # a line still being written is read next time
        self._offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            try:
                record = json.loads(line)
                values = {str(k): float(v) for k, v in record["values"].items()}
                self._done.setdefault(int(record["class"]), {}).update(values)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a line torn by a kill: that class is computed again
        return self._done

    def open(self):
        import json

        from surrogate._io import atomic_write

        self.root.mkdir(parents=True, exist_ok=True)
        config_file = self.path.with_suffix(".json")
        if not config_file.exists():
            atomic_write(config_file, json.dumps(self.config.key(), indent=1) + "\n")
        if self.path.exists():  # end a torn last line, so the next record starts on its own
            with open(self.path, "rb+") as f:
                f.seek(0, 2)
                if f.tell():
                    f.seek(-1, 2)
                    if f.read(1) != b"\n":
                        f.write(b"\n")
        return open(self.path, "a")

    def seconds(self) -> tuple[float, int]:
        """Compute seconds summed over the journal's classes that record them (CPU seconds of the
        scoring process; wall seconds on a GPU), and how many classes that is."""
        import json

        total, counted = 0.0, 0
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                    if "seconds" in record:
                        total, counted = total + float(record["seconds"]), counted + 1
                except (ValueError, AttributeError, TypeError):
                    continue
        return total, counted

    @staticmethod
    def append(handle, class_id: int, values: dict[str, float], seconds: float = 0.0) -> None:
        """One line, written with a single `write` to a handle opened for appending (O_APPEND), so
        lines of concurrent runs never interleave."""
        import json
        import os

        handle.write(json.dumps({"class": int(class_id), "values": values, "seconds": round(seconds, 4)}) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


class ClassClaims:
    """Which classes a run is scoring right now, shared by the runs on one table and configuration:
    one byte-range lock (`fcntl.lockf`) per class on `<digest>.claims` in the journal folder. A run
    scores only a class it holds, and only the proxies the journal lacks; a class held by another run
    is left to it, and waited for only when nothing else is left, so two identical runs split the work
    and different ones take turns per class. The kernel releases a killed run's claims. The lock's
    byte is the class id modulo 2**40 (ids may be 64-bit hashes): a rare collision only makes a run
    wait, never score twice or skip."""

    def __init__(self, journal: ProxyJournal):
        self.path = journal.path.with_suffix(".claims")
        self.fd: int | None = None

    def __enter__(self) -> "ClassClaims":
        import os

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        return self

    def __exit__(self, *exc) -> None:
        import os

        if self.fd is not None:
            os.close(self.fd)  # releases every claim still held
            self.fd = None

    def _lock(self, class_id: int, how: int) -> None:
        import fcntl

        fcntl.lockf(self.fd, how, 1, int(class_id) % (1 << 40))

    def try_claim(self, class_id: int) -> bool:
        import fcntl

        try:
            self._lock(class_id, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:  # held by another run
            return False

    def wait(self, class_id: int) -> None:
        """Block until the run holding `class_id` lets it go, then hold it. Call it holding no other
        claim (two runs each waiting for the other's would deadlock)."""
        import fcntl

        self._lock(class_id, fcntl.LOCK_EX)

    def release(self, class_id: int) -> None:
        import fcntl

        self._lock(class_id, fcntl.LOCK_UN)


# --- the shipped cache --------------------------------------------------------------------------------
#: package data: the proxies of every NB201 class with the default configuration
CACHE_FILES = ("nb201_proxies.npz",)


def cache_path(name: str):
    from surrogate.catalog import FOLDER

    return FOLDER / name


def read_cache(config: ProxyConfig, proxies: list[str]) -> dict[int, dict[str, float]]:
    """Values of the shipped caches made with exactly `config`, by class id (only complete rows)."""
    import json

    found: dict[int, dict[str, float]] = {}
    for name in CACHE_FILES:
        path = cache_path(name)
        if not path.is_file():
            continue
        with np.load(path, allow_pickle=False) as npz:
            if json.loads(str(npz["config"])) != json.loads(json.dumps(config.key())):
                continue
            if not all(p in npz.files for p in proxies):
                continue
            columns = {p: npz[p] for p in proxies}
            for i, class_id in enumerate(npz["classes"].tolist()):
                row = {p: float(columns[p][i]) for p in proxies}
                if all(np.isfinite(v) for v in row.values()):
                    found[int(class_id)] = row
    return found


#: CPU seconds per class on one core, the NB201 network at C=16, N=5 (bench/results/proxies_gpu.md):
#: what `surrogate proxies` is estimated to cost where no cache holds a table's classes.
SECONDS_PER_CLASS = 1.4


def cached_columns(table) -> tuple[dict[str, np.ndarray], dict] | None:
    """Every `zc_` column of `table` from the shipped cache, when the cache holds each of its
    classes under the configuration `surrogate proxies` would use for it (`config_for_table`:
    the network its records were trained with, random inputs); else None. Returns the columns
    and what `fill_table` records of them."""
    from surrogate.spaces import get_space

    try:
        config = config_for_table(table)
    except UsageError:  # no network definition
        return None
    cached = read_cache(config, list(PROXIES))
    ids = get_space(table.space).canonical_ids(table.archs)
    if not cached or not all(int(c) in cached for c in np.unique(ids)):
        return None
    columns = {COLUMN_PREFIX + p: np.array([cached[int(c)][p] for c in ids], dtype=np.float64) for p in PROXIES}
    facts = {"config": config.key(), "classes": int(len(np.unique(ids))), "from_cache": int(len(np.unique(ids))),
             "source": "the shipped cache"}
    return columns, facts


def write_cache(path, config: ProxyConfig, values: dict[int, dict[str, float]], seconds: float,
                computed_on: str = "cpu") -> None:
    """A cache file (npz): class ids, one float64 array per proxy, the configuration as JSON,
    `seconds`, the compute they cost (per-class seconds as journaled: CPU seconds on one core on a
    CPU, a worker's wall seconds on a GPU), and `computed_on`, the device."""
    import io
    import json

    from surrogate._io import atomic_write

    classes = np.array(sorted(values), dtype=np.int64)
    arrays = {p: np.array([values[c].get(p, np.nan) for c in classes], dtype=np.float64) for p in PROXIES}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, classes=classes, config=np.array(json.dumps(config.key())),
                        seconds=np.array(seconds), computed_on=np.array(computed_on), **arrays)
    atomic_write(path, buffer.getvalue())


# --- computing ----------------------------------------------------------------------------------------
_WORKER: dict = {}


def _worker_init(config: dict, data_dir: str | None, threads: int, device: str, parent: int | None = None) -> None:
    """A scoring process's setup; a spawned one (`parent`: the pid of the process that spawned it)
    dies with its parent. On a GPU TF32 is switched off: TF32 convolutions move snip, grad_norm and
    fisher by ~0.1% and jacov's ranking by ~1% against float32 on the CPU (measured on 506 NB201
    classes, bench/results/proxies_gpu.md)."""
    if parent is not None:
        from surrogate._io import die_with_parent

        die_with_parent(parent)
    torch.set_num_threads(threads)
    if str(device).startswith("cuda"):
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    cfg = ProxyConfig(**config)
    x, y = make_batch(cfg, load_data(cfg, data_dir))
    _WORKER.update(config=cfg, x=x.to(device), y=y.to(device), device=device)


def _worker_score(job: tuple[int, list[int], list[str]]) -> tuple[int, dict[str, float], float]:
    import time

    class_id, arch, proxies = job
    # on the CPU, this process's CPU seconds (what a class costs, whatever else runs); on a GPU, wall time
    clock = time.process_time if _WORKER["device"] == "cpu" else time.perf_counter
    start = clock()
    values = score_on(_WORKER["config"], np.array(arch), _WORKER["x"], _WORKER["y"], proxies, _WORKER["device"])
    return class_id, values, clock() - start


def score_on(config: ProxyConfig, arch: np.ndarray, x: torch.Tensor, y: torch.Tensor, proxies, device: str = "cpu") -> dict[str, float]:
    """`score_arch` on `device` (weights are initialised on the CPU, so a seed means the same weights)."""
    from surrogate.nets import build_network

    torch.manual_seed(config.seed)
    net = build_network(config.space, arch, channels=config.channels, cells=config.cells,
                        num_classes=config.num_classes, in_channels=config.in_channels).to(device)
    return score(net, x, y, proxies, config.grad_batch)


def compute(config: ProxyConfig, jobs: list[tuple[int, np.ndarray]], proxies: list[str], journal: ProxyJournal,
            workers: int = 1, device: str = "cpu", data_dir: str | None = None, progress: bool = True) -> dict:
    """Score every (class id, representative arch) of `jobs`, appending each to the journal as it
    finishes. Classes are claimed (`ClassClaims`), so a concurrent run on the same table shares the
    work: what it journals is not scored again here. Returns the compute seconds summed over the
    classes scored here (`seconds`), how many they are (`computed`), and how many another run
    journaled meanwhile (`shared`)."""
    import os
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, wait
    from dataclasses import asdict

    from tqdm.auto import tqdm

    from surrogate._io import default_threads, signals_held

    facts = {"seconds": 0.0, "computed": 0, "shared": 0}
    if not jobs:
        return facts
    threads = default_threads(workers)
    pending = deque((int(c), [int(v) for v in arch]) for c, arch in jobs)
    in_flight: dict = {}  # future -> class id
    pool = None
    with journal.open() as handle, ClassClaims(journal) as claims, \
            tqdm(total=len(pending), desc="proxies", unit="class", disable=not progress, dynamic_ncols=True) as bar:

        def finish(class_id: int, values: dict[str, float], seconds: float) -> None:
            journal.append(handle, class_id, values, seconds)
            claims.release(class_id)
            facts["seconds"] += seconds
            facts["computed"] += 1
            bar.update()

        def start(class_id: int, arch: list[int]) -> None:
            """Score a claimed class (the proxies the journal lacks), or let it go if another run did."""
            missing = [p for p in proxies if p not in journal.refresh().get(class_id, {})]
            if not missing:
                claims.release(class_id)
                facts["shared"] += 1
                bar.update()
            elif pool is None:
                finish(*_worker_score((class_id, arch, missing)))
            else:
                with signals_held():  # submit may start a worker
                    in_flight[pool.submit(_worker_score, (class_id, arch, missing))] = class_id

        if workers <= 1:
            _worker_init(asdict(config), data_dir, threads, device)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_worker_init,
                                       initargs=(asdict(config), data_dir, threads, device, os.getpid()))
        try:
            while pending or in_flight:
                for _ in range(len(pending)):  # claim what no other run holds, up to two tasks per worker
                    if len(in_flight) >= 2 * max(workers, 1):
                        break
                    class_id, arch = pending.popleft()
                    if claims.try_claim(class_id):
                        start(class_id, arch)
                    else:
                        pending.append((class_id, arch))
                if in_flight:
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        del in_flight[future]
                        finish(*future.result())
                elif pending:  # every class left is held by another run: wait for one, holding none
                    class_id, arch = pending.popleft()
                    claims.wait(class_id)
                    start(class_id, arch)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    return facts


# --- the command: fill zc_ columns of a table ---------------------------------------------------------
def prepare(path, proxies: list[str], dataset: str = "random", workers: int = 1, device: str = "cpu",
            overwrite: bool = False, batch_size: int | None = None, channels: int | None = None,
            cells: int | None = None, seed: int = 0, grad_batch: int | None = None) -> tuple[list[str], ProxyConfig, str]:
    """Every check of `surrogate proxies FILE`, before any work: FILE is an existing table, not a
    shipped one (by name or by path), that can be rewritten (the file, its folder and its journal
    folder writable); the proxies, dataset, workers, network and device are valid; no requested
    column exists unless `overwrite`. Returns (proxies, configuration, device)."""
    import os

    from surrogate._io import check_rewritable
    from surrogate.catalog import SHIPPED, refuse_write
    from surrogate.tabular import Table
    from surrogate.train.trainer import resolve_device

    if str(path) in SHIPPED and not os.path.exists(path):
        raise UsageError(f"{path}: a shipped dataset is read-only; copy it first "
                         f"(cp \"$(surrogate datasets --path {path})\" my.h5) and compute proxies into the copy")
    refuse_write(path)
    proxies = check_proxies(proxies)
    check_dataset(dataset)
    if workers < 1:
        raise UsageError("--workers must be >= 1")
    table = Table.read(path)
    check_rewritable(path, folders=(journal_root(path),))
    config = config_for_table(table, dataset, batch_size=batch_size, channels=channels, cells=cells, seed=seed,
                              grad_batch=grad_batch)
    _check_columns(table, proxies, overwrite)
    if table.n == 0:
        raise UsageError(f"{path} holds no architectures")
    return proxies, config, str(resolve_device(device))


def _check_columns(table, proxies: list[str], overwrite: bool) -> None:
    existing = [COLUMN_PREFIX + p for p in proxies if COLUMN_PREFIX + p in table.metrics]
    if existing and not overwrite:
        raise UsageError(f"column {existing[0]!r} exists: pass --overwrite to replace it")


def fill_table(path, proxies: list[str], config: ProxyConfig, overwrite: bool = False, workers: int = 1,
               device: str = "cpu", data_dir: str | None = None, progress: bool = True, command: str = "") -> dict:
    """Write one `zc_<proxy>` column per proxy into the table at `path` (atomically), computing each
    isomorphism class once: from the shipped cache when the configuration matches, else from the
    journal of an earlier or concurrent run, else now. The table is re-read and written under its
    lock (`_io.file_lock`), so concurrent writers of other columns keep theirs; a column another run
    wrote meanwhile is kept when it holds the same values, else refused without `overwrite`.
    Returns a summary (counts, seconds)."""
    import time

    from surrogate._io import file_lock
    from surrogate.spaces import get_space
    from surrogate.tabular import Table

    table = Table.read(path)
    proxies = check_proxies(proxies)
    _check_columns(table, proxies, overwrite)
    if table.n == 0:
        raise UsageError(f"{path} holds no architectures")
    space = get_space(table.space)
    data = load_data(config, data_dir)  # a missing dataset fails here, before any work
    ids = space.canonical_ids(table.archs)
    classes, first = np.unique(ids, return_index=True)
    representatives = np.atleast_2d(space.canonicalize(table.archs[first]))
    cached = read_cache(config, proxies)
    journal = ProxyJournal(path, config)
    journaled = journal.read()
    known: dict[int, dict[str, float]] = {}
    from_cache = from_journal = 0
    for c in classes.tolist():
        if c in cached:
            known[c] = cached[c]
            from_cache += 1
        elif c in journaled and all(p in journaled[c] for p in proxies):
            known[c] = journaled[c]
            from_journal += 1
    jobs = [(c, arch) for c, arch in zip(classes.tolist(), representatives) if c not in known]
    # a seeded random order: the journal of an interrupted run is a uniform sample of the classes
    jobs = [jobs[i] for i in np.random.default_rng(config.seed).permutation(len(jobs))]
    checksum = None if data is None else data.checksum
    del data  # workers load their own copy
    start = time.perf_counter()
    done = compute(config, jobs, proxies, journal, workers=workers, device=device, data_dir=data_dir, progress=progress)
    wall = time.perf_counter() - start
    journaled = journal.read()
    for c, _ in jobs:
        if all(p in journaled.get(c, {}) for p in proxies):
            known[c] = journaled[c]
    missing = [c for c in classes.tolist() if c not in known]
    if missing:  # never write a column with holes
        raise UsageError(f"{len(missing)} class(es) have no proxy values; rerun to compute them")
    index = np.searchsorted(classes, ids)
    columns = {COLUMN_PREFIX + p: np.array([known[c][p] for c in classes.tolist()], dtype=np.float64)[index]
               for p in proxies}
    facts = {"config": config.key(), "data_checksum": checksum, "classes": int(len(classes)), "from_cache": from_cache,
             "from_journal": from_journal + done["shared"], "computed": done["computed"],
             "compute_seconds": round(done["seconds"], 2), "wall_seconds": round(wall, 2), "command": command}
    with file_lock(path):  # re-read: another writer may have added columns since
        current = Table.read(path)
        if current.n != table.n or not np.array_equal(current.archs, table.archs):
            raise UsageError(f"{path} was replaced by a table of other architectures while the proxies were "
                             "computed; rerun")
        recorded = dict(current.attrs.get("proxies") or {})
        out = current
        for name, column in columns.items():
            if name in current.metrics and not overwrite:
                if not (np.array_equal(current.metric(name), column, equal_nan=True)
                        and (recorded.get(name) or {}).get("config") == facts["config"]):
                    raise UsageError(f"column {name!r} was written by another run meanwhile, with other values; "
                                     "pass --overwrite to replace it")
                continue  # a concurrent identical run wrote exactly this column
            out = out.with_metric(name, column)
            recorded[name] = facts
        if out is not current:
            out.attrs["proxies"] = recorded
            out.write(path)
    return facts


def export_cache(table_path, out, config: ProxyConfig | None = None, computed_on: str = "cpu") -> dict:
    """Write the journal of `table_path` (the defaults' configuration unless `config`) as a cache
    file: the classes it holds with every proxy (a partial journal gives a partial cache)."""
    from surrogate.tabular import Table

    config = config or config_for_table(Table.read(table_path))
    journal = ProxyJournal(table_path, config)
    values = {c: v for c, v in journal.read().items() if all(p in v for p in PROXIES)}
    seconds, counted = journal.seconds()
    per_class = seconds / counted if counted else float("nan")
    write_cache(out, config, values, per_class * len(values), computed_on)
    return {"classes": len(values), "seconds_per_class": round(per_class, 3), "timed_classes": counted,
            "computed_on": computed_on, "config": config.key()}


if __name__ == "__main__":  # python -m surrogate.proxies export TABLE OUT.npz [DEVICE] (maintainers: the shipped cache)
    import json
    import sys

    if len(sys.argv) not in (4, 5) or sys.argv[1] != "export":
        sys.exit("usage: python -m surrogate.proxies export TABLE.h5 OUT.npz [COMPUTED_ON]")
    print(json.dumps(export_cache(*sys.argv[2:4], computed_on=sys.argv[4] if len(sys.argv) == 5 else "cpu")))
