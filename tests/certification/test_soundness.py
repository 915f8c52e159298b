"""CERTIFY's guarantee, checked against the linear oracle.

For a binary linear base classifier f(x) = 1[w.x + b > 0], the smoothed
classifier equals f and the exact certified radius of x is |w.x + b| / ||w||
(Cohen et al., 2019). A certificate is *unsound* when it is issued (not an
abstention) with a wrong label or a radius above the exact one; CERTIFY
promises this happens with probability at most alpha per row.
"""

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.frozen import FrozenEstimator

import sksmooth.smoothing
from sksmooth import SmoothedClassifier


class LinearThreshold(ClassifierMixin, BaseEstimator):
    """f(x) = 1[w.x + b > 0]: the base classifier with a known smoothed radius."""

    def __init__(self, w=None, b=0.0):
        self.w = w
        self.b = b

    def fit(self, X=None, y=None):
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = len(self.w)
        return self

    def predict(self, X):
        return (X @ self.w + self.b > 0).astype(int)


def linear_oracle_problem(n_rows, n_features, sigma, seed):
    """Rows whose signed distance to the boundary is uniform in [-2 sigma, 2 sigma]."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n_features)
    b = rng.normal()
    w_norm = np.linalg.norm(w)
    distance = rng.uniform(-2 * sigma, 2 * sigma, n_rows)
    # Start anywhere, then move along w to the wanted signed distance.
    X = rng.normal(size=(n_rows, n_features))
    X += ((distance - (X @ w + b) / w_norm) / w_norm)[:, None] * w
    base = FrozenEstimator(LinearThreshold(w, b).fit())
    return base, X, (X @ w + b > 0).astype(int), np.abs(distance)


def unsound_count(result, true_label, exact_radius):
    issued = ~result.abstained
    wrong = (result.label != true_label) | (result.radius > exact_radius + 1e-12)
    return int(np.sum(issued & wrong))


N_ROWS, ALPHA = 600, 0.05
# If each row failed with probability exactly alpha, more failures than this
# would occur with probability below 1e-4: the check's false-alarm rate.
MAX_UNSOUND = int(stats.binom.ppf(1 - 1e-4, N_ROWS, ALPHA))


def certify_linear_oracle(seed, sigma=0.5, n_features=5):
    base, X, label, radius = linear_oracle_problem(N_ROWS, n_features, sigma, seed)
    clf = SmoothedClassifier(base, sigma=sigma, n0=50, n=300, alpha=ALPHA, random_state=seed)
    clf.fit(X, label)
    return clf.certify(X), label, radius


@pytest.mark.parametrize("seed, sigma, n_features", [(0, 0.5, 5), (1, 0.25, 50), (2, 1.0, 2)])
def test_certified_radius_is_sound_on_linear_oracle(seed, sigma, n_features):
    result, label, radius = certify_linear_oracle(seed, sigma, n_features)
    assert unsound_count(result, label, radius) <= MAX_UNSOUND
    # The check must not pass by abstaining everywhere.
    assert np.mean(~result.abstained) > 0.5


@pytest.mark.slow
def test_certified_radius_is_sound_over_many_seeds():
    # 60 problems pooled (36,000 rows): the pooled unsound rate stays within
    # alpha, with the same 1e-4 false-alarm rate as the single-seed check.
    configs = [
        (seed, sigma, d) for seed in range(20) for sigma, d in [(0.1, 3), (0.5, 20), (1.0, 100)]
    ]
    unsound = sum(unsound_count(*certify_linear_oracle(*config)) for config in configs)
    assert unsound <= stats.binom.ppf(1 - 1e-4, len(configs) * N_ROWS, ALPHA)


def test_soundness_check_catches_a_wrong_bound(monkeypatch):
    # Using the point estimate nA / n as "lower bound" overstates the radius
    # about half the time: the same check must fail.
    monkeypatch.setattr(
        sksmooth.smoothing, "clopper_pearson_lower", lambda k, n, alpha: np.asarray(k) / n
    )
    result, label, radius = certify_linear_oracle(seed=0)
    assert unsound_count(result, label, radius) > 3 * MAX_UNSOUND


def test_radius_is_close_to_exact_with_many_samples():
    # With n = 100,000 and alpha = 0.001 the Clopper-Pearson gap costs under
    # 0.02 sigma of radius for exact radii in [0.2 sigma, 1.5 sigma] (delta
    # method); 0.05 sigma is the stated tolerance.
    sigma = 0.5
    base, X, label, radius = linear_oracle_problem(200, 4, sigma, seed=3)
    keep = (radius > 0.2 * sigma) & (radius < 1.5 * sigma)
    X, label, radius = X[keep][:20], label[keep][:20], radius[keep][:20]
    clf = SmoothedClassifier(base, sigma=sigma, n=100_000, alpha=0.001, random_state=0)
    result = clf.fit(X, label).certify(X, label)
    assert result.correct.all()
    assert np.all(result.radius <= radius)
    np.testing.assert_allclose(result.radius, radius, atol=0.05 * sigma)
