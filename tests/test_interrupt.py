"""Interrupting SmoothedClassifier (Ctrl+C) part-way leaves it as it was.

A KeyboardInterrupt raised from inside the base model, part-way through the
Monte Carlo loop of predict, predict_proba or certify, must reach the caller,
and afterwards the estimator must give exactly the results of one that was
never interrupted: fitted attributes unchanged, the torch module back in its
train/eval mode, gradients and torch's global random state untouched. An
interrupted fit must leave the estimator ready to be refitted.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sksmooth import SmoothedClassifier
from sksmooth.nets import MLPModule

from .conftest import tiny_net

# Small batches, so every method calls the base model many times.
PARAMS = {"sigma": 0.5, "n0": 20, "n": 200, "n_samples": 100, "batch_size": 100, "alpha": 0.05}
INTERRUPT_AT = 4  # the base model's call that raises


class Tripwire:
    """Call ``function``, but raise KeyboardInterrupt on call number ``at`` (once)."""

    def __init__(self, function, at=None):
        self.function = function
        self.at = at
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.function(*args, **kwargs)


class InterruptibleLogisticRegression(LogisticRegression):
    """LogisticRegression under its own name, so that its ``fit`` can be patched alone."""


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(120, n_features=4, n_informative=3, n_redundant=0, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def references(data):
    """Never-interrupted estimators, one per base kind, shared: tests must not modify them."""
    return {kind: make_smoothed(kind).fit(*data) for kind in ("sklearn", "torch")}


def make_smoothed(kind):
    if kind == "sklearn":
        return SmoothedClassifier(InterruptibleLogisticRegression(), random_state=0, **PARAMS)
    return SmoothedClassifier(tiny_net(max_epochs=3), random_state=0, **PARAMS)


def base_call_target(clf):
    """The object and method name that the Monte Carlo loop calls once per batch."""
    if hasattr(clf.estimator_, "module_"):
        return clf.estimator_.module_, "forward"
    return clf.estimator_, "predict"


METHODS = {
    "predict": lambda clf, X: clf.predict(X),
    "predict_proba": lambda clf, X: clf.predict_proba(X),
    "certify": lambda clf, X: clf.certify(X).p_lower,
    "certify_decision": lambda clf, X: clf.certify(X, radius=0.1).p_lower,
    "certify_adaptive": lambda clf, X: clf.certify(X, n_max=400).p_lower,
}


def snapshot(clf):
    """What an interruption must not change: fitted attributes and torch state."""
    state = {
        "attributes": sorted(vars(clf)),
        "classes_": clf.classes_.copy(),
        "n_features_in_": clf.n_features_in_,
        "seed": clf._seed,
        "estimator_": clf.estimator_,
        "grad_enabled": torch.is_grad_enabled(),
        "inference_mode": torch.is_inference_mode_enabled(),
        "torch_rng": torch.get_rng_state(),
    }
    inner = clf.estimator_
    if hasattr(inner, "module_"):
        state["weights"] = {k: v.clone() for k, v in inner.module_.state_dict().items()}
        state["modes"] = [m.training for m in inner.module_.modules()]
        state["requires_grad"] = [p.requires_grad for p in inner.module_.parameters()]
    else:
        state["weights"] = {"coef_": inner.coef_.copy(), "intercept_": inner.intercept_.copy()}
    return state


def assert_same_state(before, after):
    assert after["attributes"] == before["attributes"]
    np.testing.assert_array_equal(after["classes_"], before["classes_"])
    assert after["n_features_in_"] == before["n_features_in_"]
    assert after["seed"] == before["seed"]
    assert after["estimator_"] is before["estimator_"]
    assert after["grad_enabled"] == before["grad_enabled"]
    assert after["inference_mode"] == before["inference_mode"]
    assert torch.equal(after["torch_rng"], before["torch_rng"])
    assert after["weights"].keys() == before["weights"].keys()
    for name, value in before["weights"].items():
        np.testing.assert_array_equal(np.asarray(after["weights"][name]), np.asarray(value))
    assert after.get("modes") == before.get("modes")
    assert after.get("requires_grad") == before.get("requires_grad")


def assert_same_results(clf, reference, X, also=()):
    for method in ("predict", "predict_proba", *also):
        np.testing.assert_array_equal(METHODS[method](clf, X), METHODS[method](reference, X))
    a, b = clf.certify(X), reference.certify(X)
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_array_equal(a.radius, b.radius)
    np.testing.assert_array_equal(a.abstained, b.abstained)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("kind", ["sklearn", "torch"])
def test_interrupted_method_propagates_and_leaves_the_estimator_as_it_was(
    kind, method, data, references, monkeypatch
):
    X, y = data
    clf = make_smoothed(kind).fit(X, y)
    reference = references[kind]
    target, name = base_call_target(clf)
    before = snapshot(clf)

    tripwire = Tripwire(getattr(target, name), at=INTERRUPT_AT)
    monkeypatch.setattr(target, name, tripwire)
    with pytest.raises(KeyboardInterrupt):
        METHODS[method](clf, X[:20])
    assert tripwire.calls == INTERRUPT_AT

    # It was stopped part-way: the whole call needs more base calls than that.
    counter = Tripwire(getattr(target, name))
    monkeypatch.setattr(target, name, counter)
    METHODS[method](clf, X[:20])
    assert counter.calls > INTERRUPT_AT

    assert_same_state(before, snapshot(clf))
    assert_same_results(clf, reference, X[:20], also=[method])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("grad_enabled", [True, False])
def test_interrupted_forward_restores_module_mode_and_grad_mode(training, grad_enabled, data):
    # A frozen skorch net, put in either mode by its owner, called with or
    # without gradients: an interrupted certify restores both as they were.
    X, y = data
    net = SmoothedClassifier(tiny_net(max_epochs=3), random_state=0, **PARAMS).fit(X, y)
    frozen = SmoothedClassifier(FrozenEstimator(net.estimator_), random_state=1, **PARAMS)
    frozen.fit(X, y)
    module = net.estimator_.module_
    module.train(training)
    module.forward = Tripwire(module.forward, at=INTERRUPT_AT)
    try:
        with torch.set_grad_enabled(grad_enabled):
            with pytest.raises(KeyboardInterrupt):
                frozen.certify(X[:20])
            assert torch.is_grad_enabled() == grad_enabled
        assert not torch.is_inference_mode_enabled()
        assert all(m.training == training for m in module.modules())
        assert all(p.requires_grad for p in module.parameters())
    finally:
        del module.forward


def test_interrupted_fit_propagates_and_refit_works(data, references, monkeypatch):
    X, y = data
    reference = references["sklearn"]
    clf = make_smoothed("sklearn")
    rng_state = torch.get_rng_state()

    tripwire = Tripwire(LogisticRegression.fit, at=1)
    monkeypatch.setattr(
        InterruptibleLogisticRegression, "fit", lambda self, *a, **kw: tripwire(self, *a, **kw)
    )
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert tripwire.calls == 1
    assert torch.equal(torch.get_rng_state(), rng_state)

    clf.fit(X, y)
    assert_same_results(clf, reference, X[:20])


def test_interrupted_refit_of_a_fitted_estimator_then_refit_works(data, references, monkeypatch):
    X, y = data
    reference = references["sklearn"]
    clf = make_smoothed("sklearn").fit(X[:80], y[:80])  # another fit, to be replaced
    tripwire = Tripwire(LogisticRegression.fit, at=1)
    monkeypatch.setattr(
        InterruptibleLogisticRegression, "fit", lambda self, *a, **kw: tripwire(self, *a, **kw)
    )
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    clf.fit(X, y)
    assert_same_results(clf, reference, X[:20])


def test_interrupted_net_fit_refit_works(data, references, monkeypatch):
    # The net's forward raises in the middle of training; the global torch
    # random state, seeded for the fit, is restored whatever happens.
    X, y = data
    reference = references["torch"]
    clf = make_smoothed("torch")
    rng_state = torch.get_rng_state()
    tripwire = Tripwire(MLPModule.forward, at=INTERRUPT_AT)
    with monkeypatch.context() as patch:
        patch.setattr(MLPModule, "forward", lambda self, X: tripwire(self, X))
        try:
            clf.fit(X, y)
        except KeyboardInterrupt:
            pass
    assert tripwire.calls >= INTERRUPT_AT
    assert torch.equal(torch.get_rng_state(), rng_state)

    clf.fit(X, y)
    assert_same_results(clf, reference, X[:20])


def test_interrupted_net_fit_propagates(data, monkeypatch):
    X, y = data
    tripwire = Tripwire(MLPModule.forward, at=INTERRUPT_AT)
    monkeypatch.setattr(MLPModule, "forward", lambda self, X: tripwire(self, X))
    with pytest.raises(KeyboardInterrupt):
        make_smoothed("torch").fit(X, y)
