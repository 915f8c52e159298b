"""Soft smoothing, certificates at a decision threshold and threshold classifiers, end to end.

The statistics have their own oracle tests (tests/certification/test_threshold.py
and test_scores.py); here the estimator wires them: bit-for-bit agreement at
1/2, threshold classifiers certified at their own threshold, and clear errors.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    FixedThresholdClassifier,
    GridSearchCV,
    TunedThresholdClassifierCV,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from sksmooth import SmoothedClassifier, certify
from sksmooth.metrics import make_certified_scorer
from sksmooth.nets import make_mlp_classifier


@pytest.fixture(scope="module")
def task():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=300) > 0.8).astype(int)
    return X, y


def smoothed(**params):
    return SmoothedClassifier(
        LogisticRegression(), sigma=0.5, n0=50, n=500, random_state=0, **params
    )


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "uniform"])
def test_threshold_one_half_is_the_plain_certificate_bit_for_bit(task, noise):
    X, y = task
    clf = smoothed(noise=noise).fit(X, y)
    plain, at_half = clf.certify(X[:40]), clf.certify(X[:40], threshold=0.5)
    for field in ("label", "radius", "p_lower", "abstained", "n_samples"):
        np.testing.assert_array_equal(getattr(plain, field), getattr(at_half, field))
    decided = clf.certify(X[:40], radius=0.1), clf.certify(X[:40], radius=0.1, threshold=0.5)
    for field in ("label", "radius", "p_lower", "abstained", "n_samples"):
        np.testing.assert_array_equal(getattr(decided[0], field), getattr(decided[1], field))


def test_a_low_threshold_flags_more_rows_and_labels_by_the_threshold(task):
    X, y = task
    clf = smoothed().fit(X, y)
    share = clf.predict_proba(X)[:, 1]
    result = clf.certify(X, threshold=0.1)
    assert result.threshold == 0.1
    certified = ~result.abstained
    # Where certified, the label is the decision at 0.1 of the (well estimated) share.
    clear = certified & (np.abs(share - 0.1) > 0.1)
    np.testing.assert_array_equal(result.label[clear], (share[clear] >= 0.1).astype(int))
    assert (result.label == 1).sum() > (clf.certify(X).label == 1).sum()


def test_soft_scores_are_mean_probabilities_and_certify(task):
    X, y = task
    clf = smoothed(smoothing="soft").fit(X, y)
    proba = clf.predict_proba(X[:20])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # Continuous: not a multiple of 1 / n_samples.
    assert len(np.unique(proba[:, 1])) == 20
    np.testing.assert_array_equal(clf.predict(X[:20]), clf.classes_[proba.argmax(axis=1)])
    result = clf.certify(X[:20], y[:20], threshold=0.3)
    assert result.smoothing == "soft" and (~result.abstained).any()
    again = clf.certify(X[:20], y[:20], threshold=0.3)
    np.testing.assert_array_equal(result.radius, again.radius)


def test_soft_scores_of_a_net_are_its_mean_softmax(task):
    X, y = task
    net = make_mlp_classifier((8,), max_epochs=2)
    clf = SmoothedClassifier(net, sigma=0.5, n0=20, n=200, n_samples=64, random_state=0)
    clf.set_params(smoothing="soft").fit(X.astype(np.float32), y)
    proba = clf.predict_proba(X[:10])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert len(np.unique(proba[:, 1])) == 10
    assert len(clf.certify(X[:10], threshold=0.3)) == 10


def test_threshold_classifiers_are_certified_at_their_threshold(task):
    X, y = task
    pipe = make_pipeline(StandardScaler(), smoothed())
    fixed = FixedThresholdClassifier(pipe, threshold=0.2).fit(X, y)
    ours = certify(fixed, X[:30], y[:30])
    direct = certify(fixed.estimator_, X[:30], y[:30], threshold=0.2)
    np.testing.assert_array_equal(ours.radius, direct.radius)
    assert ours.threshold == 0.2
    tuned = TunedThresholdClassifierCV(smoothed(n_samples=100), cv=2, thresholds=5).fit(X, y)
    result = certify(tuned, X[:30])
    assert result.threshold == pytest.approx(tuned.best_threshold_)
    with pytest.raises(ValueError, match="decides at"):
        certify(fixed, X[:30], threshold=0.4)


def test_grid_search_over_sigma_with_certified_recall_at_a_threshold(task):
    X, y = task
    scorer = make_certified_scorer(0.1, metric="recall", threshold=0.2, n=200)
    search = GridSearchCV(smoothed(n_samples=100), {"sigma": [0.25, 0.5]}, scoring=scorer, cv=2)
    search.fit(X, y)
    assert set(search.cv_results_["param_sigma"]) == {0.25, 0.5}
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


@pytest.mark.parametrize("threshold", [0, 1, -0.1, 1.5, float("nan")])
def test_thresholds_outside_the_open_unit_interval_are_refused(task, threshold):
    X, y = task
    clf = smoothed().fit(X, y)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        clf.certify(X[:3], threshold=threshold)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        make_certified_scorer(0.1, threshold=threshold)


def test_a_threshold_for_three_classes_is_refused(task):
    X, y = task
    y3 = np.digitize(X[:, 1], [-0.5, 0.5])
    clf = smoothed().fit(X, y3)
    with pytest.raises(ValueError, match="two classes; this problem has 3"):
        clf.certify(X[:3], threshold=0.3)


def test_soft_smoothing_needs_predict_proba(task):
    X, y = task
    with pytest.raises(TypeError, match="no predict_proba"):
        SmoothedClassifier(LinearSVC(), smoothing="soft").fit(X, y)
    with pytest.raises(ValueError, match='smoothing must be "hard" or "soft"'):
        SmoothedClassifier(LogisticRegression(), smoothing="mean").fit(X, y)


def test_modes_that_count_votes_refuse_soft_scores_and_thresholds(task):
    X, y = task
    soft = smoothed(smoothing="soft").fit(X, y)
    with pytest.raises(ValueError, match="adaptive mode"):
        soft.certify(X[:3], n_max=400)
    with pytest.raises(ValueError, match="Adaptive mode"):
        smoothed().fit(X, y).certify(X[:3], n_max=400, threshold=0.3)


# --- sequential predict -----------------------------------------------------------


@pytest.mark.parametrize("smoothing", ["hard", "soft"])
def test_sequential_predict_agrees_with_the_fixed_predict_for_fewer_samples(task, smoothing):
    X, y = task
    fixed = smoothed(smoothing=smoothing, n_samples=1000).fit(X, y)
    sequential = clone(fixed).set_params(sequential_predict=True).fit(X, y)
    counter = _ForwardCounter(sequential)
    labels = sequential.predict(X)
    assert np.mean(labels == fixed.predict(X)) >= 0.98
    assert counter.rows / len(X) < 300  # against 1000 for the fixed predict
    proba = sequential.predict_proba(X)
    np.testing.assert_array_equal(labels, sequential.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


class _ForwardCounter:
    """Counts the noisy rows the fitted base estimator classifies."""

    def __init__(self, clf):
        self.rows = 0
        base = clf.estimator_
        for name in ("predict", "predict_proba"):
            method = getattr(base, name)

            def counted(Z, _method=method):
                self.rows += len(Z)
                return _method(Z)

            setattr(base, name, counted)


@pytest.mark.parametrize("smoothing", ["hard", "soft"])
def test_sequential_predict_is_reproducible_per_row(task, smoothing):
    X, y = task
    clf = smoothed(smoothing=smoothing, sequential_predict=True).fit(X, y)
    labels, proba = clf.predict(X), clf.predict_proba(X)
    order = np.random.default_rng(1).permutation(len(X))[:50]
    np.testing.assert_array_equal(clf.predict(X[order]), labels[order])
    np.testing.assert_array_equal(clf.predict_proba(X[order]), proba[order])
    np.testing.assert_array_equal(clf.set_params(n_jobs=2).predict_proba(X), proba)


def test_sequential_predict_abstains_where_no_round_decides(task):
    X, y = task
    clf = smoothed(sequential_predict=True, abstain_label=-1, n_samples=200).fit(X, y)
    labels = clf.predict(X)
    shares = clf.predict_proba(X)[:, 1]
    assert np.all(labels[np.abs(shares - 0.5) < 0.05] == -1)  # near 1/2: undecidable in 200
    assert np.all(labels[shares > 0.95] == 1) and np.all(labels[shares < 0.05] == 0)


def test_sequential_predict_must_be_a_flag(task):
    X, y = task
    with pytest.raises((TypeError, ValueError), match="sequential_predict"):
        smoothed(sequential_predict="yes").fit(X, y)


def test_a_threshold_tuned_on_a_frozen_model_is_certified_at_it(task):
    X, y = task
    clf = smoothed().fit(X, y)
    fixed = FixedThresholdClassifier(FrozenEstimator(clf), threshold=0.3).fit(X, y)
    via_frozen = certify(fixed, X[:20], y[:20])
    direct = clf.certify(X[:20], y[:20], threshold=0.3)
    np.testing.assert_array_equal(via_frozen.label, direct.label)
    np.testing.assert_array_equal(via_frozen.radius, direct.radius)
    tuned = TunedThresholdClassifierCV(FrozenEstimator(clf), scoring="f1", cv=2).fit(X, y)
    assert certify(tuned, X[:5]).threshold == pytest.approx(tuned.best_threshold_)


@pytest.mark.parametrize("threshold", [None, 0.3])
def test_soft_decision_mode_certifies_at_the_radius_with_fewer_samples(task, threshold):
    X, y = task
    soft = smoothed(smoothing="soft").set_params(n=2000).fit(X, y)
    decided = soft.certify(X, y, radius=0.1, threshold=threshold)
    fixed = soft.certify(X, y, threshold=threshold)
    certified = ~decided.abstained
    assert certified.mean() > 0.5 and np.all(decided.radius[certified] >= 0.1)
    # Rows the fixed-n certificate puts far beyond the radius are decided the same way.
    sure = fixed.radius > 0.5
    assert certified[sure].all()
    np.testing.assert_array_equal(decided.label[sure], fixed.label[sure])
    assert decided.n_samples.mean() < 0.25 * 2000


def test_sequential_predict_warns_when_its_cap_is_below_the_first_round(task):
    X, y = task
    clf = smoothed(sequential_predict=True, n_samples=10).fit(X, y)
    with pytest.warns(UserWarning, match="first round takes 13 samples"):
        labels = clf.predict(X[:20])
    # Every row is then decided by the fixed test, on its 10 votes.
    assert len(labels) == 20


@pytest.mark.parametrize("smoothing", ["hard", "soft"])
@pytest.mark.parametrize("radius", [0.0, 0.1, 0.37])
def test_rows_decision_mode_certifies_count_as_certified_at_its_radius(task, smoothing, radius):
    # Whatever the rounding of the radius formula, a row whose test cleared what the
    # radius needs is certified at it (radius 0 included).
    X, y = task
    clf = smoothed(smoothing=smoothing).set_params(n=2000).fit(X, y)
    result = clf.certify(X, y, radius=radius)
    decided = result.p_lower >= clf._noise_model().required_probability(radius, "l2")
    assert decided.mean() > 0.5
    assert np.all(result.radius[decided] >= radius) and not result.abstained[decided].any()
