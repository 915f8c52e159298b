"""Certificates of a decision at a threshold, against exact oracles.

**The oracles.** For the binary linear base ``f(z) = 1[w.z + b >= 0]`` under
Gaussian noise of scale ``sigma`` the share of votes for class 1 at ``x`` is
``H(x) = Phi(s / sigma)`` with ``s = (w.x + b) / ||w||_2`` the signed L2
distance to the hyperplane. The decision "class 1 where ``H >= t``" therefore
changes exactly on the hyperplane ``s = sigma Phi^-1(t)``: the decided side is
``s >= sigma Phi^-1(t)`` and the true robust distance in a norm is
``|w.x + b - ||w||_2 sigma Phi^-1(t)| / ||w||_dual``. With ``w`` of equal
magnitudes the L-infinity distance is the L2 one over ``sqrt(d)``, so both
Gaussian formulas are tight. For the 1-D base ``f(z) = 1[z >= 0]`` under a
noise of CDF ``F`` (unit standard deviation) the share is ``H(x) = F(x /
sigma)`` and the decision at ``t`` changes at ``x = sigma F^-1(t)``.

**The tolerance.** A certificate is *wrong* when it is issued (not an
abstention) for the wrong side, or with a radius above the true distance;
CERTIFY promises this with probability at most ``alpha`` per row. Votes are
binomial, and the estimation count of the candidate is the only random input
of the bound, so each row's exact probability of a wrong certificate is
``sum_c P(candidate c) P(Binomial(n, q_c) >= k*_c)``, with ``k*_c`` the
smallest count whose certificate is wrong (found on the table of every count
0..n). The test checks (i) that exact probability is at most ``alpha`` on
every row, (ii) the simulated count lies in the two-sided interval of the
exact Poisson-binomial law of the count, and (iii) it is at most the
``1 - FALSE_ALARM`` quantile of ``Binomial(n_rows, alpha)``. Deliberately
wrong variants (the top-class certificate ignoring the threshold; the radius
at 1/2 with the threshold's abstention) exceed that same bound; the right
radius 2% too large exceeds the upper end of the interval (ii). Decision mode
(betting, beyond enumeration) is checked against (iii) only. Every tolerance
has false-alarm probability ``FALSE_ALARM`` = 1e-4.

A direct check without Monte Carlo compares each noise's radius at the exact
``p = H(x)`` with the true distance (equal where the formula is tight: the
Gaussian, the uniform in 1-D, and the Laplace when ``p`` and ``t`` lie on the
same side of 1/2).
"""

import math

import numpy as np
import pytest
from scipy import special, stats

from sksmooth.certification import certify_votes, decide_votes
from sksmooth.certification._bounds import clopper_pearson_lower
from sksmooth.certification._certify import certify_scores, class_thresholds
from sksmooth.certification._scores import SCORE_SCALE, ScoreSums
from sksmooth.noise import get_noise, make_noise_model

from .oracles import seed_of

FALSE_ALARM = 1e-4
ALPHA = 0.1
N_ROWS, N0, N = 4000, 100, 2000
THRESHOLDS = [0.1, 0.3, 0.5, 0.8]
SQRT2, SQRT3 = math.sqrt(2.0), math.sqrt(3.0)


def max_wrong(n_rows, alpha):
    """Most wrong rows a procedure whose rows fail with probability <= alpha may show."""
    return int(stats.binom.ppf(1 - FALSE_ALARM, n_rows, alpha))


def poisson_binomial_interval(probabilities):
    """Counts the sum of independent Bernoulli(p_i) leaves with probability <= FALSE_ALARM."""
    law = np.ones(1)
    for p in probabilities:
        law = np.concatenate([law * (1 - p), [0.0]]) + np.concatenate([[0.0], law * p])
    cdf = np.cumsum(law)
    low = int(np.searchsorted(cdf, FALSE_ALARM / 2))
    high = int(np.searchsorted(cdf, 1 - FALSE_ALARM / 2))
    return low, high


