"""What a gradient attack needs from an estimator: a differentiable forward.

:func:`differentiable_target` wraps the supported estimators in one
interface, ``logits(X, bpda=..., generator=...)`` on float64 tensors:

- a fitted skorch net: its ``module_``;
- :class:`~sksmooth.GradientMaskedClassifier`: the defence then the net,
  with the defence's BPDA surrogate in the backward pass when asked;
- :class:`~sksmooth.SmoothedClassifier` over a skorch net, for
  :class:`~sksmooth.attacks.SmoothAdv` only: the log of the Monte Carlo mean
  of the base net's softmax under noise (Salman et al., 2019).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import torch
from skorch import NeuralNet

from .._adapters import evaluation_mode, module_device_dtype, module_scores, unwrap_frozen
from .._training import check_representable
from ..masking import GradientMaskedClassifier
from ..smoothing import SmoothedClassifier

__all__ = ["DifferentiableTarget", "differentiable_target", "expected_n_features", "model_input"]

BLACK_BOX_HINT = (
    "Use sksmooth.attacks.RandomSearch, a black-box attack that needs only "
    "predict_proba or predict."
)


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


class DifferentiableTarget:
    """Logits of an estimator as a differentiable function of its input."""

    def __init__(self, forward, module, classes, *, stochastic: bool):
        self._forward = forward
        self.module = module
        self.classes = np.asarray(classes)
        self.stochastic = stochastic
        self.device, self.dtype = module_device_dtype(module)

    def logits(self, X: torch.Tensor, *, bpda: bool = False, generator=None) -> torch.Tensor:
        """Float64 logits of float64 rows; the module runs in its own dtype."""
        rows = X.to(self.dtype)
        if rows.dtype != X.dtype and not bool(torch.isfinite(rows).all()):
            # An overflow here would give NaN gradients and NaN adversarial rows.
            raise ValueError(
                "The rows under attack (X plus its perturbation) hold values beyond the "
                f"range of the model's precision ({str(self.dtype).removeprefix('torch.')}); "
                "rescale the features or lower eps."
            )
        return self._forward(rows, bpda, generator).double()

    @contextlib.contextmanager
    def evaluating(self):
        """Evaluation mode (no dropout) while attacking; the mode is restored after."""
        with evaluation_mode(self.module):
            yield self


def _smoothed_target(estimator: SmoothedClassifier, n_noise_samples: int) -> DifferentiableTarget:
    net = unwrap_frozen(estimator.estimator_)
    if not (isinstance(net, NeuralNet) and hasattr(net, "module_")):
        raise TypeError(
            "SmoothAdv needs a SmoothedClassifier over a skorch net, whose base "
            f"classifier is differentiable; this one smooths {type(net).__name__}. "
            + BLACK_BOX_HINT
        )
    module, sigma = net.module_, estimator.sigma

    def soft_smoothed(X, bpda, generator):
        noise = torch.randn(
            (n_noise_samples, *X.shape), generator=generator, dtype=X.dtype, device=X.device
        )
        scores = module_scores(module, (X.unsqueeze(0) + sigma * noise).flatten(0, 1))
        probabilities = torch.softmax(scores, dim=1).view(n_noise_samples, len(X), -1)
        return torch.log(probabilities.mean(dim=0).clamp_min(1e-12))

    return DifferentiableTarget(soft_smoothed, module, estimator.classes_, stochastic=True)


def differentiable_target(estimator, *, n_noise_samples: int | None = None) -> DifferentiableTarget:
    """Wrap a fitted estimator for gradient attacks, or explain why it cannot be.

    ``n_noise_samples`` is given by SmoothAdv, the one attack that accepts a
    SmoothedClassifier.
    """
    if isinstance(estimator, SmoothedClassifier):
        if n_noise_samples is None:
            raise TypeError(
                "A SmoothedClassifier's prediction is a majority vote with no gradient. "
                "Attack it with sksmooth.attacks.SmoothAdv (PGD on its soft, "
                "differentiable version) or with sksmooth.attacks.RandomSearch."
            )
        return _smoothed_target(estimator, n_noise_samples)
    if n_noise_samples is not None:
        raise TypeError(
            f"SmoothAdv attacks a SmoothedClassifier, not {type(estimator).__name__}; use "
            "PGD, BPDA or EOT on a differentiable model, or sksmooth.attacks.RandomSearch."
        )
    if isinstance(estimator, GradientMaskedClassifier):
        module = estimator.estimator_.module_

        def defended(X, bpda, generator):
            return estimator._forward(X, bpda=bpda, generator=generator)

        return DifferentiableTarget(
            defended, module, estimator.classes_, stochastic=estimator.method == "stochastic"
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
