"""The per-row outcome of certification, its summary and its notebook view."""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

from ..utils._feature_map import FeatureMap, identity_feature_map
from ..utils._html import html_table
from ..utils._validation import check_radius

__all__ = ["CertificationResult"]

NORM_SYMBOLS = {"l1": "L1", "l2": "L2", "linf": "L-infinity"}
# The p of each norm, for the dual computations of per_feature_change.
NORM_ORDERS = {"l1": 1, "l2": 2, "linf": np.inf}


@dataclass(frozen=True, repr=False, eq=False)
class CertificationResult:
    """Per-row certificates returned by :meth:`SmoothedClassifier.certify`.

    Each certificate covers the region ``{delta : ||delta / sigma||_p <= R}``
    around its row, in the input space of the smoothed classifier (after a
    scaler in a pipeline: scaled units), over the columns that receive noise;
    columns whose sigma is 0 are held fixed. ``p`` is :attr:`norm`. With a
    scalar ``sigma``, ``radius`` is ``sigma * R``, a plain distance in the
    units of the data; with per-column ``sigma``, ``radius`` is ``R``, unitless.
    :meth:`per_feature_change` reads a certificate column by column in the
    units of the data the user passed. In a notebook a result shows as a table
    of its :meth:`summary` and its first rows.

    Parameters
    ----------
    label : ndarray of shape (n_rows,)
        The class selected by CERTIFY for each row. Where ``abstained`` is
        True this is only the best candidate and carries no guarantee.
    radius : ndarray of shape (n_rows,)
        Certified radius (see above); 0 where the row abstained.
    p_lower : ndarray of shape (n_rows,)
        One-sided ``1 - alpha`` lower confidence bound of the probability of
        ``label`` under noise.
    abstained : ndarray of bool of shape (n_rows,)
        True where ``p_lower <= 1/2`` (at a ``threshold``, at most the decided
        side's own): no certificate could be given.
    n_samples : ndarray of int of shape (n_rows,)
        Number of noisy samples used for the estimate of each row.
        :attr:`total_samples` adds the selection samples.
    sigma : float or ndarray of shape (n_features,)
        Standard deviation of the noise the certificates hold for: one for
        every column, or one per column (0 where a column is not noised).
    alpha : float
        Failure probability of each certificate.
    correct : ndarray of bool of shape (n_rows,) or None
        True where the row is certified (not abstained) with the true label;
        None when certification ran without ``y``. Derived from ``y_true``
        when only that is given.
    y_true : ndarray of shape (n_rows,) or None
        The true labels, when known. They let :meth:`summary` report figures
        per true class; ``correct`` must agree with them.
    norm : {"l2", "l1", "linf"}, default="l2"
        The norm of the certified region.
    noise : str, default="gaussian"
        Name of the noise the certificates come from.
    n_selection : ndarray of int of shape (n_rows,), default=None
        Noisy samples each row spent selecting its candidate (``n0``).
    feature_names : ndarray of str of shape (n_features,), default=None
        Columns of the smoothed classifier's input.
    feature_map : FeatureMap, default=None
        How the columns the user passed map to the smoothed classifier's
        input (set by :func:`sksmooth.certify` through a pipeline); None
        means they are the same columns.
    categorical_radius : ndarray of shape (n_rows, n_categorical + 1), default=None
        Column ``k``: the radius certified when, in addition, up to ``k``
        categorical fields change to any other category (see
        :meth:`radius_with_categorical_changes`); column 0 is ``radius``.
        None without categorical columns, or for a noise other than Gaussian.
    categorical_features : ndarray of int, default=None
        Indices of the categorical columns of the smoothed classifier's input.
    categorical_noise : ndarray of float, default=None
        Replacement probability of each categorical column.
    categorical_changes : int, default=0
        The categorical fields, changed on top of the numeric change, that
        ``radius`` allows for: 0 for what ``certify`` returns, ``k`` for the
        view :meth:`with_categorical_changes` gives.
    max_radius : float, default=None
        The largest radius the sample count allowed (in the units of
        ``radius``): the radius of a row all of whose ``n`` votes agree, at
        ``p_lower = alpha ** (1 / n)``. No row can exceed it, whatever the
        model, so a small value says the certificates are limited by ``n``.
        With categorical changes it bounds those radii too. None when not known.
    threshold : float, default=None
        The decision threshold the certificates are for: ``label`` is the
        positive class (the second class) where the smoothed score is at or
        above it, and ``radius`` keeps the score on that side of it (see
        :meth:`SmoothedClassifier.certify`). None: the top class.
    smoothing : {"hard", "soft"}, default="hard"
        Whether the smoothed score is a vote share or a mean probability.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification import CertificationResult
    >>> result = CertificationResult(
    ...     label=np.array([0, 1]), radius=np.array([0.4, 0.0]),
    ...     p_lower=np.array([0.9, 0.4]), abstained=np.array([False, True]),
    ...     n_samples=np.array([1000, 1000]), sigma=0.25, alpha=0.001,
    ...     correct=np.array([True, False]))
    >>> result.certified_accuracy(0.25)
    0.5
    >>> result  # doctest: +NORMALIZE_WHITESPACE
    CertificationResult(n_rows=2, noise='gaussian', sigma=0.25, alpha=0.001, norm='l2')
      region: ||delta||_2 <= radius, in the units of the smoothed classifier's input
      guarantee: each row wrong with probability <= 0.001; expected wrong <= 0.002 of
      2 rows; all at once with probability >= 0.998
      certified accuracy at radius 0: 0.500
      abstain rate: 0.500
      average certified radius: 0.200
    """

    label: np.ndarray
    radius: np.ndarray
    p_lower: np.ndarray
    abstained: np.ndarray
    n_samples: np.ndarray
    sigma: float | np.ndarray
    alpha: float
    correct: np.ndarray | None = None
    y_true: np.ndarray | None = None
    norm: str = "l2"
    noise: str = "gaussian"
    n_selection: np.ndarray | None = None
    feature_names: np.ndarray | None = None
    feature_map: FeatureMap | None = None
    categorical_radius: np.ndarray | None = None
    categorical_features: np.ndarray | None = None
    categorical_noise: np.ndarray | None = None
    categorical_changes: int = 0
    max_radius: float | None = None
    threshold: float | None = None
    smoothing: str = "hard"

    def __post_init__(self) -> None:
        if self.norm not in NORM_SYMBOLS:
            raise ValueError(f"norm must be one of {list(NORM_SYMBOLS)}, got {self.norm!r}.")
        if self.categorical_radius is not None:
            table = np.asarray(self.categorical_radius, dtype=float)
            if (
                table.ndim != 2
                or table.shape[0] != len(self)
                or table.shape[1] != (self.n_categorical + 1)
            ):
                raise ValueError(
                    f"categorical_radius must have shape ({len(self)}, {self.n_categorical + 1}); "
                    f"got {table.shape}."
                )
            object.__setattr__(self, "categorical_radius", table)
        sigma = np.asarray(self.sigma, dtype=float)
        object.__setattr__(self, "sigma", float(sigma) if sigma.ndim == 0 else sigma)
        if self.y_true is None:
            return
        y_true = np.asarray(self.y_true)
        if y_true.shape != (len(self),):
            raise ValueError(
                f"y_true must hold one label per row, shape ({len(self)},); got {y_true.shape}."
            )
        matches = np.asarray(self.label, dtype=object) == np.asarray(y_true, dtype=object)
        correct = ~np.asarray(self.abstained, dtype=bool) & np.asarray(matches, dtype=bool)
        if self.correct is None:
            object.__setattr__(self, "correct", correct)
        elif not np.array_equal(np.asarray(self.correct, dtype=bool), correct):
            raise ValueError(
                "correct disagrees with y_true: a row is correct exactly when it did not "
                "abstain and its label equals its true label."
            )
        object.__setattr__(self, "y_true", y_true)

    def __len__(self) -> int:
        return len(self.radius)

    @property
    def per_column(self) -> bool:
        """Whether sigma is given per column (radii are then unitless)."""
        return isinstance(self.sigma, np.ndarray)

    @property
    def n_categorical(self) -> int:
        """Number of categorical columns (smoothed by random replacement)."""
        return 0 if self.categorical_features is None else len(self.categorical_features)

    def radius_with_categorical_changes(self, k: int) -> np.ndarray:
        """The radius certified when, in addition, up to ``k`` categorical fields change.

        The region: any change of at most ``k`` categorical fields, each to
        any other of its categories, together with a numeric change in the
        region of :attr:`radius` (same norm and units) of this radius. It
        comes from the Neyman-Pearson lemma on the joint noise (Gaussian on
        the numeric columns, random replacement on the categorical ones); the
        derivation is in :mod:`sksmooth.certification._categorical` and the
        tabular guide. Non-increasing in ``k``.

        Parameters
        ----------
        k : int
            Number of categorical fields an attacker may change, from 0 (the
            certificate of :attr:`radius`) to the number of categorical columns.

        Returns
        -------
        radius : ndarray of shape (n_rows,)
            0 where the row is not certified with ``k`` fields changed.

        Examples
        --------
        >>> import numpy as np
        >>> from sksmooth.certification import CertificationResult
        >>> result = CertificationResult(
        ...     label=np.array([1]), radius=np.array([0.58]), p_lower=np.array([0.99]),
        ...     abstained=np.array([False]), n_samples=np.array([1000]), sigma=0.25,
        ...     alpha=0.001, categorical_radius=np.array([[0.58, 0.31]]),
        ...     categorical_features=np.array([2]), categorical_noise=np.array([0.5]))
        >>> result.radius_with_categorical_changes(1)
        array([0.31])
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an integer number of categorical fields, got {k!r}.")
        if k and not self.n_categorical:
            raise ValueError(
                f"k={k} categorical changes, but these certificates have no categorical column: "
                "give the SmoothedClassifier categorical_features to certify switched categories."
            )
        if not 0 <= k <= self.n_categorical:
            raise ValueError(
                f"k must be between 0 and the {self.n_categorical} categorical column(s), got {k}."
            )
        if k == self.categorical_changes:
            return np.array(self.radius, dtype=float)
        if self.categorical_changes:
            raise ValueError(
                f"This result is the view with {self.categorical_changes} categorical "
                "change(s); ask the full result for other counts."
            )
        if self.categorical_radius is None:
            raise ValueError(
                "Certificates with changed categorical fields are derived for Gaussian noise "
                f"on the numeric columns; these come from {self.noise} noise."
            )
        return self.categorical_radius[:, k].copy()

    def with_categorical_changes(self, k: int) -> CertificationResult:
        """Read this result at ``k`` changed categorical fields.

        Its ``radius`` is :meth:`radius_with_categorical_changes` (``k``), and
        a row not certified against ``k`` changes counts as abstained (and
        not correct), so every metric, scorer and display reads it as it
        reads a plain result: ``certified_accuracy(y, result.with_categorical_changes(1),
        0.25)`` is the certified accuracy against a numeric change of 0.25
        together with one categorical field changed.

        Parameters
        ----------
        k : int
            Number of categorical fields changed, from 0 (this result) to the
            number of categorical columns.

        Returns
        -------
        view : CertificationResult
            Its ``radius`` is the radius with ``k`` fields changed; this
            result itself for its own ``k``.

        Examples
        --------
        >>> import numpy as np
        >>> from sksmooth.certification import CertificationResult
        >>> result = CertificationResult(
        ...     label=np.array([1, 1]), radius=np.array([0.58, 0.2]),
        ...     p_lower=np.array([0.99, 0.8]), abstained=np.array([False, False]),
        ...     n_samples=np.full(2, 1000), sigma=0.25, alpha=0.001,
        ...     y_true=np.array([1, 1]), categorical_radius=np.array([[0.58, 0.31], [0.2, 0.0]]),
        ...     categorical_features=np.array([2]), categorical_noise=np.array([0.5]))
        >>> view = result.with_categorical_changes(1)
        >>> view.radius, view.abstained, view.certified_accuracy(0.0)
        (array([0.31, 0.  ]), array([False,  True]), 0.5)
        """
        radius = self.radius_with_categorical_changes(k)
        if k == self.categorical_changes:
            return self
        not_certified = np.asarray(self.abstained, dtype=bool) | (radius <= 0)
        correct = None if self.correct is None else np.asarray(self.correct, bool) & ~not_certified
        return replace(
            self,
            radius=radius,
            abstained=not_certified,
            correct=correct,
            categorical_radius=None,
            categorical_changes=k,
        )

    def _changes_range(self) -> range:
        """The ``k`` this result can report: 0 alone without a categorical table."""
        if self.categorical_radius is None:
            return range(self.categorical_changes, self.categorical_changes + 1)
        return range(self.n_categorical + 1)

    @property
    def scales(self) -> np.ndarray | None:
        """Per-column standard deviations of the noise; None for a scalar sigma of unknown width."""
        if self.per_column:
            return self.sigma
        if self.feature_names is None:
            return None
        scales = np.full(len(self.feature_names), float(self.sigma))
        if self.categorical_features is not None:
            scales[np.asarray(self.categorical_features, dtype=int)] = 0.0
        return scales

    @property
    def total_samples(self) -> np.ndarray:
        """Every noisy sample each row drew: selection plus estimation."""
        selection = 0 if self.n_selection is None else np.asarray(self.n_selection)
        return np.asarray(self.n_samples) + selection

    @property
    def ball_radius(self) -> np.ndarray:
        """Radius of the largest plain ball each certificate's region contains.

        In the units of the smoothed classifier's input, in :attr:`norm`,
        over the noised columns: every change ``delta`` of those columns with
        ``||delta||_p <= ball_radius`` is covered. For a scalar sigma this is
        :attr:`radius`; for per-column sigma it is ``radius * min(sigma)``
        over the noised columns, so results of different sigmas compare on
        one scale (model selection does).
        """
        if not self.per_column:
            return np.asarray(self.radius, dtype=float)
        return np.asarray(self.radius, dtype=float) * float(np.min(self.sigma[self.sigma > 0]))

    @property
    def radius_label(self) -> str:
        """What the radius measures, short enough for a plot axis."""
        symbol = NORM_SYMBOLS[self.norm]
        if self.per_column:
            return f"{symbol} radius R of ||delta / sigma|| (unitless)"
        return f"{symbol} radius"

    def region(self) -> str:
        """One line saying which region each certificate covers.

        With :attr:`categorical_changes` ``k > 0``, the region adds any
        change of up to ``k`` categorical fields.

        Returns
        -------
        region : str
            For example ``"||delta||_2 <= radius, in the units of the smoothed
            classifier's input"``, or for per-column sigma the noised columns
            by name and how many are held fixed.
        """
        return self._numeric_region(self._categorical_region())

    def _categorical_region(self) -> str:
        """What the certificates allow of the categorical columns."""
        m, k = self.n_categorical, self.categorical_changes
        if k:
            return f"together with up to {k} of the {m} categorical column(s) switched"
        if self.categorical_radius is None:
            return (
                f"the {m} categorical column(s) held fixed (certificates against switched "
                "categories need Gaussian noise)"
            )
        return (
            f"the {m} categorical column(s) held fixed (radius_with_categorical_changes(k) "
            "lets k switch)"
        )

    def _numeric_region(self, categorical: str) -> str:
        """The region's sentence, with ``categorical`` saying what the categories may do."""
        p = self.norm[1:]
        if not self.per_column:
            region = f"||delta||_{p} <= radius, in the units of the smoothed classifier's input"
            if self.n_categorical:
                region += f", over the numeric columns; {categorical}"
            return region
        noised = self.sigma > 0
        if self.feature_names is None:
            which = f"the {int(noised.sum())} noised columns"
        else:
            which = "the noised columns " + ", ".join(str(n) for n in self.feature_names[noised])
        n_held = int((~noised).sum()) - self.n_categorical
        held = (
            ""
            if not n_held
            else (f"; the other {n_held} column{'s' if n_held > 1 else ''} held fixed")
        )
        if self.n_categorical:
            held += f"; {categorical}"
        return f"||delta / sigma||_{p} <= radius over {which}{held}"

    def guarantee(self) -> str:
        """What the certificates promise, per row and for all rows together.

        Returns
        -------
        guarantee : str
            Each certificate is wrong with probability at most ``alpha``, so
            the expected number of wrong ones is at most ``alpha`` times the
            rows; all hold at once with probability at least
            ``1 - alpha * rows`` (certify with ``alpha / rows`` for a
            statement about all rows).
        """
        n = len(self)
        return (
            f"each row wrong with probability <= {self.alpha:g}; expected wrong "
            f"<= {self.alpha * n:.3g} of {n} rows; all at once with probability "
            f">= {max(0.0, 1 - self.alpha * n):.3g}"
        )

    def __repr__(self) -> str:
        head = f"{type(self).__name__}(n_rows={len(self)}, noise={self.noise!r}, "
        head += f"{self._sigma_text()}, alpha={self.alpha:g}, norm={self.norm!r})"
        lines = [head, f"region: {self.region()}", f"guarantee: {self.guarantee()}"]
        if self.threshold is not None:
            lines.append(
                f"decision: the second class where its {self.smoothing} smoothed score is "
                f">= {self.threshold:g}"
            )
        if self.max_radius is not None:
            lines.append(f"largest radius n allows: {self._max_radius_text()}")
        lines += [f"{name}: {value}" for name, value in self._headline()]
        return "\n  ".join(lines)

    def _max_radius_text(self) -> str:
        """:attr:`max_radius`, with its value in sigmas for a scalar sigma."""
        text = f"{self.max_radius:.3g}"
        if not self.per_column and self.sigma > 0:
            text += f" ({self.max_radius / self.sigma:.3g} sigma)"
        return text

    def _sigma_text(self) -> str:
        if self.per_column:
            return "sigma=[" + ", ".join(f"{v:g}" for v in self.sigma) + "]"
        return f"sigma={float(self.sigma):g}"

    def _headline(self) -> list[tuple[str, str]]:
        """The few figures worth a glance, as (name, formatted value) pairs."""
        if len(self) == 0:
            return []
        figures = []
        if self.correct is not None:
            figures.append(("certified accuracy at radius 0", self.certified_accuracy(0.0)))
        figures.append(("abstain rate", float(np.mean(self.abstained))))
        if self.correct is not None:
            unit = " (unitless R)" if self.per_column else ""
            figures.append((f"average certified radius{unit}", self._acr()))
            for k in self._changes_range():
                if k != self.categorical_changes:
                    figures.append(
                        (
                            f"certified accuracy at radius 0 with {k} categorical change(s)",
                            self.certified_accuracy(0.0, categorical_changes=k),
                        )
                    )
        return [(name, f"{value:.3f}") for name, value in figures]

    def _acr(self) -> float:
        """Mean radius with wrong and abstained rows counted as 0 (Zhai et al., 2020)."""
        return float(np.mean(np.where(self.correct, self.radius, 0.0)))

    def certified_accuracy(
        self, radius: float = 0.0, categorical_changes: int | None = None
    ) -> float:
        """Fraction of rows certified with the true label at ``radius`` or more.

        Parameters
        ----------
        radius : float, default=0.0
            Radius (in the units of :attr:`radius`), at least 0. A row counts
            when it is correct and its certified radius is at least
            ``radius`` (Cohen et al., 2019).
        categorical_changes : int, default=None
            Categorical fields changed on top of the numeric change: the
            accuracy of :meth:`with_categorical_changes` (``k``), where a row
            counts only if it is certified with that many fields changed.
            None: this result's own :attr:`categorical_changes` (0 for what
            ``certify`` returns).

        Returns
        -------
        accuracy : float
            Certified accuracy, between 0 and 1.
        """
        if self.correct is None:
            raise ValueError("certified_accuracy needs the true labels: call certify(X, y) with y.")
        check_radius(radius)
        if len(self) == 0:
            raise ValueError("certified_accuracy of an empty result is undefined.")
        if categorical_changes is None:
            categorical_changes = self.categorical_changes
        view = self.with_categorical_changes(categorical_changes)
        return float(np.mean(view.correct & (view.radius >= radius)))

    def summary(self, radii=None):
        """Certified accuracy at a few radii, ACR and abstain rate, overall and per class.

        Rows are grouped by true class when the result holds ``y_true``,
        otherwise by predicted label (then a class's certified accuracy is
        the share of rows predicted as that class which are certified
        correctly).

        Parameters
        ----------
        radii : array-like of float, default=None
            Radii (in the units of :attr:`radius`), each at least 0, at which certified accuracy is
            reported. None takes 3 to 5 round values from 0 to the largest
            certified radius.

        Returns
        -------
        summary : pandas.DataFrame
            One row ``"all"``, then one per class. Columns: ``n_rows``,
            ``abstain_rate``, and with labels ``acr`` (average certified
            radius: the mean over rows of the radius, 0 where the row is
            wrong or abstained; Zhai et al., 2020) and
            ``certified_accuracy@r`` for each radius ``r`` (written with
            ``format(r, "g")``). Without labels, ``mean_radius`` (0 where
            abstained) and ``certified@r``, the share of rows certified at
            ``r`` whatever their label. With categorical columns, the same
            figures with ``k`` fields changed follow for each ``k`` from 1,
            suffixed ``|k=<k>`` (``certified_accuracy@0.5|k=1``). Its
            ``attrs`` hold ``norm``, ``sigma`` and ``region``, as
            :meth:`to_frame`'s, ``guarantee``, and ``max_radius`` (the
            largest radius the sample count allows, None if unknown).

        Examples
        --------
        >>> import numpy as np
        >>> from sksmooth.certification import CertificationResult
        >>> result = CertificationResult(
        ...     label=np.array([0, 1, 1, 0]), radius=np.array([0.8, 0.3, 0.6, 0.0]),
        ...     p_lower=np.array([0.99, 0.8, 0.95, 0.4]),
        ...     abstained=np.array([False, False, False, True]),
        ...     n_samples=np.full(4, 1000), sigma=0.5, alpha=0.001,
        ...     y_true=np.array([0, 1, 0, 0]))
        >>> summary = result.summary(radii=[0, 0.5])
        >>> columns = ["n_rows", "acr", "certified_accuracy@0.5"]
        >>> summary[columns].round(3)  # doctest: +NORMALIZE_WHITESPACE
                    n_rows    acr  certified_accuracy@0.5
        true class
        all              4  0.275                   0.250
        0                3  0.267                   0.333
        1                1  0.300                   0.000
        """
        import pandas as pd

        if len(self) == 0:
            raise ValueError("The summary of an empty result is undefined.")
        radii = self._summary_radii(radii)
        if self.y_true is not None:
            groups, index_name = self.y_true, "true class"
        else:
            groups, index_name = np.asarray(self.label), "predicted label"
        classes = np.unique(groups)
        records = [self._subset(np.ones(len(self), dtype=bool))._figures(radii)]
        records += [self._subset(groups == c)._figures(radii) for c in classes]
        index = pd.Index(["all", *classes.tolist()], name=index_name, dtype=object)
        frame = pd.DataFrame(records, index=index)
        frame.attrs.update(
            norm=self.norm,
            sigma=self.sigma,
            region=self.region(),
            guarantee=self.guarantee(),
            max_radius=self.max_radius,
        )
        return frame

    def _summary_radii(self, radii) -> np.ndarray:
        if radii is None:
            return _round_radii(float(np.max(self.radius)))
        try:
            radii = np.atleast_1d(np.asarray(radii, dtype=float))
        except (TypeError, ValueError) as error:
            raise TypeError(f"radii must be numbers, got {radii!r}.") from error
        if radii.ndim != 1 or radii.size == 0:
            raise ValueError(
                f"radii must be a non-empty 1-D list of radii, got shape {radii.shape}."
            )
        if not np.all(np.isfinite(radii)) or np.any(radii < 0):
            raise ValueError(f"radii must be finite and >= 0, got {radii.tolist()}.")
        if len({format(r, "g") for r in radii}) < radii.size:
            raise ValueError(f"radii must be distinct, got {radii.tolist()}.")
        return radii

    def _subset(self, rows: np.ndarray) -> CertificationResult:
        def take(values):
            return None if values is None else np.asarray(values)[rows]

        return replace(
            self,
            categorical_radius=take(self.categorical_radius),
            label=take(self.label),
            radius=take(self.radius),
            p_lower=take(self.p_lower),
            abstained=take(self.abstained),
            n_samples=take(self.n_samples),
            n_selection=take(self.n_selection),
            correct=take(self.correct),
            y_true=take(self.y_true),
        )

    def _figures(self, radii: np.ndarray) -> dict:
        """One row of :meth:`summary`, for the rows of this result."""
        figures = {"n_rows": len(self), "abstain_rate": float(np.mean(self.abstained))}
        for k in self._changes_range():
            view = self.with_categorical_changes(k)
            suffix = "" if k == self.categorical_changes else f"|k={k}"
            if self.correct is not None:
                figures[f"acr{suffix}"] = view._acr()
                for r in radii:
                    figures[f"certified_accuracy@{r:g}{suffix}"] = view.certified_accuracy(float(r))
            else:
                certified = ~np.asarray(view.abstained, dtype=bool)
                figures[f"mean_radius{suffix}"] = float(
                    np.mean(np.where(certified, view.radius, 0.0))
                )
                for r in radii:
                    figures[f"certified@{r:g}{suffix}"] = float(
                        np.mean(certified & (view.radius >= r))
                    )
        return figures

    def to_frame(self):
        """Return the per-row arrays as a :class:`pandas.DataFrame`.

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``label``, ``radius``, ``p_lower``, ``abstained``,
            ``n_samples``, with categorical columns ``radius_k1``,
            ``radius_k2``, ... (:meth:`radius_with_categorical_changes`) and,
            when known, ``correct`` and ``y_true``. Its
            ``attrs`` hold ``norm``, ``sigma`` and ``region`` (the sentence of
            :meth:`region`), so the table says what its radii measure.
        """
        import pandas as pd

        columns = {
            "label": self.label,
            "radius": self.radius,
            "p_lower": self.p_lower,
            "abstained": self.abstained,
            "n_samples": self.n_samples,
        }
        for k in self._changes_range():
            if k != self.categorical_changes:
                columns[f"radius_k{k}"] = self.radius_with_categorical_changes(k)
        if self.correct is not None:
            columns["correct"] = self.correct
        if self.y_true is not None:
            columns["y_true"] = self.y_true
        frame = pd.DataFrame(columns)
        frame.attrs.update(norm=self.norm, sigma=self.sigma, region=self.region())
        return frame

    def per_feature_change(self):
        """The largest change of each input feature alone that each certificate covers.

        For a certified row, changing input feature ``j`` alone by ``t`` moves
        the smoothed classifier's input by ``J[:, j] * t`` (``J``: the Jacobian
        of the preprocessing before it, the identity without one), which the
        certificate covers while ``|t| * ||J[:, j] / sigma||_p <= R``. So the
        answer is ``R / ||J[:, j] / sigma||_p``, in that feature's own units:

        - 0 where the row abstained, and for a feature that reaches only
          columns without noise (the certificate does not cover it);
        - ``inf`` for a feature the model never sees (dropped by a
          ``ColumnTransformer``);
        - NaN, with a warning, for a feature that passes through a step that
          is not affine per feature (a one-hot encoder, a quantile transform):
          there a change is not a multiple of a fixed direction. A categorical
          column's switch is not read as a distance; leave such columns
          without noise, or see the tabular guide.

        Each entry holds for that feature changed alone; changing several
        features at once is covered while the whole change stays in the region.

        Returns
        -------
        change : pandas.DataFrame of shape (n_rows, n_input_features)
            One column per feature of the input passed to :meth:`certify`
            (or to :func:`sksmooth.certify` for a pipeline).

        Examples
        --------
        >>> import numpy as np
        >>> from sksmooth.certification import CertificationResult
        >>> result = CertificationResult(
        ...     label=np.array([1, 0]), radius=np.array([2.0, 0.0]),
        ...     p_lower=np.array([0.98, 0.4]), abstained=np.array([False, True]),
        ...     n_samples=np.full(2, 1000), sigma=np.array([0.5, 0.0, 2.0]),
        ...     alpha=0.001, feature_names=np.array(["amount", "age", "hour"]))
        >>> result.per_feature_change()
           amount  age  hour
        0     1.0  0.0   4.0
        1     0.0  0.0   0.0
        """
        import pandas as pd

        feature_map = self.feature_map
        if feature_map is None:
            if self.feature_names is None:
                raise ValueError(
                    "per_feature_change needs the columns of the certified data; this "
                    "result was made without feature_names."
                )
            feature_map = identity_feature_map(len(self.feature_names), self.feature_names)
        scales = self.scales
        jacobian = np.asarray(feature_map.jacobian, dtype=float)
        if scales is None or jacobian.shape[0] != len(scales):
            raise ValueError(
                f"The feature map has {jacobian.shape[0]} outputs but sigma covers "
                f"{'no' if scales is None else len(scales)} columns."
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            # A column without noise that the feature moves makes the cost infinite.
            weighted = np.where(jacobian == 0, 0.0, np.abs(jacobian) / scales[:, None])
            cost = np.linalg.norm(weighted, ord=NORM_ORDERS[self.norm], axis=0)
            unit_radius = self.radius if self.per_column else self.radius / float(self.sigma)
            change = unit_radius[:, None] / cost[None, :]
        change = np.where(np.asarray(self.abstained, dtype=bool)[:, None], 0.0, change)
        if feature_map.unsupported:
            reasons = "; ".join(f"{name}: {why}" for name, why in feature_map.unsupported.items())
            warnings.warn(
                "per_feature_change is NaN for features that reach a step which is not "
                f"affine per feature ({reasons}).",
                UserWarning,
                stacklevel=2,
            )
        return pd.DataFrame(change, columns=list(feature_map.input_names))

    def _repr_html_(self) -> str:
        title = (
            f"<strong>{type(self).__name__}</strong>: {len(self)} rows, "
            f"{html.escape(self.noise)} noise, {html.escape(self._sigma_text())}, "
            f"alpha={self.alpha:g}; certified region: "
            f"{html.escape(self.region())}"
        )
        if self.max_radius is not None:
            title += f"; largest radius n allows: {html.escape(self._max_radius_text())}"
        parts = [f"<div><p>{title}</p>"]
        if len(self):
            parts.append(html_table(self.summary(), caption="Summary"))
            parts.append(html_table(self.to_frame(), caption="Certificates per row"))
        return "".join(parts) + "</div>"


def _round_radii(largest: float) -> np.ndarray:
    """0 and round multiples of a step of 1, 2, 2.5 or 5 times a power of ten, up to ``largest``.

    The step is the smallest such number of at least ``largest / 4``, so
    there are 3 to 5 radii.
    """
    if not largest > 0:
        return np.array([0.0])
    target = largest / 4
    power = 10.0 ** math.floor(math.log10(target))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= target * (1 - 1e-12))
    count = math.floor(largest / step * (1 + 1e-12))
    return np.round(step * np.arange(count + 1), 12)
