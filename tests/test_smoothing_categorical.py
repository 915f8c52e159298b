"""SmoothedClassifier with categorical features: spellings, checks, training noise, results.

Categorical columns are smoothed by random replacement (``categorical_noise``)
and numeric ones by ``sigma``. Monte Carlo settings are small so that the
whole file runs in seconds; the certificates' soundness is tested in
tests/certification.
"""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler
from skorch.callbacks import Callback

from sksmooth import SmoothedClassifier, certify
from sksmooth.datasets import make_fraud

from .conftest import tiny_net

FAST = {"sigma": 0.5, "n0": 20, "n": 400, "n_samples": 100, "random_state": 0}
# Columns: 0 numeric, 1 codes {0, 2, 5} (not contiguous), 2 numeric, 3 codes {0, 1, 2, 3}.
NAMES = ["amount", "merchant", "age", "channel"]
CATEGORICAL = [1, 3]
CODES = (np.array([0.0, 2.0, 5.0]), np.array([0.0, 1.0, 2.0, 3.0]))
MERCHANTS = np.array(["fuel", "grocery", "travel"])  # the pandas categories of codes 0, 2, 5
CHANNELS = np.array(["atm", "online", "phone", "store"])


def make_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.choice(CODES[0], size=n),
            rng.normal(size=n),
            rng.choice(CODES[1], size=n),
        ]
    )
    # Learnable from one numeric and one categorical column.
    y = (X[:, 0] + 1.5 * (X[:, 1] == 2.0) - 0.5 * (X[:, 3] == 3.0) > 0.3).astype(int)
    return X, y


@pytest.fixture(scope="module")
def data():
    return make_data()


def as_codes_frame(X):
    """X as a DataFrame whose categorical columns hold codes (float)."""
    return pd.DataFrame(X, columns=NAMES)


