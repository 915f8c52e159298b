"""Adapters over the models we smooth and attack.

:class:`DifferentiableTarget` is what a gradient attack needs: logits as a
differentiable function of the input (see :mod:`sksmooth.attacks._targets`
for the protocol that produces one).

:class:`ModuleScores` reads what a skorch net's module returns as one logit
per class, whatever the net's convention (logits, probabilities, or one
logit for two classes); :func:`net_scores` picks the reading from the net.

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
import copy
import math
import platform
import warnings
import weakref

import numpy as np
import pandas as pd
import torch
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNet
from torch import nn
from torch.overrides import TorchFunctionMode

from ._labels import label_indices

__all__ = [
    "BLACK_BOX_HINT",
    "DifferentiableTarget",
    "ModuleScores",
    "evaluation_mode",
    "make_voter",
    "module_device_dtype",
    "cpu_has_native_bfloat16",
    "reduced_copy",
    "module_scores",
    "net_scores",
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
    """Evaluation mode (no dropout) for the duration; each submodule's mode is restored."""
    if not any(m.training for m in module.modules()):
        yield  # already evaluating: nothing to switch (switching costs on small nets)
        return
    # Per submodule: a net may keep some layers in evaluation mode on purpose,
    # and a container of several nets has no mode of its own.
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for submodule, training in modes:
            submodule.training = training


# Criteria whose input is a probability: skorch's NeuralNetClassifier takes the
# log itself for NLLLoss (its default, for a module ending in a softmax), and
# its predict_proba returns such a module's output as it is.
PROBABILITY_CRITERIA = (nn.NLLLoss, nn.BCELoss)
LOGIT_CRITERIA = (nn.CrossEntropyLoss, nn.BCEWithLogitsLoss)


def _shape_error(shape, n_rows: int, n_classes: int) -> ValueError:
    single = " or one logit per row for two classes" if n_classes == 2 else ""
    return ValueError(
        f"The net's module returned scores of shape {shape} for {n_rows} rows; expected "
        f"({n_rows}, {n_classes}), one score per class{single}. Set the module's output "
        "size to the number of classes (e.g. module__output_units)."
    )


_SOFTMAX = (torch.softmax, torch.nn.functional.softmax, torch.Tensor.softmax)
_SIGMOID = (torch.sigmoid, torch.nn.functional.sigmoid, torch.Tensor.sigmoid)


class _Squashes(TorchFunctionMode):
    """Records the input of every softmax (over classes) and sigmoid a forward computes.

    When the module's output is one of their outputs, its logits are their
    input, exactly: no log of probabilities that float32 rounded to 0 or 1.
    A softmax written as a layer or as a function is seen alike.
    """

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        output = func(*args, **kwargs)
        if func in _SOFTMAX:
            dim = args[1] if len(args) > 1 else kwargs.get("dim")
            if isinstance(output, torch.Tensor) and output.ndim == 2 and dim in (1, -1):
                self.seen.append((output, args[0]))
        elif func in _SIGMOID:
            self.seen.append((output, args[0]))
        return output

    def logits_of(self, scores: torch.Tensor):
        # Identity, not equality: kept references make it sound.
        return next((inner for output, inner in self.seen if output is scores), None)


