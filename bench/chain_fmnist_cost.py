"""CPU cost of one (chain, seed) pair under each candidate protocol of bench/chain_fmnist_protocol.sh,
measured as the process's CPU seconds (one torch thread), so that it does not depend on how busy the
shared machine is (wall seconds under `nice` on a loaded machine are several times larger).

    OMP_NUM_THREADS=1 nice -n 19 python bench/chain_fmnist_cost.py [ARCHS] [PROTOCOL ...]

Trains the first ARCHS (default 4) chains of the pilot (`--archs 50`'s fixed draw) at seed 0 with
`surrogate.generate.worker.train_job`, the code path of `surrogate generate`; prints one line per protocol.
"""

import sys
import time

import torch

from surrogate.generate.archs import select_archs
from surrogate.generate.config import JobConfig
from surrogate.generate.worker import train_job
from surrogate.spaces import get_space
from surrogate.train.data import load

SPACE = "categorical:8x3"
PROTOCOLS = {  # (resolution, subset, epochs, batch size, channels), as in bench/chain_fmnist_protocol.sh
    "A": (7, 10000, 6, 256, 8), "B": (7, 10000, 6, 256, 4), "C": (14, 10000, 6, 256, 8),
    "D": (7, 20000, 5, 256, 4), "E": (7, 10000, 6, 64, 8), "F": (7, 10000, 6, 128, 8),
    "G": (7, 10000, 4, 64, 8), "H": (7, 20000, 6, 256, 8), "I": (14, 10000, 6, 256, 4), "J": (14, 5000, 6, 256, 8),
    "K": (14, 10000, 3, 128, 8),
}


def main(args: list[str]) -> None:
    torch.set_num_threads(1)
    count = int(args[0]) if args else 4
    names = args[1:] or list(PROTOCOLS)
    space = get_space(SPACE)
    archs = select_archs(space, "50", unique=False)[:count]
    for name in names:
        resolution, subset, epochs, batch, channels = PROTOCOLS[name]
        data = load("fashion-mnist", None, subset, resolution)
        config = JobConfig(space=SPACE, dataset="fashion-mnist", dataset_checksum=data.checksum, split={},
                           augmentation="none", epochs=epochs, seeds=1, batch_size=batch, channels=channels,
                           cells=5, device="cpu", archs=[space.format(a) for a in archs], test_at_end=True)
        cpu, wall = time.process_time(), time.perf_counter()
        for arch in archs:
            train_job(config, arch, 0, data, torch.device("cpu"))
        cpu, wall = (time.process_time() - cpu) / len(archs), (time.perf_counter() - wall) / len(archs)
        print(f"{name}: resolution {resolution}, subset {subset}, {epochs} epochs, batch {batch}, C={channels}: "
              f"{cpu:.1f} CPU s/job ({wall:.1f} wall s/job), {len(archs)} chains", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
