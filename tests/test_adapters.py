"""How the adapters read a skorch net's module: logits, probabilities, one logit."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from torch import nn

from sksmooth._adapters import DifferentiableTarget, ModuleScores, make_voter, net_scores
from sksmooth.attacks._targets import differentiable_target

from .conftest import DEVICES

N_FEATURES = 4


class Scores(nn.Module):
    """A small MLP whose head is chosen by ``head``.

    ``"logits"``, ``"softmax-layer"``, ``"softmax-function"``, ``"softmax-by-hand"``
    (no softmax call to recognise), ``"log-softmax"``; for one score per row:
    ``"logit"``, ``"sigmoid-layer"``, ``"sigmoid-by-hand"``.
    """

    def __init__(self, head="logits", output_units=3, scale=4.0):
        super().__init__()
        self.scale = scale
        single = head in ("logit", "sigmoid-layer", "sigmoid-by-hand")
        self.body = nn.Sequential(
            nn.Linear(N_FEATURES, 8), nn.ReLU(), nn.Linear(8, 1 if single else output_units)
        )
        self.head = head
        self.sigmoid = nn.Sigmoid()
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, X):
        z = self.body(X) * self.scale
        if self.head == "softmax-layer":
            return self.softmax(z)
        if self.head == "softmax-function":
            return torch.nn.functional.softmax(z, dim=1)
        if self.head == "softmax-by-hand":
            e = torch.exp(z - z.max(dim=1, keepdim=True).values)
            return e / e.sum(dim=1, keepdim=True)
        if self.head == "log-softmax":
            return torch.log_softmax(z, dim=1)
        if self.head == "logit":
            return z.squeeze(-1)
        if self.head == "sigmoid-layer":
            return self.sigmoid(z)
        if self.head == "sigmoid-by-hand":
            return 1 / (1 + torch.exp(-z.squeeze(-1)))
        return z


def initialized(head, criterion, *, binary=False, **params):
    """An untrained net, its weights fixed by the seed."""
    cls = NeuralNetBinaryClassifier if binary else NeuralNetClassifier
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = cls(
            Scores, module__head=head, criterion=criterion, train_split=None, **params
        ).initialize()
    if not binary:
        net.classes_inferred_ = np.arange(3)
    return net


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).standard_normal((300, N_FEATURES))


MULTICLASS = [
    ("logits", nn.CrossEntropyLoss),
    ("softmax-layer", nn.NLLLoss),  # skorch's NeuralNetClassifier default
    ("softmax-function", nn.NLLLoss),
    ("softmax-by-hand", nn.NLLLoss),
    ("log-softmax", nn.CrossEntropyLoss),
    ("softmax-layer", nn.MultiMarginLoss),  # a criterion with no convention: from the values
    ("logits", nn.MultiMarginLoss),
]
BINARY = [
    ("logit", nn.BCEWithLogitsLoss),  # skorch's NeuralNetBinaryClassifier default
    ("sigmoid-layer", nn.BCELoss),
    ("sigmoid-by-hand", nn.BCELoss),
]


@pytest.mark.parametrize("head, criterion", MULTICLASS + BINARY)
def test_logits_give_the_nets_probabilities_and_predictions(head, criterion, X):
    net = initialized(head, criterion, binary=(head, criterion) in BINARY)
    rows = torch.as_tensor(X, dtype=torch.float32)
    logits = net_scores(net).logits(rows).detach().double()
    assert logits.shape == (len(X), len(net.classes_))
    if not (head == "logits" and criterion is nn.MultiMarginLoss):  # skorch returns scores
        proba = net.predict_proba(X.astype(np.float32))
        np.testing.assert_allclose(torch.softmax(logits, dim=1), proba, atol=1e-5)
    np.testing.assert_array_equal(logits.argmax(1), net.predict(X.astype(np.float32)))


@pytest.mark.parametrize(
    "head, criterion, binary",
    [
        ("softmax-layer", nn.NLLLoss, False),
        ("softmax-function", nn.NLLLoss, False),
        ("softmax-layer", nn.MultiMarginLoss, False),
        ("sigmoid-layer", nn.BCELoss, True),
    ],
)
def test_a_softmax_or_sigmoid_is_seen_through_to_its_logits(head, criterion, binary, X):
    net = initialized(head, criterion, binary=binary, module__scale=1000.0)
    rows = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        z = net.module_.body(rows) * 1000.0
        logits = net_scores(net).logits(rows)
        # Probabilities float32 rounds to 0 or 1: their log would have no gradient.
        assert ((net.module_(rows) == 0) | (net.module_(rows) == 1)).float().mean() > 0.5
    if binary:
        np.testing.assert_array_equal(logits[:, 1], z[:, 0])
        np.testing.assert_array_equal(logits[:, 0], 0)
    else:
        np.testing.assert_array_equal(logits, z)


def test_logits_of_probabilities_have_gradients(X):
    net = initialized("softmax-layer", nn.NLLLoss)
    rows = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    target = differentiable_target(net)
    (grad,) = torch.autograd.grad(target.logits(rows)[:, 0].sum(), rows)
    assert bool(torch.isfinite(grad).all()) and (grad != 0).float().mean() > 0.9


@pytest.mark.parametrize("threshold", [0.5, 0.1, 0.75])
@pytest.mark.parametrize("head, criterion", BINARY)
def test_one_score_respects_the_nets_threshold(head, criterion, threshold, X):
    net = initialized(head, criterion, binary=True, threshold=threshold)
    rows = torch.as_tensor(X, dtype=torch.float32)
    predicted = net.predict(X.astype(np.float32))
    assert 0 < predicted.mean() < 1
    scores = net_scores(net)
    with torch.no_grad():
        np.testing.assert_array_equal(scores.logits(rows).argmax(1), predicted)
    voter = make_voter(net, np.array([0, 1]))
    with voter.prepared(), torch.no_grad():
        np.testing.assert_array_equal(voter.predict_indices(rows), predicted)


@pytest.mark.parametrize("head, criterion", MULTICLASS)
def test_voter_votes_as_the_net_predicts(head, criterion, X):
    net = initialized(head, criterion)
    voter = make_voter(net, net.classes_)
    with voter.prepared(), torch.no_grad():
        indices = voter.predict_indices(torch.as_tensor(X, dtype=torch.float32))
    np.testing.assert_array_equal(indices, net.predict(X.astype(np.float32)))


@pytest.mark.parametrize("threshold", [0.0, 1.0, 1.5])
def test_threshold_outside_the_unit_interval_is_named(threshold):
    net = initialized("logit", nn.BCEWithLogitsLoss, binary=True, threshold=threshold)
    with pytest.raises(ValueError, match=r"threshold must lie in \(0, 1\)"):
        net_scores(net)


def test_scores_of_the_wrong_shape_are_named(X):
    rows = torch.as_tensor(X, dtype=torch.float32)
    four = ModuleScores(nn.Linear(N_FEATURES, 4), n_classes=3)
    with pytest.raises(ValueError, match=r"shape \(300, 4\) for 300 rows; expected \(300, 3\)"):
        four.logits(rows)
    one = ModuleScores(nn.Linear(N_FEATURES, 1), n_classes=3)
    with pytest.raises(ValueError, match=r"one score per class\. Set"):
        one.predict_indices(rows)
    two = ModuleScores(nn.Linear(N_FEATURES, 3), n_classes=2)
    with pytest.raises(ValueError, match=r"or one logit per row for two classes"):
        two.logits(rows)


@pytest.mark.parametrize("device", DEVICES)
def test_target_seeds_the_models_own_randomness_and_restores_the_callers(device):
    module = nn.Linear(N_FEATURES, 2).double().to(device)

    def noisy(X, bpda, generator):
        return module(X + torch.rand(X.shape, dtype=X.dtype, device=X.device))

    target = DifferentiableTarget(noisy, module, [0, 1], stochastic=False)
    rows = torch.zeros((5, N_FEATURES), dtype=torch.float64, device=device)

    def states():
        cuda = [torch.cuda.get_rng_state(device)] if device == "cuda" else []
        return [torch.random.get_rng_state(), *cuda]

    def draws(seed):
        generator = torch.Generator(device).manual_seed(seed)
        return [target.logits(rows, generator=generator) for _ in range(3)]

    before = states()
    first = draws(0)
    assert all(torch.equal(a, b) for a, b in zip(states(), before, strict=True))
    assert not torch.equal(first[0], first[1])  # a fresh draw at every call
    assert all(torch.equal(a, b) for a, b in zip(first, draws(0), strict=True))
    assert not torch.equal(first[0], draws(1)[0])
    assert target.is_stochastic(rows)
    assert all(torch.equal(a, b) for a, b in zip(states(), before, strict=True))


def test_target_rejects_logits_of_the_wrong_shape():
    module = nn.Linear(N_FEATURES, 3).double()
    target = DifferentiableTarget(lambda X, bpda, g: module(X), module, [0, 1], stochastic=False)
    with pytest.raises(ValueError, match=r"shape \(2, 3\) for 2 rows; expected \(2, 2\)"):
        target.logits(torch.zeros((2, N_FEATURES), dtype=torch.float64))


def test_bfloat16_runs_on_a_converted_copy_and_leaves_the_module_as_it_was():
    from sksmooth._adapters import TorchModuleVoter

    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    voter = TorchModuleVoter(module, 2, torch.bfloat16)
    with voter.prepared():
        assert voter.dtype == torch.bfloat16
        assert voter.scores.module is not module
        assert next(voter.scores.module.parameters()).dtype == torch.bfloat16
        indices = voter.predict_indices(torch.randn(5, 3, dtype=torch.float64).to(torch.bfloat16))
    assert indices.shape == (5,)
    assert voter.dtype == torch.float32 and voter.scores.module is module
    assert next(module.parameters()).dtype == torch.float32


def test_bfloat16_falls_back_to_float32_where_the_cpu_lacks_it(monkeypatch):
    from sksmooth import _adapters
    from sksmooth.nets import make_mlp_classifier

    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    net = make_mlp_classifier(
        hidden_units=(4,), max_epochs=1, module__input_units=3, module__output_units=2
    ).fit(X, (X[:, 0] > 0).astype(np.int64))
    monkeypatch.setattr(_adapters, "cpu_has_native_bfloat16", lambda: False)
    with pytest.warns(UserWarning, match="no native bfloat16"):
        voter = _adapters.make_voter(net, np.array([0, 1]), "bfloat16")
    assert voter.reduced_dtype is None


def test_the_reduced_copy_is_reused_until_the_module_changes():
    from sksmooth._adapters import reduced_copy

    module = torch.nn.Linear(3, 2)
    first = reduced_copy(module, torch.bfloat16)
    assert reduced_copy(module, torch.bfloat16) is first
    with torch.no_grad():
        module.weight.mul_(2.0)  # in place: the version counter moves
    second = reduced_copy(module, torch.bfloat16)
    assert second is not first
    torch.testing.assert_close(second.weight.float(), module.weight.to(torch.bfloat16).float())
    module.weight = torch.nn.Parameter(torch.zeros(2, 3))  # replaced
    assert torch.all(reduced_copy(module, torch.bfloat16).weight == 0)
    assert reduced_copy(module, torch.float16) is not reduced_copy(module, torch.bfloat16)
