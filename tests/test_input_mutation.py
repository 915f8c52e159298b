"""No public call changes what it is given.

Every entry point is called on C- and F-ordered arrays, read-only arrays and
pandas objects; deep copies taken before the call must equal the inputs
after it (values, dtype, layout, write flag). The user's estimator objects
keep their parameters, a frozen model keeps its fitted state, and an attack
keeps its parameters.
"""

import copy
import inspect

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from skorch.callbacks import EpochTimer

from sksmooth import GradientMaskedClassifier, SmoothedClassifier, certify, make_fraud
from sksmooth.attacks import FGSM, PGD, RandomSearch
from sksmooth.datasets import make_fraud_preprocessor
from sksmooth.diagnostics import check_gradient_masking
from sksmooth.metrics import (
    abstain_rate,
    average_certified_radius,
    balanced_certified_accuracy,
    certified_accuracy,
    certified_recall,
    make_certified_scorer,
    make_robust_scorer,
    robust_accuracy,
)
from sksmooth.nets import make_mlp_classifier

FAST = {"sigma": 0.25, "n0": 10, "n": 50, "n_samples": 20, "random_state": 0}
N_ROWS, N_FEATURES = 60, 3
VARIANTS = ["C", "F", "read-only C", "read-only F", "float32 read-only", "pandas"]
METHODS = ["quantize", "thermometer", "distillation", "stochastic"]


def tiny_net(**params):
    return make_mlp_classifier(hidden_units=(8,), max_epochs=2, lr=0.05, batch_size=16, **params)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        N_ROWS, n_features=N_FEATURES, n_informative=2, n_redundant=0, class_sep=2.0,
        random_state=0,
    )  # fmt: skip
    return X, np.where(y == 1, "fraud", "legit")


def read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def variant(X: np.ndarray, y: np.ndarray, name: str) -> tuple:
    """``X`` and ``y`` in one of the memory layouts and containers users pass."""
    if name == "C":
        return np.ascontiguousarray(X), y.copy()
    if name == "F":
        return np.asfortranarray(X), y.copy()
    if name == "read-only C":
        return read_only(np.ascontiguousarray(X)), read_only(y.copy())
    if name == "read-only F":
        return read_only(np.asfortranarray(X)), read_only(y.copy())
    if name == "float32 read-only":
        return read_only(X.astype(np.float32)), read_only(y.copy())
    columns = [f"feature_{j}" for j in range(X.shape[1])]
    return pd.DataFrame(X, columns=columns), pd.Series(y, name="label")


def assert_unchanged(before, after):
    """``after`` equals the deep copy ``before``: values, dtype, layout and write flag."""
    if isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(after, before)
    elif isinstance(before, pd.Series):
        pd.testing.assert_series_equal(after, before)
    elif isinstance(before, np.ndarray):
        np.testing.assert_array_equal(after, before, strict=True)
        assert after.flags.c_contiguous == before.flags.c_contiguous
        assert after.flags.f_contiguous == before.flags.f_contiguous
    elif isinstance(before, (tuple, list)):
        assert len(after) == len(before)
        for b, a in zip(before, after, strict=True):
            assert_unchanged(b, a)
    else:
        assert after == before


def call_and_check(call, *inputs):
    """Run ``call`` and assert that none of ``inputs`` changed; return its result."""
    snapshots = [copy.deepcopy(value) for value in inputs]
    writeable = [v.flags.writeable if isinstance(v, np.ndarray) else None for v in inputs]
    result = call()
    for value, snapshot, was_writeable in zip(inputs, snapshots, writeable, strict=True):
        assert_unchanged(snapshot, value)
        if was_writeable is not None:
            assert value.flags.writeable == was_writeable
    return result


def same_params(before, after) -> bool:
    """Parameters compared by value, through nested estimators and containers."""
    if hasattr(before, "get_params") and not inspect.isclass(before):
        return type(before) is type(after) and same_params(
            before.get_params(deep=False), after.get_params(deep=False)
        )
    if isinstance(before, dict):
        return before.keys() == after.keys() and all(
            same_params(before[k], after[k]) for k in before
        )
    if isinstance(before, (list, tuple)):
        return len(before) == len(after) and all(
            same_params(b, a) for b, a in zip(before, after, strict=True)
        )
    if isinstance(before, (np.ndarray, torch.Tensor)):
        return bool(np.array_equal(np.asarray(before), np.asarray(after)))
    return before is after or before == after


def snapshot_params(estimator):
    return copy.deepcopy(estimator.get_params(deep=False))


def assert_same_params(estimator, snapshot):
    assert same_params(snapshot, estimator.get_params(deep=False))


def fitted_state(model, *, with_mode: bool = True) -> dict:
    """What fitting a model set: a skorch net's weights, or a scikit-learn model's arrays.

    ``with_mode`` adds the module's train / eval mode. skorch's own ``predict_proba``
    leaves a net in eval mode, so black-box calls to a bare net are checked without it.
    """
    if hasattr(model, "module_"):
        state = {k: v.clone() for k, v in model.module_.state_dict().items()}
        state["device"] = str(model.device)
        return {**state, "training": model.module_.training} if with_mode else state
    return {k: copy.deepcopy(v) for k, v in vars(model).items() if k.endswith("_")}


