"""The journal: one file per finished pair and one claim per pair in training, so a job survives any
crash (kill -9 included) and several processes share it without a server (layout: the package doc)."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import numpy as np

from surrogate._io import atomic_write, create_new
from surrogate.errors import UsageError
from surrogate.generate.config import JobConfig, check_same_job

_RECORD = re.compile(r"a(\d+)_s(\d+)\.npz")


def journal_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".parts")


class Journal:
    """The folder of finished records, claims and the bound configuration (see the package doc)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.records = self.root / "records"
        self.claims = self.root / "claims"
        self._cache: dict[tuple[int, int], dict[str, np.ndarray]] = {}

    def bind(self, config: JobConfig) -> None:
        """Create the journal for `config`, or check that the existing one was made for it."""
        for folder in (self.records, self.claims):
            folder.mkdir(parents=True, exist_ok=True)
        wanted = config.stored()
        target = self.root / "config.json"
        if not target.exists():  # the first of racing binders creates it; the others compare below
            create_new(target, json.dumps(wanted, indent=1).encode())
        try:
            found = json.loads(target.read_text())
        except ValueError:
            raise UsageError(f"{target}: unreadable journal configuration; delete the journal to start over") from None
        check_same_job(found, wanted, f"journal {self.root}")

    def done(self) -> set[tuple[int, int]]:
        """(arch index, seed) of every finished record."""
        return {(int(m[1]), int(m[2])) for e in os.scandir(self.records) if (m := _RECORD.fullmatch(e.name))}

    def has(self, job: tuple[int, int]) -> bool:
        return (self.records / f"{self._name(job)}.npz").exists()

    def _name(self, job: tuple[int, int]) -> str:
        return f"a{job[0]:07d}_s{job[1]:03d}"

    def write(self, job: tuple[int, int], record: dict[str, np.ndarray]) -> None:
        """Store one finished record atomically (temp file, fsync, rename)."""
        atomic_write(self.records / f"{self._name(job)}.npz", lambda handle: np.savez(handle, **record))

    def read(self, job: tuple[int, int]) -> dict[str, np.ndarray]:
        if job not in self._cache:
            path = self.records / f"{self._name(job)}.npz"
            try:
                with np.load(path, allow_pickle=False) as npz:
                    self._cache[job] = {k: npz[k] for k in npz.files}
            except (OSError, ValueError) as err:
                raise UsageError(f"{path}: unreadable record ({err}); delete it and rerun to train it again") from None
        return self._cache[job]

    # claims: one lock file per job in training
    def claim(self, job: tuple[int, int]) -> bool:
        """Take `job` for this process; False when another process holds it. A held claim is
        touched every `BEAT_SECONDS` (its heartbeat, for hosts that cannot see this process)."""
        path = self.claims / f"{self._name(job)}.lock"
        if not create_new(path, _process_id().encode(), fsync=False):
            return False
        _KEEPER.hold(path)
        return True

    def release(self, job: tuple[int, int]) -> None:
        path = self.claims / f"{self._name(job)}.lock"
        _KEEPER.drop(path)
        path.unlink(missing_ok=True)

    def reclaim_dead(self) -> int:
        """Drop claims (and temp files) of processes that no longer run: of this host, by their pid;
        of another host (a journal on a shared folder), when their heartbeat is older than
        `GRACE_SECONDS`. Returns how many."""
        freed = 0
        for lock in self.claims.glob("*.lock"):
            if _alive(_read(lock), _age(lock)):
                continue
            tomb = lock.with_name(f"{lock.name}.reclaim-{os.getpid()}")
            try:
                os.rename(lock, tomb)  # atomic: only one reclaimer gets it
            except FileNotFoundError:
                continue
            if _alive(_read(tomb), _age(tomb)):  # raced with a fresh claim: put it back unless claimed again since
                try:
                    os.link(tomb, lock)
                except FileExistsError:
                    pass
            else:
                freed += 1
            tomb.unlink(missing_ok=True)
        for tmp in [*self.records.glob(".*.tmp"), *self.claims.glob(".*.tmp"), *self.root.glob(".*.tmp")]:
            pid = tmp.name.split(".")[1]  # temp files are named `.<pid>.<name>.*.tmp` (here and in `_io`)
            if pid.isdigit() and not _alive(f"{socket.gethostname()} {pid} {_start_time(int(pid))}"):
                tmp.unlink(missing_ok=True)
        return freed


# --- liveness: is the process named in a claim still running? ------------------------------------
#: a held claim is touched this often; another host's claim untouched for GRACE_SECONDS is dead
BEAT_SECONDS, GRACE_SECONDS = 30.0, 300.0


class _ClaimKeeper:
    """One daemon thread per process touching the claims it holds (their mtime is the heartbeat)."""

    def __init__(self):
        self.held: set[Path] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def hold(self, path: Path) -> None:
        with self.lock:
            self.held.add(path)
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
                self.pid = os.getpid()  # a forked child starts its own keeper
                self.thread = threading.Thread(target=self._beat, daemon=True, name="claim-heartbeat")
                self.thread.start()

    def drop(self, path: Path) -> None:
        with self.lock:
            self.held.discard(path)

    def _beat(self) -> None:
        last = time.monotonic()
        while True:
            time.sleep(min(BEAT_SECONDS, 1.0))
            if time.monotonic() - last < BEAT_SECONDS:
                continue
            last = time.monotonic()
            with self.lock:
                held = list(self.held)
            for path in held:
                try:
                    os.utime(path)
                except FileNotFoundError:
                    self.drop(path)


_KEEPER = _ClaimKeeper()


def _age(path: Path) -> float:
    """Seconds since the file was last touched (0 when it is gone)."""
    try:
        return max(0.0, time.time() - path.stat().st_mtime)
    except FileNotFoundError:
        return 0.0


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (tells a reused pid apart), '' if unknown;
    'zombie' for a process that has exited but was not yet reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return ""
    return "zombie" if fields[0] in ("Z", "X") else fields[19]


def _process_id() -> str:
    """This process as a claim names it: "host pid start-time"."""
    return f"{socket.gethostname()} {os.getpid()} {_start_time(os.getpid())}"


def _alive(owner: str, age: float = 0.0) -> bool:
    """Whether the process named by a claim ("host pid start") still runs: on this host, by its
    pid; on another, while the claim's heartbeat (`age`, seconds since last touched) is younger
    than GRACE_SECONDS."""
    parts = owner.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return False  # claims are linked into place whole, so a malformed one is debris
    if parts[0] != socket.gethostname():
        return age < GRACE_SECONDS
    pid, start = int(parts[1]), parts[2] if len(parts) > 2 else ""
    now = _start_time(pid)
    if now:
        return now != "zombie" and (not start or now == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
