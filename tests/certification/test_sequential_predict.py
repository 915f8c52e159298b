"""Sequential PREDICT: rounds of samples, each row stopping once its class is decided.

**The oracle.** Votes and scores are simulated with known class
probabilities, so the smoothed classifier's class is known exactly. A row is
decided wrongly when it is decided for a class whose probability (mean
score) is not above 1/2: at a probability of exactly 1/2 every decision is
wrong. The test of each class is anytime-valid at ``alpha / n_classes``, so
a row is decided wrongly with probability at most ``alpha``, however many
rounds it draws.

**The tolerance.** Rows are independent, so among ``R`` rows the wrong
decisions may exceed the ``1 - FALSE_ALARM`` quantile of
``Binomial(R, alpha)`` only with probability ``FALSE_ALARM`` = 1e-4.
Deliberately wrong variants fail the same check: testing against 0.4
instead of 1/2 (a class at 1/2 is then shown "above" the bar), and, for soft
scores, dropping the quadratic term of Fan et al.'s bound (its factors then
have mean above 1 under the null, so the wealth is no supermartingale).
"""

import numpy as np
import pytest
import torch
from scipy import stats

from sksmooth._monte_carlo import fixed_point_scores
from sksmooth.certification import _score_betting
from sksmooth.certification import _sequential_predict as sequential
from sksmooth.certification._betting import betting_schedule
from sksmooth.certification._certify import decide_scores, decision_votes_needed
from sksmooth.certification._scores import ScoreSums
from sksmooth.certification._sequential_predict import (
    sequential_predict_scores,
    sequential_predict_votes,
)
from sksmooth.noise import make_noise_model

from .oracles import seed_of

FALSE_ALARM = 1e-4
ALPHA = 0.1
N_ROWS, N_CAP = 3000, 1000


def max_wrong(n_rows, alpha):
    return int(stats.binom.ppf(1 - FALSE_ALARM, n_rows, alpha))


def vote_drawer(p_positive, seed):
    """Binary votes with P(class 1) = p_positive[row], fresh in every round."""
    rng = np.random.default_rng(seed)

    def draw(rows, round_index, n_new):
        ones = rng.binomial(n_new, p_positive[rows])
        return np.column_stack([n_new - ones, ones])

    return draw


def score_drawer(sample_scores, seed):
    """ScoreSums of binary scores: class 1's score drawn by sample_scores(rng, shape)."""
    rng = np.random.default_rng(seed)

    def draw(rows, round_index, n_new):
        positive = torch.from_numpy(sample_scores(rng, (len(rows), n_new)))
        fixed, squares = fixed_point_scores(torch.stack([1 - positive, positive], dim=-1))
        return ScoreSums(fixed.sum(dim=1).numpy(), squares.sum(dim=1).numpy(), n_new)

    return draw


def wrong_decisions(out, p_positive):
    """Rows decided for a class whose probability is not above 1/2."""
    decided_for_1 = out.decided & (out.top == 1)
    decided_for_0 = out.decided & (out.top == 0)
    return int(
        np.sum(decided_for_1 & (p_positive <= 0.5)) + np.sum(decided_for_0 & (p_positive >= 0.5))
    )


P_NEAR_HALF = [0.5, 0.47, 0.53, 0.65]


@pytest.mark.parametrize("p", P_NEAR_HALF)
def test_hard_votes_are_decided_wrongly_in_at_most_alpha_of_rows(p):
    p_positive = np.full(N_ROWS, p)
    out = sequential_predict_votes(
        vote_drawer(p_positive, seed_of("hard", p)), N_ROWS, 2, n_cap=N_CAP, alpha=ALPHA
    )
    assert wrong_decisions(out, p_positive) <= max_wrong(N_ROWS, ALPHA)
    # Undecided rows drew the cap, and the test has power away from 1/2.
    assert np.all(out.n_used[~out.decided] == N_CAP)
    if p == 0.65:
        assert out.decided.mean() > 0.9


def test_a_wrong_bar_fails_the_same_check(monkeypatch):
    monkeypatch.setattr(sequential, "MAJORITY", 0.4)
    p_positive = np.full(N_ROWS, 0.5)
    for run in (sequential_predict_votes, sequential_predict_scores):
        draw = (
            vote_drawer(p_positive, seed_of("wrong", 0.5))
            if run is sequential_predict_votes
            else score_drawer(lambda rng, shape: rng.uniform(size=shape), seed_of("wrong"))
        )
        out = run(draw, N_ROWS, 2, n_cap=N_CAP, alpha=ALPHA)
        assert wrong_decisions(out, p_positive) > max_wrong(N_ROWS, ALPHA)


