"""Decision-mode certification by betting: an anytime-valid test of each class.

The question of decision mode is, for a row and a radius ``r``: is the
smoothed classifier's top class certified at ``r``? That holds when the
class's probability under noise exceeds ``t``, the probability the radius
needs (``Phi(r / sigma)`` for Gaussian noise in L2). For each class ``c``
we test ``H0_c: p_c <= t`` with a test supermartingale (Ville 1939; Shafer
& Vovk 2019; Waudby-Smith & Ramdas, JRSS-B 2024, "Estimating means of
bounded random variables by betting"):

    M_n = prod_i (1 + lambda_i (X_i - t)),   X_i = 1 if vote i is for c,

with bets ``0 <= lambda_i < 1 / t`` chosen before vote ``i`` is seen.
Under ``H0_c``, ``E[1 + lambda_i (X_i - t) | past] = 1 + lambda_i (p_c - t)
<= 1``, so ``M`` is a non-negative supermartingale and, by Ville's
inequality, ``P(sup_n M_n >= 1 / a) <= a``. The test may therefore look
after every round of votes and stop whenever it likes, with no union bound
over looks. Every class is tested at ``a = alpha / n_classes``; the row is
certified for the class whose wealth reaches ``n_classes / alpha``. So no
selection samples are drawn: with probability at least ``1 - alpha`` no
class is ever wrongly certified, however the rounds and stopping depend on
the votes.

The capital is split in two accounts. Bets are constant within a round (the
votes of a round are then summed up in their counts) and set from the rounds
before. The bold account (``BOLD_SHARE`` of the capital) always bets
``BET_FRACTION / t``; the other sits out the first round, then bets the
Kelly fraction of a Bernoulli with the shrunk estimate ``p_hat`` against
``t``, ``(p_hat - t) / (t (1 - t))``, clipped to ``[0, BET_FRACTION / t]``.
The first round is the fewest votes that certify when all of them agree;
then rounds grow by a quarter.

The lower bound reported is the confidence sequence of the same bets:
``p_lower`` is the smallest ``m`` with ``M_n(m) < n_classes / alpha``, where
``M_n(m)`` is the wealth with ``m`` in place of ``t``. Each ``M(m)`` is a
test supermartingale for ``p_c <= m`` (while ``m < 1 / max lambda``), so
with probability at least ``1 - alpha`` every class's probability lies above
its bound at every round at once: the row's label may be chosen after the
fact (the class with most votes). A certified row's bound is at least ``t``.

Rows stop when certified, or when they cannot be certified within the cap:
when the Clopper-Pearson upper bound of the leading class at level
``FUTILITY_LEVEL`` is below what ``n_cap`` votes would need. Stopping for
futility never certifies, so its level costs power only, never soundness.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

from ._bounds import clopper_pearson_lower, clopper_pearson_upper

__all__ = ["betting_decisions", "betting_schedule", "first_round", "largest_decision_bound"]

# The largest bet, as a fraction of the 1 / t at which one vote against
# would lose everything; 0.95 needs few votes on the rows most models give
# (almost all votes for one class) and loses 3.0 in log-wealth per vote
# against.
BET_FRACTION = 0.95
# The share of the capital in the bold account; the rest bets Kelly. Most
# rows stop in the first round, where only the bold account bets: 0.7 there
# costs log(1 / 0.7) = 0.36 in log-wealth, against 0.69 for an even split,
# while the Kelly account keeps enough for the rows near the threshold.
BOLD_SHARE = 0.7
# Rounds after the first add this fraction of the votes drawn so far, and at
# least MIN_ROUND votes.
GROWTH = 0.25
MIN_ROUND = 16
# Futility: a row stops, uncertified, once the upper bound of its leading
# class at this level is below the probability that the cap could certify.
# It applies at every round, so it is kept small: rows 0.06 above the
# threshold that a cap of 3,200 votes certifies would lose 2% of their
# certificates at 0.05, 11% at 0.2.
FUTILITY_LEVEL = 0.05
_BISECTIONS = 60


def first_round(threshold: float, alpha: float, n_classes: int) -> int:
    """The fewest votes that reach the certifying wealth when all agree.

    The bold account (``BOLD_SHARE`` of the capital) bets
    ``BET_FRACTION / threshold`` per vote and the other sits out the first
    round, so the bold account must grow by ``_bold_target(alpha, n_classes)``.
    """
    growth = math.log1p(BET_FRACTION * (1.0 - threshold) / threshold)
    return max(1, math.ceil(_bold_target(alpha, n_classes) / growth))


def _bold_target(alpha: float, n_classes: int) -> float:
    """Log of the factor the bold account needs alone, with the other account at 1.

    ``(n_classes / alpha - (1 - BOLD_SHARE)) / BOLD_SHARE``.
    """
    return math.log((n_classes / alpha - (1.0 - BOLD_SHARE)) / BOLD_SHARE)


def largest_decision_bound(threshold: float, alpha: float, n_classes: int, n_cap: int) -> float:
    """The largest ``p_lower`` decision mode returns: every vote of the first round agreeing.

    A row stops once certified, so no row's bound exceeds the one its first
    round gives when all its votes agree; when that round does not fit in
    ``n_cap``, the bound of ``n_cap`` agreeing votes (below ``threshold``).

    Examples
    --------
    >>> from sksmooth.certification._betting import largest_decision_bound
    >>> round(largest_decision_bound(0.8413, 0.001, 2, 100_000), 4)
    0.8438
    """
    if not threshold < 1.0:
        return 0.0
    n = min(first_round(threshold, alpha, n_classes), n_cap)
    bet = BET_FRACTION / threshold
    # n log(1 + bet (1 - m)) = _bold_target, solved for m.
    return max(0.0, 1.0 - math.expm1(_bold_target(alpha, n_classes) / n) / bet)


def betting_schedule(first: int, n_cap: int) -> list[int]:
    """Cumulative votes at the end of each round, from ``first`` to ``n_cap``.

    Parameters
    ----------
    first : int
        Votes in the first round, at least 1.
    n_cap : int
        Votes at the last round.

    Returns
    -------
    sizes : list of int
        Strictly increasing; rounds after the first add ``GROWTH`` of the
        votes drawn so far, at least ``MIN_ROUND``.

    Examples
    --------
    >>> from sksmooth.certification._betting import betting_schedule
    >>> betting_schedule(48, 200)
    [48, 64, 80, 100, 125, 157, 197, 200]
    """
    sizes = [min(first, n_cap)]
    while sizes[-1] < n_cap:
        sizes.append(min(n_cap, sizes[-1] + max(MIN_ROUND, math.ceil(GROWTH * sizes[-1]))))
    return sizes


def _bets(counts: np.ndarray, n_drawn: int, threshold: float) -> np.ndarray:
    """Both accounts' bets on each class for the next round, shape ``(2, *counts.shape)``.

    Account 0 always bets the most (rows whose votes almost all agree
    certify fastest); account 1 sits out the first round, then bets the
    Kelly fraction of the votes so far (rows nearer the threshold, which the
    first account's losses would set back).
    """
    cap = BET_FRACTION / threshold
    bold = np.full(counts.shape, cap)
    if n_drawn == 0:
        return np.stack([bold, np.zeros(counts.shape)])
    p_hat = (counts + 0.5) / (n_drawn + 1.0)
    with np.errstate(divide="ignore"):  # a threshold of 1: never worth a bet
        kelly = np.clip((p_hat - threshold) / (threshold * (1.0 - threshold)), 0.0, cap)
    return np.stack([bold, kelly])


def _log_wealth(bets: np.ndarray, votes: np.ndarray, n_new: int, m) -> np.ndarray:
    """Log of one round's wealth factor ``(1 + b (1 - m))^k (1 - b m)^(n - k)``."""
    return votes * np.log1p(bets * (1.0 - m)) + (n_new - votes) * np.log1p(-bets * m)


def _mixed(log_wealth: np.ndarray) -> np.ndarray:
    """Log of the wealth of both accounts together, ``BOLD_SHARE`` of the capital in the first."""
    return np.logaddexp(
        log_wealth[0] + math.log(BOLD_SHARE), log_wealth[1] + math.log1p(-BOLD_SHARE)
    )


class _History:
    """The bets and votes of every round of each row's labelled class, for its bound."""

    def __init__(self):
        self.rounds = []  # (rows, bets, votes, n_new) per round

    def add(self, rows, bets, votes, n_new):
        self.rounds.append((rows, bets, votes, n_new))

    def lower_bounds(self, label: np.ndarray, level: float) -> np.ndarray:
        """The smallest ``m`` whose wealth stays below ``1 / level``, for every row."""
        n_rows = len(label)
        largest_bet = np.zeros(n_rows)
        for rows, bets, _, _ in self.rounds:
            chosen = bets[:, np.arange(len(rows)), label[rows]].max(axis=0)
            largest_bet[rows] = np.maximum(largest_bet[rows], chosen)
        # Where M(m) is a supermartingale: every factor positive (1 - bet m > 0).
        with np.errstate(divide="ignore"):
            top = np.minimum(1.0, np.where(largest_bet > 0, (1.0 - 1e-12) / largest_bet, 1.0))
        target = -math.log(level)

        def wealth(m):
            total = np.zeros((2, n_rows))
            for rows, bets, votes, n_new in self.rounds:
                pick = np.arange(len(rows)), label[rows]
                chosen = bets[:, pick[0], pick[1]]
                total[:, rows] += _log_wealth(chosen, votes[pick], n_new, m[rows])
            return _mixed(total)

        # M(m) decreases in m: bisect for the crossing, erring low (a smaller bound).
        low, high = np.zeros(n_rows), top.copy()
        rejected_at_low = wealth(low) >= target
        for _ in range(_BISECTIONS):
            middle = 0.5 * (low + high)
            above = wealth(middle) >= target
            low = np.where(above, middle, low)
            high = np.where(above, high, middle)
        return np.where(rejected_at_low, low, 0.0)


def betting_decisions(
    draw_votes: Callable[[np.ndarray, int, int], np.ndarray],
    n_rows: int,
    n_classes: int,
    *,
    threshold: float,
    n_cap: int,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label, lower bound and votes used per row, each row stopping when decided.

    Parameters
    ----------
    draw_votes : callable
        ``draw_votes(rows, round, n_new)``: votes per class, shape
        ``(len(rows), n_classes)``, among ``n_new`` fresh noisy samples of
        the rows ``rows``, independent of every earlier round.
    n_rows : int
        Rows to decide.
    n_classes : int
        Number of classes, every one tested.
    threshold : float or ndarray of shape (n_classes,)
        The probability the radius needs, at least 1/2; or one per class
        (a decision at a threshold: each class against its own).
    n_cap : int
        Votes at the last round.
    alpha : float
        Failure probability per row, over all classes and rounds.

    Returns
    -------
    label : ndarray of int of shape (n_rows,)
        The certified class, else the class with most votes.
    p_lower : ndarray of shape (n_rows,)
        Lower confidence bound of the label's probability; at least
        ``threshold`` exactly where certified.
    n_used : ndarray of int of shape (n_rows,)
        Votes each row used.

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.certification._betting import betting_decisions
    >>> def all_for_class_1(rows, round, n_new):
    ...     return np.column_stack([np.zeros(len(rows)), np.full(len(rows), n_new)])
    >>> label, p_lower, n_used = betting_decisions(
    ...     all_for_class_1, 2, 2, threshold=0.8413, n_cap=10_000, alpha=0.001
    ... )
    >>> label.tolist(), bool(np.all(p_lower >= 0.8413)), n_used.tolist()
    ([1, 1], True, [49, 49])
    """
    level = alpha / n_classes
    counts = np.zeros((n_rows, n_classes), dtype=np.int64)
    log_wealth = np.zeros((2, n_rows, n_classes))  # per account, row and class
    n_used = np.zeros(n_rows, dtype=np.int64)
    history = _History()
    # One threshold per class; 1 stands for "cannot be certified" (no bet ever gains).
    threshold = np.minimum(np.broadcast_to(np.asarray(threshold, dtype=float), (n_classes,)), 1.0)
    open_classes = np.unique(threshold[threshold < 1.0])
    certifiable = open_classes.size > 0
    first = min((first_round(t, alpha, n_classes) for t in open_classes), default=0)
    sizes = betting_schedule(first, n_cap) if certifiable else []
    # Per class, the smallest share of votes whose bound at the cap would reach its threshold.
    needed = {t: _share_needed_at_cap(t, n_cap, level) for t in open_classes}
    needed_at_cap = np.array([needed.get(t, math.inf) for t in threshold])
    active = np.arange(n_rows)
    drawn = 0
    for round_index, size in enumerate(sizes):
        if active.size == 0:
            break
        n_new = size - drawn
        bets = _bets(counts[active], drawn, threshold)
        votes = np.asarray(draw_votes(active, round_index, n_new), dtype=np.int64)
        history.add(active, bets, votes, n_new)
        log_wealth[:, active] += _log_wealth(bets, votes, n_new, threshold)
        counts[active] += votes
        drawn = size
        n_used[active] = size
        certified = (_mixed(log_wealth[:, active]) >= -math.log(level)).any(axis=1)
        upper = clopper_pearson_upper(counts[active], size, FUTILITY_LEVEL)
        hopeless = (upper < needed_at_cap).all(axis=1)
        active = active[~(certified | hopeless)]
    mixed = _mixed(log_wealth)
    certified = (mixed >= -math.log(level)).any(axis=1)
    # Uncertified: the class furthest above its threshold (with one threshold, the most votes).
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    label = np.where(certified, mixed.argmax(axis=1), (shares - threshold).argmax(axis=1))
    p_lower = history.lower_bounds(label, level) if history.rounds else np.zeros(n_rows)
    # A rejected H0 (p <= threshold) is itself the bound p > threshold; the
    # bisection may land a hair below it.
    return label, np.where(certified, np.maximum(p_lower, threshold[label]), p_lower), n_used


def _share_needed_at_cap(threshold: float, n_cap: int, level: float) -> float:
    """The smallest vote share with which ``n_cap`` votes could certify.

    Near the threshold the bold account has lost its stake, so the Kelly
    account must reach the certifying wealth alone. No constant bet grows
    it by more than ``exp(n KL(q || t))`` over ``n`` votes of share ``q``
    (the best bet in hindsight), so ``q`` must reach
    ``n_cap KL(q || t) = log(1 / ((1 - BOLD_SHARE) level))``; and never less
    than the share whose Clopper-Pearson bound at ``n_cap`` reaches ``t``.
    The share only decides when a row stops for futility, never a
    certificate.
    """
    target = -math.log1p(-BOLD_SHARE) - math.log(level)

    def enough(share):
        kelly = n_cap * float(
            special.rel_entr(share, threshold) + special.rel_entr(1.0 - share, 1.0 - threshold)
        )
        return kelly >= target and (
            clopper_pearson_lower(math.floor(share * n_cap), n_cap, level) >= threshold
        )

    low, high = threshold, 1.0
    for _ in range(_BISECTIONS):
        middle = 0.5 * (low + high)
        if enough(middle):
            high = middle
        else:
            low = middle
    return high
