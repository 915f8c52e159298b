r"""Sequential PREDICT: draw a row's samples in rounds and stop once its class is decided.

PREDICT returns the class of largest smoothed probability (hard votes) or
mean score (soft). A class whose probability is above 1/2 is that class, so
each class ``c`` is tested for ``H0_c: p_c <= 1/2`` by betting, as decision
mode tests a radius (:mod:`sksmooth.certification._betting`): a test
supermartingale per class at level ``alpha / (2 n_classes)``, so a row may
stop after any round, and with probability at least ``1 - alpha / 2`` no
round ever decides a row for a class that is not the smoothed classifier's.
Rows that no round decides draw up to the cap, ``n_samples`` in all, take
the class with most votes (or largest mean score) over every sample, and are
decided by the fixed PREDICT's test of the top class against the runner-up
at ``alpha / 2``, once: with three classes or more, a class well ahead of
the others but below 1/2 is decided there. By the union bound, a row is
decided for a wrong class with probability at most ``alpha``.

**Hard votes** are Bernoulli, and the wealth of a round of constant bet
``b`` is exact: ``(1 + b / 2)^k (1 - b / 2)^(n - k)`` for ``k`` votes of
``n``, the bets and accounts of decision mode.

**Soft scores** keep only their sums and sums of squares; each class's mean
score is tested against 1/2 by :mod:`sksmooth.certification._score_betting`
(Fan, Grama & Liu's bound on each sample's wealth factor, a test
supermartingale still).

Examples
--------
>>> import numpy as np
>>> from sksmooth.certification._sequential_predict import sequential_predict_votes
>>> def draw(rows, round_index, n_new):  # every vote for class 1
...     return np.column_stack([np.zeros(len(rows), int), np.full(len(rows), n_new)])
>>> out = sequential_predict_votes(draw, 3, 2, n_cap=1000, alpha=0.001)
>>> out.top.tolist(), out.decided.tolist(), out.n_used.tolist()
([1, 1, 1], [True, True, True], [13, 13, 13])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..utils._validation import check_alpha, check_sample_counts
from ._betting import _bets, _log_wealth, first_round
from ._certify import check_votes, predict_scores, predict_votes
from ._score_betting import ScoreBets, bet_in_rounds
from ._scores import ScoreSums

__all__ = [
    "SequentialPredictions",
    "first_round_size",
    "sequential_predict_scores",
    "sequential_predict_votes",
]

# The majority PREDICT tests each class against.
MAJORITY = 0.5


def _rounds_level(alpha: float) -> float:
    """The rounds' share of ``alpha``; the fixed test at the cap takes the other half."""
    return alpha / 2


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


def first_round_size(n_classes: int, alpha: float, soft: bool = False) -> int:
    """Samples in the first round of sequential PREDICT: below them, no row is decided early.

    Examples
    --------
    >>> from sksmooth.certification._sequential_predict import first_round_size
    >>> first_round_size(2, 0.001), first_round_size(2, 0.001, soft=True)
    (13, 29)
    """
    level = _rounds_level(alpha)
    if soft:
        return ScoreBets(None, 0, n_classes, np.full(n_classes, MAJORITY), level).first
    return first_round(MAJORITY, level, n_classes)


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
    test = _VoteTest(draw_votes, n_rows, n_classes, _rounds_level(alpha))

    def final_test(rows, level):
        return predict_votes(test.counts[rows], level)

    return _predict_in_rounds(test, n_cap, alpha, final_test)


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
    ([1, 1], [True, True], [29, 29])
    """
    check_alpha(alpha)
    check_sample_counts(n_classes=n_classes, n_cap=n_cap)
    level = _rounds_level(alpha)
    test = ScoreBets(draw_scores, n_rows, n_classes, np.full(n_classes, MAJORITY), level)

    def final_test(rows, level):
        return predict_scores(ScoreSums(test.sums[rows], test.squares[rows], n_cap), level)

    return _predict_in_rounds(test, n_cap, alpha, final_test)


def _predict_in_rounds(test, n_cap: int, alpha: float, final_test) -> SequentialPredictions:
    """Rounds at ``alpha / 2`` until decided or at the cap, then the fixed test at ``alpha / 2``.

    ``final_test(rows, level)`` is the fixed PREDICT's test (top class and
    abstention) on the ``n_cap`` samples of ``rows``.
    """
    level = _rounds_level(alpha)
    log_wealth, n_used = bet_in_rounds(test, n_cap, level)
    decided = (log_wealth >= -math.log(level / test.shape[1])).any(axis=1)
    proba = test.proba(n_used)
    top = np.where(decided, log_wealth.argmax(axis=1), proba.argmax(axis=1))
    # No row stops undecided before the cap: the rest take the fixed predict's test, once.
    at_cap = np.flatnonzero(~decided)
    if at_cap.size:
        top[at_cap], abstain = final_test(at_cap, alpha - level)
        decided[at_cap] = ~abstain
    return SequentialPredictions(top=top, decided=decided, n_used=n_used, proba=proba)


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
