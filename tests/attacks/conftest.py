"""Shared data and models for the attack tests: small, standardised, seeded."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from torch import nn

from sksmooth import GradientMaskedClassifier
from sksmooth.nets import make_mlp_classifier

from ..conftest import tiny_net

N_FEATURES = 6


def make_data(n_samples=200, n_features=N_FEATURES, random_state=0):
    """Standardised, well separated binary data: a net fits it in a few epochs."""
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=4,
        n_redundant=0,
        class_sep=1.5,
        random_state=random_state,
    )
    return StandardScaler().fit_transform(X), y


def fit_tiny_net(X, y, **params):
    """A fitted bare skorch net (float32 module) on X."""
    net = tiny_net(module__input_units=X.shape[1], module__output_units=2, **params)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return net.fit(X.astype(np.float32), y)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def net(data):
    return fit_tiny_net(*data)


@pytest.fixture(scope="module")
def quantized(data):
    """Shattered gradients: rounding has zero gradient almost everywhere."""
    return GradientMaskedClassifier(tiny_net(), method="quantize", levels=8, random_state=0).fit(
        *data
    )


@pytest.fixture(scope="module")
def stochastic(data):
    """Stochastic gradients: input noise and activation pruning."""
    return GradientMaskedClassifier(
        tiny_net(hidden_units=(64,), max_epochs=30),
        method="stochastic",
        noise_std=0.5,
        pruning_ratio=0.2,
        random_state=0,
    ).fit(*data)


# The linear oracle: logit(1) - logit(0) = w.x + b exactly (w, b are exact in float32),
# so the smallest L2 perturbation that flips x is |w.x + b| / ||w||_2 and the smallest
# L-inf one is |w.x + b| / ||w||_1.
ORACLE_W = np.array([1.5, -2.0, 0.5, 1.0])
ORACLE_B = 0.25


@pytest.fixture(scope="module")
def linear_net():
    """A binary single-layer skorch net whose weights are then set to (ORACLE_W, ORACLE_B)."""
    d = len(ORACLE_W)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, d))
    y = (X @ ORACLE_W + ORACLE_B > 0).astype(int)
    net = make_mlp_classifier(
        hidden_units=(), module__input_units=d, module__output_units=2, max_epochs=1
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net.fit(X.astype(np.float32), y)
    (layer,) = net.module_.layers
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(np.stack([np.zeros(d), ORACLE_W])))
        layer.bias.copy_(torch.tensor([0.0, ORACLE_B]))
    return net


def rows_at_distance(distance, n_rows, *, dual_norm=2, random_state=0):
    """Rows whose smallest flipping perturbation (L2 for dual_norm=2, L-inf for 1) is
    exactly ``distance``, on both sides of the oracle's decision boundary."""
    rng = np.random.default_rng(random_state)
    X = rng.standard_normal((n_rows, len(ORACLE_W)))
    f = X @ ORACLE_W + ORACLE_B
    side = np.where(np.arange(n_rows) % 2 == 0, 1.0, -1.0)
    # Shift along w so that w.x + b = side * distance * ||w||_dual.
    target = side * distance * np.linalg.norm(ORACLE_W, ord=dual_norm)
    X = X + ((target - f) / (ORACLE_W @ ORACLE_W))[:, None] * ORACLE_W
    return X, (side > 0).astype(int)


def predict32(net, X):
    """A bare skorch net predicts on its module's dtype."""
    return net.predict(np.asarray(X, dtype=np.float32))


class SoftmaxMLP(nn.Module):
    """An honest MLP written the way skorch's docs show: it ends in a softmax (NLLLoss).

    ``softmax=False`` is the same architecture returning logits, for
    ``CrossEntropyLoss``; ``functional=True`` applies the softmax as a function.
    """

    def __init__(
        self, input_units=10, hidden_units=64, output_units=2, softmax=True, functional=False
    ):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(input_units, hidden_units),
            nn.ReLU(),
            nn.Linear(hidden_units, hidden_units),
            nn.ReLU(),
            nn.Linear(hidden_units, output_units),
        )
        self.softmax = nn.Softmax(dim=-1) if softmax and not functional else None
        self.functional = softmax and functional

    def forward(self, X):
        scores = self.layers(X)
        if self.functional:
            return torch.softmax(scores, dim=1)
        return self.softmax(scores) if self.softmax is not None else scores


def logit_twin(net):
    """The same weights as a softmax-ended ``net``, returning logits (CrossEntropyLoss)."""
    twin = NeuralNetClassifier(
        SoftmaxMLP,
        module__input_units=net.module_.layers[0].in_features,
        module__output_units=net.module_.layers[-1].out_features,
        module__softmax=False,
        criterion=nn.CrossEntropyLoss,
        train_split=None,
        verbose=0,
    ).initialize()
    twin.module_.load_state_dict(net.module_.state_dict())
    twin.classes_inferred_ = net.classes_
    return twin


@pytest.fixture(scope="session")
def softmax_net(tabular_task):
    """Trained until its softmax saturates within 20 * eps of the data (float32 gives 0 and 1)."""
    X_train, y_train, _, _ = tabular_task
    net = NeuralNetClassifier(
        SoftmaxMLP,
        max_epochs=30,
        lr=0.01,
        optimizer=torch.optim.Adam,
        batch_size=64,
        train_split=None,
        verbose=0,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return net.fit(X_train.astype(np.float32), y_train)


class OneLogit(nn.Module):
    """One logit per row, shape (n_rows,), as skorch's NeuralNetBinaryClassifier expects.

    ``two_columns=True`` returns ``[0, z]`` instead: the same classifier as
    two logits, for ``CrossEntropyLoss``.
    """

    def __init__(self, input_units=N_FEATURES, two_columns=False):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(input_units, 16), nn.ReLU(), nn.Linear(16, 1))
        self.two_columns = two_columns

    def forward(self, X):
        z = self.layers(X).squeeze(-1)
        return torch.stack([torch.zeros_like(z), z], dim=1) if self.two_columns else z


@pytest.fixture(scope="module")
def binary_net(data):
    X, y = data
    net = NeuralNetBinaryClassifier(
        OneLogit, max_epochs=20, lr=0.01, optimizer=torch.optim.Adam, train_split=None, verbose=0
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return net.fit(X.astype(np.float32), y.astype(np.float32))


def two_logit_twin(binary):
    """``binary``'s weights in a NeuralNetClassifier whose module returns ``[0, z]``."""
    twin = NeuralNetClassifier(
        OneLogit,
        module__two_columns=True,
        criterion=nn.CrossEntropyLoss,
        train_split=None,
        verbose=0,
    ).initialize()
    twin.module_.load_state_dict(binary.module_.state_dict())
    twin.classes_inferred_ = np.array([0, 1])
    return twin
