"""Base classifiers whose smoothed classifier is known exactly, shared by the soundness tests."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

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