def assert_same_state(model, before, *, with_mode: bool = True):
    after = fitted_state(model, with_mode=with_mode)
    assert after.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(after[key], value), key
        else:
            assert same_params(value, after[key]), key


# ------------------------------------------------------------ SmoothedClassifier


def base_estimator(kind: str, X, y):
    """The estimator handed to SmoothedClassifier, as a user would build it."""
    if kind == "logreg":
        return LogisticRegression(C=0.5)
    if kind == "net":
        return tiny_net(callbacks=[("timer", EpochTimer())])
    if kind == "frozen logreg":
        # Fitted on an array: one fitted on a frame warns on every noisy batch (see
        # test_bad_input.py); that is not what this file tests.
        return FrozenEstimator(LogisticRegression().fit(np.asarray(X), y))
    net = tiny_net(module__input_units=N_FEATURES, module__output_units=2)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return FrozenEstimator(net.fit(np.asarray(X, dtype=np.float32), y))


@pytest.mark.parametrize("kind", ["logreg", "net", "frozen logreg"])
@pytest.mark.parametrize("name", VARIANTS)
def test_smoothed_classifier_changes_no_input(data, kind, name):
    X, y = variant(*data, name)
    base = base_estimator(kind, X, y)
    params = snapshot_params(base)
    inner = base.estimator if isinstance(base, FrozenEstimator) else None
    inner_state = fitted_state(inner) if inner is not None else None
    clf = SmoothedClassifier(base, **FAST)
    clf_params = snapshot_params(clf)

    call_and_check(lambda: clf.fit(X, y), X, y)
    assert clf.estimator is base
    assert_same_params(base, params)
    assert_same_params(clf, clf_params)
    if kind == "net":
        assert not hasattr(base, "module_")  # the given net was cloned, not trained
    if inner is not None:
        assert_same_state(inner, inner_state)

    call_and_check(lambda: clf.predict(X), X)
    call_and_check(lambda: clf.predict_proba(X), X)
    call_and_check(lambda: clf.score(X, y), X, y)
    call_and_check(lambda: clf.certify(X, y), X, y)
    call_and_check(lambda: clf.certify(X[:10], radius=0.1), X)
    call_and_check(lambda: clf.certify(X[:10], n_max=200, n=300), X)
    call_and_check(lambda: certify(clf, X, y, n=30), X, y)
    assert_same_params(base, params)
    assert_same_params(clf, clf_params)
    if inner is not None:
        assert_same_state(inner, inner_state)


def test_frozen_skorch_net_keeps_its_weights(data):
    X, y = variant(*data, "read-only F")
    y = read_only((y == "fraud") * 1)
    base = base_estimator("frozen net", X, y)
    state = fitted_state(base.estimator)
    clf = SmoothedClassifier(base, **FAST)
    call_and_check(lambda: clf.fit(X, y), X, y)
    call_and_check(lambda: clf.certify(X, y), X, y)
    call_and_check(lambda: clf.predict_proba(X), X)
    assert_same_state(base.estimator, state)


@pytest.mark.parametrize("name", ["C", "read-only F", "pandas"])
def test_sample_weight_is_not_changed(data, name):
    X, y = variant(*data, name)
    weight = read_only(np.linspace(0.5, 2.0, len(y))) if name != "C" else np.ones(len(y))
    clf = SmoothedClassifier(LogisticRegression(), **FAST)
    call_and_check(lambda: clf.fit(X, y, sample_weight=weight), X, y, weight)


# ----------------------------------------------------- GradientMaskedClassifier


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", VARIANTS)
def test_masked_classifier_changes_no_input(data, method, name):
    X, y = variant(*data, name)
    net = tiny_net(callbacks=[("timer", EpochTimer())])
    params = snapshot_params(net)
    value_range = (read_only(np.full(N_FEATURES, -5.0)), read_only(np.full(N_FEATURES, 5.0)))
    extra = {"noise_std": 0.1} if method == "stochastic" else {"value_range": value_range}
    clf = GradientMaskedClassifier(net, method=method, random_state=0, **extra)
    call_and_check(lambda: clf.fit(X, y), X, y, value_range)
    assert clf.estimator is net and not hasattr(net, "module_")
    assert_same_params(net, params)
    call_and_check(lambda: clf.predict(X), X)
    call_and_check(lambda: clf.predict_proba(X), X)
    call_and_check(lambda: clf.score(X, y), X, y)


# ------------------------------------------------------------------- attacks


