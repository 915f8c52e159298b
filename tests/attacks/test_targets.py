"""Which estimators a gradient attack can differentiate, and what it feeds them."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sksmooth import SmoothedClassifier
from sksmooth.attacks import BPDA, EOT, FGSM, PGD, RandomSearch, SmoothAdv
from sksmooth.attacks._targets import differentiable_target, model_input

from ..conftest import tiny_net


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
