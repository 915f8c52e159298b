"""Gradient-masking defences as a scikit-learn meta-estimator.

These defences are here to be measured, not trusted: each hides or breaks
the gradient an attacker would follow, and each falls to the matching
adaptive attack (Athalye, Carlini & Wagner, 2018). Compare them with
:class:`~sksmooth.SmoothedClassifier`, whose robustness is certified.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet, NeuralNetClassifier
from torch import nn

from ._adapters import (
    DifferentiableTarget,
    evaluation_mode,
    module_device_dtype,
    net_scores,
)
from ._defences import ActivationPruning, GaussianInputNoise, Quantize, Thermometer
from ._monte_carlo import row_seeds
from ._training import (
    SINGLE_LOGIT_HINT,
    check_class_weight,
    check_representable,
    class_weights,
    fit_net,
    fit_net_under_noise,
    is_fitted,
    is_single_logit_net,
    set_criterion_weight,
    warn_on_ordered_criterion_weight,
)
from .noise import GaussianNoise, make_noise_model
from .utils._validation import MAX_COUNT

__all__ = ["GradientMaskedClassifier", "TemperatureCrossEntropy"]

METHODS = ("quantize", "thermometer", "distillation", "stochastic")


class TemperatureCrossEntropy(nn.Module):
    """Cross-entropy of ``logits / temperature``; targets may be labels or probabilities.

    Parameters
    ----------
    temperature : float, default=1.0
        Softmax temperature.
    weight : torch.Tensor of shape (n_classes,), default=None
        Per-class weights, as in :class:`torch.nn.CrossEntropyLoss` (e.g. to
        weight rare fraud rows up); :class:`GradientMaskedClassifier`'s
        ``class_weight`` sets it.
    """

    def __init__(self, temperature: float = 1.0, weight: torch.Tensor | None = None):
        super().__init__()
        if isinstance(temperature, bool):
            raise TypeError(f"temperature must be a number, got {temperature!r}.")
        check_scalar(
            temperature, "temperature", numbers.Real, min_val=0, include_boundaries="neither"
        )
        if not np.isfinite(temperature):
            raise ValueError(f"temperature must be finite, got {temperature!r}.")
        if weight is not None and not (
            isinstance(weight, torch.Tensor) and weight.ndim == 1 and weight.is_floating_point()
        ):
            raise TypeError(
                f"weight must be None or a 1-D float tensor, one weight per class; got {weight!r}."
            )
        self.temperature = float(temperature)
        self.weight = weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the mean cross-entropy at the temperature.

        Parameters
        ----------
        logits : torch.Tensor of shape (batch, n_classes)
            Unnormalised scores.
        target : torch.Tensor
            Class indices of shape (batch,) or probabilities of shape
            (batch, n_classes).

        Returns
        -------
        loss : torch.Tensor
            Scalar loss.
        """
        target = _check_loss_input(logits, target, self.weight)
        weight = None if self.weight is None else self.weight.to(logits.device, logits.dtype)
        try:
            return F.cross_entropy(logits / self.temperature, target, weight=weight)
        except IndexError as error:  # a class index out of range: only the loss sees it unsynced
            raise ValueError(
                f"target holds a class index outside [0, {logits.shape[1]}): {error}"
            ) from error


def _check_loss_input(logits, target, weight) -> torch.Tensor:
    """The target as the loss takes it; a ValueError or TypeError for what it cannot take.

    Only shapes and dtypes are read: no values, so no device synchronisation per batch.
    """
    if not (isinstance(logits, torch.Tensor) and logits.ndim == 2 and logits.is_floating_point()):
        raise TypeError(f"logits must be a 2-D float tensor (batch, n_classes), got {logits!r}.")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a tensor, got {target!r}.")
    if weight is not None and weight.shape != (logits.shape[1],):
        raise ValueError(
            f"weight has shape {tuple(weight.shape)} for {logits.shape[1]} classes (logits)."
        )
    if target.ndim == 1 and not target.is_floating_point() and target.dtype != torch.bool:
        expected = (len(logits),)
        target = target.long()
    elif target.is_floating_point():
        expected = tuple(logits.shape)
        target = target.to(logits.dtype)
    else:
        raise TypeError(
            "target must hold class indices (1-D, integers) or class probabilities (2-D, "
            f"floats); got a {target.ndim}-D tensor of {target.dtype}."
        )
    if tuple(target.shape) != expected:
        raise ValueError(
            f"target has shape {tuple(target.shape)}; logits of shape {tuple(logits.shape)} "
            f"need {expected}."
        )
    return target


class GradientMaskedClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """A skorch net behind a gradient-masking defence, applied in training and inference.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier
        The net to defend, unfitted; it is cloned (a fitted one is retrained,
        with a warning). Its module should take ``input_units`` /
        ``output_units`` (as :class:`~sksmooth.nets.MLPModule` does) so layer
        sizes can follow the defence's output, and give one logit per class.
    method : {"quantize", "thermometer", "distillation", "stochastic"}, default="quantize"
        The defence:

        - ``"quantize"``: feature squeezing; each feature is rounded to one of
          ``levels`` values over its range (shattered gradients; BPDA with the
          identity as surrogate sees through it).
        - ``"thermometer"``: each feature becomes a ``levels``-bit thermometer
          code over its range (Buckman et al., 2018; shattered gradients; BPDA
          with a ramp surrogate).
        - ``"distillation"``: defensive distillation (Papernot et al., 2016):
          a teacher trained at ``temperature``, a student trained on its soft
          labels at ``temperature``, deployed at temperature 1, where its
          softmax saturates (vanishing gradients; an attack on the logits sees
          through it).
        - ``"stochastic"``: randomized inference: Gaussian noise of std
          ``noise_std`` added to every input (in training and at inference)
          and stochastic activation pruning of the net's ``nn.ReLU`` outputs
          at inference, ``pruning_ratio`` draws per unit (Dhillon et al.,
          2018) (stochastic gradients; EOT sees through it).
    levels : int, default=16
        Number of levels of ``"quantize"`` and ``"thermometer"``.
    value_range : tuple of (float or array-like, float or array-like), default=None
        ``(low, high)`` of each feature for ``"quantize"`` and
        ``"thermometer"``; None takes the training data's min and max.
    temperature : float, default=100.0
        Distillation temperature.
    noise_std : float, default=0.0
        Std of the input noise of ``"stochastic"``; 0 disables it.
    pruning_ratio : float or None, default=0.2
        Draws per unit of layer width of the activation pruning of
        ``"stochastic"``; None disables it.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in training, as in scikit-learn: a dict
        ``{label: weight}`` (classes it does not name weigh 1), or
        ``"balanced"`` for ``n_samples / (n_classes * np.bincount(y))``.
        They become the criterion's ``weight`` in the order of ``classes_``
        (sorted labels) on every net trained (teacher and student for
        distillation): give ``class_weight={"fraud": 20, "legit": 1}``
        rather than a ``criterion__weight`` tensor.
    random_state : int, RandomState instance or None, default=None
        Seeds training and the inference noise of ``"stochastic"`` (drawn per
        row from the row's values, so predictions are a function of the input).

    Attributes
    ----------
    estimator_ : skorch.NeuralNetClassifier
        The fitted net (the student, for distillation), trained on integer
        labels ``0 .. n_classes - 1``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    low_, high_ : ndarray of shape (`n_features_in_`,)
        Value range of each feature (``"quantize"`` and ``"thermometer"`` only).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    sksmooth.diagnostics.check_gradient_masking : Detects the masking.
    sksmooth.attacks.BPDA : Sees through shattered gradients.
    sksmooth.attacks.EOT : Sees through stochastic gradients.

    References
    ----------
    .. [1] A. Athalye, N. Carlini and D. Wagner, "Obfuscated Gradients Give a
       False Sense of Security", ICML 2018.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sksmooth import GradientMaskedClassifier
    >>> from sksmooth.nets import make_mlp_classifier
    >>> X, y = make_classification(200, n_features=4, random_state=0)
    >>> clf = GradientMaskedClassifier(make_mlp_classifier(max_epochs=5),
    ...                                method="quantize", levels=8, random_state=0)
    >>> clf.fit(X, y).predict(X[:4]).shape
    (4,)
    """

    def __init__(
        self,
        estimator,
        *,
        method="quantize",
        levels=16,
        value_range=None,
        temperature=100.0,
        noise_std=0.0,
        pruning_ratio=0.2,
        class_weight=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.method = method
        self.levels = levels
        self.value_range = value_range
        self.temperature = temperature
        self.noise_std = noise_std
        self.pruning_ratio = pruning_ratio
        self.class_weight = class_weight
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def _check_params(self) -> None:
        if is_single_logit_net(self.estimator):
            raise TypeError(
                f"GradientMaskedClassifier cannot defend {type(self.estimator).__name__} with "
                "one logit and binary cross-entropy: the defended model and the attacks on "
                "it read one logit per class. " + SINGLE_LOGIT_HINT
            )
        if not isinstance(self.estimator, NeuralNetClassifier):
            raise TypeError(
                "GradientMaskedClassifier wraps an unfitted skorch NeuralNetClassifier; "
                f"got {type(self.estimator).__name__}."
            )
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}.")
        check_scalar(self.levels, "levels", numbers.Integral, min_val=2, max_val=MAX_COUNT)
        check_scalar(
            self.temperature, "temperature", numbers.Real, min_val=0, include_boundaries="neither"
        )
        check_scalar(self.noise_std, "noise_std", numbers.Real, min_val=0)
        if self.pruning_ratio is not None:
            check_scalar(
                self.pruning_ratio,
                "pruning_ratio",
                numbers.Real,
                min_val=0,
                include_boundaries="neither",
            )
        for name in ("temperature", "noise_std", "pruning_ratio"):
            value = getattr(self, name)
            if value is not None and not np.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}.")
        if self.method == "stochastic" and self.noise_std == 0 and self.pruning_ratio is None:
            raise ValueError(
                'method="stochastic" needs noise_std > 0 or a pruning_ratio; both are off.'
            )
        check_class_weight(self.class_weight)

    def fit(self, X, y):
        """Train the net behind the defence.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, numeric.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : GradientMaskedClassifier
            The fitted estimator.
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        X = np.ascontiguousarray(X)  # torch takes no negative strides (X[::-1])
        check_representable(X)
        check_classification_targets(y)
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has only one class ({self.classes_[0].item()!r}); a classifier "
                "needs at least 2 classes."
            )
        n_classes = len(self.classes_)
        weights = class_weights(self.class_weight, self.classes_, y_encoded)
        if weights is None:
            warn_on_ordered_criterion_weight(self.estimator, self.classes_, stacklevel=2)
        _warn_if_fitted(self.estimator)
        seeds = check_random_state(self.random_state).randint(np.iinfo(np.int32).max, size=3)
        train_seed, noise_seed, self._seed = (int(s) for s in seeds)

        if self.method in ("quantize", "thermometer"):
            self._set_value_range(X)
            with torch.no_grad():
                defence = self._defence(torch.device("cpu"))
                X_defended = defence(torch.tensor(X, dtype=torch.float32)).numpy()
            self.estimator_ = fit_net(
                self._new_net(weights), X_defended, y_encoded, n_classes=n_classes, seed=train_seed
            )
        elif self.method == "stochastic" and self.noise_std == 0:
            self.estimator_ = fit_net(
                self._new_net(weights), X, y_encoded, n_classes=n_classes, seed=train_seed
            )
            self._check_prunable()
        elif self.method == "stochastic":
            self.estimator_ = fit_net_under_noise(
                self._new_net(weights),
                X,
                y_encoded,
                n_classes=n_classes,
                noise_model=make_noise_model("gaussian", self.noise_std, n_features=X.shape[1]),
                seed=train_seed,
                noise_seed=noise_seed,
            )
            self._check_prunable()
        else:
            self.estimator_ = self._distil(X, y_encoded, n_classes, train_seed, weights)
        return self

    def _new_net(self, weights: np.ndarray | None, **params) -> NeuralNet:
        """A clone of the net with ``params`` set, its criterion weighted by ``weights``."""
        net = clone(self.estimator).set_params(**params)
        return net if weights is None else set_criterion_weight(net, weights)

    def _check_prunable(self) -> None:
        if (
            self.pruning_ratio is not None
            and not ActivationPruning(self.estimator_.module_, self.pruning_ratio, None).layers
        ):
            raise ValueError(
                "Activation pruning needs nn.ReLU layers in the net's module and found none; "
                "use pruning_ratio=None or a module built from nn.ReLU layers."
            )

    def _set_value_range(self, X: np.ndarray) -> None:
        if self.value_range is None:
            low, high = X.min(axis=0), X.max(axis=0)
        else:
            try:
                low, high = (
                    np.broadcast_to(np.asarray(v, float), X.shape[1:]) for v in self.value_range
                )
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"value_range must be (low, high), each a number or {X.shape[1]} values, "
                    "one per feature."
                ) from error
            if np.any(high < low) or not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                raise ValueError("value_range must be finite (low, high) with low <= high.")
        # A constant feature gets a unit range so it maps to level 0, not NaN.
        self.low_, self.high_ = low.copy(), np.where(high > low, high, low + 1.0)
        # The defence computes in float32: its bounds and span must not overflow there.
        if np.max(self.high_ - self.low_) > np.finfo(np.float32).max:
            raise ValueError(
                "The value range of some feature spans more than float32, the precision of "
                "the defence, can hold; rescale the features, e.g. with a StandardScaler."
            )

    def _distil(self, X, y_encoded, n_classes, seed, weights):
        at_temperature = {
            "criterion": TemperatureCrossEntropy,
            "criterion__temperature": self.temperature,
        }
        teacher = self._new_net(weights, **at_temperature)
        fit_net(teacher, X, y_encoded, n_classes=n_classes, seed=seed)
        with torch.no_grad():
            logits = teacher.module_(torch.tensor(X, dtype=torch.float32, device=teacher.device))
            soft_labels = torch.softmax(logits / self.temperature, dim=1).cpu().numpy()
        student = self._new_net(weights, **at_temperature)
        return fit_net(student, X, soft_labels, n_classes=n_classes, seed=seed + 1)

    # ------------------------------------------------------------- forward

    def _defence(self, device: torch.device | None = None):
        """The defence as a torch module (on the net's device by default); None for distillation."""
        if self.method == "quantize":
            defence = Quantize(self.low_, self.high_, self.levels)
        elif self.method == "thermometer":
            defence = Thermometer(self.low_, self.high_, self.levels)
        elif self.method == "stochastic" and self.noise_std > 0:
            defence = GaussianInputNoise(self.noise_std)
        else:
            return None
        return defence.to(device or self._device())

    def _device(self) -> torch.device:
        return module_device_dtype(self.estimator_.module_)[0]

    def _module_logits(self, X: torch.Tensor) -> torch.Tensor:
        # The logits however the net's module ends (a softmax layer included).
        return net_scores(self.estimator_, len(self.classes_)).logits(X)

    def _forward(self, X: torch.Tensor, *, bpda: bool = False, generator=None) -> torch.Tensor:
        """Logits of the defended net; differentiable (through BPDA if ``bpda``)."""
        defence = self._defence()
        if defence is not None:
            X = defence.bpda(X, generator) if bpda else defence(X, generator)
        return self._pruned_logits(X, generator)

    def __sksmooth_target__(self, *, n_noise_samples=None) -> DifferentiableTarget:
        """The defence then the net, for gradient attacks (BPDA surrogate on request)."""
        check_is_fitted(self)
        if n_noise_samples is not None:
            raise TypeError(
                "SmoothAdv attacks a SmoothedClassifier, not a GradientMaskedClassifier; use "
                "PGD, BPDA or EOT on a differentiable model, or sksmooth.attacks.RandomSearch."
            )

        def defended(X, bpda, generator):
            return self._forward(X, bpda=bpda, generator=generator)

        return DifferentiableTarget(
            defended,
            self.estimator_.module_,
            self.classes_,
            stochastic=self.method == "stochastic",
        )

    def _pruned_logits(self, X: torch.Tensor, generators) -> torch.Tensor:
        """Module logits, with activation pruning where ``"stochastic"`` asks for it."""
        if self.method != "stochastic" or self.pruning_ratio is None:
            return self._module_logits(X)
        with ActivationPruning(self.estimator_.module_, self.pruning_ratio, generators):
            return self._module_logits(X)

    def _stochastic_logits(self, X: np.ndarray, rows: torch.Tensor) -> torch.Tensor:
        """Inference of ``"stochastic"``, its randomness seeded per row from the row's values.

        Predictions are then a function of the input, independent of batching.
        """
        generators = [
            torch.Generator(device=rows.device).manual_seed(seed)
            for seed in row_seeds(np.ascontiguousarray(X), self._seed, "defence", n_bytes=8)
        ]
        if self.noise_std > 0:
            noise = torch.empty_like(rows)
            for row_noise, generator in zip(noise, generators, strict=True):
                GaussianNoise().draw_(row_noise, generator)
            rows = rows + self.noise_std * noise
        # One row per forward pass: float32 matrix products round differently
        # for different batch shapes, and the answer must not depend on batching.
        return torch.cat(
            [self._pruned_logits(rows[i : i + 1], generators[i : i + 1]) for i in range(len(rows))]
        )

    def _inference_logits(self, X) -> torch.Tensor:
        X = np.ascontiguousarray(validate_data(self, X, reset=False, dtype=np.float64))
        check_representable(X)
        rows = torch.tensor(X, dtype=torch.float32, device=self._device())
        with evaluation_mode(self.estimator_.module_), torch.inference_mode():
            if self.method == "stochastic" and len(X):
                return self._stochastic_logits(X, rows).double()
            return self._forward(rows).double()

    def predict_proba(self, X):
        """Class probabilities of the defended net (softmax at temperature 1).

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Rows to classify.

        Returns
        -------
        proba : ndarray of shape (n_rows, n_classes)
            Softmax of the defended net's logits.
        """
        check_is_fitted(self)
        return torch.softmax(self._inference_logits(X), dim=1).cpu().numpy()

    def predict(self, X):
        """Class labels of the defended net.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Rows to classify.

        Returns
        -------
        labels : ndarray of shape (n_rows,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[self._inference_logits(X).argmax(dim=1).cpu().numpy()]


def _warn_if_fitted(net) -> None:
    """A fitted net would be retrained from scratch: say so rather than drop its training."""
    if is_fitted(net):
        warnings.warn(
            f"The net ({type(net).__name__}) is already fitted: fit clones it and trains "
            "the clone behind the defence from scratch, so its weights are not used. The "
            "defence is part of training, so a FrozenEstimator cannot stand in for it; "
            "pass the unfitted net.",
            UserWarning,
            stacklevel=3,
        )