@pytest.fixture(scope="module")
def targets(data):
    X, y = data
    net = tiny_net(module__input_units=N_FEATURES, module__output_units=2)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net.fit(X.astype(np.float32), (y == "fraud") * 1)
    masked = GradientMaskedClassifier(tiny_net(), method="quantize", random_state=0).fit(X, y)
    smoothed = SmoothedClassifier(LogisticRegression(), **FAST).fit(X, y)
    return {"net": net, "masked": masked, "smoothed": smoothed}


def attack_labels(estimator, y):
    if estimator.classes_.dtype.kind in "iub":
        return (np.asarray(y) == "fraud") * 1
    return y


def make_attacks(mask, bounds):
    return [
        FGSM(0.2, feature_mask=mask, bounds=bounds),
        PGD(0.2, norm="l2", steps=3, feature_mask=mask, bounds=bounds, random_state=0),
        RandomSearch(0.2, n_queries=5, feature_mask=mask, bounds=bounds, random_state=0),
    ]


def public_params(attack) -> dict:
    return copy.deepcopy({k: v for k, v in vars(attack).items() if not k.endswith("_")})


@pytest.mark.parametrize("target", ["net", "masked", "smoothed"])
@pytest.mark.parametrize("name", VARIANTS)
def test_attacks_change_no_input(data, targets, target, name):
    X, y = variant(*data, name)
    estimator = targets[target]
    y = attack_labels(estimator, y)
    if name == "pandas":
        y = pd.Series(y, name="label")
    mask = read_only(np.array([True, False, True]))
    bounds = (read_only(np.full(N_FEATURES, -10.0)), read_only(np.full(N_FEATURES, 10.0)))
    for attack in make_attacks(mask, bounds):
        if target == "smoothed" and not isinstance(attack, RandomSearch):
            continue  # white-box attacks refuse a smoothed LogisticRegression
        params = public_params(attack)
        model = estimator if target == "net" else estimator.estimator_
        state = fitted_state(model, with_mode=target != "net")
        X_adv = call_and_check(lambda a=attack: a.generate(estimator, X, y), X, y, mask, bounds)
        assert not np.shares_memory(X_adv, np.asarray(X))
        assert same_params(params, public_params(attack))
        assert_same_state(model, state, with_mode=target != "net")


# ------------------------------------------------------------ metrics, scorers


@pytest.mark.parametrize("name", VARIANTS)
def test_metrics_and_scorers_change_no_input(data, name):
    X, y = variant(*data, name)
    smoothed = SmoothedClassifier(LogisticRegression(), **FAST).fit(X, y)
    result = smoothed.certify(X, y)
    fields = copy.deepcopy(vars(result))
    attack = RandomSearch(0.2, n_queries=3, random_state=0)
    params = public_params(attack)
    for metric in (certified_accuracy, certified_recall, balanced_certified_accuracy):
        kwargs = {"pos_label": "fraud"} if metric is certified_recall else {}
        call_and_check(lambda m=metric, kw=kwargs: m(y, result, 0.1, **kw), y)
    call_and_check(lambda: average_certified_radius(y, result), y)
    call_and_check(lambda: abstain_rate(result))
    call_and_check(lambda: robust_accuracy(smoothed, X, y, attack), X, y)
    call_and_check(lambda: make_certified_scorer(0.1, n=30)(smoothed, X, y), X, y)
    call_and_check(lambda: make_robust_scorer(attack)(smoothed, X, y), X, y)
    for field, value in fields.items():
        assert_unchanged(value, getattr(result, field))
    assert same_params(params, public_params(attack))


@pytest.mark.parametrize("name", ["C", "read-only F", "pandas"])
def test_check_gradient_masking_changes_no_input(data, targets, name):
    X, y = variant(data[0][:20], data[1][:20], name)
    masked = targets["masked"]
    state = fitted_state(masked.estimator_)
    call_and_check(
        lambda: check_gradient_masking(
            masked, X, y, eps=0.3, steps=2, n_random=2, n_queries=5, random_state=0
        ),
        X,
        y,
    )
    assert_same_state(masked.estimator_, state)


def test_pipeline_on_a_fraud_frame_changes_no_input():
    X, y = make_fraud(300, fraud_rate=0.2, random_state=0)
    sigma = {"amount": 0.5, "hours_since_last_txn": 0.25}
    pipe = make_pipeline(
        make_fraud_preprocessor().set_output(transform="pandas"),
        SmoothedClassifier(LogisticRegression(), **{**FAST, "sigma": sigma}),
    )
    call_and_check(lambda: pipe.fit(X, y), X, y)
    assert sigma == {"amount": 0.5, "hours_since_last_txn": 0.25}  # the parameter too
    call_and_check(lambda: pipe.predict_proba(X), X)
    call_and_check(lambda: certify(pipe, X, y, n=30), X, y)
    with pytest.warns(UserWarning, match="not affine"):
        call_and_check(lambda: certify(pipe, X, y, n=30).per_feature_change(), X, y)
    attack = RandomSearch(0.1, n_queries=3, random_state=0)
    call_and_check(lambda: attack.generate(pipe, X, y, space="last_step"), X, y)
