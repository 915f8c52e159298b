"""Denoised smoothing: the certificate of f(D(x)), the denoiser's training noise, bad input.

The composed classifier's guarantee is checked against an exact oracle: a
binary linear base f(u) = 1[w.u + b > 0] behind a fixed affine denoiser
D(z) = A z + c is the linear classifier 1[(A^T w).z + (w.c + b) > 0], whose
Gaussian smoothing has the exact L2 radius |w'.x + b'| / ||w'|| at
probability Phi(|w'.x + b'| / (sigma ||w'||)). For each row the exact
probability that CERTIFY issues an unsound certificate (selection, then the
Clopper-Pearson bound above the true probability, or the wrong class above
1/2) is a binomial sum; the count over the rows is Poisson-binomial, and the
observed count must lie in its two-sided interval of false-alarm
probability 1e-4. Certifying f alone, ignoring the denoiser, fails the same
check.
"""

import pickle

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetRegressor
from torch import nn

from sksmooth import SmoothedClassifier
from sksmooth.attacks import RandomSearch, SmoothAdv
from sksmooth.attacks._targets import differentiable_target
from sksmooth.certification import clopper_pearson_lower
from sksmooth.denoising import DenoiserModule, StabilityLoss, make_denoiser

from .certification.oracles import LinearThreshold
from .conftest import tiny_net

FALSE_ALARM = 1e-4
SIGMA, ALPHA, N0, N = 0.5, 0.1, 20, 200
N_ROWS = 1500


class AffineMap(nn.Module):
    """D(z) = A z + c, fixed."""

    def __init__(self, A, c):
        super().__init__()
        self.linear = nn.Linear(A.shape[1], A.shape[0])
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(A))
            self.linear.bias.copy_(torch.as_tensor(c))

    def forward(self, X):
        return self.linear(X)


def frozen_map(A, c):
    net = NeuralNetRegressor(AffineMap(A, c), max_epochs=0).initialize()
    return FrozenEstimator(net)


def linear_problem(seed, n_features=4):
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=n_features), rng.normal()
    X = rng.normal(size=(N_ROWS, n_features))
    return w, b, X, rng


MAPS = {
    "identity": lambda n: (np.eye(n), np.zeros(n)),
    # Stretches some directions, shrinks and rotates others, and shifts.
    "linear map": lambda n: (
        np.linalg.qr(np.random.default_rng(9).normal(size=(n, n)))[0]
        @ np.diag([2.0, 0.5, 1.0, 0.3]),
        np.array([0.3, -0.2, 0.1, 0.0]),
    ),
}


def composed_oracle(w, b, A, c, X):
    """Label and exact radius of the smoothed f(D(x)) at each row, and its top-class probability."""
    w_composed, b_composed = A.T @ w, w @ c + b
    margin = (X @ w_composed + b_composed) / np.linalg.norm(w_composed)
    return (margin > 0).astype(int), np.abs(margin), stats.norm.cdf(np.abs(margin) / SIGMA)


