"""AttackEnsemble: the worst case per row over several attacks, in one threat model."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sksmooth import SmoothedClassifier
from sksmooth.attacks import BPDA, PGD, AttackEnsemble, RandomSearch
from sksmooth.metrics import robust_accuracy

from ..conftest import tiny_net
from .conftest import predict32

# Fast settings for the tiny models of these tests.
FAST = {"steps": 20, "n_queries": 100, "random_state": 0}


def right(model, X, y):
    return model.predict(X) == y


# -------------------------------------------------------- worst case per row


def test_each_row_keeps_the_first_adversarial_example_found(quantized, data):
    X, y = data
    X, y = X[right(quantized, X, y)], y[right(quantized, X, y)]
    first = PGD(0.5, steps=20, random_state=3)
    second = RandomSearch(0.5, n_queries=100, random_state=4)
    ensemble = AttackEnsemble(0.5, attacks=[first, second], random_state=0)
    X_adv = ensemble.generate(quantized, X, y)
    # The first attack runs on every row, with its own seed kept: its successes
    # are returned exactly as it alone returns them.
    alone = first.generate(quantized, X, y)
    by_first = ensemble.fooled_by_ == "PGD"
    assert by_first.any()
    np.testing.assert_array_equal(by_first, ~right(quantized, alone, y))
    np.testing.assert_array_equal(X_adv[by_first], alone[by_first])
    # The second runs on what the first missed, and each row it fools stays fooled.
    by_second = ensemble.fooled_by_ == "RandomSearch"
    assert by_second.any() and not (by_first & by_second).any()
    fooled = by_first | by_second
    np.testing.assert_array_equal(~right(quantized, X_adv, y), fooled)
    assert set(ensemble.fooled_by_[~fooled]) == {None}
    assert list(ensemble.attacks_) == ["PGD", "RandomSearch"]


def test_rows_already_misclassified_are_returned_unchanged(net, data):
    X, y = data
    wrong = ~(predict32(net, X) == y)
    assert wrong.any()
    ensemble = AttackEnsemble(0.5, **FAST)
    X_adv = ensemble.generate(net, X, y)
    np.testing.assert_array_equal(X_adv[wrong], X[wrong])
    assert set(ensemble.fooled_by_[wrong]) == {"no attack needed"}


def test_every_masked_model_falls_to_the_undefended_level(
    masked_models, undefended_net, tabular_task
):
    # One attack is not enough: BPDA leaves the shattered defences far above the
    # undefended net, a search with probabilities only leaves distillation there.
    # The ensemble, told nothing, brings each within 5 points of the undefended net
    # (measured at L-inf 0.25: undefended 0.540; quantize 0.500, thermometer 0.415,
    # distillation 0.560, stochastic 0.120; BPDA alone 0.540 to 0.670).
    _, _, X_test, y_test = tabular_task
    settings = {"steps": 40, "n_queries": 300, "random_state": 0}
    undefended = robust_accuracy(undefended_net, X_test, y_test, AttackEnsemble(0.25, **settings))
    for method, model in masked_models.items():
        worst = robust_accuracy(model, X_test, y_test, AttackEnsemble(0.25, **settings))
        bpda = robust_accuracy(model, X_test, y_test, BPDA(0.25, loss="margin", random_state=0))
        assert worst <= undefended + 0.05, method
        assert worst <= bpda, method


def test_warm_start_search_beats_a_cold_one_on_shattered_gradients(masked_models, tabular_task):
    # Measured at L2 0.5 (thermometer): warm 0.365, cold 0.380 on an Intel Xeon;
    # warm 0.400, cold 0.385 on an AMD EPYC, whose float rounding leads the
    # searches elsewhere: warm starts are no worse beyond that spread of 3 rows of 200.
    _, _, X_test, y_test = tabular_task
    model = masked_models["thermometer"]
    settings = {"norm": "l2", "steps": 40, "n_queries": 300, "random_state": 0}
    warm = robust_accuracy(model, X_test, y_test, AttackEnsemble(0.5, **settings))
    cold = robust_accuracy(model, X_test, y_test, AttackEnsemble(0.5, warm_start=False, **settings))
    assert warm <= cold + 0.02


# ------------------------------------------------------------- threat model


@pytest.mark.parametrize("norm", ["inf", "l2"])
def test_every_row_lies_in_the_threat_model(norm, quantized, data):
    X, y = data
    mask = np.array([True, True, False, True, False, True])
    bounds = (X.min(axis=0) + 0.1, X.max(axis=0) - 0.1)
    X = np.clip(X, *bounds)
    ensemble = AttackEnsemble(0.6, norm=norm, feature_mask=mask, bounds=bounds, **FAST)
    X_adv = ensemble.generate(quantized, X, y)
    delta = X_adv - X
    size = np.abs(delta).max(axis=1) if norm == "inf" else np.linalg.norm(delta, axis=1)
    assert np.all(size <= 0.6)
    assert np.all(delta[:, ~mask] == 0)
    assert np.all((X_adv >= bounds[0]) & (X_adv <= bounds[1]))
    assert (ensemble.fooled_by_ == "RandomSearch").any()  # the search ran inside them too
    # The attacks of the set got the ensemble's threat model.
    for attack in ensemble.attacks_.values():
        assert (attack.eps, attack.norm) == (0.6, norm)
        np.testing.assert_array_equal(attack.feature_mask, mask)


def test_attacks_given_are_copied_with_the_ensembles_threat_model(net, data):
    X, y = data
    mine = PGD(0.1, norm="inf", steps=5)
    ensemble = AttackEnsemble(0.4, norm="l2", attacks=[mine, PGD(9.0, steps=5)], random_state=0)
    X_adv = ensemble.generate(net, X, y)
    assert np.linalg.norm(X_adv - X, axis=1).max() <= 0.4
    assert (mine.eps, mine.norm, mine.random_state) == (0.1, "inf", None)  # untouched
    assert list(ensemble.attacks_) == ["PGD", "PGD #2"]
    seeds = [attack.random_state for attack in ensemble.attacks_.values()]
    assert all(isinstance(seed, int) for seed in seeds) and seeds[0] != seeds[1]


def test_same_random_state_same_rows(stochastic, data):
    X, y = data
    first = AttackEnsemble(0.5, **FAST).generate(stochastic, X[:40], y[:40])
    again = AttackEnsemble(0.5, **FAST).generate(stochastic, X[:40], y[:40])
    np.testing.assert_array_equal(first, again)


# ------------------------------------------------------------ default sets


def test_default_set_follows_what_the_model_exposes(net, quantized, stochastic, data):
    X, y = data
    expected = {
        "net": (net, ["PGD (cross-entropy)", "PGD (margin)", "RandomSearch"]),
        "quantize": (
            quantized,
            ["PGD (cross-entropy)", "PGD (margin)", "BPDA (margin)", "RandomSearch"],
        ),
        "stochastic": (stochastic, ["PGD (cross-entropy)", "EOT (margin)", "RandomSearch"]),
        "boosting": (HistGradientBoostingClassifier(max_iter=10).fit(X, y), ["RandomSearch"]),
    }
    for name, (model, attacks) in expected.items():
        ensemble = AttackEnsemble(0.3, steps=5, n_queries=10, random_state=0)
        ensemble.generate(model, X[:30], y[:30])
        assert list(ensemble.attacks_) == attacks, name
    eot = ensemble_of(stochastic, X, y).attacks_["EOT (margin)"]
    assert (eot.n_samples, eot.bpda, eot.loss, eot.restarts) == (16, True, "margin", 2)


def ensemble_of(model, X, y, **params):
    ensemble = AttackEnsemble(0.3, steps=5, n_queries=10, random_state=0, **params)
    ensemble.generate(model, X[:30], y[:30])
    return ensemble


def test_default_set_of_smoothed_classifiers(data):
    X, y = data
    over_net = SmoothedClassifier(tiny_net(max_epochs=3), sigma=0.25, n_samples=20, random_state=0)
    over_net.fit(X, y)
    assert list(ensemble_of(over_net, X, y).attacks_) == ["SmoothAdv (margin)", "RandomSearch"]
    over_linear = SmoothedClassifier(LogisticRegression(), n_samples=20, random_state=0).fit(X, y)
    assert list(ensemble_of(over_linear, X, y).attacks_) == ["RandomSearch"]


def test_runs_in_the_input_space_of_a_pipelines_last_step(quantized, data):
    X, y = data
    pipe = make_pipeline(FunctionTransformer(lambda Z: Z * 2.0), quantized)
    ensemble = AttackEnsemble(0.3, **FAST)
    X_adv = ensemble.generate(pipe, X / 2.0, y, space="last_step")
    assert "last step" in ensemble.space_
    assert np.abs(X_adv - X).max() <= 0.3


# --------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"attacks": []}, ValueError, "attacks is empty"),
        ({"attacks": PGD(0.1)}, TypeError, "attacks must be a list"),
        ({"attacks": [PGD(0.1), "pgd"]}, TypeError, "every entry of attacks.*got str"),
        ({"steps": 0}, ValueError, "steps == 0, must be >= 1"),
        ({"restarts": 0}, ValueError, "restarts == 0, must be >= 1"),
        ({"n_queries": 0}, ValueError, "n_queries == 0, must be >= 1"),
    ],
)
def test_invalid_parameters_raise(params, error, match, net, data):
    with pytest.raises(error, match=match):
        AttackEnsemble(0.1, **params).generate(net, *data)


def test_attacks_that_cannot_run_on_the_model_are_named():
    X, y = make_classification(60, n_features=4, random_state=0)
    model = LogisticRegression().fit(X, y)
    with pytest.raises(TypeError, match="no differentiable forward"):
        AttackEnsemble(0.1, attacks=[PGD(0.1)]).generate(model, X, y)