def as_category_frame(X):
    """X as a DataFrame whose categorical columns have pandas category dtype."""
    merchant_index = np.searchsorted(CODES[0], X[:, 1])
    return pd.DataFrame(
        {
            "amount": X[:, 0],
            "merchant": pd.Categorical.from_codes(merchant_index, categories=MERCHANTS),
            "age": X[:, 2],
            "channel": pd.Categorical.from_codes(X[:, 3].astype(int), categories=CHANNELS),
        }
    )


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts 1 where the first column is positive; records what fit and predict see."""

    def fit(self, X, y):
        self.X_fit_ = np.array(X, copy=True)
        self.classes_ = np.unique(y)
        self.n_features_in_ = np.shape(X)[1]
        self.seen_ = []
        return self

    def predict(self, X):
        X = np.asarray(X)
        self.seen_.append(X.copy())
        return self.classes_[(X[:, 0] > 0).astype(int)]


def fitted(X, y, **params):
    return SmoothedClassifier(LogisticRegression(), **{**FAST, **params}).fit(X, y)


@pytest.fixture(scope="module")
def model(data):
    """A fitted model with columns 1 and 3 categorical: tests must not modify it."""
    return fitted(*data, categorical_features=CATEGORICAL, categorical_noise=0.2)


@pytest.fixture(scope="module")
def result(model, data):
    X, y = data
    return model.certify(X[:40], y[:40])


def assert_same_results(a, b):
    for name in ("label", "radius", "p_lower", "abstained", "n_samples"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.categorical_radius, b.categorical_radius)


# ------------------------------------------------------------------- spellings


SPELLINGS = {
    "mask": (lambda X: X, [False, True, False, True]),
    "indices": (lambda X: X, [1, 3]),
    "negative indices": (lambda X: X, [-3, -1]),
    "numpy indices": (lambda X: X, np.array([3, 1])),
    "names on codes": (as_codes_frame, ["merchant", "channel"]),
    "names on categories": (as_category_frame, ["channel", "merchant"]),
    "from_dtype": (as_category_frame, "from_dtype"),
}


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_each_spelling_fits_predicts_and_certifies(spelling, data):
    X, y = data
    to_input, spec = SPELLINGS[spelling]
    X_in = to_input(X)
    clf = fitted(X_in, y, categorical_features=spec, categorical_noise=0.2)
    np.testing.assert_array_equal(clf.is_categorical_, [False, True, False, True])
    assert len(clf.categories_) == 2
    labels = clf.predict(X_in[:20])
    assert labels.shape == (20,) and set(labels) <= {0, 1}
    proba = clf.predict_proba(X_in[:20])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    out = clf.certify(X_in[:20], y[:20])
    np.testing.assert_array_equal(out.categorical_features, CATEGORICAL)
    np.testing.assert_array_equal(out.categorical_noise, [0.2, 0.2])
    assert out.categorical_radius.shape == (20, 3)
    assert out.certified_accuracy(0.0) > 0.5  # not vacuous
    if isinstance(X_in, pd.DataFrame):
        np.testing.assert_array_equal(clf.feature_names_in_, NAMES)


def test_every_spelling_gives_the_same_model(data):
    # Categories learned from codes or from a dtype, the noise and the votes are the same.
    X, y = data
    reference = fitted(X, y, categorical_features=CATEGORICAL).predict_proba(X[:30])
    for spelling, (to_input, spec) in SPELLINGS.items():
        if spelling in ("names on categories", "from_dtype"):
            continue  # dtype codes are 0..K-1, not 0, 2, 5: other rows, other noise seeds
        clf = fitted(to_input(X), y, categorical_features=spec)
        np.testing.assert_array_equal(clf.predict_proba(to_input(X)[:30]), reference, spelling)


@pytest.mark.parametrize("spec", [None, [], "from_dtype"])
def test_no_categorical_column_is_the_plain_model(spec, data):
    # "from_dtype" on an array, or an empty list, finds no categorical column.
    X, y = data
    if spec == "from_dtype":  # found nothing: said, since the user asked for categories
        with pytest.warns(UserWarning, match="found no column of pandas category dtype"):
            clf = fitted(X, y, categorical_features=spec)
    else:
        clf = fitted(X, y, categorical_features=spec)
    assert not clf.is_categorical_.any() and clf.categories_ == ()
    plain = fitted(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X[:20]), plain.predict_proba(X[:20]))
    out = clf.certify(X[:20], y[:20])
    assert out.categorical_radius is None and out.categorical_features is None


def test_fraud_pipeline_with_column_transformer_and_hist_gradient_boosting():
    X, y = make_fraud(300, fraud_rate=0.3, random_state=0)
    numeric = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
    categorical = ["merchant_category", "channel"]
    preprocess = ColumnTransformer(
        [("num", StandardScaler(), numeric), ("cat", OrdinalEncoder(), categorical)]
    ).set_output(transform="pandas")
    # The base estimator is fitted on noisy numpy copies: it takes indices, not names.
    base = HistGradientBoostingClassifier(max_iter=10, categorical_features=[5, 6])
    smoothed = SmoothedClassifier(
        base,
        categorical_features=["cat__merchant_category", "cat__channel"],
        categorical_noise=0.1,
        **FAST,
    )
    pipe = make_pipeline(preprocess, smoothed).fit(X, y)
    final = pipe[-1]
    np.testing.assert_array_equal(final.is_categorical_, [False] * 5 + [True, True])
    np.testing.assert_array_equal(final.categories_[0], np.arange(7.0))
    np.testing.assert_array_equal(final.categories_[1], np.arange(3.0))
    assert pipe.score(X[:40], y[:40]) > 0.6
    out = certify(pipe, X[:40], y[:40])
    assert out.categorical_radius.shape == (40, 3)
    assert out.certified_accuracy(0.0) > 0.5
    assert np.all(out.radius_with_categorical_changes(2) <= out.radius)


def test_fraud_frame_with_from_dtype_learns_every_dtype_category():
    X, y = make_fraud(200, fraud_rate=0.3, random_state=1)
    # Rows of one merchant only: the dtype's 7 categories are still learned, in dtype order.
    rows = X["merchant_category"] == X["merchant_category"].iloc[0]
    clf = SmoothedClassifier(
        RecordingClassifier(), **{**FAST, "sigma": 10.0}, categorical_features="from_dtype"
    ).fit(X[rows], y[rows])
    np.testing.assert_array_equal(clf.is_categorical_, [False] * 5 + [True, True])
    np.testing.assert_array_equal(clf.categories_[0], np.arange(7.0))
    np.testing.assert_array_equal(clf.categories_[1], np.arange(3.0))
    # The other merchants are known categories at predict time.
    clf.predict(X[:10])


# ------------------------------------------------------------ learned categories


def test_categories_are_the_codes_seen_in_fit(model):
    np.testing.assert_array_equal(model.categories_[0], CODES[0])
    np.testing.assert_array_equal(model.categories_[1], CODES[1])
    assert all(c.dtype == np.float64 for c in model.categories_)


def test_categories_of_a_pandas_dtype_include_unused_ones(data):
    X, y = data
    frame = as_category_frame(X)
    frame["channel"] = frame["channel"].cat.add_categories(["branch"])
    clf = fitted(frame, y, categorical_features="from_dtype")
    np.testing.assert_array_equal(clf.categories_[0], [0.0, 1.0, 2.0])  # dtype codes
    np.testing.assert_array_equal(clf.categories_[1], [0.0, 1.0, 2.0, 3.0, 4.0])


def test_a_category_column_given_back_as_numbers_is_an_error(data):
    # Numbers in a frame may come from another encoding: read as codes they would
    # silently mean other categories.
    X, y = data
    frame = as_category_frame(X)
    clf = fitted(frame, y, categorical_features="from_dtype")
    codes = frame.assign(merchant=frame["merchant"].cat.codes.astype(float))
    with pytest.raises(ValueError, match="'merchant' was fitted as a pandas category column"):
        clf.predict_proba(codes[:20])


# ------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "value, problem",
    [
        (1.5, "the non-integer value 1.5"),
        (-1.0, "the negative value -1"),
        (np.nan, "NaN or infinite values"),
        (np.inf, "NaN or infinite values"),
    ],
)
def test_bad_codes_in_fit_are_named(value, problem, data):
    X, y = data
    X = X.copy()
    X[7, 3] = value
    with pytest.raises(ValueError, match=f"Categorical column 3 holds {problem}; categorical"):
        fitted(X, y, categorical_features=CATEGORICAL)
    with pytest.raises(ValueError, match=f"Categorical column 'channel' holds {problem}"):
        fitted(as_codes_frame(X), y, categorical_features=["merchant", "channel"])


@pytest.mark.parametrize("method", ["predict", "predict_proba", "certify"])
@pytest.mark.parametrize("value", [1.5, -2.0, np.nan])
def test_bad_codes_at_predict_and_certify_are_named(method, value, model, data):
    X = data[0][:5].copy()
    X[2, 1] = value
    with pytest.raises(ValueError, match="Categorical column 1 holds"):
        getattr(model, method)(X)


def test_nan_in_a_numeric_column_is_still_rejected(model, data):
    X = data[0][:5].copy()
    X[0, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.predict(X)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "certify"])
def test_unseen_code_at_predict_and_certify_is_named(method, model, data):
    X = data[0][:5].copy()
    X[3, 1] = 1.0  # an integer code >= 0, but not among {0, 2, 5}
    X[4, 3] = 9.0
    message = r"codes not seen in fit \(column 'x1' holds 1; column 'x3' holds 9\)"
    with pytest.raises(ValueError, match=message):
        getattr(model, method)(X)


def test_unseen_code_is_named_by_column_name(data):
    X, y = data
    clf = fitted(as_codes_frame(X), y, categorical_features=["merchant", "channel"])
    bad = as_codes_frame(X[:3])
    bad.loc[1, "merchant"] = 4.0
    with pytest.raises(ValueError, match="column 'merchant' holds 4"):
        clf.certify(bad)


@pytest.mark.parametrize(
    "categorical_noise, error, message",
    [
        (1.0, ValueError, r"categorical_noise must be in \[0, 1\)"),
        (-0.1, ValueError, r"categorical_noise must be in \[0, 1\)"),
        (np.nan, ValueError, r"categorical_noise must be in \[0, 1\)"),
        ([0.1, 1.2], ValueError, r"categorical_noise must be in \[0, 1\)"),
        ([0.1, 0.2, 0.3], ValueError, r"categorical_noise has shape \(3,\)"),
        ("high", TypeError, "categorical_noise must be a number"),
        (True, TypeError, "categorical_noise must be a number"),
    ],
)
def test_bad_categorical_noise_is_named_in_fit(categorical_noise, error, message, data):
    with pytest.raises(error, match=message):
        fitted(*data, categorical_features=CATEGORICAL, categorical_noise=categorical_noise)


def test_bad_categorical_noise_set_after_fit_is_named(data):
    X, y = data
    clf = fitted(X, y, categorical_features=CATEGORICAL)
    clf.set_params(categorical_noise=1.0)
    for method in ("predict", "certify"):
        with pytest.raises(ValueError, match=r"categorical_noise must be in \[0, 1\)"):
            getattr(clf, method)(X[:3])


def test_per_column_categorical_noise(data):
    X, y = data
    clf = fitted(X, y, categorical_features=CATEGORICAL, categorical_noise=[0.0, 0.5])
    out = clf.certify(X[:10], y[:10])
    np.testing.assert_array_equal(out.categorical_noise, [0.0, 0.5])


@pytest.mark.parametrize(
    "to_input, sigma, named",
    [
        (lambda X: X, [0.5, 0.3, 0.5, 0.0], r"\[1\]"),
        (lambda X: X, [0.5, 0.0, 0.5, 0.1], r"\[3\]"),
        (as_codes_frame, [0.5, 0.3, 0.5, 0.0], r"\['merchant'\]"),
        (as_codes_frame, {"amount": 0.5, "channel": 0.2}, r"\['channel'\]"),
        (as_category_frame, {"merchant": 0.2, "channel": 0.2}, r"\['merchant', 'channel'\]"),
    ],
)
def test_sigma_on_a_categorical_column_is_an_error(to_input, sigma, named, data):
    X, y = data
    spec = CATEGORICAL if to_input is not as_category_frame else "from_dtype"
    with pytest.raises(ValueError, match=f"categorical column\\(s\\) {named} a sigma other than 0"):
        fitted(to_input(X), y, sigma=sigma, categorical_features=spec)


def test_sigma_zero_on_categorical_columns_in_an_array_or_a_dict(data):
    X, y = data
    clf = fitted(X, y, sigma=[0.5, 0.0, 1.0, 0.0], categorical_features=CATEGORICAL)
    out = clf.certify(X[:10], y[:10])
    assert out.per_column and out.categorical_radius.shape == (10, 3)
    clf = fitted(as_codes_frame(X), y, sigma={"amount": 0.5}, categorical_features=CATEGORICAL)
    np.testing.assert_array_equal(clf._noise_model().scales, [0.5, 0.0, 0.0, 0.0])


def test_every_column_categorical_leaves_nothing_to_noise(data):
    X, y = data
    with pytest.raises(ValueError, match="sigma is 0 on every numeric column"):
        fitted(X[:, CATEGORICAL], y, categorical_features=[0, 1])


@pytest.mark.parametrize(
    "to_input, spec, message",
    [
        (as_codes_frame, ["merchant", "colour"], r"names columns \['colour'\] not in X"),
        (lambda X: X, ["merchant"], "names columns, but X has no column names"),
        (lambda X: X, [4], r"indices \[4\] outside the 4 features"),
        (lambda X: X, [True, False], r"boolean mask needs one entry per feature"),
        (lambda X: X, "auto", "categorical_features must be None, 'from_dtype'"),
        (lambda X: X, [[1, 3]], "must be 1-D"),
    ],
)
def test_bad_categorical_features_are_named(to_input, spec, message, data):
    X, y = data
    with pytest.raises(ValueError, match=message):
        fitted(to_input(X), y, categorical_features=spec)


def test_a_category_column_not_listed_is_an_error(data):
    X, y = data
    with pytest.raises(ValueError, match="Column 'channel' has category dtype but is not among"):
        fitted(as_category_frame(X), y, categorical_features=["merchant"])


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.cat.add_categories(["branch"]),
        lambda c: c.cat.reorder_categories(list(CHANNELS[::-1])),
        lambda c: c.cat.rename_categories(list(CHANNELS)[:3] + ["kiosk"]),
    ],
    ids=["added", "reordered", "renamed"],
)
def test_a_frame_with_other_categories_than_in_fit_is_an_error(change, data):
    X, y = data
    frame = as_category_frame(X)
    clf = fitted(frame, y, categorical_features="from_dtype")
    other = frame[:5].assign(channel=change(frame["channel"][:5]))
    for method in ("predict", "certify"):
        with pytest.raises(ValueError, match=r"Column 'channel' has categories .* but was fitted"):
            getattr(clf, method)(other)


def test_missing_value_in_a_category_column_is_an_error(data):
    X, y = data
    frame = as_category_frame(X)
    frame.loc[4, "merchant"] = np.nan
    with pytest.raises(ValueError, match="Categorical column 'merchant' holds missing values"):
        fitted(frame, y, categorical_features="from_dtype")


def test_category_frame_with_integer_column_names(data):
    X, y = data
    frame = as_category_frame(X)
    frame.columns = [0, 1, 2, 3]
    clf = fitted(frame, y, categorical_features="from_dtype")
    np.testing.assert_array_equal(clf.is_categorical_, [False, True, False, True])


def test_reordered_category_frame_gets_the_feature_name_error(data):
    X, y = data
    frame = as_category_frame(X)
    clf = fitted(frame, y, categorical_features="from_dtype")
    with pytest.raises(ValueError, match="same order"):
        clf.predict(frame[["merchant", "amount", "age", "channel"]][:5])


# ------------------------------------------------------------------ no mutation


@pytest.mark.parametrize("to_input", [lambda X: X, as_codes_frame, as_category_frame])
def test_the_users_data_is_not_mutated(to_input, data):
    X, y = data
    X_in = to_input(X.copy())
    before = X_in.copy(deep=True) if isinstance(X_in, pd.DataFrame) else X_in.copy()
    spec = "from_dtype" if to_input is as_category_frame else CATEGORICAL
    clf = fitted(X_in, y, categorical_features=spec)
    clf.predict(X_in[:10])
    clf.certify(X_in[:10], y[:10])
    if isinstance(X_in, pd.DataFrame):
        pd.testing.assert_frame_equal(X_in, before)
        if to_input is as_category_frame:
            assert isinstance(X_in["merchant"].dtype, pd.CategoricalDtype)
    else:
        np.testing.assert_array_equal(X_in, before)


def test_parameters_are_not_mutated_by_fit(data):
    X, y = data
    mask = np.array([False, True, False, True])
    noise = np.array([0.1, 0.3])
    clf = fitted(X, y, categorical_features=mask, categorical_noise=noise)
    assert clf.get_params()["categorical_features"] is mask
    assert clf.get_params()["categorical_noise"] is noise
    np.testing.assert_array_equal(mask, [False, True, False, True])
    np.testing.assert_array_equal(noise, [0.1, 0.3])
    assert clf.is_categorical_ is not mask
    clf.is_categorical_[0] = True  # the fitted mask is the model's own
    np.testing.assert_array_equal(mask, [False, True, False, True])


# ---------------------------------------------------------- training under noise


def test_noisy_copies_replace_categories_and_noise_numeric_columns():
    X, y = make_data(1000, seed=1)
    q, sigma = np.array([0.3, 0.6]), 0.5
    clf = SmoothedClassifier(
        RecordingClassifier(),
        **{**FAST, "sigma": sigma},
        categorical_features=CATEGORICAL,
        categorical_noise=q,
        n_noisy_copies=2,
    ).fit(X, y)
    X_fit = clf.estimator_.X_fit_
    clean = np.tile(X, (2, 1))
    assert X_fit.shape == clean.shape
    for column, codes, q_j in zip(CATEGORICAL, CODES, q, strict=True):
        # Only learned codes, exactly: categorical columns get no additive noise.
        assert set(np.unique(X_fit[:, column])) <= set(codes.tolist())
        # A value changes when replaced (q) by another category ((K - 1) / K).
        expected = q_j * (len(codes) - 1) / len(codes)
        changed = np.mean(X_fit[:, column] != clean[:, column])
        # 2000 rows: standard deviation <= 0.5 / sqrt(2000) = 0.011; five of them.
        assert changed == pytest.approx(expected, abs=0.056)
    for column in (0, 2):
        z = (X_fit[:, column] - clean[:, column]) / sigma
        assert stats.kstest(z, stats.norm.cdf).pvalue > 1e-4
        assert z.std() == pytest.approx(1.0, abs=0.06)


def test_noisy_copies_with_q_zero_keep_every_category(data):
    X, y = data
    clf = SmoothedClassifier(
        RecordingClassifier(), **FAST, categorical_features=CATEGORICAL, categorical_noise=0.0
    ).fit(X, y)
    np.testing.assert_array_equal(clf.estimator_.X_fit_[:, CATEGORICAL], X[:, CATEGORICAL])
    assert not np.array_equal(clf.estimator_.X_fit_[:, 0], X[:, 0])


class BatchRecorder(Callback):
    """Records each batch's inputs after the batch ran: by then the noise callback noised them."""

    def initialize(self):
        self.batches_ = []
        return self

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        self.batches_.append((training, batch[0].detach().clone()))


