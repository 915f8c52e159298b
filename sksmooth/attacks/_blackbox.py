"""A gradient-free attack that needs only the model's scores, or only ``predict``."""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import torch
from sklearn.utils import check_random_state, check_scalar

from .._labels import label_indices
from ..utils._validation import check_sample_counts
from ._base import Attack
from ._targets import differentiable_target, is_stochastic, model_input

__all__ = ["RandomSearch"]

# log(p) of a probability rounded to 0: far below any log-probability a model gives.
LOG_FLOOR = np.log(np.finfo(np.float64).tiny)


class RandomSearch(Attack):
    """Random search on the ball's surface, in the spirit of the Square attack.

    Starting from a random point of the ball's surface, each query proposes
    new values for a random subset of the changeable features (a fraction
    ``p`` that shrinks over the budget) and keeps the proposal unless it
    raises the margin ``score_true - max_other score`` (Andriushchenko et
    al., 2020; ties are kept so that the search moves along the flat steps of
    a piecewise-constant model). In L2, half the proposals draw the chosen
    features afresh and rescale the whole perturbation onto the sphere; the
    other half move the budget of as many other features onto the chosen
    ones, which concentrates it where the model is sensitive (the Square
    attack's L2 update), as quantized inputs need.

    The scores are the most informative the model gives, so that the margin
    still moves where probabilities saturate at exactly 0 or 1 (defensive
    distillation): the logits of a fitted skorch net or a deterministic
    :class:`~sksmooth.GradientMaskedClassifier`, else ``decision_function``,
    else the log of ``predict_proba``, else only whether ``predict`` is right.
    ``score_method_`` records which. It therefore attacks any classifier:
    gradient boosting, a :class:`~sksmooth.SmoothedClassifier`, or a model
    whose gradients are masked.

    Parameters
    ----------
    eps : float
        Radius of the perturbation ball, at least 0.
    norm : {"inf", "l2"}, default="inf"
        Norm of the ball.
    n_queries : int, default=300
        Model queries per row at most (rows stop once fooled).
    p_init : float, default=0.3
        Initial fraction of features changed per proposal, in (0, 1].
    feature_mask : array-like of bool of shape (n_features,), default=None
        Features the attacker may change; None means all.
    bounds : tuple (low, high), default=None
        Per-feature (or scalar) box the adversarial rows must stay in.
    random_state : int, RandomState instance or None, default=None
        Seeds the search.
    verbose : int or bool, default=0
        Show a progress bar over the queries (in a terminal or a notebook
        only). Results are the same either way.

    Attributes
    ----------
    space_ : str
        After :meth:`generate`: the space the attack ran in.
    n_queries_ : ndarray of shape (n_rows,)
        After :meth:`generate`: model queries spent on each row.
    score_method_ : {"logits", "decision_function", "predict_proba", "predict"}
        After :meth:`generate`: where the margin was read.

    See Also
    --------
    AttackEnsemble : Starts this search from the best point of gradient attacks.

    References
    ----------
    .. [1] M. Andriushchenko, F. Croce, N. Flammarion and M. Hein, "Square
       Attack: a query-efficient black-box adversarial attack via random
       search", ECCV 2020.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> from sksmooth.attacks import RandomSearch
    >>> X, y = make_classification(300, n_features=4, random_state=0)
    >>> model = HistGradientBoostingClassifier(random_state=0).fit(X, y)
    >>> attack = RandomSearch(eps=1.0, random_state=0)
    >>> attack.generate(model, X[:20], y[:20]).shape
    (20, 4)
    >>> attack.score_method_
    'decision_function'
    """

    def __init__(
        self,
        eps,
        *,
        norm="inf",
        n_queries=300,
        p_init=0.3,
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
        self.n_queries = n_queries
        self.p_init = p_init

    def _check_params(self) -> None:
        check_sample_counts(n_queries=self.n_queries)
        check_scalar(
            self.p_init, "p_init", numbers.Real, min_val=0, max_val=1, include_boundaries="right"
        )

    def _check_estimator(self, estimator) -> None:
        if not (hasattr(estimator, "predict_proba") or hasattr(estimator, "predict")):
            raise TypeError(f"{type(estimator).__name__} has neither predict_proba nor predict.")

    def _perturb(self, estimator, X, y, threat):
        return self._search(estimator, X, y, threat)

    def _search(self, estimator, X, y, threat, start=None) -> np.ndarray:
        """The search from ``X + start`` (a random point of the surface when None)."""
        rng = check_random_state(self.random_state)
        self.score_method_, margin_of = margin_function(estimator, X, y)
        free = np.flatnonzero(threat.mask) if threat.mask is not None else np.arange(X.shape[1])
        self.n_queries_ = np.zeros(len(X), dtype=int)
        if free.size == 0:
            return X.copy()

        def clip(rows, delta):
            if threat.low is not None:
                delta = np.clip(rows + delta, threat.low, threat.high) - rows
            return delta

        delta = np.zeros_like(X)
        delta[:, free] = _draw(rng, (len(X), free.size), threat, free.size)
        if start is not None:
            # Rows an earlier attack left where they were keep the random start.
            moved = np.any(start[:, free] != 0, axis=1)
            delta[moved] = start[moved]
            if threat.mask is not None:
                delta[:, ~threat.mask] = 0.0
        delta = clip(X, _to_surface(delta, threat))
        margin = margin_of(X + delta, np.arange(len(X)))
        self.n_queries_ += 1
        with self._progress(self.n_queries, unit="query") as bar:
            bar.update()
            for query in range(1, self.n_queries):
                active = np.flatnonzero(margin > 0)
                if active.size == 0:
                    break
                # Square-attack style schedule: change fewer features as the search goes on.
                p = self.p_init / 2 ** int(8 * query / self.n_queries)
                n_change = max(1, int(round(p * free.size)))
                proposal = _propose(rng, delta[active], free, n_change, threat)
                proposal = clip(X[active], proposal)
                new_margin = margin_of(X[active] + proposal, active)
                self.n_queries_[active] += 1
                # Ties too: the search then drifts along the flat steps of a quantized
                # or thermometer input instead of stalling on the first one.
                better = new_margin <= margin[active]
                delta[active[better]] = proposal[better]
                margin[active[better]] = new_margin[better]
                bar.update()
        return X + delta


def margin_function(estimator, X, y) -> tuple[str, Callable]:
    """Where the margins come from, and ``margin(rows, which)`` for rows of ``y[which]``.

    The margin is ``score_true - max_other score``: negative once a row is
    misclassified. Scores are, in order of preference, a deterministic
    differentiable target's logits, ``decision_function``, the log of
    ``predict_proba`` (log keeps the margin moving long after the
    probabilities round to 1), and last ``predict``'s right or wrong (+1 / -1).
    A random forward's logits (found on ``X``) are skipped: it draws other
    randomness than the model's ``predict``, which is what the attack must fool.
    """
    try:
        target = differentiable_target(estimator)
    except TypeError:
        target = None
    if target is not None and not is_stochastic(estimator, X):
        labels = label_indices(target.classes, y, what="y label")

        def logits(rows, which):
            with torch.no_grad(), target.evaluating():
                scores = target.logits(torch.as_tensor(rows, device=target.device))
            return _margin(scores.cpu().numpy(), labels[which])

        return "logits", logits
    labels = label_indices(estimator.classes_, y, what="y label")
    n_classes = len(estimator.classes_)

    def decision_scores(rows):
        scores = np.asarray(estimator.decision_function(model_input(estimator, rows)))
        return _per_class(scores, n_classes)

    # One score per class, or one for two classes; one-vs-one scores (which for three
    # classes have the shape of one per class) go to the next method.
    if (
        hasattr(estimator, "decision_function")
        and getattr(estimator, "decision_function_shape", "ovr") != "ovo"
        and decision_scores(X[:1]) is not None
    ):

        def decision(rows, which):
            return _margin(decision_scores(rows), labels[which])

        return "decision_function", decision
    if hasattr(estimator, "predict_proba"):

        def log_proba(rows, which):
            proba = np.asarray(estimator.predict_proba(model_input(estimator, rows)), np.float64)
            with np.errstate(divide="ignore"):
                return _margin(np.maximum(np.log(proba), LOG_FLOOR), labels[which])

        return "predict_proba", log_proba

    def right_or_wrong(rows, which):
        predicted = estimator.predict(model_input(estimator, rows))
        predicted = label_indices(estimator.classes_, predicted, what="predicted label")
        return np.where(predicted == labels[which], 1.0, -1.0)

    return "predict", right_or_wrong


def _per_class(scores: np.ndarray, n_classes: int) -> np.ndarray | None:
    """One score per class (a binary model may give one per row, that of the second
    class); None for scores of another shape."""
    if n_classes == 2 and (scores.ndim == 1 or (scores.ndim == 2 and scores.shape[1] == 1)):
        scores = scores.reshape(-1)
        return np.column_stack([-scores, scores]) / 2
    if scores.ndim != 2 or scores.shape[1] != n_classes:
        return None
    return scores


def _margin(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    scores = np.array(scores, dtype=np.float64)
    rows = np.arange(len(scores))
    true = scores[rows, labels]
    scores[rows, labels] = -np.inf
    return true - scores.max(axis=1)


def _propose(rng, delta: np.ndarray, free: np.ndarray, n_change: int, threat) -> np.ndarray:
    """One proposal per row: ``n_change`` random features of each row get new values."""
    n_rows = len(delta)
    order = free[np.argsort(rng.random((n_rows, free.size)), axis=1)]
    rows = np.arange(n_rows)[:, None]
    chosen = order[:, :n_change]
    proposal = delta.copy()
    if threat.norm == "inf":
        proposal[rows, chosen] = _draw(rng, chosen.shape, threat, free.size)
        return proposal
    redraw = rng.random(n_rows) < 0.5
    proposal[rows, chosen] = np.where(
        redraw[:, None], _draw(rng, chosen.shape, threat, free.size), proposal[rows, chosen]
    )
    proposal[redraw] = _to_surface(proposal[redraw], threat)
    # The other rows: the budget of the chosen features and of as many others (none
    # left when every feature is chosen) goes to the chosen ones, in a random direction.
    move = ~redraw
    donors = order[move, n_change : 2 * n_change]
    kept, given = rows[move], chosen[move]
    budget = np.sum(proposal[kept, given] ** 2, axis=1) + np.sum(proposal[kept, donors] ** 2, 1)
    budget += np.maximum(threat.eps**2 - np.sum(proposal[move] ** 2, axis=1), 0)
    direction = rng.standard_normal(given.shape)
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-30)
    proposal[kept, donors] = 0.0
    proposal[kept, given] = direction * np.sqrt(budget)[:, None]
    return proposal


def _draw(rng, shape, threat, n_free: int) -> np.ndarray:
    """New coordinates: corners of the L-inf ball, or Gaussian for L2."""
    if threat.norm == "inf":
        return threat.eps * rng.choice([-1.0, 1.0], size=shape)
    return rng.standard_normal(shape) * threat.eps / np.sqrt(n_free)


def _to_surface(delta: np.ndarray, threat) -> np.ndarray:
    """Rescale L2 perturbations onto the sphere of radius eps (L-inf ones already are)."""
    if threat.norm == "inf":
        return delta
    norms = np.linalg.norm(delta, axis=1, keepdims=True)
    return delta * (threat.eps / np.maximum(norms, 1e-30))
