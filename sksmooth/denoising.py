"""Denoised smoothing: certify a frozen classifier through a denoiser trained under noise.

A classifier trained on clean data is poor under the smoothing noise, so its
smoothed version certifies little. Salman, Sun, Yang, Kapoor & Kolter
(NeurIPS 2020, "Denoised smoothing: a provable defense for pretrained
classifiers") put a denoiser ``D`` in front of the frozen model ``f`` and
smooth the composition ``f(D(x))``. Smoothing makes no assumption about the
base classifier, so Cohen et al.'s certificate holds for the composition as
it is; the denoiser only has to make ``f(D(x + noise))`` agree with
``f(x)`` often.

The denoiser is trained on unlabeled rows under exactly the smoothing noise
(the same :class:`~sksmooth.noise.NoiseModel`, so the same family, per-column
scales and categorical replacement), to give back the clean row (``"mse"``)
or, with a differentiable frozen skorch net, also so that the net classifies
the denoised noisy row as it classifies the clean one (``"stability"``).
Categorical columns hold codes the frozen model reads as they are: they pass
through the denoiser unchanged.

``SmoothedClassifier(FrozenEstimator(model), denoiser="auto")`` does all of
this in ``fit``; this module holds the parts.
"""

from __future__ import annotations

import contextlib
import numbers

import numpy as np
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNet, NeuralNetRegressor
from torch import nn
from torch.utils.data import WeightedRandomSampler

from ._adapters import evaluation_mode, module_device_dtype, net_scores, unwrap_frozen
from ._training import fit_net_under_noise
from .nets import _check_batch, _check_training_params
from .noise import NoiseModel
from .utils._validation import check_sample_counts

__all__ = ["DenoiserModule", "make_denoiser"]

DENOISER_OBJECTIVES = ("mse", "stability")


class DenoiserModule(nn.Module):
    """A residual MLP from rows to rows: ``D(z) = z + g(z)``, the identity at first.

    The last layer starts at zero, so an untrained denoiser gives rows back
    unchanged and training only learns the correction; rows that are
    already clean need none.

    Parameters
    ----------
    input_units : int
        Columns of a row, in and out.
    hidden_units : tuple of int, default=(256, 256)
        Width of each hidden layer of ``g``.
    categorical_columns : tuple of int, default=()
        Columns of category codes, given back as they came (set from the
        smoothing's ``categorical_features`` in ``fit``).

    Examples
    --------
    >>> import torch
    >>> from sksmooth.denoising import DenoiserModule
    >>> module = DenoiserModule(3, hidden_units=(8,))
    >>> z = torch.linspace(-1, 1, 12).reshape(4, 3)
    >>> bool(torch.equal(module(z), z))
    True
    """

    def __init__(
        self, input_units: int, hidden_units: tuple = (256, 256), categorical_columns: tuple = ()
    ):
        super().__init__()
        check_sample_counts(input_units=input_units)
        hidden_units = tuple(hidden_units)
        check_sample_counts(**{f"hidden_units[{i}]": h for i, h in enumerate(hidden_units)})
        layers, width = [], input_units
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        last = nn.Linear(width, input_units)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.correction = nn.Sequential(*layers, last)
        self.register_buffer("categorical", _column_mask(categorical_columns, input_units))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        _check_batch(X, len(self.categorical), self.correction[-1].weight.dtype)
        return torch.where(self.categorical, X, X + self.correction(X))


def _column_mask(columns, n_columns: int) -> torch.Tensor:
    """Boolean mask of ``columns``, distinct integer indices below ``n_columns``."""
    try:
        columns = list(columns)
    except TypeError:
        message = f"categorical_columns must be a sequence of ints, got {columns!r}."
        raise TypeError(message) from None
    for column in columns:
        if isinstance(column, bool) or not isinstance(column, numbers.Integral):
            raise TypeError(f"categorical_columns must hold ints, got {column!r}.")
        if not 0 <= column < n_columns:
            raise ValueError(f"categorical column {column} is not among the {n_columns} columns.")
    mask = torch.zeros(n_columns, dtype=torch.bool)
    mask[[int(column) for column in columns]] = True
    return mask