def test_skorch_net_batches_replace_only_with_learned_categories(data):
    X, y = data
    recorder = BatchRecorder()
    net = tiny_net(
        max_epochs=5,
        batch_size=50,
        callbacks=[("recorder", recorder)],
        iterator_train__shuffle=False,  # batches in row order, to compare with X
    )
    q, sigma = np.array([0.3, 0.6]), FAST["sigma"]
    clf = SmoothedClassifier(
        net, **FAST, categorical_features=CATEGORICAL, categorical_noise=q
    ).fit(X, y)
    assert clf.estimator_.module__categorical_columns == (1, 3)
    assert clf.estimator_.module__categories == ((0.0, 2.0, 5.0), (0.0, 1.0, 2.0, 3.0))
    recorded = dict(clf.estimator_.callbacks_)["recorder"].batches_
    batches = [b for training, b in recorded if training]
    assert len(batches) == 5 * len(X) // 50
    noisy = torch.cat(batches).double().numpy()
    clean = np.tile(X, (5, 1)).astype(np.float32).astype(np.float64)  # as the net got it
    for column, codes, q_j in zip(CATEGORICAL, CODES, q, strict=True):
        # Only learned codes (not 1, 3 or 4 in column 1), and no additive noise on them.
        assert set(np.unique(noisy[:, column])) <= set(codes.tolist())
        # Changed at rate q (K - 1) / K; 1000 draws, sd <= 0.016, five of them.
        changed = np.mean(noisy[:, column] != clean[:, column])
        assert changed == pytest.approx(q_j * (len(codes) - 1) / len(codes), abs=0.08)
    for column in (0, 2):
        z = (noisy[:, column] - clean[:, column]) / sigma
        assert stats.kstest(z, stats.norm.cdf).pvalue > 1e-4
    # Fresh draws in every epoch.
    per_epoch = len(X)
    assert not np.array_equal(noisy[:per_epoch], noisy[per_epoch : 2 * per_epoch])


