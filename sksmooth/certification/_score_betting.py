r"""Betting on soft scores: an anytime-valid test that a mean score exceeds a threshold.

Soft smoothing keeps, per row and class, only the sums of the base model's
scores ``X`` in [0, 1] and of their squares. To test ``H0: E[X] <= t`` after
any round, each sample's wealth factor ``1 + lambda xi``, with
``xi = (X - t) / t >= -1`` and a bet ``lambda`` in [0, 1), is bounded from
below by Fan, Grama & Liu's inequality (Stochastic Processes and their
Applications, 2015, Lemma 4.1),

.. math::

   \log(1 + \lambda \xi) \ge \lambda \xi + (\log(1 - \lambda) + \lambda) \xi^2,

whose sum over a round needs only ``sum xi`` and ``sum xi^2``. Under ``H0``
the bounded factors have mean at most ``E[1 + lambda xi] <= 1``, so their
product over rounds of predictable bets is a test supermartingale
(Waudby-Smith & Ramdas, JRSS-B 2024, build their empirical Bernstein
confidence sequences the same way), and by Ville's inequality it reaches
``1 / a`` with probability at most ``a``, whenever the test stops. The
fixed-point sums only lower the wealth: ``sum xi`` is taken from the floored
scores, ``sum xi^2`` from an upper bound of the squares.

As for votes (:mod:`sksmooth.certification._betting`) the capital is split
in two accounts. The bold one bets ``lambda = t`` (capped at
``BET_FRACTION``), which maximises the bound's growth when every score is 1;
the other sits out the first round, then bets ``a / (a + v)`` for the mean
``a`` and mean square ``v`` of ``xi`` so far (the maximiser of the bound's
growth), clipped to ``[0, MAX_KELLY_BET]``. The first round is the fewest
samples that reach the target when every score is 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._betting import BET_FRACTION, FUTILITY_LEVEL, _bold_target, _mixed, betting_schedule
from ._scores import SCORE_SCALE, ScoreSums, check_score_sums, empirical_bernstein_upper

__all__ = ["ScoreBets", "bet_in_rounds", "fan_log_growth", "score_betting_decisions"]

# The largest bet of the Kelly account: a score of 0 then costs log(1 - 0.9) per sample.
MAX_KELLY_BET = 0.9


def fan_log_growth(bets: np.ndarray, xi: np.ndarray, xi_squared: np.ndarray) -> np.ndarray:
    """A lower bound of ``sum_i log(1 + bet xi_i)`` from ``sum xi_i`` and ``sum xi_i^2``.

    Fan, Grama & Liu (2015): ``log(1 + b x) >= b x + (log(1 - b) + b) x^2``
    for ``x >= -1`` and ``b`` in [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._score_betting import fan_log_growth
    >>> bound = fan_log_growth(np.array(0.5), np.array(1.0), np.array(1.0))
    >>> round(float(bound), 4), round(float(np.log1p(0.5)), 4)
    (0.3069, 0.4055)
    """
    return bets * xi + (np.log1p(-bets) + bets) * xi_squared


class ScoreBets:
    """The bets on each row's class scores, each class against its own threshold.

    Parameters
    ----------
    draw_scores : callable
        ``draw_scores(rows, round, n_new)``: the :class:`ScoreSums` of
        ``n_new`` fresh noisy samples of the rows ``rows``.
    n_rows, n_classes : int
        The rows and classes tested.
    thresholds : ndarray of shape (n_classes,)
        Each class's ``t`` in (0, 1]; a class at 1 is never bet on (no score
        can exceed it).
    alpha : float
        The failure probability over all classes: each is tested at
        ``alpha / n_classes``.
    """

    def __init__(self, draw_scores, n_rows: int, n_classes: int, thresholds, alpha: float):
        self.draw_scores = draw_scores
        self.shape = (n_rows, n_classes)
        self.thresholds = np.minimum(np.asarray(thresholds, dtype=float), 1.0)
        self.open = self.thresholds < 1.0
        self.bold = np.where(self.open, np.minimum(self.thresholds, BET_FRACTION), 0.0)
        self.first = self._first_round(alpha, n_classes)
        self.sums = np.zeros(self.shape, dtype=np.int64)
        self.squares = np.zeros(self.shape, dtype=np.int64)
        # Sums of xi (a lower bound) and of xi^2 (an upper bound), for the Kelly bets.
        self.xi = np.zeros(self.shape)
        self.xi_squared = np.zeros(self.shape)

    def _first_round(self, alpha: float, n_classes: int) -> int:
        """The fewest samples at which the bold account reaches the target, every score 1."""
        if not self.open.any():
            return 0
        t = self.thresholds[self.open]
        gain = (1.0 - t) / t
        bold = self.bold[self.open]
        growth = fan_log_growth(bold, gain, gain * gain).max()
        return max(1, math.ceil(_bold_target(alpha, n_classes) / growth))

    def bets(self, rows: np.ndarray, n_drawn: int) -> np.ndarray:
        """Both accounts' bets on each row and class for the next round, ``(2, rows, classes)``."""
        bold = np.broadcast_to(self.bold, (len(rows), self.shape[1]))
        if n_drawn == 0:
            return np.stack([bold, np.zeros_like(bold)])
        mean, mean_square = self.xi[rows] / n_drawn, self.xi_squared[rows] / n_drawn
        with np.errstate(invalid="ignore", divide="ignore"):
            kelly = np.where(mean > 0, mean / (mean + mean_square), 0.0)
        return np.stack([bold, np.where(self.open, np.clip(kelly, 0.0, MAX_KELLY_BET), 0.0)])

    def observe(self, rows, round_index: int, n_new: int, bets) -> np.ndarray:
        """Draw a round for ``rows`` and return its log-wealth factor per account, row and class."""
        scores = check_score_sums(self.draw_scores(rows, round_index, n_new), n_rows=len(rows))
        if scores.n != n_new or scores.sums.shape[1] != self.shape[1]:
            raise ValueError(
                f"draw_scores must return the sums of {n_new} samples over "
                f"{self.shape[1]} classes per row."
            )
        self.sums[rows] += scores.sums
        self.squares[rows] += scores.squares
        xi, xi_squared = _xi_sums(scores, self.thresholds)
        self.xi[rows] += xi
        self.xi_squared[rows] += xi_squared
        return fan_log_growth(bets, xi, xi_squared)

    def proba(self, n_used: np.ndarray) -> np.ndarray:
        """Mean scores over each row's samples, scaled to sum to 1 per row."""
        # The scaling cancels the rows' different sample counts.
        return ScoreSums(self.sums, self.squares, 1).probabilities()


