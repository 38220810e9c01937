import glob
import os
import platform
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

# Pinned trajectories and the README's outputs were taken with OpenBLAS's Haswell (AVX2) kernels. Its
# AVX-512 kernels round differently, and a GP fit can carry the last bits to another optimum (a
# README mean 80.21 became 80.08): one kernel set on every x86-64 machine, chosen before numpy loads.
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

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


@pytest.fixture
def read_only():
    """`read_only(path)` makes a file or folder unwritable for this process, root included
    (`chattr +i` as root, else chmod), undone after the test; skips where neither can."""
    import os
    import stat
    import subprocess

    undo = []

    def make(path: Path) -> Path:
        if os.geteuid() == 0:
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
            if done.returncode != 0:
                pytest.skip("cannot make a path read-only as root here (no chattr +i)")
            undo.append(lambda: subprocess.run(["chattr", "-i", str(path)], check=True))
        else:
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
            undo.append(lambda: path.chmod(mode))
        assert not os.access(path, os.W_OK)
        return path

    yield make
    for step in reversed(undo):
        step()


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, their children, ...), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def kill_and_check_all_die(proc, seconds: float = 10.0) -> None:
    """kill -9 `proc` (a subprocess.Popen) and assert that every process below it dies within
    `seconds` (survivors are killed, then reported)."""
    import os
    import signal
    import time

    below = descendants(proc.pid)
    assert len(below) >= 2, "expected spawned workers below the command"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in below) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in below if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} process(es) outlived the killed command"


@pytest.fixture
def process_tree():
    """Helpers over /proc: `.alive(pid)`, `.descendants(pid)`, `.kill_and_check_all_die(proc)`."""
    from types import SimpleNamespace

    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    return SimpleNamespace(alive=alive, descendants=descendants, kill_and_check_all_die=kill_and_check_all_die)


# --- a throw-away PostgreSQL server, for workers sharing a storage (the Debian `postgresql` package,
# installed by `.ci/run`; without it the tests that ask for it skip; it refuses root, so under root
# it runs as `postgres`) ---
def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a throw-away PostgreSQL server (trust auth, fsync off) on a free local port."""
    pytest.importorskip("psycopg2", reason="psycopg2 (the `test` extra) is needed for PostgreSQL")
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL not installed (no /usr/lib/postgresql/*/bin/initdb); .ci/run installs it")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without `runuser` to start PostgreSQL as user postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="surrogate-pg-"))
    if as_user:
        try:
            shutil.chown(base, "postgres", "postgres")
        except LookupError:
            shutil.rmtree(base)
            pytest.skip("running as root and there is no `postgres` user to start PostgreSQL as")
    data, port = base / "data", _free_port()

    def run(*cmd: str) -> None:
        subprocess.run([*as_user, *cmd], check=True, capture_output=True, timeout=120)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base} -c fsync=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-o", options, "-w", "start")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        shutil.rmtree(base, ignore_errors=True)
        output = (err.stderr or b"").decode(errors="replace").strip()
        pytest.skip(f"could not start PostgreSQL: {output[-300:] or err}")
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "surrogate_test")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/surrogate_test"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
