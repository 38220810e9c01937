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


#: lighter hyperparameters for the tests run on every model: the default ensemble (five members, the
#: GP's cross-validation) is tested once, in test_ensemble_mixes_its_members_and_is_finite
LIGHT = {"ensemble": {"models": ("gp", "rf", "svr")}}


def light(name, **params):
    return get_model(name, **{**LIGHT.get(name, {}), **params})


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_predict_shapes_and_signal(name):
    X, y = synthetic()
    model = light(name, seed=0).fit(X[:80], y[:80])
    mean, std = model.predict(X[80:])
    assert mean.shape == std.shape == (40,)
    assert mean.dtype == std.dtype == np.float64
    assert (std > 0).all() and np.isfinite(mean).all()
    assert kendalltau(y[80:], mean).statistic > 0.5


@pytest.mark.parametrize("name", sorted(MODELS))
def test_deterministic_under_seed_and_clonable(name):
    X, y = synthetic(n=60, seed=1)
    a = light(name, seed=3).fit(X[:40], y[:40]).predict(X[40:])
    b = light(name, seed=3).fit(X[:40], y[:40]).predict(X[40:])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=1e-8)
    model = get_model(name, seed=3)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "model_")


def test_unknown_model():
    with pytest.raises(UsageError, match="known: gp, rf, svr, mlp, gbt, ensemble"):
        get_model("xgboost")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_diverged_network_barely_moves_the_others(name):
    """One training cell at 10 % among 60-90 % (a diverged network): the other predictions keep
    their order (Kendall tau >= 0.8 between the two fits; raw targets: 0.43 for gp, 0.62 for gbt)
    and move by a median of at most 0.15 std of y (raw gp: 0.39)."""
    X, y = synthetic()
    y = 60 + 30 * (y - y.min()) / np.ptp(y)
    diverged = y[:80].copy()
    diverged[5] = 10.0
    clean = light(name, seed=0).fit(X[:80], y[:80]).predict(X[80:])[0]
    mean, std = light(name, seed=0).fit(X[:80], diverged).predict(X[80:])
    assert kendalltau(clean, mean).statistic >= 0.8
    assert np.median(np.abs(clean - mean)) <= 0.15 * y.std()
    assert np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()


def test_targets_are_a_hyperparameter_and_raw_fits_y_itself():
    X, y = synthetic(n=60, seed=4)
    model = get_model("rf", seed=0)
    assert model.get_params()["targets"] == "copula" and not hasattr(model, "warp_")
    raw = get_model("rf", seed=0, targets="raw").fit(X[:40], y[:40])
    assert raw.warp_ is None
    np.testing.assert_allclose(raw.predict(X[40:])[0], raw.forest_.predict(X[40:]))
    warped = get_model("rf", seed=0).fit(X[:40], 100 + 10 * y[:40])  # the copula sees ranks only
    np.testing.assert_allclose(warped._predict(X[40:])[0], get_model("rf", seed=0).fit(X[:40], y[:40])._predict(X[40:])[0])
    with pytest.raises(UsageError, match="unknown target transform"):
        get_model("rf", targets="log").fit(X, y)


def test_warp_inverse_and_the_back_transformed_std():
    from surrogate.models.warp import Warp

    y = np.array([10.0, 61.0, 65.0, 70.0, 72.0, 80.0, 84.0, 85.0])
    warp = Warp(y)
    values = np.linspace(0, 100, 41)
    np.testing.assert_allclose(warp.inverse(warp(values)), values, atol=1e-9)  # tails included
    np.testing.assert_allclose(warp.inverse(warp(y)), y)
    assert (np.diff(warp.inverse(np.linspace(-4, 4, 50))) > 0).all()
    X = np.arange(8.0)[:, None]
    model = get_model("gp", seed=0).fit(X, y)
    z_mean, z_std = model._predict(X)
    mean, std = model.predict(X)
    np.testing.assert_allclose(mean, warp.inverse(z_mean))
    np.testing.assert_allclose(std, (warp.inverse(z_mean + z_std) - warp.inverse(z_mean - z_std)) / 2)


def test_ensemble_mixes_its_members_and_is_finite():
    X, y = synthetic(n=100, seed=5)
    y = 60 + 30 * (y - y.min()) / np.ptp(y)
    y[3] = 10.0
    model = get_model("ensemble", seed=0).fit(X[:70], y[:70])
    mean, std = model.predict(X[70:])
    assert np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()
    assert [m.targets for m in model.members_] == ["raw"] * 5  # warped once, by the ensemble
    w = model.weights_
    assert w.shape == (5,) and (w >= 1 / 10 - 1e-12).all() and w.sum() == pytest.approx(1)  # half equal, half stacked
    means, stds = (np.stack(v) for v in zip(*(m.predict(X[70:]) for m in model.members_)))
    z_mean, z_std = model._predict(X[70:])
    np.testing.assert_allclose(z_mean, w @ means)
    assert (z_std >= stds.min(axis=0) - 1e-12).all()  # the mixture is at least as wide as its narrowest member


