import numpy as np
import pytest
from scipy import stats

from surrogate.metrics import METRIC_NAMES, gaussian_nll, prediction_metrics, top_k_precision


def test_metrics_agree_with_scipy_on_known_inputs():
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    pred = y + rng.normal(scale=0.5, size=300)
    std = np.full(300, 0.5)
    m = prediction_metrics(y, pred, std)
    assert set(m) == set(METRIC_NAMES)
    assert m["kendall_tau"] == pytest.approx(stats.kendalltau(y, pred).statistic)
    assert m["spearman"] == pytest.approx(stats.spearmanr(y, pred).statistic)
    assert m["pearson"] == pytest.approx(stats.pearsonr(y, pred).statistic)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((y - pred) ** 2)))
    assert m["nll"] == pytest.approx(np.mean(0.5 * np.log(2 * np.pi * 0.25) + (y - pred) ** 2 / (2 * 0.25)))


def test_hand_computed_values():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert prediction_metrics(y, y, np.ones(4))["kendall_tau"] == 1.0
    assert prediction_metrics(y, -y, np.ones(4))["pearson"] == pytest.approx(-1.0)  # signed
    assert gaussian_nll(np.zeros(1), np.zeros(1), np.ones(1)) == pytest.approx(0.5 * np.log(2 * np.pi))


def test_interval_coverage():
    from surrogate.metrics import interval_coverage

    rng = np.random.default_rng(1)
    y = rng.normal(size=20000)
    assert interval_coverage(y, np.zeros_like(y), np.ones_like(y)) == pytest.approx(0.9, abs=0.01)
    assert interval_coverage(y, np.zeros_like(y), np.full_like(y, 0.1)) < 0.2
    assert np.isnan(prediction_metrics(y[:5], y[:5], np.full(5, np.nan))["coverage90"])


def test_top_k_precision():
    y = np.arange(200.0)
    assert top_k_precision(y, y, 0.05) == 1.0
    assert top_k_precision(y, -y, 0.05) == 0.0
    swapped = y.copy()
    swapped[[199, 0]] = swapped[[0, 199]]  # the best is predicted worst
    assert top_k_precision(y, swapped, 0.01) == 0.5  # k = 2


def test_constant_prediction_has_no_correlation():
    m = prediction_metrics(np.arange(10.0), np.zeros(10), np.ones(10))
    assert np.isnan(m["kendall_tau"]) and np.isnan(m["pearson"])
