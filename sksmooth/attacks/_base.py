"""What every attack shares: the threat model, input checks, pipelines.

On a :class:`~sklearn.pipeline.Pipeline` an attack runs in the input space of
the last step (gradients do not flow through scikit-learn transformers), so
the ball ``eps``, ``feature_mask`` and ``bounds`` live there. Its rows are
then given back in the space the caller asks for: by default the pipeline's
input space, through the earlier steps' ``inverse_transform`` (checked to
round-trip on the rows, else a ValueError); or, with ``space="last_step"``,
where the attack ran. A refitted search (``GridSearchCV``) is attacked
through its ``best_estimator_``, pipeline or not.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from .._labels import label_indices
from .._progress import progress
from ._constraints import finalise, parse_norm
from ._targets import expected_n_features, unwrap_search

__all__ = ["Attack", "ThreatModel", "final_model", "split_model"]

INPUT_SPACE = "input"
PIPELINE_SPACE = "input of the pipeline's last step (pipeline[:-1].transform(X))"
# Where generate's rows live: the pipeline's input, or its last step's input.
SPACES = ("input", "last_step")
# Relative to each column's largest magnitude: a round trip through
# inverse_transform then transform must agree to this, float32 rounding included.
ROUND_TRIP_RTOL = 1e-6


@dataclass(frozen=True)
class ThreatModel:
    """Validated ``eps``, ``norm``, feature ``mask`` and ``low`` / ``high`` bounds."""

    eps: float
    norm: str
    mask: np.ndarray | None
    low: np.ndarray | None
    high: np.ndarray | None

    def as_tensors(self, device) -> dict:
        """The constraints as float64 tensors for :func:`project`."""

        def tensor(value):
            if value is None:
                return None
            return torch.as_tensor(np.asarray(value, dtype=np.float64), device=device)

        return {
            "eps": self.eps,
            "norm": self.norm,
            "mask": tensor(self.mask),
            "low": tensor(self.low),
            "high": tensor(self.high),
        }


class Attack:
    """Base class: validates inputs, handles pipelines, enforces the threat model.

    Subclasses implement ``_perturb(estimator, X, y, threat)`` returning
    float64 adversarial rows.

    Parameters
    ----------
    eps : float
        Radius of the perturbation ball, at least 0.
    norm : {"inf", "l2"}, default="inf"
        Norm of the ball (also accepts ``np.inf``, ``"linf"`` and ``2``).
    feature_mask : array-like of bool of shape (n_features,), default=None
        Features the attacker may change; None means all.
    bounds : tuple (low, high), default=None
        Per-feature (or scalar) box the adversarial rows must stay in.
    random_state : int, RandomState instance or None, default=None
        Seeds the attack's randomness.
    verbose : int or bool, default=0
        Show a progress bar while attacking (in a terminal or a notebook
        only). Results are the same either way.
    """

    def __init__(
        self, eps, *, norm="inf", feature_mask=None, bounds=None, random_state=None, verbose=0
    ):
        self.eps = eps
        self.norm = norm
        self.feature_mask = feature_mask
        self.bounds = bounds
        self.random_state = random_state
        self.verbose = verbose

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"

    def generate(self, estimator, X, y, *, space: str = "input"):
        """Return adversarial versions of the rows of ``X``.

        Parameters
        ----------
        estimator : fitted classifier or Pipeline
            The model to attack. For a :class:`~sklearn.pipeline.Pipeline`, the
            attack runs in the input space of its last step (gradients do not
            flow through scikit-learn transformers): ``eps``, ``feature_mask``
            and ``bounds`` apply to ``pipeline[:-1].transform(X)``, and
            ``space_`` records it. A refitted search such as
            :class:`~sklearn.model_selection.GridSearchCV` is attacked through
            its ``best_estimator_``.
        X : array-like of shape (n_rows, n_features)
            Rows to perturb.
        y : array-like of shape (n_rows,)
            Their true labels; the attack tries to change each prediction
            away from them.
        space : {"input", "last_step"}, default="input"
            Where the returned rows of a pipeline live. ``"input"``: the
            pipeline's input space, mapped back through the earlier steps'
            ``inverse_transform``, so that ``pipeline.predict(X_adv)``
            classifies them; every earlier step must be invertible on these
            rows (scalers, a :class:`~sklearn.compose.ColumnTransformer` of
            them; not PCA or one-hot codes of changed columns), else a
            ValueError says so before the attack runs. ``"last_step"``: the
            input space of the last step, where the attack ran; classify them
            with ``pipeline[-1].predict(X_adv)``. Without a pipeline both are
            the input space.

        Returns
        -------
        X_adv : ndarray or DataFrame of shape (n_rows, n_features)
            Within ``eps`` of ``X`` in the attack's norm, unchanged outside
            ``feature_mask`` and inside ``bounds``, all exactly, in the space
            the attack ran in. Same dtype as ``X`` when it is floating point,
            float64 otherwise. Rows mapped back to a pipeline's input space
            meet these constraints once transformed, up to the rounding of
            the round trip; they come as a DataFrame (``X``'s columns, index
            and untouched columns) when ``X`` is one.
        """
        if space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {space!r}.")
        X_given = X
        estimator, X, steps = split_model(estimator, X)
        self.space_ = PIPELINE_SPACE if steps else INPUT_SPACE
        check_is_fitted(estimator)
        check_scalar(self.verbose, "verbose", numbers.Integral, min_val=0)
        self._check_params()
        self._check_estimator(estimator)
        X = _check_rows(X, estimator)
        y = column_or_1d(y)
        check_consistent_length(X, y)
        if hasattr(estimator, "classes_"):
            # Checked here, not only inside the attack, which eps=0 or no rows skip.
            label_indices(estimator.classes_, y, what="y label")
        threat = self._threat_model(X)
        back = steps and space == "input"
        if back:
            X_clean_back = _check_invertible(steps, X, X_given)
            _probe_reachable(steps, X, X_given, X_clean_back, threat)
        dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float64)
        X = X.astype(dtype)
        if len(X) == 0 or threat.eps == 0:
            X_adv = X.copy()
        else:
            X_adv = self._perturb(estimator, X.astype(np.float64), y, threat)
            X_adv = finalise(X, X_adv, **vars(threat))
        if back:
            return _to_input_space(steps, X_adv, X_clean_back, X_given)
        return X_adv

    def _check_params(self) -> None:
        """Validate the subclass's own hyperparameters."""

    def _check_estimator(self, estimator) -> None:
        """Raise a TypeError naming an alternative if ``estimator`` cannot be attacked."""

    def _threat_model(self, X: np.ndarray) -> ThreatModel:
        check_scalar(self.eps, "eps", numbers.Real, min_val=0)
        if not np.isfinite(self.eps):
            raise ValueError(f"eps must be finite, got {self.eps!r}.")
        n_features = X.shape[1]
        mask = None
        if self.feature_mask is not None:
            mask = np.asarray(self.feature_mask)
            if mask.dtype != bool or mask.shape != (n_features,):
                raise ValueError(
                    f"feature_mask must be a boolean array of shape ({n_features},), one "
                    f"entry per feature (True: the attacker may change it); got dtype "
                    f"{mask.dtype} and shape {mask.shape}."
                )
        low = high = None
        if self.bounds is not None:
            try:
                low, high = (
                    np.broadcast_to(np.asarray(b, dtype=np.float64), (n_features,)).copy()
                    for b in self.bounds
                )
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"bounds must be (low, high), each a number or an array of {n_features} "
                    "values, one per feature."
                ) from error
            if np.any(np.isnan(low)) or np.any(np.isnan(high)) or np.any(low > high):
                raise ValueError("bounds must satisfy low <= high with no NaN.")
            outside = (X < low) | (X > high)
            if outside.any():
                row, feature = np.argwhere(outside)[0]
                raise ValueError(
                    f"X[{row}, {feature}] = {X[row, feature]} lies outside the bounds "
                    f"[{low[feature]}, {high[feature]}]; the attack cannot start there."
                )
        return ThreatModel(float(self.eps), parse_norm(self.norm), mask, low, high)

    def _progress(self, total: int, unit: str):
        """A progress bar named after the attack, shown only when ``verbose`` asks."""
        return progress(total=total, desc=type(self).__name__, verbose=self.verbose, unit=unit)

    def _generator(self, device) -> torch.Generator:
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return torch.Generator(device=device).manual_seed(int(seed))