class ModuleScores:
    """A torch module's output read as one logit per class.

    Gradient attacks need logits: probabilities saturate (their gradient
    vanishes where a softmax reaches 0 or 1), so an honest net ending in a
    softmax would look like one that masks its gradients.

    Parameters
    ----------
    module : torch.nn.Module
        Returns ``(n_rows, n_classes)`` scores, or for two classes one score
        per row (shape ``(n_rows,)`` or ``(n_rows, 1)``), as skorch's
        :class:`~skorch.NeuralNetBinaryClassifier` expects.
    n_classes : int
        Number of classes.
    probabilities : bool or None, default=False
        Whether the module returns probabilities (one per class, or of class
        1 for a single score). None decides for each batch: rows of
        non-negative scores summing to 1 are probabilities. Negative scores
        are never read as probabilities (a log-softmax returns logits, up to
        a constant per row).
    threshold : float, default=0.5
        For a single score: class 1 when its probability exceeds it.
    """

    def __init__(self, module, n_classes: int, *, probabilities=False, threshold: float = 0.5):
        self.module = module
        self.n_classes = n_classes
        self.probabilities = probabilities
        if not 0 < threshold < 1:
            raise ValueError(f"The net's threshold must lie in (0, 1); got {threshold!r}.")
        self.threshold = float(threshold)
        # The logit the threshold sits at: class 1 when z > offset.
        self.offset = math.log(self.threshold) - math.log1p(-self.threshold)

    def _forward(self, X: torch.Tensor):
        """The module's scores, and their logits if a softmax or sigmoid produced them."""
        if self.probabilities is False:
            return module_scores(self.module, X), None
        with _Squashes() as squashes:
            scores = module_scores(self.module, X)
        return scores, squashes.logits_of(scores)

    def _single(self, scores: torch.Tensor, n_rows: int) -> bool:
        if scores.ndim == 2 and scores.shape == (n_rows, self.n_classes) and self.n_classes > 1:
            return False
        if self.n_classes == 2 and (scores.ndim == 1 or scores.shape[1:] == (1,)):
            if len(scores) == n_rows:
                return True
        raise _shape_error(tuple(scores.shape), n_rows, self.n_classes)

    def _are_probabilities(self, scores: torch.Tensor, single: bool) -> bool:
        if self.probabilities is False:
            return False
        with torch.no_grad():
            if bool((scores < 0).any()):
                return False
            if single:
                # One score is a logit unless the criterion says otherwise.
                return self.probabilities is True and bool((scores <= 1).all())
            if self.probabilities is None:
                total = scores.sum(dim=1)
                return bool((scores <= 1).all() and ((total - 1).abs() <= 1e-3).all())
        return True

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        """Differentiable ``(n_rows, n_classes)`` logits (their softmax is the net's probabilities).

        Parameters
        ----------
        X : torch.Tensor
            Rows in the module's dtype, on its device.

        Returns
        -------
        logits : torch.Tensor
            A single score ``z`` becomes ``[0, z - logit(threshold)]``.
        """
        scores, inner = self._forward(X)
        single = self._single(scores, len(X))
        if self._are_probabilities(scores, single):
            if inner is not None:
                scores = inner
            elif single:
                # A floor and a ceiling keep log(0) out; they cost only saturated rows.
                tiny = torch.finfo(scores.dtype).tiny
                p = scores.clamp(tiny, 1 - torch.finfo(scores.dtype).eps)
                scores = torch.log(p) - torch.log1p(-p)
            else:
                scores = torch.log(scores.clamp_min(torch.finfo(scores.dtype).tiny))
        if not single:
            return scores
        z = scores.reshape(-1) - self.offset
        return torch.stack([torch.zeros_like(z), z], dim=1)

    def predict_indices(self, X: torch.Tensor) -> torch.Tensor:
        """The predicted class index of each row (no gradient needed).

        Parameters
        ----------
        X : torch.Tensor
            Rows in the module's dtype, on its device.

        Returns
        -------
        indices : torch.Tensor
            Argmax of the scores; for a single score, whether it exceeds
            the threshold (as a probability) or its logit (as a logit).
        """
        scores = module_scores(self.module, X)
        if not self._single(scores, len(X)):
            return scores.argmax(dim=1)  # the log is monotone: no need to take it
        scores = scores.reshape(-1)
        if self._are_probabilities(scores, single=True):
            return (scores > self.threshold).long()
        return (scores > self.offset).long()

    def class_probabilities(self, X: torch.Tensor) -> torch.Tensor:
        """The net's class probabilities, ``(n_rows, n_classes)``: the softmax of :meth:`logits`."""
        return torch.softmax(self.logits(X).float(), dim=1)


def net_scores(net: NeuralNet, n_classes: int | None = None) -> ModuleScores:
    """How to read a fitted skorch net's module, decided from its criterion.

    ``NLLLoss`` and ``BCELoss`` take probabilities, so the module returns
    probabilities (skorch's convention: its ``NeuralNetClassifier`` takes their
    log in ``get_loss``); ``CrossEntropyLoss`` and ``BCEWithLogitsLoss`` take
    logits. Any other criterion: decided from the scores themselves (see
    :class:`ModuleScores`). ``threshold`` (skorch's
    :class:`~skorch.NeuralNetBinaryClassifier`) is respected.

    Parameters
    ----------
    net : skorch.NeuralNet
        A fitted net.
    n_classes : int, default=None
        Number of classes; None takes ``len(net.classes_)``.

    Returns
    -------
    scores : ModuleScores
        The reading of ``net.module_``.
    """
    criterion = getattr(net, "criterion_", None)
    criterion = getattr(criterion, "_orig_mod", criterion)  # under torch.compile
    if isinstance(criterion, PROBABILITY_CRITERIA):
        probabilities = True
    elif isinstance(criterion, LOGIT_CRITERIA):
        probabilities = False
    else:
        probabilities = None
    if n_classes is None:
        n_classes = len(net.classes_)
    threshold = getattr(net, "threshold", 0.5)
    return ModuleScores(net.module_, n_classes, probabilities=probabilities, threshold=threshold)


BLACK_BOX_HINT = (
    "Use sksmooth.attacks.RandomSearch, a black-box attack that needs only "
    "predict_proba or predict."
)


