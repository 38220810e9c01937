"""Training architectures for real: datasets held as tensors (`data`) and the trainer (`trainer`).

`surrogate.generate` uses both to turn a space into a tabular dataset; see `surrogate generate`.
"""

from surrogate.train.data import DATASETS, Augment, Data, load
from surrogate.train.trainer import EPOCH_METRICS, costs, evaluate, latency_ms, seeded, train

__all__ = ["DATASETS", "Augment", "Data", "load", "EPOCH_METRICS", "costs", "evaluate", "latency_ms", "seeded", "train"]
