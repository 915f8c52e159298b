"""Cohen et al.'s CERTIFY and PREDICT as functions of vote counts and a noise.

No torch and no estimator: the votes may come from a net, any classifier or
a simulation, which is how the statistics are tested.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..utils._validation import check_alpha, check_radius, check_sample_counts, check_threshold
from ._betting import betting_decisions, first_round, largest_decision_bound
from ._bounds import clopper_pearson_lower, top_two_binomial_pvalue
from ._score_betting import ScoreBets, score_betting_decisions
from ._scores import (
    SCORE_SCALE,
    ScoreSums,
    check_score_sums,
    empirical_bernstein_lower,
    empirical_bernstein_upper,
)
from ._sequential import adaptive_rule, look_level, sequential_lower_bounds

__all__ = [
    "Certificates",
    "certify_scores",
    "certify_votes",
    "class_thresholds",
    "decide_scores",
    "decide_votes",
    "decision_votes_needed",
    "largest_decision_radius",
    "largest_radius",
    "predict_scores",
    "predict_votes",
    "samples_for_radius",
    "sequential_certify_votes",
]


@dataclass(frozen=True)
class Certificates:
    """Per-row outcome of CERTIFY, before labels are attached.

    Parameters
    ----------
    candidate : ndarray of int
        Index of the class selected from the selection votes.
    p_lower : ndarray of float
        Lower confidence bound of the candidate's probability under noise.
    radius : ndarray of float
        Certified radius (see :meth:`sksmooth.noise.NoiseModel.radius`), 0 where abstained.
    abstained : ndarray of bool
        True where ``p_lower <= 1/2``.
    n_samples : ndarray of int
        Estimation samples each row used.
    """

    candidate: np.ndarray
    p_lower: np.ndarray
    radius: np.ndarray
    abstained: np.ndarray
    n_samples: np.ndarray


def check_votes(votes, name: str = "votes", *, n_rows: int | None = None) -> np.ndarray:
    """Votes per class as an int64 array of shape (n_rows, n_classes >= 2), counts >= 0.

    Examples
    --------
    >>> from sksmooth.certification._certify import check_votes
    >>> check_votes([[3, 1]]).dtype
    dtype('int64')
    """
    try:
        array = np.asarray(votes)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be an array of vote counts, got {votes!r}.") from error
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold vote counts (integers), got dtype {array.dtype}.")
    if array.ndim != 2 or array.shape[1] < 2:
        raise ValueError(
            f"{name} must have shape (n_rows, n_classes) with at least 2 classes, "
            f"got {array.shape}."
        )
    if n_rows is not None and len(array) != n_rows:
        raise ValueError(f"{name} has {len(array)} rows, expected {n_rows}.")
    finite = np.all(np.isfinite(array)) if array.dtype.kind == "f" else True
    if not finite or np.any(array < 0) or np.any(array != np.floor(array)):
        raise ValueError(f"{name} must hold whole, non-negative vote counts.")
    if array.dtype.kind == "f" and array.size and array.max() > 2**62:
        raise ValueError(f"{name} holds counts beyond 2**62.")
    return array.astype(np.int64, copy=False)


def _check_noise_and_norm(noise_model, norm) -> str:
    """A NoiseModel (duck-typed: ``certification`` sits below ``noise``) and a norm it certifies."""
    if not all(hasattr(noise_model, a) for a in ("radius", "required_probability", "noise")):
        raise TypeError(
            "noise_model must be a sksmooth.noise.NoiseModel (make_noise_model), "
            f"got {noise_model!r}."
        )
    return noise_model.noise.check_norm(norm)


def _check_same_classes(n_selection: int, n_estimation: int, suffix: str = "") -> None:
    """The selection and estimation rounds of CERTIFY count the same classes."""
    if n_selection != n_estimation:
        raise ValueError(
            f"selection{suffix} and estimation{suffix} must have the same classes, "
            f"got {n_selection} and {n_estimation}."
        )


def _check_draw(draw_votes) -> None:
    if not callable(draw_votes):
        raise TypeError(f"draw_votes must be a callable, got {draw_votes!r}.")


def class_thresholds(threshold, n_classes: int) -> np.ndarray | None:
    """What each class's score must exceed to be the decision: None for the top class.

    For a binary decision at ``threshold`` (class 1 where its score is at or
    above it), class 1's score must stay at or above ``threshold`` and class
    0's above ``1 - threshold``: ``[1 - threshold, threshold]``.

    Examples
    --------
    >>> from sksmooth.certification._certify import class_thresholds
    >>> class_thresholds(0.2, 2).tolist()
    [0.8, 0.2]
    """
    if threshold is None:
        return None
    threshold = check_threshold(threshold)
    if n_classes != 2:
        raise ValueError(
            f"A threshold decides between two classes; this problem has {n_classes}. "
            "Certify the top class instead (threshold=None)."
        )
    return np.array([1.0 - threshold, threshold])


def select_candidates(shares: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
    """Each row's candidate: the top class, or at a threshold the side its shares favour.

    At a threshold, class 1 exactly where its share, as a float (what
    ``predict_proba`` reports), exceeds the threshold; a share equal to it
    goes to class 0, as a tie of votes does. For vote shares ``v1 / n`` at
    1/2 this is the top class exactly: ``v1 > n / 2`` puts the quotient at
    least ``1 / n`` above 1/2 before rounding, too far for rounding to reach
    1/2.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._certify import select_candidates
    >>> shares = np.array([[3, 7], [2, 8]]) / 10  # 7 / 10 is the float 0.7: a tie
    >>> select_candidates(shares, np.array([0.3, 0.7])).tolist()
    [0, 1]
    """
    if thresholds is None:
        return shares.argmax(axis=1)
    return (shares[:, 1] > thresholds[1]).astype(np.int64)


def _certificates(
    candidate, p_lower, n_samples, noise_model, norm, thresholds=None
) -> Certificates:
    if thresholds is None:
        radius = noise_model.radius(p_lower, norm)
        abstained = p_lower <= 0.5
    else:
        at = thresholds[candidate]
        radius = noise_model.radius(p_lower, norm, threshold=at)
        abstained = p_lower <= at
    return Certificates(
        candidate=candidate,
        p_lower=p_lower,
        radius=radius,
        abstained=abstained,
        n_samples=n_samples,
    )


def certify_votes(
    selection_votes: np.ndarray,
    estimation_votes: np.ndarray,
    *,
    alpha: float,
    noise_model,
    norm: str,
    threshold: float | None = None,
) -> Certificates:
    """CERTIFY (Cohen et al., 2019) from the two rounds of votes of each row.

    The candidate is the top class of ``selection_votes``; its votes among
    the independent ``estimation_votes`` give a one-sided Clopper-Pearson
    lower bound ``p_lower`` at level ``1 - alpha``, and the radius is the
    noise's radius at ``p_lower``. With probability at least ``1 - alpha``
    per row, a row that does not abstain is certified correctly.

    Parameters
    ----------
    selection_votes, estimation_votes : ndarray of int of shape (n_rows, n_classes)
        Votes per class under noise, from independent samples.
    alpha : float
        Failure probability per row.
    noise_model : sksmooth.noise.NoiseModel
        The noise the votes were drawn under.
    norm : str
        A norm ``noise_model`` certifies.
    threshold : float in (0, 1), default=None
        Two classes only: certify the decision "class 1 where its vote share
        is at or above ``threshold``" instead of the top class. The candidate
        is the side the selection votes favour, its share bounded below
        against its own threshold (``threshold`` for class 1, ``1 - threshold``
        for class 0), and the radius is the noise's radius at that threshold.
        At 1/2 this is exactly the certificate without a threshold.

    Returns
    -------
    certificates : Certificates
        Candidate, ``p_lower``, radius, abstentions and samples of each row.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification import certify_votes
    >>> from sksmooth.noise import make_noise_model
    >>> noise = make_noise_model("gaussian", 0.5, n_features=2)
    >>> out = certify_votes(np.array([[9, 1]]), np.array([[990, 10]]), alpha=0.001,
    ...                     noise_model=noise, norm="l2")
    >>> out.candidate, out.radius.round(3)
    (array([0]), array([0.989]))
    """
    check_alpha(alpha)
    norm = _check_noise_and_norm(noise_model, norm)
    selection_votes = check_votes(selection_votes, "selection_votes")
    estimation_votes = check_votes(
        estimation_votes, "estimation_votes", n_rows=len(selection_votes)
    )
    _check_same_classes(selection_votes.shape[1], estimation_votes.shape[1], "_votes")
    thresholds = class_thresholds(threshold, selection_votes.shape[1])
    candidate = select_candidates(_shares(selection_votes), thresholds)
    n = estimation_votes.sum(axis=1)
    count_a = estimation_votes[np.arange(len(candidate)), candidate]
    p_lower = clopper_pearson_lower(count_a, n, alpha)
    return _certificates(candidate, p_lower, n, noise_model, norm, thresholds)


def _shares(votes: np.ndarray) -> np.ndarray:
    """Votes as shares of each row's total (0 for a row without votes)."""
    total = votes.sum(axis=1, keepdims=True)
    return votes / np.maximum(total, 1)


