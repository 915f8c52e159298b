"""The per-row outcome of certification, its summary and its notebook view."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["CertificationResult"]

# Rows of a table a notebook shows; the others are counted in a note.
MAX_HTML_ROWS = 10


@dataclass(frozen=True, repr=False, eq=False)
class CertificationResult:
    """Per-row certificates returned by :meth:`SmoothedClassifier.certify`.

    The radius is an L2 distance in the input space of the smoothed
    classifier: after a scaler in a pipeline, it is measured in scaled units.
    In a notebook a result shows as a table of its :meth:`summary` and its
    first rows.

    Parameters
    ----------
    label : ndarray of shape (n_rows,)
        The class selected by CERTIFY for each row. Where ``abstained`` is
        True this is only the best candidate and carries no guarantee.
    radius : ndarray of shape (n_rows,)
        Certified L2 radius; 0 where the row abstained.
    p_lower : ndarray of shape (n_rows,)
        One-sided ``1 - alpha`` lower confidence bound of the probability of
        ``label`` under noise.
    abstained : ndarray of bool of shape (n_rows,)
        True where ``p_lower <= 1/2``: no certificate could be given.
    n_samples : ndarray of int of shape (n_rows,)
        Number of noisy samples used for the estimate of each row.
    sigma : float
        Noise level the certificates hold for.
    alpha : float
        Failure probability of each certificate.
    correct : ndarray of bool of shape (n_rows,) or None
        True where the row is certified (not abstained) with the true label;
        None when certification ran without ``y``. Derived from ``y_true``
        when only that is given.
    y_true : ndarray of shape (n_rows,) or None
        The true labels, when known. They let :meth:`summary` report figures
        per true class; ``correct`` must agree with them.

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
    >>> result
    CertificationResult(n_rows=2, sigma=0.25, alpha=0.001)
      certified accuracy at radius 0: 0.500
      abstain rate: 0.500
      average certified radius: 0.200
    """

    label: np.ndarray
    radius: np.ndarray
    p_lower: np.ndarray
    abstained: np.ndarray
    n_samples: np.ndarray
    sigma: float
    alpha: float
    correct: np.ndarray | None = None
    y_true: np.ndarray | None = None

    def __post_init__(self) -> None:
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

    def __repr__(self) -> str:
        head = (
            f"{type(self).__name__}(n_rows={len(self)}, sigma={self.sigma:g}, alpha={self.alpha:g})"
        )
        return "\n  ".join([head, *(f"{name}: {value}" for name, value in self._headline())])

    def _headline(self) -> list[tuple[str, str]]:
        """The few figures worth a glance, as (name, formatted value) pairs."""
        if len(self) == 0:
            return []
        figures = []
        if self.correct is not None:
            figures.append(("certified accuracy at radius 0", self.certified_accuracy(0.0)))
        figures.append(("abstain rate", float(np.mean(self.abstained))))
        if self.correct is not None:
            figures.append(("average certified radius", self._acr()))
        return [(name, f"{value:.3f}") for name, value in figures]

    def _acr(self) -> float:
        """Mean radius with wrong and abstained rows counted as 0 (Zhai et al., 2020)."""
        return float(np.mean(np.where(self.correct, self.radius, 0.0)))

    def certified_accuracy(self, radius: float = 0.0) -> float:
        """Fraction of rows certified with the true label at ``radius`` or more.

        Parameters
        ----------
        radius : float, default=0.0
            L2 radius, at least 0. A row counts when it is correct and its
            certified radius is at least ``radius`` (Cohen et al., 2019).

        Returns
        -------
        accuracy : float
            Certified accuracy, between 0 and 1.
        """
        if self.correct is None:
            raise ValueError("certified_accuracy needs the true labels: call certify(X, y) with y.")
        if not np.isfinite(radius) or radius < 0:
            raise ValueError(f"radius must be a finite number >= 0, got {radius!r}.")
        if len(self) == 0:
            raise ValueError("certified_accuracy of an empty result is undefined.")
        return float(np.mean(self.correct & (self.radius >= radius)))

    def summary(self, radii=None):
        """Certified accuracy at a few radii, ACR and abstain rate, overall and per class.

        Rows are grouped by true class when the result holds ``y_true``,
        otherwise by predicted label (then a class's certified accuracy is
        the share of rows predicted as that class which are certified
        correctly).

        Parameters
        ----------
        radii : array-like of float, default=None
            L2 radii, each at least 0, at which certified accuracy is
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
            ``r`` whatever their label.

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
        return pd.DataFrame(records, index=index)

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
            label=take(self.label),
            radius=take(self.radius),
            p_lower=take(self.p_lower),
            abstained=take(self.abstained),
            n_samples=take(self.n_samples),
            correct=take(self.correct),
            y_true=take(self.y_true),
        )

    def _figures(self, radii: np.ndarray) -> dict:
        """One row of :meth:`summary`, for the rows of this result."""
        from ..metrics import abstain_rate, average_certified_radius, certified_accuracy

        figures = {"n_rows": len(self), "abstain_rate": abstain_rate(self)}
        if self.y_true is not None:
            figures["acr"] = average_certified_radius(self.y_true, self)
            for r in radii:
                figures[f"certified_accuracy@{r:g}"] = certified_accuracy(
                    self.y_true, self, float(r)
                )
        elif self.correct is not None:
            # Labels known only through ``correct``: the same figures, without y_true.
            figures["acr"] = self._acr()
            for r in radii:
                figures[f"certified_accuracy@{r:g}"] = self.certified_accuracy(float(r))
        else:
            certified = ~np.asarray(self.abstained, dtype=bool)
            figures["mean_radius"] = float(np.mean(np.where(certified, self.radius, 0.0)))
            for r in radii:
                figures[f"certified@{r:g}"] = float(np.mean(certified & (self.radius >= r)))
        return figures

    def to_frame(self):
        """Return the per-row arrays as a :class:`pandas.DataFrame`.

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``label``, ``radius``, ``p_lower``, ``abstained``,
            ``n_samples`` and, when known, ``correct`` and ``y_true``.
        """
        import pandas as pd

        columns = {
            "label": self.label,
            "radius": self.radius,
            "p_lower": self.p_lower,
            "abstained": self.abstained,
            "n_samples": self.n_samples,
        }
        if self.correct is not None:
            columns["correct"] = self.correct
        if self.y_true is not None:
            columns["y_true"] = self.y_true
        return pd.DataFrame(columns)

    def _repr_html_(self) -> str:
        title = (
            f"<strong>{type(self).__name__}</strong>: {len(self)} rows, "
            f"sigma={self.sigma:g}, alpha={self.alpha:g}; L2 radii in the input space "
            "of the smoothed classifier"
        )
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


def _format_cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


def html_table(frame, *, caption: str | None = None, max_rows: int = MAX_HTML_ROWS) -> str:
    """An escaped HTML table of ``frame``'s first ``max_rows`` rows, then a count of the rest.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its index becomes the first column.
    caption : str, default=None
        Caption of the table.
    max_rows : int, default=10
        Rows shown; more are counted as ``"... N more rows"``.

    Returns
    -------
    html : str
        A ``<table>`` element, followed by the note when rows were left out.
    """
    escape = html.escape
    index_name = "" if frame.index.name is None else frame.index.name
    header = "".join(f"<th>{escape(str(name))}</th>" for name in [index_name, *frame.columns])
    body = []
    for key, *row in frame.head(max_rows).itertuples(name=None):
        cells = [f"<th>{escape(str(key))}</th>"]
        cells += [f"<td>{escape(_format_cell(value))}</td>" for value in row]
        body.append(f"<tr>{''.join(cells)}</tr>")
    caption_html = "" if caption is None else f"<caption>{escape(caption)}</caption>"
    table = (
        f'<table class="dataframe">{caption_html}<thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    hidden = len(frame) - max_rows
    if hidden > 0:
        table += f"<p>... {hidden} more rows</p>"
    return table
