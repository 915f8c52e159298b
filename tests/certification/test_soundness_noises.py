"""CERTIFY's guarantee for every noise and norm, checked against the linear oracle.

For a binary linear base classifier f(x) = 1[w.x + b > 0] and any noise
symmetric about 0, ``P(f(x + noise) = f(x)) = P(w.noise < |w.x + b|) > 1/2``,
so the smoothed classifier equals f. Its exact robust distance in a norm
``p`` is then the distance to the hyperplane, ``|w.x + b| / ||w||_q`` with
``q`` the dual norm (L2 -> L2, L1 -> L-infinity, L-infinity -> L1). With a
per-column sigma the certified region is ``{delta : ||delta / sigma||_p <= R}``
over the noised columns (``delta`` is 0 on the others), and the exact ``R`` is
``|w.x + b| / ||sigma * w||_q``, the dual norm taken over the noised columns.

A certificate is *unsound* when it is issued (not an abstention) with a wrong
label or a radius above the exact one. CERTIFY promises this happens with
probability at most alpha per row; rows draw independent noise, so among
``n_rows`` rows more than the ``1 - 1e-4`` quantile of
``Binomial(n_rows, alpha)`` is a failure, with false-alarm rate 1e-4.
"""

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.frozen import FrozenEstimator

from sksmooth import SmoothedClassifier
from sksmooth.noise import LaplaceNoise, UniformNoise

from .oracles import NOISE_NORMS, LinearThreshold

FALSE_ALARM = 1e-4
N_ROWS, ALPHA = 400, 0.05
N0, N, N_CAP = 50, 300, 800  # N_CAP: sequential looks at 100, 200, 400, 800

# Five columns: one sigma for all (radii in the data's units); per-column
# sigmas with one or two columns left without noise; and a single noised
# column, where every formula is exact and the check is at its sharpest.
SIGMAS = {
    "scalar": 0.5,
    "one-zero": [0.5, 0.0, 1.0, 0.25, 0.8],
    "two-zeros": [0.3, 0.0, 0.0, 1.2, 0.6],
    "one-noised": [0.0, 0.0, 0.8, 0.0, 0.0],
}
DUAL_ORD = {"l2": 2, "l1": np.inf, "linf": 1}


def linear_oracle_problem(n_rows, sigma, norm, seed, spread=(-3.0, 3.0), n_features=5):
    """Rows with the exact robust distance of each, in the units of ``certify``'s radius.

    The signed margins ``w.x + b`` are uniform over ``spread`` times the
    standard deviation of ``w.noise`` (``||sigma * w||_2`` for every noise,
    each of standard deviation 1 per column before scaling), so the rows'
    probabilities under noise are spread alike for every noise and norm.
    """
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n_features)
    b = rng.normal()
    scalar = np.isscalar(sigma)
    scales = np.full(n_features, float(sigma)) if scalar else np.asarray(sigma, dtype=float)
    margin = rng.uniform(*spread, n_rows) * np.linalg.norm(scales * w)
    # Start anywhere, then move along w to the wanted margin.
    X = rng.normal(size=(n_rows, n_features))
    X += ((margin - (X @ w + b)) / (w @ w))[:, None] * w
    margin = X @ w + b
    noised = scales > 0
    weights = w[noised] if scalar else (scales * w)[noised]
    exact = np.abs(margin) / np.linalg.norm(weights, ord=DUAL_ORD[norm])
    base = FrozenEstimator(LinearThreshold(w, b).fit())
    return base, X, (margin > 0).astype(int), exact


def unsound_count(result, true_label, exact_radius):
    issued = ~result.abstained
    wrong = (result.label != true_label) | (result.radius > exact_radius + 1e-12)
    return int(np.sum(issued & wrong))


def max_unsound(n_rows, alpha):
    """Most unsound rows a sound procedure may show among ``n_rows``."""
    return int(stats.binom.ppf(1 - FALSE_ALARM, n_rows, alpha))


MAX_UNSOUND = max_unsound(N_ROWS, ALPHA)


def decision_radius(clf, norm):
    """A radius that most rows reach: the certified radius at probability 0.7."""
    return float(clf._noise_model().radius(0.7, norm))


def certify_oracle(
    noise, norm, sigma, mode, seed, n_rows=N_ROWS, n0=N0, n=N, alpha=ALPHA, **problem
):
    base, X, label, exact = linear_oracle_problem(n_rows, sigma, norm, seed, **problem)
    clf = SmoothedClassifier(
        base, sigma=sigma, noise=noise, n0=n0, n=n, alpha=alpha, random_state=seed
    ).fit(X, label)
    if mode == "fixed":
        result = clf.certify(X, norm=norm)
    elif mode == "decision":
        result = clf.certify(X, norm=norm, radius=decision_radius(clf, norm), n=N_CAP)
    else:
        result = clf.certify(X, norm=norm, n_max=N_CAP)
    return clf, result, label, exact


CASES = [
    (noise, norm, sigma, mode)
    for noise, norm in NOISE_NORMS
    for sigma in SIGMAS
    for mode in ("fixed", "decision", "adaptive")
]