def test_stacked_weights_prefer_the_member_that_predicts_unseen_points():
    from surrogate.models.ensemble import stacked_weights

    rng = np.random.default_rng(0)
    z = rng.normal(size=200)
    oob = np.stack([z + rng.normal(scale=0.1, size=200), rng.normal(size=200), z + rng.normal(scale=1.0, size=200)])
    w = stacked_weights(z, oob, np.full(3, 1 / 3))
    assert w[0] > 0.8 and w[1] == 0 and w.sum() == pytest.approx(1)
    oob[:, :198] = np.nan  # too few points every member predicts: the default
    np.testing.assert_array_equal(stacked_weights(z, oob, np.full(3, 1 / 3)), np.full(3, 1 / 3))


@pytest.mark.parametrize("name", ["svr", "mlp", "gbt"])
def test_bagged_stds_cover_held_out_values(name):
    """svr, mlp and gbt add what their members' spread leaves out (out-of-bag residuals): their 90 %
    intervals hold most held-out values (the spread alone: about half or less)."""
    from surrogate.metrics import interval_coverage

    X, y = synthetic(n=300, seed=6)
    y = y + np.random.default_rng(0).standard_normal(len(y))
    mean, std = get_model(name, seed=0).fit(X[:150], y[:150]).predict(X[150:])
    assert interval_coverage(y[150:], mean, std) >= 0.75


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


def test_bo_models_are_not_warped_twice():
    """bo and multi-objective bo warp their values themselves: their models fit them as given."""
    from surrogate.search.bo import BayesianOptimization
    from surrogate.search.multiobjective import MultiObjectiveBO
    from surrogate.search.problem import Problem

    assert BayesianOptimization("nb201", seed=0).predictor.targets == "raw"
    assert BayesianOptimization("nb201", seed=0, model="rf").predictor.targets == "raw"
    problem = Problem.parse(["valid_acc:max", "params:min"])
    assert all(p.targets == "raw" for p in MultiObjectiveBO("nb201", seed=0, problem=problem).predictors.values())


def _brute_kernel(x1, x2, lengthscale, orders, weights):
    """The additive overlap kernel by its definition: a sum over every subset of positions."""
    from itertools import combinations
    from math import comb

    z = np.exp(-(x1[:, None, :] != x2[None, :, :]).astype(float) / lengthscale)
    d = x1.shape[1]
    out = 0.0
    for w, q in zip(weights, orders):
        out = out + w * sum(np.prod(z[..., list(s)], axis=-1) for s in combinations(range(d), q)) / comb(d, q)
    return out


def _brute_counts(x1: np.ndarray, x2: np.ndarray, lengthscale: float) -> np.ndarray:
    """exp(-|n(x) - n(x')|^2 / 2 l^2), n(x)_v = how many positions hold choice v."""
    width = max(x1.max(), x2.max()) + 1
    n1, n2 = (np.stack([np.bincount(row, minlength=width) for row in x]) for x in (x1, x2))
    return np.exp(-((n1[:, None, :] - n2[None, :, :]) ** 2).sum(-1) / (2 * lengthscale**2))


@pytest.mark.parametrize("orders, counts, ordinal", [
    ((1,), False, False), ((2,), False, False), ((1, 2), False, False), ((1, 3), False, False),
    ((4,), False, False), ((1, 2, -1), False, False), ((1, 2, -1), True, False), ((2,), True, False),
    ((1,), False, True), ((1, 2, -1), True, True)])
