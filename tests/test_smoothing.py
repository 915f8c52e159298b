"""SmoothedClassifier as a scikit-learn estimator: API, determinism, errors.

The statistical soundness of the certificates is tested elsewhere; here the
Monte Carlo settings are small so that the whole file runs in seconds.
"""

import copy
import pickle
import re
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_blobs, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from skorch.callbacks import EpochScoring
from torch import nn

from sksmooth import CertificationResult, SmoothedClassifier
from sksmooth.nets import MLPModule

from .conftest import tiny_net

FAST = {"sigma": 0.25, "n0": 20, "n": 500, "n_samples": 100, "random_state": 0}
N_FEATURES = 4


def make_base(kind):
    """A fresh, unfitted base classifier of the given kind."""
    if kind == "logreg":
        return LogisticRegression()
    return tiny_net(max_epochs=5)


BASE_KINDS = ["logreg", "net"]


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=150,
        n_features=N_FEATURES,
        n_informative=3,
        n_redundant=0,
        n_clusters_per_class=1,
        class_sep=1.0,
        random_state=0,
    )
    return X, y


@pytest.fixture(scope="module", params=BASE_KINDS)
def fitted(request, data):
    """A fitted SmoothedClassifier per base kind, shared: tests must not modify it."""
    return SmoothedClassifier(make_base(request.param), **FAST).fit(*data)


