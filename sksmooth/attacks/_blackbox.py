"""A gradient-free attack that needs only ``predict_proba`` or ``predict``."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state, check_scalar

from .._labels import label_indices
from ._base import Attack
from ._targets import model_input

__all__ = ["RandomSearch"]


class RandomSearch(Attack):
    """Random search on the ball's surface, in the spirit of the Square attack.

    Starting from a random point of the ball's surface, each query proposes
    new values for a random subset of the changeable features (a fraction
    ``p`` that shrinks over the budget) and keeps the proposal when it lowers
    the margin ``p_true - max_other p`` (Andriushchenko et al., 2020). Needs
    only ``predict_proba`` (or, failing that, ``predict``), so it attacks any
    classifier: gradient boosting, a :class:`~sksmooth.SmoothedClassifier`,
    or a model whose gradients are masked.

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

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> from sksmooth.attacks import RandomSearch
    >>> X, y = make_classification(300, n_features=4, random_state=0)
    >>> model = HistGradientBoostingClassifier(random_state=0).fit(X, y)
    >>> X_adv = RandomSearch(eps=1.0, random_state=0).generate(model, X[:20], y[:20])
    >>> X_adv.shape
    (20, 4)
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
        check_scalar(self.n_queries, "n_queries", numbers.Integral, min_val=1)
        check_scalar(
            self.p_init, "p_init", numbers.Real, min_val=0, max_val=1, include_boundaries="right"
        )

    def _check_estimator(self, estimator) -> None:
        if not (hasattr(estimator, "predict_proba") or hasattr(estimator, "predict")):
            raise TypeError(f"{type(estimator).__name__} has neither predict_proba nor predict.")

    def _perturb(self, estimator, X, y, threat):
        rng = check_random_state(self.random_state)
        labels = label_indices(estimator.classes_, y, what="y label")
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
        delta = clip(X, _to_surface(delta, threat))
        margin = _margin(estimator, X + delta, labels)
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
                proposal = delta[active].copy()
                for row in proposal:
                    features = rng.choice(free, size=n_change, replace=False)
                    row[features] = _draw(rng, n_change, threat, free.size)
                proposal = clip(X[active], _to_surface(proposal, threat))
                new_margin = _margin(estimator, X[active] + proposal, labels[active])
                self.n_queries_[active] += 1
                better = new_margin < margin[active]
                delta[active[better]] = proposal[better]
                margin[active[better]] = new_margin[better]
                bar.update()
        return X + delta


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


def _margin(estimator, X, labels) -> np.ndarray:
    """``p_true - max_other p`` per row; only the sign when there is no predict_proba."""
    X = model_input(estimator, X)
    if hasattr(estimator, "predict_proba"):
        proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        true = proba[np.arange(len(X)), labels]
        proba[np.arange(len(X)), labels] = -np.inf
        return true - proba.max(axis=1)
    predicted = label_indices(estimator.classes_, estimator.predict(X), what="predicted label")
    return np.where(predicted == labels, 1.0, -1.0)
