import numpy as np
import pytest
import torch

from surrogate.errors import UsageError
from surrogate.nets.costs import costs, count, network_builder
from surrogate.nets.nb201 import NB201Network
from surrogate.spaces import get_space

# NAS-Bench-201's published cost records (CIFAR-10, C=16, N=5): parameters in millions, FLOPs (MACs) in millions.
PUBLISHED = {
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|": (1.531546, 220.11968),
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|": (0.073306, 7.78304),
}


@pytest.mark.parametrize("arch,expected", PUBLISHED.items())
def test_nb201_costs_match_the_benchmark(arch, expected):
    space = get_space("nb201")
    params, flops = count(NB201Network(space.parse(arch)), (3, 32, 32))
    assert params / 1e6 == pytest.approx(expected[0], abs=1e-6)
    assert flops / 1e6 == pytest.approx(expected[1], abs=1e-5)


def test_cost_model_is_exact_against_direct_counts():
    space = get_space("nb201")
    archs = space.sample(4, 0)
    predicted = costs(space, archs, channels=4, cells=1, input_shape=(1, 8, 8))
    build = network_builder(space, channels=4, cells=1, in_channels=1)
    for i, arch in enumerate(archs):
        params, flops = count(build(arch), (1, 8, 8))
        assert predicted["params"][i] == params and predicted["flops"][i] == flops


def test_network_runs_and_zero_cell_is_constant_in_input():
    space = get_space("nb201")
    net = NB201Network(space.sample(1, 3)[0], channels=4, cells=1, num_classes=7, in_channels=1)
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 7)


def test_chain_costs_are_exact_and_oversized_chains_are_refused():
    space = get_space("categorical:6x4")
    archs = space.sample(5, 0)
    fast = costs(space, archs, channels=8, input_shape=(3, 16, 16))
    build = network_builder(space, channels=8)
    direct = np.array([count(build(a), (3, 16, 16)) for a in archs])
    np.testing.assert_array_equal(fast["params"], direct[:, 0])
    np.testing.assert_array_equal(fast["flops"], direct[:, 1])
    with pytest.raises(UsageError, match="at most"):
        costs("categorical:3x20", np.zeros((1, 3), dtype=int))