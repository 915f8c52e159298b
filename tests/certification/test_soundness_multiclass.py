"""CERTIFY's guarantee with more than two classes, on base classifiers with closed-form votes.

Two base classifiers whose smoothed vote probabilities are known exactly:

- :class:`OrthantClassifier`: two orthogonal half-spaces split the space into
  three classes; each vote probability is a product of normal CDFs.
- :class:`IntervalClassifier`: the class is the interval that ``u.x`` falls
  in (``u`` a unit vector); each probability is a difference of normal CDFs.
  The smoothed classifier depends on ``u.x`` only, so its exact robust radius
  is the distance along ``u`` to the nearest point where its top class changes.

Whatever the candidate class ``c`` that the selection samples pick, the
estimation samples are independent of them, so ``P(p_lower > p_c) <= alpha``
(one-sided Clopper-Pearson; union-bounded over the looks in the sequential
modes). Every unsound outcome implies such a *bound failure*: a radius above
``sigma * Phi^-1(p_c)``, or a certificate for a class other than the smoothed
classifier's (whose ``p_c <= 1/2 < p_lower``). Rows draw independent noise, so
the number of failures among ``N`` rows is stochastically below
``Binomial(N, alpha)``; each check allows its ``1 - 1e-4`` quantile, which
bounds the check's own false-alarm rate by ``1e-4``.
"""

import numpy as np
import pytest
import torch
from scipy import optimize, stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetClassifier
from torch import nn

from sksmooth import SmoothedClassifier
from sksmooth.certification import clopper_pearson_lower

from ..conftest import DEVICES, patch_lower_bound

FALSE_ALARM = 1e-4


def max_failures(n_checks: int, alpha: float) -> int:
    """Most failures a sound procedure may show in ``n_checks`` independent checks.

    More than this occur with probability below ``FALSE_ALARM`` when each
    check fails with probability at most ``alpha``.
    """
    return int(stats.binom.ppf(1 - FALSE_ALARM, n_checks, alpha))


def orthonormal_directions(n_directions, n_features, rng):
    q, _ = np.linalg.qr(rng.normal(size=(n_features, n_directions)))
    return q.T


# --- base classifiers with closed-form smoothed probabilities ---------------


class OrthantClassifier(ClassifierMixin, BaseEstimator):
    """Class 0 if t1 > 0 and t2 > 0, class 1 if t1 > 0 and t2 <= 0, class 2 if t1 <= 0.

    ``t = directions @ x + offsets`` with orthonormal ``directions``, so under
    noise ``N(0, sigma^2 I)`` the two coordinates of ``t`` are independent.
    """

    def __init__(self, directions=None, offsets=None, classes=(0, 1, 2)):
        self.directions = directions
        self.offsets = offsets
        self.classes = classes

    def fit(self, X=None, y=None):
        self.classes_ = np.asarray(self.classes)
        self.n_features_in_ = self.directions.shape[1]
        return self

    def predict(self, X):
        t = X @ self.directions.T + self.offsets
        index = np.where(t[:, 0] <= 0, 2, np.where(t[:, 1] > 0, 0, 1))
        return self.classes_[index]

    def smoothed_proba(self, X, sigma):
        t = (X @ self.directions.T + self.offsets) / sigma
        first, second = stats.norm.cdf(t[:, 0]), stats.norm.cdf(t[:, 1])
        return np.column_stack(
            [first * second, first * stats.norm.sf(t[:, 1]), stats.norm.sf(t[:, 0])]
        )


def interval_proba(s, cuts, sigma):
    """Probability that ``s + sigma z`` falls in each interval cut at ``cuts``."""
    edges = np.concatenate([[-np.inf], cuts, [np.inf]])
    return np.diff(stats.norm.cdf((edges[None, :] - np.asarray(s)[:, None]) / sigma), axis=1)


