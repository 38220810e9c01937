"""What every command that writes files or runs heavy work shares, in one place.

* `atomic_write` / `atomic_path` / `create_new`: a file appears whole or not at all (temp file in
  the same folder, fsync, rename or link), so a killed run never leaves half a file where a user
  expects a result;
* `run_record`: the provenance every result file carries (version, command, input and its checksum,
  seeds), so a number can always be traced to what produced it;
* `quiet_optuna`: Optuna's per-trial INFO logs and experimental warnings off, here only;
* `torch_threads` / `default_threads`: how many torch threads a piece of work should use;
* `file_lock`: the exclusive OS lock every writer of an existing table holds (beside it, `FILE.lock`)
  while it re-reads the file and writes it again, so concurrent writers never lose each other's work;
* `die_with_parent`: a spawned worker process ends when its parent does (kill -9 included).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator, IO

from surrogate import __version__


def atomic_write(path: str | Path, content: str | bytes | Callable[[IO[bytes]], None]) -> None:
    """Write `content` (text, bytes, or a function writing into a binary handle) to `path` atomically,
    replacing what was there."""
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            _fill(handle, content, fsync=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_new(path: str | Path, content: str | bytes, fsync: bool = True) -> bool:
    """Create `path` holding `content` unless it exists (then False): claims and job configs, where
    the first of racing writers must win. A temp file is linked into place: link fails when the
    target exists (like O_CREAT|O_EXCL) and, unlike O_EXCL, never shows a half-written file."""
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            _fill(handle, content, fsync)
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temp file in `path`'s folder, named after the writing process (`.<pid>.<name>.*.tmp`) so a
    crashed writer's leftovers can be told apart, with the mode a plain `open` would give under the
    umask (mkstemp's 0600 would make shared results unreadable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.getpid()}.{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, tmp


def _fill(handle: IO[bytes], content: str | bytes | Callable[[IO[bytes]], None], fsync: bool) -> None:
    if callable(content):
        content(handle)
    else:
        handle.write(content.encode() if isinstance(content, str) else content)
    if fsync:
        handle.flush()
        os.fsync(handle.fileno())


def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """A matplotlib figure as a PNG, atomically; the figure is closed afterwards."""
    import matplotlib.pyplot as plt

    atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=dpi))
    plt.close(fig)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temp path beside `path` for writers that need a file name (HDF5); renamed over `path` after
    the block, fsynced, removed if the block fails."""
    path = Path(path)
    fd, tmp = _temp_beside(path)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_record(command: str, source: str | None = None, checksum: str | None = None, seeds=None, **facts) -> dict:
    """The provenance block of a result file: package version, command, input, its checksum, seeds,
    then whatever the caller adds."""
    record: dict = {"package_version": __version__, "command": command}
    if source is not None:
        record["input"] = source
    if checksum is not None:
        record["input_checksum"] = checksum
    if seeds is not None:
        record["seeds"] = list(seeds)
    record.update(facts)
    return record


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial INFO logs and experimental warnings inside the block only, without
    changing the verbosity other users of Optuna in this process rely on."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(verbosity)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch on `n` threads inside the block (process-wide while it lasts, like any torch setting).

    Small tensors (a GP on a few hundred points, the REINFORCE controller) gain nothing from
    intra-op threads, and on a busy machine their spin-waits cost 10-100x (measured on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != before:
            torch.set_num_threads(before)


def default_threads(workers: int) -> int:
    """Torch threads per worker: `OMP_NUM_THREADS` when set, else the idle cores shared out
    (cores // workers, less what other processes keep busy, at least 1). A torch thread whose core
    is busy stalls every parallel op: on 2 cores with one busy, 2 threads trained NB201 C=8 on
    digits 50x slower than 1 thread."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        return int(os.environ["OMP_NUM_THREADS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = int(os.getloadavg()[0] + 0.5) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores // workers, (cores - busy) // workers))


def check_rewritable(path: str | Path, flag: str = "", folders: tuple[str | Path, ...] = ()) -> None:
    """Before any work: `path` (an existing file a command will replace atomically) can be rewritten,
    i.e. the file is writable (not read-only, not immutable) and so is its folder (the temp file and
    the lock go there), as are `folders` that exist (a journal beside it). One-line UsageError
    naming `flag` otherwise."""
    from surrogate.errors import UsageError

    path = Path(path)
    where = f"{flag} {path}" if flag else str(path)
    if not os.access(path, os.W_OK):
        raise UsageError(f"{where}: the file is not writable")
    for folder in (path.parent, *map(Path, folders)):
        if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"{where}: the folder {folder} is not writable")


def lock_path(path: str | Path) -> Path:
    """The lock file of `path`: `path` + `.lock`, beside it."""
    return Path(str(path) + ".lock")


@contextlib.contextmanager
def file_lock(path: str | Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive OS lock (`fcntl.flock`) on `lock_path(path)` for the block.

    Every writer of an existing file (a column written into a table: `surrogate proxies`, `supernet
    estimate --into`, `import --out` over a table) takes it, re-reads the file inside the block and
    writes it there, so two writers never both read the old file and the last one's rename drops the
    other's column. The kernel drops the lock when its holder dies (kill -9 included): no stale locks.
    The lock file stays (removing it would let a waiter and a newcomer lock two different files).
    `on_wait` is called once when another process holds the lock, before waiting for it. Not
    reentrant: a process must not take the same lock twice (the second waits for ever)."""
    import fcntl

    fd = os.open(lock_path(path), os.O_RDONLY | os.O_CREAT, 0o666)  # flock needs no write access
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def die_with_parent(parent: int | None = None, poll_seconds: float = 1.0) -> None:
    """Make this process (a spawned worker) die as soon as its parent process `parent` is gone.

    Call it first thing in a worker's entry point or pool initializer, passing the parent's pid
    (`os.getpid()` in the parent: a worker that starts after its parent died would otherwise watch
    its new parent). On Linux the kernel sends SIGKILL when the parent dies (prctl
    PR_SET_PDEATHSIG, via ctypes); a daemon thread that compares `os.getppid()` with `parent`
    every `poll_seconds` is the fallback elsewhere, and catches a parent that died before the
    prctl. So a kill -9 of a command never leaves its workers training on, orphaned. Caveat of the
    prctl: the signal comes when the *thread* that spawned the worker ends, so spawn workers from a
    thread that lives as long as they should (the main thread, or the pool's own)."""
    parent = os.getppid() if parent is None else int(parent)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the watchdog alone
            pass
    if os.getppid() != parent:  # the parent died before the prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while worker processes start (around `ProcessPoolExecutor.submit`):
    one arriving while the parent writes a spawned worker's start-up data cuts it short, and the
    worker prints a traceback (`EOFError: Ran out of input`) under the command's one line. The
    signal goes to its own handler as soon as the block ends. Outside the main thread: no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if received:
            os.kill(os.getpid(), received[0])


def check_output_folder(out: str | Path, flag: str = "") -> None:
    """A folder we can write into, made now, checked before any work (an existing file on its path
    is an error, one line)."""
    from surrogate.errors import UsageError

    out = Path(out)
    flag = flag or f"--out {out}"
    blocker = next((p for p in (out, *out.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise UsageError(f"{flag}: {blocker} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"{flag}: cannot create the folder {out} ({err.strerror})") from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"{flag}: the folder {out} is not writable")


def note(text: str) -> None:
    """A one-line note for the user on stderr, before long work (`surrogate: note: ...`)."""
    import sys

    print(f"surrogate: note: {text}", file=sys.stderr)