def assert_same_certificates(a: CertificationResult, b: CertificationResult):
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_array_equal(a.radius, b.radius)
    np.testing.assert_array_equal(a.p_lower, b.p_lower)
    np.testing.assert_array_equal(a.abstained, b.abstained)


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts class 1 where the first feature is positive; records its inputs.

    Its ``predict`` is nearly free, so Monte Carlo loops with millions of draws
    stay fast, and it keeps the largest batch and the total rows it classified.
    """

    def fit(self, X, y):
        self.X_fit_ = np.array(X, copy=True)
        self.y_fit_ = np.array(y, copy=True)
        self.classes_ = np.unique(y)
        self.reset_record()
        return self

    def reset_record(self):
        self.max_batch_ = 0
        self.n_predicted_ = 0
        self.n_calls_ = 0

    def predict(self, X):
        X = np.asarray(X)
        self.n_calls_ += 1
        self.max_batch_ = max(self.max_batch_, len(X))
        self.n_predicted_ += len(X)
        return self.classes_[(X[:, 0] > 0).astype(int)]


class ConstantClassifier(ClassifierMixin, BaseEstimator):
    """Always predicts ``label``, whatever it was fitted on."""

    def __init__(self, label=7):
        self.label = label

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.label)


# ------------------------------------------------------------------ pipelines


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_pipeline_fit_predict_score_certify(kind, data):
    X, y = data
    # Features on very different scales: the scaler must come first for
    # sigma to mean the same thing in every direction.
    X = X * np.array([1.0, 10.0, 100.0, 0.1]) + 3.0
    pipe = make_pipeline(StandardScaler(), SmoothedClassifier(make_base(kind), **FAST))
    pipe.fit(X, y)
    smoothed = pipe[-1]
    np.testing.assert_array_equal(smoothed.classes_, [0, 1])
    assert smoothed.n_features_in_ == N_FEATURES

    labels = pipe.predict(X)
    assert labels.shape == (len(X),)
    assert set(labels) <= {0, 1}
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    assert pipe.score(X, y) > 0.8

    Z = pipe[:-1].transform(X)
    np.testing.assert_array_equal(smoothed.predict(Z), labels)
    result = smoothed.certify(Z, y)
    assert len(result) == len(X)
    assert set(result.label) <= {0, 1}
    assert np.all(result.radius >= 0)
    np.testing.assert_array_equal(result.radius == 0, result.abstained)
    np.testing.assert_array_equal(result.correct, ~result.abstained & (result.label == y))
    np.testing.assert_array_equal(result.n_samples, FAST["n"])
    assert (result.sigma, result.alpha) == (FAST["sigma"], smoothed.alpha)
    assert result.certified_accuracy(0.0) > 0.7


# ------------------------------------------------------- params and cloning


def test_clone_and_nested_params_logreg(data):
    clf = SmoothedClassifier(LogisticRegression(C=2.0), sigma=0.5, n=300, random_state=3)
    params = clf.get_params()
    assert params["estimator__C"] == 2.0
    assert params["sigma"] == 0.5

    cloned = clone(clf)
    assert cloned is not clf and cloned.estimator is not clf.estimator
    assert cloned.get_params(deep=False).keys() == clf.get_params(deep=False).keys()
    assert cloned.estimator.C == 2.0 and cloned.n == 300 and cloned.random_state == 3

    clf.set_params(estimator__C=0.01, n0=20, n_samples=50)
    assert clf.estimator.C == 0.01
    clf.fit(*data)
    assert clf.estimator_.C == 0.01
    assert cloned.estimator.C == 2.0  # the clone is independent


def test_nested_params_reach_skorch_net(data):
    clf = SmoothedClassifier(tiny_net(), **FAST)
    params = clf.get_params()
    assert "estimator__max_epochs" in params
    assert params["estimator__module__hidden_units"] == (16,)

    clf.set_params(estimator__max_epochs=2, estimator__module__hidden_units=(3,))
    clf.fit(*data)
    assert len(clf.estimator_.history) == 2
    assert clf.estimator_.module_.layers[0].out_features == 3
    # Layer sizes were set from the data.
    assert clf.estimator_.module_.layers[0].in_features == N_FEATURES
    assert clf.estimator_.module_.layers[-1].out_features == 2


def test_fit_does_not_mutate_logreg_estimator(data):
    base = LogisticRegression(C=0.5)
    before = base.get_params()
    clf = SmoothedClassifier(base, **FAST).fit(*data)
    assert clf.estimator is base
    assert clf.estimator_ is not base
    assert base.get_params() == before
    with pytest.raises(NotFittedError):
        check_is_fitted(base)


def test_fit_does_not_mutate_skorch_estimator(data):
    scoring = EpochScoring("accuracy", on_train=True, name="train_acc")
    callbacks = [("train_acc", scoring)]
    base = tiny_net(max_epochs=2, callbacks=callbacks)
    before = base.get_params(deep=False)
    clf = SmoothedClassifier(base, **FAST).fit(*data)
    assert clf.estimator is base
    assert base.get_params(deep=False) == before
    # The noise callback went into the clone, not into the user's list.
    assert base.callbacks is callbacks and callbacks == [("train_acc", scoring)]
    assert not hasattr(base, "module_") and not base.initialized_
    assert "sksmooth_noise" in dict(clf.estimator_.callbacks_)


# ------------------------------------------------------------- persistence


def _roundtrip(model, how, tmp_path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(model))
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    return joblib.load(path)


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_persistence_round_trip_is_exact(fitted, data, how, tmp_path):
    X, y = data
    X = X[:40]
    loaded = _roundtrip(fitted, how, tmp_path)
    assert loaded is not fitted
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert_same_certificates(loaded.certify(X, y[:40]), fitted.certify(X, y[:40]))


# ------------------------------------------------------------- determinism


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_same_random_state_gives_identical_results(kind, data):
    X, y = data
    first = SmoothedClassifier(make_base(kind), **FAST).fit(X, y)
    second = SmoothedClassifier(make_base(kind), **FAST).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert_same_certificates(first.certify(X), second.certify(X))

    # ... and the seed is really used: another seed changes the Monte Carlo draws.
    other = SmoothedClassifier(make_base(kind), **{**FAST, "random_state": 1}).fit(X, y)
    assert not np.array_equal(other.certify(X).p_lower, first.certify(X).p_lower)


def test_results_do_not_depend_on_batch_size(fitted, data):
    X = data[0][:20]
    small = copy.deepcopy(fitted).set_params(batch_size=7)
    large = copy.deepcopy(fitted).set_params(batch_size=1000)
    np.testing.assert_array_equal(small.predict_proba(X), large.predict_proba(X))
    assert_same_certificates(small.certify(X), large.certify(X))


def test_results_do_not_depend_on_row_order(fitted, data, rng):
    X = data[0]
    perm = rng.permutation(len(X))
    np.testing.assert_array_equal(fitted.predict_proba(X[perm]), fitted.predict_proba(X)[perm])
    full = fitted.certify(X)
    permuted = fitted.certify(X[perm])
    for name in ("label", "radius", "p_lower", "abstained"):
        np.testing.assert_array_equal(getattr(permuted, name), getattr(full, name)[perm])


def test_results_do_not_depend_on_other_rows(fitted, data):
    X = data[0]
    full = fitted.certify(X)
    subset = fitted.certify(X[10:15])
    for name in ("label", "radius", "p_lower", "abstained"):
        np.testing.assert_array_equal(getattr(subset, name), getattr(full, name)[10:15])
    np.testing.assert_array_equal(fitted.predict_proba(X[[3]]), fitted.predict_proba(X)[[3]])


def test_results_do_not_depend_on_memory_layout(fitted, data):
    # Row seeds hash the row bytes: a Fortran-ordered copy must hash the same.
    X = data[0][:20]
    assert_same_certificates(fitted.certify(np.asfortranarray(X)), fitted.certify(X))


def test_signed_zero_does_not_change_results():
    # 0.0 == -0.0, so a smoothed classifier that is a function of its input
    # must give both rows the same result ("equal rows get equal seeds").
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 2))
    y = (X[:, 0] > 0).astype(int)
    clf = SmoothedClassifier(LogisticRegression(), **FAST).fit(X, y)
    positive, negative = np.array([[0.0, 0.3]]), np.array([[-0.0, 0.3]])
    np.testing.assert_array_equal(clf.predict_proba(positive), clf.predict_proba(negative))


# ------------------------------------------------------------------ pandas


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_dataframe_and_string_labels(kind, data):
    X, y = data
    columns = [f"feature_{i}" for i in range(N_FEATURES)]
    frame = pd.DataFrame(X, columns=columns)
    labels = np.where(y == 1, "fraud", "legit")
    clf = SmoothedClassifier(make_base(kind), **FAST).fit(frame, labels)

    np.testing.assert_array_equal(clf.feature_names_in_, columns)
    np.testing.assert_array_equal(clf.classes_, ["fraud", "legit"])
    predicted = clf.predict(frame)
    assert set(predicted) <= {"fraud", "legit"}
    assert np.mean(predicted == labels) > 0.8

    result = clf.certify(frame, pd.Series(labels))
    assert set(result.label) <= {"fraud", "legit"}
    np.testing.assert_array_equal(result.correct, ~result.abstained & (result.label == labels))
    assert result.correct.any()


def test_dataframe_with_other_column_names_is_rejected(data):
    X, y = data
    frame = pd.DataFrame(X, columns=list("abcd"))
    clf = SmoothedClassifier(LogisticRegression(), **FAST).fit(frame, y)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"a": "z"}))


# ------------------------------------------------------------ abstain_label


def test_no_abstain_label_never_abstains(fitted, data):
    X = data[0]
    assert fitted.abstain_label is None
    predicted = fitted.predict(X)
    np.testing.assert_array_equal(
        predicted, fitted.classes_[fitted.predict_proba(X).argmax(axis=1)]
    )


def test_too_few_samples_always_abstain(data):
    # With 10 samples the two-sided binomial p-value is at least
    # 2 * 0.5**10 ~ 0.002 > alpha, so PREDICT can never commit.
    X, y = data
    params = {**FAST, "n_samples": 10, "alpha": 0.001, "abstain_label": -1}
    clf = SmoothedClassifier(LogisticRegression(), **params).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), np.full(len(X), -1))


def test_string_abstain_label_with_string_classes(data):
    X, y = data
    labels = np.where(y == 1, "fraud", "legit")
    clf = SmoothedClassifier(LogisticRegression(), abstain_label="abstain", **FAST)
    clf.fit(X, labels)
    predicted = clf.predict(X)
    assert set(predicted) <= {"fraud", "legit", "abstain"}
    abstained = predicted == "abstain"
    # Rows near the decision boundary abstain, clear rows do not.
    assert 0 < abstained.sum() < len(X) / 2
    # Where it commits, it returns the plain (never abstaining) prediction.
    plain = clone(clf).set_params(abstain_label=None).fit(X, labels).predict(X)
    np.testing.assert_array_equal(predicted[~abstained], plain[~abstained])


# ---------------------------------------------------------- FrozenEstimator


def test_frozen_logreg_is_not_refitted(data):
    X, y = data
    labels = np.where(y == 1, "b", "a")
    model = LogisticRegression().fit(X, labels)
    coef, intercept = model.coef_.copy(), model.intercept_.copy()
    # y holds only one class: classes_ must come from the frozen model, not from y.
    clf = SmoothedClassifier(FrozenEstimator(model), **FAST).fit(X[:20], np.full(20, "a"))
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_array_equal(model.intercept_, intercept)
    np.testing.assert_array_equal(clf.classes_, ["a", "b"])
    assert clf.score(X, labels) > 0.8


def test_frozen_skorch_net(data):
    X, y = data
    torch.manual_seed(0)
    net = tiny_net(
        max_epochs=5,
        module__input_units=N_FEATURES,
        module__output_units=2,
        module__dropout=0.5,
    ).fit(X.astype(np.float32), y.astype(np.int64))
    weights = {k: v.clone() for k, v in net.module_.state_dict().items()}
    net.module_.train()  # dropout active: smoothing must switch it off

    clf = SmoothedClassifier(FrozenEstimator(net), **FAST).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)  # no dropout noise
    assert clf.score(X, y) > 0.8
    assert clf.certify(X[:10]).label.shape == (10,)
    assert net.module_.training  # mode restored
    for name, value in net.module_.state_dict().items():
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0)


@pytest.mark.parametrize("base", [LogisticRegression(), tiny_net()], ids=BASE_KINDS)
def test_unfitted_frozen_estimator_is_rejected(base, data):
    with pytest.raises(ValueError, match="fit it before freezing"):
        SmoothedClassifier(FrozenEstimator(base), **FAST).fit(*data)


def test_frozen_estimator_with_wrong_number_of_features(data):
    X, y = data
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="fitted on 4 features"):
        SmoothedClassifier(FrozenEstimator(model), **FAST).fit(X[:, :3], y)

    net = tiny_net(max_epochs=1, module__input_units=N_FEATURES, module__output_units=2)
    net.fit(X.astype(np.float32), y.astype(np.int64))
    # MLPModule names the width it takes (another module's torch error gets fit's words).
    with pytest.raises(ValueError, match=r"shape \(1, 3\); the module takes \(batch, 4\)"):
        SmoothedClassifier(FrozenEstimator(net), **FAST).fit(X[:, :3], y)


def test_frozen_net_with_wrong_output_size(data):
    X, y = data
    net = tiny_net(max_epochs=1, module__input_units=N_FEATURES, module__output_units=3)
    net.fit(X.astype(np.float32), y.astype(np.int64))
    with pytest.raises(ValueError, match="one score per class"):
        SmoothedClassifier(FrozenEstimator(net), **FAST).fit(X, y)


class UnsortedClassesClassifier(ClassifierMixin, BaseEstimator):
    """Has classes_ in non-sorted order, as a hand-made model may."""

    def fit(self, X, y):
        self.classes_ = np.array(["legit", "fraud"])
        return self

    def predict(self, X):
        return np.where(np.asarray(X)[:, 0] > 0, "fraud", "legit")


def test_frozen_estimator_with_unsorted_classes(data):
    X, y = data
    model = UnsortedClassesClassifier().fit(X, y)
    labels = np.where(y == 1, "fraud", "legit")
    clf = SmoothedClassifier(FrozenEstimator(model), **FAST).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["legit", "fraud"])
    rows = np.array([[3.0, 0, 0, 0], [-3.0, 0, 0, 0]])
    np.testing.assert_array_equal(clf.predict(rows), ["fraud", "legit"])
    # Columns of predict_proba follow classes_, not sorted order.
    np.testing.assert_array_equal(clf.predict_proba(rows), [[0.0, 1.0], [1.0, 0.0]])


def test_frozen_estimator_with_unknown_labels(data):
    X, y = data
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="does not know"):
        SmoothedClassifier(FrozenEstimator(model), **FAST).fit(X, np.where(y == 1, 2, 0))


# -------------------------------------------------------------- bad inputs


def _logreg_clf(data, **params):
    return SmoothedClassifier(LogisticRegression(), **{**FAST, **params}).fit(*data)


@pytest.mark.parametrize(
    "value, message", [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")]
)
@pytest.mark.parametrize("method", ["fit", "predict", "predict_proba", "certify"])
def test_non_finite_X_is_rejected(method, value, message, data):
    X, y = data
    X_bad = X.copy()
    X_bad[3, 1] = value
    if method == "fit":
        with pytest.raises(ValueError, match=message):
            SmoothedClassifier(LogisticRegression(), **FAST).fit(X_bad, y)
    else:
        clf = _logreg_clf(data)
        with pytest.raises(ValueError, match=message):
            getattr(clf, method)(X_bad)


@pytest.mark.parametrize("n_columns", [3, 5])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "certify"])
def test_wrong_number_of_features_is_rejected(method, n_columns, fitted, rng):
    X_bad = rng.standard_normal((5, n_columns))
    with pytest.raises(ValueError, match=f"X has {n_columns} features, but SmoothedClassifier"):
        getattr(fitted, method)(X_bad)


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"sigma": 0}, ValueError, "sigma must be a finite number > 0, got 0"),
        ({"sigma": -1}, ValueError, "sigma must be a finite number > 0, got -1"),
        ({"sigma": np.inf}, ValueError, "sigma must be a finite number > 0, got inf"),
        ({"sigma": np.nan}, ValueError, "sigma must be a finite number > 0, got nan"),
        ({"sigma": "0.25"}, TypeError, "sigma must be a number, an array-like"),
        ({"sigma": [0.1] * 3}, ValueError, "sigma has shape (3,); per-column sigma needs"),
        ({"sigma": {"x0": 1.0}}, ValueError, "sigma is a mapping of column names, but"),
        ({"noise": "cauchy"}, ValueError, "noise must be one of 'gaussian', 'laplace'"),
        ({"noise": None}, ValueError, "noise must be one of"),
        ({"alpha": 0}, ValueError, "alpha == 0, must be > 0"),
        ({"alpha": 1}, ValueError, "alpha == 1, must be <= 0.5"),
        ({"alpha": 1 - 1e-12}, ValueError, "must be <= 0.5"),
        ({"alpha": 1.5}, ValueError, "alpha == 1.5, must be <= 0.5"),
        ({"n0": 0}, ValueError, "n0 == 0, must be >= 1"),
        ({"n": 0}, ValueError, "n == 0, must be >= 1"),
        ({"n_samples": 0}, ValueError, "n_samples == 0, must be >= 1"),
        ({"batch_size": 0}, ValueError, "batch_size == 0, must be >= 1"),
        ({"n_noisy_copies": 0}, ValueError, "n_noisy_copies == 0, must be >= 1"),
        ({"n": 1.5}, TypeError, "n must be an instance of int"),
        ({"batch_size": 100.0}, TypeError, "batch_size must be an instance of int"),
    ],
)
def test_invalid_params_are_rejected_in_fit(params, error, message, data):
    clf = SmoothedClassifier(LogisticRegression(), **{**FAST, **params})
    with pytest.raises(error, match=re.escape(message)):
        clf.fit(*data)


@pytest.mark.parametrize(
    "method, params, message",
    [
        ("predict", {"n_samples": 0}, "n_samples == 0"),
        ("predict_proba", {"sigma": -1.0}, "sigma must be a finite number > 0, got -1.0"),
        ("predict", {"noise": "normal"}, "noise must be one of"),
        ("certify", {"n": 0}, "n == 0"),
        ("certify", {"alpha": 1}, "alpha == 1"),
    ],
)
def test_invalid_params_set_after_fit_are_rejected(method, params, message, fitted, data):
    clf = copy.deepcopy(fitted).set_params(**params)
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(clf, method)(data[0][:3])


def test_numpy_integer_params_are_accepted(data):
    X, y = data
    clf = _logreg_clf(data, n0=np.int64(20), n=np.int32(200), sigma=np.float32(0.25))
    assert len(clf.certify(X[:3])) == 3


@pytest.mark.parametrize("method", ["predict", "predict_proba", "certify"])
def test_not_fitted(method, data):
    clf = SmoothedClassifier(LogisticRegression(), **FAST)
    with pytest.raises(NotFittedError, match="SmoothedClassifier instance is not fitted yet"):
        getattr(clf, method)(data[0])


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_single_class_is_rejected(kind, data):
    X, _ = data
    with pytest.raises(ValueError, match="only one class"):
        SmoothedClassifier(make_base(kind), **FAST).fit(X, np.zeros(len(X), dtype=int))


def test_continuous_target_is_rejected(data):
    X, _ = data
    with pytest.raises(ValueError, match="Unknown label type"):
        SmoothedClassifier(LogisticRegression(), **FAST).fit(X, X[:, 0])


def test_estimator_without_predict_is_rejected(data):
    with pytest.raises(TypeError, match="classifier with fit and predict"):
        SmoothedClassifier(StandardScaler(), **FAST).fit(*data)


def test_base_predicting_unknown_label_is_rejected(data):
    with pytest.raises(ValueError, match=r"predicted 7 is not one of the classes \[0, 1\]"):
        SmoothedClassifier(ConstantClassifier(label=7), **FAST).fit(*data)


def test_certify_with_y_of_wrong_length(fitted, data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fitted.certify(X[:10], y[:9])


def test_skorch_net_with_disabled_callbacks_is_rejected(data):
    with pytest.raises(ValueError, match=re.escape("callbacks='disable'")):
        SmoothedClassifier(tiny_net(callbacks="disable"), **FAST).fit(*data)


def test_skorch_module_instance_warns(data):
    X, y = data
    net = NeuralNetClassifier(
        MLPModule(input_units=N_FEATURES, output_units=2, hidden_units=(8,)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        max_epochs=2,
        train_split=None,
        verbose=0,
    )
    with pytest.warns(UserWarning, match="module instance") as record:
        clf = SmoothedClassifier(net, **FAST).fit(X, y)
    # stacklevel points at the caller of fit, not into sksmooth.
    assert any(w.filename == __file__ for w in record)
    assert clf.predict(X).shape == (len(X),)


# ------------------------------------------------------- input not mutated


@pytest.mark.parametrize("kind", BASE_KINDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_input_is_not_mutated(kind, dtype, data):
    X, y = data
    X = X.astype(dtype)
    X_before, y_before = X.copy(), y.copy()
    clf = SmoothedClassifier(make_base(kind), **FAST).fit(X, y)
    clf.predict(X)
    clf.predict_proba(X)
    clf.certify(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_dataframe_input_is_not_mutated(kind, data):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(N_FEATURES)])
    target = pd.Series(np.where(y == 1, "yes", "no"), name="target")
    frame_before, target_before = frame.copy(), target.copy()
    clf = SmoothedClassifier(make_base(kind), **FAST).fit(frame, target)
    clf.predict(frame)
    clf.certify(frame, target)
    pd.testing.assert_frame_equal(frame, frame_before)
    pd.testing.assert_series_equal(target, target_before)


# ---------------------------------------------------- training under noise


def test_skorch_net_is_trained_with_noise_callback(data):
    clf = SmoothedClassifier(tiny_net(max_epochs=2), **{**FAST, "sigma": 0.7}).fit(*data)
    callbacks = dict(clf.estimator_.callbacks_)
    assert "sksmooth_noise" in callbacks
    assert callbacks["sksmooth_noise"].noise_model.sigma == 0.7


class InputRecordingMLP(MLPModule):
    """MLPModule that keeps every batch it sees, with whether it was training."""

    def __init__(self, input_units=None, output_units=None, hidden_units=(4,)):
        super().__init__(input_units, output_units, hidden_units)
        self.seen = []

    def forward(self, X):
        self.seen.append((self.training, X.detach().clone()))
        return super().forward(X)


def test_skorch_net_sees_fresh_noise_in_every_training_batch(data):
    X, y = data
    sigma = 0.7
    net = NeuralNetClassifier(
        InputRecordingMLP,
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        batch_size=50,
        iterator_train__shuffle=False,  # batches in row order, to compare with X
        train_split=None,
        verbose=0,
    )
    clf = SmoothedClassifier(net, **{**FAST, "sigma": sigma}).fit(X, y)
    training = [batch for is_training, batch in clf.estimator_.module_.seen if is_training]
    per_epoch = len(X) // 50
    assert len(training) == 2 * per_epoch
    clean = torch.as_tensor(X, dtype=torch.float32)
    epoch_1 = torch.cat(training[:per_epoch]) - clean
    epoch_2 = torch.cat(training[per_epoch:]) - clean
    for noise in (epoch_1, epoch_2):
        assert abs(noise.std().item() / sigma - 1) < 0.1
    assert not torch.equal(epoch_1, epoch_2)  # fresh noise each epoch


def test_generic_estimator_is_fitted_on_noisy_copies(data):
    X, y = data
    sigma = 0.5
    clf = SmoothedClassifier(RecordingClassifier(), **{**FAST, "sigma": sigma, "n_noisy_copies": 3})
    clf.fit(X, y)
    X_fit, y_fit = clf.estimator_.X_fit_, clf.estimator_.y_fit_
    assert X_fit.shape == (3 * len(X), N_FEATURES)
    np.testing.assert_array_equal(y_fit, np.tile(y, 3))
    # Each copy is X plus N(0, sigma^2) noise, independently drawn per copy.
    noise = X_fit - np.tile(X, (3, 1))
    assert abs(noise.std() / sigma - 1) < 0.1
    assert abs(noise.mean()) < 0.1
    copies = noise.reshape(3, len(X), N_FEATURES)
    assert not np.array_equal(copies[0], copies[1])


# ------------------------------------------------------------ memory bound


@pytest.mark.parametrize(
    "n_rows, n, batch_size",
    [(1, 1_000_000, 1000), (3, 5000, 1500), (2, 3000, 7)],
)
def test_certify_batches_never_exceed_batch_size(n_rows, n, batch_size):
    X, y = make_blobs(n_samples=40, centers=[[-3, 0], [3, 0]], random_state=0)
    n0 = 20
    clf = SmoothedClassifier(
        RecordingClassifier(), sigma=0.25, n0=n0, n=n, batch_size=batch_size, random_state=0
    ).fit(X, y)
    X_test = np.tile([[5.0, 0.0]], (n_rows, 1))
    X_test[:, 1] = np.arange(n_rows)  # distinct rows, all on the class 1 side
    clf.estimator_.reset_record()

    result = clf.certify(X_test)

    assert clf.estimator_.max_batch_ <= batch_size
    assert clf.estimator_.n_predicted_ == n_rows * (n0 + n)
    np.testing.assert_array_equal(result.label, np.ones(n_rows, dtype=int))
    assert not result.abstained.any()


def test_default_batch_size_gives_full_forward_passes():
    """With the default batch_size, noise pieces fill whole batches: no ragged passes."""
    X, y = make_blobs(n_samples=40, centers=[[-3, 0], [3, 0]], random_state=0)
    clf = SmoothedClassifier(RecordingClassifier(), n=100_000, random_state=0).fit(X, y)
    clf.estimator_.reset_record()
    clf.certify([[5.0, 0.0]])
    batch_size, n0, n = clf.batch_size, clf.n0, clf.n
    assert clf.estimator_.max_batch_ == batch_size
    assert clf.estimator_.n_calls_ == -(-n0 // batch_size) + -(-n // batch_size)


class WeightRecordingClassifier(ClassifierMixin, BaseEstimator):
    """Records the sample weights its fit receives."""

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.sample_weight_ = sample_weight
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_sample_weight_reaches_every_noisy_copy(data):
    X, y = data
    weight = np.arange(len(X), dtype=float)
    clf = SmoothedClassifier(WeightRecordingClassifier(), n_noisy_copies=2, **FAST)
    clf.fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(clf.estimator_.sample_weight_, np.tile(weight, 2))


def test_sample_weight_changes_a_logistic_regression(data):
    X, y = data
    weight = np.where(y == y[0], 10.0, 1.0)
    plain = SmoothedClassifier(LogisticRegression(), **FAST).fit(X, y)
    weighted = SmoothedClassifier(LogisticRegression(), **FAST).fit(X, y, sample_weight=weight)
    assert not np.allclose(plain.estimator_.coef_, weighted.estimator_.coef_)


@pytest.mark.parametrize(
    "base, weight, message",
    [
        (tiny_net(), None, "class_weight"),
        (ConstantClassifier(label=0), None, "does not accept sample_weight"),
        (LogisticRegression(), "negative", "non-negative"),
        (LogisticRegression(), "short", "one weight per row"),
    ],
)
def test_bad_sample_weight_is_named(base, weight, message, data):
    X, y = data
    sample_weight = {"negative": -np.ones(len(X)), "short": np.ones(3)}.get(weight, np.ones(len(X)))
    with pytest.raises(ValueError, match=message):
        SmoothedClassifier(base, **FAST).fit(X, y, sample_weight=sample_weight)


def test_abstain_label_keeps_each_label_type(data):
    X, y = data
    clf = SmoothedClassifier(LogisticRegression(), **{**FAST, "n_samples": 30, "sigma": 2.0})
    predicted = clf.set_params(abstain_label="abstain").fit(X, y).predict(X)
    abstained = predicted == "abstain"
    assert abstained.any() and not abstained.all()
    # The other rows keep integer labels: they compare equal to y.
    plain = clf.set_params(abstain_label=None).predict(X)
    assert np.array_equal(predicted[~abstained].astype(int), plain[~abstained])
    assert all(isinstance(label, int | np.integer) for label in predicted[~abstained])
    strings = np.where(y == 1, "b", "a")
    predicted = clf.set_params(abstain_label=-1).fit(X, strings).predict(X)
    assert np.sum(predicted == -1) == abstained.sum()


def test_abstain_label_equal_to_a_class_is_rejected(data):
    X, y = data
    clf = SmoothedClassifier(LogisticRegression(), abstain_label=0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="is one of the classes"):
        clf.predict(X)


def test_random_state_seeds_a_random_base_estimator(data):
    from sklearn.ensemble import RandomForestClassifier

    X, y = data
    results = [
        SmoothedClassifier(RandomForestClassifier(n_estimators=5), **FAST).fit(X, y).certify(X[:20])
        for _ in range(2)
    ]
    np.testing.assert_array_equal(results[0].p_lower, results[1].p_lower)


def test_certify_rejects_labels_that_are_not_classes(fitted, data):
    X, y = data
    with pytest.raises(ValueError, match="y label 7 is not one of the classes"):
        fitted.certify(X[:5], np.full(5, 7))
    with pytest.raises(ValueError, match="is not one of the classes"):
        fitted.certify(X[:5], y[:5].astype(str))


def test_frozen_estimator_ignores_sample_weight(data):
    X, y = data
    frozen = FrozenEstimator(LogisticRegression().fit(X, y))
    SmoothedClassifier(frozen, **FAST).fit(X, y, sample_weight=np.ones(len(X)))


def test_bfloat16_precision_keeps_labels_and_radii_close(data):
    X, y = data
    clf = SmoothedClassifier(tiny_net(max_epochs=5), **FAST).fit(X, y)
    full = clf.certify(X[:30])
    reduced = clf.set_params(precision="bfloat16").certify(X[:30])
    assert np.mean(reduced.label == full.label) >= 0.9
    same = reduced.label == full.label
    np.testing.assert_allclose(reduced.radius[same], full.radius[same], atol=0.05)
    np.testing.assert_array_equal(clf.certify(X[:30]).radius, reduced.radius)  # deterministic


@pytest.mark.parametrize(
    "base, precision, message",
    [
        (LogisticRegression(), "bfloat16", "skorch nets only"),
        (tiny_net(max_epochs=2), "float16", "needs a CUDA device"),
        (LogisticRegression(), "float64", "precision must be"),
    ],
)
def test_unavailable_precision_is_named(base, precision, message, data):
    X, y = data
    with pytest.raises(ValueError, match=message):
        SmoothedClassifier(base, precision=precision, **FAST).fit(X, y).predict(X[:2])


# ------------------------------------------------------------------ progress


class RecordingBar:
    """Stands in for a tqdm bar: records what it is told."""

    made = []

    def __init__(self, **kwargs):
        self.kwargs, self.done = kwargs, 0
        RecordingBar.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        self.done += n


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_progress_counts_every_noisy_sample(fitted, data, monkeypatch, n_jobs):
    import sksmooth.smoothing

    RecordingBar.made = []
    monkeypatch.setattr(sksmooth.smoothing, "progress", RecordingBar)
    X = data[0][:7]
    clf = copy.copy(fitted).set_params(verbose=1, n_jobs=n_jobs)
    clf.certify(X)
    clf.predict(X)
    assert [bar.kwargs["desc"] for bar in RecordingBar.made] == [
        "select votes",
        "estimate votes",
        "predict votes",
    ]
    assert [bar.done for bar in RecordingBar.made] == [7 * 20, 7 * 500, 7 * 100]
    assert [bar.kwargs["total"] for bar in RecordingBar.made] == [7 * 20, 7 * 500, 7 * 100]
    assert all(bar.kwargs["verbose"] == 1 for bar in RecordingBar.made)


def test_progress_is_silent_by_default_and_changes_no_result(fitted, data, capfd):
    X = data[0][:5]
    quiet = fitted.certify(X)
    assert capfd.readouterr().err == ""
    loud = copy.copy(fitted).set_params(verbose=1).certify(X)
    assert_same_certificates(quiet, loud)


@pytest.mark.parametrize("verbose", [-1, 0.5, "yes"])
def test_bad_verbose_is_rejected(data, verbose):
    with pytest.raises((ValueError, TypeError), match="verbose"):
        SmoothedClassifier(LogisticRegression(), verbose=verbose, **FAST).fit(*data)


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_views_with_negative_strides_are_read_as_copies(kind, data):
    X, y = data
    reversed_fit = SmoothedClassifier(make_base(kind), **FAST).fit(X[::-1], y[::-1])
    plain_fit = SmoothedClassifier(make_base(kind), **FAST).fit(
        np.ascontiguousarray(X[::-1]), y[::-1]
    )
    np.testing.assert_array_equal(
        reversed_fit.predict(X[::-2]), plain_fit.predict(np.ascontiguousarray(X[::-2]))
    )


# --------------------------------------------------- one-logit skorch nets


def binary_net(**params):
    """skorch's one-logit binary classifier (BCEWithLogitsLoss)."""
    defaults = {"module__input_units": N_FEATURES, "module__output_units": 1, "max_epochs": 2}
    params = {"train_split": None, "verbose": 0, **defaults, **params}
    return NeuralNetBinaryClassifier(MLPModule, **params)