class IntervalClassifier(ClassifierMixin, BaseEstimator):
    """Class k where ``cuts[k - 1] < u.x <= cuts[k]``, with ``u`` a unit vector."""

    def __init__(self, direction=None, cuts=None, classes=None):
        self.direction = direction
        self.cuts = cuts
        self.classes = classes

    def fit(self, X=None, y=None):
        self.classes_ = np.asarray(self.classes)
        self.n_features_in_ = len(self.direction)
        return self

    def predict(self, X):
        return self.classes_[np.searchsorted(self.cuts, X @ self.direction)]

    def smoothed_proba(self, X, sigma):
        return interval_proba(X @ self.direction, self.cuts, sigma)

    def smoothed_boundaries(self, sigma):
        """Points of the line ``u.x`` where the smoothed classifier's top class changes."""
        grid = np.linspace(self.cuts[0] - 10 * sigma, self.cuts[-1] + 10 * sigma, 20_001)
        top = interval_proba(grid, self.cuts, sigma).argmax(axis=1)
        boundaries = []
        for i in np.flatnonzero(np.diff(top)):
            a, b = top[i], top[i + 1]

            def lead(s, a=a, b=b):
                p = interval_proba([s], self.cuts, sigma)[0]
                return p[a] - p[b]

            boundaries.append(optimize.brentq(lead, grid[i], grid[i + 1], xtol=1e-12))
        return np.array(boundaries)

    def exact_radius(self, X, sigma):
        """Exact L2 robust radius of the smoothed classifier at each row."""
        boundaries = self.smoothed_boundaries(sigma)
        return np.abs((X @ self.direction)[:, None] - boundaries[None, :]).min(axis=1)


# --- problems ----------------------------------------------------------------


def orthant_problem(n_rows, n_features, sigma, seed, classes=(0, 1, 2)):
    """Rows whose coordinates ``t / sigma`` are uniform in [-2.5, 2.5]^2."""
    rng = np.random.default_rng(seed)
    directions = orthonormal_directions(2, n_features, rng)
    offsets = rng.normal(size=2)
    target = rng.uniform(-2.5 * sigma, 2.5 * sigma, size=(n_rows, 2))
    X = rng.normal(size=(n_rows, n_features))
    # Move each row within span(directions) until t hits its target.
    X += (target - (X @ directions.T + offsets)) @ directions
    return OrthantClassifier(directions, offsets, classes).fit(), X


def interval_problem(n_rows, n_features, sigma, seed, n_classes=3, classes=None, gap=(2, 4)):
    """Cuts ``gap[0]`` to ``gap[1]`` sigmas apart; rows from 2.5 sigma outside them."""
    rng = np.random.default_rng(seed)
    direction = orthonormal_directions(1, n_features, rng)[0]
    cuts = rng.normal() + np.cumsum(rng.uniform(*gap, n_classes - 1)) * sigma
    s = rng.uniform(cuts[0] - 2.5 * sigma, cuts[-1] + 2.5 * sigma, n_rows)
    X = rng.normal(size=(n_rows, n_features))
    X += (s - X @ direction)[:, None] * direction
    classes = np.arange(n_classes) if classes is None else np.asarray(classes)
    return IntervalClassifier(direction, cuts, classes).fit(), X


PROBLEMS = {"orthant": orthant_problem, "interval": interval_problem}


def smoothed(base, X, sigma, alpha, seed, n0=50, n=400):
    clf = SmoothedClassifier(
        FrozenEstimator(base), sigma=sigma, n0=n0, n=n, alpha=alpha, random_state=seed
    )
    return clf.fit(X, base.predict(X))


# --- checks ------------------------------------------------------------------


def true_proba_of_label(base, X, sigma, label):
    """The exact smoothed probability of each row's returned label."""
    index = np.searchsorted(base.classes_, label)  # classes_ are sorted
    return base.smoothed_proba(X, sigma)[np.arange(len(X)), index]


def failures(result, base, X, sigma):
    """Per-row failure flags: bound above truth, radius above the pA radius."""
    p_true = true_proba_of_label(base, X, sigma, result.label)
    bound = result.p_lower > p_true
    # sigma * Phi^-1(pA), and 0 where pA <= 1/2: no certificate is correct there.
    pa_radius = np.where(p_true > 0.5, sigma * stats.norm.ppf(np.maximum(p_true, 0.5)), 0.0)
    radius = result.radius > pa_radius + 1e-12
    return bound, radius


