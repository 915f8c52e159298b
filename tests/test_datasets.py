"""The synthetic fraud table: shape, dtypes, class balance, seeding, signal."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

from sksmooth import make_fraud
from sksmooth.datasets import make_fraud_preprocessor

NUMERIC = [
    "amount",
    "hours_since_last_txn",
    "txn_velocity_24h",
    "distance_from_home_km",
    "account_age_days",
]
CATEGORICAL = {
    "merchant_category": [
        "grocery",
        "restaurants",
        "fuel",
        "retail",
        "electronics",
        "travel",
        "gaming",
    ],
    "channel": ["in_store", "online", "phone"],
}


def test_shapes_columns_and_dtypes():
    X, y = make_fraud(1000, fraud_rate=0.02, random_state=0)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert X.shape == (1000, 7)
    assert y.shape == (1000,)
    assert y.name == "is_fraud"
    assert list(X.columns) == NUMERIC + list(CATEGORICAL)
    for column in NUMERIC:
        assert X[column].dtype == np.float64, column
    for column, categories in CATEGORICAL.items():
        assert isinstance(X[column].dtype, pd.CategoricalDtype), column
        assert list(X[column].cat.categories) == categories
    assert np.issubdtype(y.dtype, np.integer)
    assert set(y.unique()) == {0, 1}
    # Plain 0..n-1 indices, aligned, so X.loc / y.loc and splitting just work.
    pd.testing.assert_index_equal(X.index, pd.RangeIndex(1000))
    pd.testing.assert_index_equal(y.index, pd.RangeIndex(1000))
    assert not X.isna().any().any()


def test_values_are_in_plausible_ranges():
    X, _ = make_fraud(5000, fraud_rate=0.1, random_state=0)
    assert (X["amount"] > 0).all()
    assert (X["hours_since_last_txn"] >= 0).all()
    assert (X["distance_from_home_km"] >= 0).all()
    velocity = X["txn_velocity_24h"]
    assert (velocity >= 0).all() and (velocity == np.round(velocity)).all()
    assert X["account_age_days"].between(1, 3650).all()


@pytest.mark.parametrize(
    "n_samples, fraud_rate, n_fraud",
    [
        (1000, 0.02, 20),
        (20_000, 0.015, 300),
        (333, 0.1, 33),  # round(33.3)
        (10, 0.01, 1),  # round(0.1) = 0, kept at 1 so both classes exist
        (10, 0.99, 9),  # round(9.9) = 10, kept at n - 1
        (2, 0.5, 1),
        (2, 0.01, 1),
    ],
)
def test_fraud_count(n_samples, fraud_rate, n_fraud):
    X, y = make_fraud(n_samples, fraud_rate=fraud_rate, random_state=0)
    assert len(X) == len(y) == n_samples
    assert int(y.sum()) == n_fraud


def test_fraud_rows_are_shuffled():
    # Fraud is not all at the end, so a head/tail split keeps both classes.
    _, y = make_fraud(2000, fraud_rate=0.1, random_state=0)
    assert y[:1000].sum() > 0 and y[1000:].sum() > 0


def test_same_seed_gives_same_data():
    X1, y1 = make_fraud(500, random_state=42)
    X2, y2 = make_fraud(500, random_state=42)
    pd.testing.assert_frame_equal(X1, X2)
    pd.testing.assert_series_equal(y1, y2)

    X3, y3 = make_fraud(500, random_state=np.random.RandomState(42))
    pd.testing.assert_frame_equal(X1, X3)
    pd.testing.assert_series_equal(y1, y3)


def test_different_seeds_give_different_data():
    X1, y1 = make_fraud(500, random_state=0)
    X2, y2 = make_fraud(500, random_state=1)
    assert not X1.equals(X2)
    assert not y1.equals(y2)
    assert y1.sum() == y2.sum()  # the count is fixed, only the rows move


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n_samples": 1}, ValueError, "n_samples == 1, must be >= 2"),
        ({"n_samples": 0}, ValueError, "n_samples == 0, must be >= 2"),
        ({"n_samples": 100.0}, TypeError, "n_samples must be an instance of int"),
        ({"fraud_rate": 0}, ValueError, "fraud_rate == 0, must be > 0"),
        ({"fraud_rate": 1}, ValueError, "fraud_rate == 1, must be < 1"),
        ({"fraud_rate": -0.1}, ValueError, "fraud_rate == -0.1, must be > 0"),
        ({"fraud_rate": "0.1"}, TypeError, "fraud_rate must be an instance of"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    kwargs = {"n_samples": 100, **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        make_fraud(kwargs.pop("n_samples"), **kwargs, random_state=0)


def test_fraud_differs_as_documented():
    # Fraud is larger, faster, more frequent, farther from home, on younger
    # accounts, and more often online.
    X, y = make_fraud(20_000, fraud_rate=0.1, random_state=0)
    fraud, legit = X[y == 1], X[y == 0]
    assert fraud["amount"].median() > legit["amount"].median()
    assert fraud["hours_since_last_txn"].mean() < legit["hours_since_last_txn"].mean()
    assert fraud["txn_velocity_24h"].mean() > legit["txn_velocity_24h"].mean()
    assert fraud["distance_from_home_km"].median() > legit["distance_from_home_km"].median()
    assert fraud["account_age_days"].mean() < legit["account_age_days"].mean()
    assert (fraud["channel"] == "online").mean() > (legit["channel"] == "online").mean()


def test_fraud_is_learnable_but_not_separable():
    X, y = make_fraud(5000, fraud_rate=0.05, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=0
    )
    model = make_pipeline(
        make_fraud_preprocessor(),
        LogisticRegression(class_weight="balanced", max_iter=1000),
    ).fit(X_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    # Learnable, yet the class distributions overlap: no perfect ranking.
    assert 0.9 < auc < 1.0


def test_fraud_preprocessor_scales_numbers_and_one_hot_encodes_categories():
    X, _ = make_fraud(600, random_state=0)
    preprocessor = make_fraud_preprocessor()
    with pytest.raises(NotFittedError):
        check_is_fitted(preprocessor)
    Z = preprocessor.fit_transform(X)
    names = preprocessor.get_feature_names_out().tolist()
    one_hot = [f"{column}_{c}" for column, values in CATEGORICAL.items() for c in sorted(values)]
    assert names == NUMERIC + one_hot  # input names kept, no transformer prefix
    assert isinstance(Z, np.ndarray) and Z.dtype == np.float64 and Z.shape == (600, len(names))
    np.testing.assert_allclose(Z[:, :5].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:, :5].std(axis=0), 1)
    for column, values in CATEGORICAL.items():
        block = [i for i, name in enumerate(names) if name.startswith(column + "_")]
        assert len(block) == len(values)
        np.testing.assert_array_equal(Z[:, block].sum(axis=1), 1)  # one category each
    # An unseen category encodes as all zeros instead of failing at prediction.
    unseen = X.head(1).astype({"channel": "object"})
    unseen.loc[:, "channel"] = "drone"
    row = preprocessor.transform(unseen)[0]
    assert not row[[i for i, n in enumerate(names) if n.startswith("channel_")]].any()
    # Each call builds a new, unfitted preprocessor; pandas output keeps the names.
    frame = clone(make_fraud_preprocessor()).set_output(transform="pandas").fit_transform(X)
    assert frame.columns.tolist() == names
    assert make_fraud_preprocessor() is not make_fraud_preprocessor()
