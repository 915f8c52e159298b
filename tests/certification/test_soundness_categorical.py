"""Certificates with changed categorical fields, checked against exact oracles.

Two base classifiers whose smoothed classifier is known in closed form under
the joint noise (Gaussian on the numeric columns, random replacement on the
categorical one: keep with probability ``1 - q``, else uniform over ``K``):

(a) ``CategoryIn``: f(x) = 1[x_c in S], ``|S| = m``. The smoothed probability
    of class 1 is ``q m / K + (1 - q) 1[x_c in S]``, whatever the numeric
    columns. With k >= 1 changes the column can take every category, so a
    row is truly certified (at any numeric radius) exactly when the smoothed
    class is the same for every category, and with k = 0 when its label is
    the smoothed class. When ``m q / K`` is just below 1/2 the rows in ``S``
    sit just below the discrete Neyman-Pearson bound (f is its extremal
    set), so the k = 1 check is sharp.
(b) ``LinearWithCategoryScores``: f(x) = 1[w.x + b + s[x_c] > 0]. With margin
    ``u = w.x + b``, ``P(f = 1) = sum_c' P(draw c' | x_c) Phi((u + s[c']) /
    (sigma ||w||))``, increasing in ``u``; let ``u*(c)`` solve it = 1/2
    (brentq). A numeric L2 shift of size r moves ``u`` by at most
    ``r ||w||``, so the exact certified radius is ``|u - u*(x_c)| / ||w||``
    with k = 0, and with k = 1 the smallest signed distance ``(u - u*(c)) /
    ||w||`` (class 1; the opposite sign for class 0) over every category c,
    the row's own included. Scores (+a, -a, 0, ...) make f nearly the
    extremal set of the joint certificate, so the check is sharp there too.

A certificate is *unsound* when it is issued (not abstained, radius > 0 at
that k) with a wrong label or a radius above the exact one (+1e-9); a row
counts once if any k is unsound. CERTIFY's promise covers every k of a row
at once with probability 1 - alpha, and rows draw independent noise, so the
count may exceed the ``1 - 1e-4`` quantile of ``Binomial(n_rows, alpha)``
only with probability 1e-4 (``max_unsound``).

The tests: each configuration of each oracle is sound on 400 rows; the
closed form of (b) matches Monte Carlo over the smoothed classifier's own
noise (5 standard errors); the checks have bite (most rows certified with
k = 1 where the truth allows it) and power: a categorical likelihood ratio
made too small (t = log(beta / gamma) halved or 10% small, or beta taken as
1 - q) blows the same bound. Slow: 20 seeds pooled per configuration (8,000
rows), and t only 5% small caught when pooled.
"""

import numpy as np
import pytest
from scipy import optimize, special
from sklearn.frozen import FrozenEstimator

import sksmooth.certification._categorical as categorical
from sksmooth import SmoothedClassifier

from .oracles import CategoryIn, LinearWithCategoryScores
from .test_soundness_noises import max_unsound

N_ROWS, ALPHA, N0, N = 400, 0.05, 50, 300


def smoothed(base, X, sigma, q, seed, n0=N0, n=N):
    clf = SmoothedClassifier(
        FrozenEstimator(base.fit()),
        sigma=sigma,
        categorical_features=[base.column],
        categorical_noise=q,
        n0=n0,
        n=n,
        alpha=ALPHA,
        random_state=seed,
    )
    return clf.fit(X, base.predict(X))


def unsound_rows(result, true_label, exact_radius):
    """Rows with an issued certificate that is wrong at some k (``exact_radius[k]``)."""
    unsound = np.zeros(len(result), dtype=bool)
    for k, exact in enumerate(exact_radius):
        got = result.radius_with_categorical_changes(k)
        issued = ~result.abstained & (got > 0)
        unsound |= issued & ((result.label != true_label) | (got > exact + 1e-9))
    return unsound


# --- (a) a classifier of one categorical column ----------------------------------------

# (K, m, q): m q / K = 0.495 just below 1/2 (the class flips with one change;
# rows in S at 0.945, the k = 1 bound 0.9455); a constant smoothed class
# (m q / K = 0.64, rows in S certified with k = 1); S = {0} with K = 3.
CATEGORY_CASES = {"sharp": (10, 9, 0.55), "constant": (5, 4, 0.8), "small": (3, 1, 0.3)}