def split_model(estimator, X):
    """``(model attacked, X in its input space, preprocessing steps)``.

    Refitted searches are replaced by their ``best_estimator_`` and pipelines
    split (nested ones too); the steps are ``(transformer, its input)`` pairs,
    in order, empty without a pipeline.
    """
    steps = []
    while True:
        estimator = unwrap_search(estimator)
        if not isinstance(estimator, Pipeline):
            return estimator, X, steps
        for _, step in estimator.steps[:-1]:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            steps.append((step, X))
            X = step.transform(X)
        estimator = estimator.steps[-1][1]


def final_model(estimator):
    """The model an attack on ``estimator`` attacks: its last step, past searches."""
    while True:
        estimator = unwrap_search(estimator)
        if not isinstance(estimator, Pipeline):
            return estimator
        estimator = estimator.steps[-1][1]


class _NotInvertible(ValueError):
    """A step of a pipeline with no exact inverse on the rows at hand."""


LAST_STEP_HINT = (
    "Call generate(pipeline, X, y, space='last_step') for rows in the input space of "
    "the last step, where the attack runs, and classify them with "
    "pipeline[-1].predict(X_adv)."
)


def _check_invertible(steps, X_final, X_given):
    """Map the clean rows back; raise unless the round trip gives ``X_given`` again."""
    try:
        back = _inverse(steps, X_final)
        same = _close(back, X_given)
    except _NotInvertible as error:
        reason = str(error)
    except (TypeError, ValueError) as error:  # an inverse_transform that refuses the rows
        reason = f"its inverse_transform failed ({error})"
    else:
        if same:
            return back
        reason = "inverse_transform(transform(X)) is not X (the step loses information)"
    raise ValueError(
        "The adversarial rows cannot be given in the pipeline's input space: a step "
        f"before the last has no exact inverse on these rows: {reason}. " + LAST_STEP_HINT
    )


