import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from surrogate.encodings import get_encoding
from surrogate.encodings.path import MAX_PATHS
from surrogate.errors import UsageError
from surrogate.spaces import CellSpace, RNNCellSpace, get_space

EXAMPLE = "tanh~0|relu~1|sigmoid~1|identity~2|tanh~0|relu~5|tanh~3|identity~6"


def tree(arch: np.ndarray) -> tuple:
    """The cell as a labelled rooted tree of nested sorted tuples: an isomorphism test independent of
    the space's canonical strings."""
    preds, acts = [int(x) for x in arch[0::2]], [int(x) for x in arch[1::2]]

    def subtree(node: int) -> tuple:
        kids = sorted(subtree(i) for i in range(1, len(preds) + 1) if preds[i - 1] == node)
        return (acts[node - 1] if node else -1, tuple(kids))

    return subtree(0)


def relabel(arch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same tree written in another topological order: nodes are numbered as they are drawn at
    random among those whose input is already numbered."""
    preds, acts = arch[0::2], arch[1::2]
    n = len(preds)
    new, placed = {0: 0}, []
    while len(placed) < n:
        ready = [i for i in range(1, n + 1) if i not in new and int(preds[i - 1]) in new]
        node = ready[rng.integers(len(ready))]
        new[node] = len(placed) + 1
        placed.append(node)
    out = np.empty_like(arch)
    for rank, node in enumerate(placed):
        out[2 * rank], out[2 * rank + 1] = new[int(preds[node - 1])], acts[node - 1]
    return out


# --- specs ------------------------------------------------------------------------------------------
def test_specs_sizes_and_names():
    space = get_space("rnn-cell")
    assert space is get_space("rnn-cell:8") and isinstance(space, RNNCellSpace) and isinstance(space, CellSpace)
    assert space.spec == "rnn-cell:8" and space.num_decisions == 16
    assert space.size == math.factorial(8) * 4**8 < 2**63
    assert space.choices[0] == ("0",) and space.choices[4] == ("0", "1", "2") and space.choices[1] == space.ops
    assert space.decision_names[:4] == ["node1_in", "node1_op", "node2_in", "node2_op"]
    for n in (1, 9, 10, 12):
        names = get_space(f"rnn-cell:{n}").decision_names
        assert names == sorted(names) and len(set(names)) == 2 * n  # Optuna sorts parameters by name
    assert get_space("rnn-cell:12").decision_names[:2] == ["node01_in", "node01_op"]
    assert get_space("rnn-cell:12").size == math.factorial(12) * 4**12 < 2**63


@pytest.mark.parametrize("spec", ["rnn-cell:0", "rnn-cell:13", "rnn-cell:x", "rnn-cell:-1", "rnn-cell:8.0",
                                  "rnn-cell:1e1", "rnn-cell:8x3", "rnn-cell:٣"])
def test_bad_specs(spec):
    with pytest.raises(UsageError, match="rnn-cell") as error:
        get_space(spec)
    assert "\n" not in str(error.value)


# --- strings ----------------------------------------------------------------------------------------
def test_parse_format_known_cell():
    space = get_space("rnn-cell:8")
    arch = space.parse(EXAMPLE)
    assert arch.tolist() == [0, 0, 1, 1, 1, 2, 2, 3, 0, 0, 5, 1, 3, 0, 6, 3]
    assert space.format(arch) == EXAMPLE


@pytest.mark.parametrize("n", [1, 3, 8, 12])
def test_round_trip(n):
    space = get_space(f"rnn-cell:{n}")
    archs = space.sample(300, n)
    assert space.parse_many(space.format_many(archs)).tolist() == archs.tolist()
    if n <= 3:
        everything = space.enumerate()
        assert space.parse_many(space.format_many(everything)).tolist() == everything.tolist()


@pytest.mark.parametrize("text", ["", "tanh~0", "tanh~0|relu~1|", "tanh~1|relu~0|tanh~0", "tanh~0|relu~2|tanh~0",
                                  "tanh~0|elu~1|tanh~0", "tanh0|relu~1|tanh~0", "tanh~0|relu~01|tanh~0",
                                  "tanh~0|relu~ 1|tanh~0", "tanh~0|relu~-0|tanh~0", "tanh~0|relu~1|tanh~0\n",
                                  "tanh~0|relu~1|tanh~0|", "~0|relu~1|tanh~0", "tanh~0||tanh~0"])
def test_rejects_malformed_strings(text):
    with pytest.raises(UsageError, match="malformed rnn-cell:3 arch string") as error:
        get_space("rnn-cell:3").parse(text)
    assert "\n" not in str(error.value)


# --- generating -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 8])
def test_sample_mutate_neighbors_stay_valid(n):
    space = get_space(f"rnn-cell:{n}")
    archs = space.sample(500, 0)
    assert (space.sample(500, 0) == archs).all()
    preds = archs[:, 0::2]
    assert ((preds >= 0) & (preds < np.arange(1, n + 1))).all() and ((archs[:, 1::2] >= 0) & (archs[:, 1::2] < 4)).all()
    for moved in (space.mutate(archs, 1), space.neighbors(archs[0])):
        assert (space.check(moved) == moved).all()
        assert (moved[:, 0::2] < np.arange(1, n + 1)).all()
        assert space.parse_many(space.format_many(moved)).tolist() == moved.tolist()
    assert ((space.mutate(archs, 1) != archs).sum(axis=1) == 1).all()


# --- isomorphism ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,expected", [(1, 4), (2, 26), (3, 188)])
def test_class_counts_match_a_brute_force_count(n, expected):
    # by hand: n=2 is a chain (16) or two leaves (10 multisets); n=3 a chain (64), a fork under one
    # node (4 * 10), a chain beside a leaf (16 * 4) or three leaves (20 multisets) = 188
    space = get_space(f"rnn-cell:{n}")
    archs = space.enumerate()
    assert len(archs) == space.size == math.factorial(n) * 4**n
    ids = space.canonical_ids(archs)
    trees = [tree(a) for a in archs]
    assert len(set(trees)) == len(np.unique(ids)) == expected
    # the same partition, not just the same number of parts
    assert len({(t, i) for t, i in zip(trees, ids.tolist())}) == expected


@given(st.integers(1, 12), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_relabelled_cells_are_the_same_class(n, seed):
    space = get_space(f"rnn-cell:{n}")
    rng = np.random.default_rng(seed)
    arch = space.sample(1, rng)[0]
    other = relabel(arch, rng)
    assert tree(other) == tree(arch)  # the relabelling is an isomorphism
    canon = space.canonicalize(arch)
    assert canon.shape == arch.shape and tree(canon) == tree(arch)  # the representative is in the class
    assert (space.canonicalize(other) == canon).all() and (space.canonicalize(canon) == canon).all()
    ids = space.canonical_ids(np.stack([arch, other, canon]))
    assert ids[0] == ids[1] == ids[2]
    for name in ("graf", "path"):
        x = get_encoding(name, space)(np.stack([arch, other, canon]))
        assert (x[0] == x[1]).all() and (x[0] == x[2]).all()


@given(st.integers(1, 12), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_a_different_activation_is_a_different_class(n, seed):
    space = get_space(f"rnn-cell:{n}")
    rng = np.random.default_rng(seed)
    arch = space.sample(1, rng)[0]
    leaves = sorted(set(range(1, n + 1)) - set(arch[0::2].tolist()))
    changed = []
    for node in (leaves[rng.integers(len(leaves))], int(rng.integers(1, n + 1))):
        other = arch.copy()
        other[2 * node - 1] = (other[2 * node - 1] + rng.integers(1, 4)) % 4
        changed.append(other)
    ids = space.canonical_ids(np.stack([arch, *changed]))
    assert ids[0] != ids[1] and ids[0] != ids[2]


def test_canonicalize_many_is_fast_and_keeps_shapes():
    space = get_space("rnn-cell:8")
    archs = space.sample(20_000, 0)
    canon = space.canonicalize(archs)
    assert canon.shape == archs.shape and (space.canonicalize(canon) == canon).all()
    assert space.canonicalize(archs[0]).shape == (16,)
    assert (space.canonical_ids(archs) == space.index(canon)).all()
    assert len(np.unique(space.canonical_ids(archs))) > 19_000  # 2.6e9 cells: few collisions in 20,000


# --- the DAG view -----------------------------------------------------------------------------------
def test_dag_view():
    space = get_space("rnn-cell:8")
    v = 10
    possible = space.dag_possible
    assert possible.shape == (v, v) and space.dag_ops == ("tanh", "relu", "sigmoid", "identity")
    assert space.dag_identity == ()
    assert possible[0, 1:-1].all() and not possible[0, -1] and possible[1:-1, -1].all()
    assert (possible[1:-1, 1:-1] == np.triu(np.ones((8, 8), dtype=bool), k=1)).all() and not possible[:, 0].any()
    archs = space.sample(500, 3)
    adjacency, ops = space.dag(archs)
    assert adjacency.shape == (500, v, v) and ops.shape == (500, v) and ops.dtype == np.int64
    assert not (adjacency & ~possible).any()
    assert (ops[:, [0, -1]] == -1).all() and (ops[:, 1:-1] == archs[:, 1::2]).all()
    assert (adjacency[:, :, 1:-1].sum(axis=1) == 1).all()  # every cell node reads one node
    rows, nodes = np.arange(500)[:, None], np.arange(1, 9)[None, :]
    assert adjacency[rows, archs[:, 0::2], nodes].all()  # ... its input
    has_child = adjacency[:, 1:-1, 1:-1].any(axis=2)
    assert (adjacency[:, 1:-1, -1] == ~has_child).all() and adjacency[:, 8, -1].all()  # leaves feed the output
    one_adj, one_ops = space.dag(space.parse(EXAMPLE))
    assert one_adj.shape == (1, v, v)
    assert np.flatnonzero(one_adj[0, :, -1]).tolist() == [4, 7, 8]  # node 6 feeds node 8


# --- encodings --------------------------------------------------------------------------------------
def test_encodings_on_rnn_cell_8():
    space = get_space("rnn-cell:8")
    archs = space.sample(1000, 0)
    dims = {}
    for name in ("onehot", "adjacency", "path", "graf", "path-truncated:20"):
        enc = get_encoding(name, space)
        x = enc(archs)
        assert x.shape == (1000, enc.dim) and x.dtype == np.float64 and np.isfinite(x).all()
        assert len(set(enc.names)) == enc.dim == len(enc.names)
        assert (enc(archs[5]) == x[5:6]).all()
        dims[name] = enc.dim
    assert dims["onehot"] == sum(range(1, 9)) + 8 * 4
    assert dims["adjacency"] == 8 + 28 + 8 + 8 * 4  # input->node, node->node, node->output, node ops
    assert dims["graf"] == 4 + 15 * 6
    assert dims["path-truncated:20"] == 20 and dims["path"] <= MAX_PATHS  # not all 87,380 op sequences
    path = get_encoding("path", space)
    assert {"tanh", "relu", "sigmoid", "identity"} <= set(path.names)
    counts = path(archs).sum(axis=1)
    leaves = 8 - np.array([len(set(a[2::2].tolist()) - {0}) for a in archs])
    assert (counts <= leaves).all()  # one route per leaf; long rare ones are truncated away


def test_path_counts_known_cell():
    space = get_space("rnn-cell:3")
    enc = get_encoding("path", space)
    assert enc.dim == 4 + 16 + 64  # every route has 1 to 3 op nodes; identity is a real op here
    x = dict(zip(enc.names, enc(space.parse("tanh~0|relu~1|identity~1"))[0]))
    assert x["tanh~relu"] == 1 and x["tanh~identity"] == 1 and sum(x.values()) == 2
    x = dict(zip(enc.names, enc(space.parse("identity~0|identity~0|identity~2"))[0]))
    assert x["identity"] == 1 and x["identity~identity"] == 1 and sum(x.values()) == 2
