"""Jacobian of a fitted preprocessing chain, input feature by input feature.

A certificate of a smoothed step is a region of that step's input space. When
the preprocessing in front of it is affine in an input feature, a change ``t``
of that feature alone moves the smoothed step's input by ``J[:, j] * t``, with
``J`` the Jacobian of the preprocessing, so the region can be read back in the
user's own units. This module computes ``J`` from the fitted attributes of the
preprocessing, and marks the features for which no such reading exists.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectorMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted

__all__ = ["FeatureMap", "feature_map", "identity_feature_map"]

# Classes known to be non-affine, named as such in the reasons; any other
# unsupported class is only "not known to be affine".
_NOT_AFFINE = frozenset(
    {
        "Binarizer",
        "KBinsDiscretizer",
        "MissingIndicator",
        "Normalizer",
        "OneHotEncoder",
        "OrdinalEncoder",
        "PolynomialFeatures",
        "PowerTransformer",
        "QuantileTransformer",
        "SplineTransformer",
        "TargetEncoder",
    }
)

# A step's Jacobian with, per input column, None or why that column is all-NaN.
_Partial = tuple[np.ndarray, np.ndarray]
# The first rows of a step's input, computed only when a step's width is needed.
_Rows = Callable[[], Any]


@dataclass(frozen=True, eq=False)
class FeatureMap:
    """How a change of each input feature moves the smoothed step's input.

    Parameters
    ----------
    jacobian : ndarray of shape (n_outputs, n_inputs)
        Derivative of the preprocessing output (the smoothed step's input)
        with respect to each input feature. Column ``j`` is all-NaN where
        input ``j`` reaches a step that is not affine, and all-zero where the
        preprocessing drops input ``j``. Stored as read-only float64.
    input_names : ndarray of shape (n_inputs,)
        Object array of str: the column names of the data, or ``"x0"``,
        ``"x1"``, ... for arrays.
    unsupported : dict
        ``{input name: reason}`` for each all-NaN column of `jacobian`; empty
        when the preprocessing is affine in every input feature.

    See Also
    --------
    feature_map : Build the map of a fitted preprocessing chain.
    identity_feature_map : The map of no preprocessing.

    Examples
    --------
    >>> from sksmooth.utils._feature_map import identity_feature_map
    >>> fmap = identity_feature_map(2, names=["age", "income"])
    >>> fmap.jacobian
    array([[1., 0.],
           [0., 1.]])
    >>> fmap.input_names.tolist(), fmap.unsupported
    (['age', 'income'], {})
    """

    jacobian: np.ndarray
    input_names: np.ndarray
    unsupported: dict

    def __post_init__(self) -> None:
        jacobian = np.array(self.jacobian, dtype=np.float64)
        names = np.array([str(name) for name in self.input_names], dtype=object)
        if jacobian.ndim != 2 or jacobian.shape[1] != names.shape[0]:
            raise ValueError(
                f"jacobian of shape {jacobian.shape} does not match {names.shape[0]} input names"
            )
        # Frozen in spirit too: the map is shared by every certificate read from it.
        jacobian.flags.writeable = False
        names.flags.writeable = False
        object.__setattr__(self, "jacobian", jacobian)
        object.__setattr__(self, "input_names", names)
        object.__setattr__(self, "unsupported", dict(self.unsupported))


def identity_feature_map(n_features: int, names=None) -> FeatureMap:
    """Return the feature map of no preprocessing.

    Parameters
    ----------
    n_features : int
        Number of input features.
    names : sequence of str, optional
        Input feature names; ``"x0"``, ``"x1"``, ... when omitted.

    Returns
    -------
    FeatureMap
        Identity Jacobian, every feature supported.

    Examples
    --------
    >>> from sksmooth.utils._feature_map import identity_feature_map
    >>> identity_feature_map(3).input_names.tolist()
    ['x0', 'x1', 'x2']
    """
    n_features = int(n_features)
    if n_features < 0:
        raise ValueError(f"n_features must be non-negative, got {n_features}")
    if names is None:
        names = [f"x{i}" for i in range(n_features)]
    elif len(names) != n_features:
        raise ValueError(f"got {len(names)} names for {n_features} features")
    return FeatureMap(np.eye(n_features), np.asarray(list(names), dtype=object), {})


def feature_map(transformer, X) -> FeatureMap:
    """Return how each input feature moves the output of a fitted preprocessing chain.

    Supported steps, each read from its fitted attributes: ``StandardScaler``,
    ``RobustScaler``, ``MaxAbsScaler``, ``MinMaxScaler`` (not with
    ``clip=True``), ``FunctionTransformer(func=None)``, ``SimpleImputer`` with
    NaN as missing value and no indicator (identity on the columns it keeps;
    for an entry that is missing, a change is measured from the value it fills
    in), scikit-learn's feature selectors, ``'passthrough'``, ``'drop'`` and
    ``None``, combined by ``Pipeline``, ``ColumnTransformer`` (with
    ``transformer_weights`` and ``remainder``) and ``FeatureUnion`` to any
    depth. Subclasses and every other transformer are not assumed affine: the
    input columns that reach them get an all-NaN Jacobian column and a reason.

    Parameters
    ----------
    transformer : estimator, Pipeline, 'passthrough', 'drop' or None
        The fitted preprocessing in front of the smoothed step, e.g.
        ``pipe[:-1]``. An empty pipeline, ``'passthrough'`` and ``None`` are the
        identity.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Data in the user's units. Gives the input names and the number of
        inputs; its first rows are transformed only to count the outputs of a
        step that is not affine. Not modified.

    Returns
    -------
    FeatureMap
        Jacobian of shape (n_outputs, n_features), input names and reasons.

    Raises
    ------
    TypeError
        If a step has no ``transform`` method (e.g. the final classifier).
    ValueError
        If the widths of `X` and the steps do not match.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.preprocessing import MinMaxScaler, OneHotEncoder
    >>> from sksmooth.utils._feature_map import feature_map
    >>> X = pd.DataFrame({"age": [20.0, 40.0, 60.0], "city": ["a", "b", "a"]})
    >>> ct = ColumnTransformer(
    ...     [("num", MinMaxScaler(), ["age"]), ("cat", OneHotEncoder(), ["city"])]
    ... ).fit(X)
    >>> fmap = feature_map(ct, X)
    >>> fmap.jacobian
    array([[0.025,   nan],
           [0.   ,   nan],
           [0.   ,   nan]])
    >>> fmap.unsupported
    {'city': "OneHotEncoder 'cat' is not affine"}
    """
    if isinstance(X, pd.DataFrame):
        names = [str(column) for column in X.columns]
        n_in = X.shape[1]
    else:
        if not hasattr(X, "shape"):
            X = np.asarray(X)
        if len(X.shape) != 2:
            raise ValueError(f"X must be 2-D, got shape {X.shape}")
        n_in = X.shape[1]
        fitted_names = getattr(transformer, "feature_names_in_", None)
        if fitted_names is not None and len(fitted_names) == n_in:
            names = [str(name) for name in fitted_names]
        else:
            names = [f"x{i}" for i in range(n_in)]
    expected = _n_features_in(transformer)
    if expected is not None and expected != n_in:
        raise ValueError(f"X has {n_in} features, but the transformer expects {expected}")

    jacobian, reasons = _map(transformer, n_in, functools.cache(lambda: _head(X)), "", None)
    unsupported = {names[j]: reasons[j] for j in np.flatnonzero(_bad(reasons))}
    return FeatureMap(jacobian, np.asarray(names, dtype=object), unsupported)


def _map(est, n_in: int, rows: _Rows, path: str, n_out: int | None) -> _Partial:
    """Jacobian of `est` on `n_in` inputs; `n_out` is its known width, if any."""
    if est is None or (isinstance(est, str) and est == "passthrough"):
        return np.eye(n_in), _no_reasons(n_in)
    if isinstance(est, str) and est == "drop":
        return np.zeros((0, n_in)), _no_reasons(n_in)
    if isinstance(est, str):
        raise ValueError(f"unknown step {est!r}{_at(path)}")
    # Exact types only: a subclass may transform differently.
    kind = type(est)
    if kind is Pipeline:
        return _pipeline(est, n_in, rows, path, n_out)
    if not hasattr(est, "transform"):
        raise TypeError(f"{kind.__name__}{_at(path)} has no transform method")
    if kind is ColumnTransformer:
        return _column_transformer(est, n_in, rows, path)
    if kind is FeatureUnion:
        return _feature_union(est, n_in, rows, path)
    if kind is FunctionTransformer and est.func is None:
        return np.eye(n_in), _no_reasons(n_in)

    if kind in (StandardScaler, RobustScaler, MaxAbsScaler, MinMaxScaler):
        check_is_fitted(est)
        _check_width(est, n_in, path)
        # scale_ is None when scaling is off (with_std=False, with_scaling=False).
        scale = np.ones(n_in) if est.scale_ is None else np.asarray(est.scale_, np.float64)
        if kind is not MinMaxScaler:
            return np.diag(1.0 / scale), _no_reasons(n_in)
        if not est.clip:
            return np.diag(scale), _no_reasons(n_in)
        reason = f"MinMaxScaler{_quoted(path)} clips to feature_range"
    elif kind is SimpleImputer:
        check_is_fitted(est)
        _check_width(est, n_in, path)
        missing = est.missing_values
        if est.add_indicator:
            reason = f"SimpleImputer{_quoted(path)} adds missing-value indicators"
        elif not (isinstance(missing, (float, np.floating)) and math.isnan(missing)):
            # A finite change could land on the missing-value marker and be replaced.
            reason = f"SimpleImputer{_quoted(path)} replaces missing_values={missing!r}"
        else:
            # Columns without any observed value at fit time are dropped.
            keep = np.ones(n_in, dtype=bool)
            if not est.keep_empty_features:
                keep = np.array([value == value for value in est.statistics_], dtype=bool)
            return np.eye(n_in)[keep], _no_reasons(n_in)
    elif isinstance(est, SelectorMixin) and _is_selection(kind):
        mask = np.asarray(est.get_support(), dtype=bool)
        if mask.shape != (n_in,):
            raise ValueError(
                f"{kind.__name__}{_at(path)} selects among {mask.size} features, got {n_in}"
            )
        return np.eye(n_in)[mask], _no_reasons(n_in)
    else:
        verdict = "is not affine" if kind.__name__ in _NOT_AFFINE else "is not known to be affine"
        reason = f"{kind.__name__}{_quoted(path)} {verdict}"

    width = n_out if n_out is not None else _count_outputs(est, rows, path)
    return np.full((width, n_in), np.nan), np.full(n_in, reason, dtype=object)


def _pipeline(pipe: Pipeline, n_in: int, rows: _Rows, path: str, n_out: int | None) -> _Partial:
    """Compose the steps' Jacobians, last step outermost."""
    jacobian, reasons = np.eye(n_in), _no_reasons(n_in)
    steps = pipe.steps
    for k, (name, step) in enumerate(steps):
        # The next step's fitted width spares transforming rows to count this one's.
        width = _width_after([s for _, s in steps[k + 1 :]], n_out)
        step_jac, step_reasons = _map(step, jacobian.shape[0], rows, _join(path, name), width)
        jacobian, reasons = _compose(step_jac, step_reasons, jacobian, reasons)
        rows = functools.cache(functools.partial(_transform, step, rows))
    return jacobian, reasons


def _column_transformer(ct: ColumnTransformer, n_in: int, rows: _Rows, path: str) -> _Partial:
    """Place each fitted transformer's Jacobian on its input columns and output slice."""
    check_is_fitted(ct)
    _check_width(ct, n_in, path)
    n_out = max((s.stop for s in ct.output_indices_.values()), default=0)
    jacobian, reasons = np.zeros((n_out, n_in)), _no_reasons(n_in)
    weights = ct.transformer_weights or {}
    for name, trans, columns in ct.transformers_:
        indices = _column_indices(ct, columns, rows)
        # Dropped and unselected columns contribute nothing: the model ignores them.
        if indices.size == 0 or (isinstance(trans, str) and trans == "drop"):
            continue
        out = ct.output_indices_[name]
        width = out.stop - out.start
        sub_rows = functools.cache(functools.partial(_select, rows, columns, indices))
        sub_jac, sub_reasons = _map(trans, indices.size, sub_rows, _join(path, name), width)
        if sub_jac.shape[0] != width:
            raise ValueError(
                f"{name!r}{_at(path)} gives {sub_jac.shape[0]} outputs, expected {width}"
            )
        if weights.get(name) is not None:
            sub_jac = sub_jac * weights[name]
        # One column may feed several transformers, or one twice: contributions add.
        for position, column in enumerate(indices):
            jacobian[out, column] += sub_jac[:, position]
            if reasons[column] is None:
                reasons[column] = sub_reasons[position]
    return _with_nan(jacobian, reasons)


def _feature_union(union: FeatureUnion, n_in: int, rows: _Rows, path: str) -> _Partial:
    """Stack the Jacobians of transformers that all see every input."""
    blocks, reasons = [np.zeros((0, n_in))], _no_reasons(n_in)
    weights = union.transformer_weights or {}
    for name, trans in union.transformer_list:
        if isinstance(trans, str) and trans == "drop":
            continue
        sub_jac, sub_reasons = _map(trans, n_in, rows, _join(path, name), None)
        if weights.get(name) is not None:
            sub_jac = sub_jac * weights[name]
        blocks.append(sub_jac)
        reasons = np.where(_bad(reasons), reasons, sub_reasons)
    return _with_nan(np.vstack(blocks), reasons)


def _compose(outer: np.ndarray, outer_reasons, inner: np.ndarray, inner_reasons) -> _Partial:
    """Jacobian of ``outer after inner``, NaN per input column, not per entry.

    A plain product would spread NaN through ``0 * NaN``: an input that the
    inner map drops must stay 0 even if a later step is not affine.
    """
    mid_bad = _bad(outer_reasons)
    inner_finite = np.where(np.isnan(inner), 0.0, inner)
    outer_finite = np.where(mid_bad[None, :], 0.0, outer)
    jacobian = outer_finite @ inner_finite
    reasons = inner_reasons.copy()
    reaches = inner_finite[mid_bad] != 0  # (bad intermediate columns, inputs)
    bad_reasons = outer_reasons[mid_bad]
    for j in np.flatnonzero(reaches.any(axis=0) & ~_bad(reasons)):
        reasons[j] = bad_reasons[np.argmax(reaches[:, j])]
    return _with_nan(jacobian, reasons)


def _column_indices(ct: ColumnTransformer, columns, rows: _Rows) -> np.ndarray:
    """Positions of a fitted ColumnTransformer's column specification."""
    n = ct.n_features_in_
    if callable(columns):
        columns = columns(rows())
    names = getattr(ct, "feature_names_in_", None)

    def position(label) -> int:
        if names is None:
            raise ValueError(f"column {label!r} given by name, but no feature names were seen")
        matches = np.flatnonzero(names == label)
        if matches.size == 0:
            raise ValueError(f"column {label!r} is not among the fitted feature names")
        return int(matches[0])

    if isinstance(columns, slice):
        start, stop = columns.start, columns.stop
        if isinstance(start, str) or isinstance(stop, str):
            # Label slices include their end, as in pandas' .loc.
            start = None if start is None else position(start)
            stop = None if stop is None else position(stop) + 1
        return np.arange(n)[slice(start, stop, columns.step)]
    if isinstance(columns, str) or np.isscalar(columns):
        columns = [columns]
    array = np.asarray(columns)
    if array.size == 0:
        return np.zeros(0, dtype=int)
    if array.dtype == bool:
        return np.flatnonzero(array)
    if np.issubdtype(array.dtype, np.integer):
        return np.arange(n)[array]
    return np.array([position(label) for label in array], dtype=int)


def _select(rows: _Rows, columns, indices: np.ndarray):
    """Rows of a ColumnTransformer's input, cut to one transformer's columns."""
    data = rows()
    # A scalar specification hands the transformer a 1-D column, as scikit-learn does.
    if isinstance(columns, str) or np.isscalar(columns):
        indices = indices[0]
    if isinstance(data, pd.DataFrame):
        return data.iloc[:, indices]
    return data[:, indices]


def _head(X):
    """A copy of the first rows of `X`: enough to count a step's outputs."""
    if isinstance(X, pd.DataFrame):
        return X.iloc[:2].copy()
    return X[:2].copy()


def _transform(step, rows: _Rows):
    data = rows()
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return data
    return step.transform(data)


def _count_outputs(est, rows: _Rows, path: str) -> int:
    """Width of a step's output, from a couple of transformed rows."""
    data = rows()
    if data.shape[0] > 0:
        out = est.transform(data)
        shape = out.shape if hasattr(out, "shape") else np.shape(out)
        return 1 if len(shape) == 1 else int(shape[1])
    try:
        return len(est.get_feature_names_out())
    except Exception as exc:
        raise ValueError(
            f"cannot count the outputs of {type(est).__name__}{_at(path)}: X has no rows"
        ) from exc


def _width_after(later_steps: list, n_out: int | None) -> int | None:
    """Input width of the first later step that has one, else the known width."""
    for step in later_steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        return _n_features_in(step)
    return n_out


def _n_features_in(est) -> int | None:
    if est is None or isinstance(est, str):
        return None
    try:
        return int(est.n_features_in_)
    except (AttributeError, TypeError):
        return None


def _check_width(est, n_in: int, path: str) -> None:
    if est.n_features_in_ != n_in:
        raise ValueError(
            f"{type(est).__name__}{_at(path)} was fitted on {est.n_features_in_} features, "
            f"but gets {n_in}"
        )


@functools.cache
def _is_selection(kind: type) -> bool:
    """Whether `kind` transforms by SelectorMixin's column mask, unchanged."""
    return inspect.unwrap(kind.transform) is inspect.unwrap(SelectorMixin.transform)


def _with_nan(jacobian: np.ndarray, reasons: np.ndarray) -> _Partial:
    jacobian[:, _bad(reasons)] = np.nan
    return jacobian, reasons


def _no_reasons(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def _bad(reasons: np.ndarray) -> np.ndarray:
    return np.array([reason is not None for reason in reasons], dtype=bool)


def _join(path: str, name: str) -> str:
    # scikit-learn's own nested-parameter spelling, e.g. "preprocess__num".
    return f"{path}__{name}" if path else name


def _quoted(path: str) -> str:
    return f" {path!r}" if path else ""


def _at(path: str) -> str:
    return f" at {path!r}" if path else ""
