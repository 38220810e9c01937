import numpy as np
import pytest
from hypothesis import given, strategies as st

from surrogate.encodings import get_encoding
from surrogate.spaces import get_space


def test_graf_shape_names_and_determinism():
    space = get_space("nb201")
    enc = get_encoding("graf", space)
    x = enc(space.sample(200, 0))
    assert x.shape == (200, enc.dim) and x.dtype == np.float64 and len(enc.names) == enc.dim
    assert enc.dim == 4 + 15 * 6  # op counts, then 6 statistics for each of the 15 non-empty op subsets
    assert len(set(enc.names)) == enc.dim
    assert (enc(space.sample(200, 0)) == x).all()


def test_graf_known_cell():
    space = get_space("nb201")
    enc = get_encoding("graf", space)
    # node 3 = conv3(conv1(x)) + pool(x): paths conv1->conv3 (2 ops) and pool (1 op)
    arch = space.parse("|nor_conv_1x1~0|+|none~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|")
    f = dict(zip(enc.names, enc(arch)[0]))
    assert f["count:nor_conv_1x1"] == f["count:nor_conv_3x3"] == f["count:avg_pool_3x3"] == 1
    assert f["count:skip_connect"] == 0
    everything = "skip_connect+nor_conv_1x1+nor_conv_3x3+avg_pool_3x3"
    assert f[f"min_path[{everything}]"] == 1 and f[f"max_path[{everything}]"] == 2
    assert f[f"in_out_degree[{everything}]"] == 2 and f[f"out_in_degree[{everything}]"] == 2
    assert f["min_path[nor_conv_1x1+nor_conv_3x3]"] == 2 == f["max_path[nor_conv_1x1+nor_conv_3x3]"]
    assert f["min_path[nor_conv_1x1]"] == -1  # conv1 alone never reaches the output
    assert f["in_out_degree[nor_conv_1x1]"] == 1 and f["out_in_degree[nor_conv_1x1]"] == 0
    # mean degrees among kept op nodes: conv1 (in 1, out 1), conv3 (in 1, out 1), pool (in 1, out 1)
    assert f[f"mean_in_degree[{everything}]"] == 1 and f[f"mean_out_degree[{everything}]"] == 1


def test_isomorphic_cells_share_graf_features():
    space = get_space("nb201")
    archs = space.enumerate()
    x = get_encoding("graf", space)(archs)
    _, inverse = np.unique(space.canonical_ids(archs), return_inverse=True)
    first = np.zeros(inverse.max() + 1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(archs))[::-1]
    assert (x == x[first[inverse]]).all()


@given(st.lists(st.integers(0, 4), min_size=6, max_size=6))
def test_graf_isomorphism_property(arch):
    space = get_space("nb201")
    enc = get_encoding("graf", space)
    arch = np.array(arch)
    assert (enc(arch) == enc(space.canonicalize(arch))).all()


def test_graf_on_a_chain_space():
    space = get_space("categorical:8x3")
    enc = get_encoding("graf", space)
    archs = space.sample(20, 0)
    x = enc(archs)
    f = dict(zip(enc.names, x[0]))
    assert enc.dim == 24 + 3 + 3
    assert f["depth"] == (archs[0] != 0).sum()  # choice 0 of a chain position is the identity block
    assert [f[f"count:{j}"] for j in range(3)] == [(archs[0] == j).sum() for j in range(3)]
    from surrogate.nets.costs import costs

    assert np.allclose(x[:, -2], np.log10(costs(space, archs)["params"]))
    assert (x[:, :24] == get_encoding("onehot", space)(archs)).all()


def test_graf_on_a_space_without_network():
    space = get_space("categorical:3,12,2")  # 12 choices: more than the chain's blocks, so no network
    enc = get_encoding("graf", space)
    assert "depth" not in enc.names and enc.dim == 17 + 12
    assert enc(space.sample(5, 0)).shape == (5, enc.dim)


@pytest.mark.parametrize("name", ["graf"])
def test_graf_in_the_benchmark(name):
    from surrogate.benchmark import PredictorBenchmark
    from surrogate.tabular import Table

    space = get_space("nb201")
    archs = space.sample(300, 3)
    _, keep = np.unique(space.index(archs), return_index=True)
    archs = archs[np.sort(keep)]
    x = get_encoding("graf", space)(archs)
    y = x[:, :4] @ np.array([0.5, 2.0, 3.0, 1.0]) + x[:, 4 + 14 * 6]  # counts and the all-op min path
    table = Table("nb201", archs, space.format_many(archs), {"acc": y})
    rows = PredictorBenchmark("acc", models=["rf"], encodings=[name], train_sizes=[100], test_size=50, seeds=1).run(
        table, progress=False)
    assert rows.kendall_tau.iloc[0] > 0.6