def make_denoiser(
    hidden_units: tuple = (256, 256),
    *,
    max_epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 256,
    **net_params,
) -> NeuralNetRegressor:
    """The package's default denoiser: a skorch regressor over :class:`DenoiserModule`.

    Trained with Adam on the mean squared error; the number of columns is set
    from the data in :meth:`SmoothedClassifier.fit`.

    Parameters
    ----------
    hidden_units : tuple of int, default=(256, 256)
        Hidden layers of the residual MLP.
    max_epochs : int, default=20
        Passes over the training rows, each with fresh noise.
    lr : float, default=1e-3
        Adam's learning rate.
    batch_size : int, default=256
        Rows per training batch.
    **net_params
        Any other ``NeuralNetRegressor`` parameter (``device="cuda"``, ...).

    Returns
    -------
    denoiser : skorch.NeuralNetRegressor
        Not fitted.

    Examples
    --------
    >>> from sksmooth.denoising import make_denoiser
    >>> make_denoiser((64,), max_epochs=5).max_epochs
    5
    """
    _check_training_params(max_epochs, lr, batch_size)
    try:
        hidden_units = tuple(hidden_units)
    except TypeError:
        raise TypeError(f"hidden_units must be a sequence of ints, got {hidden_units!r}.") from None
    check_sample_counts(**{f"hidden_units[{i}]": h for i, h in enumerate(hidden_units)})
    params = {
        "module__hidden_units": hidden_units,
        "max_epochs": max_epochs,
        "lr": lr,
        "batch_size": batch_size,
        "optimizer": torch.optim.Adam,
        "train_split": None,
        "verbose": 0,
        **net_params,
    }
    return NeuralNetRegressor(DenoiserModule, **params)


def resolve_denoiser(denoiser):
    """What ``denoiser=`` names: None, a regressor to clone, or a frozen one."""
    if denoiser is None:
        return None
    if isinstance(denoiser, str):
        if denoiser == "auto":
            return make_denoiser()
        raise ValueError(f"denoiser must be None, 'auto' or a skorch regressor; got {denoiser!r}.")
    inner = unwrap_frozen(denoiser)
    if not isinstance(inner, NeuralNet):
        raise TypeError(
            "denoiser must be None, 'auto' or a skorch NeuralNetRegressor (optionally in a "
            f"FrozenEstimator) whose module maps rows to rows; got {denoiser!r}."
        )
    return denoiser


def check_denoiser_objective(objective, estimator=None, *, frozen: bool = True) -> None:
    """A known objective; ``"stability"`` needs ``estimator`` to be a skorch net.

    A frozen net must be fitted already; without ``estimator``, only the
    name is checked.
    """
    if not (isinstance(objective, str) and objective in DENOISER_OBJECTIVES):
        raise ValueError(f"denoiser_objective must be 'mse' or 'stability'; got {objective!r}.")
    if objective == "stability" and estimator is not None:
        net = unwrap_frozen(estimator)
        if not (isinstance(net, NeuralNet) and (hasattr(net, "module_") or not frozen)):
            raise TypeError(
                'denoiser_objective="stability" trains the denoiser through the frozen model\'s '
                f"gradient, and {type(net).__name__} has none; it needs a fitted skorch net. "
                'Use denoiser_objective="mse" for other models.'
            )


