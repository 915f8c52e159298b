"""Training a base classifier under the noise it will be smoothed with.

Cohen et al. (2019) train the base classifier on noisy inputs; without
that the smoothed classifier is poor. Both paths draw from the same
:class:`~sksmooth.noise.NoiseModel` the votes are counted under:

- skorch nets get :class:`NoiseCallback`, which adds fresh noise to every
  training batch of every epoch (validation batches stay clean).
- Other estimators are fitted on ``n_noisy_copies`` noisy copies of ``X``.
"""

from __future__ import annotations

import contextlib
import inspect
import numbers
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet, NeuralNetBinaryClassifier
from skorch.callbacks import Callback
from torch import nn

from .noise import NoiseModel

__all__ = [
    "SINGLE_LOGIT_HINT",
    "check_class_weight",
    "check_representable",
    "class_weights",
    "fit_estimator_under_noise",
    "fit_net",
    "fit_net_under_noise",
    "is_fitted",
    "is_single_logit_net",
    "set_criterion_weight",
    "warn_on_ordered_criterion_weight",
]

NOISE_CALLBACK_NAME = "sksmooth_noise"


class NoiseCallback(Callback):
    """Add the smoothing noise in place to the inputs of each training batch.

    Pickles without its torch generators, which are tied to a device (a CUDA
    generator cannot be unpickled where there is no CUDA): it keeps their
    states instead, and a generator made again on the same device resumes
    from its saved state.

    Parameters
    ----------
    noise_model : sksmooth.noise.NoiseModel
        The noise and its per-column scales.
    seed : int
        Seed of the noise generator, re-applied at each ``initialize``.
    """

    def __init__(self, noise_model: NoiseModel, seed: int):
        self.noise_model = noise_model
        self.seed = seed

    def initialize(self):
        self.generators_ = {}
        self.generator_states_ = {}
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        if "generators_" in state:
            # get_state() is a CPU tensor for every device, so it loads anywhere.
            saved = dict(state.get("generator_states_", {}))
            saved.update({str(device): g.get_state() for device, g in state["generators_"].items()})
            state["generators_"] = {}
            state["generator_states_"] = saved
        return state

    def _generator(self, device: torch.device) -> torch.Generator:
        generator = self.generators_.get(device)
        if generator is None:
            generator = torch.Generator(device=device).manual_seed(self.seed)
            saved = getattr(self, "generator_states_", {}).pop(str(device), None)
            if saved is not None:
                generator.set_state(saved)
            self.generators_[device] = generator
        return generator

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        inputs = batch[0]
        check_training_batch(inputs, self.noise_model.n_features)
        # The collated batch is a fresh tensor, so changing it in place touches no user data.
        self.noise_model.noisy_batch_(inputs, self._generator(inputs.device))


def check_training_batch(inputs, n_columns: int) -> None:
    """A training batch's inputs must be a 2-D float tensor of the noise's columns."""
    if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
        raise TypeError(
            "Training a skorch net under noise needs each batch's inputs to be a "
            f"floating point tensor; got {type(inputs).__name__}."
        )
    if inputs.ndim != 2 or inputs.shape[1] != n_columns:
        raise ValueError(
            f"Training batches have shape {tuple(inputs.shape)}; the noise has {n_columns} columns."
        )


def check_representable(X: np.ndarray, dtype: torch.dtype = torch.float32) -> None:
    """Raise a ValueError if values of ``X`` (finite float64) overflow ``dtype``.

    Nets compute in float32: a larger value would become an infinity, then
    NaN scores, and a silently wrong prediction.
    """
    if X.size == 0:
        return
    largest = max(float(np.max(X)), -float(np.min(X)))
    limit = torch.finfo(dtype).max
    if largest > limit:
        raise ValueError(
            f"X holds a value of magnitude {largest:.3g}, beyond the range of the net's "
            f"precision ({str(dtype).removeprefix('torch.')}, at most {limit:.3g}); "
            "rescale the features, e.g. with a StandardScaler."
        )