def exact_unsound_probability(p_top):
    """Per row: probability that CERTIFY (n0 = N0, n = N, alpha) issues an unsound certificate.

    Selection picks the top class when it has more of the N0 votes (a tie
    goes to class 0, the lower index, which is the top class or not by the
    row's label; counted pessimistically as the wrong class). Then, for the
    top class, unsound if its Clopper-Pearson bound exceeds the true
    probability; for the other class, any issued certificate (bound above
    1/2) is unsound.
    """
    k = np.arange(N + 1)
    lower = clopper_pearson_lower(k, N, ALPHA)
    out = np.empty(len(p_top))
    for i, p in enumerate(p_top):
        select_top = stats.binom.sf(N0 // 2, N0, p)  # strictly more than half
        estimates = stats.binom.pmf(k, N, p)
        too_high = estimates[lower > p].sum()
        other = stats.binom.pmf(k, N, 1 - p)[lower > 0.5].sum()
        out[i] = select_top * too_high + (1 - select_top) * other
    return out


def poisson_binomial_interval(probabilities):
    """Counts a sum of independent Bernoullis leaves with probability at most FALSE_ALARM."""
    pmf = np.zeros(len(probabilities) + 1)
    pmf[0] = 1.0
    for p in probabilities:
        pmf[1:] = pmf[1:] * (1 - p) + pmf[:-1] * p
        pmf[0] *= 1 - p
    cdf = np.cumsum(pmf)
    low = int(np.searchsorted(cdf, FALSE_ALARM / 2))
    high = int(np.searchsorted(cdf, 1 - FALSE_ALARM / 2))
    return low, high


def unsound_count(result, label, exact):
    issued = ~result.abstained
    return int(np.sum(issued & ((result.label != label) | (result.radius > exact + 1e-12))))


def rows_near_the_boundary(w_composed, b_composed, X, rng):
    """Move rows along w' to margins uniform in [-1.5 sigma, 1.5 sigma]: where CERTIFY errs most."""
    norm = np.linalg.norm(w_composed)
    target = rng.uniform(-1.5 * SIGMA, 1.5 * SIGMA, len(X))
    return X + ((target - (X @ w_composed + b_composed) / norm) / norm)[:, None] * w_composed


def certify_through(denoiser, w, b, X, seed):
    base = FrozenEstimator(LinearThreshold(w, b).fit())
    clf = SmoothedClassifier(
        base, sigma=SIGMA, n0=N0, n=N, alpha=ALPHA, random_state=seed, denoiser=denoiser
    )
    return clf.fit(X, (X @ w + b > 0).astype(int)).certify(X)


@pytest.mark.parametrize("name", list(MAPS))
def test_the_composed_certificate_matches_the_exact_unsound_count(name):
    w, b, X, rng = linear_problem(seed=1)
    A, c = MAPS[name](len(w))
    X = rows_near_the_boundary(A.T @ w, w @ c + b, X, rng)
    label, exact, p_top = composed_oracle(w, b, A, c, X)
    result = certify_through(frozen_map(A, c), w, b, X, seed=2)
    low, high = poisson_binomial_interval(exact_unsound_probability(p_top))
    observed = unsound_count(result, label, exact)
    assert low <= observed <= high, (observed, low, high)
    assert high < 0.2 * N_ROWS  # the interval is narrow enough to mean something


def test_certifying_the_base_alone_fails_the_same_check():
    # The wrong variant: the base's own certificate, as if the denoiser were
    # not there, judged against the composed model's exact radius.
    w, b, X, rng = linear_problem(seed=1)
    A, c = MAPS["linear map"](len(w))
    X = rows_near_the_boundary(A.T @ w, w @ c + b, X, rng)
    label, exact, p_top = composed_oracle(w, b, A, c, X)
    result = certify_through(None, w, b, X, seed=2)
    _, high = poisson_binomial_interval(exact_unsound_probability(p_top))
    assert unsound_count(result, label, exact) > high


def test_the_exact_count_is_that_of_certify():
    # The oracle itself: with no denoiser, f alone, the same computation
    # must match CERTIFY's own count (so a mistake in the oracle shows).
    w, b, X, rng = linear_problem(seed=3)
    X = rows_near_the_boundary(w, b, X, rng)
    label, exact, p_top = composed_oracle(w, b, np.eye(len(w)), np.zeros(len(w)), X)
    result = certify_through(None, w, b, X, seed=4)
    low, high = poisson_binomial_interval(exact_unsound_probability(p_top))
    assert low <= unsound_count(result, label, exact) <= high


# --- the denoiser's training noise ------------------------------------------------


class RecordingDenoiser(nn.Module):
    """Records the training inputs it sees (the noisy rows); learns a correction."""

    seen = []

    def __init__(self, input_units=3):
        super().__init__()
        self.linear = nn.Linear(input_units, input_units)

    def forward(self, X):
        if self.training:
            RecordingDenoiser.seen.append(X.detach().clone())
        return X + 0.0 * self.linear(X)


class RecordingMSE(nn.MSELoss):
    """Records the training targets (the clean rows), in the same order."""

    seen = []

    def forward(self, prediction, target):
        RecordingMSE.seen.append(target.detach().clone())
        return super().forward(prediction, target)


def training_noise(noise, sigma, X, y, **params):
    RecordingDenoiser.seen, RecordingMSE.seen = [], []
    denoiser = NeuralNetRegressor(
        RecordingDenoiser,
        criterion=RecordingMSE,
        max_epochs=2,
        batch_size=200,
        train_split=None,
    )
    clf = SmoothedClassifier(
        LogisticRegression(), sigma=sigma, noise=noise, random_state=0, denoiser=denoiser, **params
    )
    clf.fit(X, y)
    noisy = torch.cat(RecordingDenoiser.seen).double().numpy()
    clean = torch.cat(RecordingMSE.seen).double().numpy()
    return noisy, clean


def test_the_denoiser_trains_under_the_smoothing_noise_and_scales():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    y = (X[:, 0] > 0).astype(int)
    sigma = np.array([0.5, 0.0, 2.0])
    noisy, clean = training_noise("laplace", sigma, X, y)
    difference = noisy - clean
    assert len(difference) == 2 * len(X)  # every row, every epoch
    assert np.all(difference[:, 1] == 0)  # a column with sigma 0 stays clean
    # Laplace with standard deviation sigma: scale sigma / sqrt(2); float32 rows.
    for column in (0, 2):
        scale = sigma[column] / np.sqrt(2)
        assert stats.kstest(difference[:, column], "laplace", args=(0, scale)).pvalue > 1e-3
        assert stats.kstest(difference[:, column], "norm", args=(0, sigma[column])).pvalue < 1e-6


def test_categorical_columns_are_replaced_in_training_and_passed_through():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=3000), rng.integers(0, 4, 3000), rng.normal(size=3000)])
    y = (X[:, 0] > 0).astype(int)
    noisy, clean = training_noise(
        "gaussian", 0.3, X, y, categorical_features=[1], categorical_noise=0.4
    )
    changed = noisy[:, 1] != clean[:, 1]
    # Replaced with probability 0.4 by one of 4 categories, so changed 0.4 * 3/4 of the time.
    low, high = stats.binom.interval(1 - FALSE_ALARM, len(changed), 0.3)
    assert low <= changed.sum() <= high
    assert set(np.unique(noisy[:, 1])) <= {0.0, 1.0, 2.0, 3.0}
    module = DenoiserModule(3, hidden_units=(8,), categorical_columns=(1,))
    nn.init.normal_(module.correction[-1].weight)
    z = torch.tensor([[0.5, 2.0, -1.0]])
    assert module(z)[0, 1] == 2.0 and module(z)[0, 0] != 0.5


