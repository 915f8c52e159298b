"""Decision mode by betting, against the exact probability of a wrong certificate.

A row's votes are binomial, so every path of votes through the rounds of a
short schedule can be enumerated with its exact probability: the procedure
runs on all paths at once (one row per path, each shown its own votes), and
the probability that it issues an unsound certificate is the sum of the
probabilities of the paths on which it does. That exact value must stay below
``alpha`` (Ville's inequality, union over classes), and simulated rows must
match it within a two-sided binomial tolerance. A deliberately wrong variant
(the same test at ten times alpha) fails the same check. Longer
schedules, beyond enumeration, are checked against the bound ``alpha``.

Every tolerance has false-alarm probability ``FALSE_ALARM`` (1e-4).
"""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from sksmooth.certification import decide_votes
from sksmooth.certification._betting import betting_decisions, betting_schedule, first_round
from sksmooth.noise import make_noise_model

from .oracles import NOISE_NORMS
from .test_certify import (
    N_ROWS,
    SIGMAS,
    binary_votes,
    max_unsound,
    oracle_radius,
    seed_of,
    two_sided_interval,
    unsound_rows,
)

ALPHA = 0.05


def enumerated_paths(sizes, p_a):
    """Every path of class-0 votes through the rounds ``sizes``, with its probability."""
    new = np.diff([0, *sizes])
    paths = np.array(list(itertools.product(*(range(m + 1) for m in new))), dtype=np.int64)
    probability = np.prod([stats.binom.pmf(paths[:, j], m, p_a) for j, m in enumerate(new)], axis=0)
    return paths, probability


def decide_on_paths(paths, n_cap, threshold, alpha, n_classes=2):
    """Run the procedure with row ``i`` shown path ``i``'s votes, round after round."""
    sizes = betting_schedule(first_round(threshold, alpha, n_classes), n_cap)
    new = np.diff([0, *sizes])

    def draw_votes(rows, round_index, n_new):
        assert n_new == new[round_index]
        votes_a = paths[rows, round_index]
        return np.stack([votes_a, n_new - votes_a], axis=1)

    return betting_decisions(
        draw_votes, len(paths), n_classes, threshold=threshold, n_cap=n_cap, alpha=alpha
    )


def unsound(label, p_lower, p_a):
    """Issued (bound above 1/2) for class 1, the wrong one, or class 0 beyond ``p_a``."""
    issued = p_lower > 0.5
    return issued & ((label != 0) | (p_lower > p_a))


def exact_unsound_probability(p_a, threshold, n_cap, alpha=ALPHA):
    sizes = betting_schedule(first_round(threshold, alpha, 2), n_cap)
    paths, probability = enumerated_paths(sizes, p_a)
    label, p_lower, _ = decide_on_paths(paths, n_cap, threshold, alpha)
    return float(probability[unsound(label, p_lower, p_a)].sum())


# A schedule short enough to enumerate: at threshold 0.75 and alpha 0.05, the
# rounds are 15, 31, 47 and 63 votes (78,608 paths).
SHORT_CAP, SHORT_THRESHOLD = 63, 0.75


def test_the_short_schedule_is_the_one_enumerated():
    assert betting_schedule(first_round(SHORT_THRESHOLD, ALPHA, 2), SHORT_CAP) == [15, 31, 47, 63]


@pytest.mark.parametrize("gap", [0.0, 0.01, 0.05])
def test_exact_probability_of_a_wrong_certificate_is_below_alpha(gap):
    # At the threshold itself (gap 0) and just below it, where a sequential
    # test is most tempted to certify. Exact: 1.42%, 1.16% and 0.49% at alpha = 5%.
    p_a = SHORT_THRESHOLD - gap
    exact = exact_unsound_probability(p_a, SHORT_THRESHOLD, SHORT_CAP)
    assert 0.001 < exact <= ALPHA


def test_simulated_rows_match_the_exact_probability():
    p_a = SHORT_THRESHOLD - 0.01
    exact = exact_unsound_probability(p_a, SHORT_THRESHOLD, SHORT_CAP)
    rng = np.random.default_rng(seed_of("betting", "short"))
    label, p_lower, n_used = betting_decisions(
        lambda rows, round_index, n_new: binary_votes(rng, p_a, n_new, len(rows)),
        N_ROWS,
        2,
        threshold=SHORT_THRESHOLD,
        n_cap=SHORT_CAP,
        alpha=ALPHA,
    )
    observed = int(unsound(label, p_lower, p_a).sum())
    low, high = two_sided_interval(N_ROWS, exact)
    assert low <= observed <= high, (observed, low, high, N_ROWS * exact)
    assert set(np.unique(n_used)) <= {15, 31, 47, 63}


def test_the_check_catches_a_test_at_ten_times_alpha():
    # The same procedure at level 10 alpha, judged at alpha: its exact
    # probability of a wrong certificate exceeds alpha, so the check has
    # the power to see a procedure that is not sound at alpha (rounds of
    # 7, 23, 39 and 47 votes; exact: 13.9% against 5%).
    exact = exact_unsound_probability(SHORT_THRESHOLD, SHORT_THRESHOLD, 47, 10 * ALPHA)
    assert exact > ALPHA