def test_frozen_base_sees_only_learned_categories_under_the_votes(data):
    X, y = data
    base = RecordingClassifier().fit(X, y)
    clf = SmoothedClassifier(
        FrozenEstimator(base), **FAST, categorical_features=CATEGORICAL, categorical_noise=0.5
    ).fit(X, y)
    base.seen_.clear()
    rows = X[:3].copy()  # distinct rows (column 2), with the same codes and column 0
    rows[:, 0], rows[:, 1], rows[:, 3] = 0.25, 0.0, 2.0
    clf.predict(rows)
    clf.certify(rows)
    seen = np.concatenate(base.seen_)
    assert len(seen) == 3 * (FAST["n_samples"] + FAST["n0"] + FAST["n"])  # 1560 noisy rows
    for column, codes in zip(CATEGORICAL, CODES, strict=True):
        assert set(np.unique(seen[:, column])) == set(codes.tolist())
    # Kept w.p. 1 - q + q / K: column 1 (K = 3) 2/3, column 3 (K = 4) 5/8; a frequency
    # over 1560 draws has standard deviation <= 0.013, and 0.05 is about four of them.
    assert np.mean(seen[:, 1] == 0.0) == pytest.approx(2 / 3, abs=0.05)
    assert np.mean(seen[:, 3] == 2.0) == pytest.approx(5 / 8, abs=0.05)
    # Numeric columns get Gaussian noise of sigma.
    z = (seen[:, 0] - 0.25) / FAST["sigma"]
    assert stats.kstest(z, stats.norm.cdf).pvalue > 1e-4