# --- the problems: each row's share q = H(x), decided side and true distance ---------


def unit_cdf(noise, u):
    if noise == "gaussian":
        return special.ndtr(u)
    if noise == "uniform":
        return np.clip((u + SQRT3) / (2 * SQRT3), 0.0, 1.0)
    # Laplace of scale 1/sqrt(2).
    return np.where(u < 0, 0.5 * np.exp(SQRT2 * np.minimum(u, 0)), 1 - 0.5 * np.exp(-SQRT2 * u))


def unit_quantile(noise, t):
    t = np.asarray(t, dtype=float)
    if noise == "gaussian":
        return special.ndtri(t)
    if noise == "uniform":
        return 2 * SQRT3 * t - SQRT3
    return np.where(t < 0.5, np.log(2 * t), -np.log(2 * (1 - t))) / SQRT2


def linear_problem(n_rows, sigma, t, norm, seed, d=3):
    """Gaussian rows around the hyperplane of the decision at ``t``: (q, side, distance)."""
    rng = np.random.default_rng(seed)
    # Random w for L2; equal magnitudes for L-infinity, where from_l2 is then tight.
    w = rng.normal(size=d) if norm == "l2" else rng.choice([-1.0, 1.0], d) * rng.uniform(0.5, 2)
    b = rng.normal()
    norm_w = np.linalg.norm(w)
    z = special.ndtri(t) + rng.uniform(-2.5, 2.5, n_rows)  # s / sigma
    X = rng.normal(size=(n_rows, d))
    X += ((z * sigma * norm_w - (X @ w + b)) / (w @ w))[:, None] * w
    margin = X @ w + b - norm_w * sigma * special.ndtri(t)
    dual = np.linalg.norm(w, ord=2 if norm == "l2" else 1)
    q = special.ndtr((X @ w + b) / (norm_w * sigma))
    return q, (margin >= 0).astype(int), np.abs(margin) / dual


def one_d_problem(noise, n_rows, sigma, t, seed):
    """1-D rows ``x`` of f(z) = 1[z >= 0] under ``noise``: (q, side, distance)."""
    rng = np.random.default_rng(seed)
    # Half the rows on each side of the boundary, their shares spread over that side.
    spread = rng.uniform(0.02, 1.0, n_rows)
    q = np.where(np.arange(n_rows) % 2 == 0, t * spread, 1 - (1 - t) * spread)
    x = sigma * unit_quantile(noise, q)
    boundary = sigma * unit_quantile(noise, t)
    q = unit_cdf(noise, x / sigma)
    return q, (x >= boundary).astype(int), np.abs(x - boundary)


# --- the procedure, simulated and exactly --------------------------------------------


def threshold_procedure(model, norm, t):
    """The certificate under test: (selection cut, class thresholds, radius of (p, t_c))."""
    return t, (1 - t, t), lambda p, at: model.radius(p, norm, threshold=at)


def top_class_variant(model, norm, t):
    """WRONG: the top-class certificate of Cohen et al., ignoring the threshold."""
    return 0.5, (0.5, 0.5), lambda p, at: model.radius(p, norm)


def half_radius_variant(model, norm, t):
    """WRONG: the threshold's candidate and abstention, but the radius at 1/2."""
    return t, (1 - t, t), lambda p, at: model.radius(p, norm) * (p > at)


def overreach_variant(model, norm, t):
    """WRONG: the right certificate, its radius 2% too large."""
    return t, (1 - t, t), lambda p, at: 1.02 * model.radius(p, norm, threshold=at)


def wrong_count(candidate, radius, abstained, side, distance):
    wrong = (candidate != side) | (radius > distance + 1e-12)
    return int(np.sum(~abstained & wrong))