def two_point(rng, shape):
    return np.where(rng.uniform(size=shape) < 0.5, 0.02, 0.98)


def uniform(rng, shape):
    return rng.uniform(size=shape)


@pytest.mark.parametrize("scores", [two_point, uniform], ids=["two-point", "uniform"])
def test_soft_scores_of_mean_one_half_are_decided_in_at_most_alpha_of_rows(scores):
    out = sequential_predict_scores(
        score_drawer(scores, seed_of("soft", scores.__name__)), N_ROWS, 2, n_cap=N_CAP, alpha=ALPHA
    )
    assert wrong_decisions(out, np.full(N_ROWS, 0.5)) <= max_wrong(N_ROWS, ALPHA)
    assert np.all(out.n_used[~out.decided] == N_CAP)


def test_soft_wealth_without_the_quadratic_term_fails_the_same_check(monkeypatch):
    monkeypatch.setattr(_score_betting, "fan_log_growth", lambda bets, xi, xi_squared: bets * xi)
    out = sequential_predict_scores(
        score_drawer(two_point, seed_of("no quadratic")), N_ROWS, 2, n_cap=N_CAP, alpha=ALPHA
    )
    assert wrong_decisions(out, np.full(N_ROWS, 0.5)) > max_wrong(N_ROWS, ALPHA)


def test_soft_scores_away_from_one_half_are_decided_for_the_right_class():
    rng_rows = np.random.default_rng(seed_of("means"))
    means = rng_rows.choice([0.2, 0.45, 0.55, 0.8], size=N_ROWS)

    def scores(rng, shape):  # Beta scores of mean `means[row]` (rows are drawn in order)
        return rng.beta(4 * current[:, None], 4 * (1 - current[:, None]), size=shape)

    draw_inner = score_drawer(scores, seed_of("beta"))

    def draw(rows, round_index, n_new):
        global current
        current = means[rows]
        return draw_inner(rows, round_index, n_new)

    globals()["current"] = means
    out = sequential_predict_scores(draw, N_ROWS, 2, n_cap=N_CAP, alpha=0.001)
    assert wrong_decisions(out, means) <= max_wrong(N_ROWS, 0.001)
    far = np.abs(means - 0.5) > 0.2
    assert out.decided[far].all() and (out.top[far] == (means[far] > 0.5)).all()
    np.testing.assert_allclose(out.proba.sum(axis=1), 1.0)


def test_unanimous_rows_stop_after_the_first_round():
    def unanimous(rows, round_index, n_new):
        votes = np.zeros((len(rows), 3), dtype=np.int64)
        votes[:, 2] = n_new
        return votes

    out = sequential_predict_votes(unanimous, 5, 3, n_cap=N_CAP, alpha=0.001)
    first = sequential.first_round(0.5, 0.001 / 2, 3)  # the rounds run at alpha / 2
    assert out.decided.all() and (out.top == 2).all() and (out.n_used == first).all()
    np.testing.assert_array_equal(out.proba, np.tile([0.0, 0.0, 1.0], (5, 1)))


def test_undecided_rows_take_the_class_with_most_votes_over_the_cap():
    # One vote in three for each class: no class is ever above 1/2.
    def thirds(rows, round_index, n_new):
        base = np.full((len(rows), 3), n_new // 3)
        base[:, 1] += n_new - base.sum(axis=1)  # class 1 gets the remainder
        return base

    out = sequential_predict_votes(thirds, 4, 3, n_cap=300, alpha=0.001)
    assert not out.decided.any() and (out.n_used == 300).all()
    sizes = betting_schedule(sequential.first_round(0.5, 0.001 / 2, 3), 300)
    remainders = sum((s - r) % 3 for s, r in zip(sizes, [0, *sizes[:-1]], strict=True))
    assert (out.top == (1 if remainders else 0)).all()


def test_a_cap_below_the_first_round_is_the_fixed_predict():
    out = sequential_predict_votes(vote_drawer(np.full(3, 0.99), 0), 3, 2, n_cap=5, alpha=0.001)
    assert not out.decided.any() and (out.n_used == 5).all()


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda rows, r, n: np.zeros((len(rows), 2), dtype=int), "votes"),
        (lambda rows, r, n: np.zeros((len(rows) + 1, 2), dtype=int), "rows"),
        (lambda rows, r, n: np.full((len(rows), 3), n), "votes over 2 classes"),
    ],
)
def test_draws_of_the_wrong_shape_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        sequential_predict_votes(bad, 2, 2, n_cap=100, alpha=0.001)


