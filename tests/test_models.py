import numpy as np
import pytest
import torch
from scipy.stats import kendalltau
from sklearn.base import clone

from surrogate.errors import UsageError
from surrogate.models import MODELS, get_model
from surrogate.models.botorch_adapter import PredictorModel


def synthetic(n=120, d=12, seed=0):
    """Binary inputs, additive effects plus one interaction, a little noise."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(n, d)).astype(float)
    w = np.linspace(-1, 2, d)
    y = X @ w + 1.5 * X[:, 0] * X[:, 1] + rng.normal(scale=0.1, size=n)
    return X, y


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_predict_shapes_and_signal(name):
    X, y = synthetic()
    model = get_model(name, seed=0).fit(X[:80], y[:80])
    mean, std = model.predict(X[80:])
    assert mean.shape == std.shape == (40,)
    assert mean.dtype == std.dtype == np.float64
    assert (std > 0).all() and np.isfinite(mean).all()
    assert kendalltau(y[80:], mean).statistic > 0.5


@pytest.mark.parametrize("name", sorted(MODELS))
def test_deterministic_under_seed_and_clonable(name):
    X, y = synthetic(n=60, seed=1)
    a = get_model(name, seed=3).fit(X[:40], y[:40]).predict(X[40:])
    b = get_model(name, seed=3).fit(X[:40], y[:40]).predict(X[40:])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=1e-8)
    model = get_model(name, seed=3)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "model_")


def test_unknown_model():
    with pytest.raises(UsageError, match="known: gp, rf, svr, mlp"):
        get_model("xgboost")


@pytest.mark.parametrize("name", ["rf", "mlp", "gp"])
def test_botorch_adapter_with_log_ei(name):
    from botorch.acquisition import LogExpectedImprovement, UpperConfidenceBound

    X, y = synthetic(n=80, seed=2)
    model = PredictorModel(get_model(name, seed=0).fit(X[:60], y[:60]))
    candidates = torch.tensor(X[60:], dtype=torch.float64).unsqueeze(1)  # (b, q=1, d)
    log_ei = LogExpectedImprovement(model, best_f=float(y[:60].max()))(candidates)
    ucb = UpperConfidenceBound(model, beta=4.0)(candidates)
    assert log_ei.shape == ucb.shape == (20,)
    assert torch.isfinite(log_ei).all() and torch.isfinite(ucb).all()
    mean, _ = model.predictor.predict(X[60:])
    assert np.corrcoef(ucb.detach().numpy(), mean)[0, 1] > 0.5


def test_log_ei_prefers_higher_mean_at_equal_std():
    from botorch.acquisition import LogExpectedImprovement

    class Fixed:
        def predict(self, X):
            return X[:, 0].copy(), np.ones(len(X))

    model = PredictorModel(Fixed())
    values = LogExpectedImprovement(model, best_f=0.0)(torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]]], dtype=torch.float64))
    assert values[1] > values[0]