def certify_scores(
    selection: ScoreSums,
    estimation: ScoreSums,
    *,
    alpha: float,
    noise_model,
    norm: str,
    threshold: float | None = None,
) -> Certificates:
    """CERTIFY for soft smoothing: mean class probabilities under noise instead of votes.

    The candidate is the class of largest mean score among the selection
    samples (at a threshold, the side they favour, as in
    :func:`certify_votes`); its mean score among the independent estimation
    samples is bounded below by the empirical Bernstein bound at level
    ``1 - alpha`` (:func:`~sksmooth.certification._scores.empirical_bernstein_lower`),
    and the radius is the noise's radius at that bound, which holds for
    scores in [0, 1] as for votes (see :mod:`sksmooth.certification._scores`).

    Parameters
    ----------
    selection, estimation : ScoreSums
        Fixed-point sums of the scores of independent samples of each row.
    alpha : float
        Failure probability per row.
    noise_model : sksmooth.noise.NoiseModel
        The noise the scores were drawn under.
    norm : str
        A norm ``noise_model`` certifies.
    threshold : float in (0, 1), default=None
        As for :func:`certify_votes`.

    Returns
    -------
    certificates : Certificates
        Candidate, ``p_lower`` (of its mean score), radius, abstentions and
        samples of each row.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._certify import certify_scores
    >>> from sksmooth.certification._scores import SCORE_SCALE, ScoreSums
    >>> from sksmooth.noise import make_noise_model
    >>> k = int(0.9 * SCORE_SCALE)  # every noisy score of class 1 is 0.9
    >>> def sums(n):
    ...     fixed = np.array([[SCORE_SCALE - k, k]])
    ...     return ScoreSums(fixed * n, (fixed * fixed // SCORE_SCALE + 1) * n, n)
    >>> out = certify_scores(sums(100), sums(10_000), alpha=0.001,
    ...                      noise_model=make_noise_model("gaussian", 0.5, n_features=2),
    ...                      norm="l2")
    >>> out.candidate, out.p_lower.round(3)
    (array([1]), array([0.898]))
    """
    check_alpha(alpha)
    norm = _check_noise_and_norm(noise_model, norm)
    selection = check_score_sums(selection)
    estimation = check_score_sums(estimation, n_rows=len(selection.sums))
    _check_same_classes(selection.sums.shape[1], estimation.sums.shape[1])
    thresholds = class_thresholds(threshold, selection.sums.shape[1])
    candidate = select_candidates(
        selection.means() if thresholds is None else selection.probabilities(), thresholds
    )
    rows = np.arange(len(candidate))
    p_lower = empirical_bernstein_lower(
        estimation.sums[rows, candidate], estimation.squares[rows, candidate], estimation.n, alpha
    )
    n = np.full(len(candidate), estimation.n, dtype=np.int64)
    return _certificates(candidate, p_lower, n, noise_model, norm, thresholds)


