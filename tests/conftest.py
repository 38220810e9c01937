from pathlib import Path

import pytest
from hypothesis import settings

# Timing is not what property tests check (benchmarks in bench/ do): no per-example deadline, so a
# busy CI machine cannot fail them.
settings.register_profile("surrogate", deadline=None)
settings.load_profile("surrogate")

NB201_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nb201" / "nb201_hp12_accuracy.csv"


@pytest.fixture(scope="session")
def nb201_csv() -> Path:
    """The shared NAS-Bench-201 hp=12 records; tests that need them skip cleanly without ../shared."""
    if not NB201_CSV.is_file():
        pytest.skip(f"shared NB201 data not found at {NB201_CSV}")
    return NB201_CSV


@pytest.fixture
def one_torch_thread(monkeypatch):
    """One torch thread (and OMP_NUM_THREADS=1 for code that sizes its own pool): tiny networks gain
    nothing from more, and on a busy machine idle-spinning threads slow them down tens of times."""
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