def test_the_denoiser_is_seeded():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)

    def weights(seed):
        clf = SmoothedClassifier(
            LogisticRegression(), random_state=seed, denoiser=make_denoiser((8,), max_epochs=2)
        ).fit(X, y)
        return torch.cat([p.flatten() for p in clf.denoiser_.module_.parameters()])

    assert torch.equal(weights(0), weights(0))
    assert not torch.equal(weights(0), weights(1))


# --- objectives ----------------------------------------------------------------------


def fitted_net(X, y):
    net = tiny_net(max_epochs=5).set_params(module__input_units=X.shape[1], module__output_units=2)
    return net.fit(X.astype(np.float32), y.astype(np.int64))


def test_the_stability_loss_is_squared_error_plus_the_frozen_net_cross_entropy():
    from sksmooth._adapters import net_scores

    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = fitted_net(X, y)
    scores = net_scores(net, 2)
    loss = StabilityLoss(scores, np.array([False, True, False]))
    denoised = torch.tensor(X[:4] + 0.1)
    target = torch.tensor(np.column_stack([X[:4], [0, 1, 1, 0]]), dtype=torch.float32)
    logits = net.module_(denoised)
    expected = (0.1**2) * 8 / (4 * 2) + nn.functional.cross_entropy(
        logits, torch.tensor([0, 1, 1, 0])
    )
    assert float(loss(denoised, target).detach()) == pytest.approx(
        float(expected.detach()), rel=1e-5
    )