def test_binary_net_with_one_logit_is_refused_in_fit(data):
    X, y = data
    message = "NeuralNetBinaryClassifier.*make_mlp_classifier.*FrozenEstimator"
    with pytest.raises(TypeError, match=message):
        SmoothedClassifier(binary_net(), **FAST).fit(X, y)
    # A NeuralNetClassifier trained with binary cross-entropy has the same one logit.
    bce = tiny_net(criterion=nn.BCEWithLogitsLoss)
    with pytest.raises(TypeError, match="one logit"):
        SmoothedClassifier(bce, **FAST).fit(X, y)


def test_frozen_binary_net_with_one_logit_votes_as_it_predicts(data):
    X, y = data
    net = binary_net(max_epochs=5).fit(X.astype(np.float32), y.astype(np.float32))
    clf = SmoothedClassifier(FrozenEstimator(net), **{**FAST, "sigma": 1e-4}).fit(X, y)
    # One logit z votes for class 1 where z > logit(threshold), as net.predict does.
    np.testing.assert_array_equal(clf.predict(X), net.predict(X.astype(np.float32)))
    target = clf.__sksmooth_target__(n_noise_samples=4)
    rows = torch.as_tensor(X[:3], dtype=torch.float32)
    assert target.logits(rows, generator=torch.Generator().manual_seed(0)).shape == (3, 2)


