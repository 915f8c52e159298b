"""RandomSearch: a gradient-free attack on the best scores a model has, or only predict."""

import copy

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.utils.metaestimators import available_if

from sksmooth import GradientMaskedClassifier, SmoothedClassifier
from sksmooth.attacks import PGD, RandomSearch

from ..conftest import tiny_net
from .conftest import ORACLE_W, fit_tiny_net, make_data, predict32, rows_at_distance


@pytest.fixture(scope="module")
def boosting():
    """Gradient boosting (no gradient at all) and the held-out rows it gets right."""
    X, y = make_classification(400, n_features=6, n_informative=4, n_redundant=0, random_state=0)
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=100, random_state=0)
    model = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(X_train, y_train)
    correct = model.predict(X_test) == y_test
    return model, X_train, y_train, X_test[correct], y_test[correct]


def test_succeeds_on_gradient_boosting(boosting):
    model, X_train, y_train, X, y = boosting
    attack = RandomSearch(1.0, n_queries=100, random_state=0)
    fooled = model.predict(attack.generate(model, X, y)) != y
    # How far is eps = 1.0 (L-inf, in standard deviations)? The nearest training row of
    # another class is a median 0.96 away. Measured success on the 86 correct test rows:
    # 0.92-0.93 over random_state 0-4 (0.80 at eps 0.75, 0.69 at 0.5, 0.44 at 0.3), and
    # 100 or 300 queries give the same.
    assert fooled.mean() >= 0.8
    # Better than the naive attack: walk towards the nearest other-class training row
    # (measured 0.81).
    distance = np.abs(X[:, None, :] - X_train[None]).max(axis=2)
    distance[y[:, None] == y_train[None]] = np.inf
    naive = X + np.clip(X_train[distance.argmin(axis=1)] - X, -1.0, 1.0)
    assert fooled.mean() > np.mean(model.predict(naive) != y)


def test_query_accounting(boosting):
    model, _, _, X, y = boosting
    attack = RandomSearch(0.5, n_queries=40, random_state=0)
    fooled = model.predict(attack.generate(model, X, y)) != y
    assert attack.n_queries_.shape == (len(X),)
    assert np.all((attack.n_queries_ >= 1) & (attack.n_queries_ <= 40))
    # Rows stop once fooled; the others spend the whole budget.
    assert np.all(attack.n_queries_[~fooled] == 40)
    assert attack.n_queries_[fooled].mean() < 40
    assert 0 < fooled.mean() < 1  # both kinds of rows are present


def test_not_fooled_by_gradient_masking(quantized, data):
    X, y = data
    pgd = PGD(0.5, steps=20, random_state=0).generate(quantized, X, y)
    search = RandomSearch(0.5, n_queries=100, random_state=0).generate(quantized, X, y)
    # Measured accuracy: clean 0.945, after PGD 0.91, after RandomSearch 0.305.
    assert np.mean(quantized.predict(search) == y) < np.mean(quantized.predict(pgd) == y) - 0.3


class PredictOnly(ClassifierMixin, BaseEstimator):
    """A fitted model seen through ``predict`` alone (and ``predict_proba`` if asked)."""

    def __init__(self, model=None, proba=False):
        self.model = model
        self.proba = proba

    def fit(self, X, y):
        return self

    def __sklearn_is_fitted__(self):
        return True

    @property
    def classes_(self):
        return self.model.classes_

    def predict(self, X):
        return self.model.predict(np.asarray(X, dtype=np.float32))

    @available_if(lambda self: self.proba)
    def predict_proba(self, X):
        return self.model.predict_proba(np.asarray(X, dtype=np.float32))


def test_predict_only_model_never_beats_the_exact_distance(data):
    # Through predict alone RandomSearch sees only right / wrong. A linear model's
    # exact L-inf distance to the boundary is |f(x)| / ||w||_1, so which rows can be
    # fooled is known.
    X, y = data
    model = LinearSVC().fit(X, y)
    correct = model.predict(X) == y
    X, y = X[correct], y[correct]
    distance = np.abs(model.decision_function(X)) / np.abs(model.coef_).sum()
    for eps in (0.3, 1.0):
        attack = RandomSearch(eps, n_queries=100, random_state=0)
        fooled = model.predict(attack.generate(PredictOnly(model), X, y)) != y
        assert attack.score_method_ == "predict"
        assert np.all(distance[fooled] <= eps)
    # All rows are within 1.0; measured success 0.78.
    assert np.all(distance <= 1.0)
    assert fooled.mean() >= 0.6
    # Its decision_function gives the margin itself: the corner -sign(f) eps sign(w)
    # flips every row within eps (measured: all of them).
    attack = RandomSearch(1.0, n_queries=100, random_state=0)
    fooled = model.predict(attack.generate(model, X, y)) != y
    assert attack.score_method_ == "decision_function"
    assert fooled.mean() >= 0.95


# ------------------------------------------------------- where the margin comes from


