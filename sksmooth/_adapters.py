"""Adapters over the models we smooth and attack.

:class:`DifferentiableTarget` is what a gradient attack needs: logits as a
differentiable function of the input (see :mod:`sksmooth.attacks._targets`
for the protocol that produces one).

Two voters share the interface "something that classifies a batch of noisy rows":

- :class:`TorchModuleVoter` runs a skorch net's ``module_`` directly on the
  net's device, with no numpy conversion per batch (the fast path).
- :class:`EstimatorVoter` calls any scikit-learn classifier's ``predict`` on
  a float64 numpy view of the batch (the generic path).

Both return, for each noisy row, the index of the predicted class in the
smoothed classifier's ``classes_``.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import torch
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNet

from ._labels import label_indices

__all__ = [
    "BLACK_BOX_HINT",
    "DifferentiableTarget",
    "evaluation_mode",
    "make_voter",
    "module_device_dtype",
    "module_scores",
    "unwrap_frozen",
]


def unwrap_frozen(estimator):
    """Return the estimator inside a :class:`~sklearn.frozen.FrozenEstimator`."""
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def module_device_dtype(module: torch.nn.Module) -> tuple:
    """Device and floating dtype of a module's parameters (CPU / float32 if it has none)."""
    parameter = next(module.parameters(), None)
    if parameter is None:
        return torch.device("cpu"), torch.float32
    dtype = parameter.dtype if parameter.is_floating_point() else torch.float32
    return parameter.device, dtype


def module_scores(module: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The module's per-class scores; skorch modules may return extras after them."""
    scores = module(X)
    return scores[0] if isinstance(scores, (tuple, list)) else scores


@contextlib.contextmanager
def evaluation_mode(module: torch.nn.Module):
    """Evaluation mode (no dropout) for the duration; the previous mode is restored."""
    if not any(m.training for m in module.modules()):
        yield  # already evaluating: nothing to switch (switching costs on small nets)
        return
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


BLACK_BOX_HINT = (
    "Use sksmooth.attacks.RandomSearch, a black-box attack that needs only "
    "predict_proba or predict."
)


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


class TorchModuleVoter:
    """Argmax of a torch module's scores, computed on the module's device."""

    def __init__(self, module: torch.nn.Module, n_classes: int, autocast_dtype=None):
        self.module = module
        self.n_classes = n_classes
        self.autocast_dtype = autocast_dtype
        self.device, self.dtype = module_device_dtype(module)

    @contextlib.contextmanager
    def prepared(self):
        """Evaluation mode, and autocast when a reduced precision is asked for."""
        with evaluation_mode(self.module):
            if self.autocast_dtype is None:
                yield
            else:
                with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                    yield

    def predict_indices(self, batch: torch.Tensor) -> torch.Tensor:
        scores = module_scores(self.module, batch)
        if scores.ndim != 2 or scores.shape[1] != self.n_classes:
            raise ValueError(
                f"The net's module returned scores of shape {tuple(scores.shape)} for "
                f"{len(batch)} rows; expected ({len(batch)}, {self.n_classes}), one "
                "score per class. Set the module's output size to the number of "
                "classes (e.g. module__output_units)."
            )
        return scores.argmax(dim=1)


class EstimatorVoter:
    """Class indices of any fitted scikit-learn classifier's ``predict``."""

    device = torch.device("cpu")
    dtype = torch.float64

    def __init__(self, estimator, classes: np.ndarray):
        self.estimator = estimator
        self.classes = classes
        self.n_classes = len(classes)
        # A model fitted on a DataFrame expects its column names back.
        self.feature_names = getattr(unwrap_frozen(estimator), "feature_names_in_", None)

    @contextlib.contextmanager
    def prepared(self):
        yield

    def predict_indices(self, batch: torch.Tensor) -> torch.Tensor:
        rows = batch.numpy()
        if self.feature_names is not None:
            rows = pd.DataFrame(rows, columns=self.feature_names, copy=False)
        labels = self.estimator.predict(rows)
        indices = label_indices(self.classes, labels, what="The base estimator predicted")
        return torch.from_numpy(indices)


AUTOCAST_DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def make_voter(estimator, classes: np.ndarray, precision: str = "float32"):
    """Pick the fast torch path for fitted skorch nets, the generic one otherwise.

    ``precision`` other than ``"float32"`` runs the net's forward passes
    under autocast; it needs a skorch net, and float16 needs a CUDA device.
    """
    inner = unwrap_frozen(estimator)
    if isinstance(inner, NeuralNet) and hasattr(inner, "module_"):
        voter = TorchModuleVoter(inner.module_, len(classes), AUTOCAST_DTYPES[precision])
        if precision == "float16" and voter.device.type != "cuda":
            raise ValueError('precision="float16" needs a CUDA device; use "bfloat16" on CPU.')
        return voter
    if precision != "float32":
        raise ValueError(
            f"precision={precision!r} applies to skorch nets only; "
            f"{type(inner).__name__} runs in its own precision."
        )
    return EstimatorVoter(estimator, classes)
