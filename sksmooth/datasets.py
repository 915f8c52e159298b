"""Built-in synthetic data, so that examples and the demo run offline."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils import check_random_state, check_scalar

__all__ = ["make_fraud", "make_fraud_preprocessor"]

# Per class: (legitimate, fraudulent) distribution parameters. Fraud is
# larger, faster, more frequent, farther from home, on younger accounts,
# and leans towards online electronics, gaming and travel.
_MERCHANTS = ["grocery", "restaurants", "fuel", "retail", "electronics", "travel", "gaming"]
_MERCHANT_P = (
    [0.30, 0.20, 0.15, 0.20, 0.08, 0.05, 0.02],
    [0.06, 0.06, 0.06, 0.17, 0.30, 0.20, 0.15],
)
_CHANNELS = ["in_store", "online", "phone"]
_CHANNEL_P = ([0.60, 0.35, 0.05], [0.20, 0.65, 0.15])


NUMERIC_COLUMNS = [
    "amount",
    "hours_since_last_txn",
    "txn_velocity_24h",
    "distance_from_home_km",
    "account_age_days",
]
CATEGORICAL_COLUMNS = ["merchant_category", "channel"]


def _draw_class(rng: np.random.RandomState, size: int, fraud: int) -> dict:
    """Draw ``size`` transactions of one class (0: legitimate, 1: fraud)."""
    return {
        "amount": np.round(rng.lognormal((3.5, 4.6)[fraud], (1.0, 1.1)[fraud], size), 2),
        "hours_since_last_txn": np.round(rng.exponential((24.0, 4.0)[fraud], size), 2),
        "txn_velocity_24h": rng.poisson((2.0, 5.0)[fraud], size).astype(float),
        "distance_from_home_km": np.round(rng.lognormal((2.0, 3.4)[fraud], 1.2, size), 1),
        "account_age_days": np.round(rng.uniform(1, (3650, 900)[fraud], size)),
        "merchant_category": rng.choice(_MERCHANTS, size, p=_MERCHANT_P[fraud]),
        "channel": rng.choice(_CHANNELS, size, p=_CHANNEL_P[fraud]),
    }


def make_fraud(
    n_samples: int = 20_000, *, fraud_rate: float = 0.015, random_state=None
) -> tuple[pd.DataFrame, pd.Series]:
    """Generate a synthetic card-transaction table with rare fraud.

    Five continuous columns (``amount``, ``hours_since_last_txn``,
    ``txn_velocity_24h``, ``distance_from_home_km``, ``account_age_days``)
    and two categorical ones (``merchant_category``, ``channel``). Each class
    has its own overlapping distribution, so fraud is learnable but not
    trivially separable.

    Parameters
    ----------
    n_samples : int, default=20_000
        Number of transactions, at least 2.
    fraud_rate : float, default=0.015
        Fraction of fraudulent transactions, in (0, 1). The count is
        ``round(n_samples * fraud_rate)``, kept between 1 and ``n_samples - 1``
        so both classes are present.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 7)
        Features; the two categorical columns have ``category`` dtype.
    y : pandas.Series of shape (n_samples,)
        ``is_fraud``: 1 for fraud, 0 otherwise.

    Examples
    --------
    >>> from sksmooth.datasets import make_fraud
    >>> X, y = make_fraud(1000, fraud_rate=0.02, random_state=0)
    >>> X.shape, int(y.sum())
    ((1000, 7), 20)
    >>> list(X.columns[-2:])
    ['merchant_category', 'channel']
    """
    check_scalar(n_samples, "n_samples", numbers.Integral, min_val=2)
    check_scalar(
        fraud_rate, "fraud_rate", numbers.Real, min_val=0, max_val=1, include_boundaries="neither"
    )
    if np.isnan(fraud_rate):  # NaN passes every comparison check_scalar makes
        raise ValueError("fraud_rate must be a number in (0, 1), got nan.")
    rng = check_random_state(random_state)
    n_fraud = int(np.clip(round(n_samples * fraud_rate), 1, n_samples - 1))
    parts = [_draw_class(rng, n_samples - n_fraud, 0), _draw_class(rng, n_fraud, 1)]
    X = pd.DataFrame({name: np.concatenate([p[name] for p in parts]) for name in parts[0]})
    y = np.repeat([0, 1], [n_samples - n_fraud, n_fraud])
    order = rng.permutation(n_samples)
    X = X.iloc[order].reset_index(drop=True)
    X["merchant_category"] = pd.Categorical(X["merchant_category"], categories=_MERCHANTS)
    X["channel"] = pd.Categorical(X["channel"], categories=_CHANNELS)
    return X, pd.Series(y[order], name="is_fraud")


def make_fraud_preprocessor(categorical: str = "one-hot") -> ColumnTransformer:
    """Build the preprocessing for :func:`make_fraud` data: scale, and encode the categories.

    A :class:`~sklearn.preprocessing.StandardScaler` on the five numeric
    columns (``NUMERIC_COLUMNS``) and, on the two categorical ones
    (``CATEGORICAL_COLUMNS``), in that order, a dense
    :class:`~sklearn.preprocessing.OneHotEncoder` (categories unseen in
    ``fit`` encode as all zeros) or an
    :class:`~sklearn.preprocessing.OrdinalEncoder` (one column of codes
    ``0 .. K-1`` each, for ``SmoothedClassifier(categorical_features=...)``;
    an unseen category is an error). A smoothed classifier after it adds noise in
    standard deviations of each numeric column, and being affine in every
    numeric column, the scaler lets
    :meth:`~sksmooth.CertificationResult.per_feature_change` read a
    certificate back in euros, hours, kilometres, transactions and days.

    Output columns keep the input names (``amount``, ...) and name each
    one-hot category ``<column>_<category>`` (``channel_online``, ...), so
    with ``set_output(transform="pandas")`` a per-column ``sigma`` (or
    ``categorical_features``) can name them.

    Parameters
    ----------
    categorical : {"one-hot", "ordinal"}, default="one-hot"
        How the categorical columns are encoded.

    Returns
    -------
    preprocessor : sklearn.compose.ColumnTransformer
        Unfitted; 5 numeric columns, then 10 one-hot columns (once fitted on
        data holding every category) or the 2 code columns.

    See Also
    --------
    make_fraud : The data it is made for.

    Examples
    --------
    >>> from sksmooth.datasets import make_fraud, make_fraud_preprocessor
    >>> X, y = make_fraud(500, random_state=0)
    >>> preprocessor = make_fraud_preprocessor().fit(X)
    >>> preprocessor.transform(X).shape
    (500, 15)
    >>> preprocessor.get_feature_names_out()[[0, 4, 5, -1]].tolist()
    ['amount', 'account_age_days', 'merchant_category_electronics', 'channel_phone']
    >>> make_fraud_preprocessor("ordinal").fit(X).get_feature_names_out()[-2:].tolist()
    ['merchant_category', 'channel']
    """
    if categorical == "one-hot":
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    elif categorical == "ordinal":
        encoder = OrdinalEncoder()
    else:
        raise ValueError(f'categorical must be "one-hot" or "ordinal", got {categorical!r}.')
    return ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(NUMERIC_COLUMNS)),
            ("categorical", encoder, list(CATEGORICAL_COLUMNS)),
        ],
        verbose_feature_names_out=False,
    )