class DifferentiableTarget:
    """Logits of an estimator as a differentiable function of its input.

    ``forward(X, bpda, generator)`` returns ``(n_rows, n_classes)`` logits.
    While it runs under :meth:`logits` with a ``generator``, torch's global
    generators are seeded from that generator (and restored after), so that
    a model drawing its own randomness (``torch.rand`` in its forward, or a
    dropout that stays on in evaluation mode) is seeded by the attack's
    ``random_state`` too, with a fresh draw at every call, and the caller's
    random state is left as it was.

    ``stochastic`` True declares the forward random; otherwise
    :meth:`is_stochastic` finds out by running it.
    """

    def __init__(self, forward, module, classes, *, stochastic: bool):
        self._forward = forward
        self.module = module
        self.classes = np.asarray(classes)
        self.stochastic = stochastic
        self.device, self.dtype = module_device_dtype(module)
        self._seeds = None  # (the attack's generator, the stream of seeds drawn from it)

    def logits(self, X: torch.Tensor, *, bpda: bool = False, generator=None) -> torch.Tensor:
        """Float64 logits of float64 rows; the module runs in its own dtype."""
        seed = None if generator is None else self._next_seed(generator)
        return self._logits(X, bpda, generator, seed)

    def _logits(self, X: torch.Tensor, bpda: bool, generator, seed: int | None) -> torch.Tensor:
        rows = X.to(self.dtype)
        if rows.dtype != X.dtype and not bool(torch.isfinite(rows).all()):
            # An overflow here would give NaN gradients and NaN adversarial rows.
            raise ValueError(
                "The rows under attack (X plus its perturbation) hold values beyond the "
                f"range of the model's precision ({str(self.dtype).removeprefix('torch.')}); "
                "rescale the features or lower eps."
            )
        if seed is None:
            scores = self._forward(rows, bpda, generator)
        else:
            with self._global_rng(seed):
                scores = self._forward(rows, bpda, generator)
        if scores.ndim != 2 or scores.shape != (len(X), len(self.classes)):
            raise _shape_error(tuple(scores.shape), len(X), len(self.classes))
        return scores.double()

    def _next_seed(self, generator) -> int:
        """A seed for the global generators, from a stream of the attack's own.

        A separate stream, so that the attack's draws (random starts, a
        defence's noise) are the same whether or not the model draws its own.
        """
        if self._seeds is None or self._seeds[0] is not generator:
            # An affine step of the seed, so the two streams do not start alike.
            start = (generator.initial_seed() * 6364136223846793005 + 1442695040888963407) % 2**63
            self._seeds = (generator, torch.Generator().manual_seed(start))
        return int(torch.randint(2**62, (1,), generator=self._seeds[1]))

    @contextlib.contextmanager
    def _global_rng(self, seed: int):
        """Torch's generators for the module's device seeded with ``seed``, then restored."""
        cuda = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda, device_type="cuda"):
            torch.random.default_generator.manual_seed(seed)
            for device in cuda:
                with torch.cuda.device(device):
                    torch.cuda.manual_seed(seed)
            yield

    def is_stochastic(self, X: torch.Tensor) -> bool:
        """Whether the forward is random: declared so, or two seeds disagree on ``X``.

        Parameters
        ----------
        X : torch.Tensor
            Float64 rows to probe (a few are used).

        Returns
        -------
        stochastic : bool
            True when two forward passes seeded differently differ.
        """
        if self.stochastic:
            return True
        rows = X[:8]
        with torch.no_grad(), self.evaluating():
            first, second = (
                self._logits(rows, False, torch.Generator(self.device).manual_seed(seed), seed)
                for seed in (1, 2)
            )
        return not torch.equal(first, second)

    @contextlib.contextmanager
    def evaluating(self):
        """Evaluation mode (no dropout) while attacking; the mode is restored after."""
        with evaluation_mode(self.module):
            yield self


