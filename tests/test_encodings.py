import numpy as np
import pytest
from hypothesis import given, strategies as st

from surrogate.encodings import get_encoding
from surrogate.errors import UsageError
from surrogate.spaces import get_space

NAMES = ["onehot", "index", "adjacency", "path", "path-truncated:10"]


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_determinism(name):
    space = get_space("nb201")
    enc = get_encoding(name, space)
    archs = space.sample(100, 0)
    x = enc(archs)
    assert x.shape == (100, enc.dim) and x.dtype == np.float64
    assert len(enc.names) == enc.dim
    assert (enc(archs) == x).all()
    assert (get_encoding(name, space)(archs) == x).all()
    assert (enc(archs[3]) == x[3:4]).all()


def test_onehot_works_for_every_space():
    space = get_space("categorical:3,12,2")
    x = get_encoding("onehot", space)(space.enumerate())
    assert x.shape == (space.size, 17)
    assert (x.sum(axis=1) == 3).all()
    assert len(np.unique(x, axis=0)) == space.size  # injective


def test_dimensions_on_nb201():
    space = get_space("nb201")
    assert get_encoding("onehot", space).dim == 30
    assert get_encoding("adjacency", space).dim == 10 + 6 * 4  # possible node-op edges + node ops
    assert get_encoding("path", space).dim == 1 + 3 + 9 + 27  # op sequences of length 0..3, skip = identity
    assert get_encoding("path-truncated:7", space).dim == 7


def test_path_counts_known_cell():
    space = get_space("nb201")
    enc = get_encoding("path", space)
    arch = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    x = dict(zip(enc.names, enc(arch)[0]))
    assert x["identity"] == 1 and x["nor_conv_3x3~nor_conv_1x1"] == 1
    assert sum(x.values()) == 2
    empty = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert enc(empty).sum() == 0


def test_isomorphic_cells_share_path_encodings():
    space = get_space("nb201")
    archs = space.enumerate()
    x = get_encoding("path", space)(archs)
    _, inverse = np.unique(space.canonical_ids(archs), return_inverse=True)
    first = np.zeros(inverse.max() + 1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(archs))[::-1]  # first member of each class
    assert (x == x[first[inverse]]).all()


@given(st.lists(st.integers(0, 4), min_size=6, max_size=6))
def test_isomorph_property(arch):
    space = get_space("nb201")
    enc = get_encoding("path", space)
    arch = np.array(arch)
    assert (enc(arch) == enc(space.canonicalize(arch))).all()


def test_truncated_keeps_most_frequent_paths():
    space = get_space("nb201")
    full, short = get_encoding("path", space), get_encoding("path-truncated:13", space)
    assert set(short.names) <= set(full.names)
    assert set(short.names) == {n for n in full.names if n.count("~") <= 1}  # shorter paths are more frequent
    archs = space.sample(50, 1)
    cols = [full.names.index(n) for n in short.names]
    assert (short(archs) == full(archs)[:, cols]).all()


@pytest.mark.parametrize("name", ["adjacency", "path", "path-truncated:5"])
def test_cell_encodings_need_a_cell_space(name):
    with pytest.raises(UsageError, match="cell space"):
        get_encoding(name, "categorical:8x3")


@pytest.mark.parametrize("name", ["bogus", "path-truncated:x", "path-truncated:0", "onehot:3"])
def test_unknown_encodings(name):
    with pytest.raises(UsageError):
        get_encoding(name, "nb201")


def test_index_is_the_choices_themselves():
    space = get_space("categorical:3x4")
    archs = space.sample(5, np.random.default_rng(0))
    x = get_encoding("index", space)(archs)
    assert x.dtype == np.float64 and (x == archs).all() and get_encoding("index", space).names == space.decision_names
