"""What every attack shares: the threat model, input checks, pipelines."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from .._labels import label_indices
from .._progress import progress
from ..utils._validation import split_pipeline
from ._constraints import finalise, parse_norm
from ._targets import expected_n_features

__all__ = ["Attack", "ThreatModel"]

INPUT_SPACE = "input"
PIPELINE_SPACE = "input of the pipeline's last step (pipeline[:-1].transform(X))"


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

    def generate(self, estimator, X, y) -> np.ndarray:
        """Return adversarial versions of the rows of ``X``.

        Parameters
        ----------
        estimator : fitted classifier or Pipeline
            The model to attack. For a :class:`~sklearn.pipeline.Pipeline`, the
            attack runs in the input space of its last step: ``X`` is first
            transformed by ``pipeline[:-1]`` (gradients do not flow through
            scikit-learn transformers), and the returned rows live in that
            space. ``space_`` records which space was attacked.
        X : array-like of shape (n_rows, n_features)
            Rows to perturb.
        y : array-like of shape (n_rows,)
            Their true labels; the attack tries to change each prediction
            away from them.

        Returns
        -------
        X_adv : ndarray of shape (n_rows, n_features)
            Within ``eps`` of ``X`` in the attack's norm, unchanged outside
            ``feature_mask`` and inside ``bounds``, all exactly. Same dtype as
            ``X`` when it is floating point, float64 otherwise.
        """
        estimator, X, self.space_ = _last_step(estimator, X)
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
        dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float64)
        X = X.astype(dtype)
        if len(X) == 0 or threat.eps == 0:
            return X.copy()
        X_adv = self._perturb(estimator, X.astype(np.float64), y, threat)
        return finalise(X, X_adv, **vars(threat))

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


def _last_step(estimator, X):
    final, X_final, preprocessing = split_pipeline(estimator, X)
    return final, X_final, INPUT_SPACE if preprocessing is None else PIPELINE_SPACE


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
