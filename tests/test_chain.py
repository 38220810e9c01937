import numpy as np
import pytest
import torch

from surrogate.errors import UsageError
from surrogate.nets import build_network
from surrogate.nets.chain import DEFAULT_BLOCKS, ChainNetwork, InvertedResidual, default_downsample, make_block
from surrogate.nets.nb201 import NB201Network


def _params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_default_blocks_start_with_nas_bench_macro_choices():
    assert DEFAULT_BLOCKS[:3] == ("identity", "mb3_k3", "mb6_k5")
    assert default_downsample(8) == (2, 5) and default_downsample(2) == ()


def test_identity_chain_has_only_stem_reductions_and_head():
    net = build_network("categorical:8x3", np.zeros(8, dtype=int), channels=16, num_classes=10, in_channels=3)
    stem = 3 * 16 * 9 + 2 * 16
    reductions = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)  # identity at a downsampling position: pool + 1x1 conv + BN
    head = 64 * 10 + 10
    assert _params(net) == stem + reductions + head


def test_inverted_residual_counts_and_residual():
    block = InvertedResidual(16, 16, kernel=3, expansion=3, stride=1)
    assert block.residual and _params(block) == (16 * 48 + 96) + (48 * 9 + 96) + (48 * 16 + 32)
    assert not make_block("mb6_k5", 16, 32, 2).residual
    assert _params(make_block("mb1_k3", 8, 8, 1)) == (8 * 9 + 16) + (8 * 8 + 16)  # no expansion conv at e=1


@pytest.mark.parametrize("arch,shape", [([0, 1, 2, 0, 1, 2, 0, 1], (3, 32, 32)), ([2] * 8, (1, 8, 8)),
                                        ([1] * 8, (1, 28, 28))])
def test_chain_shapes(arch, shape):
    net = build_network("categorical:8x3", np.array(arch), channels=4, num_classes=7, in_channels=shape[0])
    assert net(torch.randn(2, *shape)).shape == (2, 7)


def test_more_expansion_and_kernel_cost_more():
    sizes = [_params(build_network("categorical:8x3", np.full(8, j), channels=8)) for j in range(3)]
    assert sizes[0] < sizes[1] < sizes[2]


def test_custom_block_lists_and_downsampling():
    net = ChainNetwork([1, 0], blocks=[["identity", "mb6_k7"], ["mb3_k3"]], channels=4, in_channels=1, downsample=[0, 1])
    assert net(torch.randn(1, 1, 8, 8)).shape == (1, 10)
    assert net.chain[0].body[3].stride == (2, 2)  # the depthwise conv downsamples
    with pytest.raises(UsageError, match="unknown block 'conv3'"):
        ChainNetwork([0], blocks=[["conv3"]])
    with pytest.raises(UsageError, match="needs 2 choices"):
        ChainNetwork([0], blocks=[["identity"], ["identity"]])


def test_build_network_dispatch():
    assert isinstance(build_network("nb201", np.zeros(6, dtype=int), channels=4, cells=1), NB201Network)
    with pytest.raises(UsageError, match="at most 8 block choices"):
        build_network("categorical:3x9", np.zeros(3, dtype=int))
    with pytest.raises(UsageError, match="choice index out of range"):
        build_network("categorical:3x2", np.array([0, 2, 0]))
