"""Robustness metrics, and scorers for model selection.

Metric functions take the true labels and a :class:`CertificationResult`
(or, for robust accuracy, an estimator and an attack). The scorers are plain
callables ``scorer(estimator, X, y) -> float``, as scikit-learn accepts in
``cross_val_score``, ``cross_validate`` and ``GridSearchCV(scoring=...)``:
``make_scorer`` cannot express them because they need the estimator itself
to certify or attack, not only its predictions.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import replace

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d

from .attacks import Attack, AttackEnsemble
from .attacks._base import final_model
from .attacks._targets import model_input
from .certification import CertificationResult
from .smoothing import certify
from .utils._validation import (
    check_alpha,
    check_label,
    check_n_jobs,
    check_radius,
    check_sample_counts,
    check_threshold,
    final_step,
)

__all__ = [
    "abstain_rate",
    "average_certified_radius",
    "balanced_certified_accuracy",
    "certified_accuracy",
    "certified_accuracy_curve",
    "certified_recall",
    "make_certified_scorer",
    "make_robust_scorer",
    "robust_accuracy",
]


def _label_kind(labels) -> str:
    """``"numeric"``, ``"string"`` or ``"object"``; object arrays are judged by their items,
    so a pandas column of strings matches labels held as a numpy string array."""
    labels = np.asarray(labels)
    kind = labels.dtype.kind
    if kind == "O" and labels.size:
        items = labels.ravel().tolist()
        if all(isinstance(item, str) for item in items):
            return "string"
        if all(isinstance(item, numbers.Number) for item in items):
            return "numeric"
    return "numeric" if kind in "biuf" else "string" if kind in "US" else "object"


def _certified_correct(y_true, result: CertificationResult, radius: float) -> tuple:
    """Rows certified with the true label at ``radius`` or more, and the checked labels."""
    if not isinstance(result, CertificationResult):
        raise TypeError(f"result must be a CertificationResult, got {type(result).__name__}.")
    check_radius(radius)
    y_true = column_or_1d(y_true)
    check_consistent_length(y_true, result.label)
    if len(y_true) == 0:
        raise ValueError("Certified metrics of zero rows are undefined.")
    # As scikit-learn's classifiers: NaN, continuous or mixed-type labels are an error.
    try:
        check_classification_targets(y_true)
    except TypeError as error:  # scikit-learn's own message only says "'<' not supported"
        raise TypeError(f"y_true mixes label types that cannot be compared: {error}") from error
    if len(result) and _label_kind(y_true) != _label_kind(result.label):
        raise ValueError(
            f"y_true holds {_label_kind(y_true)} labels but the certificates hold "
            f"{_label_kind(result.label)} labels: they cannot match."
        )
    matches = np.asarray(result.label, dtype=object) == np.asarray(y_true, dtype=object)
    abstained = np.asarray(result.abstained, dtype=bool)
    correct = ~abstained & matches.astype(bool) & (np.asarray(result.radius) >= radius)
    return correct, y_true


def certified_accuracy(y_true, result: CertificationResult, radius: float = 0.0) -> float:
    """Fraction of rows certified with their true label at radius ``radius`` or more.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,)
        True labels.
    result : CertificationResult
        Certificates of the same rows.
    radius : float, default=0.0
        Radius to certify, at least 0.

    Returns
    -------
    accuracy : float
        Certified accuracy (Cohen et al., 2019).

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification import CertificationResult
    >>> from sksmooth.metrics import certified_accuracy
    >>> result = CertificationResult(
    ...     label=np.array([0, 1, 1]), radius=np.array([0.5, 0.2, 0.0]),
    ...     p_lower=np.array([0.9, 0.8, 0.4]), abstained=np.array([False, False, True]),
    ...     n_samples=np.full(3, 1000), sigma=0.25, alpha=0.001)
    >>> certified_accuracy([0, 1, 1], result, radius=0.25)
    0.3333333333333333
    """
    correct, _ = _certified_correct(y_true, result, radius)
    return float(np.mean(correct))


def average_certified_radius(y_true, result: CertificationResult) -> float:
    """Mean over rows of the certified radius, counted as 0 where the label is wrong.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,)
        True labels.
    result : CertificationResult
        Certificates of the same rows.

    Returns
    -------
    acr : float
        Average certified radius (Zhai et al., 2020).

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification import CertificationResult
    >>> from sksmooth.metrics import average_certified_radius
    >>> result = CertificationResult(
    ...     label=np.array([0, 1]), radius=np.array([0.6, 0.2]),
    ...     p_lower=np.array([0.9, 0.8]), abstained=np.array([False, False]),
    ...     n_samples=np.full(2, 1000), sigma=0.25, alpha=0.001)
    >>> average_certified_radius([0, 0], result)
    0.3
    """
    correct, _ = _certified_correct(y_true, result, 0.0)
    return float(np.mean(np.where(correct, result.radius, 0.0)))


def abstain_rate(result: CertificationResult) -> float:
    """Fraction of rows on which certification abstained.

    Parameters
    ----------
    result : CertificationResult
        Certificates.

    Returns
    -------
    rate : float
        Between 0 and 1.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification import CertificationResult
    >>> from sksmooth.metrics import abstain_rate
    >>> abstain_rate(CertificationResult(
    ...     label=np.array([0, 1]), radius=np.array([0.6, 0.0]),
    ...     p_lower=np.array([0.9, 0.4]), abstained=np.array([False, True]),
    ...     n_samples=np.full(2, 1000), sigma=0.25, alpha=0.001))
    0.5
    """
    if not isinstance(result, CertificationResult):
        raise TypeError(f"result must be a CertificationResult, got {type(result).__name__}.")
    if len(result) == 0:
        raise ValueError("The abstain rate of zero rows is undefined.")
    return float(np.mean(result.abstained))


def certified_recall(
    y_true, result: CertificationResult, radius: float = 0.0, *, pos_label=1
) -> float:
    """Fraction of the rows of class ``pos_label`` certified as that class at ``radius``.

    For fraud detection: the share of frauds that no perturbation within
    ``radius`` can hide.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,)
        True labels.
    result : CertificationResult
        Certificates of the same rows.
    radius : float, default=0.0
        Radius to certify, at least 0.
    pos_label : object, default=1
        The class of interest, a label of ``y_true`` or of ``result``. When no
        row of ``y_true`` has it, the recall is 0 with an
        :class:`~sklearn.exceptions.UndefinedMetricWarning`, as in
        :func:`~sklearn.metrics.recall_score`.

    Returns
    -------
    recall : float
        Certified recall of ``pos_label``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification import CertificationResult
    >>> from sksmooth.metrics import certified_recall
    >>> result = CertificationResult(
    ...     label=np.array([1, 1, 0]), radius=np.array([0.5, 0.1, 0.5]),
    ...     p_lower=np.array([0.9, 0.6, 0.9]), abstained=np.array([False, False, False]),
    ...     n_samples=np.full(3, 1000), sigma=0.25, alpha=0.001)
    >>> certified_recall([1, 1, 0], result, radius=0.25)
    0.5
    """
    return _certified_recall(y_true, result, radius, pos_label, classes=None)


def _certified_recall(y_true, result, radius, pos_label, classes) -> float:
    """Certified recall; ``pos_label`` must be one of ``classes`` (the model's), or when
    they are unknown (None), a label of ``y_true`` or of the result."""
    correct, y_true = _certified_correct(y_true, result, radius)
    positive = _positive_rows(y_true, result, pos_label, classes, "certified recall is", 4)
    if not positive.any():
        return 0.0
    return float(np.mean(correct[positive]))


def _positive_rows(y_true, result, pos_label, classes, what: str, stacklevel: int) -> np.ndarray:
    """Rows of ``y_true`` of class ``pos_label``; none (with a warning) for a known class
    absent from ``y_true``, an error for a label that is not a class at all."""
    check_label(pos_label, "pos_label")
    # Compared as objects: numpy refuses a label beyond the dtype of y_true (OverflowError).
    positive = np.asarray(np.asarray(y_true, dtype=object) == pos_label, dtype=bool)
    if not positive.any():
        if classes is None:
            known = np.any(np.asarray(result.label, dtype=object) == pos_label)
        else:
            known = any(c == pos_label for c in np.asarray(classes).tolist())
        if not known:
            where = "y_true or the result" if classes is None else f"the classes {classes}"
            raise ValueError(f"pos_label={pos_label!r} is not a label of {where}.")
        # As recall_score: no positive row in this split, so nothing recalled.
        warnings.warn(
            f"No row of y_true has pos_label={pos_label!r}; {what} set to 0.",
            UndefinedMetricWarning,
            stacklevel=stacklevel,
        )
    return positive


def balanced_certified_accuracy(y_true, result: CertificationResult, radius: float = 0.0) -> float:
    """Mean over the classes in ``y_true`` of each class's certified recall.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,)
        True labels.
    result : CertificationResult
        Certificates of the same rows.
    radius : float, default=0.0
        Radius to certify, at least 0.

    Returns
    -------
    accuracy : float
        Balanced certified accuracy: rare classes weigh as much as common ones.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification import CertificationResult
    >>> from sksmooth.metrics import balanced_certified_accuracy
    >>> result = CertificationResult(
    ...     label=np.array([0, 0, 0, 1]), radius=np.array([0.5, 0.5, 0.5, 0.5]),
    ...     p_lower=np.full(4, 0.9), abstained=np.zeros(4, bool),
    ...     n_samples=np.full(4, 1000), sigma=0.25, alpha=0.001)
    >>> balanced_certified_accuracy([0, 0, 0, 0], result)
    0.75
    >>> balanced_certified_accuracy([0, 0, 1, 1], result)
    0.75
    """
    correct, y_true = _certified_correct(y_true, result, radius)
    classes = np.unique(y_true)
    return float(np.mean([np.mean(correct[y_true == c]) for c in classes]))


def certified_accuracy_curve(
    y_true, result: CertificationResult, radii=None, *, pos_label=None, categorical_changes=None
) -> tuple[np.ndarray, np.ndarray]:
    """Certified accuracy against radius: the whole curve, as ``roc_curve`` gives the ROC.

    The certified accuracy at radius ``r`` is the share of rows certified
    with their true label at ``r`` or more (Cohen et al., 2019). As ``r``
    grows it falls in steps, one at each certified radius: it is constant on
    every interval ``(r_prev, r]`` between consecutive certified radii and 0
    beyond the largest. The default ``radii`` are exactly these step
    positions, so the curve is exact, not sampled on a grid.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,) or None
        True labels. None takes those the result holds: ``result.y_true``,
        or only ``result.correct`` for a result built without labels (then
        ``pos_label`` must stay None).
    result : CertificationResult
        Certificates of the same rows.
    radii : array-like of float, default=None
        Radii at which to evaluate the curve, each finite and at least 0, in
        the units of ``result.radius``; returned as given. None takes 0 and
        every distinct radius certified with the true label (of the rows of
        ``pos_label`` when given), sorted.
    pos_label : object, default=None
        None: the curve over all rows (certified accuracy). A class: the
        curve over the rows of that class, its certified recall at each
        radius, as :func:`certified_recall`. A class no row of ``y_true``
        has gives zeros, with an
        :class:`~sklearn.exceptions.UndefinedMetricWarning`.
    categorical_changes : int, default=None
        The curve with that many categorical fields changed on top of the
        numeric change (:meth:`CertificationResult.with_categorical_changes`);
        None reads ``result`` as it is.

    Returns
    -------
    radii : ndarray of shape (n_radii,)
        The radii, increasing when chosen by default.
    certified_accuracy : ndarray of shape (n_radii,)
        Certified accuracy (or recall of ``pos_label``) at each radius.

    See Also
    --------
    certified_accuracy : The curve at one radius.
    sksmooth.CertifiedAccuracyDisplay : Draws this curve.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification import CertificationResult
    >>> from sksmooth.metrics import certified_accuracy_curve
    >>> result = CertificationResult(
    ...     label=np.array([0, 1, 1, 0]), radius=np.array([0.5, 0.2, 0.5, 0.0]),
    ...     p_lower=np.array([0.9, 0.8, 0.9, 0.4]),
    ...     abstained=np.array([False, False, False, True]),
    ...     n_samples=np.full(4, 1000), sigma=0.25, alpha=0.001)
    >>> radii, accuracy = certified_accuracy_curve([0, 1, 0, 0], result)
    >>> radii.tolist(), accuracy.tolist()
    ([0.0, 0.2, 0.5], [0.5, 0.5, 0.25])
    >>> certified_accuracy_curve([0, 1, 0, 0], result, [0.3], pos_label=1)[1].tolist()
    [0.0]
    """
    if not isinstance(result, CertificationResult):
        raise TypeError(f"result must be a CertificationResult, got {type(result).__name__}.")
    if categorical_changes is not None:
        result = result.with_categorical_changes(categorical_changes)
    if y_true is None:
        if result.correct is None:
            raise ValueError(
                "The certified accuracy needs the true labels: certify with y, or pass y_true."
            )
        if len(result) == 0:
            raise ValueError("Certified metrics of zero rows are undefined.")
        correct, labels = np.asarray(result.correct, dtype=bool), result.y_true
    else:
        correct, labels = _certified_correct(y_true, result, 0.0)
    rows = np.ones(len(correct), dtype=bool)
    if pos_label is not None:
        if labels is None:
            raise ValueError(
                "pos_label needs the true labels, which this result does not hold: pass y_true."
            )
        rows = _positive_rows(labels, result, pos_label, None, "the curve is", 3)
    certified = np.sort(np.asarray(result.radius, dtype=float)[correct & rows])
    if radii is None:
        radii = np.unique(np.concatenate([[0.0], certified]))
    else:
        radii = _check_radii(radii)
    at_least = certified.size - np.searchsorted(certified, radii, side="left")
    return radii, at_least / max(np.count_nonzero(rows), 1)


def _check_radii(radii) -> np.ndarray:
    try:
        radii = np.array(radii, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"radii must be a sequence of numbers, got {radii!r}.") from error
    if radii.ndim != 1:
        raise ValueError(f"radii must be 1-D, got shape {radii.shape}.")
    if not np.all(np.isfinite(radii)) or np.any(radii < 0):
        raise ValueError(f"radii must be finite and >= 0, got {radii.tolist()}.")
    return radii


def _attack_or_default(attack, eps, norm, random_state) -> Attack:
    """``attack``, or with None the default :class:`AttackEnsemble` of budget ``eps``."""
    if attack is None:
        if eps is None:
            raise TypeError(
                "Pass an attack, or eps (and norm) for the default AttackEnsemble, the worst "
                "case per row over several attacks."
            )
        return AttackEnsemble(eps, norm="inf" if norm is None else norm, random_state=random_state)
    if not isinstance(attack, Attack):
        raise TypeError(
            f"attack must be an attack from sksmooth.attacks, got {type(attack).__name__}."
        )
    given = [name for name, value in (("eps", eps), ("norm", norm)) if value is not None]
    given += ["random_state"] if random_state is not None else []
    if given:
        one = len(given) == 1
        raise TypeError(
            f"{' and '.join(given)} {'is' if one else 'are'} for the default attack only; "
            f"set {'it' if one else 'them'} on the attack given, "
            f"{type(attack).__name__}(eps, norm=..., random_state=...)."
        )
    return attack


def robust_accuracy(
    estimator, X, y, attack: Attack | None = None, *, eps=None, norm=None, random_state=None
) -> float:
    """Accuracy on the adversarial rows ``attack`` generates from ``X``.

    With no attack it is the accuracy under an
    :class:`~sksmooth.attacks.AttackEnsemble` of budget ``eps``: per row the
    worst case over gradient attacks fitted to the model (margin PGD with
    restarts, BPDA or EOT where they apply) and a black-box search. One
    attack alone overstates robustness wherever it fails, as a gradient
    attack does against a gradient-masking defence.

    On a pipeline the attack runs in its last step's input space, and that
    step classifies the adversarial rows.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline
        The model to attack.
    X : array-like of shape (n_rows, n_features)
        Rows to perturb.
    y : array-like of shape (n_rows,)
        True labels.
    attack : Attack, default=None
        An attack from :mod:`sksmooth.attacks`; None takes
        ``AttackEnsemble(eps, norm=norm, random_state=random_state)``.
    eps : float, default=None
        Budget of the default attack; only when ``attack`` is None.
    norm : {"inf", "l2"}, default=None
        Norm of the default attack (None: ``"inf"``); only when ``attack``
        is None.
    random_state : int, RandomState instance or None, default=None
        Seeds the default attack; only when ``attack`` is None.

    Returns
    -------
    accuracy : float
        Fraction of adversarial rows still classified correctly: an upper
        bound of the accuracy under every attack of that budget.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sksmooth.attacks import RandomSearch
    >>> from sksmooth.metrics import robust_accuracy
    >>> X, y = make_classification(200, n_features=4, random_state=0)
    >>> model = LogisticRegression().fit(X, y)
    >>> 0 <= robust_accuracy(model, X[:20], y[:20], RandomSearch(0.5, random_state=0)) <= 1
    True
    >>> worst = robust_accuracy(model, X[:20], y[:20], eps=0.5, random_state=0)
    >>> 0 <= worst <= robust_accuracy(model, X[:20], y[:20], RandomSearch(0.5, random_state=0))
    True
    """
    attack = _attack_or_default(attack, eps, norm, random_state)
    # Classified where the attack ran: no step before the last need be invertible.
    X_adv = attack.generate(estimator, X, y, space="last_step")
    model = final_model(estimator)
    return float(np.mean(model.predict(model_input(model, X_adv)) == column_or_1d(y)))


# The norms a certificate can be given in (each noise certifies some of them).
_NORMS = ("l2", "l1", "linf")

_CERTIFIED_METRICS = {
    "accuracy": certified_accuracy,
    "recall": certified_recall,
    "balanced_accuracy": balanced_certified_accuracy,
    "acr": lambda y, result, radius: average_certified_radius(y, result),
}


class _CertifiedScorer:
    """``scorer(estimator, X, y)``: certify, then a certified metric (higher is better)."""

    def __init__(self, radius, metric, pos_label, categorical_changes, certify_params):
        self.radius = radius
        self.metric = metric
        self.pos_label = pos_label
        self.categorical_changes = categorical_changes
        self.certify_params = certify_params

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.certify_params.items())
        if self.categorical_changes:
            params = f", categorical_changes={self.categorical_changes!r}" + params
        return f"make_certified_scorer(radius={self.radius!r}, metric={self.metric!r}{params})"

    def __call__(self, estimator, X, y) -> float:
        result = certify(estimator, X, y, **self.certify_params)
        if self.categorical_changes > result.n_categorical:
            raise ValueError(
                f"The scorer asks for {self.categorical_changes} categorical change(s), but the "
                f"model has {result.n_categorical} categorical column(s)."
            )
        result = result.with_categorical_changes(self.categorical_changes)
        if result.per_column:
            # Unitless radii of different sigmas measure different regions: score
            # the plain ball each region contains, on one scale for every candidate.
            result = replace(result, radius=result.ball_radius)
        if self.metric == "recall":
            # A split without the positive class scores 0 (with a warning), as recall_score.
            classes = final_step(estimator).classes_
            return _certified_recall(y, result, self.radius, self.pos_label, list(classes))
        return _CERTIFIED_METRICS[self.metric](y, result, self.radius)


def make_certified_scorer(
    radius: float = 0.0,
    *,
    metric: str = "accuracy",
    pos_label=1,
    categorical_changes: int = 0,
    **certify_params,
):
    """Make a scorer that certifies and scores with a certified metric.

    The scorer works on a fitted :class:`~sksmooth.SmoothedClassifier` or a
    pipeline ending in one, and is deterministic given its ``random_state``.

    Parameters
    ----------
    radius : float, default=0.0
        Radius of the certified metric, a distance in the units of the
        smoothed classifier's input; ignored by ``"acr"``. For a per-column
        sigma a row counts when its region contains every change of the
        noised columns of norm at most ``radius``
        (:attr:`CertificationResult.ball_radius`), so that a search compares
        candidates of any sigma, scalar or per column, on one scale. A search
        over ``noise`` should fix ``norm`` (``"linf"`` is certified by every
        noise): each noise's own norm measures a different ball.
    metric : {"accuracy", "recall", "balanced_accuracy", "acr"}, default="accuracy"
        Certified accuracy, certified recall of ``pos_label``, balanced
        certified accuracy, or average certified radius.
    pos_label : object, default=1
        The class of ``"recall"``, one of the model's classes. A split with no
        row of that class scores 0 (with an ``UndefinedMetricWarning``).
    categorical_changes : int, default=0
        Categorical fields an attacker may change on top of the numeric
        change of ``radius``: a row counts when it is certified against both
        (:meth:`CertificationResult.with_categorical_changes`). Needs
        ``categorical_features`` on the model and Gaussian noise for ``k > 0``.
    **certify_params
        ``n0``, ``n``, ``alpha`` or ``n_jobs`` overrides for certification,
        e.g. a smaller ``n`` to keep a search fast, ``norm`` (``"l2"``,
        ``"l1"`` or ``"linf"``; None takes the noise's own) for the norm of
        the certified region, and ``threshold`` to certify the decision at a
        threshold of the positive class's smoothed score (two classes; see
        :meth:`SmoothedClassifier.certify`): certified recall at the
        operating point of a fraud team. A
        :class:`~sklearn.model_selection.FixedThresholdClassifier` or
        :class:`~sklearn.model_selection.TunedThresholdClassifierCV` is
        scored at its own threshold without it.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, higher is better.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sksmooth import SmoothedClassifier
    >>> from sksmooth.metrics import make_certified_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SmoothedClassifier(LogisticRegression(max_iter=500), random_state=0)
    >>> scores = cross_val_score(clf, X, y, cv=3,
    ...                          scoring=make_certified_scorer(0.25, n=500))
    >>> scores.shape
    (3,)
    """
    check_radius(radius)
    if isinstance(categorical_changes, bool) or not isinstance(
        categorical_changes, numbers.Integral
    ):
        raise TypeError(f"categorical_changes must be an integer, got {categorical_changes!r}.")
    if categorical_changes < 0:
        raise ValueError(f"categorical_changes must be >= 0, got {categorical_changes}.")
    if not isinstance(metric, str) or metric not in _CERTIFIED_METRICS:
        raise ValueError(f"metric must be one of {sorted(_CERTIFIED_METRICS)}, got {metric!r}.")
    unknown = set(certify_params) - {"n0", "n", "alpha", "n_jobs", "norm", "threshold"}
    if unknown:
        raise TypeError(
            f"Unknown certify parameters {sorted(unknown)}; use n0, n, alpha, n_jobs, norm "
            "or threshold."
        )
    if certify_params.get("threshold") is not None:
        check_threshold(certify_params["threshold"])
    norm = certify_params.get("norm")
    if norm is not None and norm not in _NORMS:
        raise ValueError(f"norm must be None or one of {list(_NORMS)}, got {norm!r}.")
    check_sample_counts(**{k: v for k, v in certify_params.items() if k in ("n0", "n")})
    if "alpha" in certify_params:
        check_alpha(certify_params["alpha"])
    check_n_jobs(certify_params.get("n_jobs"))
    return _CertifiedScorer(radius, metric, pos_label, int(categorical_changes), certify_params)


class _RobustScorer:
    """``scorer(estimator, X, y)``: accuracy under an attack."""

    def __init__(self, attack):
        self.attack = attack

    def __repr__(self) -> str:
        return f"make_robust_scorer({self.attack!r})"

    def __call__(self, estimator, X, y) -> float:
        return robust_accuracy(estimator, X, y, self.attack)


def make_robust_scorer(attack: Attack | None = None, *, eps=None, norm=None, random_state=None):
    """Make a scorer of accuracy under ``attack`` (higher is better).

    Parameters
    ----------
    attack : Attack, default=None
        An attack from :mod:`sksmooth.attacks`; give it a ``random_state``
        for reproducible scores. None takes
        ``AttackEnsemble(eps, norm=norm, random_state=random_state)``, the
        worst case per row over several attacks (as
        :func:`robust_accuracy`).
    eps : float, default=None
        Budget of the default attack; only when ``attack`` is None.
    norm : {"inf", "l2"}, default=None
        Norm of the default attack (None: ``"inf"``); only when ``attack``
        is None.
    random_state : int, RandomState instance or None, default=None
        Seeds the default attack; only when ``attack`` is None.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``.

    Examples
    --------
    >>> from sksmooth.attacks import RandomSearch
    >>> from sksmooth.metrics import make_robust_scorer
    >>> make_robust_scorer(RandomSearch(0.5, random_state=0))
    make_robust_scorer(RandomSearch(eps=0.5, ...))
    >>> make_robust_scorer(eps=0.5, norm="l2", random_state=0)
    make_robust_scorer(AttackEnsemble(eps=0.5, norm='l2', ...))
    """
    return _RobustScorer(_attack_or_default(attack, eps, norm, random_state))
