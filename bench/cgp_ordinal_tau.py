"""The categorical GP's ordinal term as a predictor (issue 22): Kendall tau of `cgp` on random
training sets of n = 50 and 100 (seeds 0-4, test: the next 1,000 rows of the same permutation),
without the term (`ordinal=False`) and with the default rule (`ordinal="auto"`: kept where the
marginal likelihood gain beats Schwarz's penalty), and how many of the 5 fits kept it.

    python bench/cgp_ordinal_tau.py DIR TABLE [TABLE...]    (DIR/TABLE.h5 with an `acc` column)

Results in bench/results/out_of_the_box.md.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.stats import kendalltau

from surrogate.models import get_model
from surrogate.tabular import Table


def neg_log_evidence(model) -> float:
    """The fitted GP's negative log marginal likelihood (standardised targets, no priors)."""
    L, alpha = model.cholesky_, model.alpha_
    residual = L @ (L.T @ alpha)  # K alpha = y - mean
    return float(0.5 * (residual * alpha).sum() + L.diagonal().log().sum())


def main(folder: str, *names: str) -> None:
    for name in names:
        table = Table.read(f"{folder}/{name}.h5")
        X, y = table.archs.astype(float), table.metric("acc")
        for n in (50, 100):
            row = {}
            for ordinal in (False, "auto"):
                taus, kept = [], 0
                for seed in range(5):
                    order = np.random.default_rng(seed).permutation(len(X))
                    train, test = order[:n], order[n:n + 1000]
                    model = get_model("cgp", seed=seed, ordinal=ordinal).fit(X[train], y[train])
                    kept += bool(model.ordinal_)
                    taus.append(kendalltau(model.predict(X[test])[0], y[test]).statistic)
                row[str(ordinal)] = {"tau": round(float(np.mean(taus)), 3), "std": round(float(np.std(taus)), 3),
                                     "kept": kept}
            gains = []
            for seed in range(5):
                train = np.random.default_rng(seed).permutation(len(X))[:n]
                fits = [get_model("cgp", seed=seed, ordinal=o).fit(X[train], y[train]) for o in (False, True)]
                gains.append(neg_log_evidence(fits[0]) - neg_log_evidence(fits[1]))
            row["gain"] = [round(min(gains), 1), round(max(gains), 1)]
            row["penalty"] = round((X.shape[1] + 1) / 2 * np.log(n), 1)
            print(name, n, row, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