def saturated_net(n_features=20):
    """A net whose predict_proba is exactly 0 or 1 (float32) on every row: logits x 1000."""
    X, y = make_data(n_samples=300, n_features=n_features)
    net = copy.deepcopy(fit_tiny_net(X, y))
    last = [m for m in net.module_.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(1000.0)
        last.bias.mul_(1000.0)
    return net, X, y


def test_search_sees_through_a_saturated_softmax():
    net, X, y = saturated_net()
    proba = net.predict_proba(X.astype(np.float32))
    assert np.all((proba == 0) | (proba == 1))
    right = predict32(net, X) == y
    X, y = X[right], y[right]

    def success(model):
        attack = RandomSearch(1.0, norm="l2", n_queries=200, random_state=0)
        fooled = predict32(net, attack.generate(model, X, y)) != y
        return fooled.mean(), attack.score_method_

    # Measured: on the logits 0.71 (margin PGD 0.75); on the saturated
    # probabilities 0.32, where every proposal looks as good as the last.
    logits, method = success(net)
    assert method == "logits"
    probabilities, method = success(PredictOnly(net, proba=True))
    assert method == "predict_proba"
    pgd = PGD(1.0, norm="l2", loss="margin", random_state=0).generate(net, X, y)
    assert logits >= np.mean(predict32(net, pgd) != y) - 0.1
    assert logits >= probabilities + 0.3


def test_margin_comes_from_the_best_scores_each_model_has(net, quantized, stochastic, data):
    X, y = data
    masked_distillation = GradientMaskedClassifier(
        tiny_net(), method="distillation", temperature=20.0, random_state=0
    ).fit(X, y)
    expected = {
        "logits": [net, quantized, masked_distillation],
        # Its forward draws other noise than its predict: its own probabilities.
        "predict_proba": [stochastic, GaussianNB().fit(X, y), PredictOnly(net, proba=True)],
        "decision_function": [
            LogisticRegression().fit(X, y),
            HistGradientBoostingClassifier(max_iter=5).fit(X, y),
        ],
        "predict": [PredictOnly(net)],
    }
    for method, models in expected.items():
        for model in models:
            attack = RandomSearch(0.3, n_queries=5, random_state=0)
            attack.generate(model, X[:10], y[:10])
            assert attack.score_method_ == method, type(model).__name__


def test_multiclass_and_one_vs_one_scores():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for model, method in [
        (LogisticRegression().fit(X, y), "decision_function"),
        # Three one-vs-one scores for three classes are no score per class.
        (SVC(decision_function_shape="ovo").fit(X, y), "predict"),
    ]:  # fmt: skip
        right = model.predict(X) == y
        attack = RandomSearch(1.0, n_queries=50, random_state=0)
        fooled = model.predict(attack.generate(model, X[right], y[right])) != y[right]
        assert attack.score_method_ == method
        assert fooled.mean() > 0.5
        # Rows stop once fooled: the margin's sign is the prediction's.
        assert np.all(attack.n_queries_[~fooled] == 50)


def test_smoothed_classifier(data):
    X, y = data
    smoothed = SmoothedClassifier(
        LogisticRegression(), sigma=0.25, n0=10, n=100, n_samples=50, random_state=0
    ).fit(X, y)
    X, y = X[:40], y[:40]
    X_adv = RandomSearch(1.0, norm="l2", n_queries=20, random_state=0).generate(smoothed, X, y)
    assert np.linalg.norm(X_adv - X, axis=1).max() <= 1.0
    assert np.mean(smoothed.predict(X_adv) == y) < np.mean(smoothed.predict(X) == y)


# ---------------------------------------------------------- linear oracle


@pytest.mark.parametrize("distance", [0.4, 0.8, 1.5])
def test_l2_search_cannot_cross_a_boundary_farther_than_eps(linear_net, distance):
    X, y = rows_at_distance(distance, 10)
    X_adv = RandomSearch(0.98 * distance, norm="l2", n_queries=200, random_state=0).generate(
        linear_net, X, y
    )
    assert np.all(predict32(linear_net, X_adv) == y)


@pytest.mark.parametrize("distance", [0.2, 0.4, 0.8])
def test_linf_search_finds_the_best_corner(linear_net, distance):
    # The smallest L-inf flip is the corner -sign(f) * distance * sign(w): RandomSearch
    # proposes corners, so just beyond the distance it flips every row, and just short
    # of it none.
    X, y = rows_at_distance(distance, 10, dual_norm=1)
    np.testing.assert_allclose(
        np.abs(X @ ORACLE_W + 0.25) / np.abs(ORACLE_W).sum(), distance, rtol=1e-12
    )
    beyond = RandomSearch(1.02 * distance, n_queries=100, random_state=0)
    assert np.all(predict32(linear_net, beyond.generate(linear_net, X, y)) != y)
    short = RandomSearch(0.98 * distance, n_queries=100, random_state=0)
    assert np.all(predict32(linear_net, short.generate(linear_net, X, y)) == y)


# ------------------------------------------------------------- parameters


def test_empty_feature_mask_changes_nothing(net, data):
    X, y = data
    attack = RandomSearch(0.5, feature_mask=np.zeros(X.shape[1], bool), random_state=0)
    assert np.array_equal(attack.generate(net, X, y), X)
    assert np.all(attack.n_queries_ == 0)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_queries": 0}, r"n_queries == 0, must be >= 1"),
        ({"p_init": 0.0}, r"p_init == 0.0, must be > 0"),
        ({"p_init": 1.5}, r"p_init == 1.5, must be <= 1"),
    ],
)
def test_invalid_parameters_raise(params, match, net, data):
    with pytest.raises(ValueError, match=match):
        RandomSearch(0.1, **params).generate(net, *data)


def test_bounds_with_some_rows_fooled_early(boosting):
    model, _, _, X, y = boosting
    bounds = (X.min(axis=0), X.max(axis=0))
    X_adv = RandomSearch(0.5, bounds=bounds, random_state=0).generate(model, X, y)
    assert np.all((X_adv >= bounds[0]) & (X_adv <= bounds[1]))
