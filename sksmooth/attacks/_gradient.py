"""Gradient attacks: FGSM, PGD, and the adaptive BPDA, EOT and SmoothAdv."""

from __future__ import annotations

import math
import numbers
import textwrap

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import check_scalar

from .._labels import label_indices
from ..utils._validation import check_flag, check_sample_counts
from ._base import Attack
from ._constraints import direction, project, random_start
from ._targets import differentiable_target

__all__ = ["BPDA", "EOT", "FGSM", "PGD", "SmoothAdv"]

LOSSES = ("ce", "margin")

# The parameters PGD and BPDA share, written once for both docstrings.
PGD_PARAMETERS = """\
Parameters
----------
eps : float
    Radius of the perturbation ball, at least 0.
norm : {"inf", "l2"}, default="inf"
    Norm of the ball (also accepts ``np.inf``, ``"linf"`` and ``2``).
steps : int, default=40
    Gradient steps per restart.
step_size : float, default=None
    Length of each step; None takes ``2.5 * eps / steps``.
random_start : bool, default=True
    Start each restart at a uniformly random point of the ball.
restarts : int, default=1
    Independent runs; a row counts as fooled if any run fools it.
loss : {"ce", "margin"}, default="ce"
    Cross-entropy, or the logit margin ``max_{j != y} z_j - z_y``, which
    sees through saturated softmax (vanishing gradients). Either is taken
    on logits: a skorch net whose module returns probabilities (``NLLLoss``
    or ``BCELoss``, ending in a softmax or sigmoid) is attacked through the
    logits before them, and a single logit ``z`` (skorch's
    ``NeuralNetBinaryClassifier``) as the two logits ``[0, z - logit(t)]``
    of its threshold ``t``.
feature_mask : array-like of bool of shape (n_features,), default=None
    Features the attacker may change; None means all.
bounds : tuple (low, high), default=None
    Per-feature (or scalar) box the adversarial rows must stay in.
random_state : int, RandomState instance or None, default=None
    Seeds random starts and any randomness of the model under attack, that
    of a defence and that a module draws itself in its forward (torch's
    global generator is seeded for each forward pass, then restored).
verbose : int or bool, default=0
    Show a progress bar over the steps of all restarts (in a terminal or a
    notebook only). Results are the same either way.
"""


def _fill_parameters(cls):
    """Put the shared parameters where a class docstring says ``{pgd_parameters}``."""
    indented = textwrap.indent(PGD_PARAMETERS, "    ").strip() + "\n"
    cls.__doc__ = cls.__doc__.replace("{pgd_parameters}", indented)
    return cls