def exact_wrong_probability(procedure, q, side, distance, alpha):
    """Each row's exact probability of a wrong certificate (see the module docstring)."""
    cut, thresholds, radius_of = procedure
    bound = clopper_pearson_lower(np.arange(N + 1), np.full(N + 1, N), alpha)
    # Class 1 is the candidate where its selection share exceeds the cut (tie: class 0).
    most_for_class_0 = int(np.sum(np.arange(N0 + 1) / N0 <= cut)) - 1
    p_one = stats.binom.sf(most_for_class_0, N0, q)
    total = np.zeros(len(q))
    for c, p_candidate in ((0, 1 - p_one), (1, p_one)):
        at = thresholds[c]
        q_c = q if c == 1 else 1 - q
        issued = bound > at
        radius = np.where(issued, radius_of(bound, np.full(N + 1, at)), 0.0)
        assert np.all(np.diff(radius) >= 0)
        # The first count whose certificate is wrong: any issued one on the wrong side.
        first_issued = int(np.argmax(issued)) if issued.any() else N + 1
        first_far = np.searchsorted(radius, distance + 1e-12, side="right")
        first = np.where(side == c, np.maximum(first_far, first_issued), first_issued)
        total += p_candidate * stats.binom.sf(first - 1, N, q_c)
    return total


def run_certify(procedure_name, model, norm, t, selection, estimation):
    if procedure_name == "top class":
        out = certify_votes(selection, estimation, alpha=ALPHA, noise_model=model, norm=norm)
        return out.candidate, out.radius, out.abstained
    out = certify_votes(
        selection, estimation, alpha=ALPHA, noise_model=model, norm=norm, threshold=t
    )
    if procedure_name == "threshold":
        return out.candidate, out.radius, out.abstained
    if procedure_name == "2% beyond":
        return out.candidate, 1.02 * out.radius, out.abstained
    # Radius at 1/2 with the threshold's candidate and abstention.
    radius = np.where(out.abstained, 0.0, model.radius(out.p_lower, norm))
    return out.candidate, radius, out.abstained


PROCEDURES = {
    "threshold": threshold_procedure,
    "top class": top_class_variant,
    "radius at 1/2": half_radius_variant,
    "2% beyond": overreach_variant,
}


def check_case(model, norm, t, problem, seed):
    """Wrong counts of each procedure with their exact expectation: {name: (count, exact)}."""
    q, side, distance = problem
    rng = np.random.default_rng(seed)
    ones = rng.binomial(N0, q)
    selection = np.stack([N0 - ones, ones], axis=1)
    ones = rng.binomial(N, q)
    estimation = np.stack([N - ones, ones], axis=1)
    outcome = {}
    for name, make in PROCEDURES.items():
        if name in ("top class", "radius at 1/2") and t == 0.5:
            continue  # at 1/2 the variants are the certificate itself
        candidate, radius, abstained = run_certify(name, model, norm, t, selection, estimation)
        exact = exact_wrong_probability(make(model, norm, t), q, side, distance, ALPHA)
        outcome[name] = (wrong_count(candidate, radius, abstained, side, distance), exact)
    return outcome


def assert_sound_and_variants_fail(outcome):
    bound = max_wrong(N_ROWS, ALPHA)
    count, exact = outcome.pop("threshold")
    assert exact.max() <= ALPHA + 1e-12, exact.max()  # float rounding of binom.sf
    low, high = poisson_binomial_interval(exact)
    assert low <= count <= high, (count, exact.sum(), low, high)
    assert count <= bound, (count, bound)
    for name, (wrong, wrong_exact) in outcome.items():
        # A small overreach is caught by the exact law (Laplace is not tight across
        # 1/2, so fewer of its certificates are on the edge); gross ones by alpha's.
        limit = high if name == "2% beyond" else bound
        assert wrong > limit, (name, wrong, wrong_exact.sum(), limit)


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("t", THRESHOLDS)
def test_gaussian_threshold_certificates_match_the_linear_oracle(t, norm):
    sigma = 0.5
    model = make_noise_model("gaussian", sigma, n_features=3)
    problem = linear_problem(N_ROWS, sigma, t, norm, seed_of("linear", t, norm))
    # The oracle itself: the formula at the exact share is the exact distance.
    q, side, distance = problem
    q_side, at = np.where(side == 1, q, 1 - q), np.where(side == 1, t, 1 - t)
    assert np.allclose(model.radius(q_side, norm, threshold=at), distance, rtol=0, atol=1e-9)
    outcome = check_case(model, norm, t, problem, seed_of("votes", t, norm))
    assert_sound_and_variants_fail(outcome)


