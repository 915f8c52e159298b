"""Checks shared by estimators, attacks, metrics and diagnostics."""

from __future__ import annotations

import numbers

from sklearn.pipeline import Pipeline
from sklearn.utils import check_scalar

__all__ = ["check_alpha", "check_sample_counts", "final_step", "split_pipeline"]


def final_step(estimator):
    """The last step of a :class:`~sklearn.pipeline.Pipeline`, or the estimator itself.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sksmooth.utils._validation import final_step
    >>> final_step(make_pipeline(StandardScaler(), LogisticRegression()))
    LogisticRegression()
    """
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def split_pipeline(estimator, X):
    """``(final step, X in its input space, preprocessing or None)``.

    For a pipeline, ``X`` goes through every step but the last; the
    preprocessing returned is ``estimator[:-1]``, to map results back (None
    for a pipeline of one step, which has nothing before its last step).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sksmooth.utils._validation import split_pipeline
    >>> X, y = np.array([[0.0], [2.0]]), np.array([0, 1])
    >>> pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    >>> final, X_final, preprocessing = split_pipeline(pipe, X)
    >>> X_final.ravel().tolist()
    [-1.0, 1.0]
    """
    if isinstance(estimator, Pipeline) and len(estimator) > 1:
        preprocessing = estimator[:-1]
        return estimator[-1], preprocessing.transform(X), preprocessing
    return final_step(estimator), X, None


def check_sample_counts(**counts) -> None:
    """Each Monte Carlo sample count (``n0``, ``n``, ``n_samples``, ...) is an int >= 1.

    Examples
    --------
    >>> from sksmooth.utils._validation import check_sample_counts
    >>> check_sample_counts(n0=100, n=0)
    Traceback (most recent call last):
    ...
    ValueError: n == 0, must be >= 1.
    """
    for name, value in counts.items():
        check_scalar(value, name, numbers.Integral, min_val=1)


def check_alpha(alpha, name: str = "alpha") -> None:
    """A failure probability in (0, 1/2].

    A certificate wrong more often than not certifies nothing; and near 1
    the bound rounds to exactly 1 in float64, whose radius would be infinite
    (at ``alpha = 1 - 1e-12`` the exact radius is 8.49 sigma). Up to 1/2 the
    bound stays a float64 number below 1 for any sample count.

    Examples
    --------
    >>> from sksmooth.utils._validation import check_alpha
    >>> check_alpha(0.9)
    Traceback (most recent call last):
    ...
    ValueError: alpha == 0.9, must be <= 0.5.
    """
    check_scalar(alpha, name, numbers.Real, min_val=0, max_val=0.5, include_boundaries="right")
