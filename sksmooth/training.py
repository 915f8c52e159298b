"""Training recipes for the skorch nets a smoothed classifier is built on.

``SmoothedClassifier(training=...)`` picks how a skorch base net is trained
under the smoothing noise:

- ``"gaussian"`` (the default): noise augmentation, fresh noise in every
  batch (Cohen et al., 2019).
- :class:`ConsistencyTraining` (or ``"consistency"``): several noisy copies
  of each row, and a penalty on their disagreement (Jeong & Shin, 2020).
- :class:`SmoothAdvTraining` (or ``"smoothadv"``): adversarial training of
  the soft smoothed classifier (Salman et al., 2019).

Every recipe draws its noise from the very noise the classifier is smoothed
and certified with (its family, its per-column scales, its categorical
replacement), from torch generators seeded by ``random_state``: the same
seed trains bit-identical weights. Recipes are scikit-learn estimators, so
model selection reaches their parameters::

    GridSearchCV(smoothed, {"training": [ConsistencyTraining()],
                            "training__weight": [1.0, 10.0]})

and a list of grids compares them with Gaussian augmentation
(``[{"training": ["gaussian"]}, {"training": [ConsistencyTraining()], ...}]``).

How a recipe trains a skorch net, without changing the net's class: a
callback (in the place of the Gaussian recipe's noise callback) turns each
training batch into the recipe's noisy copies, writes the first copy over the
batch's inputs in place, so that skorch's own forward pass scores it, and
hands the other copies to a loss that wraps the net's criterion for the
duration of :meth:`~skorch.NeuralNet.fit`. When training ends the net's own
criterion is put back: the fitted net predicts, pickles and clones as any
other, and keeps its ``criterion__weight`` (which ``class_weight`` sets).

References
----------
Cohen, Rosenfeld & Kolter, "Certified adversarial robustness via randomized
smoothing", ICML 2019.

Jeong & Shin, "Consistency regularization for certified robustness of
smoothed classifiers", NeurIPS 2020.

Salman, Li, Razenshteyn, Zhang, Zhang, Bubeck & Yang, "Provably robust deep
learning via adversarially trained smoothed classifiers", NeurIPS 2019.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, clone
from skorch import NeuralNet
from torch import nn

from ._adapters import evaluation_mode, module_device_dtype, module_scores
from ._training import (
    NOISE_CALLBACK_NAME,
    NoiseCallback,
    check_training_batch,
    fit_net,
    fit_net_under_noise,
)
from .noise import NoiseModel
from .utils._validation import check_flag, check_radius, check_sample_counts

__all__ = ["ConsistencyTraining", "SmoothAdvTraining"]

# The floor of probabilities before their log, as both papers' code has it.
PROBABILITY_FLOOR = 1e-20


class _Recipe(BaseEstimator):
    """What the recipes share: validation, and the noisy copies of a training batch."""

    name = ""

    def _check_params(self) -> None:
        raise NotImplementedError

    def _n_copies(self) -> int:
        """Noisy copies of each row the loss is taken over."""
        raise NotImplementedError

    def _loss_weights(self) -> tuple[float, float]:
        """``(weight, entropy_weight)`` of the consistency terms of the loss."""
        return 0.0, 0.0

    def _copies(self, callback, net, rows, labels, generator) -> torch.Tensor:
        """The ``n_copies * len(rows)`` training inputs of one batch, copy after copy."""
        raise NotImplementedError


class ConsistencyTraining(_Recipe):
    r"""Consistency regularization (Jeong & Shin, 2020): agree with yourself under noise.

    Each training row ``x`` gets ``n_copies`` independent draws of the
    smoothing noise; with ``F_i`` the net's predicted distribution on copy
    ``i`` and ``F`` their mean (the soft smoothed classifier), each row's loss
    is

    .. math::

        \frac{1}{m} \sum_i \mathrm{CE}(F_i, y)
        + \lambda \, \frac{1}{m} \sum_i \mathrm{KL}(F \,\|\, F_i)
        + \eta \, H(F),

    ``m = n_copies``, ``lambda = weight``, ``eta = entropy_weight``. The
    penalty makes the base net's prediction stable under the noise, which is
    what the smoothed classifier's margin and so its certified radius grow
    with. The cross-entropy is the net's own criterion, class weights
    (``criterion__weight``, set by ``class_weight``) and label smoothing
    included; the class weights weigh the penalty of each row as well,
    normalised alike, so a rare class weighted up gets its robustness
    weighted up too. Needs a net trained on ``CrossEntropyLoss`` (logits) or
    ``NLLLoss`` (a module returning probabilities).

    Parameters
    ----------
    n_copies : int, default=2
        Noisy copies of each row, at least 2. Training costs about
        ``n_copies`` times the Gaussian recipe's.
    weight : float, default=5.0
        ``lambda``, the weight of the KL divergence of each copy's
        prediction from their mean; at least 0. Larger: more robust, at a
        cost in clean accuracy. The paper uses 5 to 20 on images; on the
        fraud table (``benchmarks/bench_training.py``) 3 to 5 did best, and
        10 cost certified fraud recall at sigma 0.5.
    entropy_weight : float, default=0.5
        ``eta``, the weight of the entropy of the mean prediction, which
        keeps the penalty from being met by predicting uniformly; at least 0.

    See Also
    --------
    SmoothAdvTraining : Adversarial training of the smoothed classifier.

    References
    ----------
    Jeong & Shin, "Consistency regularization for certified robustness of
    smoothed classifiers", NeurIPS 2020.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sksmooth import SmoothedClassifier
    >>> from sksmooth.nets import make_mlp_classifier
    >>> from sksmooth.training import ConsistencyTraining
    >>> X, y = make_classification(200, n_features=4, random_state=0)
    >>> clf = SmoothedClassifier(
    ...     make_mlp_classifier((16,), max_epochs=10, lr=0.01),
    ...     sigma=0.25,
    ...     n=1000,
    ...     training=ConsistencyTraining(weight=3.0),
    ...     random_state=0,
    ... ).fit(X, y)
    >>> clf.get_params()["training__weight"]
    3.0
    >>> bool(clf.score(X, y) > 0.8)
    True
    """

    name = "consistency"

    def __init__(self, n_copies=2, weight=5.0, entropy_weight=0.5):
        self.n_copies = n_copies
        self.weight = weight
        self.entropy_weight = entropy_weight

    def _check_params(self) -> None:
        check_sample_counts(n_copies=self.n_copies)
        if self.n_copies < 2:
            raise ValueError(
                f"n_copies == {self.n_copies}, must be >= 2: consistency is measured "
                "between noisy copies of a row."
            )
        check_radius(self.weight, "weight")
        check_radius(self.entropy_weight, "entropy_weight")

    def _n_copies(self) -> int:
        return int(self.n_copies)

    def _loss_weights(self) -> tuple[float, float]:
        return float(self.weight), float(self.entropy_weight)

    def _copies(self, callback, net, rows, labels, generator) -> torch.Tensor:
        return callback.noisy_copies(rows, self._n_copies(), generator)


class SmoothAdvTraining(_Recipe):
    """SmoothAdv (Salman et al., 2019): train on attacks of the smoothed classifier.

    For each training batch, an L2 PGD attack of ``steps`` steps from the
    rows themselves maximises the cross-entropy of the soft smoothed
    classifier, the mean softmax of the net being trained over
    ``n_noise_samples`` draws of the smoothing noise (the same draws at every
    step, the net in evaluation mode); the net is then trained by
    cross-entropy on the attacked rows plus noise, ``n_noise_samples`` noisy
    copies of each (as the authors' ``SmoothAdv_PGD`` with multi-noise
    training). The net's own criterion gives the cross-entropy, class
    weights included. Needs a net trained on ``CrossEntropyLoss`` or
    ``NLLLoss``.

    The attack moves only the noised columns, within the certificate's
    region: ``||delta||_2 <= eps`` in the data's units for a scalar
    ``sigma``; ``||delta / sigma||_2 <= eps`` for per-column sigma (``eps``
    unitless, as the radii are). It is an L2 attack whatever the noise.

    Parameters
    ----------
    eps : float, default=0.25
        Radius of the attack, at least 0 (0: no attack), in the units of
        :meth:`~sksmooth.SmoothedClassifier.certify`'s radius. Train at about
        the radius you want certified.
    steps : int, default=1
        Gradient steps of the attack. Training costs about
        ``(steps + 1) * n_noise_samples`` times the Gaussian recipe's.
    n_noise_samples : int, default=2
        Noise draws per row: those the soft smoothed classifier is averaged
        over in the attack, and the noisy copies trained on.
    step_size : float, default=None
        Length of each normalised gradient step; None takes
        ``2 * eps / steps``, as the authors' code. Each step is projected
        back onto the ball.
    fresh_noise : bool, default=False
        Train on new draws of the noise around the attacked rows instead of
        the draws the attack was computed on (the authors' code reuses them).
    warmup_epochs : int, default=1
        Epochs over which ``eps`` grows linearly to its value (epoch ``e``
        attacks at ``eps * min(1, e / warmup_epochs)``); 1: the full ``eps``
        from the first epoch.
    consistency_weight : float, default=0.0
        ``lambda`` of :class:`ConsistencyTraining`, on the noisy copies of the
        attacked rows: the combination Jeong & Shin (2020) report as their
        best; at least 0 (0: SmoothAdv alone).
    entropy_weight : float, default=0.5
        ``eta`` of :class:`ConsistencyTraining`, at least 0; used only when
        ``consistency_weight > 0``.

    See Also
    --------
    ConsistencyTraining : Consistency regularization, no attack.
    sksmooth.attacks.SmoothAdv : The same attack against a fitted model.

    References
    ----------
    Salman, Li, Razenshteyn, Zhang, Zhang, Bubeck & Yang, "Provably robust
    deep learning via adversarially trained smoothed classifiers", NeurIPS
    2019.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sksmooth import SmoothedClassifier
    >>> from sksmooth.nets import make_mlp_classifier
    >>> from sksmooth.training import SmoothAdvTraining
    >>> X, y = make_classification(200, n_features=4, random_state=0)
    >>> clf = SmoothedClassifier(
    ...     make_mlp_classifier((16,), max_epochs=10, lr=0.01),
    ...     sigma=0.25,
    ...     n=1000,
    ...     training=SmoothAdvTraining(eps=0.25),
    ...     random_state=0,
    ... ).fit(X, y)
    >>> bool(clf.score(X, y) > 0.8)
    True
    """

    name = "smoothadv"

    def __init__(
        self,
        eps=0.25,
        steps=1,
        n_noise_samples=2,
        step_size=None,
        fresh_noise=False,
        warmup_epochs=1,
        consistency_weight=0.0,
        entropy_weight=0.5,
    ):
        self.eps = eps
        self.steps = steps
        self.n_noise_samples = n_noise_samples
        self.step_size = step_size
        self.fresh_noise = fresh_noise
        self.warmup_epochs = warmup_epochs
        self.consistency_weight = consistency_weight
        self.entropy_weight = entropy_weight

    def _check_params(self) -> None:
        check_radius(self.eps, "eps")
        check_sample_counts(
            steps=self.steps,
            n_noise_samples=self.n_noise_samples,
            warmup_epochs=self.warmup_epochs,
        )
        if self.step_size is not None:
            check_radius(self.step_size, "step_size")
        check_flag(self.fresh_noise, "fresh_noise")
        check_radius(self.consistency_weight, "consistency_weight")
        check_radius(self.entropy_weight, "entropy_weight")

    def _n_copies(self) -> int:
        return int(self.n_noise_samples)

    def _loss_weights(self) -> tuple[float, float]:
        if self.consistency_weight == 0:
            return 0.0, 0.0
        return float(self.consistency_weight), float(self.entropy_weight)

    def _eps_at(self, epoch: int) -> float:
        """The radius of the attack in ``epoch`` (1 for the first), after the warm-up."""
        return float(self.eps) * min(1.0, max(epoch, 1) / int(self.warmup_epochs))

    def _copies(self, callback, net, rows, labels, generator) -> torch.Tensor:
        m = self._n_copies()
        noisy = callback.noisy_copies(rows, m, generator)
        eps = self._eps_at(callback.epoch_)
        steps = int(self.steps)
        step_size = 2.0 * eps / steps if self.step_size is None else float(self.step_size)
        delta = _smoothadv_perturbation(
            net.module_,
            noisy,
            labels,
            n_noise_samples=m,
            eps=eps,
            steps=steps,
            step_size=step_size,
            metric=callback.attack_metric(rows),
            probabilities=callback.probabilities,
        )
        if self.fresh_noise:
            return callback.noisy_copies(rows + delta, m, generator)
        # The draws the attack was computed on; delta is 0 on categorical columns,
        # so adding it commutes with their random replacement.
        return noisy + delta.repeat(m, 1)


_RECIPES = {recipe.name: recipe for recipe in (ConsistencyTraining, SmoothAdvTraining)}


# ---------------------------------------------------------------- the loss


def _log_inputs(scores: torch.Tensor, probabilities: bool) -> torch.Tensor:
    """What the criterion takes: the logits, or for ``NLLLoss`` the log of probabilities.

    The log of probabilities is taken as skorch's ``NeuralNetClassifier``
    takes it (``log(p + eps)``), so the loss is skorch's own on each copy.
    """
    if probabilities:
        return torch.log(scores + torch.finfo(scores.dtype).eps)
    return scores


def _consistency_loss(
    scores: torch.Tensor,
    y: torch.Tensor,
    *,
    criterion: nn.Module,
    weight: float,
    entropy_weight: float,
    probabilities: bool = False,
) -> torch.Tensor:
    """The loss of :class:`ConsistencyTraining` over ``m`` noisy copies of a batch.

    ``scores`` has shape ``(m, n_rows, n_classes)``: the module's output on
    each copy (logits, or probabilities for an ``NLLLoss`` criterion). The
    cross-entropy is ``criterion`` on every copy (its class weights, label
    smoothing and reduction); the KL and entropy terms of each row are
    weighted by the class weight of its label and reduced as the criterion
    reduces (a weighted mean, or a sum). With ``weight == entropy_weight ==
    0`` it is the criterion on the copies stacked, exactly.
    """
    m, n_rows, n_classes = scores.shape
    inputs = _log_inputs(scores, probabilities)
    ce = criterion(inputs.reshape(m * n_rows, n_classes), y.repeat(m))
    reduction = getattr(criterion, "reduction", "mean")
    if reduction == "sum":
        ce = ce / m  # the mean over copies, as for "mean"
    if weight == 0 and entropy_weight == 0:
        return ce
    log_p = torch.log_softmax(inputs, dim=2)
    mean_p = log_p.exp().mean(dim=0)
    log_mean = torch.log(mean_p.clamp_min(PROBABILITY_FLOOR))
    kl = (mean_p * (log_mean - log_p)).sum(dim=2).mean(dim=0)  # mean_i KL(F || F_i)
    entropy = -(mean_p * log_mean).sum(dim=1)
    penalty = weight * kl + entropy_weight * entropy
    rows = _row_weights(criterion, y, penalty.dtype)
    total = (rows * penalty).sum()
    if reduction == "sum":
        return ce + total
    return ce + total / rows.sum().clamp_min(torch.finfo(total.dtype).tiny)


def _row_weights(criterion: nn.Module, y: torch.Tensor, dtype) -> torch.Tensor:
    """The class weight of each row's label (1 without); 0 for the criterion's ignore_index."""
    class_weight = getattr(criterion, "weight", None)
    if class_weight is None:
        rows = torch.ones(len(y), dtype=dtype, device=y.device)
    else:
        rows = class_weight.to(device=y.device, dtype=dtype)[y.clamp_min(0)]
    ignore_index = getattr(criterion, "ignore_index", None)
    if ignore_index is not None:
        rows = rows * (y != ignore_index)
    return rows


class _CopiesLoss(nn.Module):
    """The net's criterion, taken over all the noisy copies of each training batch.

    Stands in for ``net.criterion_`` while a recipe trains. skorch scores the
    first copy (written over the batch's inputs) and passes its scores here;
    the other copies, left by the recipe's callback for the batch, are scored
    here. A validation batch (evaluation mode) gets the criterion as it is.
    Its state is the criterion's, so a checkpoint taken during training loads
    into the net.
    """

    def __init__(self, criterion: nn.Module, module: nn.Module, *, recipe: _Recipe, probabilities):
        super().__init__()
        self.criterion = criterion
        # A plain attribute, not a submodule: the module's parameters are not the loss's.
        self.__dict__["scored_module"] = module
        self.weight, self.entropy_weight = recipe._loss_weights()
        self.recipe_name = recipe.name
        self.probabilities = probabilities
        self.pending = None

    def state_dict(self, *args, **kwargs):
        return self.criterion.state_dict(*args, **kwargs)

    def load_state_dict(self, *args, **kwargs):
        return self.criterion.load_state_dict(*args, **kwargs)

    def forward(self, y_pred, y_true):
        y_pred = y_pred[0] if isinstance(y_pred, (tuple, list)) else y_pred
        # Kept, not consumed: an optimizer's closure (LBFGS) evaluates a batch again.
        if self.pending is None or not self.training:
            return self.criterion(_log_inputs(y_pred, self.probabilities), y_true)
        others = module_scores(self.scored_module, self.pending)
        scores = torch.cat([y_pred, others]).view(-1, *y_pred.shape)
        loss = _consistency_loss(
            scores,
            y_true,
            criterion=self.criterion,
            weight=self.weight,
            entropy_weight=self.entropy_weight,
            probabilities=self.probabilities,
        )
        if not bool(torch.isfinite(loss)):
            raise ValueError(
                f"The {self.recipe_name} training loss is {loss.item()}: lower the recipe's "
                "weights or eps, or the net's learning rate."
            )
        return loss


# ---------------------------------------------------------------- the attack


def _l2_pgd(loss_of, like: torch.Tensor, *, eps: float, steps: int, step_size: float, metric):
    """The ``delta`` that maximises ``loss_of(delta)`` within ``||delta / metric||_2 <= eps``.

    Row by row: PGD from ``delta = 0`` with normalised L2 steps, each projected
    back onto the ball (the authors' ``PGD_L2`` of SmoothAdv). Where ``metric``
    is 0 a column does not move. The change of variables ``delta = u * metric``
    makes it plain L2 PGD on ``u``. ``like`` gives the shape, dtype and device;
    ``loss_of`` sums over rows. Returns ``delta``, detached.
    """
    u = torch.zeros_like(like)
    tiny = torch.finfo(u.dtype).tiny
    for _ in range(steps):
        u.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_of(u * metric), u)
        with torch.no_grad():
            # A row with no gradient stays where it is.
            u = u + step_size * grad / grad.norm(dim=1, keepdim=True).clamp_min(tiny)
            u = u * (eps / u.norm(dim=1, keepdim=True).clamp_min(tiny)).clamp(max=1.0)
    return (u * metric).detach()


def _soft_smoothed_loss(scores: torch.Tensor, labels: torch.Tensor, *, probabilities: bool):
    """Cross-entropy of the mean softmax over noise draws, summed over rows.

    ``scores`` has shape ``(m, n_rows, n_classes)``: the module's output on
    ``m`` noisy copies of the rows.
    """
    log_p = torch.log_softmax(_log_inputs(scores, probabilities), dim=2)
    mean_p = log_p.exp().mean(dim=0)
    return F.nll_loss(torch.log(mean_p.clamp_min(PROBABILITY_FLOOR)), labels, reduction="sum")


def _smoothadv_perturbation(
    module: nn.Module,
    noisy: torch.Tensor,
    labels: torch.Tensor,
    *,
    n_noise_samples: int,
    eps: float,
    steps: int,
    step_size: float,
    metric,
    probabilities: bool = False,
) -> torch.Tensor:
    """SmoothAdv's perturbation of a batch: L2 PGD on the soft smoothed classifier.

    ``noisy`` holds ``n_noise_samples`` noisy copies of the batch's rows, copy
    after copy, drawn once: every step moves all copies of a row together.
    The module is attacked in evaluation mode; no parameter gradient is
    computed. Returns ``delta``, of shape ``(n_rows, n_features)``.
    """
    m, n_rows = n_noise_samples, len(labels)

    def loss_of(delta: torch.Tensor) -> torch.Tensor:
        scores = module_scores(module, noisy + delta.repeat(m, 1))
        return _soft_smoothed_loss(scores.view(m, n_rows, -1), labels, probabilities=probabilities)

    with evaluation_mode(module):
        return _l2_pgd(
            loss_of, noisy[:n_rows], eps=eps, steps=steps, step_size=step_size, metric=metric
        )


# ---------------------------------------------------------------- the callback


class _RecipeCallback(NoiseCallback):
    """Turn each training batch into a recipe's noisy copies, and take the loss over them.

    Registered under the Gaussian noise callback's name, in its place. Its
    generators pickle as the noise callback's do.

    Parameters
    ----------
    noise_model : sksmooth.noise.NoiseModel
        The noise and its per-column scales.
    seed : int
        Seed of the noise generator, re-applied at each ``initialize``.
    recipe : ConsistencyTraining or SmoothAdvTraining
        The recipe, checked.
    probabilities : bool, default=False
        Whether the module returns probabilities (an ``NLLLoss`` criterion)
        rather than logits.
    """

    def __init__(self, noise_model: NoiseModel, seed: int, recipe=None, probabilities=False):
        super().__init__(noise_model, seed)
        self.recipe = recipe
        self.probabilities = probabilities

    def initialize(self):
        super().initialize()
        self.loss_ = None
        self.epoch_ = 0
        return self

    def __getstate__(self):
        state = super().__getstate__()
        state["loss_"] = None  # holds the net's module; it lives only while training
        return state

    def noisy_copies(self, rows: torch.Tensor, n_copies: int, generator) -> torch.Tensor:
        """``n_copies`` draws of the smoothing noise around ``rows``, copy after copy."""
        copies = rows.repeat(n_copies, 1)
        return self.noise_model.noisy_batch_(copies, generator)

    def attack_metric(self, rows: torch.Tensor) -> torch.Tensor:
        """Per column, what one unit of the attack's radius is: the certificate's units.

        1 on every noised column for a scalar sigma (radii in the data's
        units), sigma itself for per-column sigma (unitless radii); 0 on the
        columns without noise, which the attacker does not control.
        """
        scales = np.asarray(self.noise_model.scales, dtype=np.float64)
        if self.noise_model.scalar:
            scales = (scales > 0).astype(np.float64)
        return torch.as_tensor(scales, dtype=rows.dtype, device=rows.device)

    def on_train_begin(self, net, **kwargs):
        criterion = net.criterion_
        if isinstance(criterion, _CopiesLoss):  # left by a fit that failed
            criterion = criterion.criterion
        self.loss_ = _CopiesLoss(
            criterion, net.module_, recipe=self.recipe, probabilities=self.probabilities
        )
        net.criterion_ = self.loss_

    def on_epoch_begin(self, net, **kwargs):
        self.epoch_ = len(net.history)

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        inputs, labels = batch[0], batch[1]
        check_training_batch(inputs, self.noise_model.n_features)
        device, _ = module_device_dtype(net.module_)
        rows = inputs.to(device)
        copies = self.recipe._copies(
            self, net, rows, torch.as_tensor(labels, device=device), self._generator(device)
        )
        # The collated batch is a fresh tensor: writing over it touches no user data.
        inputs.copy_(copies[: len(rows)])
        if self.loss_ is not None:
            self.loss_.pending = copies[len(rows) :]

    def on_train_end(self, net, **kwargs):
        _restore_criterion(net)
        self.loss_ = None


def _restore_criterion(net: NeuralNet) -> None:
    """Put the net's own criterion back in place of the recipe's loss."""
    criterion = getattr(net, "criterion_", None)
    if isinstance(criterion, _CopiesLoss):
        net.criterion_ = criterion.criterion


def _reads_probabilities(net: NeuralNet, recipe: _Recipe) -> bool:
    """Whether the net's criterion takes probabilities (NLLLoss) or logits (CrossEntropyLoss)."""
    criterion = net.criterion
    kind = criterion if inspect.isclass(criterion) else type(criterion)
    if issubclass(kind, nn.CrossEntropyLoss):
        return False
    if issubclass(kind, nn.NLLLoss):
        return True
    raise ValueError(
        f"training={recipe!r} needs class probabilities from the net: a criterion of "
        f"CrossEntropyLoss (logits) or NLLLoss (a module returning probabilities); the "
        f"net has {getattr(kind, '__name__', kind)}."
    )


# ---------------------------------------------------------------- entry points


def check_training(training, *, net: bool, frozen: bool):
    """The recipe ``training`` names, checked against the base estimator.

    Called by :meth:`~sksmooth.SmoothedClassifier.fit` before anything is
    trained.

    Parameters
    ----------
    training : str or recipe
        ``"gaussian"``, ``"consistency"``, ``"smoothadv"``, or a
        :class:`ConsistencyTraining` or :class:`SmoothAdvTraining`.
    net : bool
        Whether the base estimator is a skorch net.
    frozen : bool
        Whether it is wrapped in a :class:`~sklearn.frozen.FrozenEstimator`.

    Returns
    -------
    recipe : str or recipe
        ``"gaussian"``, or the recipe, with its parameters checked (a new
        default one for a recipe's name).

    Raises
    ------
    ValueError
        For a recipe with a bad parameter, an unknown name, or a base it
        cannot train (not a skorch net, or frozen).
    TypeError
        For a parameter of the wrong type, or ``training`` of one.
    """
    if isinstance(training, str):
        if training == "gaussian":
            return training
        if training not in _RECIPES:
            raise ValueError(
                "training must be 'gaussian', 'consistency', 'smoothadv' or a recipe of "
                f"sksmooth.training (ConsistencyTraining, SmoothAdvTraining); got {training!r}."
            )
        recipe = _RECIPES[training]()
    elif isinstance(training, _Recipe):
        recipe = training
    else:
        raise TypeError(
            "training must be 'gaussian', 'consistency', 'smoothadv' or a recipe of "
            f"sksmooth.training (ConsistencyTraining, SmoothAdvTraining); got {training!r:.200}."
        )
    recipe._check_params()
    if frozen:
        raise ValueError(
            f"training={training!r} trains the base net, and a FrozenEstimator is not "
            "trained: nothing is. Leave training='gaussian' (the default) for a frozen "
            "estimator, or pass the net itself to be trained."
        )
    if not net:
        raise ValueError(
            f"training={training!r} needs a skorch net as the base estimator: other "
            "estimators are trained on noisy copies (n_noisy_copies), and the recipes need "
            "a skorch net to train (sksmooth.nets.make_mlp_classifier builds one). Use "
            "training='gaussian'."
        )
    return recipe


def fit_net_with_training(
    net: NeuralNet,
    X: np.ndarray,
    y_encoded: np.ndarray,
    *,
    training,
    n_classes: int,
    noise_model: NoiseModel,
    seed: int,
    noise_seed: int,
) -> NeuralNet:
    """Fit an (already cloned) skorch net with the recipe ``training``.

    Parameters
    ----------
    net : skorch.NeuralNet
        The clone to train; its criterion must be ``CrossEntropyLoss`` or
        ``NLLLoss`` for a recipe other than ``"gaussian"``.
    X : ndarray of shape (n_samples, n_features)
        Training rows, float64; cast to the module's dtype.
    y_encoded : ndarray of shape (n_samples,)
        Class indices.
    training : str or recipe
        As :func:`check_training` takes it.
    n_classes : int
        Number of classes, the module's output size.
    noise_model : sksmooth.noise.NoiseModel
        The smoothing noise, which every recipe trains under.
    seed : int
        Seeds initialisation and shuffling.
    noise_seed : int
        Seeds every noise draw of the recipe (and so every attack).

    Returns
    -------
    net : skorch.NeuralNet
        ``net``, fitted, with its own criterion.
    """
    recipe = check_training(training, net=True, frozen=False)
    if isinstance(recipe, str):
        return fit_net_under_noise(
            net,
            X,
            y_encoded,
            n_classes=n_classes,
            noise_model=noise_model,
            seed=seed,
            noise_seed=noise_seed,
        )
    probabilities = _reads_probabilities(net, recipe)
    if isinstance(net.callbacks, str):
        raise ValueError(
            f"The skorch net has callbacks={net.callbacks!r}, which would also disable "
            "the callback that trains it under noise; pass callbacks=None or a list."
        )
    callback = _RecipeCallback(noise_model, noise_seed, clone(recipe), probabilities)
    net.set_params(callbacks=[*(net.callbacks or []), (NOISE_CALLBACK_NAME, callback)])
    try:
        return fit_net(
            net, X, y_encoded, n_classes=n_classes, seed=seed, categorical=noise_model.categorical
        )
    finally:
        # skorch skips on_train_end when fit raises: the net's criterion comes back anyway.
        _restore_criterion(net)