def _probe_reachable(steps, X_final, X_given, X_clean_back, threat) -> None:
    """Fail before the attack when a move it may make cannot be mapped back.

    A few rows, moved by the whole budget on every changeable feature, stand
    for what the attack may return; ``_to_input_space`` checks the real rows.
    """
    n_rows = min(len(X_final), 8)
    if n_rows == 0 or threat.eps == 0:
        return
    signs = np.where(np.random.default_rng(0).random((n_rows, X_final.shape[1])) < 0.5, -1, 1)
    if threat.mask is not None:
        signs = signs * threat.mask
    size = threat.eps if threat.norm == "inf" else threat.eps / np.sqrt(max(signs.shape[1], 1))
    probe = np.asarray(X_final[:n_rows], dtype=np.float64) + size * signs
    if threat.low is not None:
        probe = np.clip(probe, threat.low, threat.high)
    few = [(step, _head(X, n_rows)) for step, X in steps]
    given, clean = _head(X_given, n_rows), _head(X_clean_back, n_rows)
    _to_input_space(few, probe, clean, given)


def _head(X, n_rows: int):
    return X.iloc[:n_rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[:n_rows]


def _to_input_space(steps, X_adv, X_clean_back, X_given):
    """``X_given`` moved by the inverse image of the attack's change; checked by a round trip.

    Entries the attack did not change map back to exactly the same values
    for clean and adversarial rows, so they come back as ``X_given`` holds them.
    """
    adv_back = _inverse(steps, X_adv)
    frame = isinstance(X_given, pd.DataFrame)
    X_in = X_given.copy() if frame else pd.DataFrame(np.asarray(X_given))
    adv_back, clean_back = _as_frame(adv_back), _as_frame(X_clean_back)
    for i, column in enumerate(X_in.columns):
        moved = _moved(X_in.iloc[:, i], adv_back.iloc[:, i], clean_back.iloc[:, i])
        if moved is not None:
            X_in[column] = moved
    if not frame:
        given = np.asarray(X_given)
        floating = np.issubdtype(given.dtype, np.floating)
        try:
            X_in = X_in.to_numpy(dtype=given.dtype if floating else np.float64)
        except (TypeError, ValueError):  # not all numbers: kept as objects
            X_in = X_in.to_numpy()
    reached = X_in
    for step, _ in steps:
        reached = step.transform(reached)
    if not _close(reached, X_adv):
        raise ValueError(
            "The adversarial rows cannot be given in the pipeline's input space: "
            "transforming them back does not give the rows the attack found (a step "
            "before the last cannot reach them, e.g. one-hot codes moved off their "
            "categories). " + LAST_STEP_HINT
        )
    return X_in


def _moved(original: pd.Series, adv, clean):
    """One column moved by ``adv - clean``; None when the attack left it as it was."""
    try:
        delta = adv.to_numpy(np.float64) - clean.to_numpy(np.float64)
    except (TypeError, ValueError):  # categories: take the new one where it changed
        changed = adv.to_numpy() != clean.to_numpy()
        if not changed.any():
            return None
        return pd.Series(np.where(changed, adv, original), index=original.index)
    if not delta.any():
        return None
    values = original.to_numpy(np.float64) + delta
    if isinstance(original.dtype, np.dtype) and np.issubdtype(original.dtype, np.floating):
        values = values.astype(original.dtype)
    return pd.Series(values, index=original.index, name=original.name)


def _as_frame(X) -> pd.DataFrame:
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))