def robust_failures(result, base, X, sigma):
    """Issued certificates with another label than g(x), or a radius above g's exact one."""
    top = base.classes_[base.smoothed_proba(X, sigma).argmax(axis=1)]
    issued = ~result.abstained
    wrong = (result.label != top) | (result.radius > base.exact_radius(X, sigma) + 1e-9)
    return issued & wrong


# --- fixed-n CERTIFY ---------------------------------------------------------

FIXED_CASES = [
    # problem, seed, n_features, sigma, alpha, options
    ("orthant", 0, 2, 0.25, 0.01, {}),
    ("orthant", 1, 20, 1.0, 0.1, {"classes": ("a", "b", "c")}),
    ("orthant", 2, 100, 0.1, 0.05, {}),
    ("interval", 3, 5, 0.5, 0.05, {}),
    ("interval", 4, 50, 0.1, 0.01, {"n_classes": 4, "classes": ["w", "x", "y", "z"]}),
    ("interval", 5, 2, 1.0, 0.1, {"n_classes": 5}),
]
N_ROWS = 500


def certify_case(problem, seed, n_features, sigma, alpha, options, **certify_params):
    base, X = PROBLEMS[problem](N_ROWS, n_features, sigma, seed, **options)
    return smoothed(base, X, sigma, alpha, seed).certify(X, **certify_params), base, X


@pytest.mark.parametrize("case", FIXED_CASES, ids=lambda case: f"{case[0]}-{case[1]}")
def test_multiclass_certificates_are_sound(case):
    problem, seed, n_features, sigma, alpha, options = case
    result, base, X = certify_case(*case)
    bound, radius = failures(result, base, X, sigma)
    assert bound.sum() <= max_failures(N_ROWS, alpha)
    assert radius.sum() <= max_failures(N_ROWS, alpha)
    if problem == "interval":
        assert robust_failures(result, base, X, sigma).sum() <= max_failures(N_ROWS, alpha)
    # Not vacuous: many rows certified, and many rows were competed for by several classes.
    assert np.mean(~result.abstained) > 0.3
    p_sorted = np.sort(base.smoothed_proba(X, sigma), axis=1)
    assert np.mean(p_sorted[:, -2] > 0.05) > 0.2


def test_multiclass_check_catches_the_point_estimate(monkeypatch):
    # The point estimate nA / n as "lower bound" overshoots about half the time.
    patch_lower_bound(monkeypatch, lambda k, n, alpha: np.asarray(k) / n)
    for case in FIXED_CASES[:2] + FIXED_CASES[3:4]:
        result, base, X = certify_case(*case)
        bound, radius = failures(result, base, X, case[3])
        assert bound.sum() > 2 * max_failures(N_ROWS, case[4])
        assert radius.sum() > 2 * max_failures(N_ROWS, case[4])


@pytest.mark.parametrize("case", [FIXED_CASES[1], FIXED_CASES[3]], ids=["orthant", "interval"])
def test_multiclass_check_catches_a_bound_at_five_times_alpha(case, monkeypatch):
    # Clopper-Pearson at level 5 alpha is a valid bound at 5 alpha, not at
    # alpha: the check must tell the difference.
    original = clopper_pearson_lower
    patch_lower_bound(monkeypatch, lambda k, n, alpha: original(k, n, 5 * alpha))
    result, base, X = certify_case(*case)
    bound, _ = failures(result, base, X, case[3])
    assert bound.sum() > max_failures(N_ROWS, case[4])


# --- the exact robust radius of the interval classifier ------------------------


def test_interval_oracle_exact_radius_dominates_the_known_lower_bounds():
    # The oracle's own check: the exact robust radius of g can be no smaller
    # than Cohen et al.'s radii sigma Phi^-1(pA) and
    # (sigma / 2) (Phi^-1(pA) - Phi^-1(pB)), and is strictly larger somewhere
    # (the middle class, whose runner-up has well under 1 - pA).
    sigma = 0.5
    base, X = interval_problem(400, 3, sigma, seed=7, n_classes=4)
    p = np.sort(base.smoothed_proba(X, sigma), axis=1)
    exact = base.exact_radius(X, sigma)
    pa_radius = np.where(p[:, -1] > 0.5, sigma * stats.norm.ppf(p[:, -1]), 0.0)
    two_class = sigma / 2 * (stats.norm.ppf(p[:, -1]) - stats.norm.ppf(p[:, -2]))
    assert np.all(pa_radius <= exact + 1e-9)
    assert np.all(two_class <= exact + 1e-9)
    assert np.max(exact - two_class) > 0.1 * sigma
    # Where the top class changes, the two leading probabilities are equal.
    boundaries = base.smoothed_boundaries(sigma)
    p_boundary = np.sort(interval_proba(boundaries, base.cuts, sigma), axis=1)
    np.testing.assert_allclose(p_boundary[:, -1], p_boundary[:, -2], atol=1e-9)


