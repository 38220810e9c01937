"""What a model is fitted on: observed values as they are (`raw`) or their ranks mapped to normal
quantiles (`copula`; HEBO, Salinas et al. 2020). Under the copula a few diverged networks at 10 %
accuracy no longer flatten the differences at the top that a search is about.

Every predictor takes a `targets` hyperparameter (surrogate.models.base.Predictor): it fits the
`Warp` of its training values and maps its predictions back with `Warp.inverse`."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata

from surrogate.errors import UsageError

TARGETS = ("copula", "raw")


def check_targets(kind: str) -> str:
    if kind not in TARGETS:
        raise UsageError(f"unknown target transform {kind!r} (known: {', '.join(TARGETS)})")
    return kind


class Warp:
    """A monotone piecewise-linear map through the observed values `y` (two or more distinct ones)
    onto their `kind` targets, continued past them with the slope of the `tail` outermost ones, so
    it also carries what was not observed (a reference point, a constraint's bound) into the
    model's units. Ties share a rank; dominance is unchanged by it."""

    def __init__(self, y: np.ndarray, kind: str = "copula", tail: int = 5):
        y = np.asarray(y, dtype=np.float64)
        x, first = np.unique(y, return_index=True)
        z = x if check_targets(kind) == "raw" else norm.ppf(rankdata(y)[first] / (len(y) + 1))
        k = min(tail, len(x) - 1)
        self.x, self.z = x, z
        self.low, self.high = (x[k] - x[0]) / (z[k] - z[0]), (x[-1] - x[-1 - k]) / (z[-1] - z[-1 - k])  # dx/dz

    def __call__(self, values):
        v = np.asarray(values, dtype=np.float64)
        x, z = self.x, self.z
        return np.where(v < x[0], z[0] + (v - x[0]) / self.low,
                        np.where(v > x[-1], z[-1] + (v - x[-1]) / self.high, np.interp(v, x, z)))

    def inverse(self, values):
        """Model units back to observed ones: the same pieces read the other way, so
        `inverse(warp(v)) == v` up to rounding, past the observed range too (linear tails)."""
        t = np.asarray(values, dtype=np.float64)
        x, z = self.x, self.z
        return np.where(t < z[0], x[0] + (t - z[0]) * self.low,
                        np.where(t > z[-1], x[-1] + (t - z[-1]) * self.high, np.interp(t, z, x)))


def targets(y: np.ndarray, kind: str = "copula") -> np.ndarray:
    """`y` mapped to the `kind` targets (the warp through `y`, at `y`)."""
    y = np.asarray(y, dtype=np.float64)
    if check_targets(kind) == "raw":
        return y
    return norm.ppf(rankdata(y) / (len(y) + 1))