def _xi_sums(scores: ScoreSums, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sum xi`` (a lower bound) and ``sum xi^2`` (an upper bound) per row and class."""
    t, n = thresholds, scores.n
    total = scores.sums / float(SCORE_SCALE)
    # The floor lowered each score by less than 2^-32, so each square by less than 2^-31.
    total_square = (scores.squares + 2.0 * n) / float(SCORE_SCALE)
    xi = (total - n * t) / t
    xi_squared = np.maximum(total_square - 2.0 * t * total + n * t * t, 0.0) / (t * t)
    return xi, xi_squared


def bet_in_rounds(
    test, n_cap: int, alpha: float, futile: Callable | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rounds of bets until every row is decided, futile or at the cap.

    Parameters
    ----------
    test : ScoreBets or an object with the same ``shape``, ``first``,
        ``bets(rows, n_drawn)`` and ``observe(rows, round, n_new, bets)``.
    n_cap : int
        Samples per row at most.
    alpha : float
        Failure probability per row over all classes.
    futile : callable, default=None
        ``futile(rows, n_drawn)``: rows to stop undecided; stopping never
        decides, so it costs power only.

    Returns
    -------
    log_wealth : ndarray of shape (n_rows, n_classes)
        Log of both accounts' wealth together, per row and class.
    n_used : ndarray of int of shape (n_rows,)
        Samples each row drew.
    """
    n_rows, n_classes = test.shape
    target = -math.log(alpha / n_classes)
    log_wealth = np.zeros((2, n_rows, n_classes))  # per account, row and class
    n_used = np.zeros(n_rows, dtype=np.int64)
    active = np.arange(n_rows)
    drawn = 0
    sizes = betting_schedule(test.first, n_cap) if test.first else []  # nothing to bet on
    for round_index, size in enumerate(sizes):
        if active.size == 0:
            break
        n_new = size - drawn
        bets = test.bets(active, drawn)  # set before the round's samples are seen
        log_wealth[:, active] += test.observe(active, round_index, n_new, bets)
        drawn = size
        n_used[active] = size
        done = (_mixed(log_wealth[:, active]) >= target).any(axis=1)
        if futile is not None:
            done |= futile(active, size)
        active = active[~done]
    return _mixed(log_wealth), n_used


def score_betting_decisions(
    draw_scores: Callable[[np.ndarray, int, int], ScoreSums],
    n_rows: int,
    n_classes: int,
    *,
    threshold,
    n_cap: int,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decision mode on soft scores: label, lower bound and samples per row.

    Each class is tested for ``H0: H_c <= threshold_c`` at ``alpha /
    n_classes``; a row stops once one is rejected, or once the empirical
    Bernstein upper bound (at ``FUTILITY_LEVEL``) of every class's mean is
    at or below its threshold.

    Parameters
    ----------
    draw_scores : callable
        ``draw_scores(rows, round, n_new)``: the :class:`ScoreSums` of
        ``n_new`` fresh noisy samples of the rows ``rows``, independent of
        every earlier round.
    n_rows, n_classes : int
        The rows to decide and their classes.
    threshold : float or ndarray of shape (n_classes,)
        The mean score each class must exceed.
    n_cap : int
        Samples per row at most.
    alpha : float
        Failure probability per row, over all classes and rounds.

    Returns
    -------
    label : ndarray of int of shape (n_rows,)
        The certified class, else the one furthest above its threshold.
    p_lower : ndarray of shape (n_rows,)
        The label's threshold where certified (a rejected ``H0`` is the
        bound), else 0.
    n_used : ndarray of int of shape (n_rows,)
        Samples each row drew.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._score_betting import score_betting_decisions
    >>> from sksmooth.certification._scores import SCORE_SCALE, ScoreSums
    >>> k = np.array([0, SCORE_SCALE])  # every score of class 1 is 1
    >>> def draw(rows, round_index, n_new):
    ...     block = np.ones((len(rows), 1), dtype=np.int64) * n_new
    ...     return ScoreSums(block * k, block * k, n_new)
    >>> score_betting_decisions(draw, 2, 2, threshold=0.8, n_cap=1000, alpha=0.001)
    (array([1, 1]), array([0.8, 0.8]), array([54, 54]))
    """
    threshold = np.minimum(np.broadcast_to(np.asarray(threshold, dtype=float), (n_classes,)), 1.0)
    test = ScoreBets(draw_scores, n_rows, n_classes, threshold, alpha)

    def futile(rows, n_drawn):
        upper = empirical_bernstein_upper(
            test.sums[rows], test.squares[rows], n_drawn, FUTILITY_LEVEL
        )
        return (upper <= threshold).all(axis=1)

    log_wealth, n_used = bet_in_rounds(test, n_cap, alpha, futile)
    certified = (log_wealth >= -math.log(alpha / n_classes)).any(axis=1)
    means = test.sums / (float(SCORE_SCALE) * np.maximum(n_used, 1)[:, None])
    label = np.where(certified, log_wealth.argmax(axis=1), (means - threshold).argmax(axis=1))
    return label, np.where(certified, threshold[label], 0.0), n_used