def test_radius_approaches_the_exact_multiclass_radius_with_many_samples():
    # Cuts 10 sigma apart: near a cut only its two classes get votes, so the
    # exact radius of g is the distance to that cut, equal to sigma Phi^-1(pA).
    # With n = 100,000 and alpha = 0.001 the Clopper-Pearson gap costs under
    # 0.02 sigma of radius for exact radii in [0.2 sigma, 1.5 sigma] (delta
    # method); 0.05 sigma is the stated tolerance. n0 = 2,000 selects the
    # top class (pA >= Phi(0.2) = 0.58) wrongly with probability below 1e-12
    # per row, against 0.06 with n0 = 50.
    sigma = 0.5
    base, X = interval_problem(300, 4, sigma, seed=8, n_classes=3, gap=(10, 10))
    exact = base.exact_radius(X, sigma)
    keep = (exact > 0.2 * sigma) & (exact < 1.5 * sigma)
    X, exact = X[keep][:20], exact[keep][:20]
    result = smoothed(base, X, sigma, 0.001, seed=0, n0=2000, n=100_000).certify(X)
    assert not result.abstained.any()
    np.testing.assert_array_equal(result.label, base.predict(X))
    assert np.all(result.radius <= exact)
    np.testing.assert_allclose(result.radius, exact, atol=0.05 * sigma)


# --- the torch fast path -------------------------------------------------------


class IntervalModule(nn.Module):
    """The interval rule as a torch module: one-hot scores of the interval of u.x."""

    def __init__(self, direction, cuts):
        super().__init__()
        self.direction = nn.Parameter(torch.as_tensor(direction, dtype=torch.float32))
        self.register_buffer("cuts", torch.as_tensor(cuts, dtype=torch.float32))

    def forward(self, X):
        index = torch.bucketize(X @ self.direction, self.cuts)
        return nn.functional.one_hot(index, len(self.cuts) + 1).float()


def interval_net(base, device="cpu"):
    """A skorch net computing ``base``'s rule, ready without training."""
    net = NeuralNetClassifier(
        IntervalModule,
        module__direction=base.direction,
        module__cuts=base.cuts,
        classes=base.classes_,
        criterion=nn.CrossEntropyLoss,
        device=device,
    )
    return net.initialize()


@pytest.mark.parametrize("device", DEVICES)
def test_torch_path_certificates_are_sound(device):
    # The same check through a skorch net: noise drawn by torch on the net's
    # device in float32, votes from the module's argmax.
    sigma, alpha = 0.5, 0.1
    base, X = interval_problem(N_ROWS, 30, sigma, seed=9, n_classes=4)
    net = interval_net(base, device)
    np.testing.assert_array_equal(net.predict(X.astype(np.float32)), base.predict(X))
    clf = SmoothedClassifier(
        FrozenEstimator(net), sigma=sigma, n0=50, n=400, alpha=alpha, random_state=9
    )
    result = clf.fit(X, base.predict(X)).certify(X)
    bound, radius = failures(result, base, X, sigma)
    assert bound.sum() <= max_failures(N_ROWS, alpha)
    assert radius.sum() <= max_failures(N_ROWS, alpha)
    assert robust_failures(result, base, X, sigma).sum() <= max_failures(N_ROWS, alpha)
    assert np.mean(~result.abstained) > 0.5


# --- sequential modes ------------------------------------------------------------

SEQUENTIAL_CASES = [FIXED_CASES[0], FIXED_CASES[1], FIXED_CASES[3], FIXED_CASES[5]]
N_CAP = 800  # looks at 100, 200, 400, 800


