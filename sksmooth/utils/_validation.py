"""Checks shared by estimators, attacks, metrics and diagnostics."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils import check_scalar

__all__ = [
    "MAX_COUNT",
    "check_alpha",
    "check_flag",
    "check_label",
    "check_n_jobs",
    "check_radius",
    "check_sample_counts",
    "final_step",
    "split_pipeline",
]

# Counts end up in numpy int64 arrays (votes, seeds, progress totals) and loops
# over them: a larger one overflows, or runs for ever.
MAX_COUNT = int(np.iinfo(np.int64).max)
# joblib passes n_jobs on as a C int.
MAX_JOBS = int(np.iinfo(np.int32).max)


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
    """Each count (``n0``, ``n``, ``n_samples``, ``steps``, ...) is an int in [1, 2**63 - 1].

    Examples
    --------
    >>> from sksmooth.utils._validation import check_sample_counts
    >>> check_sample_counts(n0=100, n=0)
    Traceback (most recent call last):
    ...
    ValueError: n == 0, must be >= 1.
    """
    for name, value in counts.items():
        check_scalar(value, name, numbers.Integral, min_val=1, max_val=MAX_COUNT)


def check_n_jobs(n_jobs) -> None:
    """None, or a number of joblib workers: a non-zero int (negative: all cores but some).

    Examples
    --------
    >>> from sksmooth.utils._validation import check_n_jobs
    >>> check_n_jobs(0)
    Traceback (most recent call last):
    ...
    ValueError: n_jobs == 0 has no meaning; use None, -1 or a positive count.
    """
    if n_jobs is None:
        return
    check_scalar(n_jobs, "n_jobs", numbers.Integral, min_val=-MAX_JOBS, max_val=MAX_JOBS)
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, -1 or a positive count.")


def check_flag(value, name: str) -> None:
    """A bool (numpy's too); anything else, even a truthy one, is a TypeError naming ``name``.

    Examples
    --------
    >>> from sksmooth.utils._validation import check_flag
    >>> check_flag("yes", "per_class")
    Traceback (most recent call last):
    ...
    TypeError: per_class must be True or False, got 'yes'.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")


def check_radius(radius, name: str = "radius") -> None:
    """A finite number >= 0 (not a bool).

    Examples
    --------
    >>> from sksmooth.utils._validation import check_radius
    >>> check_radius(float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: radius must be finite, got inf.
    """
    if isinstance(radius, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got {radius!r}.")
    check_scalar(radius, name, numbers.Real, min_val=0)
    if not np.isfinite(radius):
        raise ValueError(f"{name} must be finite, got {radius!r}.")


def check_label(label, name: str) -> None:
    """One class label (a number, a string, ...), not an array or a tensor of them.

    Examples
    --------
    >>> from sksmooth.utils._validation import check_label
    >>> check_label([0, 1], "pos_label")
    Traceback (most recent call last):
    ...
    TypeError: pos_label must be a single label, got [0, 1].
    """
    try:
        single = np.ndim(label) == 0
    except ValueError:  # a ragged sequence
        single = False
    if not single:
        raise TypeError(f"{name} must be a single label, got {label!r}.")


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


def check_threshold(threshold, name: str = "threshold") -> float:
    """A decision threshold of a score, a real number strictly inside (0, 1), as a float.

    At 0 or 1 every score or none would lie on one side, so no certificate
    could speak about it.

    Examples
    --------
    >>> from sksmooth.utils._validation import check_threshold
    >>> check_threshold(0.2)
    0.2
    >>> check_threshold(1.0)
    Traceback (most recent call last):
    ...
    ValueError: threshold must lie strictly between 0 and 1, got 1.0.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"{name} must be a number in (0, 1), got {threshold!r}.")
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {threshold!r}.")
    return float(threshold)