def sequential_certify_votes(
    selection_votes: np.ndarray,
    draw_votes: Callable[[np.ndarray, int, int], np.ndarray],
    *,
    n_cap: int,
    alpha: float,
    noise_model,
    norm: str,
) -> Certificates:
    """Adaptive CERTIFY: estimation samples in doubling rounds until more cannot help.

    A row that does not certify yet goes on while it still could by
    ``n_cap``, and a certified row stops once more samples would add less
    than 5% of sigma to its radius. The bounds are union-bounded over the
    looks, so the guarantee of :func:`certify_votes` holds.

    Parameters
    ----------
    selection_votes : ndarray of int of shape (n_rows, n_classes)
        Votes that select each row's candidate.
    draw_votes : callable
        ``draw_votes(rows, look, n_new)``: votes per class, shape
        ``(len(rows), n_classes)``, among ``n_new`` fresh samples of the rows
        ``rows``, independent of every earlier look.
    n_cap : int
        Estimation samples at the last look.
    alpha : float
        Failure probability per row.
    noise_model : sksmooth.noise.NoiseModel
        The noise the votes are drawn under.
    norm : str
        A norm ``noise_model`` certifies.

    Returns
    -------
    certificates : Certificates
        Candidate, best ``p_lower`` over the looks, radius, abstentions and
        the estimation samples each row used.
    """
    check_alpha(alpha)
    check_sample_counts(n_cap=n_cap)
    norm = _check_noise_and_norm(noise_model, norm)
    _check_draw(draw_votes)
    candidate = check_votes(selection_votes, "selection_votes").argmax(axis=1)

    def draw_candidate_votes(rows, look, n_new):
        votes = draw_votes(rows, look, n_new)
        return votes[np.arange(len(rows)), candidate[rows]]

    rule = adaptive_rule(
        lambda p: noise_model.radius(p, norm, in_sigmas=True),
        n_cap=n_cap,
        level=look_level(alpha, n_cap),
    )
    p_lower, n_used = sequential_lower_bounds(
        draw_candidate_votes, len(candidate), n_cap=n_cap, alpha=alpha, unfinished=rule
    )
    return _certificates(candidate, p_lower, n_used, noise_model, norm)


