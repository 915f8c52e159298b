"""The per-row outcome of certification."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CertificationResult"]


@dataclass(frozen=True, repr=False, eq=False)
class CertificationResult:
    """Per-row certificates returned by :meth:`SmoothedClassifier.certify`.

    The radius is an L2 distance in the input space of the smoothed
    classifier: after a scaler in a pipeline, it is measured in scaled units.

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
        None when certification ran without ``y``.

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
    """

    label: np.ndarray
    radius: np.ndarray
    p_lower: np.ndarray
    abstained: np.ndarray
    n_samples: np.ndarray
    sigma: float
    alpha: float
    correct: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.radius)

    def __repr__(self) -> str:
        n_rows = len(self)
        abstain_rate = float(np.mean(self.abstained)) if n_rows else 0.0
        text = (
            f"CertificationResult(n_rows={n_rows}, sigma={self.sigma}, "
            f"alpha={self.alpha}, abstain_rate={abstain_rate:.3f}"
        )
        if self.correct is not None and n_rows:
            text += f", certified_accuracy@0={self.certified_accuracy(0.0):.3f}"
        return text + ")"

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

    def to_frame(self):
        """Return the per-row arrays as a :class:`pandas.DataFrame`.

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``label``, ``radius``, ``p_lower``, ``abstained``,
            ``n_samples`` and, when known, ``correct``.
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
        return pd.DataFrame(columns)
