"""`surrogate generate`: train architectures of a space on a dataset and tabulate their records.

A generation job is a list of (architecture, seed) pairs, each trained once, seed-major (every
architecture with seed 0 first, so a partial table covers many architectures). Finished pairs go
to a *journal* folder next to the output (`X.h5.parts/`), one small file per pair, so the work
survives any crash, kill -9 included:

* `config.json` — the job (space, dataset and its checksum, training settings, the architecture
  list), linked into place whole by the first process. A rerun with other settings into the same
  journal is refused; a rerun of the same command skips what is done and trains the rest.
* `records/a<arch>_s<seed>.npz` — one finished pair, written to a temp file, fsynced and renamed
  into place, so it is either whole or absent, and keyed by (arch index, seed), so it can never be
  duplicated.
* `claims/a<arch>_s<seed>.lock` — "host pid start-time" of the process training that pair, linked
  into place atomically (link fails when the claim exists, like O_CREAT|O_EXCL, and the content is
  never half-written); concurrent workers skip claimed pairs. A claim whose process is gone is
  taken back by the next run on the same host (or the running parent), never while its owner lives.
  A held claim is touched every `journal.BEAT_SECONDS` (30 s): on a journal shared between hosts,
  another host's claim untouched for `journal.GRACE_SECONDS` (300 s) is taken back too.
* temp files are named `.<pid>.<name>.<random>.tmp`, so those of dead processes are removed too.

The HDF5 table `X.h5` is rebuilt from the journal atomically (`Table.write`) every
`runner.EXPORT_SECONDS` and at the end, so it is never corrupt and holds every finished record. Keep the
journal: it is the job's ground truth, and the table can always be rebuilt from it.

`--workers K` runs K spawned processes on one journal (torch threads per worker: `default_threads`).
`--storage URL --study NAME` shares one job between machines through an Optuna RDB storage instead:
one WAITING trial per pair (user attribute `job`), pulled by any worker; heartbeats make a dead
worker's trial stale and Optuna re-queues it; the record is the trial's user attribute `record`;
`--out` on any worker exports what is finished so far. A poll loads the study's waiting trials, so
this mode suits pairs that take long next to a database round trip (networks on GPUs); on one
machine the journal is lighter.

Modules: `archs` (which architectures), `config` (the job and its pair list), `journal` (records,
claims, liveness), `shared` (the job in an Optuna study), `worker` (training pairs), `table` (the
output from the records), `runner` (`generate()`: workers, progress, export).
"""

from surrogate._io import default_threads
from surrogate.generate.archs import ARCH_SEED, select_archs
from surrogate.generate.config import JobConfig, check_same_job, default_out, make_config
from surrogate.generate.journal import Journal, journal_path
from surrogate.generate.runner import Exporter, Local, Progress, generate, run_processes
from surrogate.generate.shared import CONFIG_ATTR, Shared, open_shared
from surrogate.generate.table import FINAL_METRICS, build_table
from surrogate.generate.worker import Worker, train_job, worker_process

__all__ = [
    "ARCH_SEED", "CONFIG_ATTR", "default_out", "FINAL_METRICS", "Exporter", "JobConfig", "Journal", "Local",
    "Progress", "Shared", "Worker", "build_table", "check_same_job", "default_threads", "generate", "journal_path",
    "make_config", "open_shared", "run_processes", "select_archs", "train_job", "worker_process",
]