def test_additive_overlap_kernel_matches_its_definition(orders, counts, ordinal):
    from surrogate.models.categorical import AdditiveOverlapKernel

    rng = np.random.default_rng(0)
    x1, x2 = rng.integers(0, 3, size=(7, 4)), rng.integers(0, 4, size=(5, 4))  # x2 holds a choice x1 never has
    kernel = AdditiveOverlapKernel(4, orders, counts, ordinal).to(torch.float64)
    kernel.lengthscale = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
    kernel._set_weights(torch.linspace(0.5, 1.5, len(orders) + counts + ordinal))
    steps = np.array([2.2, 3.0, 4.0, 6.0])
    if counts:
        kernel._set_count_lengthscale(1.7)
    if ordinal:
        kernel._set_ordinal_lengthscale(torch.tensor(steps))
    with torch.no_grad():
        got = kernel(torch.tensor(x1, dtype=torch.float64), torch.tensor(x2, dtype=torch.float64)).to_dense().numpy()
        diag = kernel(torch.tensor(x1, dtype=torch.float64), torch.tensor(x1, dtype=torch.float64), diag=True).numpy()
    weights = kernel.weights.detach().numpy()

    def brute(a, b):
        out = _brute_kernel(a, b, np.array([0.5, 1.0, 2.0, 3.0]), kernel.orders, weights)
        if counts:
            out = out + weights[len(kernel.orders)] * _brute_counts(a, b, 1.7)
        if ordinal:  # exp(-sum_i (x_i - x'_i)^2 / 2 l_i^2)
            out = out + weights[-1] * np.exp(-0.5 * (((a[:, None, :] - b[None, :, :]) / steps) ** 2).sum(-1))
        return out

    np.testing.assert_allclose(got, brute(x1, x2), rtol=1e-10)
    np.testing.assert_allclose(diag, np.diag(brute(x1, x1)), rtol=1e-10)


def test_choice_counts_learn_what_positions_share():
    """A target that depends on how often each choice occurs, wherever: the counts term ranks unseen
    rows better; on a target of positions alone it does not get in the way."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 5, size=(200, 6)).astype(float)
    n = lambda v: (X == v).sum(1)  # noqa: E731
    shared = -np.abs(n(2) - n(0)) + 0.5 * np.minimum(n(4), 2)  # no sum over positions: every order interacts
    per_position = X @ np.array([1.0, -0.5, 0.3, 0.0, 0.8, -1.0]) + (X[:, 0] == X[:, 1])
    for y, gains in ((shared, True), (per_position, False)):
        taus = [kendalltau(get_model("cgp", seed=0, counts=c).fit(X[:80], y[:80]).predict(X[80:])[0],
                           y[80:]).statistic for c in (False, True)]
        assert taus[1] > taus[0] + 0.2 if gains else taus[1] > taus[0] - 0.03, taus


def test_ordinal_term_learns_ordered_choices():
    """A smooth function of ordered choices (a bowl over each position's values, one pairwise tilt):
    the ordinal term ranks unseen rows better; on choices whose order means nothing it does not get
    much in the way."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 8, size=(400, 6)).astype(float)
    centre, slope = rng.uniform(0, 7, 6), rng.uniform(0.2, 1.0, 6)
    ordered = -(slope * (X - centre) ** 2).sum(1) + 0.3 * (X[:, 0] - centre[0]) * (X[:, 1] - centre[1])
    effects = rng.normal(size=(6, 8))
    unordered = effects[np.arange(6), X.astype(int)].sum(1)
    for y, gains in ((ordered, True), (unordered, False)):
        taus = [kendalltau(get_model("cgp", seed=0, ordinal=o).fit(X[:40], y[:40]).predict(X[100:])[0],
                           y[100:]).statistic for o in (False, True)]
        assert taus[1] > taus[0] + 0.1 if gains else taus[1] > taus[0] - 0.05, taus
        # the default ("auto") keeps the term only where the evidence pays for it, else is the plain model exactly
        auto = get_model("cgp", seed=0).fit(X[:60], y[:60])
        plain = get_model("cgp", seed=0, ordinal=False).fit(X[:60], y[:60])
        assert auto.ordinal_ is gains
        if not gains:
            np.testing.assert_array_equal(auto.predict(X[100:])[0], plain.predict(X[100:])[0])
    with pytest.raises(UsageError, match="ordinal"):
        get_model("cgp", ordinal="yes").fit(X[:20], ordered[:20])


@pytest.mark.parametrize("name", ["cgp", "gp"])
def test_joint_draws_follow_the_posterior(name):
    X = np.random.default_rng(0).integers(0, 3, size=(60, 5)).astype(float)
    y = X @ np.array([1.0, -1.0, 0.5, 0.0, 2.0]) + (X[:, 0] == X[:, 1])
    model = get_model(name, seed=0, targets="raw").fit(X[:40], y[:40])
    mean, std = model.predict(X[40:])
    rng = np.random.default_rng(1)
    draws = np.stack([model.sample_joint(X[40:], rng) for _ in range(400)])
    assert np.isfinite(draws).all()
    assert np.abs(draws.mean(0) - mean).max() <= 4 * std.max() / np.sqrt(400) + 1e-6
    np.testing.assert_allclose(draws.std(0), std, rtol=0.2, atol=1e-3)
    assert kendalltau(mean, y[40:]).statistic > 0.6