def _close(A, B) -> bool:
    """Same shape, numbers equal up to ``ROUND_TRIP_RTOL`` of each column's scale, others equal."""
    A, B = _as_frame(A), _as_frame(B)
    if A.shape != B.shape:
        return False
    for i in range(A.shape[1]):
        a, b = A.iloc[:, i], B.iloc[:, i]
        try:
            a, b = a.to_numpy(np.float64), b.to_numpy(np.float64)
        except (TypeError, ValueError):
            if not np.array_equal(a.to_numpy(), b.to_numpy()):
                return False
            continue
        scale = np.abs(b).max(initial=0.0)
        if not np.all(np.abs(a - b) <= ROUND_TRIP_RTOL * scale + 1e-12):
            return False
    return True


def _inverse(steps, Z):
    """Rows of the last step's input space mapped back through every step."""
    for step, X_before in reversed(steps):
        Z = _invert(step, Z, X_before)
    return Z


def _invert(step, Z, X_before):
    """One transformer's inverse; ``X_before`` is its input (for columns it drops)."""
    if isinstance(step, Pipeline):
        inner = []
        for _, sub in step.steps:
            if sub is None or (isinstance(sub, str) and sub == "passthrough"):
                continue
            inner.append((sub, X_before))
            X_before = sub.transform(X_before)
        return _inverse(inner, Z)
    if isinstance(step, ColumnTransformer):
        return _invert_columns(step, Z, X_before)
    inverse = getattr(step, "inverse_transform", None)
    if inverse is None:
        raise _NotInvertible(f"{type(step).__name__} has no inverse_transform")
    return inverse(Z)


def _invert_columns(transformer: ColumnTransformer, Z, X_before):
    """A ColumnTransformer (which has no inverse_transform) inverted block by block.

    Dropped columns do not reach the model; they keep their values.
    """
    Z = np.asarray(Z)
    frame = isinstance(X_before, pd.DataFrame)
    out = X_before.copy() if frame else np.array(X_before, dtype=object)
    for name, inner, columns in transformer.transformers_:
        if isinstance(inner, str) and inner == "drop":
            continue
        positions = _column_positions(columns, X_before)
        if len(positions) == 0:
            continue
        block = Z[:, transformer.output_indices_[name]]
        if not (isinstance(inner, str) and inner == "passthrough"):
            part = X_before.iloc[:, positions] if frame else np.asarray(X_before)[:, positions]
            block = _invert(inner, block, part)
        block = np.asarray(block)
        if block.shape != (len(Z), len(positions)):
            raise _NotInvertible(
                f"the inverse of {type(inner).__name__} gives {block.shape[1:]} columns "
                f"for its {len(positions)}"
            )
        if frame:
            for i, position in enumerate(positions):
                out[out.columns[position]] = block[:, i]
        else:
            out[:, positions] = block
    if frame:
        return out
    try:
        return out.astype(np.float64)
    except (TypeError, ValueError):
        return out


def _column_positions(columns, X) -> np.ndarray:
    """Positions in ``X`` of a ColumnTransformer's column selection."""
    n_features = np.shape(X)[1]
    if callable(columns):
        columns = columns(X)
    if isinstance(columns, slice):
        if isinstance(X, pd.DataFrame) and (
            isinstance(columns.start, str) or isinstance(columns.stop, str)
        ):
            return np.arange(n_features)[X.columns.slice_indexer(columns.start, columns.stop)]
        return np.arange(n_features)[columns]
    if np.isscalar(columns):
        columns = [columns]
    columns = np.asarray(columns)
    if columns.dtype == bool:
        return np.flatnonzero(columns)
    if columns.dtype.kind in "iu":
        return columns % n_features if n_features else columns
    if isinstance(X, pd.DataFrame):
        positions = X.columns.get_indexer(columns)
        if (positions >= 0).all():
            return positions
    raise _NotInvertible(f"the columns {columns.tolist()!r} cannot be found in the input")


def _check_rows(X, estimator) -> np.ndarray:
    if not isinstance(X, np.ndarray) or X.dtype == object:
        # DataFrames (nullable dtypes included) and object arrays of numbers,
        # as every estimator here accepts them.
        try:
            X = check_array(
                X,
                dtype="numeric",
                ensure_all_finite=False,
                ensure_2d=False,
                allow_nd=True,
                ensure_min_samples=0,
                ensure_min_features=0,
            )
        except ValueError as error:
            raise TypeError(f"X must be numeric: {error}") from error
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows, features); got shape {X.shape}.")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"X must be numeric; got dtype {X.dtype}.")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinity.")
    expected = expected_n_features(estimator)
    if expected is not None and X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} expects {expected}."
        )
    return X
