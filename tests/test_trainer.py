import numpy as np
import pytest
import torch

from surrogate.errors import UsageError
from surrogate.nets import build_network
from surrogate.nets.costs import count
from surrogate.spaces import get_space
from surrogate.train import EPOCH_METRICS, costs, load, seeded, train
from surrogate.train.trainer import resolve_device

CONV_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def digits():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small nets: one thread is fastest, and the suite may share the machine
    yield load("digits")
    torch.set_num_threads(threads)


def _net(seed: int, arch: str = CONV_CELL) -> torch.nn.Module:
    with seeded(seed):
        return build_network("nb201", get_space("nb201").parse(arch), channels=4, cells=1, num_classes=10, in_channels=1)


def test_learns_digits_in_three_epochs(digits):
    record = train(_net(0), digits, epochs=3, seed=0, batch_size=64, lr=0.1)
    assert set(record) == {*EPOCH_METRICS, "diverged"}
    assert all(record[m].shape == (3,) for m in EPOCH_METRICS) and record["diverged"].tolist() == [0.0]
    assert record["valid_acc"][-1] > 60 and record["test_acc"][-1] > 60  # chance is 10%
    assert record["train_loss"][-1] < record["train_loss"][0]
    assert (record["epoch_seconds"] > 0).all()


def test_deterministic_on_cpu_under_a_seed(digits):
    def run(seed: int) -> dict:
        record = train(_net(seed), digits, epochs=2, seed=seed, batch_size=128, lr=0.1)
        return {k: v for k, v in record.items() if k != "epoch_seconds"}

    a, b, c = run(1), run(1), run(2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["train_loss"], c["train_loss"])


@pytest.mark.parametrize("rungs", [(1,), (1, 3), (2,)])
def test_a_training_stopped_and_resumed_gives_the_bytes_of_an_uninterrupted_one(digits, tmp_path, rungs):
    """Stop after each rung, write the checkpoint to disk and read it back (as a live campaign
    does), continue on a fresh network: records and final weights are the same bytes."""
    whole_net = _net(3)
    whole = train(whole_net, digits, epochs=4, seed=3, batch_size=128, lr=0.1)
    net, state = _net(3), None
    for until in (*rungs, 4):
        record = train(net, digits, epochs=4, seed=3, batch_size=128, lr=0.1, until=until if until < 4 else None,
                       resume=state)
        if until < 4:
            assert np.isnan(record["valid_acc"][until:]).all() and np.isfinite(record["valid_acc"][:until]).all()
            torch.save(record.pop("state"), tmp_path / "ckpt.pt")
            state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
            net = _net(99)  # what a resumed process has: another network, overwritten by the checkpoint
    for k in whole:
        if k != "epoch_seconds":
            assert np.array_equal(whole[k], record[k], equal_nan=True), k
    for (name, a), b in zip(whole_net.state_dict().items(), net.state_dict().values()):
        assert torch.equal(a, b), name


def test_seeded_leaves_the_callers_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7):
        torch.rand(5)
    assert torch.equal(torch.rand(3), expected)


def test_divergence_is_recorded_not_raised(digits):
    record = train(_net(0), digits, epochs=3, seed=0, batch_size=64, lr=1e6)
    assert record["diverged"].tolist() == [1.0]
    assert np.isnan(record["valid_acc"][-1]) and np.isnan(record["train_loss"]).all()
    assert record["epoch_seconds"][0] > 0  # the time the diverging epoch took is still a record


def test_costs_match_the_cost_counter(digits):
    net = _net(0)
    params, flops = count(_net(0), (1, 8, 8))
    measured = costs(net, digits.input_shape)
    assert measured["params"] == params and measured["flops"] == flops
    assert 0 < measured["latency_b1_ms"] < measured["latency_b256_ms"] < 10_000


def test_bad_settings_are_usage_errors(digits):
    with pytest.raises(UsageError, match="epochs and batch size"):
        train(_net(0), digits, epochs=0)
    with pytest.raises(UsageError, match="unknown device"):
        resolve_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            resolve_device("cuda")
