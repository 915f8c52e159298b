"""What a gradient attack needs from an estimator: a differentiable forward.

:func:`differentiable_target` returns a
:class:`~sksmooth._adapters.DifferentiableTarget` (``logits(X, bpda=...,
generator=...)`` on float64 tensors) through one protocol: an estimator that
has a differentiable forward says so with a method
``__sksmooth_target__(n_noise_samples=None)`` returning that target (or
raising a TypeError that says which attack to use instead). The package's own
estimators implement it:

- :class:`~sksmooth.GradientMaskedClassifier`: the defence then the net,
  with the defence's BPDA surrogate in the backward pass when asked;
- :class:`~sksmooth.SmoothedClassifier` over a skorch net, for
  :class:`~sksmooth.attacks.SmoothAdv` only (``n_noise_samples`` given): the
  log of the Monte Carlo mean of the base net's softmax under its noise
  (Salman et al., 2019).

A fitted skorch net (bare or frozen) needs no method: its ``module_`` is used,
read as logits whatever it returns (see :func:`~sksmooth._adapters.net_scores`:
a module ending in a softmax, trained with ``NLLLoss``, is attacked through
its logits, and a single logit, as in skorch's ``NeuralNetBinaryClassifier``,
becomes two-class logits that respect the net's ``threshold``). A refitted
search (``GridSearchCV`` and friends) is attacked through its
``best_estimator_``. The attacks never import the estimators.

:func:`model_input` is what every attack feeds a model it only queries: rows
in the dtype of a skorch net found inside it (through pipelines, searches,
calibration and ensembles), which would otherwise fail on float64 rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from skorch import NeuralNet

from .._adapters import (
    BLACK_BOX_HINT,
    DifferentiableTarget,
    module_device_dtype,
    net_scores,
    unwrap_frozen,
)
from .._training import check_representable

__all__ = [
    "differentiable_target",
    "expected_n_features",
    "is_stochastic",
    "model_input",
    "unwrap_search",
]

# Fitted attributes through which a meta-estimator hands X, unchanged, to the
# models it holds (a stacking model's final_estimator_ sees predictions instead).
_INNER_MODELS = ("best_estimator_", "estimators_", "calibrated_classifiers_")


def unwrap_search(estimator):
    """The model that predicts for a refitted search, or a frozen pipeline or search.

    A search (``GridSearchCV``, ``RandomizedSearchCV``, halving searches, any
    ``BaseSearchCV``) predicts with its ``best_estimator_``; other
    estimators are returned as they are.
    """
    while True:
        if isinstance(estimator, FrozenEstimator) and (
            isinstance(estimator.estimator, Pipeline) or _is_search(estimator.estimator)
        ):
            estimator = estimator.estimator
        elif _is_search(estimator):
            estimator = estimator.best_estimator_
        else:
            return estimator


def _is_search(estimator) -> bool:
    return hasattr(estimator, "cv_results_") and hasattr(estimator, "best_estimator_")


def _fitted_nets(estimator, depth: int = 0):
    """Fitted skorch nets that receive the rows given to ``estimator``, as they are."""
    estimator = unwrap_frozen(estimator)
    if isinstance(estimator, NeuralNet):
        if hasattr(estimator, "module_"):
            yield estimator
        return
    if depth > 6:
        return
    inner = []
    if isinstance(estimator, Pipeline):
        inner.extend(step for _, step in estimator.steps)
    for name in _INNER_MODELS:
        value = getattr(estimator, name, None)
        if value is None:
            continue
        if isinstance(value, np.ndarray):
            inner.extend(value.ravel())  # gradient boosting's grid of trees
        elif isinstance(value, (list, tuple)):
            inner.extend(value)
        else:
            inner.append(value)
    for model in inner:
        if not hasattr(model, "fit"):  # a calibrated classifier's fold: its model is inside
            model = getattr(model, "estimator", model)
        yield from _fitted_nets(model, depth + 1)


def expected_n_features(estimator) -> int | None:
    """Features the estimator takes: ``n_features_in_``, or a bare skorch net's first layer."""
    expected = getattr(estimator, "n_features_in_", None)
    net = unwrap_frozen(estimator)
    if expected is None and isinstance(net, NeuralNet) and hasattr(net, "module_"):
        first = next((m for m in net.module_.modules() if isinstance(m, torch.nn.Linear)), None)
        expected = first.in_features if first is not None else None
    return expected


def model_input(estimator, X: np.ndarray):
    """Rows as ``estimator`` can take them.

    A skorch net needs its module's dtype, and so does any model that hands
    the rows to one as they are: a pipeline (whose steps keep float32, as
    scikit-learn's scalers do), a search, a calibrated classifier, an
    ensemble. An estimator fitted on a DataFrame gets its column names back,
    else scikit-learn warns at every query.
    """
    net = next(_fitted_nets(estimator), None)
    if net is not None:
        _, dtype = module_device_dtype(net.module_)
        check_representable(X, dtype)
        X = X.astype(torch.empty(0, dtype=dtype).numpy().dtype, copy=False)
        if unwrap_frozen(estimator) is net:
            return X
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) == np.shape(X)[-1]:
        return pd.DataFrame(X, columns=names)
    return X


def differentiable_target(estimator, *, n_noise_samples: int | None = None) -> DifferentiableTarget:
    """Wrap a fitted estimator for gradient attacks, or explain why it cannot be.

    ``n_noise_samples`` is given by SmoothAdv, the one attack that accepts a
    smoothed classifier.
    """
    estimator = unwrap_search(estimator)
    protocol = getattr(estimator, "__sksmooth_target__", None)
    if protocol is not None:
        return protocol(n_noise_samples=n_noise_samples)
    if n_noise_samples is not None:
        raise TypeError(
            f"SmoothAdv attacks a SmoothedClassifier, not {type(estimator).__name__}; use "
            "PGD, BPDA or EOT on a differentiable model, or sksmooth.attacks.RandomSearch."
        )
    net = unwrap_frozen(estimator)
    if isinstance(net, NeuralNet) and hasattr(net, "module_"):
        classes = getattr(net, "classes_", None)
        if classes is None:
            raise TypeError("The skorch net has no classes_; fit it with class labels.")
        scores = net_scores(net, len(classes))
        return DifferentiableTarget(
            lambda X, bpda, generator: scores.logits(X), net.module_, classes, stochastic=False
        )
    raise TypeError(
        f"{type(estimator).__name__} has no differentiable forward for a white-box "
        "attack (supported: fitted skorch nets, GradientMaskedClassifier, and "
        "SmoothedClassifier through SmoothAdv). " + BLACK_BOX_HINT
    )


def is_stochastic(estimator, X) -> bool:
    """Whether a white-box model's forward is random, declared or found on ``X``.

    A model that draws its own randomness (``torch.rand`` or an always-on
    dropout in its module's forward) is found by two forward passes seeded
    differently; EOT should then average its gradients over several draws.
    False for a model without a differentiable forward.
    """
    try:
        target = differentiable_target(estimator)
    except TypeError:
        return False
    rows = np.asarray(X, dtype=np.float64)
    if rows.ndim != 2 or len(rows) == 0:
        return bool(target.stochastic)
    return target.is_stochastic(torch.as_tensor(rows[:8], device=target.device))