def _module_size_params(net: NeuralNet, n_features: int, n_classes: int, categorical) -> dict:
    """The sizes the module takes, from the data.

    ``input_units`` and ``output_units``; with categorical columns also
    ``categorical_columns`` and ``categories`` (the codes of each).
    """
    if not inspect.isclass(net.module):
        return {}
    accepted = inspect.signature(net.module).parameters
    sizes = {"input_units": n_features, "output_units": n_classes}
    if categorical is not None:
        sizes["categorical_columns"] = tuple(int(c) for c in categorical.columns)
        sizes["categories"] = tuple(tuple(codes.tolist()) for codes in categorical.categories)
    return {f"module__{name}": size for name, size in sizes.items() if name in accepted}


@contextlib.contextmanager
def _seeded_torch(seed: int, device):
    """Seed torch's global generators for one fit without leaking the state."""
    devices = []
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        devices = [torch.device(device).index or torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def fit_net_under_noise(
    net: NeuralNet,
    X: np.ndarray,
    y_encoded: np.ndarray,
    *,
    n_classes: int,
    noise_model: NoiseModel,
    seed: int,
    noise_seed: int,
) -> NeuralNet:
    """Fit an (already cloned) skorch net on ``X`` with fresh noise in every batch.

    ``seed`` seeds initialisation and shuffling, ``noise_seed`` the noise.

    Layer sizes are set from the data where the module accepts
    ``input_units`` / ``output_units``; ``X`` is cast to float32 and labels
    to int64, as torch losses expect.
    """
    if isinstance(net.callbacks, str):
        raise ValueError(
            f"The skorch net has callbacks={net.callbacks!r}, which would also disable "
            "the callback that adds training noise; pass callbacks=None or a list."
        )
    callbacks = list(net.callbacks or [])
    callbacks.append((NOISE_CALLBACK_NAME, NoiseCallback(noise_model, noise_seed)))
    net.set_params(callbacks=callbacks)
    return fit_net(
        net, X, y_encoded, n_classes=n_classes, seed=seed, categorical=noise_model.categorical
    )


class InterruptGuard(Callback):
    """Let a KeyboardInterrupt raised inside a training batch reach the caller.

    skorch catches KeyboardInterrupt to end training early (its EarlyStopping
    raises one between epochs), so a Ctrl+C in the middle of a batch would
    return a half-trained net as if fitted, and a model search would score it.
    An interrupt that left a batch unfinished is raised again when training ends.
    """

    def on_train_begin(self, net, **kwargs):
        self.in_batch_ = False

    def on_batch_begin(self, net, **kwargs):
        self.in_batch_ = True

    def on_batch_end(self, net, **kwargs):
        self.in_batch_ = False

    def on_train_end(self, net, **kwargs):
        if self.in_batch_:
            self.in_batch_ = False
            raise KeyboardInterrupt


INTERRUPT_GUARD_NAME = "sksmooth_interrupt_guard"


def fit_net(
    net: NeuralNet, X: np.ndarray, y, *, n_classes: int, seed: int, categorical=None
) -> NeuralNet:
    """Fit an (already cloned) skorch net reproducibly, layer sizes set from the data.

    ``categorical`` (a :class:`~sksmooth.noise.CategoricalReplacement`)
    tells a module that takes them where the categorical columns are.

    ``X`` is cast to float32; integer labels to int64 and soft labels (a 2-D
    array of class probabilities) to float32, as torch losses expect.
    """
    check_representable(X)
    net.set_params(**_module_size_params(net, X.shape[1], n_classes, categorical))
    if not isinstance(net.callbacks, str):
        callbacks = [c for c in net.callbacks or [] if _callback_name(c) != INTERRUPT_GUARD_NAME]
        net.set_params(callbacks=[*callbacks, (INTERRUPT_GUARD_NAME, InterruptGuard())])
    y = np.asarray(y)
    y = y.astype(np.float32) if y.ndim == 2 else y.astype(np.int64)
    X = X.astype(_module_dtype(net))
    with _seeded_torch(seed, net.device):
        try:
            net.fit(X, y)
        except (RuntimeError, IndexError) as error:  # torch's own shape or target errors
            raise ValueError(_training_failure(net, X, n_classes, error)) from error
    return net


def _module_dtype(net: NeuralNet):
    """The numpy dtype the net's module takes: its parameters' (a module instance), else torch's."""
    module = net.module
    if isinstance(module, torch.nn.Module):
        parameter = next(module.parameters(), None)
        if parameter is not None and parameter.is_floating_point():
            return torch.empty(0, dtype=parameter.dtype).numpy().dtype
    return torch.empty(0, dtype=torch.get_default_dtype()).numpy().dtype


def _training_failure(net: NeuralNet, X: np.ndarray, n_classes: int, error: Exception) -> str:
    """Why the net could not train, in the data's terms where the module says so."""
    module = getattr(net, "module_", None)
    if module is not None:
        try:
            with torch.no_grad():
                parameter = next(module.parameters(), None)
                device = parameter.device if parameter is not None else "cpu"
                scores = module(torch.as_tensor(X[:2], device=device))
        except RuntimeError as forward_error:
            return (
                f"The skorch net's module cannot take rows of X, which has {X.shape[1]} "
                f"features: {forward_error}. Let SmoothedClassifier set the sizes (pass the "
                "module class, with input_units and output_units parameters) or match them."
            )
        if isinstance(scores, torch.Tensor) and tuple(scores.shape) != (len(X[:2]), n_classes):
            return (
                f"The skorch net's module returns scores of shape {tuple(scores.shape)} for "
                f"{len(X[:2])} rows; expected ({len(X[:2])}, {n_classes}), one per class of y."
            )
    return f"Training the skorch net failed: {error}"


def _callback_name(callback) -> str | None:
    return callback[0] if isinstance(callback, tuple) else None


def fit_estimator_under_noise(
    estimator,
    X: np.ndarray,
    y: np.ndarray,
    *,
    noise_model: NoiseModel,
    n_noisy_copies: int,
    seed: int,
    sample_weight: np.ndarray | None = None,
):
    """Fit an (already cloned) estimator on ``n_noisy_copies`` noisy copies of ``X``."""
    rng = np.random.default_rng(seed)
    X_noisy = np.concatenate([noise_model.noisy_copy(X, rng) for _ in range(n_noisy_copies)])
    y_noisy = np.tile(y, n_noisy_copies)
    if sample_weight is None:
        return estimator.fit(X_noisy, y_noisy)
    return estimator.fit(X_noisy, y_noisy, sample_weight=np.tile(sample_weight, n_noisy_copies))


# ------------------------------------------------------------ base checks

SINGLE_LOGIT_HINT = (
    "Use a NeuralNetClassifier with one output per class (2 for a binary task) and "
    "CrossEntropyLoss; sksmooth.nets.make_mlp_classifier builds one."
)


def is_single_logit_net(net) -> bool:
    """Whether ``net`` is a skorch net trained on one logit (binary cross-entropy).

    Votes, probabilities and attacks read one score per class, so such a net
    (``NeuralNetBinaryClassifier``, or a criterion of the BCE family) needs
    float targets and a threshold that nothing downstream would apply.
    """
    if isinstance(net, NeuralNetBinaryClassifier):
        return True
    if not isinstance(net, NeuralNet):
        return False
    criterion = net.criterion
    bce = (nn.BCEWithLogitsLoss, nn.BCELoss)
    return isinstance(criterion, bce) or (inspect.isclass(criterion) and issubclass(criterion, bce))


def is_fitted(estimator) -> bool:
    """Whether a base estimator has been trained already.

    A skorch net counts once it holds a module and at least one epoch of
    history (an ``initialize()`` alone trains nothing); any other estimator
    when :func:`~sklearn.utils.validation.check_is_fitted` passes.
    """
    if isinstance(estimator, NeuralNet):
        history = getattr(estimator, "history_", None)
        return (
            bool(getattr(estimator, "initialized_", False))
            and hasattr(estimator, "module_")
            and history is not None
            and len(history) > 0
        )
    try:
        check_is_fitted(estimator)
    except (NotFittedError, TypeError):
        return False
    return True


# ---------------------------------------------------------- class weights


def check_class_weight(class_weight) -> None:
    """``class_weight`` is None, ``"balanced"`` or a mapping of labels to weights."""
    if class_weight is None or (isinstance(class_weight, str) and class_weight == "balanced"):
        return
    if not isinstance(class_weight, Mapping):
        raise ValueError(
            'class_weight must be None, "balanced" or a dict {label: weight}, '
            f"got {class_weight!r}."
        )
    for label, weight in class_weight.items():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, numbers.Real)
            or not np.isfinite(weight)
            or weight < 0
        ):
            raise ValueError(
                f"class_weight[{label!r}] must be a finite number >= 0, got {weight!r}."
            )