@pytest.mark.parametrize(
    "noise, norm", [("uniform", "l1"), ("uniform", "linf"), ("laplace", "l1"), ("laplace", "linf")]
)
@pytest.mark.parametrize("t", THRESHOLDS)
def test_uniform_and_laplace_threshold_certificates_are_sound_in_1d(noise, norm, t):
    sigma = 0.7
    model = make_noise_model(noise, sigma, n_features=1)
    problem = one_d_problem(noise, N_ROWS, sigma, t, seed_of("1d", noise, norm, t))
    outcome = check_case(model, norm, t, problem, seed_of("votes", noise, norm, t))
    assert_sound_and_variants_fail(outcome)


# --- the formulas at the exact share, no Monte Carlo ---------------------------------

GRID_T = np.array([0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])


@pytest.mark.parametrize("noise", ["gaussian", "uniform", "laplace"])
def test_radius_at_the_exact_share_is_the_distance_or_below(noise):
    # x over a grid on both sides of every boundary; q = H(x) exactly.
    u = np.linspace(-1.72, 1.72, 689) if noise == "uniform" else np.linspace(-4, 4, 801)
    U, T = np.meshgrid(u, GRID_T)
    q = unit_cdf(noise, U)
    signed = U - unit_quantile(noise, T)  # in units of sigma
    # The decided side's own score and threshold.
    p, at = np.where(signed >= 0, q, 1 - q), np.where(signed >= 0, T, 1 - T)
    keep = p > at  # at p == at (the boundary itself) nothing is certified
    formula = get_noise(noise)
    norms = {"gaussian": "l2", "uniform": "l1", "laplace": "l1"}
    radius = formula.radius(p[keep], norms[noise], 1, threshold=at[keep])
    distance = np.abs(signed[keep])
    # The oracle's own ndtri(ndtr(u)) rounds by up to ~3e-13 at |u| = 4.
    tolerance = 1e-10 if noise == "gaussian" else 1e-12
    assert np.all(radius <= distance + tolerance)
    if noise == "laplace":
        tight = (p[keep] - 0.5) * (at[keep] - 0.5) >= 0  # same side of 1/2
        assert tight.sum() > 100 and (~tight).sum() > 100
        assert np.all(radius[~tight] < distance[~tight])
    else:
        tight = np.ones(len(radius), dtype=bool)
    assert np.allclose(radius[tight], distance[tight], rtol=0, atol=tolerance)
    # In d dimensions, for a base reading one coordinate, every norm's radius stays below it.
    for norm in formula.norms:
        for d in (1, 3, 10):
            assert np.all(
                formula.radius(p[keep], norm, d, threshold=at[keep]) <= distance + tolerance
            )
    # The threshold matters: at 1/2 instead, some radius overshoots the distance.
    assert np.any(formula.radius(p[keep], norms[noise], 1) > distance + 1e-3)


@pytest.mark.parametrize("noise", ["gaussian", "uniform", "laplace"])
def test_required_probability_inverts_the_threshold_radius(noise):
    formula = get_noise(noise)
    for norm in formula.norms:
        for t in GRID_T:
            for d in (1, 4):
                for p in (t + 0.3 * (1 - t), t + 0.9 * (1 - t)):
                    r = float(formula.radius(p, norm, d, threshold=t))
                    back = formula.required_probability(r, norm, d, threshold=t)
                    assert back == pytest.approx(p, abs=1e-9), (norm, t, d, p)


# --- decision mode -------------------------------------------------------------------


def draw_for(q, seed):
    """Votes of fresh samples: a function of (row, round) only, so two calls agree."""

    def draw_votes(rows, round_index, n_new):
        ones = np.random.default_rng([seed, round_index, n_new]).binomial(n_new, q)[rows]
        return np.stack([n_new - ones, ones], axis=1)

    return draw_votes


