"""How well predictions rank and fit held-out architectures (scipy does the statistics)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

METRIC_NAMES = ("kendall_tau", "spearman", "pearson", "precision_top1pct", "precision_top5pct", "rmse", "nll",
                "coverage90")

#: half-width of the central 90 % interval of a normal, in stds.
Z90 = float(stats.norm.ppf(0.95))


def top_k_precision(y_true: np.ndarray, y_pred: np.ndarray, fraction: float) -> float:
    """Share of the truly best `fraction` of architectures that the prediction also puts there."""
    k = max(1, math.ceil(fraction * len(y_true)))
    true_top = np.argsort(-y_true, kind="stable")[:k]
    pred_top = np.argsort(-y_pred, kind="stable")[:k]
    return len(np.intersect1d(true_top, pred_top)) / k


def gaussian_nll(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray) -> float:
    """Mean negative log likelihood of the true values under independent N(mean, std^2)."""
    return float(-stats.norm.logpdf(y_true, loc=mean, scale=np.maximum(std, 1e-12)).mean())


def interval_coverage(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray, z: float = Z90) -> float:
    """Share of the true values inside mean ± z std (the central 90 % interval by default): about
    0.9 for a calibrated std, less when it is too small. NaN when the std is (no uncertainty)."""
    if np.isnan(std).any():
        return np.nan
    return float(np.mean(np.abs(y_true - mean) <= z * std))


def prediction_metrics(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """All of METRIC_NAMES; correlations of a constant prediction are NaN (scipy's convention)."""
    y_true, mean, std = (np.asarray(a, dtype=np.float64) for a in (y_true, mean, std))
    constant = np.ptp(mean) == 0
    return {
        "kendall_tau": np.nan if constant else float(stats.kendalltau(y_true, mean).statistic),
        "spearman": np.nan if constant else float(stats.spearmanr(y_true, mean).statistic),
        "pearson": np.nan if constant else float(stats.pearsonr(y_true, mean).statistic),
        "precision_top1pct": top_k_precision(y_true, mean, 0.01),
        "precision_top5pct": top_k_precision(y_true, mean, 0.05),
        "rmse": float(np.sqrt(np.mean((y_true - mean) ** 2))),
        "nll": gaussian_nll(y_true, mean, std),
        "coverage90": interval_coverage(y_true, mean, std),
    }