def decide_votes(
    draw_votes: Callable[[np.ndarray, int, int], np.ndarray],
    n_rows: int,
    n_classes: int,
    *,
    n_cap: int,
    alpha: float,
    noise_model,
    norm: str,
    radius: float,
    threshold: float | None = None,
) -> Certificates:
    """Decision mode: is each row certified at ``radius``? Votes drawn until decided.

    Every class is tested at once by betting (see
    :mod:`sksmooth.certification._betting`), so no selection samples are
    drawn and the test may stop after any round; a row stops once certified
    at ``radius`` or once ``n_cap`` votes could not certify it. With
    probability at least ``1 - alpha`` per row, no returned bound is wrong.

    Parameters
    ----------
    draw_votes : callable
        ``draw_votes(rows, round, n_new)``: votes per class, shape
        ``(len(rows), n_classes)``, among ``n_new`` fresh samples of the rows
        ``rows``, independent of every earlier round.
    n_rows : int
        Rows to decide.
    n_classes : int
        Number of classes.
    n_cap : int
        Votes at the last round.
    alpha : float
        Failure probability per row.
    noise_model : sksmooth.noise.NoiseModel
        The noise the votes are drawn under.
    norm : str
        A norm ``noise_model`` certifies.
    radius : float
        The radius, in the units of :meth:`sksmooth.noise.NoiseModel.radius`.
    threshold : float in (0, 1), default=None
        Two classes only: decide the decision at ``threshold`` (see
        :func:`certify_votes`), each class tested against the probability
        that ``radius`` needs at its own threshold.

    Returns
    -------
    certificates : Certificates
        Label (the certified class, else the one with most votes), its
        ``p_lower``, radius (at least ``radius`` where certified), abstentions
        and the votes each row used.
    """
    norm, thresholds, needed = _decision_inputs(
        draw_votes, n_rows, n_classes, n_cap, alpha, noise_model, norm, radius, threshold
    )
    label, p_lower, n_used = betting_decisions(
        draw_votes, n_rows, n_classes, threshold=needed, n_cap=n_cap, alpha=alpha
    )
    return _decided(label, p_lower, n_used, needed, noise_model, norm, thresholds, radius)


