"""Seconds of one BO step (GP refit + LogEI over every unseen NB201 class) at 150 observations.

Usage: .venv/bin/python bench/bo_step_time.py [TABLE.h5]  (default runs/search-nb201/nb201.h5)
"""

import sys
import time

import numpy as np

from surrogate.search import get_strategy
from surrogate.tabular import Table

table = Table.read(sys.argv[1] if len(sys.argv) > 1 else "runs/search-nb201/nb201.h5")
values = dict(zip(map(bytes, table.archs.astype("<i8")), table.metric("cifar10_valid_acc")))
for seed in range(3):
    bo = get_strategy("bo", table.space, seed=seed)
    steps = []
    while bo.n_observed < 160:
        start = time.perf_counter()
        arch = bo.ask()
        if bo.n_observed >= 150:
            steps.append(time.perf_counter() - start)
        bo.tell(arch, values[bytes(arch.astype("<i8"))])
    cold = time.perf_counter()
    bo.predictor.model_ = None  # a refit from scratch, for comparison
    bo._fit()
    cold = time.perf_counter() - cold
    print(f"seed {seed}: step at 150-160 observations median {np.median(steps):.3f} s, max {max(steps):.3f} s; "
          f"cold GP fit at 160: {cold:.3f} s")