# ------------------------------------------------------------------ determinism


def test_same_random_state_gives_identical_results(data):
    X, y = data
    params = {"categorical_features": CATEGORICAL, "categorical_noise": 0.3}
    a, b = fitted(X, y, **params), fitted(X, y, **params)
    assert_same_results(a.certify(X[:20], y[:20]), b.certify(X[:20], y[:20]))
    np.testing.assert_array_equal(a.predict_proba(X[:20]), b.predict_proba(X[:20]))
    # And across calls of one model.
    assert_same_results(a.certify(X[:20], y[:20]), a.certify(X[:20], y[:20]))


def test_results_do_not_depend_on_jobs_or_batch_size(model, data):
    X, y = data
    reference = model.certify(X[:12], y[:12])
    with joblib.parallel_backend("threading"):
        assert_same_results(model.certify(X[:12], y[:12], n_jobs=3), reference)
    other = clone(model).set_params(batch_size=37).fit(X, y)
    assert_same_results(other.certify(X[:12], y[:12]), reference)


def test_another_random_state_gives_other_noise(data):
    X, y = data
    a = fitted(X, y, categorical_features=CATEGORICAL, random_state=0)
    b = fitted(X, y, categorical_features=CATEGORICAL, random_state=1)
    assert not np.array_equal(a.certify(X[:20]).p_lower, b.certify(X[:20]).p_lower)


