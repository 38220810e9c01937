import numpy as np

from surrogate.models import get_model


def test_gbt_ensemble_spread_and_members():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 5))
    y = X[:, 0] * 2 + np.sin(3 * X[:, 1]) + rng.normal(scale=0.1, size=150)
    model = get_model("gbt", seed=0, ensemble=6, targets="raw", calibrate=False).fit(X[:100], y[:100])
    members = model.members(X[100:])
    assert members.shape == (6, 50)
    mean, std = model.predict(X[100:])
    np.testing.assert_allclose(mean, members.mean(axis=0))
    assert (std > 0).all()
    assert np.corrcoef(mean, y[100:])[0, 1] > 0.8
    # far outside the data the members disagree at least as much as inside it, on average
    _, far = model.predict(X[100:] * 6)
    assert far.mean() >= std.mean() * 0.8


def test_gbt_tiny_training_sets():
    X = np.array([[0.0], [1.0], [2.0]])
    mean, std = get_model("gbt", seed=1).fit(X, [0.0, 1.0, 2.0]).predict(X)
    assert np.isfinite(mean).all() and (std > 0).all()
    one = get_model("gbt", seed=1, ensemble=1, bootstrap=False, targets="raw").fit(X, [0.0, 1.0, 2.0])
    assert one.predict(X)[1].max() < 1e-3  # one member: only the floor remains