class StabilityLoss(nn.Module):
    """Squared error to the clean row plus the frozen net's cross-entropy against its clean label.

    The target of each row is the clean row followed by the class the frozen
    net gives it. The frozen net is held outside the module's children, so
    the denoiser's optimizer never sees (or moves) its weights.

    Parameters
    ----------
    scores : sksmooth._adapters.ModuleScores
        The frozen net's logits.
    categorical : ndarray of bool of shape (n_features,)
        Columns passed through unchanged, left out of the squared error.
    """

    def __init__(self, scores, categorical: np.ndarray):
        super().__init__()
        # A tuple: not registered as a submodule. The net takes rows in its own dtype.
        self._frozen = (scores, module_device_dtype(scores.module)[1])
        self.register_buffer("categorical", torch.as_tensor(categorical, dtype=torch.bool))

    def forward(self, denoised: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n_features = denoised.shape[1]
        clean, label = target[:, :n_features], target[:, n_features].long()
        scores, dtype = self._frozen
        logits = scores.logits(denoised.to(dtype))
        # Categorical columns are passed through, not denoised: no error to learn there.
        error = torch.where(self.categorical, 0.0, denoised - clean)
        mse = error.square().sum() / (len(denoised) * max(1, int((~self.categorical).sum())))
        return mse + nn.functional.cross_entropy(logits.to(denoised.dtype), label)


def fit_denoiser(
    denoiser,
    X: np.ndarray,
    *,
    noise_model: NoiseModel,
    objective: str,
    frozen_estimator,
    classes: np.ndarray,
    seed: int,
    noise_seed: int,
    row_weight: np.ndarray | None = None,
):
    """Train a clone of ``denoiser`` on ``X`` under the smoothing noise (a frozen one is kept).

    ``row_weight`` (from ``class_weight``) draws each training batch's rows
    in proportion to their weights. The squared error is smallest for the
    mean clean row given the noisy one, which for a rare class is pulled
    towards the common classes' rows: balanced weights keep the rare class's
    rows where the frozen model recognises them.

    Returns the fitted skorch net (the frozen one as given), checked to map
    rows of ``X`` to rows of the same shape.
    """
    if isinstance(denoiser, FrozenEstimator):
        fitted = unwrap_frozen(denoiser)
        if not hasattr(fitted, "module_"):
            raise ValueError("The frozen denoiser is not fitted; fit it, or pass it unfrozen.")
    else:
        fitted = clone(denoiser)
        target = X
        if objective == "stability":
            net = unwrap_frozen(frozen_estimator)
            scores = net_scores(net, len(classes))
            device, dtype = module_device_dtype(net.module_)
            with torch.no_grad(), evaluation_mode(net.module_):
                clean = torch.as_tensor(X, dtype=dtype, device=device)
                labels = scores.predict_indices(clean).cpu().numpy()
            target = np.column_stack([X, labels])
            fitted.set_params(
                criterion=StabilityLoss,
                criterion__scores=scores,
                criterion__categorical=categorical_columns(noise_model),
            )
        if row_weight is not None:
            # Drawn from torch's generator, which fit seeds: reproducible.
            sampler = WeightedRandomSampler(
                torch.as_tensor(row_weight, dtype=torch.float64), num_samples=len(X)
            )
            fitted.set_params(iterator_train__sampler=sampler, iterator_train__shuffle=False)
        try:
            fit_net_under_noise(
                fitted,
                X,
                target,
                n_classes=X.shape[1],
                noise_model=noise_model,
                seed=seed,
                noise_seed=noise_seed,
            )
        except ValueError:
            if hasattr(fitted, "module_"):
                _check_rows_to_rows(fitted, X)  # the clearer reason, when it is the shape
            raise
    _check_rows_to_rows(fitted, X)
    return fitted


def _check_rows_to_rows(denoiser: NeuralNet, X: np.ndarray) -> None:
    device, dtype = module_device_dtype(denoiser.module_)
    with torch.no_grad(), evaluation_mode(denoiser.module_):
        try:
            out = denoiser.module_(torch.tensor(X[:2], dtype=dtype, device=device))
        except RuntimeError as error:
            raise ValueError(
                f"The denoiser cannot take rows of {X.shape[1]} features: {error}"
            ) from error
    shape = tuple(getattr(out, "shape", ()))
    if shape != (len(X[:2]), X.shape[1]):
        raise ValueError(
            f"The denoiser returns an output of shape {shape} for rows of shape "
            f"{X[:2].shape}; a denoiser maps each row to a row of the same {X.shape[1]} "
            "columns."
        )


def categorical_columns(noise_model: NoiseModel) -> np.ndarray:
    """Mask of the columns the noise treats as categories."""
    mask = np.zeros(noise_model.n_features, dtype=bool)
    if noise_model.categorical is not None:
        mask[noise_model.categorical.columns] = True
    return mask


class DenoisedVoter:
    """The votes of ``f(D(z))``: the denoiser's module, then the frozen model's voter.

    Noisy rows arrive in the denoiser's device and dtype; categorical columns
    are passed on as they came.
    """

    def __init__(self, denoiser: NeuralNet, categorical: np.ndarray, voter):
        self.module = denoiser.module_
        self.voter = voter
        self.n_classes = voter.n_classes
        self.device, self.dtype = module_device_dtype(self.module)
        self.categorical = torch.as_tensor(categorical, dtype=torch.bool, device=self.device)
        self.runs_in_threads = getattr(voter, "runs_in_threads", False)

    @contextlib.contextmanager
    def prepared(self):
        with evaluation_mode(self.module), self.voter.prepared():
            yield

    def denoise(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.where(self.categorical, batch, self.module(batch))

    def predict_indices(self, batch: torch.Tensor) -> torch.Tensor:
        denoised = self.denoise(batch).to(device=self.voter.device, dtype=self.voter.dtype)
        return self.voter.predict_indices(denoised).to(self.device)

    def predict_scores(self, batch: torch.Tensor) -> torch.Tensor:
        denoised = self.denoise(batch).to(device=self.voter.device, dtype=self.voter.dtype)
        return self.voter.predict_scores(denoised).to(self.device)