# ---------------------------------------------------------------------- results


def test_zero_changes_is_the_radius_exactly(result):
    np.testing.assert_array_equal(result.radius_with_categorical_changes(0), result.radius)
    np.testing.assert_array_equal(result.categorical_radius[:, 0], result.radius)


def test_radius_is_non_increasing_in_changed_fields(result):
    radii = np.stack([result.radius_with_categorical_changes(k) for k in range(3)], axis=1)
    assert np.all(np.diff(radii, axis=1) <= 0)
    assert np.all(radii >= 0)
    assert np.any(radii[:, 1] > 0)  # q = 0.2 certifies some rows against one changed field
    np.testing.assert_array_equal(radii, result.categorical_radius)
    # A copy each time: the result cannot be changed through it.
    result.radius_with_categorical_changes(1)[:] = -1
    assert np.all(result.radius_with_categorical_changes(1) >= 0)


@pytest.mark.parametrize(
    "k, error, message",
    [
        (3, ValueError, "k must be between 0 and the 2 categorical column"),
        (-1, ValueError, "k must be between 0 and the 2"),
        (1.0, TypeError, "k must be an integer"),
        (True, TypeError, "k must be an integer"),
        ("1", TypeError, "k must be an integer"),
    ],
)
def test_bad_k_is_named(k, error, message, result):
    with pytest.raises(error, match=message):
        result.radius_with_categorical_changes(k)


