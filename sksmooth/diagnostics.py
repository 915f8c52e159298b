"""Does a defence really resist attacks, or does it only hide the gradient?

:func:`check_gradient_masking` runs the warning signs listed by Carlini et
al. (2019) and Athalye et al. (2018) and reports each with its numbers.
"""

from __future__ import annotations

import html
import numbers
from dataclasses import dataclass, field

import numpy as np
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from ._labels import label_indices
from .attacks import PGD, AttackEnsemble, RandomSearch, SmoothAdv
from .attacks._base import _check_rows, split_model
from .attacks._constraints import parse_norm
from .attacks._targets import model_input
from .smoothing import SmoothedClassifier
from .utils._html import html_table
from .utils._validation import check_sample_counts

__all__ = ["GradientMaskingReport", "MaskingCheck", "check_gradient_masking"]


@dataclass(frozen=True)
class MaskingCheck:
    """One warning sign: what was compared, the numbers, and whether it passed.

    Parameters
    ----------
    name : str
        Short name of the check.
    expectation : str
        What an unmasked model shows.
    values : dict
        The attack success rates (or rates of rows) compared.
    passed : bool
        True when the model behaves as an unmasked model would.
    """

    name: str
    expectation: str
    values: dict = field(default_factory=dict)
    passed: bool = True


