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

A fitted skorch net (bare or frozen) needs no method: its ``module_`` is used.
The attacks never import the estimators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from skorch import NeuralNet

from .._adapters import (
    BLACK_BOX_HINT,
    DifferentiableTarget,
    module_device_dtype,
    module_scores,
    unwrap_frozen,
)
from .._training import check_representable

__all__ = ["differentiable_target", "expected_n_features", "model_input"]


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

    A bare skorch net needs its module's dtype; an estimator fitted on a
    DataFrame gets its column names back, else scikit-learn warns at every query.
    """
    net = unwrap_frozen(estimator)
    if isinstance(net, NeuralNet) and hasattr(net, "module_"):
        _, dtype = module_device_dtype(net.module_)
        check_representable(X, dtype)
        return X.astype(torch.empty(0, dtype=dtype).numpy().dtype, copy=False)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) == np.shape(X)[-1]:
        return pd.DataFrame(X, columns=names)
    return X


def differentiable_target(estimator, *, n_noise_samples: int | None = None) -> DifferentiableTarget:
    """Wrap a fitted estimator for gradient attacks, or explain why it cannot be.

    ``n_noise_samples`` is given by SmoothAdv, the one attack that accepts a
    smoothed classifier.
    """
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
        module = net.module_
        classes = getattr(net, "classes_", None)
        if classes is None:
            raise TypeError("The skorch net has no classes_; fit it with class labels.")
        return DifferentiableTarget(
            lambda X, bpda, generator: module_scores(module, X), module, classes, stochastic=False
        )
    raise TypeError(
        f"{type(estimator).__name__} has no differentiable forward for a white-box "
        "attack (supported: fitted skorch nets, GradientMaskedClassifier, and "
        "SmoothedClassifier through SmoothAdv). " + BLACK_BOX_HINT
    )
