"""GradientMaskedClassifier: each defence masks gradients, and falls to its adaptive attack."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksmooth import GradientMaskedClassifier
from sksmooth.attacks import BPDA, EOT, PGD

from .conftest import MASKING_PARAMS, tiny_net

EPS = 0.25  # L-inf, in standard deviations of each feature
SEEDS = range(4)  # attack seeds averaged: a randomized defence's outcome varies with them

# The attack that sees through each defence (Athalye et al., 2018).
ADAPTIVE = {
    "quantize": lambda seed: BPDA(EPS, random_state=seed),
    "thermometer": lambda seed: BPDA(EPS, random_state=seed),
    "distillation": lambda seed: PGD(EPS, loss="margin", random_state=seed),
    "stochastic": lambda seed: EOT(EPS, n_samples=16, random_state=seed),
}

# How much lower plain PGD's success must be than on the undefended net.
# Measured means over SEEDS (success = share of correctly classified rows the
# attack flips): undefended 0.371; quantize 0.048, thermometer 0.054,
# distillation 0.104, stochastic 0.327. Randomized inference masks only a
# little on this small MLP: 40 PGD steps average much of its gradient noise.
MASKING_MARGIN = {"quantize": 0.25, "thermometer": 0.25, "distillation": 0.2, "stochastic": 0.03}


def accuracy(model, X, y):
    # float32: a bare skorch net takes its module's dtype; the others convert.
    return float(np.mean(model.predict(X.astype(np.float32)) == y))


def robust_accuracy_and_success(model, make_attack, X, y):
    """Mean over SEEDS of accuracy under attack and of the share of correct rows flipped."""
    correct = model.predict(X.astype(np.float32)) == y
    robust, success = [], []
    for seed in SEEDS:
        # Predict on the float64 rows the attack returns (a randomized defence
        # seeds each row's draw from its exact bytes).
        X_adv = make_attack(seed).generate(model, X, y)
        if not isinstance(model, GradientMaskedClassifier):
            X_adv = X_adv.astype(np.float32)
        fooled = model.predict(X_adv) != y
        robust.append(np.mean(~fooled))
        success.append(np.mean(fooled[correct]))
    return float(np.mean(robust)), float(np.mean(success))


def plain_pgd(seed):
    return PGD(EPS, random_state=seed)


@pytest.fixture(scope="module")
def undefended_under_pgd(undefended_net, tabular_task):
    _, _, X_test, y_test = tabular_task
    return robust_accuracy_and_success(undefended_net, plain_pgd, X_test, y_test)


@pytest.mark.parametrize("method", sorted(MASKING_PARAMS))
def test_defence_masks_plain_pgd_and_falls_to_adaptive_attack(
    method, masked_models, undefended_under_pgd, tabular_task
):
    _, _, X_test, y_test = tabular_task
    model = masked_models[method]
    undefended_robust, undefended_success = undefended_under_pgd
    assert accuracy(model, X_test, y_test) >= 0.75  # still a useful classifier

    _, plain_success = robust_accuracy_and_success(model, plain_pgd, X_test, y_test)
    # It really masks: plain PGD flips fewer rows than on the undefended net.
    assert plain_success <= undefended_success - MASKING_MARGIN[method]

    adaptive_robust, _ = robust_accuracy_and_success(model, ADAPTIVE[method], X_test, y_test)
    # ...and the adaptive attack takes robust accuracy back to the undefended
    # net's (measured means: undefended 0.556; adaptive attack on quantize
    # 0.541, thermometer 0.551, distillation 0.565, stochastic 0.586).
    assert abs(adaptive_robust - undefended_robust) <= 0.06


@pytest.mark.parametrize("method", sorted(MASKING_PARAMS))
def test_pickle_round_trip_gives_identical_predictions(method, masked_models, tabular_task):
    _, _, X_test, _ = tabular_task
    model = masked_models[method]
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X_test), model.predict_proba(X_test))


def test_works_in_a_pipeline_and_clones(tabular_task):
    X_train, y_train, X_test, y_test = tabular_task
    pipe = make_pipeline(
        StandardScaler(),
        # A seed, and a learning rate at which 40 binary inputs train on every seed tried (0-5).
        GradientMaskedClassifier(tiny_net(lr=0.01), method="thermometer", levels=4, random_state=0),
    )
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.7
    cloned = clone(pipe)
    assert not hasattr(cloned[-1], "estimator_")
    assert cloned.get_params()["gradientmaskedclassifier__levels"] == 4


def test_fit_does_not_touch_the_given_net(tabular_task):
    X_train, y_train, _, _ = tabular_task
    net = tiny_net()
    params = net.get_params()
    GradientMaskedClassifier(net, method="distillation", temperature=5.0).fit(X_train, y_train)
    assert not hasattr(net, "module_")
    assert net.get_params().keys() == params.keys()
    assert net.criterion is params["criterion"]


def test_quantize_and_thermometer_ranges(tabular_task):
    X_train, y_train, _, _ = tabular_task
    model = GradientMaskedClassifier(tiny_net(), method="quantize").fit(X_train, y_train)
    np.testing.assert_array_equal(model.low_, X_train.min(axis=0))
    np.testing.assert_array_equal(model.high_, X_train.max(axis=0))
    given = GradientMaskedClassifier(tiny_net(), method="thermometer", value_range=(-3, 3))
    given.fit(X_train, y_train)
    np.testing.assert_array_equal(given.low_, np.full(10, -3.0))
    # Thermometer codes widen the net's input: 10 features x 16 levels.
    assert given.estimator_.module_.layers[0].in_features == 160


def test_distillation_deploys_at_temperature_one(masked_models, tabular_task):
    # Deployed at T = 1, the student's softmax saturates: that is what masks.
    _, _, X_test, _ = tabular_task
    proba = masked_models["distillation"].predict_proba(X_test)
    assert np.mean(proba.max(axis=1) > 0.999) > 0.5
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_stochastic_predictions_are_a_function_of_the_input(masked_models, tabular_task):
    _, _, X_test, _ = tabular_task
    model = masked_models["stochastic"]
    np.testing.assert_array_equal(
        model.predict_proba(X_test[:20]), model.predict_proba(X_test[:20])
    )
    # Alone or in a batch, a row draws the same randomness (float32 matmuls of
    # other batch shapes may differ in the last bits).
    np.testing.assert_allclose(
        model.predict_proba(X_test[[7]]), model.predict_proba(X_test)[[7]], rtol=1e-5
    )


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"method": "squeeze"}, ValueError, "method must be one of"),
        ({"levels": 1}, ValueError, "levels"),
        ({"levels": 2.5}, TypeError, "levels"),
        ({"temperature": 0}, ValueError, "temperature"),
        ({"noise_std": -1}, ValueError, "noise_std"),
        ({"pruning_ratio": 0}, ValueError, "pruning_ratio"),
        (
            {"method": "stochastic", "noise_std": 0, "pruning_ratio": None},
            ValueError,
            "both are off",
        ),
        ({"method": "quantize", "value_range": (1, -1)}, ValueError, "value_range"),
    ],
)
def test_bad_parameters_are_named(params, error, message, tabular_task):
    X_train, y_train, _, _ = tabular_task
    with pytest.raises(error, match=message):
        GradientMaskedClassifier(tiny_net(), **params).fit(X_train, y_train)


def test_non_skorch_estimator_is_rejected(tabular_task):
    X_train, y_train, _, _ = tabular_task
    with pytest.raises(TypeError, match="skorch NeuralNetClassifier"):
        GradientMaskedClassifier(LogisticRegression()).fit(X_train, y_train)


class LinearOnly(torch.nn.Module):
    def __init__(self, input_units=None, output_units=None, hidden_units=None):
        super().__init__()
        self.linear = torch.nn.Linear(input_units, output_units)

    def forward(self, X):
        return self.linear(X)


def test_pruning_needs_relu_layers(tabular_task):
    X_train, y_train, _, _ = tabular_task
    net = tiny_net().set_params(module=LinearOnly)
    with pytest.raises(ValueError, match="nn.ReLU"):
        GradientMaskedClassifier(net, method="stochastic").fit(X_train, y_train)


def test_reversed_and_flipped_arrays_work(masked_models, tabular_task):
    X_train, y_train, X_test, _ = tabular_task
    model = masked_models["quantize"]
    np.testing.assert_array_equal(model.predict(X_test[::-1]), model.predict(X_test)[::-1])
    GradientMaskedClassifier(tiny_net(), method="distillation", temperature=5.0).fit(
        X_train[::-1], y_train[::-1]
    )


def test_value_range_of_the_wrong_length_is_named(tabular_task):
    X_train, y_train, _, _ = tabular_task
    with pytest.raises(ValueError, match="value_range must be"):
        GradientMaskedClassifier(tiny_net(), value_range=([0, 0, 0], [1, 1, 1])).fit(
            X_train, y_train
        )


def test_distillation_honours_class_weights(tabular_task):
    # Class weights (e.g. for rare fraud) reach the temperature loss of the
    # teacher and the student: weighting class 1 up predicts it more often.
    X_train, y_train, X_test, _ = tabular_task

    def share_of_class_one(weight):
        net = tiny_net(max_epochs=5, criterion__weight=torch.tensor(weight))
        model = GradientMaskedClassifier(net, method="distillation", random_state=0)
        return np.mean(model.fit(X_train, y_train).predict(X_test) == 1)

    assert share_of_class_one([1.0, 30.0]) > share_of_class_one([1.0, 1.0]) + 0.1


def test_one_logit_binary_net_is_refused(tabular_task):
    from skorch import NeuralNetBinaryClassifier

    from sksmooth.nets import MLPModule

    X_train, y_train, _, _ = tabular_task
    net = NeuralNetBinaryClassifier(MLPModule, module__output_units=1, train_split=None)
    with pytest.raises(TypeError, match="NeuralNetBinaryClassifier.*make_mlp_classifier"):
        GradientMaskedClassifier(net).fit(X_train, y_train)


@pytest.mark.parametrize("method", ["quantize", "distillation"])
def test_class_weight_by_label_weighs_every_trained_net(method):
    # 8% fraud shifted by one standard deviation: weighing legit 20 times (the
    # documented tensor with sorted string labels) flags no fraud (measured 0.0),
    # weighing fraud 20 times flags most of it (measured 0.81 with quantize).
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (184, 1)), rng.normal(1, 1, (16, 1))])
    y = np.array(["legit"] * 184 + ["fraud"] * 16)
    order = rng.permutation(len(y))
    X, y, X_fraud = X[order], y[order], rng.normal(1, 1, (100, 1))
    net = tiny_net(max_epochs=10)
    weighted = GradientMaskedClassifier(
        net, method=method, class_weight={"fraud": 20, "legit": 1}, random_state=0
    ).fit(X, y)
    assert weighted.estimator_.criterion_.weight.tolist() == [20.0, 1.0]
    assert "criterion__weight" not in net.get_params()
    misweighted_net = tiny_net(max_epochs=10, criterion__weight=torch.tensor([1.0, 20.0]))
    with pytest.warns(UserWarning, match="sorted label order.*class_weight"):
        misweighted = GradientMaskedClassifier(misweighted_net, method=method, random_state=0)
        misweighted.fit(X, y)
    assert np.mean(misweighted.predict(X_fraud) == "fraud") < 0.05
    assert np.mean(weighted.predict(X_fraud) == "fraud") > 0.5


def test_class_weight_and_criterion_weight_together_are_refused(tabular_task):
    X_train, y_train, _, _ = tabular_task
    net = tiny_net(max_epochs=1, criterion__weight=torch.ones(2))
    with pytest.raises(ValueError, match="class_weight alone"):
        GradientMaskedClassifier(net, class_weight="balanced").fit(X_train, y_train)
    with pytest.raises(ValueError, match="class_weight must be"):
        GradientMaskedClassifier(tiny_net(), class_weight="even").fit(X_train, y_train)


def test_fitted_net_warns_that_it_is_retrained(tabular_task):
    X_train, y_train, _, _ = tabular_task
    net = tiny_net(max_epochs=1, module__input_units=X_train.shape[1], module__output_units=2)
    net.fit(X_train.astype(np.float32), y_train)
    with pytest.warns(UserWarning, match="already fitted.*FrozenEstimator") as record:
        GradientMaskedClassifier(net).fit(X_train, y_train)
    assert any(w.filename == __file__ for w in record)  # stacklevel: the caller of fit
