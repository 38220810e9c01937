"""The output table, rebuilt from the finished records alone (the journal or the study is the job's
ground truth; the table can always be made again from it)."""

from __future__ import annotations

import numpy as np

from surrogate.errors import UsageError
from surrogate.generate.config import JobConfig
from surrogate.spaces import get_space
from surrogate.tabular import Table, directions

#: metrics with one value per (arch, seed), beside the per-epoch ones of the trainer (image tables;
#: a job's own are `JobConfig.final_metrics`)
FINAL_METRICS = ("params", "flops", "latency_b1_ms", "latency_b256_ms", "diverged", "job_seconds")
#: the class each space kind's networks are built as (`surrogate.nets`), for the table's record
NETWORK_CLASS = {"nb201": "NB201Network", "categorical": "ChainNetwork", "rnn-cell": "RNNCellNetwork"}


def build_table(records: dict[tuple[int, int], dict], config: JobConfig, command: str = "",
                source: dict | None = None) -> Table:
    """Finished records as a table: the archs with at least one finished seed, in job order.
    `source` (the journal or the study) goes into the provenance."""
    done = sorted(records)
    rows = sorted({a for a, _ in done})
    position = {a: i for i, a in enumerate(rows)}
    # an open job (a live campaign's: no list, archs keyed by canonical id) names them in its records
    names = config.archs or {a: str(np.asarray(records[a, s]["arch"])) for a, s in reversed(done)}
    space = get_space(config.space)
    metrics = {name: np.full((len(rows), config.seeds, config.epochs), np.nan) for name in config.epoch_metrics}
    metrics |= {name: np.full((len(rows), config.seeds, 1), np.nan) for name in config.final_metrics}
    seen: dict[str, set] = {"torch_version": set(), "device_name": set(), "worker": set()}
    for arch, seed in done:
        record = records[arch, seed]
        if str(np.asarray(record["arch"])) != names[arch] or int(np.asarray(record["seed"])) != seed:
            raise UsageError(f"record a{arch}_s{seed} holds another pair ({record['arch']}, seed {record['seed']})")
        for name in metrics:
            metrics[name][position[arch], seed, :] = record.get(name, np.nan)  # job_seconds is newer than some journals
        for key, values in seen.items():
            values.add(str(np.asarray(record[key])))
    archs = space.parse_many(names[a] for a in rows).reshape(len(rows), space.num_decisions)
    training = config.training_config() | {"torch_version": ", ".join(sorted(seen["torch_version"])),
                                            "device_name": ", ".join(sorted(seen["device_name"])),
                                            "network": NETWORK_CLASS[space.kind]}
    provenance = {"generator": "surrogate.generate", "command": command, "dataset_checksum": config.dataset_checksum,
                  **(source or {}), "jobs_total": config.total_jobs if config.archs else None, "jobs_done": len(done),
                  "workers": len(seen["worker"])}
    return Table(space=config.space, archs=archs, arch_strings=space.format_many(archs) if len(rows) else [],
                 metrics=metrics, attrs={"dataset": config.dataset, "training_config": training, "provenance": provenance,
                                         "directions": directions(metrics)})
