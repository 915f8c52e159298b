"""Robustness metrics and scorers, and model selection over sigma."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sksmooth import SmoothedClassifier, certify, make_fraud
from sksmooth.attacks import PGD, AttackEnsemble, RandomSearch
from sksmooth.certification import CertificationResult
from sksmooth.datasets import make_fraud_preprocessor
from sksmooth.metrics import (
    abstain_rate,
    average_certified_radius,
    balanced_certified_accuracy,
    certified_accuracy,
    certified_accuracy_curve,
    certified_recall,
    make_certified_scorer,
    make_robust_scorer,
    robust_accuracy,
)

from .conftest import tiny_net


def result_of(label, radius, abstained):
    return CertificationResult(
        label=np.asarray(label),
        radius=np.asarray(radius, dtype=float),
        p_lower=np.where(abstained, 0.4, 0.9),
        abstained=np.asarray(abstained),
        n_samples=np.full(len(label), 100),
        sigma=0.5,
        alpha=0.001,
    )


# Five rows: correct at 0.8, correct at 0.3, wrong at 0.9, abstained, correct at 0.1.
RESULT = result_of(["a", "b", "a", "b", "b"], [0.8, 0.3, 0.9, 0.0, 0.1], [0, 0, 0, 1, 0])
Y = np.array(["a", "b", "b", "b", "b"])


def test_metric_values_by_hand():
    assert certified_accuracy(Y, RESULT) == pytest.approx(3 / 5)
    assert certified_accuracy(Y, RESULT, radius=0.25) == pytest.approx(2 / 5)
    assert certified_accuracy(Y, RESULT, radius=0.3) == pytest.approx(2 / 5)  # radius >= r
    assert average_certified_radius(Y, RESULT) == pytest.approx((0.8 + 0.3 + 0.1) / 5)
    assert abstain_rate(RESULT) == pytest.approx(1 / 5)
    assert certified_recall(Y, RESULT, 0.25, pos_label="b") == pytest.approx(1 / 4)
    assert certified_recall(Y, RESULT, 0.0, pos_label="a") == 1.0
    # Class "a": 1 of 1 certified at 0.25; class "b": 1 of 4.
    assert balanced_certified_accuracy(Y, RESULT, 0.25) == pytest.approx((1 + 1 / 4) / 2)


def test_metric_errors():
    with pytest.raises(ValueError, match="pos_label"):
        certified_recall(Y, RESULT, pos_label="c")
    with pytest.raises(ValueError, match="radius"):
        certified_accuracy(Y, RESULT, radius=-1)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        certified_accuracy(Y[:3], RESULT)
    with pytest.raises(TypeError, match="CertificationResult"):
        certified_accuracy(Y, {"radius": []})
    with pytest.raises(ValueError, match="metric must be one of"):
        make_certified_scorer(0.25, metric="precision")
    with pytest.raises(TypeError, match="Unknown certify parameters"):
        make_certified_scorer(0.25, n_samples=10)


def test_certified_accuracy_curve_by_hand():
    # Correct at 0.8 ("a"), 0.3 and 0.1 ("b"); row 2 wrong, row 3 abstained.
    radii, accuracy = certified_accuracy_curve(Y, RESULT)
    assert radii.tolist() == [0.0, 0.1, 0.3, 0.8]
    np.testing.assert_allclose(accuracy, [3 / 5, 3 / 5, 2 / 5, 1 / 5])
    # Per class: the rows of "b" only, at the radii certified among them.
    radii, recall = certified_accuracy_curve(Y, RESULT, pos_label="b")
    assert radii.tolist() == [0.0, 0.1, 0.3]
    np.testing.assert_allclose(recall, [2 / 4, 2 / 4, 1 / 4])
    radii, accuracy = certified_accuracy_curve(Y, RESULT, pos_label="a")
    assert radii.tolist() == [0.0, 0.8] and accuracy.tolist() == [1.0, 1.0]
    # Given radii come back as given, in their order.
    radii, accuracy = certified_accuracy_curve(Y, RESULT, [0.25, 0.05, 0.9])
    assert radii.tolist() == [0.25, 0.05, 0.9]
    np.testing.assert_allclose(accuracy, [2 / 5, 3 / 5, 0.0])


def test_certified_accuracy_curve_is_exact_between_its_steps():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    label = np.where(rng.random(200) < 0.8, y, rng.integers(0, 3, 200))
    abstained = rng.random(200) < 0.1
    radius = np.where(abstained, 0.0, np.round(rng.uniform(0.01, 1.0, 200), 2))  # with ties
    result = result_of(label, radius, abstained)
    radii, accuracy = certified_accuracy_curve(y, result)
    right = (label == y) & ~abstained
    assert radii.tolist() == sorted({0.0, *radius[right].tolist()})
    for r, value in zip(radii, accuracy, strict=True):
        assert value == certified_accuracy(y, result, r)
    # Constant on (previous step, step], and 0 past the last step.
    middles = (radii[:-1] + radii[1:]) / 2
    for r, value in zip(middles, accuracy[1:], strict=True):
        assert certified_accuracy(y, result, r) == value
    assert certified_accuracy(y, result, np.nextafter(radii[-1], 2)) == 0
    assert np.all(np.diff(accuracy) <= 0)
    for c in range(3):
        radii_c, recall = certified_accuracy_curve(y, result, radii, pos_label=c)
        expected = [certified_recall(y, result, r, pos_label=c) for r in radii]
        np.testing.assert_allclose(recall, expected)


def test_certified_accuracy_curve_reads_the_labels_a_result_holds():
    labelled = CertificationResult(
        **{k: getattr(RESULT, k) for k in ("label", "radius", "p_lower", "abstained")},
        n_samples=RESULT.n_samples,
        sigma=RESULT.sigma,
        alpha=RESULT.alpha,
        y_true=Y,
    )
    for pos_label in (None, "b"):
        expected = certified_accuracy_curve(Y, RESULT, pos_label=pos_label)
        np.testing.assert_array_equal(
            certified_accuracy_curve(None, labelled, pos_label=pos_label), expected
        )
    correct_only = CertificationResult(
        **{k: getattr(RESULT, k) for k in ("label", "radius", "p_lower", "abstained")},
        n_samples=RESULT.n_samples,
        sigma=RESULT.sigma,
        alpha=RESULT.alpha,
        correct=labelled.correct,
    )
    np.testing.assert_array_equal(
        certified_accuracy_curve(None, correct_only), certified_accuracy_curve(Y, RESULT)
    )
    with pytest.raises(ValueError, match="pos_label needs the true labels"):
        certified_accuracy_curve(None, correct_only, pos_label="b")
    with pytest.raises(ValueError, match="needs the true labels"):
        certified_accuracy_curve(None, RESULT)


def test_certified_accuracy_curve_errors():
    with pytest.raises(ValueError, match="finite and >= 0"):
        certified_accuracy_curve(Y, RESULT, [0.1, -0.2])
    with pytest.raises(ValueError, match="1-D"):
        certified_accuracy_curve(Y, RESULT, [[0.1]])
    with pytest.raises(ValueError, match="pos_label='c' is not a label"):
        certified_accuracy_curve(Y, RESULT, pos_label="c")
    with pytest.raises(TypeError, match="CertificationResult"):
        certified_accuracy_curve(Y, {"radius": []})
    with pytest.warns(UndefinedMetricWarning, match="pos_label='b'"):
        _, recall = certified_accuracy_curve(np.array(["a"] * 5), RESULT, pos_label="b")
    assert recall.tolist() == [0.0]  # at radius 0, the only one


def selection_data():
    X, y = make_classification(240, n_features=6, n_informative=4, random_state=0)
    return X * 3 + 1, y  # unscaled: the pipelines' scalers matter


def fit_smoothed_pipe(X, y):
    smoothed = SmoothedClassifier(LogisticRegression(), sigma=0.5, n=500, random_state=0)
    return make_pipeline(StandardScaler(), smoothed).fit(X, y)


@pytest.fixture(scope="module")
def data():
    return selection_data()


@pytest.fixture(scope="module")
def smoothed_pipe(data):
    return fit_smoothed_pipe(*data)


def test_certify_on_a_pipeline_equals_the_manual_plumbing(smoothed_pipe, data):
    X, y = data
    by_hand = smoothed_pipe[-1].certify(smoothed_pipe[:-1].transform(X[:30]), y[:30])
    result = certify(smoothed_pipe, X[:30], y[:30])
    np.testing.assert_array_equal(result.radius, by_hand.radius)
    np.testing.assert_array_equal(result.correct, by_hand.correct)
    with pytest.raises(TypeError, match="cannot certify"):
        certify(make_pipeline(StandardScaler(), LogisticRegression()).fit(*data), X, y)


@pytest.mark.parametrize(
    "metric, function",
    [
        ("accuracy", lambda y, r: certified_accuracy(y, r, 0.25)),
        ("recall", lambda y, r: certified_recall(y, r, 0.25, pos_label=1)),
        ("balanced_accuracy", lambda y, r: balanced_certified_accuracy(y, r, 0.25)),
        ("acr", average_certified_radius),
    ],
)
def test_scorer_equals_the_metric_by_hand(metric, function, smoothed_pipe, data):
    X, y = data
    scorer = make_certified_scorer(0.25, metric=metric, n=300)
    expected = function(y[:40], certify(smoothed_pipe, X[:40], y[:40], n=300))
    assert scorer(smoothed_pipe, X[:40], y[:40]) == expected
    # Deterministic given the estimator's random_state.
    assert scorer(smoothed_pipe, X[:40], y[:40]) == expected


def test_scorers_reject_what_they_cannot_score(data):
    X, y = data
    plain = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    with pytest.raises(TypeError, match="cannot certify"):
        make_certified_scorer(0.25)(plain, X, y)
    with pytest.raises(TypeError, match="RandomSearch"):
        make_robust_scorer(PGD(0.1))(plain, X, y)
    with pytest.raises(TypeError, match="attack must be"):
        make_robust_scorer("pgd")


def test_robust_scorer_equals_robust_accuracy_and_runs_in_cross_validate(data):
    X, y = data
    plain = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    attack = RandomSearch(0.5, n_queries=50, random_state=0)
    scorer = make_robust_scorer(attack)
    assert scorer(plain, X[:50], y[:50]) == robust_accuracy(plain, X[:50], y[:50], attack)
    assert robust_accuracy(plain, X[:50], y[:50], attack) < plain.score(X[:50], y[:50])
    scores = cross_validate(
        make_pipeline(StandardScaler(), LogisticRegression()),
        X,
        y,
        cv=3,
        scoring={"accuracy": "accuracy", "robust": scorer},
    )
    assert np.all(scores["test_robust"] <= scores["test_accuracy"])


def test_robust_accuracy_defaults_to_the_worst_case_of_an_attack_ensemble(data):
    X, y = data
    X, y = X[:40], y[:40]
    net = tiny_net(module__input_units=X.shape[1], module__output_units=2)
    torch.manual_seed(0)
    net.fit(X.astype(np.float32), y)
    settings = {"eps": 0.5, "norm": "l2", "random_state": 0}
    worst = robust_accuracy(net, X, y, **settings)
    ensemble = AttackEnsemble(0.5, norm="l2", random_state=0)
    assert worst == robust_accuracy(net, X, y, ensemble)
    # No single attack of the set does better than their worst case per row.
    for attack in (PGD(0.5, norm="l2", random_state=0), RandomSearch(**settings)):
        assert worst <= robust_accuracy(net, X, y, attack)
    scorer = make_robust_scorer(**settings)
    assert isinstance(scorer.attack, AttackEnsemble) and scorer(net, X, y) == worst


def test_robust_accuracy_classifies_where_the_attack_ran(data):
    # A one-hot step has no inverse for rows moved off their codes: the rows are
    # classified by the last step, in its input space, where the attack ran.
    X, y = data
    one_hot = OneHotEncoder(sparse_output=False)
    model = make_pipeline(one_hot, LogisticRegression()).fit(X[:, :2].round() > 0, y)
    rows = X[:40, :2].round() > 0
    accuracy = robust_accuracy(model, rows, y[:40], RandomSearch(0.4, random_state=0))
    assert 0 <= accuracy <= model.score(rows, y[:40])


def test_robust_accuracy_says_what_the_default_attack_needs(data):
    X, y = data
    model = LogisticRegression().fit(X, y)
    with pytest.raises(TypeError, match="Pass an attack, or eps"):
        robust_accuracy(model, X, y)
    with pytest.raises(TypeError, match="eps is for the default attack only"):
        robust_accuracy(model, X, y, RandomSearch(0.1), eps=0.2)
    with pytest.raises(TypeError, match="norm and random_state are for the default attack"):
        make_robust_scorer(RandomSearch(0.1), norm="l2", random_state=0)
    with pytest.raises(ValueError, match="eps == -1"):
        robust_accuracy(model, X, y, eps=-1)


def test_certified_scorer_in_cross_val_score(data):
    X, y = data
    model = make_pipeline(
        StandardScaler(), SmoothedClassifier(LogisticRegression(), sigma=0.5, random_state=0)
    )
    scores = cross_val_score(model, X, y, cv=3, scoring=make_certified_scorer(0.25, n=300))
    assert scores.shape == (3,) and np.all((0 < scores) & (scores <= 1))


SIGMAS = [0.12, 0.25, 0.5]


def sigma_search(n_jobs=2):
    model = make_pipeline(
        StandardScaler(),
        SmoothedClassifier(tiny_net(max_epochs=10), n=500, n_samples=200, random_state=0),
    )
    return GridSearchCV(
        model,
        {"smoothedclassifier__sigma": SIGMAS},
        scoring={"accuracy": "accuracy", "cert@0.25": make_certified_scorer(0.25)},
        refit="cert@0.25",
        cv=3,
        n_jobs=n_jobs,
    )


def test_grid_search_over_sigma_refits_the_best_certified_sigma(data):
    X, y = data
    search = sigma_search().fit(X, y)
    results = search.cv_results_
    assert list(results["param_smoothedclassifier__sigma"]) == SIGMAS
    certified = results["mean_test_cert@0.25"]
    assert np.all(np.isfinite(certified)) and np.all(np.isfinite(results["mean_test_accuracy"]))
    best = SIGMAS[int(np.argmax(certified))]
    assert search.best_params_ == {"smoothedclassifier__sigma": best}
    assert search.best_estimator_[-1].sigma == best
    # A certificate at radius 0.25 needs sigma * Phi^-1(p) >= 0.25: the smallest
    # sigma certifies the least (its largest radius at n = 500 is 0.12 * 2.4).
    assert certified[0] < certified[-1]


def test_grid_search_on_fraud_with_a_column_transformer():
    X, y = make_fraud(1200, fraud_rate=0.05, random_state=0)
    preprocess = make_fraud_preprocessor()
    net = tiny_net(max_epochs=8, criterion__weight=torch.tensor([1.0, 5.0]))
    model = make_pipeline(preprocess, SmoothedClassifier(net, n=300, n_samples=100, random_state=0))
    search = GridSearchCV(
        model,
        {"smoothedclassifier__sigma": [0.25, 0.5]},
        scoring={
            "recall": "recall",
            "cert@0.25": make_certified_scorer(0.25),
            "cert_recall@0.25": make_certified_scorer(0.25, metric="recall", pos_label=1),
        },
        refit="cert_recall@0.25",
        cv=2,
        n_jobs=2,
    ).fit(X, y)
    for name in ("recall", "cert@0.25", "cert_recall@0.25"):
        assert np.all(np.isfinite(search.cv_results_[f"mean_test_{name}"]))
    best = np.argmax(search.cv_results_["mean_test_cert_recall@0.25"])
    assert search.best_index_ == best
    assert search.best_estimator_.predict(X[:5]).shape == (5,)


def test_certify_gives_the_same_certificates_for_any_n_jobs(smoothed_pipe, data):
    X, y = data
    reference = certify(smoothed_pipe, X[:25], y[:25], n_jobs=1)
    for n_jobs in (2, -1):
        result = certify(smoothed_pipe, X[:25], y[:25], n_jobs=n_jobs)
        np.testing.assert_array_equal(result.p_lower, reference.p_lower)
        np.testing.assert_array_equal(result.label, reference.label)
    # Overrides do not change the estimator.
    assert smoothed_pipe[-1].n_jobs is None and smoothed_pipe[-1].n == 500


def test_metrics_reject_nan_radius_and_mismatched_label_types():
    with pytest.raises(ValueError, match="finite"):
        certified_accuracy(Y, RESULT, radius=float("nan"))
    with pytest.raises(ValueError, match="string labels: they cannot match"):
        certified_accuracy(np.zeros(5, dtype=int), RESULT)


def test_certified_recall_of_a_split_without_positives_is_zero_with_a_warning():
    with pytest.warns(UndefinedMetricWarning, match="pos_label='b'"):
        assert certified_recall(np.array(["a"] * 5), RESULT, pos_label="b") == 0.0


def test_scorer_factory_checks_certify_parameters():
    with pytest.raises(ValueError, match="n == 0|n=0|n must be"):
        make_certified_scorer(0.25, n=0)
    with pytest.raises(ValueError, match="alpha"):
        make_certified_scorer(0.25, alpha=1.5)


def test_certified_scorer_takes_the_norm_of_the_certificates(smoothed_pipe, data):
    X, y = data
    scorer = make_certified_scorer(0.1, norm="linf", n=300)
    assert "norm='linf'" in repr(scorer)
    result = certify(smoothed_pipe, X[:40], y[:40], norm="linf", n=300)
    assert result.norm == "linf"
    assert scorer(smoothed_pipe, X[:40], y[:40]) == certified_accuracy(y[:40], result, 0.1)
    with pytest.raises(ValueError, match="norm must be None or one of"):
        make_certified_scorer(0.25, norm="l7")


# ------------------------------------------------------------ categorical changes

# Five rows, one categorical column: the radius with k = 1 switched field, 0 where
# not certified against a switch.
CATEGORICAL = CertificationResult(
    label=np.array(["a", "b", "a", "b", "b"]),
    radius=np.array([0.8, 0.3, 0.9, 0.0, 0.1]),
    p_lower=np.array([0.99, 0.9, 0.99, 0.4, 0.7]),
    abstained=np.array([False, False, False, True, False]),
    n_samples=np.full(5, 100),
    sigma=0.5,
    alpha=0.001,
    y_true=Y,
    categorical_radius=np.array([[0.8, 0.5], [0.3, 0.0], [0.9, 0.6], [0.0, 0.0], [0.1, 0.05]]),
    categorical_features=np.array([2]),
    categorical_noise=np.array([0.5]),
)


def test_metrics_read_a_result_at_k_changes_by_hand():
    one = CATEGORICAL.with_categorical_changes(1)
    # Correct rows: 0 (0.5 with a switch), 1 (not certified with one), 4 (0.05).
    assert certified_accuracy(Y, one, 0.0) == pytest.approx(2 / 5)
    assert certified_accuracy(Y, one, 0.1) == pytest.approx(1 / 5)
    assert average_certified_radius(Y, one) == pytest.approx((0.5 + 0.05) / 5)
    assert CATEGORICAL.certified_accuracy(0.1, categorical_changes=1) == pytest.approx(1 / 5)
    radii, accuracy = certified_accuracy_curve(Y, CATEGORICAL, categorical_changes=1)
    assert radii.tolist() == [0.0, 0.05, 0.5]
    np.testing.assert_allclose(accuracy, [2 / 5, 2 / 5, 1 / 5])
    _, plain = certified_accuracy_curve(Y, CATEGORICAL, [0.0, 0.1], categorical_changes=0)
    np.testing.assert_allclose(plain, [3 / 5, 3 / 5])  # rows 0, 1 and 4 reach 0.1


def test_categorical_scorer_equals_the_metric_by_hand():
    X, y = make_fraud(1500, fraud_rate=0.2, random_state=0)
    pipe = make_pipeline(
        make_fraud_preprocessor("ordinal").set_output(transform="pandas"),
        SmoothedClassifier(
            LogisticRegression(max_iter=300),
            sigma=0.25,
            categorical_features=["merchant_category", "channel"],
            categorical_noise=0.5,
            n=400,
            random_state=0,
        ),
    ).fit(X[:1200], y[:1200])
    X_test, y_test = X[1200:1320], y[1200:1320].to_numpy()
    result = certify(pipe, X_test, y_test, n=400)
    for k in (0, 1, 2):
        scorer = make_certified_scorer(0.1, categorical_changes=k, metric="recall", n=400)
        expected = certified_recall(y_test, result.with_categorical_changes(k), 0.1)
        assert scorer(pipe, X_test, y_test) == expected
    # Switching a category is certified for some frauds, and costs certificates.
    assert 0 < certified_accuracy(y_test, result.with_categorical_changes(1), 0.0)
    assert certified_accuracy(y_test, result.with_categorical_changes(1), 0.1) <= (
        certified_accuracy(y_test, result, 0.1)
    )
    with pytest.raises(ValueError, match="3 categorical change"):
        make_certified_scorer(0.1, categorical_changes=3, n=400)(pipe, X_test, y_test)


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("1", TypeError)]
)
def test_categorical_scorer_rejects_a_bad_count(value, error):
    with pytest.raises(error, match="categorical_changes"):
        make_certified_scorer(0.1, categorical_changes=value)


def test_categorical_scorer_names_its_count():
    assert "categorical_changes=1" in repr(make_certified_scorer(0.1, categorical_changes=1))