def decide_scores(
    draw_scores: Callable[[np.ndarray, int, int], ScoreSums],
    n_rows: int,
    n_classes: int,
    *,
    n_cap: int,
    alpha: float,
    noise_model,
    norm: str,
    radius: float,
    threshold: float | None = None,
) -> Certificates:
    """Decision mode for soft smoothing: whether each row is certified at ``radius``.

    Every class's mean score is tested at once against the probability the
    radius needs, by betting on the score sums (see
    :mod:`sksmooth.certification._score_betting`); a row stops once
    certified, or once the empirical Bernstein upper bound of every class's
    mean is at or below its threshold. With probability at least
    ``1 - alpha`` per row, no returned certificate is wrong.

    Parameters
    ----------
    draw_scores : callable
        ``draw_scores(rows, round, n_new)``: the ScoreSums of ``n_new``
        fresh noisy samples of the rows ``rows``, independent of every
        earlier round.
    n_rows : int
        Rows to decide.
    n_classes : int
        Number of classes.
    n_cap : int
        Samples per row at most.
    alpha : float
        Failure probability per row.
    noise_model : sksmooth.noise.NoiseModel
        The noise the scores are drawn under.
    norm : str
        A norm ``noise_model`` certifies.
    radius : float
        The radius, in the units of :meth:`sksmooth.noise.NoiseModel.radius`.
    threshold : float in (0, 1), default=None
        Two classes only: decide the decision at ``threshold``, as
        :func:`decide_votes` does.

    Returns
    -------
    certificates : Certificates
        Label, its ``p_lower`` (the probability the radius needs where
        certified, so the radius is the one asked; else 0), radius,
        abstentions and the samples each row used.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification import decide_scores
    >>> from sksmooth.certification._scores import SCORE_SCALE, ScoreSums
    >>> from sksmooth.noise import make_noise_model
    >>> k = np.array([0, SCORE_SCALE])  # every score of class 1 is 1
    >>> def draw(rows, round_index, n_new):
    ...     block = np.ones((len(rows), 1), dtype=np.int64) * n_new
    ...     return ScoreSums(block * k, block * k, n_new)
    >>> out = decide_scores(draw, 1, 2, n_cap=1000, alpha=0.001, radius=0.25, norm="l2",
    ...                     noise_model=make_noise_model("gaussian", 0.25, n_features=2))
    >>> out.candidate, out.radius.round(3), out.n_samples
    (array([1]), array([0.25]), array([65]))
    """
    norm, thresholds, needed = _decision_inputs(
        draw_scores, n_rows, n_classes, n_cap, alpha, noise_model, norm, radius, threshold
    )
    label, p_lower, n_used = score_betting_decisions(
        draw_scores, n_rows, n_classes, threshold=needed, n_cap=n_cap, alpha=alpha
    )
    return _decided(label, p_lower, n_used, needed, noise_model, norm, thresholds, radius)