def test_the_stability_objective_trains_through_a_frozen_net_and_leaves_it_unchanged():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = fitted_net(X, y)
    before = {k: v.clone() for k, v in net.module_.state_dict().items()}
    clf = SmoothedClassifier(
        FrozenEstimator(net),
        sigma=0.5,
        n=200,
        random_state=0,
        denoiser=make_denoiser((16,), max_epochs=3),
        denoiser_objective="stability",
    ).fit(X, y)
    after = net.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert clf.denoiser_.criterion_.__class__ is StabilityLoss
    assert not any(
        p is q for p in clf.denoiser_.module_.parameters() for q in net.module_.parameters()
    )
    assert (clf.predict(X) == y).mean() > 0.8


# --- the composed classifier ------------------------------------------------------


def test_a_net_behind_a_denoiser_predicts_certifies_attacks_pickles_and_clones():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = SmoothedClassifier(
        tiny_net(max_epochs=5),
        sigma=0.25,
        n=300,
        n_samples=200,
        random_state=0,
        denoiser=make_denoiser((8,), max_epochs=2),
    ).fit(X, y)
    assert clf.predict_proba(X[:5]).shape == (5, 2)
    result = clf.certify(X[:5], y[:5])
    again = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(again.certify(X[:5], y[:5]).radius, result.radius)
    assert clone(clf).get_params()["denoiser"].max_epochs == 2
    adversarial = SmoothAdv(
        eps=0.5, norm="l2", n_noise_samples=4, steps=3, random_state=0
    ).generate(clf, X[:5], y[:5])
    assert np.all(np.linalg.norm(adversarial - X[:5], axis=1) <= 0.5 + 1e-6)


def soft_logits_and_gradient(clf, X):
    target = differentiable_target(clf, n_noise_samples=64)
    rows = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    with target.evaluating():
        logits = target.logits(rows, generator=torch.Generator().manual_seed(0))
    logits[:, 1].sum().backward()
    return logits.detach(), rows.grad


def test_smoothadv_goes_through_the_denoiser():
    # SmoothAdv's target is the soft smoothed f(D(x)): through the identity it
    # is that of f alone (same noise), and through a denoiser that maps every
    # row to one point it is constant, with no gradient left to follow.
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    net = fitted_net(X, y)
    plain = SmoothedClassifier(FrozenEstimator(net), random_state=0).fit(X, y)
    identity = frozen_map(np.eye(3), np.zeros(3))
    through_identity = SmoothedClassifier(FrozenEstimator(net), denoiser=identity).fit(X, y)
    constant = frozen_map(np.zeros((3, 3)), np.array([1.0, 0.0, 0.0]))
    through_constant = SmoothedClassifier(FrozenEstimator(net), denoiser=constant).fit(X, y)
    logits, gradient = soft_logits_and_gradient(plain, X[:10])
    assert gradient.abs().max() > 1e-3
    same_logits, same_gradient = soft_logits_and_gradient(through_identity, X[:10])
    torch.testing.assert_close(same_logits, logits)
    torch.testing.assert_close(same_gradient, gradient)
    flat_logits, flat_gradient = soft_logits_and_gradient(through_constant, X[:10])
    assert torch.equal(flat_gradient, torch.zeros_like(flat_gradient))
    assert torch.allclose(flat_logits, flat_logits[:1].expand_as(flat_logits))