def test_every_class_is_tested_with_its_share_of_alpha():
    # Three classes, two of them at the threshold 1/2: either may be
    # certified wrongly, each at most alpha / 3 of the time.
    rng = np.random.default_rng(3)

    def three_way(rows, round_index, n_new):
        return rng.multinomial(n_new, [0.5, 0.5, 0.0], size=len(rows))

    label, p_lower, _ = betting_decisions(
        three_way, N_ROWS, 3, threshold=0.5, n_cap=400, alpha=ALPHA
    )
    wrong = int(np.sum(p_lower > 0.5))  # no class exceeds 1/2: every certificate is wrong
    assert wrong <= max_unsound(N_ROWS, 2 * ALPHA / 3)
    assert set(np.unique(label)) == {0, 1}


def long_check(model, norm, p_a, seed, radius, n_cap=3200, alpha=ALPHA):
    rng = np.random.default_rng(seed)
    out = decide_votes(
        lambda rows, round_index, n_new: binary_votes(rng, p_a, n_new, len(rows)),
        N_ROWS,
        2,
        n_cap=n_cap,
        alpha=alpha,
        noise_model=model,
        norm=norm,
        radius=radius,
    )
    return unsound_rows(out, model, norm, p_a), out


def long_cases():
    """Every noise, norm and sigma; a few in the quick suite, the rest marked slow."""
    quick = {
        ("gaussian", "l2", "scalar"),
        ("laplace", "l1", "per-column"),
        ("uniform", "linf", "scalar"),
    }
    return [
        pytest.param(
            noise, norm, sigma, marks=() if (noise, norm, sigma) in quick else pytest.mark.slow
        )
        for noise, norm in NOISE_NORMS
        for sigma in SIGMAS
    ]


@pytest.mark.parametrize("noise, norm, sigma", long_cases())
def test_decision_mode_is_sound_just_below_the_radius(noise, norm, sigma):
    # Rows whose true radius is 0.98 of the radius asked, over the long
    # schedule (3,200 votes, 88 rounds): beyond enumeration, checked
    # against Ville's bound.
    model = make_noise_model(noise, SIGMAS[sigma], n_features=4)
    radius = float(model.radius(0.75, norm))
    p_a = model.required_probability(0.98 * radius, norm)
    assert oracle_radius(model, norm, p_a) == pytest.approx(0.98 * radius, rel=1e-9)
    wrong, out = long_check(model, norm, p_a, seed_of("below", noise, norm, sigma), radius)
    assert wrong <= max_unsound(N_ROWS, ALPHA)
    certified_at_radius = ~out.abstained & (out.radius >= radius)
    assert certified_at_radius.sum() <= wrong


@pytest.mark.parametrize("noise, norm, sigma", long_cases())
def test_decision_mode_certifies_above_the_radius_with_few_votes(noise, norm, sigma):
    model = make_noise_model(noise, SIGMAS[sigma], n_features=4)
    radius = float(model.radius(0.75, norm))
    p_a = model.required_probability(1.3 * radius, norm)
    wrong, out = long_check(model, norm, p_a, seed_of("above", noise, norm, sigma), radius)
    assert wrong <= max_unsound(N_ROWS, ALPHA)
    certified_at_radius = ~out.abstained & (out.radius >= radius)
    assert certified_at_radius.mean() > 0.9
    # Measured: 580 to 1,160 votes on average, pA 0.05 to 0.07 above the
    # threshold (doubling Clopper-Pearson looks at 100, 200, ... after 100
    # selection votes take 510 to 870 there); rows whose votes nearly all
    # agree stop after the first round (see below), where betting gains.
    assert out.n_samples.mean() < 3200 / 2


def test_rows_far_from_the_threshold_stop_at_the_first_round():
    model = make_noise_model("gaussian", 0.25, n_features=4)
    threshold = model.required_probability(0.25, "l2")
    first = first_round(threshold, 0.001, 2)
    # The bold account, 0.7 of the capital, bets 0.95 / t per vote; the
    # rest sits out, so the bold account must grow to (2 / alpha - 0.3) / 0.7.
    growth = math.log1p(0.95 * (1 - threshold) / threshold)
    assert first == math.ceil(math.log((2 / 0.001 - 0.3) / 0.7) / growth) == 49
    _, out = long_check(model, "l2", 0.9999, seed=5, radius=0.25, n_cap=100_000, alpha=0.001)
    assert np.mean(out.n_samples == first) > 0.99
    assert np.all(out.radius[~out.abstained] >= 0.25)
    # Rows that cannot reach the threshold stop early too.
    _, out = long_check(model, "l2", 0.6, seed=6, radius=0.25, n_cap=100_000, alpha=0.001)
    assert out.n_samples.mean() < 200 and np.all(out.radius < 0.25)


def test_a_radius_no_probability_reaches_certifies_nothing():
    model = make_noise_model("uniform", 1.0, n_features=2)
    out = decide_votes(
        lambda rows, round_index, n_new: np.tile([n_new, 0], (len(rows), 1)),
        5,
        2,
        n_cap=1000,
        alpha=0.001,
        noise_model=model,
        norm="linf",
        radius=10.0,
    )
    assert np.all(out.abstained) and np.all(out.radius == 0)
