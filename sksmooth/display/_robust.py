"""Accuracy against attack budget, for attacks and certificates side by side."""

from __future__ import annotations

import copy
import numbers
from dataclasses import replace

import numpy as np
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..attacks import Attack
from ..attacks._base import final_model
from ..attacks._constraints import parse_norm
from ..certification import CertificationResult
from ..masking import GradientMaskedClassifier
from ..metrics import _attack_or_default, certified_accuracy_curve, robust_accuracy
from ..smoothing import certify
from ..utils._validation import check_flag
from ._common import (
    ACCURACY_LIMITS,
    attack_curves,
    check_accuracies,
    check_grid,
    claim_axes,
    curve_names,
    curve_style,
    draw,
    label_axes,
    new_or_given_axes,
    sigma_name,
)

__all__ = ["RobustAccuracyDisplay"]

CERTIFIED_SUFFIX = " (certified, lower bound)"


class RobustAccuracyDisplay:
    """Accuracy against attack budget ``eps``, for several models and attacks.

    Each curve is one model under one attack (:meth:`from_estimator`), a
    smoothed classifier's certified accuracy (:meth:`from_certified`: at
    radius ``eps`` it is a lower bound of the accuracy under any attack of
    budget ``eps`` in the certificates' norm, drawn dashed), or figures
    computed elsewhere (:meth:`from_accuracies`). Passing ``ax=`` of an
    earlier plot adds a curve and a legend entry; one axes holds one norm, and
    a curve of another norm is refused. A :class:`CertifiedAccuracyDisplay`
    of the same norm may share the axes (its radius is the same distance);
    the labels then name both.

    Parameters
    ----------
    eps : array-like of shape (n_budgets,)
        Strictly increasing attack budgets, at least 0 (0: clean accuracy).
    accuracy : array-like of shape (n_budgets,)
        Accuracy at each budget.
    name : str, default=None
        Legend label; None adds no legend entry.
    norm : {"inf", "l2", "l1"}, default=None
        Norm of the budget, shown in the x label (``"linf"`` and ``np.inf``
        also mean ``"inf"``).
    certified : bool, default=False
        True when ``accuracy`` holds certified accuracies: the legend then
        says they are lower bounds, and the curve is dashed.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The curve.
    ax_ : matplotlib Axes
        Axes holding the curve.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    CertifiedAccuracyDisplay : Certified accuracy against radius.
    sksmooth.metrics.robust_accuracy : Accuracy under one attack.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sksmooth import RobustAccuracyDisplay
    >>> display = RobustAccuracyDisplay(
    ...     eps=[0, 0.1, 0.2], accuracy=[0.9, 0.6, 0.3], name="MLP, PGD", norm="inf")
    >>> display = display.plot()
    >>> display.ax_.get_xlabel()
    'attack budget eps (L-inf)'
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, eps, accuracy, name=None, norm=None, certified=False):
        self.eps = eps
        self.accuracy = accuracy
        self.name = name
        self.norm = norm
        self.certified = certified

    def plot(self, ax=None, *, name=None, **kwargs) -> RobustAccuracyDisplay:
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure. An axes from an earlier
            plot gets one more curve and legend entry, if its budgets (or
            certified radii) have the same norm (else a ValueError naming
            both). Axis labels a user set since are kept.
        name : str, default=None
            Legend label; None takes ``self.name``.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` (``color``,
            ``linestyle``...).

        Returns
        -------
        display : RobustAccuracyDisplay
            This display, with ``ax_``, ``figure_`` and ``line_`` set.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sksmooth import RobustAccuracyDisplay
        >>> display = RobustAccuracyDisplay(eps=[0, 0.5], accuracy=[0.8, 0.5], name="sigma=0.5",
        ...                                 norm="l2", certified=True).plot(color="black")
        >>> display.line_.get_label()
        'sigma=0.5 (certified, lower bound)'
        >>> plt.close(display.figure_)
        """
        eps = check_grid(self.eps, "eps")
        accuracy = check_accuracies(self.accuracy, eps.size, "accuracy", one_curve=True)
        (label,) = curve_names(self.name if name is None else name, 1)
        norm = _parse_norm(self.norm)
        style = {"marker": "o"}
        check_flag(self.certified, "certified")
        if self.certified:
            style["linestyle"] = "--"
            label = (label or "certified") + CERTIFIED_SUFFIX
        ax = new_or_given_axes(ax)
        claim_axes(ax, attack_curves(norm))
        (line,) = draw(ax, eps, [accuracy], [label], {**style, **kwargs})
        label_axes(ax)
        ax.set_ylim(ACCURACY_LIMITS)
        self.ax_, self.figure_, self.line_ = ax, ax.figure, line
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        attack: Attack | None = None,
        eps,
        norm=None,
        random_state=None,
        name=None,
        ax=None,
        curve_kwargs: dict | None = None,
    ) -> RobustAccuracyDisplay:
        """Attack ``X`` at each budget and plot the accuracy left.

        With no ``attack`` the accuracy at each budget is the worst case per
        row over an :class:`~sksmooth.attacks.AttackEnsemble`, as
        :func:`sksmooth.metrics.robust_accuracy` reports by default.

        Parameters
        ----------
        estimator : fitted classifier or Pipeline
            The model to attack (on a pipeline, in its last step's input
            space, as :func:`sksmooth.metrics.robust_accuracy` does).
        X : array-like of shape (n_rows, n_features)
            Rows to attack.
        y : array-like of shape (n_rows,)
            True labels.
        attack : Attack, default=None
            An attack from :mod:`sksmooth.attacks`. It is copied for each
            budget with its ``eps`` replaced, and never changed. A
            ``step_size`` set on it is kept at every budget; leave it None to
            scale steps with ``eps``. None takes
            ``AttackEnsemble(eps, norm=norm, random_state=random_state)`` at
            each budget.
        eps : array-like of float
            Strictly increasing budgets, at least 0 (0: clean accuracy).
        norm : {"inf", "l2"}, default=None
            Norm of the default attack (None: ``"inf"``); only when
            ``attack`` is None.
        random_state : int, RandomState instance or None, default=None
            Seeds the default attack; only when ``attack`` is None.
        name : str, default=None
            Legend label; None takes ``"<model>, <attack>"``, the model
            named with its defence for a
            :class:`~sksmooth.GradientMaskedClassifier`
            (``"quantize (GradientMaskedClassifier), PGD"``).
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        curve_kwargs : dict, default=None
            Passed to :meth:`plot` (line style).

        Returns
        -------
        display : RobustAccuracyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import make_classification
        >>> from sklearn.ensemble import HistGradientBoostingClassifier
        >>> from sksmooth import RobustAccuracyDisplay
        >>> from sksmooth.attacks import RandomSearch
        >>> X, y = make_classification(200, n_features=4, random_state=0)
        >>> model = HistGradientBoostingClassifier(random_state=0).fit(X, y)
        >>> display = RobustAccuracyDisplay.from_estimator(
        ...     model, X[:20], y[:20], attack=RandomSearch(0.1, n_queries=20, random_state=0),
        ...     eps=[0, 0.5, 1.0])
        >>> display.line_.get_label()
        'HistGradientBoostingClassifier, RandomSearch'
        >>> plt.close(display.figure_)
        """
        eps = check_grid(eps, "eps")
        if attack is None:
            attack = _attack_or_default(None, float(eps[-1]), norm, random_state)
        else:
            attack = _attack_or_default(attack, None, norm, random_state)
        check_is_fitted(estimator)
        accuracy = [robust_accuracy(estimator, X, y, _with_budget(attack, e)) for e in eps]
        if name is None:
            name = f"{model_name(final_model(estimator))}, {type(attack).__name__}"
        display = cls(eps=eps, accuracy=np.array(accuracy), name=name, norm=attack.norm)
        return display.plot(ax=ax, **curve_style(curve_kwargs))

    @classmethod
    def from_certified(
        cls,
        estimator_or_result,
        X=None,
        y=None,
        *,
        eps,
        name=None,
        ax=None,
        curve_kwargs: dict | None = None,
        **certify_params,
    ) -> RobustAccuracyDisplay:
        """Plot a smoothed classifier's certified accuracy at each budget.

        Certified accuracy at radius ``eps`` is a lower bound of the
        accuracy under any attack of budget ``eps`` in the certificates' norm
        (with probability ``1 - alpha`` per row); the legend says so. The
        certificates must be of one sigma for every column: with per-column
        sigma the radius is unitless, no attack budget (draw those with
        :class:`CertifiedAccuracyDisplay`).

        Parameters
        ----------
        estimator_or_result : SmoothedClassifier, Pipeline or CertificationResult
            A fitted smoothed classifier (or a pipeline ending in one) to
            certify ``X`` with, or certificates computed with true labels.
        X : array-like of shape (n_rows, n_features), default=None
            Rows to certify; only with an estimator.
        y : array-like of shape (n_rows,), default=None
            True labels; required with an estimator, optional with a result
            that holds them.
        eps : array-like of float
            Strictly increasing radii, at least 0.
        name : str, default=None
            Legend label; None takes the noise and its sigma
            (``"sigma=0.25"``).
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        curve_kwargs : dict, default=None
            Passed to :meth:`plot` (line style).
        **certify_params : dict
            ``norm``, ``n0``, ``n``, ``alpha`` or ``n_jobs`` for
            :func:`sksmooth.certify`; only with an estimator.

        Returns
        -------
        display : RobustAccuracyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from sksmooth import RobustAccuracyDisplay
        >>> from sksmooth.certification import CertificationResult
        >>> result = CertificationResult(
        ...     label=np.array([0, 1]), radius=np.array([0.6, 0.2]),
        ...     p_lower=np.array([0.9, 0.8]), abstained=np.array([False, False]),
        ...     n_samples=np.full(2, 1000), sigma=0.25, alpha=0.001,
        ...     correct=np.array([True, True]))
        >>> display = RobustAccuracyDisplay.from_certified(result, eps=[0, 0.25, 0.5])
        >>> display.accuracy
        array([1. , 0.5, 0.5])
        >>> plt.close(display.figure_)
        """
        eps = check_grid(eps, "eps")
        if isinstance(estimator_or_result, CertificationResult):
            if X is not None or certify_params:
                raise TypeError(
                    "X and certify parameters are only for an estimator; a "
                    "CertificationResult already holds its certificates."
                )
            result = estimator_or_result
            if y is not None:
                result = replace(result, y_true=column_or_1d(y))
        else:
            if X is None or y is None:
                raise ValueError("Certifying an estimator needs both X and y.")
            result = certify(estimator_or_result, X, y, **certify_params)
        if result.correct is None:
            raise ValueError("The certified accuracy needs the true labels: certify with y.")
        if len(result) == 0:
            raise ValueError("The certified accuracy of an empty result is undefined.")
        if result.per_column:
            raise ValueError(
                f"These certificates have per-column sigma: their radius is the "
                f"'{result.radius_label}', not an attack budget in the input's units. "
                "Plot them with CertifiedAccuracyDisplay.from_result."
            )
        _, accuracy = certified_accuracy_curve(None, result, eps)
        name = sigma_name(result) if name is None else name
        display = cls(eps=eps, accuracy=accuracy, name=name, norm=result.norm, certified=True)
        return display.plot(ax=ax, **curve_style(curve_kwargs))

    @classmethod
    def from_accuracies(
        cls,
        eps,
        accuracies,
        *,
        name=None,
        norm=None,
        certified: bool = False,
        ax=None,
        curve_kwargs: dict | None = None,
    ) -> RobustAccuracyDisplay:
        """Plot accuracies computed elsewhere against their budgets.

        Parameters
        ----------
        eps : array-like of shape (n_budgets,)
            Strictly increasing budgets, at least 0.
        accuracies : array-like of shape (n_budgets,)
            Accuracy at each budget, in [0, 1].
        name : str, default=None
            Legend label; None adds no legend entry.
        norm : {"inf", "l2", "l1"}, default=None
            Norm of the budget, shown in the x label.
        certified : bool, default=False
            True for certified accuracies (lower bounds, drawn dashed).
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        curve_kwargs : dict, default=None
            Passed to :meth:`plot` (line style).

        Returns
        -------
        display : RobustAccuracyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sksmooth import RobustAccuracyDisplay
        >>> display = RobustAccuracyDisplay.from_accuracies(
        ...     [0, 0.1, 0.3], [0.95, 0.7, 0.2], name="published", norm="inf")
        >>> display.line_.get_ydata().tolist()
        [0.95, 0.7, 0.2]
        >>> plt.close(display.figure_)
        """
        eps = check_grid(eps, "eps")
        accuracies = check_accuracies(accuracies, eps.size, "accuracies", one_curve=True)
        display = cls(eps=eps, accuracy=accuracies, name=name, norm=norm, certified=certified)
        return display.plot(ax=ax, **curve_style(curve_kwargs))


def model_name(model) -> str:
    """The model's class, and the defence of a GradientMaskedClassifier, whose curves
    would otherwise all read alike in a legend."""
    if isinstance(model, GradientMaskedClassifier):
        return f"{model.method} ({type(model).__name__})"
    return type(model).__name__


def _with_budget(attack: Attack, eps: float) -> Attack:
    """A copy of ``attack`` with budget ``eps``; the caller's attack is left as it is."""
    budget = copy.deepcopy(attack)
    budget.eps = float(eps)
    return budget


def _parse_norm(norm) -> str | None:
    """``"inf"``, ``"l2"`` or ``"l1"`` (or None), from an attack's or a certificate's norm."""
    if norm is None:
        return None
    if isinstance(norm, str) and norm.lower() == "l1":
        return "l1"
    if isinstance(norm, numbers.Real) and norm == 1:
        return "l1"
    try:
        return parse_norm(norm)
    except ValueError:
        raise ValueError(
            f"norm must be 'inf' (also np.inf, 'linf'), 'l2' (also 2) or 'l1' (also 1); "
            f"got {norm!r}."
        ) from None