def _decision_inputs(draw, n_rows, n_classes, n_cap, alpha, noise_model, norm, radius, threshold):
    """Decision mode's checked norm, class thresholds and the probability each class needs."""
    check_alpha(alpha)
    check_sample_counts(n_classes=n_classes, n_cap=n_cap)
    if isinstance(n_rows, bool) or not isinstance(n_rows, numbers.Integral) or n_rows < 0:
        raise TypeError(f"n_rows must be a whole number >= 0, got {n_rows!r}.")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}.")
    norm = _check_noise_and_norm(noise_model, norm)
    _check_draw(draw)
    check_radius(radius)
    thresholds = class_thresholds(threshold, n_classes)
    return norm, thresholds, _decision_threshold(noise_model, radius, norm, thresholds)


def _decision_threshold(noise_model, radius: float, norm: str, thresholds=None):
    """The probability a radius needs, at least 1/2 (radius 0: the top class itself).

    With class thresholds, one per class: at least the class's threshold.
    Rounded up by a few ulps, so that the rounding of the noise's formula
    cannot let a row that clears it fall short of ``radius``: a row whose
    test clears it is certified at ``radius`` itself.
    """
    if thresholds is None:
        return _rounded_up(max(noise_model.required_probability(radius, norm), 0.5))
    needed = [
        max(noise_model.required_probability(radius, norm, threshold=t), t) for t in thresholds
    ]
    return _rounded_up(np.array(needed))


def _rounded_up(probability):
    """A probability raised by 4 ulps, at most 1 (1: the radius cannot be certified)."""
    return np.minimum(probability + 4 * np.spacing(probability), 1.0)


def _decided(label, p_lower, n_used, needed, noise_model, norm, thresholds, radius) -> Certificates:
    """Decision mode's certificates: a row whose test cleared ``needed`` is certified at ``radius``.

    Its radius is at least ``radius``, whatever the float rounding of the
    radius formula at its ``p_lower``; other rows keep the certificate of
    their bound, if any.
    """
    out = _certificates(label, p_lower, n_used, noise_model, norm, thresholds)
    needed = needed if np.ndim(needed) == 0 else np.asarray(needed)[label]  # per row
    certified = p_lower >= needed
    return replace(
        out,
        radius=np.where(certified, np.maximum(out.radius, radius), out.radius),
        abstained=out.abstained & ~certified,
    )


def decision_votes_needed(
    radius: float,
    n_classes: int,
    alpha: float,
    noise_model,
    norm: str,
    threshold=None,
    soft: bool = False,
) -> int | float:
    """The fewest votes with which decision mode can certify ``radius`` (``inf``: none).

    With ``soft``, the fewest samples of scores (every one of them 1).

    Examples
    --------
    >>> from sksmooth.certification._certify import decision_votes_needed
    >>> from sksmooth.noise import make_noise_model
    >>> model = make_noise_model("gaussian", 0.25, n_features=2)
    >>> decision_votes_needed(0.25, 2, 0.001, model, "l2")
    49
    """
    thresholds = class_thresholds(threshold, n_classes)
    needed = np.atleast_1d(_decision_threshold(noise_model, radius, norm, thresholds))
    if soft:
        needed = np.broadcast_to(needed, (n_classes,))
        return ScoreBets(None, 0, n_classes, needed, alpha).first or math.inf
    votes = [first_round(t, alpha, n_classes) for t in needed if t < 1]
    return min(votes) if votes else math.inf


