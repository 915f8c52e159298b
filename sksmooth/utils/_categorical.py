"""Categorical columns: which they are, their codes, and the checks on those codes.

``categorical_features`` is spelled as in scikit-learn's
:class:`~sklearn.ensemble.HistGradientBoostingClassifier`: None (no
categorical column), a boolean mask, integer indices, feature names, or
``"from_dtype"`` (the pandas columns of ``category`` dtype). Categorical
columns hold category codes: non-negative integers (for instance from an
:class:`~sklearn.preprocessing.OrdinalEncoder`), or pandas ``category``
columns, which are read as their codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["categorical_mask", "check_codes", "learn_categories", "pandas_codes"]


def categorical_mask(categorical_features, X, n_features: int, feature_names) -> np.ndarray:
    """The boolean mask of categorical columns for ``categorical_features``.

    Examples
    --------
    >>> from sksmooth.utils._categorical import categorical_mask
    >>> categorical_mask([2], None, 3, None)
    array([False, False,  True])
    """
    if categorical_features is None:
        return np.zeros(n_features, dtype=bool)
    if isinstance(categorical_features, str):
        if categorical_features != "from_dtype":
            raise ValueError(
                "categorical_features must be None, 'from_dtype', a boolean mask, integer "
                f"indices or feature names; got {categorical_features!r}."
            )
        if not isinstance(X, pd.DataFrame):
            return np.zeros(n_features, dtype=bool)
        return np.array([isinstance(d, pd.CategoricalDtype) for d in X.dtypes], dtype=bool)
    spec = np.asarray(categorical_features)
    if spec.ndim != 1:
        raise ValueError(f"categorical_features must be 1-D, got an array of shape {spec.shape}.")
    mask = np.zeros(n_features, dtype=bool)
    if spec.size == 0:
        return mask
    if spec.dtype.kind == "b":
        if spec.shape != (n_features,):
            raise ValueError(
                f"categorical_features as a boolean mask needs one entry per feature, shape "
                f"({n_features},); got {spec.shape}."
            )
        return spec.copy()
    if spec.dtype.kind in "iu":
        if np.any(spec < -n_features) or np.any(spec >= n_features):
            raise ValueError(
                f"categorical_features holds indices {spec.tolist()} outside the "
                f"{n_features} features."
            )
        mask[spec] = True
        return mask
    if spec.dtype.kind in "UO":
        if feature_names is None:
            raise ValueError(
                "categorical_features names columns, but X has no column names; give "
                "integer indices or a boolean mask instead."
            )
        names = [str(n) for n in feature_names]
        unknown = [str(n) for n in spec if str(n) not in names]
        if unknown:
            raise ValueError(f"categorical_features names columns {unknown} not in X: {names}.")
        mask[[names.index(str(n)) for n in spec]] = True
        return mask
    raise ValueError(
        "categorical_features must be None, 'from_dtype', a boolean mask, integer indices "
        f"or feature names; got {categorical_features!r}."
    )


def pandas_codes(X, mask: np.ndarray, known: dict | None = None):
    """``X`` with its pandas ``category`` columns replaced by their codes, and their categories.

    Parameters
    ----------
    X : object
        Returned as is unless it is a DataFrame with ``category`` columns; the
        user's frame is never modified.
    mask : ndarray of bool
        The categorical columns.
    known : dict, default=None
        ``{column index: categories}`` learned in ``fit``: a frame whose
        ``category`` column has other categories, or that gives such a
        column another dtype, is an error (its codes would mean other things).

    Returns
    -------
    X : object
    categories : dict
        ``{column index: list of categories}`` of each ``category`` column.
    """
    if not isinstance(X, pd.DataFrame):
        return X, {}
    found = {}
    converted = {}
    for index, (name, dtype) in enumerate(X.dtypes.items()):
        listed = index < len(mask) and mask[index]
        if not isinstance(dtype, pd.CategoricalDtype):
            if listed and (known or {}).get(index) is not None:
                raise ValueError(
                    f"Column {name!r} was fitted as a pandas category column; pass it with "
                    f"that dtype again, not as {dtype} (its values would be read as codes)."
                )
            if listed and not pd.api.types.is_numeric_dtype(dtype):
                raise ValueError(
                    f"Categorical column {name!r} holds {dtype} values; give it category codes "
                    "(an OrdinalEncoder) or the pandas category dtype."
                )
            continue
        if not listed:
            raise ValueError(
                f"Column {name!r} has category dtype but is not among categorical_features; "
                "list it there (or use categorical_features='from_dtype')."
            )
        categories = list(dtype.categories)
        if known is not None and known.get(index) != categories:
            fitted = known.get(index)
            was = "plain codes" if fitted is None else f"the categories {fitted}"
            raise ValueError(
                f"Column {name!r} has categories {categories}, but was fitted with {was}; "
                "its codes would mean other categories."
            )
        codes = X.iloc[:, index].cat.codes.to_numpy()
        if np.any(codes < 0):
            raise ValueError(f"Categorical column {name!r} holds missing values (NaN).")
        found[index] = categories
        converted[index] = codes.astype(np.float64)
    if not converted:
        return X, {}
    X = X.copy(deep=False)  # the user's frame keeps its columns
    for index, codes in converted.items():
        X.isetitem(index, codes)  # by position: any column names, duplicates included
    return X, found


def check_codes(X: np.ndarray, columns: np.ndarray, feature_names=None) -> None:
    """Raise a ValueError unless the categorical columns of ``X`` hold integer codes >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.utils._categorical import check_codes
    >>> check_codes(np.array([[0.5, 2.0]]), np.array([1]))  # column 1 holds the code 2
    """
    for column in columns:
        values = X[:, column]
        name = (
            f"column {column}"
            if feature_names is None
            else f"column {str(feature_names[column])!r}"
        )
        problem = None
        if not np.all(np.isfinite(values)):
            problem = "NaN or infinite values"
        elif np.any(values < 0):
            problem = f"the negative value {values[np.argmax(values < 0)]:g}"
        elif np.any(values != np.floor(values)):
            problem = f"the non-integer value {values[np.argmax(values != np.floor(values))]:g}"
        if problem is not None:
            raise ValueError(
                f"Categorical {name} holds {problem}; categorical columns hold category "
                "codes, integers >= 0 (e.g. from an OrdinalEncoder), or pandas categories."
            )


def learn_categories(X: np.ndarray, columns: np.ndarray, dtype_categories: dict) -> tuple:
    """The sorted category codes of each categorical column.

    All codes of a pandas ``category`` column's dtype (seen or not), else the
    codes seen in ``X``.
    """
    return tuple(
        np.arange(len(dtype_categories[c]), dtype=np.float64)
        if c in dtype_categories
        else np.unique(X[:, c])
        for c in columns
    )