# ------------------------------------------------------------- class_weight


@pytest.fixture(scope="module")
def rare_fraud():
    """1-D task, 8% fraud shifted by one standard deviation, rows shuffled.

    Unweighted, the Bayes rule flags fraud only beyond x = 2.9 (recall 3%);
    weighing fraud 20 times moves it to x = 0 (recall 84%); weighing legit
    20 times moves it to x = 5.9 (recall 0).
    """
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (184, 1)), rng.normal(1, 1, (16, 1))])
    y = np.array(["legit"] * 184 + ["fraud"] * 16)
    order = rng.permutation(len(y))
    return X[order], y[order], rng.normal(1, 1, (100, 1))


RARE_FRAUD_FAST = {"sigma": 0.5, "n0": 10, "n": 100, "n_samples": 20, "random_state": 0}


def fraud_recall(model, X_fraud) -> float:
    return float(np.mean(model.predict(X_fraud) == "fraud"))


def test_class_weight_by_label_weighs_the_right_class_of_a_net(rare_fraud):
    X, y, X_fraud = rare_fraud
    net = tiny_net(max_epochs=10)
    weighted = SmoothedClassifier(
        net, class_weight={"fraud": 20, "legit": 1}, **RARE_FRAUD_FAST
    ).fit(X, y)
    assert weighted.classes_.tolist() == ["fraud", "legit"]
    assert weighted.estimator_.criterion_.weight.tolist() == [20.0, 1.0]
    assert "criterion__weight" not in net.get_params()  # the user's net is untouched
    # The documented tensor lands on legit, as the sorted labels make it; measured 0.0.
    misweighted_net = tiny_net(max_epochs=10, criterion__weight=torch.tensor([1.0, 20.0]))
    with pytest.warns(UserWarning, match="sorted label order.*'legit': 20.*class_weight"):
        misweighted = SmoothedClassifier(misweighted_net, **RARE_FRAUD_FAST).fit(X, y)
    assert fraud_recall(misweighted, X_fraud) < 0.05
    assert fraud_recall(weighted, X_fraud) > 0.5  # measured 0.99