def class_weights(class_weight, classes: np.ndarray, y_encoded: np.ndarray) -> np.ndarray | None:
    """One weight per class of ``classes`` (in that, sorted, order); None without class_weight.

    As in scikit-learn: ``"balanced"`` weighs class ``c`` by
    ``n_samples / (n_classes * count(c))``; a dict weighs the classes it
    names, the others by 1. A key that is not a class is an error, since it
    would otherwise weigh nothing without a word (a label spelled ``"1"``
    for the class ``1``, say).
    """
    check_class_weight(class_weight)
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        counts = np.bincount(y_encoded, minlength=len(classes))
        return len(y_encoded) / (len(classes) * counts.astype(float))
    position = {label: i for i, label in enumerate(classes.tolist())}
    unknown = [label for label in class_weight if label not in position]
    if unknown:
        raise ValueError(
            f"class_weight names {unknown}, which are not classes of y; the classes "
            f"are {classes.tolist()}."
        )
    weights = np.ones(len(classes))
    for label, weight in class_weight.items():
        weights[position[label]] = float(weight)
    return weights


def set_criterion_weight(net: NeuralNet, weights: np.ndarray) -> NeuralNet:
    """Give an (already cloned) net's criterion the per-class ``weights``.

    The weights follow the order of ``classes_``, which is the order of the
    integer labels the net is trained on.
    """
    if net.get_params().get("criterion__weight") is not None:
        raise ValueError(
            "Both class_weight and the net's criterion__weight weigh the classes; give "
            "class_weight alone (a dict keyed by label cannot get the order wrong)."
        )
    criterion = net.criterion
    if not inspect.isclass(criterion):
        raise ValueError(
            "class_weight sets the criterion's weight, which needs the criterion as a "
            f"class (criterion=nn.CrossEntropyLoss); the net has the instance {criterion!r}."
        )
    parameters = inspect.signature(criterion).parameters
    takes_weight = "weight" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
    if not takes_weight:
        raise ValueError(
            f"class_weight sets the criterion's weight, and {criterion.__name__} takes no "
            "weight argument; use a criterion that does, such as nn.CrossEntropyLoss."
        )
    return net.set_params(criterion__weight=torch.tensor(weights, dtype=torch.float32))


def warn_on_ordered_criterion_weight(net: NeuralNet, classes: np.ndarray, stacklevel: int) -> None:
    """Warn when ``criterion__weight`` meets string labels, whose sorted order misleads."""
    weight = net.get_params().get("criterion__weight")
    if weight is None or not any(isinstance(label, str) for label in classes.tolist()):
        return
    weight = torch.as_tensor(weight).reshape(-1).tolist()
    labels = classes.tolist()
    pairs = ", ".join(f"{label!r}: {w:g}" for label, w in zip(labels, weight, strict=False))
    warnings.warn(
        f"criterion__weight={weight} weighs the classes in sorted label order "
        f"{classes.tolist()}, so it reads {{{pairs}}}. With string labels that order is "
        "easy to get wrong: pass class_weight={label: weight} to the estimator instead "
        "(and no criterion__weight).",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
