"""Which estimators a gradient attack can differentiate, and what it feeds them."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksmooth import SmoothedClassifier
from sksmooth.attacks import BPDA, EOT, FGSM, PGD, RandomSearch, SmoothAdv
from sksmooth.attacks._targets import differentiable_target, model_input
from sksmooth.diagnostics import check_gradient_masking

from ..conftest import tiny_net
from .conftest import logit_twin, predict32, two_logit_twin


@pytest.fixture(scope="module")
def logistic(data):
    return LogisticRegression().fit(*data)


# ------------------------------------------------------------- model_input


def test_model_input_casts_to_a_bare_nets_dtype(net, data):
    X, _ = data
    assert model_input(net, X).dtype == np.float32
    assert model_input(FrozenEstimator(net), X).dtype == np.float32
    np.testing.assert_array_equal(model_input(net, X), X.astype(np.float32))
    # A float32 X is passed through without a copy.
    X32 = X.astype(np.float32)
    assert model_input(net, X32) is X32


def test_model_input_follows_a_float64_module(net, data):
    X, y = data
    double = clone(net).fit(X.astype(np.float32), y)
    double.module_.double()
    assert model_input(double, X.astype(np.float32)).dtype == np.float64
    # ...and RandomSearch, which goes through model_input, then runs on it.
    RandomSearch(0.1, n_queries=3, random_state=0).generate(double, X, y)


def test_model_input_leaves_other_estimators_alone(logistic, quantized, data):
    X, y = data
    boosting = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
    for model in (logistic, quantized, boosting):
        assert model_input(model, X) is X


# -------------------------------------------------------- white-box targets


@pytest.mark.parametrize(
    "attack",
    [PGD(0.1), FGSM(0.1), BPDA(0.1), EOT(0.1)],
    ids=["pgd", "fgsm", "bpda", "eot"],
)
def test_white_box_attack_on_sklearn_model_points_to_randomsearch(attack, logistic, data):
    with pytest.raises(
        TypeError,
        match=r"LogisticRegression has no differentiable forward.*sksmooth\.attacks\.RandomSearch",
    ):
        attack.generate(logistic, *data)


def test_smoothadv_on_anything_but_a_smoothed_classifier_names_the_alternatives(logistic, data):
    with pytest.raises(TypeError, match=r"SmoothAdv attacks a SmoothedClassifier.*RandomSearch"):
        SmoothAdv(0.1).generate(logistic, *data)


@pytest.fixture(scope="module")
def smoothed_net(data):
    return SmoothedClassifier(
        tiny_net(max_epochs=5), sigma=0.5, n0=10, n=100, n_samples=50, random_state=0
    ).fit(*data)


@pytest.mark.parametrize("attack", [PGD(0.1), FGSM(0.1), BPDA(0.1), EOT(0.1)])
def test_gradient_attack_on_smoothed_classifier_points_to_smoothadv(attack, smoothed_net, data):
    with pytest.raises(TypeError, match=r"majority vote with no gradient.*attacks\.SmoothAdv"):
        attack.generate(smoothed_net, *data)


def test_smoothadv_needs_a_skorch_base(data):
    smoothed = SmoothedClassifier(
        LogisticRegression(), sigma=0.5, n0=10, n=100, n_samples=50, random_state=0
    ).fit(*data)
    with pytest.raises(
        TypeError, match=r"over a skorch net.*smooths LogisticRegression.*RandomSearch"
    ):
        SmoothAdv(0.1).generate(smoothed, *data)


def test_frozen_net_is_attacked_like_the_net(net, data):
    attack = PGD(0.2, steps=5, random_state=0)
    frozen = attack.generate(FrozenEstimator(net), *data)
    assert np.array_equal(frozen, attack.generate(net, *data))


def test_net_fitted_without_classes_is_rejected(net, data):
    X, y = data
    unlabelled = clone(net).fit(X.astype(np.float32), y)
    unlabelled.classes_inferred_ = None  # skorch's classes_ comes from here
    with pytest.raises(TypeError, match=r"no classes_"):
        differentiable_target(unlabelled)


def test_target_logits_are_float64_and_match_the_module(net, data):
    X, _ = data
    target = differentiable_target(net)
    rows = torch.as_tensor(X)
    logits = target.logits(rows)
    assert logits.dtype == torch.float64
    with torch.no_grad():
        expected = net.module_(rows.float()).double()
    np.testing.assert_array_equal(logits.detach(), expected)
    assert target.stochastic is False
    np.testing.assert_array_equal(target.classes, net.classes_)


def test_target_flags_stochastic_defences(quantized, stochastic, smoothed_net):
    assert differentiable_target(quantized).stochastic is False
    assert differentiable_target(stochastic).stochastic is True
    assert differentiable_target(smoothed_net, n_noise_samples=4).stochastic is True


# ------------------------------------------- what a module's output means


def test_softmax_ended_net_is_attacked_through_its_logits(softmax_net, tabular_task):
    _, _, X, y = tabular_task
    twin = logit_twin(softmax_net)
    # The net skorch's docs show: NLLLoss, probabilities out; the twin returns logits.
    assert np.allclose(
        softmax_net.module_(torch.tensor(X[:5], dtype=torch.float32)).sum(1).detach(), 1
    )
    for loss in ("ce", "margin"):
        attack = PGD(0.3, steps=10, loss=loss, random_state=0)
        X_soft, X_logit = attack.generate(softmax_net, X, y), attack.generate(twin, X, y)
        np.testing.assert_array_equal(X_soft, X_logit)
        fooled = predict32(softmax_net, X_soft) != y
        assert np.array_equal(fooled, predict32(twin, X_logit) != y) and fooled.mean() > 0.2


def test_honest_softmax_ended_net_is_not_flagged(softmax_net, tabular_task):
    _, _, X, y = tabular_task
    X, y = X[:120], y[:120]
    options = {"eps": 0.3, "n_random": 20, "n_queries": 100, "random_state": 0}
    report = check_gradient_masking(softmax_net, X, y, **options)
    # Probabilities attacked as if they were logits stall the unbounded
    # attack where the softmax saturates (large_eps_success 0.94 here).
    assert not report.masking_suspected, report
    twin = check_gradient_masking(logit_twin(softmax_net), X, y, **options)
    assert report.summary().equals(twin.summary())


@pytest.mark.parametrize(
    "make_attack",
    [
        lambda: PGD(0.3, steps=10, random_state=0),
        lambda: PGD(0.3, steps=10, loss="margin", random_state=0),
        lambda: FGSM(0.3),
        lambda: EOT(0.3, steps=5, n_samples=2, random_state=0),
    ],
    ids=["pgd", "pgd-margin", "fgsm", "eot"],
)
def test_single_logit_net_is_attacked_as_two_class_logits(make_attack, binary_net, data):
    X, y = data
    assert binary_net.module_(torch.tensor(X[:3], dtype=torch.float32)).shape == (3,)
    X_adv = make_attack().generate(binary_net, X, y)
    # [0, z]: cross-entropy is the net's own BCE, the margin is z itself.
    np.testing.assert_array_equal(X_adv, make_attack().generate(two_logit_twin(binary_net), X, y))
    clean = binary_net.predict(X.astype(np.float32)) != y
    assert (binary_net.predict(X_adv.astype(np.float32)) != y).mean() > clean.mean() + 0.1


@pytest.mark.parametrize("threshold", [0.5, 0.2, 0.9])
def test_single_logit_target_decides_as_the_nets_threshold(threshold, binary_net, data):
    X, y = data
    net = clone(binary_net).set_params(threshold=threshold)
    net.initialize()
    net.module_.load_state_dict(binary_net.module_.state_dict())
    with torch.no_grad():
        logits = differentiable_target(net).logits(torch.as_tensor(X))
    np.testing.assert_array_equal(logits.argmax(1).numpy(), predict32(net, X))
    # An attack reads success the same way: rows it reports fooled are fooled.
    X_adv = PGD(0.3, steps=10, random_state=0).generate(net, X, y)
    assert (predict32(net, X_adv) != y).mean() > (predict32(net, X) != y).mean()


def test_single_logit_net_passes_the_diagnostic(binary_net, data):
    X, y = data
    report = check_gradient_masking(
        binary_net, X[:100], y[:100], eps=0.3, steps=10, n_random=10, n_queries=50, random_state=0
    )
    assert not report.masking_suspected, report


# ---------------------------------------------------- meta-estimators of nets


@pytest.fixture(scope="module")
def meta_models(data):
    """Meta-estimators over skorch nets, fitted on float32 rows as the nets need."""
    X, y = data
    X32 = X.astype(np.float32)

    def net():
        return tiny_net(module__input_units=X.shape[1], module__output_units=2, max_epochs=10)

    with torch.random.fork_rng():
        torch.manual_seed(0)
        return {
            "grid": GridSearchCV(net(), {"lr": [0.05, 0.1]}, cv=2).fit(X32, y),
            "grid-pipeline": GridSearchCV(
                make_pipeline(StandardScaler(), net()), {"neuralnetclassifier__lr": [0.05]}, cv=2
            ).fit(X32, y),
            "calibrated": CalibratedClassifierCV(net(), cv=2).fit(X32, y),
            "voting": VotingClassifier(
                [("net", net()), ("logistic", LogisticRegression())], voting="soft"
            ).fit(X32, y),
        }


META = ["grid", "grid-pipeline", "calibrated", "voting"]


@pytest.mark.parametrize("name", META)
def test_model_input_casts_for_models_that_hand_rows_to_a_net(name, meta_models, data):
    X, y = data
    model = meta_models[name]
    with pytest.raises(TypeError, match="dtype"):
        model.predict(X)  # float64 rows, as attacks compute them
    assert model_input(model, X).dtype == np.float32
    assert model.score(model_input(model, X), y) > 0.8


@pytest.mark.parametrize("name", META)
def test_meta_estimators_are_attacked_as_black_boxes(name, meta_models, data):
    X, y = data
    model = meta_models[name]
    attack = RandomSearch(0.5, n_queries=30, random_state=0)
    X_adv = attack.generate(model, X, y)
    # The grid's pipeline is attacked after its scaler (of unit scale here),
    # and its rows are mapped back: the ball then holds up to rounding.
    assert np.abs(X_adv - X).max() <= 0.5 + (1e-6 if name == "grid-pipeline" else 0)
    fooled = model.predict(model_input(model, X_adv)) != y
    assert fooled.mean() > (model.predict(model_input(model, X)) != y).mean()


def test_search_is_attacked_through_its_best_estimator(meta_models, data):
    X, y = data
    for name in ("grid", "grid-pipeline"):
        search = meta_models[name]
        attack = PGD(0.3, steps=5, random_state=0)
        np.testing.assert_array_equal(
            attack.generate(search, X, y), attack.generate(search.best_estimator_, X, y)
        )
    with pytest.raises(TypeError, match=r"CalibratedClassifierCV has no differentiable.*Random"):
        PGD(0.3).generate(meta_models["calibrated"], X, y)


@pytest.mark.parametrize("name", ["grid", "grid-pipeline"])
def test_diagnostic_runs_on_a_search(name, meta_models, data):
    X, y = data
    options = {"eps": 0.3, "steps": 5, "n_random": 5, "n_queries": 20, "random_state": 0}
    report = check_gradient_masking(meta_models[name], X[:60], y[:60], **options)
    best = check_gradient_masking(meta_models[name].best_estimator_, X[:60], y[:60], **options)
    assert report.summary().equals(best.summary())
