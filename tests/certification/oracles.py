"""Base classifiers whose smoothed classifier is known exactly, shared by the soundness tests."""

import zlib

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


def seed_of(*case):
    """A seed of its own for each test case, the same on every run."""
    return zlib.crc32(repr(case).encode())


# Every noise with every norm it certifies.
NOISE_NORMS = [
    ("gaussian", "l2"),
    ("gaussian", "linf"),
    ("laplace", "l1"),
    ("laplace", "linf"),
    ("uniform", "l1"),
    ("uniform", "linf"),
]


class LinearThreshold(ClassifierMixin, BaseEstimator):
    """f(x) = 1[w.x + b > 0]: its own smoothed classifier under any symmetric noise.

    So the exact robust distance of x is its distance to the hyperplane,
    ``|w.x + b| / ||w||_q`` with ``q`` the dual of the certified norm.
    """

    def __init__(self, w=None, b=0.0):
        self.w = w
        self.b = b

    def fit(self, X=None, y=None):
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = len(self.w)
        return self

    def predict(self, X):
        return (X @ self.w + self.b > 0).astype(int)


class CategoryIn(ClassifierMixin, BaseEstimator):
    """f(x) = 1[x[column] in categories]: depends on one categorical column only.

    Under random replacement (keep with probability ``1 - q``, else uniform
    over the ``K`` categories) its smoothed probability of class 1 is
    ``q * m / K + (1 - q) * 1[x[column] in categories]``, ``m`` the size of
    the set, whatever the other columns.
    """

    def __init__(self, column=0, categories=()):
        self.column = column
        self.categories = categories

    def fit(self, X=None, y=None):
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        return np.isin(X[:, self.column], self.categories).astype(int)


class LinearWithCategoryScores(ClassifierMixin, BaseEstimator):
    """f(x) = 1[w.x + b + scores[x[column]] > 0], with ``w[column] = 0``.

    Under Gaussian noise of scale sigma on the other columns and random
    replacement on ``column``, its smoothed probability of class 1 is the
    mixture ``sum_c P(draw c) Phi((w.x + b + scores[c]) / (sigma ||w||))``.
    """

    def __init__(self, w=None, b=0.0, column=0, scores=None):
        self.w = w
        self.b = b
        self.column = column
        self.scores = scores

    def fit(self, X=None, y=None):
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = len(self.w)
        return self

    def predict(self, X):
        codes = X[:, self.column].astype(int)
        return (X @ self.w + self.b + np.asarray(self.scores)[codes] > 0).astype(int)
