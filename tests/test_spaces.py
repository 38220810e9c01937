import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from surrogate.errors import UsageError
from surrogate.spaces import CategoricalSpace, NB201Space, get_space

NB201_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
SPECS = ["nb201", "categorical:8x3", "categorical:3,12,2", "categorical:1,4"]

nb201_archs = st.lists(st.integers(0, 4), min_size=6, max_size=6).map(lambda x: np.array(x, dtype=np.int64))


def test_nb201_size_and_unique_count_matches_the_benchmark():
    space = get_space("nb201")
    archs = space.enumerate()
    assert space.size == len(archs) == 15_625
    assert len(np.unique(archs, axis=0)) == 15_625
    assert len(np.unique(space.canonical_ids(archs))) == 6_466  # NAS-Bench-201's reported count


def test_nb201_parse_format_uses_the_benchmark_string():
    space = NB201Space()
    arch = space.parse(NB201_EXAMPLE)
    assert arch.tolist() == [3, 3, 4, 1, 3, 1]
    assert space.format(arch) == NB201_EXAMPLE


@given(nb201_archs)
def test_nb201_round_trip(arch):
    space = NB201Space()
    assert (space.parse(space.format(arch)) == arch).all()


@pytest.mark.parametrize("text", ["", "nor_conv_3x3~0", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                                  "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "|none~0|+|none~0|+|none~0|"])
def test_nb201_rejects_malformed_strings(text):
    with pytest.raises(UsageError, match="malformed nb201"):
        NB201Space().parse(text)


def test_nb201_isomorphs_are_merged():
    space = NB201Space()
    # node 3 reads only from node 0: edges into nodes 1, 2 and out of them are irrelevant
    a = space.parse("|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|none~2|")
    b = space.parse("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|none~2|")
    # skip_connect is the identity and a sum commutes
    c = space.parse("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|")
    d = space.parse("|avg_pool_3x3~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    e = space.parse("|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    ids = space.canonical_ids(np.stack([a, b, c, d, e]))
    assert len(set(ids.tolist())) == 1
    other = space.parse("|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|")
    assert space.canonical_ids(other)[0] != ids[0]


@given(nb201_archs)
def test_canonical_form_is_a_member_of_its_class(arch):
    space = get_space("nb201")  # one instance: its class lookup is built once, not per example
    canon = space.canonicalize(arch)
    assert canon.shape == arch.shape
    assert space.canonical_ids(canon)[0] == space.canonical_ids(arch)[0]
    assert (space.canonicalize(canon) == canon).all()


@pytest.mark.parametrize("spec", SPECS)
def test_sample_mutate_neighbors(spec):
    space = get_space(spec)
    archs = space.sample(200, 0)
    assert archs.shape == (200, space.num_decisions) and archs.dtype == np.int64
    assert ((archs >= 0) & (archs < space.num_choices)).all()
    assert (space.sample(200, 0) == archs).all()  # determinism under a seed
    mutants = space.mutate(archs, 1)
    assert ((mutants != archs).sum(axis=1) == 1).all()
    assert space.mutate(archs[0], 1).shape == (space.num_decisions,)
    nbrs = space.neighbors(archs[0])
    assert len(nbrs) == int((space.num_choices - 1).sum())
    assert ((nbrs != archs[0]).sum(axis=1) == 1).all()
    assert len(np.unique(nbrs, axis=0)) == len(nbrs)


@pytest.mark.parametrize("spec", SPECS)
def test_enumerate_and_index_round_trip(spec):
    space = get_space(spec)
    archs = space.enumerate()
    assert len(archs) == space.size
    assert (space.index(archs) == np.arange(space.size)).all()
    assert (space.unindex(space.index(archs)) == archs).all()
    assert space.parse_many(space.format_many(archs)).tolist() == archs.tolist()


def test_categorical_specs_and_strings():
    space = get_space("categorical:8x3")
    assert space == get_space("categorical:3,3,3,3,3,3,3,3")
    assert space.size == 3**8
    assert space.parse("02012100").tolist() == [0, 2, 0, 1, 2, 1, 0, 0]
    assert space.parse("0-2-0-1-2-1-0-0").tolist() == [0, 2, 0, 1, 2, 1, 0, 0]
    assert space.format([0, 2, 0, 1, 2, 1, 0, 0]) == "02012100"
    wide = get_space("categorical:3,12,12")
    assert wide.spec == "categorical:3,2x12"
    assert wide.format([0, 2, 11]) == "0-2-11"
    assert wide.parse("0-2-11").tolist() == [0, 2, 11]
    named = CategoricalSpace([2, 3], choice_names=[["a", "b"], ["x", "y", "z"]])
    assert named.label([1, 2]) == ["b", "z"]


@given(st.lists(st.integers(1, 15), min_size=1, max_size=8), st.integers(0, 2**31))
@settings(max_examples=50)
def test_categorical_round_trip(k, seed):
    space = CategoricalSpace(k)
    assert get_space(space.spec) == space
    for arch in space.sample(5, seed):
        assert (space.parse(space.format(arch)) == arch).all()


@pytest.mark.parametrize("spec,text", [("categorical:8x3", "0201210"), ("categorical:8x3", "02012103"),
                                       ("categorical:8x3", "0201210a"), ("categorical:3,12", "2-12")])
def test_categorical_rejects_bad_strings(spec, text):
    with pytest.raises(UsageError):
        get_space(spec).parse(text)


@pytest.mark.parametrize("spec", ["nb999", "categorical:", "categorical:8y3", "categorical:0", "nb201:5"])
def test_unknown_or_malformed_spaces(spec):
    with pytest.raises(UsageError):
        get_space(spec)


def test_check_rejects_out_of_range():
    with pytest.raises(UsageError):
        NB201Space().check([0, 0, 0, 0, 0, 5])
    with pytest.raises(UsageError):
        NB201Space().check([0, 0, 0])


def test_spaces_are_built_once_per_spec():
    """A campaign asks for its space once per run: NB201's isomorphism table must not be rebuilt."""
    assert get_space("nb201") is get_space(" nb201 ")
    assert get_space("categorical:3,3") is get_space("categorical:2x3")


def test_space_abilities_are_declared():
    from surrogate.spaces import CellSpace, Space

    assert isinstance(get_space("nb201"), CellSpace) and not isinstance(get_space("categorical:8x3"), CellSpace)

    class Half(Space):  # a space without parse/format/from_spec is not a space
        kind, spec, choices = "half", "half", (("a", "b"),)

    with pytest.raises(TypeError):
        Half()
    assert get_space("nb201").decision_names[0] == "edge_1_0"
    assert get_space("categorical:12x2").decision_names[:2] == ["d00", "d01"]