@pytest.mark.parametrize("mode", ["decision", "adaptive"])
@pytest.mark.parametrize("case", SEQUENTIAL_CASES, ids=lambda case: f"{case[0]}-{case[1]}")
def test_multiclass_sequential_certificates_are_sound(case, mode):
    problem, seed, n_features, sigma, alpha, options = case
    # Decision mode at radius sigma / 2 (threshold pA = 0.69, inside the
    # rows' range of pA); adaptive mode up to N_CAP samples.
    params = {"radius": sigma / 2} if mode == "decision" else {"n_max": N_CAP}
    base, X = PROBLEMS[problem](N_ROWS, n_features, sigma, seed, **options)
    result = smoothed(base, X, sigma, alpha, seed, n=N_CAP).certify(X, **params)
    bound, radius = failures(result, base, X, sigma)
    assert bound.sum() <= max_failures(N_ROWS, alpha)
    assert radius.sum() <= max_failures(N_ROWS, alpha)
    if problem == "interval":
        assert robust_failures(result, base, X, sigma).sum() <= max_failures(N_ROWS, alpha)
    assert result.n_samples.min() < N_CAP  # some rows stop early
    assert np.mean(~result.abstained) > 0.3


def test_adaptive_mode_check_catches_a_missing_union_bound(monkeypatch):
    # Each look's bound at alpha instead of alpha / 4: the best of four looks
    # overshoots far more often than alpha.
    original = clopper_pearson_lower
    patch_lower_bound(monkeypatch, lambda k, n, alpha: original(k, n, alpha * 4))
    sigma, alpha, n_rows = 1.0, 0.1, 1000
    base, X = interval_problem(n_rows, 2, sigma, seed=10, n_classes=3)
    result = smoothed(base, X, sigma, alpha, seed=10, n=N_CAP).certify(X, n_max=N_CAP)
    bound, _ = failures(result, base, X, sigma)
    assert bound.sum() > max_failures(n_rows, alpha)


# --- a deeper sweep --------------------------------------------------------------

ALPHAS = (0.01, 0.05, 0.1)
# certify's arguments per mode: fixed n = 400, decision mode at radius sigma / 2,
# adaptive mode up to 400 samples.
MODES = {
    "fixed": lambda sigma: {},
    "decision": lambda sigma: {"radius": sigma / 2},
    "adaptive": lambda sigma: {"n_max": 400},
}


def sweep_cases(n_seeds):
    """Both problems over seeds, dimensions 2 to 100 and sigma 0.1 to 1."""
    dims, sigmas = (2, 5, 10, 30, 100), (0.1, 0.25, 0.5, 1.0)
    for seed in range(n_seeds):
        yield "orthant", 100 + seed, dims[seed % 5], sigmas[seed % 4], {}
        options = {"n_classes": 3 + seed % 3}
        yield "interval", 200 + seed, dims[(seed + 2) % 5], sigmas[(seed + 1) % 4], options


def sweep_failures(mode, alpha, n_seeds, n_rows):
    """Pooled bound and radius failures of one mode and alpha, and the rows checked."""
    bound_failures = radius_failures = rows = 0
    for problem, seed, n_features, sigma, options in sweep_cases(n_seeds):
        base, X = PROBLEMS[problem](n_rows, n_features, sigma, seed, **options)
        clf = smoothed(base, X, sigma, alpha, seed=seed + int(1000 * alpha), n=400)
        bound, radius = failures(clf.certify(X, **MODES[mode](sigma)), base, X, sigma)
        bound_failures += bound.sum()
        radius_failures += radius.sum()
        rows += n_rows
    return bound_failures, radius_failures, rows


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("alpha", ALPHAS)
def test_multiclass_soundness_over_many_seeds(mode, alpha):
    # 20 problems of 400 rows (8,000 certificates) per mode and alpha: the
    # pooled failure counts stay within the binomial tolerance.
    bound, radius, rows = sweep_failures(mode, alpha, n_seeds=10, n_rows=400)
    assert bound <= max_failures(rows, alpha)
    assert radius <= max_failures(rows, alpha)