# Converted copies of modules, reused while the module's tensors are unchanged:
# decision mode counts votes once per round, and a copy per round would cost
# as much as the rounds themselves on a large net.
_REDUCED_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def reduced_copy(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """A copy of ``module`` converted to ``dtype``, made again only when the module changed.

    A change is any tensor of the module replaced or modified in place (its
    identity or its version counter), so new weights are never missed.

    Examples
    --------
    >>> import torch
    >>> from sksmooth._adapters import reduced_copy
    >>> module = torch.nn.Linear(2, 1)
    >>> reduced_copy(module, torch.bfloat16) is reduced_copy(module, torch.bfloat16)
    True
    >>> with torch.no_grad():
    ...     _ = module.weight.add_(1.0)
    >>> next(reduced_copy(module, torch.bfloat16).parameters()).dtype
    torch.bfloat16
    """
    state = tuple((id(t), t._version) for t in (*module.parameters(), *module.buffers()))
    cached = _REDUCED_COPIES.get(module)
    if cached is not None and cached[0] == (dtype, state):
        return cached[1]
    converted = copy.deepcopy(module).to(dtype)
    _REDUCED_COPIES[module] = ((dtype, state), converted)
    return converted


class TorchModuleVoter:
    """Predicted class of a torch module's scores, computed on the module's device.

    ``scores`` says how to read the module (see :func:`net_scores`); by
    default, logits (one per class, or one for two classes). With
    ``reduced_dtype`` (bfloat16 or float16), forward passes run on a copy of
    the module converted to it, made in :meth:`prepared`, and noisy rows are
    cast to it directly: faster than ``torch.autocast``, which casts the
    weights again at every forward pass. Its forward passes may run in
    several threads at once (``runs_in_threads``).
    """

    runs_in_threads = True

    def __init__(
        self,
        module: torch.nn.Module,
        n_classes: int,
        reduced_dtype=None,
        *,
        scores: ModuleScores | None = None,
    ):
        self.module = module
        self.n_classes = n_classes
        self.reduced_dtype = reduced_dtype
        self.scores = scores if scores is not None else ModuleScores(module, n_classes)
        self.device, self.dtype = module_device_dtype(module)

    @contextlib.contextmanager
    def prepared(self):
        """Evaluation mode, and the reduced-precision copy when one is asked for."""
        with evaluation_mode(self.module):
            if self.reduced_dtype is None:
                yield
                return
            full_scores, full_dtype = self.scores, self.dtype
            self.scores = copy.copy(full_scores)
            self.scores.module = reduced_copy(self.module, self.reduced_dtype)
            self.dtype = self.reduced_dtype
            try:
                yield
            finally:
                self.scores, self.dtype = full_scores, full_dtype

    def predict_indices(self, batch: torch.Tensor) -> torch.Tensor:
        return self.scores.predict_indices(batch)

    def predict_scores(self, batch: torch.Tensor) -> torch.Tensor:
        return self.scores.class_probabilities(batch)


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

    def predict_scores(self, batch: torch.Tensor) -> torch.Tensor:
        """``predict_proba`` of the base estimator, its columns in the order of ``classes``."""
        rows = batch.numpy()
        if self.feature_names is not None:
            rows = pd.DataFrame(rows, columns=self.feature_names, copy=False)
        proba = np.asarray(self.estimator.predict_proba(rows), dtype=float)
        own = label_indices(
            self.classes, unwrap_frozen(self.estimator).classes_, what="The base estimator's class"
        )
        if proba.shape != (len(rows), len(own)):
            raise ValueError(
                f"The base estimator's predict_proba returned shape {proba.shape} for "
                f"{len(rows)} rows of {len(own)} classes."
            )
        scores = np.zeros((len(rows), self.n_classes))
        scores[:, own] = proba
        return torch.from_numpy(scores)


REDUCED_DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def cpu_has_native_bfloat16() -> bool:
    """Whether this x86 CPU computes in bfloat16 natively (AVX512-BF16 or AMX).

    Without them torch emulates bfloat16, several times slower than float32.
    Other architectures are trusted (their bfloat16 support is not probed).
    """
    if platform.machine().lower() not in ("x86_64", "amd64", "x86", "i686"):
        return True
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    found = [getattr(torch.cpu, name, None) for name in probes]
    if not any(callable(probe) for probe in found):
        return True  # a torch without the probes: do not second-guess the user
    return any(probe() for probe in found if callable(probe))


def make_voter(estimator, classes: np.ndarray, precision: str = "float32"):
    """Pick the fast torch path for fitted skorch nets, the generic one otherwise.

    ``precision`` other than ``"float32"`` runs the net's forward passes on
    a copy of its module in that precision; it needs a skorch net, and
    float16 needs a CUDA device.
    """
    inner = unwrap_frozen(estimator)
    if isinstance(inner, NeuralNet) and hasattr(inner, "module_"):
        device = module_device_dtype(inner.module_)[0]
        if precision == "float16" and device.type != "cuda":
            raise ValueError('precision="float16" needs a CUDA device; use "bfloat16" on CPU.')
        if precision == "bfloat16" and device.type == "cpu" and not cpu_has_native_bfloat16():
            warnings.warn(
                'precision="bfloat16": this CPU has no native bfloat16 (neither AVX512-BF16 '
                "nor AMX), where torch would emulate it about 10 times slower than float32; "
                "the forward passes run in float32 instead, so the certificates are those "
                'of the float32 model. Set precision="float32" to silence this.',
                UserWarning,
                stacklevel=4,
            )
            precision = "float32"
        return TorchModuleVoter(
            inner.module_,
            len(classes),
            REDUCED_DTYPES[precision],
            scores=net_scores(inner, len(classes)),
        )
    if precision != "float32":
        raise ValueError(
            f"precision={precision!r} applies to skorch nets only; "
            f"{type(inner).__name__} runs in its own precision."
        )
    return EstimatorVoter(estimator, classes)
