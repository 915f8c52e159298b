"""Certified accuracy against radius, as in Cohen et al. (2019)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.utils.validation import column_or_1d

from ..certification import CertificationResult
from ..metrics import certified_accuracy_curve
from ..smoothing import certify
from ..utils._validation import check_flag
from ._common import (
    ACCURACY_LIMITS,
    certified_curves,
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

__all__ = ["CertifiedAccuracyDisplay"]


class CertifiedAccuracyDisplay:
    """Certified accuracy against radius (Cohen et al., 2019).

    The certified accuracy at radius ``r`` is the fraction of rows certified
    with their true label at radius ``r`` or more: a step curve falling from
    the accuracy of the certified predictions at ``r = 0``. Build it with
    :meth:`from_estimator` or :meth:`from_result`; passing ``ax=`` of an
    earlier plot adds a curve (e.g. one per ``sigma``) and a legend entry.
    One axes holds radii of one kind: a curve of another norm, or of
    per-column sigma (unitless radii) next to a distance, is refused. Curves
    of :class:`RobustAccuracyDisplay` in the certificates' norm may share the
    axes: a certified radius ``r`` and an attack budget ``eps = r`` are one
    distance, and the labels then name both.

    Parameters
    ----------
    radii : array-like of shape (n_radii,)
        Strictly increasing radii, at least 0.
    certified_accuracy : array-like of shape (n_radii,) or (n_curves, n_radii)
        Certified accuracy at each radius; one row per curve.
    name : str or list of str, default=None
        Legend label, one per curve; None adds no legend entry.
    radius_label : str, default="L2 radius"
        What the radii measure, the x label
        (:attr:`CertificationResult.radius_label` in :meth:`from_result`).
        Curves of different labels do not share an axes.

    Attributes
    ----------
    line_ : matplotlib Line2D or list of Line2D
        The curve, or the list of curves when there are several.
    lines_ : list of matplotlib Line2D
        Every curve drawn by the last :meth:`plot`.
    ax_ : matplotlib Axes
        Axes holding the curves.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    RobustAccuracyDisplay : Accuracy under attack against budget.
    sksmooth.metrics.certified_accuracy_curve : The curve this display draws.
    sksmooth.metrics.certified_accuracy : Certified accuracy at one radius.

    References
    ----------
    .. [1] J. Cohen, E. Rosenfeld and J. Z. Kolter, "Certified Adversarial
       Robustness via Randomized Smoothing", ICML 2019.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sksmooth import CertifiedAccuracyDisplay
    >>> display = CertifiedAccuracyDisplay(
    ...     radii=[0.0, 0.2, 0.5], certified_accuracy=[0.8, 0.6, 0.1], name="sigma=0.25")
    >>> display = display.plot()
    >>> display.ax_.get_xlabel()
    'L2 radius'
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, radii, certified_accuracy, name=None, radius_label="L2 radius"):
        self.radii = radii
        self.certified_accuracy = certified_accuracy
        self.name = name
        self.radius_label = radius_label

    def plot(self, ax=None, *, name=None, **kwargs) -> CertifiedAccuracyDisplay:
        """Draw the curves, as steps: each value holds up to its radius.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure. An axes from an earlier
            plot gets one more curve and legend entry, if its radii have the
            same ``radius_label``, or are attack budgets of the same norm
            (else a ValueError naming both). Axis labels a user set since
            are kept.
        name : str or list of str, default=None
            Legend labels, one per curve; None takes ``self.name``.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` for every curve
            (``color``, ``linestyle``...).

        Returns
        -------
        display : CertifiedAccuracyDisplay
            This display, with ``ax_``, ``figure_``, ``line_`` and ``lines_`` set.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sksmooth import CertifiedAccuracyDisplay
        >>> display = CertifiedAccuracyDisplay(
        ...     radii=[0.0, 0.5], certified_accuracy=[[0.9, 0.4], [0.7, 0.2]],
        ...     name=["class 0", "class 1"]).plot(color="black")
        >>> len(display.lines_)
        2
        >>> plt.close(display.figure_)
        """
        radii = check_grid(self.radii, "radii")
        curves = check_accuracies(self.certified_accuracy, radii.size, "certified_accuracy")
        names = curve_names(self.name if name is None else name, len(curves))
        ax = new_or_given_axes(ax)
        claim_axes(
            ax, certified_curves(str(self.radius_label), getattr(self, "_sigma_scales", None))
        )
        # The curve is left-continuous: a row certified at r still counts at r.
        lines = draw(ax, radii, curves, names, {"drawstyle": "steps-pre", **kwargs})
        label_axes(ax)
        ax.set_ylim(ACCURACY_LIMITS)
        ax.autoscale(axis="x")  # take in every curve on the axes, then start at 0
        ax.set_xlim(left=0)
        self.ax_, self.figure_, self.lines_ = ax, ax.figure, lines
        self.line_ = lines[0] if len(lines) == 1 else lines
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        radii=None,
        per_class: bool = False,
        categorical_changes: int | None = None,
        name=None,
        ax=None,
        curve_kwargs: dict | None = None,
        **certify_params,
    ) -> CertifiedAccuracyDisplay:
        """Certify ``X`` and plot the certified accuracy curve.

        Parameters
        ----------
        estimator : SmoothedClassifier or Pipeline
            Fitted; a pipeline's last step must be a
            :class:`~sksmooth.SmoothedClassifier`. Radii are those of its
            certificates: in the input space of that step, unitless with
            per-column sigma (see :class:`~sksmooth.CertificationResult`).
        X : array-like of shape (n_rows, n_features)
            Rows to certify.
        y : array-like of shape (n_rows,)
            True labels.
        radii : array-like of float, default=None
            Strictly increasing radii at which to evaluate the curve; None
            takes 0, every certified radius and the next float after the
            largest (where the curve drops to 0): the exact curve.
        per_class : bool, default=False
            Draw one curve per true class (each class's certified recall).
        categorical_changes : int, default=None
            Categorical fields changed on top of the numeric change: the
            curve of :meth:`CertificationResult.with_categorical_changes`;
            None reads the result as it is. Curves of several ``k`` share
            the axes (the radius keeps its units).
        name : str, default=None
            Legend label; None takes the noise and its sigma
            (``"sigma=0.25"``; ``"sigma per column (...)"`` for per-column
            sigma). Per class, the class is appended.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        curve_kwargs : dict, default=None
            Passed to :meth:`plot` (line style).
        **certify_params : dict
            ``norm``, ``n0``, ``n``, ``alpha`` or ``n_jobs`` for
            :func:`sksmooth.certify`.

        Returns
        -------
        display : CertifiedAccuracyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sksmooth import CertifiedAccuracyDisplay, SmoothedClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SmoothedClassifier(LogisticRegression(max_iter=500), sigma=0.5,
        ...                          random_state=0).fit(X, y)
        >>> display = CertifiedAccuracyDisplay.from_estimator(clf, X[::5], y[::5], n=500)
        >>> display.line_.get_label()
        'sigma=0.5'
        >>> plt.close(display.figure_)
        """
        if y is None:
            raise ValueError("CertifiedAccuracyDisplay needs the true labels y.")
        result = certify(estimator, X, y, **certify_params)
        return cls.from_result(
            result,
            y_true=column_or_1d(y),
            radii=radii,
            per_class=per_class,
            categorical_changes=categorical_changes,
            name=name,
            ax=ax,
            curve_kwargs=curve_kwargs,
        )

    @classmethod
    def from_result(
        cls,
        result: CertificationResult,
        *,
        y_true=None,
        radii=None,
        per_class: bool = False,
        categorical_changes: int | None = None,
        name=None,
        ax=None,
        curve_kwargs: dict | None = None,
    ) -> CertifiedAccuracyDisplay:
        """Plot the certified accuracy curve of certificates already computed.

        Parameters
        ----------
        result : CertificationResult
            Certificates computed with the true labels (``certify(X, y)``).
        y_true : array-like of shape (n_rows,), default=None
            The true labels, when ``result`` does not hold them (needed for
            ``per_class``); they must agree with ``result.correct``.
        radii : array-like of float, default=None
            Strictly increasing radii at which to evaluate the curve; None
            takes 0, every certified radius and the next float after the
            largest (where the curve drops to 0): the exact curve.
        per_class : bool, default=False
            Draw one curve per true class (each class's certified recall).
        categorical_changes : int, default=None
            Categorical fields changed on top of the numeric change: the
            curve of :meth:`CertificationResult.with_categorical_changes`;
            None reads the result as it is. Curves of several ``k`` share
            the axes (the radius keeps its units).
        name : str, default=None
            Legend label; None takes the noise and its sigma
            (``"sigma=0.25"``; ``"sigma per column (...)"`` for per-column
            sigma). Per class, the class is appended.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        curve_kwargs : dict, default=None
            Passed to :meth:`plot` (line style).

        Returns
        -------
        display : CertifiedAccuracyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from sksmooth import CertifiedAccuracyDisplay
        >>> from sksmooth.certification import CertificationResult
        >>> result = CertificationResult(
        ...     label=np.array([0, 1, 1]), radius=np.array([0.5, 0.2, 0.0]),
        ...     p_lower=np.array([0.9, 0.8, 0.4]), abstained=np.array([False, False, True]),
        ...     n_samples=np.full(3, 1000), sigma=0.25, alpha=0.001,
        ...     y_true=np.array([0, 1, 1]))
        >>> display = CertifiedAccuracyDisplay.from_result(result, per_class=True)
        >>> [line.get_label() for line in display.lines_]
        ['sigma=0.25, class 0', 'sigma=0.25, class 1']
        >>> display.certified_accuracy.round(2)
        array([[1. , 1. , 1. , 0. ],
               [0.5, 0.5, 0. , 0. ]])
        >>> plt.close(display.figure_)
        """
        if not isinstance(result, CertificationResult):
            raise TypeError(f"result must be a CertificationResult, got {type(result).__name__}.")
        if y_true is not None:
            result = replace(result, y_true=column_or_1d(y_true))
        if result.correct is None:
            raise ValueError(
                "The certified accuracy needs the true labels: certify with y, or pass y_true."
            )
        if len(result) == 0:
            raise ValueError("The certified accuracy of an empty result is undefined.")
        if categorical_changes is not None:
            result = result.with_categorical_changes(categorical_changes)
        if radii is None:
            radii, _ = certified_accuracy_curve(None, result)
            # The next float after the largest radius, where every curve is 0: the
            # curve ends with its drop, as in Cohen et al.'s figures.
            radii = np.append(radii, np.nextafter(radii[-1], np.inf))
        radii = check_grid(radii, "radii")
        if name is None:
            name = sigma_name(result)
            if result.categorical_changes:
                name += f", {result.categorical_changes} categorical change(s)"
        check_flag(per_class, "per_class")
        if per_class:
            if result.y_true is None:
                raise ValueError("per_class=True needs the true labels: pass y_true.")
            classes = np.unique(result.y_true)
            curves = np.array(
                [certified_accuracy_curve(None, result, radii, pos_label=c)[1] for c in classes]
            )
            names = [f"{name}, class {c}" for c in classes.tolist()]
        else:
            curves, names = certified_accuracy_curve(None, result, radii)[1], name
        display = cls(
            radii=radii, certified_accuracy=curves, name=names, radius_label=result.radius_label
        )
        if result.per_column:
            display._sigma_scales = tuple(float(s) for s in result.sigma)
        return display.plot(ax=ax, **curve_style(curve_kwargs))