def category_problem(K, m, q, n_rows, seed):
    """Rows (2 numeric columns, then the category), the classifier and the exact truth."""
    rng = np.random.default_rng(seed)
    codes = np.concatenate([np.arange(K), rng.integers(0, K, n_rows - K)])  # every code in fit
    X = np.column_stack([rng.normal(size=(n_rows, 2)), codes])
    base = CategoryIn(column=2, categories=np.arange(m))
    p_in, p_out = q * m / K + (1 - q), q * m / K
    p1 = np.where(codes < m, p_in, p_out)
    label = (p1 > 0.5).astype(int)
    # Any numeric radius is exact at k = 0; with one change only if the class is constant.
    flips = (p_in > 0.5) != (p_out > 0.5)
    exact = [np.full(n_rows, np.inf), np.full(n_rows, -np.inf if flips else np.inf)]
    return base, X, label, exact


def certify_categories(case, seed, n_rows=N_ROWS):
    K, m, q = CATEGORY_CASES[case]
    base, X, label, exact = category_problem(K, m, q, n_rows, seed)
    result = smoothed(base, X, 0.5, q, seed).certify(X)
    return result, unsound_rows(result, label, exact)


@pytest.mark.parametrize("case", CATEGORY_CASES)
def test_category_oracle_is_sound(case):
    seed = list(CATEGORY_CASES).index(case)
    result, unsound = certify_categories(case, seed)
    assert unsound.sum() <= max_unsound(len(result), ALPHA)
    if case == "constant":  # bite: most rows certified with k = 1
        assert np.mean(result.radius_with_categorical_changes(1) > 0) > 0.5


def wrong_groups(monkeypatch, wrong):
    """Make the certificates use ``wrong(group)`` for every group of categorical fields."""
    original = categorical._atoms
    monkeypatch.setattr(
        categorical, "_atoms", lambda groups, counts: original([wrong(g) for g in groups], counts)
    )


def scaled_t(factor):
    """A group whose t = log(beta / gamma) is ``factor`` times its own, beta + gamma kept."""

    def wrong(group):
        ratio = (group.stay / group.switch) ** factor
        both = group.stay + group.switch  # so the other categories keep their mass
        return categorical._Group(both * ratio / (1 + ratio), both / (1 + ratio), group.size)

    return wrong


def stay_without_self_draw(group):
    """beta = 1 - q: forgetting that a replaced value may be drawn again."""
    return categorical._Group(group.stay - group.switch, group.switch, group.size)


WRONG_RATIOS = {"halved-t": scaled_t(0.5), "stay-is-1-q": stay_without_self_draw}


@pytest.mark.parametrize("wrong", [*WRONG_RATIOS, "t-10%-small"])
def test_wrong_likelihood_ratio_is_caught_by_category_oracle(monkeypatch, wrong):
    wrong_groups(monkeypatch, WRONG_RATIOS.get(wrong, scaled_t(0.9)))
    # The rows in S (p = 0.945) are then certified with k = 1, though one
    # change flips them. Over seeds 0-29: at least 320 (halved t, 1 - q) and
    # 99 (t 10% small) unsound rows of 400, against a bound of 38 and at most
    # 18 with the right ratio.
    result, unsound = certify_categories("sharp", seed=0)
    assert unsound.sum() > 2 * max_unsound(len(result), ALPHA)


# --- (b) linear in the numeric columns plus a score per category -----------------------

K_SCORED, SIGMA = 5, 0.5


def mixture_problem(q, score, n_rows, seed, n_numeric=3):
    """Rows, the classifier, the smoothed class, exact radii at k = 0 and 1 (data units), P(1)."""
    rng = np.random.default_rng(seed)
    w = np.append(rng.normal(size=n_numeric), 0.0)
    b, norm_w = rng.normal(), np.linalg.norm(w)
    scores = np.zeros(K_SCORED)
    scores[:2] = score * SIGMA * norm_w, -score * SIGMA * norm_w
    beta, gamma = 1 - q + q / K_SCORED, q / K_SCORED

    def p1(u, c):
        draw = np.where(np.arange(K_SCORED) == c, beta, gamma)
        return draw @ special.ndtr((u + scores) / (SIGMA * norm_w))

    width = SIGMA * norm_w * (np.abs(score) + 10)
    threshold = np.array(
        [
            optimize.brentq(lambda u, c=c: p1(u, c) - 0.5, -width, width, xtol=1e-13)
            for c in range(K_SCORED)
        ]
    )
    # Most rows on category 0 (high score) or 1 (low score), where f is nearly
    # extremal; margins spread over 3 noise widths either side of the threshold.
    codes = np.concatenate(
        [
            np.arange(K_SCORED),
            rng.choice(K_SCORED, n_rows - K_SCORED, p=[0.4, 0.4, 0.1, 0.05, 0.05]),
        ]
    )
    margin = threshold[codes] + rng.uniform(-3, 3, n_rows) * SIGMA * norm_w
    X = rng.normal(size=(n_rows, n_numeric + 1))
    X[:, -1] = 0.0
    X += ((margin - (X @ w + b)) / (w @ w))[:, None] * w
    X[:, -1] = codes
    margin = X @ w + b
    label = (margin > threshold[codes]).astype(int)
    sign = np.where(label == 1, 1.0, -1.0)
    exact0 = sign * (margin - threshold[codes]) / norm_w
    exact1 = np.min(sign[:, None] * (margin[:, None] - threshold[None, :]), axis=1) / norm_w
    base = LinearWithCategoryScores(w, b, column=n_numeric, scores=scores)
    probability = np.array([p1(u, c) for u, c in zip(margin, codes, strict=True)])
    return base, X, label, [exact0, exact1], probability