def test_balanced_class_weight_follows_the_class_counts(rare_fraud):
    X, y, _ = rare_fraud
    clf = SmoothedClassifier(tiny_net(max_epochs=1), class_weight="balanced", **RARE_FRAUD_FAST)
    weight = clf.fit(X, y).estimator_.criterion_.weight.numpy()
    np.testing.assert_allclose(weight, [200 / (2 * 16), 200 / (2 * 184)], rtol=1e-6)


def test_class_weight_reaches_other_bases_as_sample_weights(data):
    X, y = data
    clf = SmoothedClassifier(
        WeightRecordingClassifier(), class_weight={1: 3.0}, n_noisy_copies=2, **FAST
    )
    clf.fit(X, y, sample_weight=np.full(len(X), 2.0))
    np.testing.assert_array_equal(clf.estimator_.sample_weight_, np.tile(np.where(y == 1, 6, 2), 2))


def test_class_weight_changes_a_logistic_regression(rare_fraud):
    X, y, X_fraud = rare_fraud
    plain = SmoothedClassifier(LogisticRegression(), **RARE_FRAUD_FAST).fit(X, y)
    weighted = SmoothedClassifier(
        LogisticRegression(), class_weight={"fraud": 20}, **RARE_FRAUD_FAST
    ).fit(X, y)
    assert fraud_recall(plain, X_fraud) < 0.05 < 0.5 < fraud_recall(weighted, X_fraud)