@dataclass(frozen=True)
class GradientMaskingReport:
    """Result of :func:`check_gradient_masking`.

    Prints as one line per check with its verdict; in a notebook it shows as
    a table. :meth:`summary` gives every number as a data frame.

    Parameters
    ----------
    checks : list of MaskingCheck
        Every check run, in order.
    eps : float
        The attack budget checked.
    norm : str
        The attack norm.
    n_rows : int
        Rows attacked: those the model classifies correctly without attack.
    robust_accuracy : float, default=None
        Accuracy on every row given under the
        :class:`~sksmooth.attacks.AttackEnsemble` of check 4, the worst case
        per row over its attacks: the tightest upper bound of the model's
        robust accuracy the check found. None when not measured.

    Examples
    --------
    >>> from sksmooth.diagnostics import GradientMaskingReport, MaskingCheck
    >>> report = GradientMaskingReport(
    ...     [MaskingCheck("adaptive attack", "no stronger than PGD", {}, False)],
    ...     eps=0.25, norm="inf", n_rows=100)
    >>> report.verdict
    'gradient masking suspected'
    """

    checks: list
    eps: float
    norm: str
    n_rows: int
    robust_accuracy: float | None = None

    @property
    def masking_suspected(self) -> bool:
        """True when any check failed."""
        return not all(check.passed for check in self.checks)

    @property
    def verdict(self) -> str:
        """``"gradient masking suspected"`` or ``"no sign of gradient masking"``."""
        if self.masking_suspected:
            return "gradient masking suspected"
        return "no sign of gradient masking"

    def to_frame(self):
        """One row per check: name, expectation, the numbers and pass or fail.

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``check``, ``expectation``, ``values`` and ``passed``.
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "check": [c.name for c in self.checks],
                "expectation": [c.expectation for c in self.checks],
                "values": [_format_values(c.values) for c in self.checks],
                "passed": [c.passed for c in self.checks],
            }
        )

    def summary(self):
        """The numbers of every check, one row per number, for filtering and plotting.

        Returns
        -------
        summary : pandas.DataFrame
            Columns ``check``, ``quantity`` (e.g. ``"iterative"``), ``value``
            (a float) and ``passed`` (the check's outcome).

        Examples
        --------
        >>> from sksmooth.diagnostics import GradientMaskingReport, MaskingCheck
        >>> report = GradientMaskingReport(
        ...     [MaskingCheck("iterative vs single-step", "single-step <= iterative",
        ...                   {"single_step": 0.5, "iterative": 0.25}, False)],
        ...     eps=0.25, norm="inf", n_rows=100)
        >>> report.summary()
                              check     quantity  value  passed
        0  iterative vs single-step  single_step   0.50   False
        1  iterative vs single-step    iterative   0.25   False
        """
        import pandas as pd

        rows = [
            (check.name, quantity, float(value), check.passed)
            for check in self.checks
            for quantity, value in check.values.items()
        ]
        return pd.DataFrame(rows, columns=["check", "quantity", "value", "passed"])

    def _repr_html_(self) -> str:
        frame = self.to_frame().set_index("check")
        frame["passed"] = frame["passed"].map({True: "pass", False: "FAIL"})
        title = (
            f"<strong>{type(self).__name__}</strong>: eps={self.eps:g}, "
            f"norm={html.escape(str(self.norm))}, {self.n_rows} rows attacked"
        )
        worst = ""
        if self.robust_accuracy is not None:
            worst = f"<p><strong>{html.escape(self._worst_case())}</strong></p>"
        return (
            f"<div><p>{title}</p>"
            f"{html_table(frame, max_rows=max(len(frame), 1))}{worst}"
            f"<p><strong>verdict:</strong> {html.escape(self.verdict)}</p></div>"
        )

    def _worst_case(self) -> str:
        return f"robust accuracy, worst case over the attack ensemble: {self.robust_accuracy:.3f}"

    def __repr__(self) -> str:
        lines = [f"GradientMaskingReport(eps={self.eps}, norm={self.norm}, rows={self.n_rows})"]
        for check in self.checks:
            mark = "pass" if check.passed else "FAIL"
            lines.append(f"  [{mark}] {check.name}: {_format_values(check.values)}")
        if self.robust_accuracy is not None:
            lines.append(self._worst_case())
        lines.append(f"verdict: {self.verdict}")
        return "\n".join(lines)


def _format_values(values: dict) -> str:
    return ", ".join(f"{key}={value:.3f}" for key, value in values.items())


def check_gradient_masking(
    estimator,
    X,
    y,
    eps: float,
    *,
    norm="inf",
    steps: int = 40,
    large_eps: float | None = None,
    n_random: int = 100,
    n_queries: int = 300,
    tolerance: float = 0.05,
    random_state=None,
) -> GradientMaskingReport:
    """Run the standard checks for gradient masking on a fitted classifier.

    Each check compares attack success rates (the fraction of correctly
    classified rows whose prediction the attack changes) where an unmasked
    model has a known ordering; a difference beyond ``tolerance`` fails:

    1. single-step (FGSM-like) no stronger than iterative (PGD);
    2. black-box random search no stronger than white-box PGD;
    3. success reaches about 100% (at least ``1 - tolerance``) at ``large_eps``
       (PGD on the logit margin, which keeps a gradient far from the data);
    4. the worst case per row over an
       :class:`~sksmooth.attacks.AttackEnsemble` (PGD on the cross-entropy
       and the logit margin, BPDA where the model has a surrogate gradient,
       EOT over 16 draws where it is random, SmoothAdv on a smoothed
       classifier, then a random search from the best point) no stronger
       than plain PGD; the report's ``robust_accuracy`` is the accuracy
       under it;
    5. random sampling in the ball fools no more than ``tolerance`` of the
       rows that PGD failed on.

    On a :class:`~sksmooth.SmoothedClassifier` the white-box attacks are
    :class:`~sksmooth.attacks.SmoothAdv`. On a Pipeline the checks run in the
    input space of the last step.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline
        A skorch net, a :class:`~sksmooth.GradientMaskedClassifier`, a
        :class:`~sksmooth.SmoothedClassifier` over a skorch net, or a
        pipeline ending in one.
    X : array-like of shape (n_rows, n_features)
        Rows to attack (a few hundred are plenty).
    y : array-like of shape (n_rows,)
        True labels.
    eps : float
        Attack budget, greater than 0.
    norm : {"inf", "l2"}, default="inf"
        Attack norm.
    steps : int, default=40
        PGD steps (also per restart of the ensemble's gradient attacks).
    large_eps : float, default=None
        Budget of check 3; None takes ``20 * eps``.
    n_random : int, default=100
        Random points per row for check 5.
    n_queries : int, default=300
        Query budget per row of the black-box attacks (check 2 and the
        ensemble's search).
    tolerance : float, default=0.05
        Allowed difference in success rate before a check fails.
    random_state : int, RandomState instance or None, default=None
        Seeds every attack.

    Returns
    -------
    report : GradientMaskingReport
        Each check with its numbers, and the overall verdict.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sksmooth import GradientMaskedClassifier
    >>> from sksmooth.diagnostics import check_gradient_masking
    >>> from sksmooth.nets import make_mlp_classifier
    >>> X, y = make_classification(300, n_features=5, random_state=0)
    >>> masked = GradientMaskedClassifier(make_mlp_classifier(max_epochs=10), method="quantize",
    ...                                   levels=4, random_state=0).fit(X, y)
    >>> check_gradient_masking(masked, X[:50], y[:50], eps=0.3, steps=10,
    ...                        random_state=0).masking_suspected
    True
    """
    check_scalar(eps, "eps", numbers.Real, min_val=0, include_boundaries="neither")
    check_scalar(tolerance, "tolerance", numbers.Real, min_val=0, max_val=1)
    check_sample_counts(n_random=n_random)
    norm = parse_norm(norm)
    large_eps = 20 * eps if large_eps is None else large_eps
    check_scalar(large_eps, "large_eps", numbers.Real, min_val=eps)
    estimator, X, _ = split_model(estimator, X)
    check_is_fitted(estimator)
    # The attacks' own check of rows: shape, numbers, finite, the model's features.
    X = np.ascontiguousarray(_check_rows(X, estimator), dtype=np.float64)
    y = column_or_1d(y)
    check_consistent_length(X, y)
    label_indices(estimator.classes_, y, what="y label")  # a type mismatch is not "all wrong"

    def predict(rows):
        return estimator.predict(model_input(estimator, rows))

    correct = predict(X) == y
    n_given = len(X)
    if not correct.any():
        raise ValueError("The estimator misclassifies every row of X: nothing to attack.")
    X, y = X[correct], y[correct]
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)

    def success(attack) -> float:
        return float(np.mean(predict(attack.generate(estimator, X, y)) != y))

    white_box = _white_box_attack(estimator)
    common = {"norm": norm, "random_state": seed}
    pgd_attack = white_box(eps, steps=steps, **common)
    pgd_fooled = predict(pgd_attack.generate(estimator, X, y)) != y
    pgd = float(np.mean(pgd_fooled))
    single = success(white_box(eps, steps=1, step_size=eps, random_start=False, **common))
    black_box = success(RandomSearch(eps, n_queries=n_queries, **common))
    # Logit margin: far from the data a softmax saturates and cross-entropy has no gradient.
    large = success(white_box(large_eps, steps=steps, loss="margin", **common))
    ensemble = AttackEnsemble(eps, steps=steps, n_queries=n_queries, **common)
    ensemble_fooled = predict(ensemble.generate(estimator, X, y)) != y
    adaptive = float(np.mean(ensemble_fooled))
    random_fooled = _random_sampling_fooled(predict, X, y, eps, norm, n_random, seed)
    missed = float(np.mean(random_fooled & ~pgd_fooled))

    checks = [
        MaskingCheck(
            "iterative vs single-step",
            "single-step success <= iterative success",
            {"single_step": single, "iterative": pgd},
            single <= pgd + tolerance,
        ),
        MaskingCheck(
            "white-box vs black-box",
            "black-box success <= white-box success",
            {"black_box": black_box, "white_box": pgd},
            black_box <= pgd + tolerance,
        ),
        MaskingCheck(
            "unbounded attack",
            f"success ~100% at eps={large_eps:g}",
            {"large_eps_success": large},
            large >= 1 - tolerance,
        ),
        MaskingCheck(
            "adaptive vs plain gradient attack",
            "worst case over the ensemble (PGD, BPDA/EOT, margin, search) <= plain PGD",
            {"adaptive": adaptive, "plain": pgd},
            adaptive <= pgd + tolerance,
        ),
        MaskingCheck(
            "random search within eps",
            "random points fool almost no row that PGD missed",
            {"random_only": missed, "random": float(np.mean(random_fooled))},
            missed <= tolerance,
        ),
    ]
    robust = np.count_nonzero(~ensemble_fooled) / n_given
    return GradientMaskingReport(
        checks, eps=float(eps), norm=norm, n_rows=len(X), robust_accuracy=robust
    )


def _white_box_attack(estimator):
    if isinstance(estimator, SmoothedClassifier):
        return SmoothAdv
    return PGD


def _random_sampling_fooled(predict, X, y, eps, norm, n_random, seed) -> np.ndarray:
    """Rows misclassified at any of ``n_random`` uniform points of the ball."""
    rng = np.random.default_rng(seed)
    fooled = np.zeros(len(X), dtype=bool)
    for _ in range(n_random):
        if norm == "inf":
            delta = rng.uniform(-eps, eps, X.shape)
        else:
            direction = rng.standard_normal(X.shape)
            direction /= np.linalg.norm(direction, axis=1, keepdims=True)
            delta = direction * eps * rng.uniform(size=(len(X), 1)) ** (1 / X.shape[1])
        fooled |= predict(X + delta) != y
    return fooled