def largest_decision_radius(
    radius: float,
    n_cap: int,
    n_classes: int,
    alpha: float,
    noise_model,
    norm: str,
    threshold=None,
    soft: bool = False,
) -> float:
    """The largest radius decision mode returns at ``radius`` (see ``largest_decision_bound``).

    With ``soft``, certified rows report the probability the radius needs, so
    the largest radius is ``radius`` itself (0 when ``n_cap`` samples cannot
    certify it).

    Examples
    --------
    >>> from sksmooth.certification._certify import largest_decision_radius
    >>> from sksmooth.noise import make_noise_model
    >>> model = make_noise_model("gaussian", 0.25, n_features=2)
    >>> round(largest_decision_radius(0.25, 100_000, 2, 0.001, model, "l2"), 4)
    0.2526
    """
    thresholds = class_thresholds(threshold, n_classes)
    needed = _decision_threshold(noise_model, radius, norm, thresholds)
    if soft:
        first = decision_votes_needed(radius, n_classes, alpha, noise_model, norm, threshold, soft)
        if first > n_cap:
            return 0.0
        if thresholds is None:
            return float(noise_model.radius(needed, norm))
        sides = np.asarray(needed) < 1
        bounds = np.asarray(needed)[sides]
        return float(noise_model.radius(bounds, norm, threshold=thresholds[sides]).max())
    if thresholds is None:
        bound = largest_decision_bound(needed, alpha, n_classes, n_cap)
        return float(noise_model.radius(bound, norm))
    bounds = [largest_decision_bound(t, alpha, n_classes, n_cap) for t in needed]
    return float(noise_model.radius(np.array(bounds), norm, threshold=thresholds).max())


def largest_radius(
    n: int,
    alpha: float,
    noise_model,
    norm: str,
    *,
    sequential: bool = False,
    in_sigmas=False,
    threshold: float | None = None,
    soft: bool = False,
) -> float:
    """The largest radius CERTIFY can return with ``n`` estimation samples.

    It is the radius when all ``n`` votes go to the candidate: the lower
    bound is then ``alpha ** (1 / n)``, the largest Clopper-Pearson bound
    ``n`` samples give, so no row certifies more whatever the model.

    Parameters
    ----------
    n : int
        Estimation samples (for sequential certification, the cap).
    alpha : float
        Failure probability per row.
    noise_model : sksmooth.noise.NoiseModel
        The noise, which owns the radius formula.
    norm : str
        A norm ``noise_model`` certifies.
    sequential : bool, default=False
        Bound at the level of the last look of sequential certification
        (``alpha`` shared over the looks), which gives a smaller radius.
    in_sigmas : bool, default=False
        In units of sigma rather than those of
        :meth:`sksmooth.noise.NoiseModel.radius`.
    threshold : float in (0, 1), default=None
        At a threshold: the larger radius of the two sides.
    soft : bool, default=False
        For soft smoothing: the empirical Bernstein bound of ``n`` scores of 1.

    Returns
    -------
    radius : float
        0 when even ``n`` agreeing votes cannot push the bound above 1/2.

    Examples
    --------
    >>> from sksmooth.certification._certify import largest_radius
    >>> from sksmooth.noise import make_noise_model
    >>> noise = make_noise_model("gaussian", 1.0, n_features=2)
    >>> [round(largest_radius(n, 0.001, noise, "l2"), 2) for n in (10, 100, 100_000)]
    [0.0, 1.5, 3.81]
    """
    level = look_level(alpha, n) if sequential else alpha
    if soft:
        ones = np.array([n * SCORE_SCALE])
        p_lower = empirical_bernstein_lower(ones, ones, n, level)[0]
    else:
        p_lower = clopper_pearson_lower(n, n, level)
    if threshold is None:
        return float(noise_model.radius(p_lower, norm, in_sigmas=in_sigmas))
    # The side whose own threshold is lower certifies further.
    easier = min(threshold, 1.0 - threshold)
    return float(np.max(noise_model.radius(p_lower, norm, in_sigmas=in_sigmas, threshold=easier)))