@pytest.mark.parametrize("t", [0.1, 0.3, 0.8])
def test_decision_mode_at_a_threshold_matches_the_linear_oracle(t):
    sigma, norm, n_rows, n_cap = 0.5, "l2", 3000, 1600
    model = make_noise_model("gaussian", sigma, n_features=3)
    radius = 0.25
    # Distances spread around the radius asked, on both sides of the boundary.
    rng = np.random.default_rng(seed_of("decide", t))
    signed = rng.choice([-1, 1], n_rows) * radius * rng.uniform(0.6, 1.6, n_rows)
    z = special.ndtri(t) + signed / sigma
    q, side, distance = special.ndtr(z), (signed >= 0).astype(int), np.abs(signed)
    bound = max_wrong(n_rows, ALPHA)
    counts = {}
    for name, threshold in (("threshold", t), ("top class", None)):
        out = decide_votes(
            draw_for(q, seed_of("decide votes", t)),
            n_rows,
            2,
            n_cap=n_cap,
            alpha=ALPHA,
            noise_model=model,
            norm=norm,
            radius=radius,
            threshold=threshold,
        )
        at_radius = ~out.abstained & (out.radius >= radius)
        wrong_at_radius = at_radius & ((out.candidate != side) | (distance < radius))
        counts[name] = (
            int(wrong_at_radius.sum()),
            wrong_count(out.candidate, out.radius, out.abstained, side, distance),
            int(at_radius.sum()),
        )
    wrong, wrong_radius, certified = counts["threshold"]
    assert wrong <= bound and wrong_radius <= bound, (counts, bound)
    assert certified > n_rows / 4  # the test has power: many rows decided at the radius
    assert counts["top class"][0] > bound, (counts, bound)


# --- threshold 1/2 is the certificate without a threshold ----------------------------


