import gzip
import pickle

import numpy as np
import pytest
import torch

from surrogate.errors import UsageError
from surrogate.train import data as datamod
from surrogate.train.data import Augment, carve, load


def test_digits_split_is_fixed_disjoint_and_complete():
    parts = carve(1797, 360, 360)
    assert [len(p) for p in parts] == [360, 360, 1077]
    assert len(np.unique(np.concatenate(parts))) == 1797
    a, b = load("digits"), load("digits")
    assert a.split == {"train": 1077, "valid": 360, "test": 360, "seed": 0}
    assert a.checksum == b.checksum and a.checksum.startswith("sha256:")
    assert torch.equal(a.x_valid, b.x_valid) and torch.equal(a.y_test, b.y_test)
    assert a.x_train.shape == (1077, 1, 8, 8) and a.x_train.dtype == torch.float32 and a.y_train.dtype == torch.int64
    assert abs(float(a.x_train.mean())) < 1e-4 and abs(float(a.x_train.std()) - 1) < 1e-3  # train-split statistics
    from sklearn.datasets import load_digits

    counts = np.bincount(load_digits().target)
    assert (np.bincount(torch.cat([a.y_train, a.y_valid, a.y_test]).numpy()) == counts).all()
    assert a.num_classes == 10 and a.augment == Augment()


def test_unknown_dataset_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown dataset 'mnist'"):
        load("mnist")


def _idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _fake_fashion(folder, n_train=12, n_test=4):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    _idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28)))
    _idx(folder / "train-labels-idx1-ubyte.gz", np.arange(n_train) % 10)
    _idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    _idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(n_test) % 10)


def test_fashion_mnist_from_idx_files_in_torchvision_layout(tmp_path, monkeypatch):
    monkeypatch.setitem(datamod.VALID_SIZE, "fashion-mnist", 3)
    monkeypatch.setattr(datamod, "FASHION_SYSTEM_DIRS", ())
    _fake_fashion(tmp_path / "FashionMNIST" / "raw")
    data = load("fashion-mnist", tmp_path)
    assert data.split == {"train": 9, "valid": 3, "test": 4, "seed": 0}
    assert data.x_train.shape == (9, 1, 28, 28) and data.x_test.shape == (4, 1, 28, 28)
    assert data.augment == Augment(pad=2, flip=False)
    assert data.y_test.tolist() == [0, 1, 2, 3]
    assert load("fashion-mnist", tmp_path / "FashionMNIST" / "raw").checksum == data.checksum


def test_fashion_mnist_system_folder_and_missing_message(tmp_path, monkeypatch):
    monkeypatch.setitem(datamod.VALID_SIZE, "fashion-mnist", 3)
    monkeypatch.setattr(datamod, "FASHION_SYSTEM_DIRS", (tmp_path / "system",))
    with pytest.raises(UsageError, match=r"fashion-mnist not found: looked .* in .*system; download .*--data-dir"):
        load("fashion-mnist", tmp_path / "nowhere")
    _fake_fashion(tmp_path / "system")
    assert len(load("fashion-mnist").y_train) == 9