def samples_for_radius(
    radius_in_sigmas: float, alpha: float, noise_model, norm: str
) -> int | float:
    """The fewest estimation samples whose :func:`largest_radius` reaches a radius.

    ``ceil(ln(alpha) / ln(p))`` with ``p`` the probability the radius needs
    (the smallest ``n`` with ``alpha ** (1 / n) >= p``); ``inf`` when no
    probability below 1 reaches it.

    Parameters
    ----------
    radius_in_sigmas : float
        The radius, in units of sigma, above 0.
    alpha : float
        Failure probability per row.
    noise_model : sksmooth.noise.NoiseModel
        The noise, which owns the inverse of the radius formula.
    norm : str
        A norm ``noise_model`` certifies.

    Returns
    -------
    n : float
        A whole number of samples, or ``inf``.

    Examples
    --------
    >>> from sksmooth.certification._certify import samples_for_radius
    >>> from sksmooth.noise import make_noise_model
    >>> noise = make_noise_model("gaussian", 0.25, n_features=2)
    >>> samples_for_radius(1.0, 0.001, noise, "l2")
    40
    """
    noise = noise_model.noise
    p = noise.required_probability(radius_in_sigmas, norm, noise_model.n_noised)
    if not p < 1:
        return math.inf
    return math.ceil(math.log(alpha) / math.log(p))


def predict_votes(votes: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """PREDICT (Cohen et al., 2019): the top class, and whether to abstain.

    A row abstains unless its top class beats the runner-up in a two-sided
    binomial test at level ``alpha``, which bounds the probability of
    returning a class other than the smoothed classifier's by ``alpha``.

    Parameters
    ----------
    votes : ndarray of int of shape (n_rows, n_classes)
        Votes per class under noise.
    alpha : float
        Level of the test: the probability of returning a wrong class.

    Returns
    -------
    top : ndarray of int of shape (n_rows,)
        Index of the class with most votes.
    abstain : ndarray of bool of shape (n_rows,)
        True where the lead of the top class is not significant.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification import predict_votes
    >>> predict_votes(np.array([[67, 33], [60, 40]]), alpha=0.001)
    (array([0, 0]), array([False,  True]))
    """
    check_alpha(alpha)
    votes = check_votes(votes)
    top_two = np.sort(votes, axis=1)[:, -2:]
    abstain = top_two_binomial_pvalue(top_two[:, 1], top_two[:, 0]) > alpha
    return votes.argmax(axis=1), abstain


def predict_scores(scores: ScoreSums, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """PREDICT for soft smoothing: the class of largest mean score, and whether to abstain.

    A row abstains unless its top class's mean score is significantly the
    largest: for two classes, its empirical Bernstein lower bound at level
    ``alpha`` exceeds 1/2; for more, its lower bound exceeds the runner-up's
    upper bound, each at ``alpha / 2``.

    Parameters
    ----------
    scores : ScoreSums
        Sums of each row's class probabilities under noise.
    alpha : float
        The probability of returning a class other than the soft smoothed
        classifier's.

    Returns
    -------
    top : ndarray of int of shape (n_rows,)
        Index of the class of largest mean score.
    abstain : ndarray of bool of shape (n_rows,)
        True where its lead is not significant.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._certify import predict_scores
    >>> from sksmooth.certification._scores import SCORE_SCALE, ScoreSums
    >>> sums = np.array([[1, 9], [5, 5]]) * (SCORE_SCALE // 10) * 1000
    >>> predict_scores(ScoreSums(sums, sums, 1000), alpha=0.001)
    (array([1, 0]), array([False,  True]))
    """
    check_alpha(alpha)
    scores = check_score_sums(scores)
    means = scores.means()
    top = means.argmax(axis=1)
    rows = np.arange(len(top))
    if means.shape[1] == 2:
        lower = empirical_bernstein_lower(
            scores.sums[rows, top], scores.squares[rows, top], scores.n, alpha
        )
        return top, ~(lower > 0.5)
    runner_up = np.argsort(means, axis=1, kind="stable")[:, -2]
    lower = empirical_bernstein_lower(
        scores.sums[rows, top], scores.squares[rows, top], scores.n, alpha / 2
    )
    upper = empirical_bernstein_upper(
        scores.sums[rows, runner_up], scores.squares[rows, runner_up], scores.n, alpha / 2
    )
    return top, ~(lower > upper)