def test_a_frozen_gradient_boosted_model_behind_a_denoiser():
    rng = np.random.default_rng(7)
    X = np.column_stack([rng.normal(size=(600, 3)), rng.integers(0, 3, 600)])
    y = (X[:, 0] + (X[:, 3] == 2) > 0.5).astype(int)
    model = HistGradientBoostingClassifier(max_iter=20, categorical_features=[3]).fit(X, y)
    clf = SmoothedClassifier(
        FrozenEstimator(model),
        sigma=0.25,
        n=300,
        n_samples=200,
        categorical_features=[3],
        random_state=0,
        denoiser="auto",
        class_weight="balanced",
    ).fit(X, y)
    assert clf.denoiser_.module_.categorical.tolist() == [False, False, False, True]
    assert (clf.predict(X) == model.predict(X)).mean() > 0.9
    result = clf.certify(X[:5], y[:5])
    assert result.radius.shape == (5,)
    numeric = HistGradientBoostingClassifier(max_iter=20).fit(X[:, :3], y)
    clf = SmoothedClassifier(
        FrozenEstimator(numeric), n=300, n_samples=100, random_state=0, denoiser="auto"
    ).fit(X[:, :3], y)
    with pytest.raises(TypeError, match="SmoothAdv needs a SmoothedClassifier over a skorch"):
        SmoothAdv(eps=0.5).generate(clf, X[:3, :3], y[:3])  # no gradient through the trees
    found = RandomSearch(eps=0.5, n_queries=5, random_state=0).generate(clf, X[:3, :3], y[:3])
    assert found.shape == (3, 3)


def test_class_weight_draws_the_denoiser_rows_by_class():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(1000, 2))
    y = (rng.random(1000) < 0.05).astype(int)
    clf = SmoothedClassifier(
        LogisticRegression(),
        random_state=0,
        denoiser=make_denoiser((4,), max_epochs=1),
        class_weight="balanced",
    ).fit(X, y)
    weights = clf.denoiser_.iterator_train__sampler.weights.numpy()
    assert weights[y == 1][0] / weights[y == 0][0] == pytest.approx((y == 0).sum() / (y == 1).sum())


# --- bad input ------------------------------------------------------------------------


class Shrinks(nn.Module):
    def __init__(self, input_units=3):
        super().__init__()
        self.linear = nn.Linear(input_units, input_units - 1)

    def forward(self, X):
        return self.linear(X)


@pytest.fixture
def data():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(100, 3))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.filterwarnings("ignore:Using a target size")
def test_a_denoiser_that_changes_the_row_shape_is_refused(data):
    denoiser = NeuralNetRegressor(Shrinks, max_epochs=1, train_split=None)
    with pytest.raises(ValueError, match="same 3 columns|cannot take rows"):
        SmoothedClassifier(LogisticRegression(), denoiser=denoiser).fit(*data)


def test_the_stability_objective_needs_a_differentiable_model(data):
    model = FrozenEstimator(LogisticRegression().fit(*data))
    with pytest.raises(TypeError, match="stability.*gradient"):
        SmoothedClassifier(model, denoiser="auto", denoiser_objective="stability").fit(*data)
    with pytest.raises(TypeError, match="stability.*gradient"):
        SmoothedClassifier(
            HistGradientBoostingClassifier(), denoiser="auto", denoiser_objective="stability"
        ).fit(*data)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"denoiser": "identity"}, ValueError, "denoiser must be"),
        ({"denoiser": LogisticRegression()}, TypeError, "NeuralNetRegressor"),
        ({"denoiser": "auto", "denoiser_objective": "l1"}, ValueError, "denoiser_objective"),
        (
            {"denoiser": FrozenEstimator(NeuralNetRegressor(DenoiserModule))},
            ValueError,
            "not fitted",
        ),
    ],
)
def test_bad_denoiser_parameters(data, params, error, match):
    with pytest.raises(error, match=match):
        SmoothedClassifier(LogisticRegression(), **params).fit(*data)


def test_the_denoiser_does_not_change_what_the_user_passed(data):
    denoiser = make_denoiser((4,), max_epochs=1)
    params = denoiser.get_params(deep=False)
    X, y = data
    X_before = X.copy()
    SmoothedClassifier(LogisticRegression(), denoiser=denoiser, class_weight="balanced").fit(X, y)
    assert not hasattr(denoiser, "module_")
    assert denoiser.get_params(deep=False).keys() == params.keys()
    assert np.array_equal(X, X_before)