def _loss(logits: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """Summed over rows, to be maximised. ``margin`` works on logits directly,
    so it still has a gradient where a saturated softmax gives none."""
    if kind == "ce":
        return F.cross_entropy(logits, y, reduction="sum")
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf"))
    return (others.max(dim=1).values - true).sum()


@_fill_parameters
class PGD(Attack):
    """Projected gradient descent (Madry et al., 2018), L-inf or L2.

    {pgd_parameters}
    Attributes
    ----------
    space_ : str
        After :meth:`generate`: the space the attack ran in (the input, or
        the input of a pipeline's last step).

    See Also
    --------
    BPDA : For defences with shattered gradients.
    EOT : For defences with randomness.
    RandomSearch : When the model has no gradient.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sksmooth.attacks import PGD
    >>> from sksmooth.nets import make_mlp_classifier
    >>> X, y = make_classification(200, n_features=4, random_state=0)
    >>> net = make_mlp_classifier(max_epochs=5, module__input_units=4,
    ...                           module__output_units=2).fit(X.astype("float32"), y)
    >>> X_adv = PGD(eps=0.3, random_state=0).generate(net, X, y)
    >>> bool(abs(X_adv - X).max() <= 0.3)
    True
    """

    _bpda = False

    def __init__(
        self,
        eps,
        *,
        norm="inf",
        steps=40,
        step_size=None,
        random_start=True,
        restarts=1,
        loss="ce",
        feature_mask=None,
        bounds=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            eps,
            norm=norm,
            feature_mask=feature_mask,
            bounds=bounds,
            random_state=random_state,
            verbose=verbose,
        )
        self.steps = steps
        self.step_size = step_size
        self.random_start = random_start
        self.restarts = restarts
        self.loss = loss

    def _n_gradient_samples(self) -> int:
        return 1

    def _target(self, estimator):
        return differentiable_target(estimator)

    def _check_params(self) -> None:
        check_sample_counts(steps=self.steps, restarts=self.restarts)
        check_flag(self.random_start, "random_start")
        if self.step_size is not None:
            check_scalar(self.step_size, "step_size", numbers.Real, min_val=0)
            try:
                finite = math.isfinite(self.step_size)
            except OverflowError:  # an int beyond float64
                finite = False
            if not finite:
                raise ValueError(f"step_size must be finite, got {self.step_size!r}.")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}.")

    def _check_estimator(self, estimator) -> None:
        self._target(estimator)  # raises a TypeError naming the alternative

    def _perturb(self, estimator, X, y, threat):
        target = self._target(estimator)
        with target.evaluating():
            return self._run(target, X, y, threat)

    def _run(self, target, X, y, threat) -> np.ndarray:
        device = target.device
        rows = torch.as_tensor(X, device=device)
        labels = torch.as_tensor(label_indices(target.classes, y, what="y label"), device=device)
        generator = self._generator(device)
        step_size = (
            float(self.step_size) if self.step_size is not None else 2.5 * threat.eps / self.steps
        )
        best = rows.clone()
        fooled = torch.zeros(len(rows), dtype=torch.bool, device=device)
        with self._progress(self.restarts * self.steps, unit="step") as bar:
            for _ in range(self.restarts):
                candidate = self._one_run(target, rows, labels, threat, step_size, generator, bar)
                with torch.no_grad():
                    now_fooled = target.logits(candidate, generator=generator).argmax(1) != labels
                take = now_fooled & ~fooled
                best[take] = candidate[take]
                fooled |= now_fooled
                best[~fooled] = candidate[~fooled]  # the last run's point where none fooled
        return best.cpu().numpy()

    def _one_run(self, target, rows, labels, threat, step_size, generator, bar) -> torch.Tensor:
        """One restart: a (random) start, then ``steps`` projected steps; one bar step each."""
        constraints = threat.as_tensors(rows.device)
        delta = torch.zeros_like(rows)
        if self.random_start:
            delta = random_start(
                rows,
                eps=threat.eps,
                norm=threat.norm,
                mask=constraints["mask"],
                generator=generator,
            )
        delta = project(delta, rows, **constraints)
        for _ in range(self.steps):
            grad = self._gradient(target, rows + delta, labels, generator)
            delta = project(delta + step_size * direction(grad, threat.norm), rows, **constraints)
            bar.update()
        return rows + delta

    def _gradient(self, target, X, labels, generator) -> torch.Tensor:
        X = X.detach().requires_grad_(True)
        n_samples = self._n_gradient_samples()
        loss = sum(
            _loss(target.logits(X, bpda=self._bpda, generator=generator), labels, self.loss)
            for _ in range(n_samples)
        )
        (grad,) = torch.autograd.grad(loss / n_samples, X, allow_unused=True)
        # None: no path back to X at all (a thermometer code): the gradient is zero.
        return torch.zeros_like(X) if grad is None else grad