def random_votes(rng, n_rows, n):
    """Votes of two classes, a tenth of them exact ties."""
    ones = rng.integers(0, n + 1, n_rows)
    ones[: n_rows // 10] = n // 2
    return np.stack([n - ones, ones], axis=1)


CASES = [
    ("gaussian", "l2"),
    ("gaussian", "linf"),
    ("laplace", "l1"),
    ("laplace", "linf"),
    ("uniform", "l1"),
    ("uniform", "linf"),
]


def assert_same(a, b):
    for field in ("candidate", "p_lower", "radius", "abstained", "n_samples"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


@pytest.mark.parametrize("noise, norm", CASES)
def test_threshold_one_half_is_the_top_class_certificate_bit_for_bit(noise, norm):
    rng = np.random.default_rng(seed_of("half", noise, norm))
    for sigma in (0.4, [0.4, 0.0, 1.3, 0.7]):
        model = make_noise_model(noise, sigma, n_features=4)
        selection = random_votes(rng, 500, 100)
        estimation = random_votes(rng, 500, 1000)
        # Estimation rows agreeing with the selection, so many certify.
        estimation[::2] = selection[::2] * 10
        kwargs = {"alpha": 0.01, "noise_model": model, "norm": norm}
        plain = certify_votes(selection, estimation, **kwargs)
        assert_same(certify_votes(selection, estimation, threshold=0.5, **kwargs), plain)
        assert (~plain.abstained).sum() > 100
        # Soft scores alike.
        sel = ScoreSums(selection * (SCORE_SCALE // 2), selection * (SCORE_SCALE // 4), 100)
        est = ScoreSums(estimation * (SCORE_SCALE // 2), estimation * (SCORE_SCALE // 4), 1000)
        assert_same(
            certify_scores(sel, est, threshold=0.5, **kwargs), certify_scores(sel, est, **kwargs)
        )


@pytest.mark.parametrize(
    "noise, norm", [("gaussian", "l2"), ("laplace", "l1"), ("uniform", "linf")]
)
def test_decision_mode_at_one_half_is_the_top_class_decision_bit_for_bit(noise, norm):
    model = make_noise_model(noise, 0.5, n_features=3)
    rng = np.random.default_rng(seed_of("decide half", noise, norm))
    q = rng.uniform(0.2, 0.95, 300)
    q[:30] = 0.5
    radius = float(model.radius(0.8, norm))
    kwargs = {"n_cap": 800, "alpha": 0.01, "noise_model": model, "norm": norm, "radius": radius}
    plain = decide_votes(draw_for(q, 7), len(q), 2, **kwargs)
    assert_same(decide_votes(draw_for(q, 7), len(q), 2, threshold=0.5, **kwargs), plain)
    assert 0 < (~plain.abstained).sum() < len(q)


# --- ties and bad input --------------------------------------------------------------


@pytest.mark.parametrize(
    "t",
    [
        0.1,
        0.2,
        0.3,
        0.4,
        0.6,
        0.8,
        0.9,
        0.7,
    ],
)
def test_a_tie_with_the_threshold_goes_to_class_0(t):
    model = make_noise_model("gaussian", 0.5, n_features=2)
    for n0 in (10, 20, 50, 100):
        ones = np.arange(n0 + 1)
        votes = np.stack([n0 - ones, ones], axis=1)
        out = certify_votes(votes, votes, alpha=0.01, noise_model=model, norm="l2", threshold=t)
        # Class 1 exactly where its share exceeds the threshold (a share equal to it: class 0).
        assert np.array_equal(out.candidate, (ones / n0 > t).astype(int)), n0


BAD = [
    (0, ValueError, "strictly between 0 and 1"),
    (1, ValueError, "strictly between 0 and 1"),
    (0.0, ValueError, "strictly between 0 and 1"),
    (-0.1, ValueError, "strictly between 0 and 1"),
    (1.5, ValueError, "strictly between 0 and 1"),
    (float("nan"), ValueError, "strictly between 0 and 1"),
    (True, TypeError, "must be a number"),
    ("0.5", TypeError, "must be a number"),
    ([0.5], TypeError, "must be a number"),
]


@pytest.mark.parametrize("threshold, error, message", BAD)
def test_bad_thresholds_are_refused_with_a_clear_message(threshold, error, message):
    model = make_noise_model("gaussian", 0.5, n_features=2)
    votes = np.array([[3, 7], [6, 4]])
    with pytest.raises(error, match=message):
        certify_votes(votes, votes, alpha=0.01, noise_model=model, norm="l2", threshold=threshold)
    with pytest.raises(error, match=message):
        decide_votes(
            draw_for(np.array([0.5, 0.5]), 0),
            2,
            2,
            n_cap=100,
            alpha=0.01,
            noise_model=model,
            norm="l2",
            radius=0.1,
            threshold=threshold,
        )
    sums = ScoreSums(votes * SCORE_SCALE, votes * SCORE_SCALE, 10)
    with pytest.raises(error, match=message):
        certify_scores(sums, sums, alpha=0.01, noise_model=model, norm="l2", threshold=threshold)


def test_a_threshold_with_three_classes_is_refused():
    model = make_noise_model("gaussian", 0.5, n_features=2)
    votes = np.array([[3, 5, 2]])
    with pytest.raises(ValueError, match="two classes; this problem has 3"):
        certify_votes(votes, votes, alpha=0.01, noise_model=model, norm="l2", threshold=0.3)
    with pytest.raises(ValueError, match="classes"):
        class_thresholds(0.3, 3)
    with pytest.raises(ValueError, match="classes"):
        decide_votes(
            lambda rows, r, n: np.zeros((len(rows), 3), dtype=int),
            1,
            3,
            n_cap=100,
            alpha=0.01,
            noise_model=model,
            norm="l2",
            radius=0.1,
            threshold=0.3,
        )
    # Without a threshold three classes are fine.
    assert certify_votes(votes, votes, alpha=0.01, noise_model=model, norm="l2").candidate[0] == 1
