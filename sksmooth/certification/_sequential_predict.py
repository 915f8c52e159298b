r"""Sequential PREDICT: draw a row's samples in rounds and stop once its class is decided.

PREDICT returns the class of largest smoothed probability (hard votes) or
mean score (soft). A class whose probability is above 1/2 is that class, so
each class ``c`` is tested for ``H0_c: p_c <= 1/2`` by betting, as decision
mode tests a radius (:mod:`sksmooth.certification._betting`): a test
supermartingale per class at level ``alpha / n_classes``, so a row may stop
after any round and, with probability at least ``1 - alpha``, no row is ever
decided for a class that is not the smoothed classifier's. Rows that no
round decides draw up to the cap, ``n_samples`` in all, and take the class
with most votes (or largest mean score) over every sample, as the fixed
PREDICT does; with an abstention label they abstain.

**Hard votes** are Bernoulli, and the wealth of a round of constant bet
``b`` is exact: ``(1 + b / 2)^k (1 - b / 2)^(n - k)`` for ``k`` votes of
``n``, the bets and accounts of decision mode.

**Soft scores** ``X`` lie in [0, 1], and only their sums and sums of squares
are kept. With ``xi = (X - 1/2) / (1/2)`` in [-1, 1] and a bet ``lambda`` in [0, 1),
Fan, Grama & Liu's inequality (Stochastic Processes and their Applications,
2015, Lemma 4.1), ``log(1 + lambda xi) >= lambda xi + (log(1 - lambda) +
lambda) xi^2``, bounds each sample's factor ``1 + lambda xi`` from below by
a function of ``xi`` and ``xi^2`` only, so the product over a round follows
from the sums. Under ``H0_c`` (``E[X] <= 1/2``) the bounded factors have
mean at most ``E[1 + lambda xi] <= 1``: a test supermartingale still
(Waudby-Smith & Ramdas, JRSS-B 2024, build their empirical Bernstein
confidence sequences the same way). The fixed-point sums only lower the
wealth: ``sum xi`` is taken from the floored scores, ``sum xi^2`` from an
upper bound of the squares.

The bold account bets ``lambda = 1/2``, which grows fastest when every score
is 1 (``2 lambda + log(1 - lambda)`` is largest there); the other sits out
the first round, then bets ``a / (a + v)`` for the mean ``a`` and mean
square ``v`` of ``xi`` so far (the maximiser of the bound's growth), clipped
to ``[0, MAX_SOFT_BET]``.

Examples
--------
>>> import numpy as np
>>> from sksmooth.certification._sequential_predict import sequential_predict_votes
>>> def draw(rows, round_index, n_new):  # every vote for class 1
...     return np.column_stack([np.zeros(len(rows), int), np.full(len(rows), n_new)])
>>> out = sequential_predict_votes(draw, 3, 2, n_cap=1000, alpha=0.001)
>>> out.top.tolist(), out.decided.tolist(), out.n_used.tolist()
([1, 1, 1], [True, True, True], [12, 12, 12])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..utils._validation import check_alpha, check_sample_counts
from ._betting import _bets, _bold_target, _log_wealth, _mixed, betting_schedule, first_round
from ._certify import check_votes
from ._scores import SCORE_SCALE, ScoreSums, check_score_sums

__all__ = ["SequentialPredictions", "sequential_predict_scores", "sequential_predict_votes"]

# The majority PREDICT tests each class against.
MAJORITY = 0.5
# The bold account's bet on soft scores: the largest growth when every score is 1.
BOLD_SOFT_BET = 0.5
# The largest bet of the other account: a score of 0 then costs log(1 - 0.9) per sample.
MAX_SOFT_BET = 0.9


@dataclass(frozen=True)
class SequentialPredictions:
    """What sequential PREDICT found for each row.

    Attributes
    ----------
    top : ndarray of int of shape (n_rows,)
        The decided class, else the class of most votes (largest mean score)
        over every sample the row drew.
    decided : ndarray of bool of shape (n_rows,)
        Whether a class was shown above 1/2 at level ``alpha``.
    n_used : ndarray of int of shape (n_rows,)
        Samples the row drew.
    proba : ndarray of shape (n_rows, n_classes)
        Vote shares (mean scores, scaled to sum to 1) over those samples.
    """

    top: np.ndarray
    decided: np.ndarray
    n_used: np.ndarray
    proba: np.ndarray


def sequential_predict_votes(
    draw_votes: Callable[[np.ndarray, int, int], np.ndarray],
    n_rows: int,
    n_classes: int,
    *,
    n_cap: int,
    alpha: float,
) -> SequentialPredictions:
    """PREDICT over hard votes, each row stopping once a class is shown above 1/2.

    Parameters
    ----------
    draw_votes : callable
        ``draw_votes(rows, round, n_new)``: votes per class, shape
        ``(len(rows), n_classes)``, among ``n_new`` fresh noisy samples of
        the rows ``rows``, independent of every earlier round.
    n_rows : int
        Rows to classify.
    n_classes : int
        Number of classes.
    n_cap : int
        Samples per row at most.
    alpha : float
        Probability, per row, of deciding a class that is not the smoothed
        classifier's.

    Returns
    -------
    predictions : SequentialPredictions
    """
    check_alpha(alpha)
    check_sample_counts(n_classes=n_classes, n_cap=n_cap)
    return _predict_in_rounds(_VoteTest(draw_votes, n_rows, n_classes, alpha), n_cap, alpha)


def sequential_predict_scores(
    draw_scores: Callable[[np.ndarray, int, int], ScoreSums],
    n_rows: int,
    n_classes: int,
    *,
    n_cap: int,
    alpha: float,
) -> SequentialPredictions:
    """PREDICT over soft scores, each row stopping once a mean score is shown above 1/2.

    Parameters
    ----------
    draw_scores : callable
        ``draw_scores(rows, round, n_new)``: the :class:`ScoreSums` of
        ``n_new`` fresh noisy samples of the rows ``rows``.
    n_rows, n_classes, n_cap, alpha
        As in :func:`sequential_predict_votes`.

    Returns
    -------
    predictions : SequentialPredictions
        ``proba`` holds the mean scores, scaled to sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._scores import SCORE_SCALE, ScoreSums
    >>> from sksmooth.certification._sequential_predict import sequential_predict_scores
    >>> k = np.array([SCORE_SCALE // 100, 99 * SCORE_SCALE // 100])  # scores 0.01, 0.99
    >>> square = np.array([v * v // SCORE_SCALE + 1 for v in k.tolist()])  # exact, in int
    >>> def draw(rows, round_index, n_new):
    ...     block = np.ones((len(rows), 1), dtype=np.int64) * n_new
    ...     return ScoreSums(block * k, block * square, n_new)
    >>> out = sequential_predict_scores(draw, 2, 2, n_cap=1000, alpha=0.001)
    >>> out.top.tolist(), out.decided.tolist(), out.n_used.tolist()
    ([1, 1], [True, True], [42, 42])
    """
    check_alpha(alpha)
    check_sample_counts(n_classes=n_classes, n_cap=n_cap)
    return _predict_in_rounds(_ScoreTest(draw_scores, n_rows, n_classes, alpha), n_cap, alpha)


def _predict_in_rounds(test, n_cap: int, alpha: float) -> SequentialPredictions:
    """The rounds of sequential PREDICT, whatever is observed (``test`` says how to bet on it)."""
    n_rows, n_classes = test.shape
    target = -math.log(alpha / n_classes)
    log_wealth = np.zeros((2, n_rows, n_classes))  # per account, row and class
    n_used = np.zeros(n_rows, dtype=np.int64)
    active = np.arange(n_rows)
    drawn = 0
    for round_index, size in enumerate(betting_schedule(test.first, n_cap)):
        if active.size == 0:
            break
        n_new = size - drawn
        bets = test.bets(active, drawn)  # set before the round's samples are seen
        log_wealth[:, active] += test.observe(active, round_index, n_new, bets)
        drawn = size
        n_used[active] = size
        decided = (_mixed(log_wealth[:, active]) >= target).any(axis=1)
        active = active[~decided]
    mixed = _mixed(log_wealth)
    decided = (mixed >= target).any(axis=1)
    proba = test.proba(n_used)
    top = np.where(decided, mixed.argmax(axis=1), proba.argmax(axis=1))
    return SequentialPredictions(top=top, decided=decided, n_used=n_used, proba=proba)


def fan_log_growth(bets: np.ndarray, xi: np.ndarray, xi_squared: np.ndarray) -> np.ndarray:
    """A lower bound of ``sum_i log(1 + bet xi_i)`` from ``sum xi_i`` and ``sum xi_i^2``.

    Fan, Grama & Liu (2015): ``log(1 + b x) >= b x + (log(1 - b) + b) x^2``
    for ``x >= -1`` and ``b`` in [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._sequential_predict import fan_log_growth
    >>> bound = fan_log_growth(np.array(0.5), np.array(1.0), np.array(1.0))
    >>> round(float(bound), 4), round(float(np.log1p(0.5)), 4)
    (0.3069, 0.4055)
    """
    return bets * xi + (np.log1p(-bets) + bets) * xi_squared


class _VoteTest:
    """Bets on hard votes: exact wealth, the accounts of decision mode."""

    def __init__(self, draw_votes, n_rows: int, n_classes: int, alpha: float):
        self.draw_votes = draw_votes
        self.shape = (n_rows, n_classes)
        self.threshold = np.full(n_classes, MAJORITY)
        self.first = first_round(MAJORITY, alpha, n_classes)
        self.counts = np.zeros(self.shape, dtype=np.int64)

    def bets(self, rows: np.ndarray, n_drawn: int) -> np.ndarray:
        return _bets(self.counts[rows], n_drawn, self.threshold)

    def observe(self, rows, round_index: int, n_new: int, bets) -> np.ndarray:
        votes = check_votes(self.draw_votes(rows, round_index, n_new), n_rows=len(rows))
        if votes.shape[1] != self.shape[1] or np.any(votes.sum(axis=1) != n_new):
            raise ValueError(
                f"draw_votes must return {n_new} votes over {self.shape[1]} classes per row."
            )
        self.counts[rows] += votes
        return _log_wealth(bets, votes, n_new, self.threshold)

    def proba(self, n_used: np.ndarray) -> np.ndarray:
        return self.counts / np.maximum(n_used, 1)[:, None]


class _ScoreTest:
    """Bets on soft scores through Fan et al.'s bound, from their sums and squares."""

    def __init__(self, draw_scores, n_rows: int, n_classes: int, alpha: float):
        self.draw_scores = draw_scores
        self.shape = (n_rows, n_classes)
        growth_when_all_are_1 = 2 * BOLD_SOFT_BET + math.log1p(-BOLD_SOFT_BET)
        self.first = max(1, math.ceil(_bold_target(alpha, n_classes) / growth_when_all_are_1))
        self.sums = np.zeros(self.shape, dtype=np.int64)
        self.squares = np.zeros(self.shape, dtype=np.int64)
        # Sums of xi = 2 X - 1 (a lower bound) and of xi^2 (an upper bound).
        self.xi = np.zeros(self.shape)
        self.xi_squared = np.zeros(self.shape)

    def bets(self, rows: np.ndarray, n_drawn: int) -> np.ndarray:
        bold = np.full((len(rows), self.shape[1]), BOLD_SOFT_BET)
        if n_drawn == 0:
            return np.stack([bold, np.zeros_like(bold)])
        mean, mean_square = self.xi[rows] / n_drawn, self.xi_squared[rows] / n_drawn
        with np.errstate(invalid="ignore", divide="ignore"):
            kelly = np.where(mean > 0, mean / (mean + mean_square), 0.0)
        return np.stack([bold, np.clip(kelly, 0.0, MAX_SOFT_BET)])

    def observe(self, rows, round_index: int, n_new: int, bets) -> np.ndarray:
        scores = check_score_sums(self.draw_scores(rows, round_index, n_new), n_rows=len(rows))
        if scores.n != n_new or scores.sums.shape[1] != self.shape[1]:
            raise ValueError(
                f"draw_scores must return the sums of {n_new} samples over "
                f"{self.shape[1]} classes per row."
            )
        self.sums[rows] += scores.sums
        self.squares[rows] += scores.squares
        t = MAJORITY
        total = scores.sums / float(SCORE_SCALE)
        # The floor lowered each score by less than 2^-32, so each square by less than 2^-31.
        total_square = (scores.squares + 2.0 * n_new) / float(SCORE_SCALE)
        xi = (total - n_new * t) / t
        xi_squared = np.maximum(total_square - 2.0 * t * total + n_new * t * t, 0.0) / (t * t)
        self.xi[rows] += xi
        self.xi_squared[rows] += xi_squared
        return fan_log_growth(bets, xi, xi_squared)

    def proba(self, n_used: np.ndarray) -> np.ndarray:
        # Scaled to sum to 1 per row, so the rows' different sample counts cancel.
        return ScoreSums(self.sums, self.squares, 1).probabilities()