@pytest.mark.parametrize("noise, norm, sigma, mode", CASES)
def test_certificates_are_sound_on_linear_oracle(noise, norm, sigma, mode):
    seed = CASES.index((noise, norm, sigma, mode))
    clf, result, label, exact = certify_oracle(noise, norm, SIGMAS[sigma], mode, seed)
    assert result.noise == noise and result.norm == norm
    assert unsound_count(result, label, exact) <= MAX_UNSOUND
    # The check must not pass by abstaining everywhere.
    assert np.mean(~result.abstained) > 0.5
    if mode == "decision":
        radius = decision_radius(clf, norm)
        assert np.mean(~result.abstained & (result.radius >= radius)) > 0.5
        assert result.n_samples.mean() < N_CAP / 2  # rows are decided early
    if mode == "adaptive":
        assert result.n_samples.max() <= N_CAP


@pytest.mark.parametrize("noise, norm", NOISE_NORMS)
def test_radius_is_near_exact_with_one_noised_column(noise, norm):
    # With one noised column every formula is exact at the true probability,
    # so only the Clopper-Pearson gap separates the certificate from the
    # exact distance. At n = 10,000 and alpha = 0.01 that gap costs about
    # 0.04 sigma on radii of 0.3 to 1.5 sigma (delta method); the median
    # ratio must exceed 0.9. Each row's estimate also varies: at 4.5 standard
    # deviations (false alarm about 2e-4 over 60 rows) the gap reaches 0.12
    # sigma at a radius of 0.3 sigma for uniform noise (Gaussian 0.09,
    # Laplace 0.07), so every ratio must exceed 0.6. A ratio above 1 is the
    # failure alpha allows (measured: one row in 60 for Laplace and uniform).
    n_rows, alpha = 60, 0.01
    _, result, label, exact = certify_oracle(
        noise,
        norm,
        SIGMAS["one-noised"],
        "fixed",
        seed=0,
        n_rows=n_rows,
        n0=1000,
        n=10_000,
        alpha=alpha,
        spread=(0.3, 1.5),
    )
    assert np.all(~result.abstained) and np.all(result.label == label)
    assert unsound_count(result, label, exact) <= max_unsound(n_rows, alpha)
    ratio = result.radius / exact
    assert np.median(ratio) > 0.9
    assert ratio.min() > 0.6


def scaled_radius(monkeypatch, noise_class, factor):
    """Make every radius of ``noise_class`` ``factor`` times what its formula gives."""
    original = noise_class.radius
    monkeypatch.setattr(
        noise_class,
        "radius",
        lambda self, p, norm, n_noised: factor * original(self, p, norm, n_noised),
    )


@pytest.mark.parametrize(
    "noise_class, factor",
    [(LaplaceNoise, 2.0), (LaplaceNoise, math.sqrt(2.0)), (UniformNoise, 2.0)],
    ids=["laplace-doubled-scale", "laplace-scale-as-std", "uniform-doubled-width"],
)
@pytest.mark.parametrize("norm", ["l1", "linf"])
def test_soundness_check_catches_a_wrong_radius(monkeypatch, noise_class, factor, norm):
    # Laplace radii with the scale doubled or taken as sigma instead of
    # sigma / sqrt(2); uniform radii with the half-width doubled. Where the
    # formulas are exact (one noised column), most certificates then exceed
    # the exact distance.
    scaled_radius(monkeypatch, noise_class, factor)
    _, result, label, exact = certify_oracle(
        noise_class.name, norm, SIGMAS["one-noised"], "fixed", seed=1
    )
    assert unsound_count(result, label, exact) > 3 * MAX_UNSOUND


# --- pooled sweeps -------------------------------------------------------------

SWEEP_SEEDS = range(100, 110)


@pytest.mark.slow
@pytest.mark.parametrize("noise, norm", NOISE_NORMS)
def test_certificates_are_sound_over_many_seeds(noise, norm):
    # Per sigma: 10 problems in each of the three modes pooled (12,000 rows);
    # the pooled unsound count stays within alpha at the same false-alarm rate.
    for sigma in SIGMAS.values():
        unsound = 0
        for seed in SWEEP_SEEDS:
            for mode in ("fixed", "decision", "adaptive"):
                _, result, label, exact = certify_oracle(noise, norm, sigma, mode, seed)
                unsound += unsound_count(result, label, exact)
        assert unsound <= max_unsound(len(SWEEP_SEEDS) * 3 * N_ROWS, ALPHA)


@pytest.mark.slow
@pytest.mark.parametrize("noise_class", [LaplaceNoise, UniformNoise])
@pytest.mark.parametrize("norm", ["l1", "linf"])
def test_pooled_check_catches_radii_ten_percent_too_large(monkeypatch, noise_class, norm):
    # Pooled over 10 problems (4,000 rows), the check tells a radius 10% above
    # the formula from the formula itself.
    scaled_radius(monkeypatch, noise_class, 1.1)
    unsound = 0
    for seed in SWEEP_SEEDS:
        _, result, label, exact = certify_oracle(
            noise_class.name, norm, SIGMAS["one-noised"], "fixed", seed
        )
        unsound += unsound_count(result, label, exact)
    assert unsound > max_unsound(len(SWEEP_SEEDS) * N_ROWS, ALPHA)