def test_bad_parameters_are_refused():
    draw = vote_drawer(np.full(2, 0.9), 0)
    with pytest.raises(ValueError, match="alpha"):
        sequential_predict_votes(draw, 2, 2, n_cap=100, alpha=1.5)
    with pytest.raises((TypeError, ValueError), match="n_cap"):
        sequential_predict_votes(draw, 2, 2, n_cap=0, alpha=0.001)


# --- decision mode on soft scores ------------------------------------------------------


def decide_soft(draw, n_rows, radius, threshold=None, alpha=ALPHA):
    model = make_noise_model("gaussian", 0.5, n_features=2)
    return decide_scores(
        draw,
        n_rows,
        2,
        n_cap=N_CAP,
        alpha=alpha,
        noise_model=model,
        norm="l2",
        radius=radius,
        threshold=threshold,
    )


def needed_score(radius, threshold):
    """The mean score of class 1 that a radius needs at a threshold (sigma 0.5, L2)."""
    return float(stats.norm.cdf(stats.norm.ppf(threshold) + radius / 0.5))


@pytest.mark.parametrize("threshold", [None, 0.3])
def test_soft_decisions_at_a_radius_are_wrong_in_at_most_alpha_of_rows(threshold):
    # Class 1's mean score is just below what radius 0.1 needs, class 0's far below its
    # own need: every certificate is wrong.
    t = threshold or 0.5
    needed = needed_score(0.1, t)

    def scores(rng, shape):
        return np.where(rng.uniform(size=shape) < needed, 0.99, 0.0)

    assert 0.99 * needed < needed and 1 - 0.99 * needed < needed_score(0.1, 1 - t)
    out = decide_soft(score_drawer(scores, seed_of("decide", threshold)), N_ROWS, 0.1, threshold)
    assert (~out.abstained).sum() <= max_wrong(N_ROWS, ALPHA)
    assert np.all(out.radius[~out.abstained] >= 0.1)


def test_soft_decisions_without_the_quadratic_term_fail_the_same_check(monkeypatch):
    monkeypatch.setattr(_score_betting, "fan_log_growth", lambda bets, xi, xi_squared: bets * xi)
    needed = needed_score(0.1, 0.5)

    def scores(rng, shape):
        return np.where(rng.uniform(size=shape) < needed, 0.99, 0.01)

    out = decide_soft(score_drawer(scores, seed_of("decide wrong")), N_ROWS, 0.1)
    assert (~out.abstained & (out.candidate == 1)).sum() > max_wrong(N_ROWS, ALPHA)


def test_soft_decisions_certify_sure_rows_in_one_round_and_stop_hopeless_ones():
    model = make_noise_model("gaussian", 0.5, n_features=2)
    first = decision_votes_needed(0.25, 2, 0.001, model, "l2", soft=True)
    sure = decide_soft(score_drawer(lambda rng, s: np.full(s, 0.999), 0), 5, 0.25, alpha=0.001)
    assert (~sure.abstained).all() and (sure.candidate == 1).all()
    assert (sure.n_samples == first).all()
    hopeless = decide_soft(score_drawer(lambda rng, s: np.full(s, 0.5), 0), 5, 0.25)
    assert hopeless.abstained.all() and (hopeless.n_samples < N_CAP).all()


def test_rows_at_the_cap_take_the_fixed_test_of_the_top_class_against_the_runner_up():
    # Three classes at 0.45 / 0.30 / 0.25: no class is above 1/2, so no round decides,
    # but 5,000 votes show class 0 ahead of the runner-up, as the fixed predict does.
    rng = np.random.default_rng(seed_of("runner-up"))

    def draw(rows, round_index, n_new):
        return rng.multinomial(n_new, [0.45, 0.30, 0.25], size=len(rows))

    out = sequential_predict_votes(draw, 200, 3, n_cap=5000, alpha=0.001)
    assert (out.n_used == 5000).all() and out.decided.all() and (out.top == 0).all()


@pytest.mark.parametrize("p", [0.5, 0.52])
def test_the_rounds_and_the_final_test_together_err_in_at_most_alpha_of_rows(p):
    # At the cap the final test sees every row the rounds left: the union bound covers both.
    p_positive = np.full(N_ROWS, p)
    out = sequential_predict_votes(
        vote_drawer(p_positive, seed_of("union", p)), N_ROWS, 2, n_cap=200, alpha=ALPHA
    )
    assert wrong_decisions(out, p_positive) <= max_wrong(N_ROWS, ALPHA)