def test_numpy_integer_k(result):
    np.testing.assert_array_equal(
        result.radius_with_categorical_changes(np.int64(2)),
        result.radius_with_categorical_changes(2),
    )


def test_summary_and_frame_have_the_changed_field_columns(result):
    summary = result.summary()
    for k in (1, 2):
        assert f"certified_accuracy@0|k={k}" in summary.columns
        assert any(c.startswith("certified_accuracy@") and c.endswith(f"|k={k}") for c in summary)
    assert "certified_accuracy@0" in summary.columns
    frame = result.to_frame()
    for k in (1, 2):
        np.testing.assert_array_equal(
            frame[f"radius_k{k}"], result.radius_with_categorical_changes(k)
        )
    assert "radius_k3" not in frame and "radius_k0" not in frame
    np.testing.assert_array_equal(frame["radius"], result.radius)


def test_view_with_changed_fields(result):
    view = result.with_categorical_changes(1)
    np.testing.assert_array_equal(view.radius, result.radius_with_categorical_changes(1))
    assert np.all(view.abstained[view.radius <= 0])
    assert view.certified_accuracy(0.0) == result.certified_accuracy(0.0, categorical_changes=1)
    assert result.certified_accuracy(0.0, categorical_changes=1) <= result.certified_accuracy(0.0)


def test_without_categorical_features_the_result_api_is_unchanged(data):
    X, y = data
    out = fitted(X, y).certify(X[:10], y[:10])
    assert out.n_categorical == 0 and out.categorical_radius is None
    np.testing.assert_array_equal(out.radius_with_categorical_changes(0), out.radius)
    with pytest.raises(ValueError, match="have no categorical column: give the SmoothedClassifier"):
        out.radius_with_categorical_changes(1)
    assert not any("|k=" in c for c in out.summary().columns)
    assert not any(c.startswith("radius_k") for c in out.to_frame().columns)


@pytest.mark.parametrize("noise", ["laplace", "uniform"])
def test_other_noises_certify_at_zero_changes_only(noise, data):
    X, y = data
    clf = fitted(X, y, noise=noise, categorical_features=CATEGORICAL, categorical_noise=0.2)
    out = clf.certify(X[:10], y[:10])
    assert out.noise == noise and out.norm == "l1"
    assert out.categorical_radius is None
    np.testing.assert_array_equal(out.radius_with_categorical_changes(0), out.radius)
    with pytest.raises(ValueError, match="Gaussian"):
        out.radius_with_categorical_changes(1)
    assert not any("|k=" in c for c in out.summary().columns)
    assert not any(c.startswith("radius_k") for c in out.to_frame().columns)


def test_decision_and_adaptive_modes_with_categorical_features(model, data):
    X, y = data
    decided = model.certify(X[:10], y[:10], radius=0.1)
    adaptive = model.certify(X[:10], y[:10], n_max=400)
    for out in (decided, adaptive):
        assert out.categorical_radius.shape == (10, 3)
        np.testing.assert_array_equal(out.radius_with_categorical_changes(0), out.radius)
        assert np.all(np.diff(out.categorical_radius, axis=1) <= 0)


def test_result_scales_and_region_leave_categorical_columns_to_k(result):
    np.testing.assert_array_equal(result.scales, [0.5, 0.0, 0.5, 0.0])
    assert result.sigma == 0.5 and not result.per_column
    assert "radius_with_categorical_changes" in result.region()


def test_fresh_noise_with_categorical_features(data):
    X, y = data
    base = RecordingClassifier().fit(X, y)
    clf = SmoothedClassifier(
        FrozenEstimator(base), **FAST, categorical_features=CATEGORICAL, fresh_noise=True
    ).fit(X, y)
    assert clf.certify(X[:10], y[:10]).categorical_radius.shape == (10, 3)
    base.seen_.clear()
    clf.predict(X[:2])
    clf.predict(X[:2])
    first, second = base.seen_
    assert not np.array_equal(first, second)  # fresh draws on every call
    assert not np.array_equal(first[:, CATEGORICAL], second[:, CATEGORICAL])


