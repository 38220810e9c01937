"""An ensemble of different predictors on the same inputs: gp, rf, gbt, svr and mlp by default."""

from __future__ import annotations

import itertools

import numpy as np

from surrogate.models.base import Predictor


class Ensemble(Predictor):
    """`models` (registry names) fitted on the same inputs and the same warped targets, their
    predictive distributions mixed with weights w (a stacked mixture).

    The targets are warped once, here (the members get `targets="raw"` and the warped values), so the
    members' means are on one scale: under the copula the mix is a weighted rank average (normal
    scores). `weights="stacked"` (the default) picks w on the simplex (steps of 0.05) that minimises
    the squared error of the members' out-of-sample predictions of the training targets (`oob_`:
    out-of-bag for rf and gbt, leave-one-out for gp), so a member that is worse on this table
    weighs less, without a cross-validation refit; `"equal"` mixes them equally. The combined std is
    the mixture's, `sqrt(sum_i w_i (std_i² + (mean_i - mean)²))`: each member's own uncertainty plus
    their disagreement. The base class maps mean and std back to y's units.

    `shrinkage` (0.5) mixes the stacked weights half and half with equal ones: stacking alone put
    nearly all weight on the GP and lost to gbt on one-hot encodings, equal weights alone lost to the
    GP on graf. svr and mlp are members because without them the ensemble trailed svr on small
    nb201-fmnist training sets (bench/results/predictors_robust.md).
    """

    def __init__(self, models: tuple[str, ...] = ("gp", "rf", "gbt", "svr", "mlp"), weights: str = "stacked",
                 shrinkage: float = 0.5, targets: str = "copula", seed: int | None = None):
        self.models = models
        self.weights = weights
        self.shrinkage = shrinkage
        self.targets = targets
        self.seed = seed

    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        from surrogate.models import get_model

        if not self.models or "ensemble" in self.models:
            raise ValueError(f"an ensemble needs member models other than itself, got {self.models!r}")
        if self.weights not in ("stacked", "equal"):
            raise ValueError(f"unknown ensemble weights {self.weights!r} (stacked, equal)")
        self.members_ = [get_model(name, targets="raw", seed=self.seed).fit(X, z) for name in self.models]
        self.weights_ = np.full(len(self.members_), 1 / len(self.members_))
        if self.weights == "stacked" and len(self.members_) > 1:
            oob = np.stack([m.out_of_sample(X, z) for m in self.members_])
            self.weights_ = self.shrinkage * self.weights_ + (1 - self.shrinkage) * stacked_weights(z, oob, self.weights_)

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        means, stds = (np.stack(v) for v in zip(*(m.predict(X) for m in self.members_)))
        mean = self.weights_ @ means
        return mean, np.sqrt(self.weights_ @ (stds**2 + (means - mean) ** 2))


def stacked_weights(z: np.ndarray, oob: np.ndarray, default: np.ndarray, step: float = 0.05) -> np.ndarray:
    """The weights on the simplex grid (`step`) whose mix of the out-of-sample predictions `oob`
    (members, n) is nearest `z` in squared error, over the points every member has one for;
    `default` when fewer than 5 such points. Ties go to the first in grid order."""
    ok = np.isfinite(oob).all(axis=0)
    if ok.sum() < 5:
        return default
    k, units = len(oob), int(round(1 / step))
    grid = np.array([w for w in itertools.product(range(units + 1), repeat=k - 1) if sum(w) <= units])
    grid = np.column_stack([grid, units - grid.sum(axis=1)]) / units
    errors = ((grid @ oob[:, ok] - z[ok]) ** 2).mean(axis=1)
    return grid[np.argmin(errors)]