@pytest.mark.parametrize(
    "base, class_weight, error, message",
    [
        (tiny_net(), {"fraud": 2}, ValueError, r"names \['fraud'\].*classes are \[0, 1\]"),
        (tiny_net(), {0: -1}, ValueError, "finite number >= 0"),
        (tiny_net(), "even", ValueError, "class_weight must be"),
        (tiny_net(), [1.0, 2.0], ValueError, "class_weight must be"),
        (tiny_net(criterion__weight=torch.ones(2)), {0: 2}, ValueError, "not both|alone"),
        (tiny_net(criterion=nn.CrossEntropyLoss()), {0: 2}, ValueError, "criterion as a class"),
        (tiny_net(criterion=nn.MultiMarginLoss), {0: 2}, None, None),
        (tiny_net(criterion=nn.HuberLoss), {0: 2}, ValueError, "takes no weight"),
        (ConstantClassifier(label=0), {0: 2}, ValueError, "own class_weight"),
    ],
)
def test_bad_class_weight_is_named(base, class_weight, error, message, data):
    X, y = data
    clf = SmoothedClassifier(base, class_weight=class_weight, **FAST)
    if error is None:
        clf.fit(X, y)
        return
    with pytest.raises(error, match=message):
        clf.fit(X, y)


def test_class_weight_on_a_frozen_estimator_warns_and_changes_nothing(data):
    X, y = data
    frozen = FrozenEstimator(LogisticRegression().fit(X, y))
    with pytest.warns(UserWarning, match="no effect on a FrozenEstimator"):
        clf = SmoothedClassifier(frozen, class_weight={0: 5}, **FAST).fit(X, y)
    assert clf.estimator_ is frozen