class FGSM(PGD):
    """Fast gradient sign method (Goodfellow et al., 2015): one step of size ``eps``.

    For L-inf the perturbation is exactly ``eps * sign(gradient)`` (before
    any mask or bounds); for L2 it is ``eps`` times the normalised gradient.

    Parameters
    ----------
    eps : float
        Size of the step, at least 0.
    norm : {"inf", "l2"}, default="inf"
        Norm of the step.
    loss : {"ce", "margin"}, default="ce"
        Loss whose gradient is followed.
    feature_mask : array-like of bool of shape (n_features,), default=None
        Features the attacker may change; None means all.
    bounds : tuple (low, high), default=None
        Per-feature (or scalar) box the adversarial rows must stay in.
    random_state : int, RandomState instance or None, default=None
        Seeds any randomness of the model under attack.
    verbose : int or bool, default=0
        Show a progress bar (in a terminal or a notebook only).

    Examples
    --------
    >>> from sksmooth.attacks import FGSM
    >>> FGSM(eps=0.1).steps
    1
    """

    steps = 1
    restarts = 1
    random_start = False

    def __init__(
        self,
        eps,
        *,
        norm="inf",
        loss="ce",
        feature_mask=None,
        bounds=None,
        random_state=None,
        verbose=0,
    ):
        Attack.__init__(
            self,
            eps,
            norm=norm,
            feature_mask=feature_mask,
            bounds=bounds,
            random_state=random_state,
            verbose=verbose,
        )
        self.loss = loss

    @property
    def step_size(self) -> float:
        """One step of the whole budget."""
        return self.eps


@_fill_parameters
class BPDA(PGD):
    """PGD with Backward Pass Differentiable Approximation (Athalye et al., 2018).

    The forward pass runs the real defence; the backward pass goes through
    its differentiable surrogate (identity for quantization, a ramp for
    thermometer codes). On a model without a defence it is plain PGD.

    {pgd_parameters}
    Examples
    --------
    >>> from sksmooth.attacks import BPDA
    >>> BPDA(eps=0.5, steps=100).steps
    100
    """

    _bpda = True


class EOT(PGD):
    """PGD with Expectation over Transformation (Athalye et al., 2018).

    Each gradient is averaged over ``n_samples`` draws of the model's
    randomness, which sees through stochastic defences: a randomized
    :class:`~sksmooth.GradientMaskedClassifier`, or a net whose module draws
    its own noise in its forward (each draw fresh, all seeded by
    ``random_state``).

    Parameters
    ----------
    eps : float
        Radius of the perturbation ball.
    n_samples : int, default=16
        Draws of the randomness per gradient.
    bpda : bool, default=False
        Also use the defence's BPDA surrogate in the backward pass.
    **kwargs
        Any other :class:`PGD` parameter.

    Examples
    --------
    >>> from sksmooth.attacks import EOT
    >>> EOT(eps=0.5, n_samples=32).n_samples
    32
    """

    def __init__(self, eps, *, n_samples=16, bpda=False, **kwargs):
        super().__init__(eps, **kwargs)
        self.n_samples = n_samples
        self.bpda = bpda

    @property
    def _bpda(self):
        return self.bpda

    def _check_params(self) -> None:
        super()._check_params()
        check_flag(self.bpda, "bpda")

    def _n_gradient_samples(self) -> int:
        check_sample_counts(n_samples=self.n_samples)
        return self.n_samples


class SmoothAdv(PGD):
    """PGD on a smoothed classifier's soft version (Salman et al., 2019).

    A :class:`~sksmooth.SmoothedClassifier` predicts by majority vote, which
    has no gradient. SmoothAdv attacks instead the Monte Carlo mean of the
    base net's softmax under the smoothing noise, ``n_noise_samples`` fresh
    draws per step, and so measures the smoothed model's empirical
    robustness next to its certificate. Needs a skorch base net.

    Parameters
    ----------
    eps : float
        Radius of the perturbation ball.
    n_noise_samples : int, default=32
        Noise draws per forward pass.
    **kwargs
        Any other :class:`PGD` parameter (``norm="l2"`` matches the
        certificate's norm).

    Examples
    --------
    >>> from sksmooth.attacks import SmoothAdv
    >>> SmoothAdv(eps=0.5, norm="l2").n_noise_samples
    32
    """

    def __init__(self, eps, *, n_noise_samples=32, **kwargs):
        super().__init__(eps, **kwargs)
        self.n_noise_samples = n_noise_samples

    def _target(self, estimator):
        check_sample_counts(n_noise_samples=self.n_noise_samples)
        return differentiable_target(estimator, n_noise_samples=self.n_noise_samples)