# (q, score a in units of sigma ||w||): a = 0 ignores the category (k = 0
# alone decides, where Cohen's bound is exact); q = 0.8 certifies most rows
# with a change; (0.65, 2) is near the joint extremal set, where a wrong
# ratio shows.
MIXTURE_CASES = {
    "flat": (0.7, 0.0),
    "high-q": (0.8, 1.0),
    "mid": (0.5, 1.5),
    "extremal": (0.65, 2.0),
}


def certify_mixture(case, seed, n_rows=N_ROWS):
    q, score = MIXTURE_CASES[case]
    base, X, label, exact, _ = mixture_problem(q, score, n_rows, seed)
    result = smoothed(base, X, SIGMA, q, seed).certify(X)
    return result, unsound_rows(result, label, exact)


def test_mixture_oracle_matches_monte_carlo():
    # The oracle's closed form against the smoothed classifier's own noise:
    # 200,000 noisy copies per row, within 5 standard errors.
    q, score = MIXTURE_CASES["extremal"]
    base, X, _, _, probability = mixture_problem(q, score, 8, seed=0)
    clf = smoothed(base, X, SIGMA, q, seed=0)
    rng = np.random.default_rng(0)
    for row, p1 in zip(X, probability, strict=True):
        noisy = np.empty((200_000, X.shape[1]))
        clf._noise_model().noisy_rows_(noisy, row, rng)
        estimate = base.predict(noisy).mean()
        assert abs(estimate - p1) < 5 * np.sqrt(p1 * (1 - p1) / len(noisy)) + 1e-12


@pytest.mark.parametrize("case", MIXTURE_CASES)
def test_mixture_oracle_is_sound(case):
    seed = 10 + list(MIXTURE_CASES).index(case)
    result, unsound = certify_mixture(case, seed)
    assert unsound.sum() <= max_unsound(len(result), ALPHA)
    if case == "high-q":
        assert np.mean(result.radius_with_categorical_changes(1) > 0) > 0.5  # bite


@pytest.mark.parametrize("wrong", WRONG_RATIOS)
def test_wrong_likelihood_ratio_is_caught_by_mixture_oracle(monkeypatch, wrong):
    wrong_groups(monkeypatch, WRONG_RATIOS[wrong])
    # Over seeds 0-29: at least 95 (halved t) and 63 (1 - q) unsound rows of
    # 400, against a bound of 38 and at most 4 with the right ratio.
    result, unsound = certify_mixture("extremal", seed=13)
    assert unsound.sum() > max_unsound(len(result), ALPHA)


# --- pooled sweeps -------------------------------------------------------------

SWEEP_SEEDS = range(100, 120)
SWEEP_CASES = [("category", case) for case in CATEGORY_CASES] + [
    ("mixture", case) for case in MIXTURE_CASES
]


def sweep(oracle, case):
    """Unsound rows and rows, pooled over the sweep's seeds (8,000 rows)."""
    certify = certify_categories if oracle == "category" else certify_mixture
    runs = [certify(case, seed) for seed in SWEEP_SEEDS]
    return sum(int(bad.sum()) for _, bad in runs), sum(len(result) for result, _ in runs)


@pytest.mark.slow
@pytest.mark.parametrize("oracle, case", SWEEP_CASES)
def test_certificates_are_sound_over_many_seeds(oracle, case):
    unsound, rows = sweep(oracle, case)
    assert unsound <= max_unsound(rows, ALPHA)


@pytest.mark.slow
def test_pooled_check_catches_t_five_percent_too_small(monkeypatch):
    # Pooled over 20 seeds, the sharp category oracle tells t from 0.95 t
    # (measured: 736 unsound rows of 8,000 against a bound of 474).
    wrong_groups(monkeypatch, scaled_t(0.95))
    unsound, rows = sweep("category", "sharp")
    assert unsound > max_unsound(rows, ALPHA)