# ------------------------------------------------- fitted base, not frozen


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_fitted_base_estimator_warns_that_it_is_retrained(kind, data):
    X, y = data
    base = make_base(kind)
    if kind == "net":
        base.set_params(module__input_units=N_FEATURES, module__output_units=2)
        base.fit(X.astype(np.float32), y)
    else:
        base.fit(X, y)
    with pytest.warns(UserWarning, match="already fitted.*FrozenEstimator") as record:
        SmoothedClassifier(base, **FAST).fit(X, y)
    assert any(w.filename == __file__ for w in record)  # stacklevel: the caller of fit


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_unfitted_or_frozen_base_does_not_warn(kind, data):
    X, y = data
    initialized = tiny_net(module__input_units=N_FEATURES, module__output_units=2).initialize()
    fitted = LogisticRegression().fit(X, y)
    base = {"logreg": FrozenEstimator(fitted), "net": initialized}[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SmoothedClassifier(base, **FAST).fit(X, y)


# ------------------------------------------------------ too few samples


def test_certify_warns_when_n_cannot_reach_a_useful_radius(data):
    X, y = data
    clf = SmoothedClassifier(LogisticRegression(), **FAST).fit(X, y)
    with pytest.warns(UserWarning, match=r"n=10 .*0.003 sigma.*n >= 19 for 0.5 sigma") as record:
        result = clf.certify(X[:20], y[:20], n=10, alpha=0.001)
    # With every vote agreeing, 10 samples bound pA by 0.001 ** (1 / 10) = 0.5012.
    assert result.max_radius == pytest.approx(0.25 * 0.0029757, rel=1e-4)
    assert np.all(result.radius <= result.max_radius)
    assert result.summary().attrs["max_radius"] == result.max_radius
    assert "largest radius n allows: 0.000744 (0.00298 sigma)" in repr(result)
    assert "largest radius n allows" in result._repr_html_()
    assert len(record) == 1


def test_enough_samples_do_not_warn_and_report_the_largest_radius(data):
    X, y = data
    clf = SmoothedClassifier(LogisticRegression(), **{**FAST, "sigma": 1.0}).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Cohen et al.'s largest radii at alpha = 0.001: 1.50 sigma at n = 100, 2.46 at 1000.
        for n, largest in [(100, 1.50), (1000, 2.46)]:
            assert clf.certify(X[:5], n=n).max_radius == pytest.approx(largest, abs=0.005)
        # Sequential certification shares alpha over its looks: a smaller largest radius.
        sequential = clf.certify(X[:5], n_max=1000).max_radius
        assert 2.0 < sequential < 2.46


def test_too_few_samples_warn_in_sequential_modes_too(data):
    X, y = data
    clf = SmoothedClassifier(LogisticRegression(), **FAST).fit(X, y)
    with pytest.warns(UserWarning, match="n=10 "):
        clf.certify(X[:5], n_max=10)
    with pytest.warns(UserWarning, match="n=10 "):
        clf.certify(X[:5], radius=0.1, n=10)


# --------------------------------------------- raw rows for the last step


@pytest.mark.filterwarnings("ignore:X has feature names")
def test_raw_frame_given_to_the_last_step_points_to_sksmooth_certify():
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"amount": rng.normal(size=60), "country": rng.choice(["fr", "de"], 60)})
    y = (X["amount"] > 0).astype(int)
    encode = make_column_transformer((OneHotEncoder(), ["country"]), (StandardScaler(), ["amount"]))
    model = make_pipeline(encode, SmoothedClassifier(LogisticRegression(), **FAST)).fit(X, y)
    hint = r"could not convert string to float.*sksmooth\.certify\(pipeline, X\)"
    for method in ("certify", "predict", "predict_proba"):
        with pytest.raises(ValueError, match=hint):
            getattr(model[-1], method)(X)
    from sksmooth import certify

    assert len(certify(model, X, y)) == len(X)
