"""Plain torch modules, smoothed and attacked through ``sksmooth.nets.make_classifier``."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetClassifier
from torch import nn

from sksmooth import SmoothedClassifier
from sksmooth.attacks import PGD
from sksmooth.metrics import robust_accuracy
from sksmooth.nets import make_classifier

LABELS = np.array(["legit", "fraud"])


class TwoLayer(nn.Module):
    """A module as a user writes it: sizes under the names SmoothedClassifier sets."""

    def __init__(self, input_units, output_units, hidden=16):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(input_units, hidden), nn.ReLU(), nn.Linear(hidden, output_units)
        )

    def forward(self, X):
        return self.layers(X)


@pytest.fixture(scope="module")
def task():
    X, y = make_classification(300, n_features=6, n_informative=4, random_state=0)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    return X, y


@pytest.fixture(scope="module")
def trained(task):
    """A module trained by a plain torch loop, outside sksmooth and skorch."""
    X, y = task
    torch.manual_seed(0)
    module = TwoLayer(X.shape[1], 2)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.02)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(150):
        optimizer.zero_grad()
        nn.functional.cross_entropy(module(X_t), y_t).backward()
        optimizer.step()
    return module.eval()


def test_a_trained_module_is_smoothed_frozen_and_certified(task, trained):
    X, y = task
    weights = {name: value.clone() for name, value in trained.state_dict().items()}
    net = make_classifier(trained, classes=LABELS)
    assert net.module_ is trained
    # predict returns labels, in the order of the module's outputs.
    logits = trained(torch.from_numpy(X)).argmax(dim=1).numpy()
    np.testing.assert_array_equal(net.predict(X), LABELS[logits])
    assert (net.predict(X) == LABELS[y]).mean() > 0.9

    smoothed = SmoothedClassifier(FrozenEstimator(net), sigma=0.25, n=1000, random_state=0)
    smoothed.fit(X, LABELS[y])  # float64 X and string labels work as for any estimator
    np.testing.assert_array_equal(smoothed.classes_, LABELS)
    result = smoothed.certify(X[:40].astype(np.float64), LABELS[y[:40]])
    assert result.certified_accuracy(0.0) > 0.8
    assert (result.radius > 0.25).any()
    assert set(result.label[~result.abstained]) <= set(LABELS)
    # Nothing was trained: the module keeps its weights.
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0)
    pickle.loads(pickle.dumps(smoothed)).certify(X[:2], LABELS[y[:2]])


def test_a_trained_module_is_attacked_with_pgd(task, trained):
    X, y = task
    net = make_classifier(trained, classes=LABELS)
    X_test, y_test = X[:60], LABELS[y[:60]]
    clean = (net.predict(X_test) == y_test).mean()
    for estimator in (net, FrozenEstimator(net)):
        X_adv = PGD(0.5, norm="l2", steps=20, random_state=0).generate(estimator, X_test, y_test)
        assert np.linalg.norm(X_adv - X_test, axis=1).max() <= 0.5 + 1e-5
        assert (net.predict(X_adv) == y_test).mean() < clean - 0.1
    # The metrics compare predict with the labels: string labels work too.
    attack = PGD(0.5, norm="l2", steps=20, random_state=0)
    assert robust_accuracy(net, X_test, y_test, attack) == (net.predict(X_adv) == y_test).mean()


def test_a_module_class_is_trained_by_smoothed_classifier(task):
    X, y = task
    net = make_classifier(TwoLayer, max_epochs=15, lr=0.02, module__hidden=8)
    assert isinstance(net, NeuralNetClassifier)
    assert net.train_split is None and net.verbose == 0
    smoothed = SmoothedClassifier(net, sigma=0.25, n=500, random_state=0).fit(X, LABELS[y])
    module = smoothed.estimator_.module_
    assert isinstance(module, TwoLayer)
    # Sizes set from the data; the module's own parameter reached through module__.
    assert (module.layers[0].in_features, module.layers[0].out_features) == (6, 8)
    assert module.layers[-1].out_features == 2
    assert smoothed.score(X[:100], LABELS[y[:100]]) > 0.8
    assert not hasattr(net, "module_")  # the net given is left untouched


def test_a_trained_module_keeps_its_device_unless_told():
    module = TwoLayer(3, 2).to(torch.float64)
    net = make_classifier(module, classes=[0, 1])
    assert net.device == "cpu" and net.module_ is module
    assert net.predict(np.zeros((2, 3))).dtype.kind == "i"


def test_make_classifier_says_what_it_needs():
    with pytest.raises(ValueError, match="needs classes"):
        make_classifier(TwoLayer(3, 2))
    with pytest.raises(ValueError, match="trained module instance"):
        make_classifier(TwoLayer, classes=[0, 1])
    with pytest.raises(ValueError, match="at least two"):
        make_classifier(TwoLayer(3, 2), classes=[0])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        make_classifier(lambda: None)
