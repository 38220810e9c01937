import numpy as np
import pytest

from surrogate.supernet.enas import enas_search
from surrogate.supernet.spos import SupernetConfig
from surrogate.train.data import load

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def run(digits, seed=0, space="nb201"):
    config = SupernetConfig(space=space, dataset="digits", epochs=1, channels=2, cells=1, batch_size=256, seed=seed)
    return enas_search(config, digits, controller_steps=2, controller_batch=2, derive_samples=5, progress=False)


def test_enas_runs_a_few_steps(digits):
    result = run(digits)
    assert result["arch"].shape == (6,) and ((0 <= result["arch"]) & (result["arch"] < 5)).all()
    assert 0 <= result["estimate"] <= 100
    assert 1 <= result["candidates"] <= 5
    assert len(result["reward_history"]) == 1 and 0 <= result["reward_history"][0] <= 1


def test_enas_is_deterministic_under_a_seed(digits):
    a, b = run(digits, seed=2), run(digits, seed=2)
    assert np.array_equal(a["arch"], b["arch"]) and a["estimate"] == b["estimate"]
    assert a["reward_history"] == b["reward_history"]


def test_enas_on_a_chain_space(digits):
    result = run(digits, space="categorical:3x2")
    assert result["arch"].shape == (3,)