def test_smoothadv_refuses_categorical_features(model):
    with pytest.raises(TypeError, match="categorical"):
        model.__sksmooth_target__(n_noise_samples=4)


# ------------------------------------------------------------- clone and pickle


def test_clone_and_get_params_round_trip(data):
    X, y = data
    clf = SmoothedClassifier(
        LogisticRegression(), categorical_features=["merchant"], categorical_noise=[0.25]
    )
    params = clf.get_params()
    assert params["categorical_features"] == ["merchant"]
    assert params["categorical_noise"] == [0.25]
    twin = clone(clf)
    assert twin.get_params()["categorical_features"] == ["merchant"]
    assert twin.get_params()["categorical_noise"] == [0.25]
    clf.set_params(**{**FAST, "categorical_features": ["merchant", "channel"]})
    clf.set_params(categorical_noise=0.3).fit(as_codes_frame(X), y)
    assert clf.get_params()["categorical_features"] == ["merchant", "channel"]
    assert clf.get_params()["categorical_noise"] == 0.3
    refit = clone(clf).fit(as_codes_frame(X), y)
    np.testing.assert_array_equal(
        refit.predict_proba(as_codes_frame(X[:20])), clf.predict_proba(as_codes_frame(X[:20]))
    )


def test_grid_search_over_categorical_noise(data):
    X, y = data
    search = GridSearchCV(
        SmoothedClassifier(LogisticRegression(), **FAST, categorical_features=CATEGORICAL),
        {"categorical_noise": [0.05, 0.3]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["categorical_noise"] in (0.05, 0.3)
    assert search.best_estimator_.categories_[0].tolist() == CODES[0].tolist()


@pytest.mark.parametrize("to_input", [lambda X: X, as_category_frame])
def test_pickled_categorical_model_gives_identical_results(to_input, data):
    X, y = data
    X_in = to_input(X)
    spec = "from_dtype" if to_input is as_category_frame else CATEGORICAL
    clf = fitted(X_in, y, categorical_features=spec, categorical_noise=0.3)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict(X_in[:20]), clf.predict(X_in[:20]))
    np.testing.assert_array_equal(loaded.is_categorical_, clf.is_categorical_)
    for a, b in zip(loaded.categories_, clf.categories_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert_same_results(loaded.certify(X_in[:10], y[:10]), clf.certify(X_in[:10], y[:10]))
    if to_input is as_category_frame:  # the fitted dtype categories survive the round trip
        other = X_in[:3].assign(channel=X_in["channel"][:3].cat.add_categories(["branch"]))
        with pytest.raises(ValueError, match="but was fitted"):
            loaded.predict(other)


# ------------------------------------------------------------------ skorch nets


def test_mlp_net_with_categorical_columns_trains_and_certifies(data):
    X, y = data
    frame = as_category_frame(X)
    net = tiny_net(max_epochs=3)
    clf = SmoothedClassifier(
        net, **FAST, categorical_features="from_dtype", categorical_noise=0.2
    ).fit(frame, y)
    module = clf.estimator_.module_
    assert module.categorical_columns == (1, 3)
    assert module.layers[0].in_features == 2 + 3 + 4  # numeric, then one-hot blocks
    out = clf.certify(frame[:20], y[:20])
    assert out.categorical_radius.shape == (20, 3)
    assert out.certified_accuracy(0.0) > 0.5
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict(frame[:10]), clf.predict(frame[:10]))


# --------------------------------------------- what a new user tries first


def test_string_categorical_column_is_named(data):
    X, y = data
    frame = as_category_frame(X)
    strings = frame.assign(merchant=frame["merchant"].astype(str))
    with pytest.raises(ValueError, match="Categorical column 'merchant' holds .* values"):
        fitted(strings, y, categorical_features=["merchant", "channel"])
    clf = fitted(frame, y, categorical_features="from_dtype")
    with pytest.raises(ValueError, match="'merchant' was fitted as a pandas category column"):
        clf.predict(strings[:5])


def test_category_column_without_categorical_features_is_named(data):
    X, y = data
    with pytest.raises(ValueError, match="'merchant' has category dtype but is not among"):
        fitted(as_category_frame(X), y)


def test_categorical_noise_series_is_read_by_name(data):
    X, y = data
    frame = as_codes_frame(X)
    noise = pd.Series({"channel": 0.5, "merchant": 0.1})  # not in column order
    clf = fitted(frame, y, categorical_features=["merchant", "channel"], categorical_noise=noise)
    np.testing.assert_array_equal(clf._noise_model().categorical.probability, [0.1, 0.5])
