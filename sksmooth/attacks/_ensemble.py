"""Several attacks, and per row the first adversarial example any of them finds."""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..utils._validation import check_flag, check_sample_counts
from ._base import Attack
from ._blackbox import RandomSearch, margin_function
from ._constraints import finalise
from ._gradient import BPDA, EOT, PGD, SmoothAdv
from ._targets import differentiable_target, is_stochastic, model_input

__all__ = ["AttackEnsemble"]

# Rows the model already gets wrong are not attacked; ``fooled_by_`` says so.
CLEAN = "no attack needed"
# Rows probed to see whether a model's BPDA surrogate changes its gradient.
PROBE_ROWS = 8


class AttackEnsemble(Attack):
    """The worst case per row over a set of attacks, in the spirit of AutoAttack.

    A single attack overstates robustness wherever it happens to fail: a
    gradient attack against shattered or saturated gradients, a black-box
    search against a model it needs many queries for. The ensemble runs
    several attacks in turn, each on the rows still classified correctly,
    and keeps for each row the first adversarial example found (Croce &
    Hein, 2020). Every attack shares the ensemble's ``eps``, ``norm``,
    ``feature_mask`` and ``bounds``, so the result is exactly within the
    same threat model; its accuracy is an upper bound of the model's true
    robust accuracy, tighter than any of its members'.

    With ``attacks=None`` the set follows what the model exposes:

    - a differentiable forward (a fitted skorch net, a
      :class:`~sksmooth.GradientMaskedClassifier`): :class:`PGD` on the
      cross-entropy, then on the logit margin with ``restarts`` (which sees
      through saturated softmax); :class:`BPDA` with the margin when the
      model has a BPDA surrogate whose gradient differs from its own
      (quantization, thermometer codes); for a random forward
      (``method="stochastic"``, or a net that draws its own noise),
      :class:`EOT` over 16 draws with the margin instead of margin PGD;
    - a :class:`~sksmooth.SmoothedClassifier` over a skorch net:
      :class:`SmoothAdv` with the margin and ``restarts``;
    - any classifier, last: :class:`RandomSearch` with ``n_queries``,
      on the logits or scores the model has (see its ``score_method_``).

    With ``warm_start`` the black-box search starts each row from the point
    of the earlier attacks that came closest to fooling it (lowest margin),
    which finds the last few steps a gradient attack could not see.

    Parameters
    ----------
    eps : float
        Radius of the perturbation ball, at least 0.
    norm : {"inf", "l2"}, default="inf"
        Norm of the ball (also accepts ``np.inf``, ``"linf"`` and ``2``).
    attacks : list of Attack, default=None
        The attacks to run, in order. Each is copied and given the
        ensemble's ``eps``, ``norm``, ``feature_mask``, ``bounds`` and
        ``verbose`` (and a seed drawn from ``random_state`` if its own
        ``random_state`` is None); the attacks passed are never changed.
        None takes the default set above.
    steps : int, default=100
        Steps per restart of each default gradient attack.
    restarts : int, default=2
        Restarts of each default margin attack.
    n_queries : int, default=1000
        Query budget per row of the default :class:`RandomSearch`.
    warm_start : bool, default=True
        Start each :class:`RandomSearch` of the set from the best point the
        attacks before it reached, rather than at random.
    feature_mask : array-like of bool of shape (n_features,), default=None
        Features the attacker may change; None means all.
    bounds : tuple (low, high), default=None
        Per-feature (or scalar) box the adversarial rows must stay in.
    random_state : int, RandomState instance or None, default=None
        Seeds every attack of the set.
    verbose : int or bool, default=0
        Show each attack's progress bar (in a terminal or a notebook only).
        Results are the same either way.

    Attributes
    ----------
    space_ : str
        After :meth:`generate`: the space the attacks ran in.
    attacks_ : dict of str to Attack
        After :meth:`generate`: the attacks of the set, by name, in the order
        they run (those after the last fooled row are not run).
    fooled_by_ : ndarray of object of shape (n_rows,)
        After :meth:`generate`: the name of the attack whose adversarial
        example each row got, ``"no attack needed"`` where the model already
        misclassifies the row, None where every attack failed.

    See Also
    --------
    sksmooth.metrics.robust_accuracy : Uses this ensemble by default.
    sksmooth.diagnostics.check_gradient_masking : Compares it with plain PGD.

    References
    ----------
    .. [1] F. Croce and M. Hein, "Reliable evaluation of adversarial
       robustness with an ensemble of diverse parameter-free attacks",
       ICML 2020.
    .. [2] A. Athalye, N. Carlini and D. Wagner, "Obfuscated Gradients Give a
       False Sense of Security", ICML 2018.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sksmooth import GradientMaskedClassifier
    >>> from sksmooth.attacks import AttackEnsemble
    >>> from sksmooth.nets import make_mlp_classifier
    >>> X, y = make_classification(200, n_features=4, random_state=0)
    >>> model = GradientMaskedClassifier(make_mlp_classifier(max_epochs=5), levels=4,
    ...                                  random_state=0).fit(X, y)
    >>> attack = AttackEnsemble(0.5, steps=10, n_queries=50, random_state=0)
    >>> X_adv = attack.generate(model, X[:20], y[:20])
    >>> list(attack.attacks_)
    ['PGD (cross-entropy)', 'PGD (margin)', 'BPDA (margin)', 'RandomSearch']
    """

    def __init__(
        self,
        eps,
        *,
        norm="inf",
        attacks=None,
        steps=100,
        restarts=2,
        n_queries=1000,
        warm_start=True,
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
        self.attacks = attacks
        self.steps = steps
        self.restarts = restarts
        self.n_queries = n_queries
        self.warm_start = warm_start

    def _check_params(self) -> None:
        check_sample_counts(steps=self.steps, restarts=self.restarts, n_queries=self.n_queries)
        check_flag(self.warm_start, "warm_start")
        if self.attacks is None:
            return
        if isinstance(self.attacks, Attack) or not hasattr(self.attacks, "__iter__"):
            raise TypeError(
                "attacks must be a list of attacks from sksmooth.attacks (or None for the "
                f"default set), got {type(self.attacks).__name__}."
            )
        attacks = list(self.attacks)
        if not attacks:
            raise ValueError("attacks is empty; pass at least one attack, or None.")
        for attack in attacks:
            if not isinstance(attack, Attack):
                raise TypeError(
                    "every entry of attacks must be an attack from sksmooth.attacks, got "
                    f"{type(attack).__name__}."
                )

    def _check_estimator(self, estimator) -> None:
        if self.attacks is None:
            RandomSearch(self.eps)._check_estimator(estimator)  # the one every model gets
        for attack in self.attacks or ():
            attack._check_estimator(estimator)  # a TypeError naming an alternative

    def _perturb(self, estimator, X, y, threat):
        attacks = self._members(estimator, X, threat)
        seeds = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=len(attacks)
        )
        for attack, seed in zip(attacks.values(), seeds, strict=True):
            if attack.random_state is None:
                attack.random_state = int(seed)
        self.attacks_ = attacks
        # ``margin`` of RandomSearch ranks the points of rows no attack fooled.
        _, margin_of = margin_function(estimator, X, y)
        X_adv, best_margin = X.copy(), margin_of(X, np.arange(len(X)))
        pending = self._right(estimator, X, y)
        self.fooled_by_ = np.where(pending, None, CLEAN).astype(object)
        searched_from = False
        for name, attack in attacks.items():
            rows = np.flatnonzero(pending)
            if rows.size == 0:
                break
            if isinstance(attack, RandomSearch) and self.warm_start and searched_from:
                attack._check_params()
                found = attack._search(
                    estimator, X[rows], y[rows], threat, start=X_adv[rows] - X[rows]
                )
                # Exactly inside the threat model before it is judged, as generate's are.
                found = finalise(X[rows], found, **vars(threat))
            else:
                found = attack.generate(estimator, X[rows], y[rows])
            searched_from = True
            fooled = ~self._right(estimator, found, y[rows])
            X_adv[rows[fooled]] = found[fooled]
            self.fooled_by_[rows[fooled]] = name
            pending[rows[fooled]] = False
            # Of the rows still right, keep the point closest to the boundary.
            kept = rows[~fooled]
            if kept.size:
                margin = margin_of(found[~fooled], kept)
                closer = margin < best_margin[kept]
                X_adv[kept[closer]] = found[~fooled][closer]
                best_margin[kept[closer]] = margin[closer]
        return X_adv

    @staticmethod
    def _right(estimator, X, y) -> np.ndarray:
        return np.asarray(estimator.predict(model_input(estimator, X))) == y

    def _members(self, estimator, X, threat) -> dict:
        """The attacks to run, by name, each set to the ensemble's threat model."""
        shared = {
            "norm": threat.norm,
            "feature_mask": threat.mask,
            "bounds": None if threat.low is None else (threat.low, threat.high),
            "verbose": self.verbose,
        }
        if self.attacks is None:
            return self._default_members(estimator, X, threat.eps, shared)
        members = {}
        for attack in self.attacks:
            attack = copy.deepcopy(attack)
            for key, value in {"eps": threat.eps, **shared}.items():
                setattr(attack, key, value)
            name, count = type(attack).__name__, 1
            while name in members:
                count += 1
                name = f"{type(attack).__name__} #{count}"
            members[name] = attack
        return members

    def _default_members(self, estimator, X, eps: float, shared: dict) -> dict:
        gradient = {"steps": self.steps, **shared}
        margin = {"loss": "margin", "restarts": self.restarts, **gradient}
        members = {}
        try:
            target = differentiable_target(estimator)
        except TypeError:
            target = None
        if target is not None:
            members["PGD (cross-entropy)"] = PGD(eps, loss="ce", **gradient)
            if is_stochastic(estimator, X):
                members["EOT (margin)"] = EOT(eps, n_samples=16, bpda=True, **margin)
            else:
                members["PGD (margin)"] = PGD(eps, **margin)
                if _has_surrogate(target, X):
                    members["BPDA (margin)"] = BPDA(eps, **margin)
        elif _smoothable(estimator):
            members["SmoothAdv (margin)"] = SmoothAdv(eps, **margin)
        members["RandomSearch"] = RandomSearch(eps, n_queries=self.n_queries, **shared)
        return members


def _smoothable(estimator) -> bool:
    """Whether SmoothAdv can attack ``estimator`` (a smoothed classifier over a net)."""
    try:
        differentiable_target(estimator, n_noise_samples=1)
    except TypeError:
        return False
    return True


def _has_surrogate(target, X: np.ndarray) -> bool:
    """Whether BPDA's backward pass differs from the model's own, on a few rows.

    It does where a defence replaces a step function by a surrogate
    (quantization, thermometer codes); on a plain net BPDA is PGD again.
    """
    gradients = []
    with target.evaluating():
        for bpda in (False, True):
            rows = torch.as_tensor(X[:PROBE_ROWS], device=target.device).requires_grad_(True)
            logits = target.logits(rows, bpda=bpda)
            # Any fixed mixture of the classes: a gradient of one of them may be zero.
            weights = torch.arange(1, logits.shape[-1] + 1, dtype=logits.dtype, device=rows.device)
            output = (logits * weights).sum()
            if output.requires_grad:
                (gradient,) = torch.autograd.grad(output, rows, allow_unused=True)
            else:  # no path back to the input at all (a thermometer code)
                gradient = None
            gradients.append(torch.zeros_like(rows) if gradient is None else gradient)
    return not torch.allclose(*gradients)
