import numpy as np
import pytest
import torch

from surrogate.supernet.darts import darts_search, derive
from surrogate.supernet.spos import SupernetConfig
from surrogate.train.data import load

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def tiny(seed=0, epochs=1, space="nb201"):
    return SupernetConfig(space=space, dataset="digits", epochs=epochs, channels=2, cells=1, batch_size=256, seed=seed)


def test_darts_runs_and_derives_the_argmax(digits):
    result = darts_search(tiny(), digits, progress=False)
    assert result["arch"].shape == (6,) and ((0 <= result["arch"]) & (result["arch"] < 5)).all()
    alphas = np.array(result["alphas"])
    assert alphas.shape == (6, 5) and np.allclose(alphas.sum(1), 1)
    assert (alphas.argmax(1) == result["arch"]).all()
    assert len(result["arch_history"]) == 1


def test_darts_is_deterministic_under_a_seed(digits):
    a, b = (darts_search(tiny(seed=3), digits, progress=False) for _ in range(2))
    assert np.array_equal(a["alphas"], b["alphas"]) and np.array_equal(a["arch"], b["arch"])
    c = darts_search(tiny(seed=4), digits, progress=False)
    assert not np.array_equal(a["alphas"], c["alphas"])


def test_beta_regularisation_changes_the_architecture_weights(digits):
    plain = np.array(darts_search(tiny(epochs=2), digits, arch_lr=0.05, progress=False)["alphas"])
    regular = np.array(darts_search(tiny(epochs=2), digits, arch_lr=0.05, beta=50.0, progress=False)["alphas"])
    assert not np.allclose(plain, regular)
    # the penalty's gradient is softmax(alpha): it flattens the distribution
    assert regular.max(1).mean() < plain.max(1).mean()


def test_darts_on_a_chain_space(digits):
    result = darts_search(tiny(space="categorical:3x2"), digits, progress=False)
    assert result["arch"].shape == (3,) and set(result["arch"]) <= {0, 1}


def test_derive():
    assert derive([torch.tensor([0.1, 2.0, 0.3]), torch.tensor([5.0, 0.0])]).tolist() == [1, 0]
