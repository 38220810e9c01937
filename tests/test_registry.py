"""One registry pattern for every named thing: lazy entries, one error for unknown names."""

import sys

import pytest

from surrogate.encodings import ENCODINGS
from surrogate.errors import UsageError
from surrogate.models import MODELS
from surrogate.nets import NETWORKS
from surrogate.registry import Registry
from surrogate.search import STRATEGIES, Family
from surrogate.spaces import SPACES
from surrogate.supernet.network import SUPERNETS


def test_lazy_entries_load_on_first_use():
    registry = Registry("thing", {"path": "os.path:join"})
    assert "path" in registry and registry.names() == ("path",)
    assert registry["path"]("a", "b") == "a/b"


def test_unknown_name_lists_the_known_ones():
    registry = Registry("thing", {"a": 1, "b": 2})
    with pytest.raises(UsageError, match=r"unknown thing 'c' \(known: a, b\)"):
        registry["c"]


def test_register_adds_an_entry():
    registry = Registry("thing")
    registry.register("x", 3)
    assert list(registry) == ["x"] and registry["x"] == 3 and len(registry) == 1


def test_split_separates_the_argument():
    assert Registry.split(" categorical:8x3 ") == ("categorical", "8x3")
    assert Registry.split("nb201") == ("nb201", "")


def test_heavy_strategies_load_only_when_named():
    """Naming `rs` must not import BoTorch or Optuna (the CLI stays fast to start)."""
    code = ("import sys; from surrogate.search import STRATEGIES; STRATEGIES['rs']; "
            "print('botorch' in sys.modules, 'optuna' in sys.modules)")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_every_space_kind_has_a_network_and_supernets_only_for_spaces():
    assert set(SPACES) == set(NETWORKS)
    assert set(SUPERNETS) <= set(SPACES)  # the recurrent cell has no weight-sharing supernet yet


@pytest.mark.parametrize("registry", [SPACES, ENCODINGS, MODELS, STRATEGIES, NETWORKS, SUPERNETS])
def test_every_entry_loads(registry):
    for name in registry:
        assert callable(registry[name])
        if isinstance(registry[name], Family):  # a strategy family's classes load too
            assert all(member is None or callable(member) for member in registry[name].members())