def test_corrupt_idx_file_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setitem(datamod.VALID_SIZE, "fashion-mnist", 3)
    _fake_fashion(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\0\0\x08\x03" + b"\0" * 20))
    with pytest.raises(UsageError, match="IDX header"):
        load("fashion-mnist", tmp_path)


def _fake_cifar(folder, per_batch=4, n_test=3):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        batch = {b"batch_label": name.encode(), b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, n)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_cifar10_from_a_fake_python_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(datamod.VALID_SIZE, "cifar10", 5)
    _fake_cifar(tmp_path / "cifar-10-batches-py")
    data = load("cifar10", tmp_path)
    assert data.split == {"train": 15, "valid": 5, "test": 3, "seed": 0}
    assert data.x_train.shape == (15, 3, 32, 32) and data.y_valid.dtype == torch.int64
    assert torch.allclose(data.x_train.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)  # per-channel normalisation
    assert data.augment == Augment(pad=4, flip=True)
    assert load("cifar10", tmp_path / "cifar-10-batches-py").checksum == data.checksum


def test_cifar10_missing_or_planted_files_are_usage_errors(tmp_path, monkeypatch):
    with pytest.raises(UsageError, match="needs --data-dir"):
        load("cifar10")
    with pytest.raises(UsageError, match="cifar10 not found: no test_batch"):
        load("cifar10", tmp_path)
    monkeypatch.setitem(datamod.VALID_SIZE, "cifar10", 5)
    _fake_cifar(tmp_path / "c")
    (tmp_path / "c" / "data_batch_3").write_bytes(pickle.dumps(print))  # not an array: refused, never run
    with pytest.raises(UsageError, match="data_batch_3: not a CIFAR-10 python batch .*refusing"):
        load("cifar10", tmp_path / "c")


def test_augment_crops_and_flips_on_the_device_reproducibly():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    assert torch.equal(Augment()(x, torch.Generator().manual_seed(0)), x)
    flipped = Augment(flip=True)(x, torch.Generator().manual_seed(0))
    for img, orig in zip(flipped, x):
        assert torch.equal(img, orig) or torch.equal(img, orig.flip(2))
    a = Augment(pad=1, flip=True)(x, torch.Generator().manual_seed(3))
    b = Augment(pad=1, flip=True)(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape
    crops = Augment(pad=2)(x.repeat(50, 1, 1, 1), torch.Generator().manual_seed(0))
    shifted = [(c != o).any().item() for c, o in zip(crops, x.repeat(50, 1, 1, 1))]
    assert any(shifted) and not all(shifted)  # some shift, some (offset 2, 2) stay put
    for c, o in zip(crops, x.repeat(50, 1, 1, 1)):  # every crop is a window of the zero-padded image
        padded = torch.nn.functional.pad(o, (2,) * 4)
        assert any(torch.equal(c, padded[:, i:i + 4, j:j + 4]) for i in range(5) for j in range(5))


def test_reduce_keeps_a_class_balanced_subset_and_pools(tmp_path, monkeypatch):
    monkeypatch.setitem(datamod.VALID_SIZE, "fashion-mnist", 10)
    _fake_fashion(tmp_path, n_train=110, n_test=20)
    whole = load("fashion-mnist", tmp_path)
    small = load("fashion-mnist", tmp_path, subset=23, resolution=14)
    assert small.split == {"train": 23, "valid": 10, "test": 20, "seed": 0, "train_subset": 23, "resolution": 14}
    counts = np.bincount(small.y_train.numpy(), minlength=10)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 23  # balanced, remainder to the low labels
    assert small.x_train.shape == (23, 1, 14, 14) and small.x_valid.shape == (10, 1, 14, 14)
    assert torch.equal(small.y_valid, whole.y_valid) and torch.equal(small.y_test, whole.y_test)  # same valid/test
    assert abs(float(small.x_train.mean())) < 1e-4 and small.augment == Augment(pad=1)
    assert small.checksum == whole.checksum  # the raw data; the protocol is in `split`
    again = load("fashion-mnist", tmp_path, subset=23, resolution=14)
    assert torch.equal(again.x_train, small.x_train)  # seeded: the same subset every time
    assert datamod.reduce(whole) is whole


@pytest.mark.parametrize("kwargs, message", [({"subset": 0}, "--subset must be between 1 and the 90"),
                                             ({"subset": 91}, "--subset must be"),
                                             ({"resolution": 10}, "--resolution must divide the 28x28")])
def test_reduce_rejects_impossible_protocols(tmp_path, monkeypatch, kwargs, message):
    monkeypatch.setitem(datamod.VALID_SIZE, "fashion-mnist", 10)
    _fake_fashion(tmp_path, n_train=100, n_test=20)
    with pytest.raises(UsageError, match=message):
        load("fashion-mnist", tmp_path, **kwargs)


def test_balanced_rows_tops_up_a_short_class():
    labels = np.array([0] * 2 + [1] * 20)
    rows = datamod.balanced_rows(labels, 10, 2)
    assert len(rows) == 10 and (labels[rows] == 0).sum() == 2 and np.all(np.diff(rows) > 0)
