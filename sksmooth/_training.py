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

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

from .noise import NoiseModel

__all__ = ["check_representable", "fit_net", "fit_net_under_noise", "fit_estimator_under_noise"]

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
        if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
            raise TypeError(
                "Training a skorch net under noise needs each batch's inputs to be a "
                f"floating point tensor; got {type(inputs).__name__}."
            )
        if inputs.ndim != 2 or inputs.shape[1] != len(self.noise_model.scales):
            raise ValueError(
                f"Training batches have shape {tuple(inputs.shape)}; the noise has "
                f"{len(self.noise_model.scales)} columns."
            )
        # The collated batch is a fresh tensor, so changing it in place touches no user data.
        self.noise_model.noisy_batch_(inputs, self._generator(inputs.device))


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
    with _seeded_torch(seed, net.device):
        net.fit(X.astype(np.float32), y)
    return net


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
