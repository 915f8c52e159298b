"""SmoothedClassifier with each noise, per-column sigma, norms, certificates in original units."""

import hashlib
import re

import numpy as np
import pandas as pd
import pytest
from scipy import special
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from sksmooth import SmoothedClassifier, certify
from sksmooth._monte_carlo import NOISE_PIECE, row_seeds
from sksmooth.attacks import SmoothAdv
from sksmooth.certification import clopper_pearson_lower
from sksmooth.metrics import make_certified_scorer
from sksmooth.noise import LaplaceNoise

from .conftest import tiny_net

FAST = {"n0": 20, "n": 400, "n_samples": 100, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=120, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    return X, y


class FirstColumnSign(ClassifierMixin, BaseEstimator):
    """1 where the first column is positive; records every noisy row it sees."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = np.shape(X)[1]
        self.seen_ = []
        return self

    def predict(self, X):
        X = np.asarray(X)
        self.seen_.append(X.copy())
        return (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "uniform"])
def test_each_noise_fits_predicts_and_certifies_in_its_norm(noise, data):
    X, y = data
    clf = SmoothedClassifier(LogisticRegression(), sigma=0.5, noise=noise, **FAST).fit(X, y)
    result = clf.certify(X[:30], y[:30])
    assert result.norm == {"gaussian": "l2", "laplace": "l1", "uniform": "l1"}[noise]
    assert result.noise == noise
    assert result.certified_accuracy(0.0) >= 0.5  # not vacuous
    linf = clf.certify(X[:30], y[:30], norm="linf")
    assert linf.norm == "linf"
    # Same votes, a smaller region: the L-infinity radius of 4 columns is at most the other.
    np.testing.assert_array_equal(linf.p_lower, result.p_lower)
    assert np.all(linf.radius <= result.radius + 1e-15)
    np.testing.assert_array_equal(clf.predict(X[:10]), clf.predict(X[:10]))


@pytest.mark.parametrize("noise, bad", [("gaussian", "l1"), ("laplace", "l2"), ("uniform", "l0")])
def test_a_norm_the_noise_cannot_certify_is_an_error(noise, bad, data):
    clf = SmoothedClassifier(LogisticRegression(), sigma=0.5, noise=noise, **FAST).fit(*data)
    with pytest.raises(ValueError, match=f"{noise} noise cannot certify the norm '{bad}'"):
        clf.certify(data[0][:3], norm=bad)
    with pytest.raises(ValueError, match="cannot certify"):
        certify(make_pipeline(StandardScaler(), clf).fit(*data), data[0][:3], norm=bad)


def test_scalar_gaussian_certificates_are_cohens_bit_for_bit(data):
    # Cohen's computation written out: per-piece generators keyed with all 128 bits
    # of the row's seed, float64 noise times sigma plus the row as given,
    # Clopper-Pearson, sigma * Phi^-1.
    X, y = data
    sigma = 0.4
    clf = SmoothedClassifier(FrozenEstimator(FirstColumnSign().fit(X, y)), sigma=sigma, **FAST)
    clf.fit(X, y)
    result = clf.certify(X[:15])

    def votes(stream, n_draws):
        counts = []
        seeds = row_seeds(np.ascontiguousarray(X[:15]), clf._seed, stream)
        for row, seed in zip(X[:15], seeds, strict=True):
            # Pieces of NOISE_PIECE samples, each from SFC64 in a state hashed
            # from the row's 128-bit seed and the piece's index.
            pieces = []
            for piece, start in enumerate(range(0, n_draws, NOISE_PIECE)):
                words = hashlib.blake2b(
                    piece.to_bytes(8, "little"), digest_size=24, key=seed.to_bytes(16, "little")
                ).digest()
                bit_generator = np.random.SFC64()
                bit_generator.state = {
                    "bit_generator": "SFC64",
                    "state": {"state": np.array([*np.frombuffer(words, np.uint64), 1], np.uint64)},
                    "has_uint32": 0,
                    "uinteger": 0,
                }
                size = min(NOISE_PIECE, n_draws - start)
                rng = np.random.Generator(bit_generator)
                pieces.append(rng.standard_normal((size, X.shape[1])))
            noisy = row + sigma * np.concatenate(pieces)
            counts.append(np.bincount((noisy[:, 0] > 0).astype(int), minlength=2))
        return np.array(counts)

    candidate = votes("select", FAST["n0"]).argmax(axis=1)
    count_a = votes("estimate", FAST["n"])[np.arange(15), candidate]
    p_lower = clopper_pearson_lower(count_a, FAST["n"], clf.alpha)
    np.testing.assert_array_equal(result.label, candidate)
    np.testing.assert_array_equal(result.p_lower, p_lower)
    np.testing.assert_array_equal(
        result.radius, np.where(p_lower > 0.5, sigma * special.ndtri(p_lower), 0.0)
    )


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "uniform"])
def test_columns_with_sigma_zero_receive_no_noise(noise, data):
    X, y = data
    base = FirstColumnSign().fit(X, y)
    sigma = [0.0, 0.3, 0.0, 1.0]
    clf = SmoothedClassifier(FrozenEstimator(base), sigma=sigma, noise=noise, **FAST).fit(X, y)
    base.seen_.clear()
    result = clf.certify(X[:5])
    seen = np.concatenate(base.seen_)
    # Every noisy row keeps its columns 0 and 2 exactly as given.
    assert set(map(tuple, seen[:, [0, 2]])) == set(map(tuple, X[:5][:, [0, 2]]))
    assert np.all(np.std(seen[:, 3]) > 0.5)
    # f depends only on column 0, which is never noised: every vote agrees.
    assert np.all(~result.abstained)
    np.testing.assert_array_equal(result.sigma, sigma)
    assert "the other 2 columns held fixed" in repr(result)


def test_sigma_as_a_mapping_of_column_names(data):
    X, y = data
    frame = pd.DataFrame(X, columns=["amount", "hour", "age", "velocity"])
    clf = SmoothedClassifier(
        LogisticRegression(), sigma={"amount": 0.5, "velocity": 0.2}, **FAST
    ).fit(frame, y)
    result = clf.certify(frame.iloc[:10], y[:10])
    np.testing.assert_array_equal(result.sigma, [0.5, 0.0, 0.0, 0.2])
    assert "noised columns amount, velocity" in result.region()
    change = result.per_feature_change()
    assert list(change.columns) == ["amount", "hour", "age", "velocity"]
    certified = ~result.abstained
    np.testing.assert_allclose(change["amount"][certified], 0.5 * result.radius[certified])
    np.testing.assert_array_equal(change[["hour", "age"]].to_numpy(), 0.0)
    with pytest.raises(ValueError, match=r"names columns \['colour'\]"):
        clf.set_params(sigma={"colour": 1.0}).fit(frame, y)


def test_per_column_sigma_trains_skorch_nets_under_that_noise(data):
    X, y = data
    sigma = np.array([0.0, 0.5, 0.0, 0.0])
    clf = SmoothedClassifier(tiny_net(max_epochs=2), sigma=sigma, noise="laplace", **FAST)
    clf.fit(X, y)
    callback = dict(clf.estimator_.callbacks_)["sksmooth_noise"]
    assert callback.noise_model.noise.name == "laplace"
    np.testing.assert_array_equal(callback.noise_model.scales, sigma)
    assert len(clf.certify(X[:5])) == 5


class CopyRecorder(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        self.X_fit_ = np.array(X)
        return super().fit(X, y, sample_weight)


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "uniform"])
def test_noisy_copies_follow_the_noise_and_sigma(noise, data):
    X, y = data
    clf = SmoothedClassifier(
        CopyRecorder(), sigma=[0.0, 1.0, 0.0, 0.0], noise=noise, n_noisy_copies=20, **FAST
    ).fit(X, y)
    noise_drawn = clf.estimator_.X_fit_ - np.tile(X, (20, 1))
    np.testing.assert_array_equal(noise_drawn[:, [0, 2, 3]], 0.0)
    assert noise_drawn[:, 1].std() == pytest.approx(1.0, abs=0.1)
    if noise == "uniform":
        assert np.abs(noise_drawn[:, 1]).max() <= np.sqrt(3)


def test_grid_search_over_sigma_and_noise(data):
    X, y = data
    search = GridSearchCV(
        SmoothedClassifier(LogisticRegression(), **FAST),
        {"sigma": [0.25, [0.5, 0.5, 0.0, 0.0]], "noise": ["gaussian", "laplace"]},
        scoring=make_certified_scorer(radius=0.1, n=200),
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    cloned = clone(SmoothedClassifier(LogisticRegression(), sigma={"a": 1.0}, noise="uniform"))
    assert cloned.get_params()["sigma"] == {"a": 1.0} and cloned.noise == "uniform"


def test_certified_scorer_takes_a_norm(data):
    clf = SmoothedClassifier(LogisticRegression(), sigma=0.5, noise="uniform", **FAST).fit(*data)
    linf = make_certified_scorer(radius=0.05, norm="linf")(clf, *data)
    l1 = make_certified_scorer(radius=0.05)(clf, *data)
    assert 0 <= linf <= l1


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "uniform"])
def test_decision_and_adaptive_modes_with_each_noise(noise, data):
    X, y = data
    clf = SmoothedClassifier(LogisticRegression(), sigma=0.5, noise=noise, **FAST).fit(X, y)
    fixed = clf.certify(X[:20], n=1600)
    decided = clf.certify(X[:20], radius=0.2, n=1600)
    adaptive = clf.certify(X[:20], n_max=1600)
    # Certified at 0.2 in decision mode only where the fixed-n radius is near or above it.
    assert np.all(fixed.radius[decided.radius >= 0.2] > 0.1)
    assert adaptive.n_samples.min() >= 100 and adaptive.n_samples.max() <= 1600
    assert decided.norm == adaptive.norm == fixed.norm


def test_per_feature_change_through_a_pipeline_in_original_units(data):
    X, y = data
    frame = pd.DataFrame(X * [100.0, 2.0, 1.0, 10.0], columns=["amount", "hour", "age", "km"])
    frame["channel"] = np.where(y == 1, "web", "pos")
    sigma = np.array([0.5, 0.25, 0.0, 0.0, 0.0, 0.0])  # amount, hour; not age, km, one-hot
    pipe = make_pipeline(
        ColumnTransformer(
            [
                ("std", StandardScaler(), ["amount", "hour", "age"]),
                ("minmax", MinMaxScaler(), ["km"]),
                ("onehot", OneHotEncoder(), ["channel"]),
            ]
        ),
        SmoothedClassifier(LogisticRegression(), sigma=sigma, **FAST),
    ).fit(frame, y)
    result = certify(pipe, frame.iloc[:20], y[:20])
    with pytest.warns(UserWarning, match=re.escape("channel: OneHotEncoder")):
        change = result.per_feature_change()
    assert list(change.columns) == ["amount", "hour", "age", "km", "channel"]
    scaler = pipe[0].named_transformers_["std"]
    certified = ~result.abstained
    assert certified.sum() >= 5
    # amount alone: |delta / scale_| / 0.5 <= R, so |delta| <= R * 0.5 * scale_.
    np.testing.assert_allclose(
        change["amount"][certified], result.radius[certified] * 0.5 * scaler.scale_[0]
    )
    np.testing.assert_allclose(
        change["hour"][certified], result.radius[certified] * 0.25 * scaler.scale_[1]
    )
    np.testing.assert_array_equal(change[["age", "km"]].to_numpy(), 0.0)  # never noised
    assert change["channel"][certified].isna().all()
    np.testing.assert_array_equal(change[~certified].to_numpy(), 0.0)


def test_smoothadv_attacks_each_noise(data):
    X, y = data
    for noise in ("laplace", "uniform"):
        clf = SmoothedClassifier(
            tiny_net(max_epochs=3), sigma=[0.5, 0.5, 0.0, 0.5], noise=noise, **FAST
        ).fit(X, y)
        attack = SmoothAdv(0.3, norm="l2", steps=3, n_noise_samples=4, random_state=0)
        X_adv = attack.generate(clf, X[:10], y[:10])
        assert X_adv.shape == (10, 4) and np.all(np.isfinite(X_adv))


def test_a_noise_object_reads_as_its_name(data):
    X, y = data
    by_object = SmoothedClassifier(LogisticRegression(), sigma=0.5, noise=LaplaceNoise(), **FAST)
    by_name = SmoothedClassifier(LogisticRegression(), sigma=0.5, noise="laplace", **FAST)
    cloned = clone(by_object)
    assert cloned.noise == LaplaceNoise() and cloned.noise is not by_object.noise
    a = cloned.fit(X, y).certify(X[:10])
    b = by_name.fit(X, y).certify(X[:10])
    np.testing.assert_array_equal(a.radius, b.radius)
    assert a.noise == "laplace" and a.norm == "l1"


def test_a_series_sigma_is_read_by_name(data):
    X, y = data
    frame = pd.DataFrame(X[:, :3], columns=["amount", "age", "km"])
    sigma = pd.Series({"km": 0.25, "age": 0.0, "amount": 0.5})
    clf = SmoothedClassifier(LogisticRegression(), sigma=sigma, **FAST).fit(frame, y)
    np.testing.assert_array_equal(clf.certify(frame.iloc[:3]).sigma, [0.5, 0.0, 0.25])


def test_a_mapping_sigma_after_an_unnamed_step_says_how_to_name_the_columns(data):
    pipe = make_pipeline(StandardScaler(), SmoothedClassifier(LogisticRegression(), sigma={"a": 1}))
    with pytest.raises(ValueError, match=re.escape("set_output(transform='pandas')")):
        pipe.fit(*data)


def test_radius_must_be_a_number(data):
    clf = SmoothedClassifier(LogisticRegression(), **FAST).fit(*data)
    with pytest.raises(TypeError, match="radius must be a number"):
        clf.certify(data[0][:3], radius=True)


def test_scorer_compares_scalar_and_per_column_sigma_on_one_scale(data):
    # The same noise spelt as a scalar or as an array scores the same: per-column
    # results are scored on the plain ball their region contains.
    X, y = data
    scorer = make_certified_scorer(0.25, n=300)
    scalar = SmoothedClassifier(LogisticRegression(), sigma=0.25, **FAST).fit(X, y)
    array = SmoothedClassifier(LogisticRegression(), sigma=[0.25] * 4, **FAST).fit(X, y)
    assert scorer(scalar, X[:50], y[:50]) == scorer(array, X[:50], y[:50])
    result = array.certify(X[:5])
    np.testing.assert_allclose(result.ball_radius, 0.25 * result.radius)


def test_random_state_none_is_not_fixed_by_numpys_global_seed(data):
    X, y = data
    results = []
    for _ in range(2):
        np.random.seed(0)
        clf = SmoothedClassifier(LogisticRegression(), **{**FAST, "random_state": None})
        results.append(clf.fit(X, y).certify(X[:20]).p_lower)
    assert not np.array_equal(*results)


def test_fresh_noise_draws_new_noise_each_call_and_stays_sound_per_call(data):
    X, y = data
    fixed = SmoothedClassifier(LogisticRegression(), **FAST).fit(X, y)
    np.testing.assert_array_equal(fixed.certify(X[:20]).p_lower, fixed.certify(X[:20]).p_lower)
    fresh = clone(fixed).set_params(fresh_noise=True).fit(X, y)
    first, second = fresh.certify(X[:20]), fresh.certify(X[:20])
    assert not np.array_equal(first.p_lower, second.p_lower)
    # Same model, same votes in distribution: the labels agree where certified.
    both = ~first.abstained & ~second.abstained
    np.testing.assert_array_equal(first.label[both], second.label[both])
    assert not np.array_equal(fresh.predict_proba(X[:20]), fresh.predict_proba(X[:20]))
    with pytest.raises(TypeError, match="fresh_noise must be True or False"):
        clone(fixed).set_params(fresh_noise="yes").fit(X, y)


def test_every_sample_is_counted(data):
    X, y = data
    clf = SmoothedClassifier(LogisticRegression(), **FAST).fit(X, y)
    fixed = clf.certify(X[:10])
    np.testing.assert_array_equal(fixed.total_samples, FAST["n0"] + FAST["n"])
    adaptive = clf.certify(X[:10], n_max=1600)
    np.testing.assert_array_equal(adaptive.total_samples, FAST["n0"] + adaptive.n_samples)
