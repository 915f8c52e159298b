"""Training recipes of sksmooth.training: consistency regularization and SmoothAdv."""

import math
import pickle

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from torch import nn

from sksmooth import SmoothedClassifier
from sksmooth.nets import make_classifier, make_mlp_classifier
from sksmooth.noise import make_noise_model
from sksmooth.training import (
    ConsistencyTraining,
    SmoothAdvTraining,
    _consistency_loss,
    _CopiesLoss,
    _RecipeCallback,
    _smoothadv_perturbation,
    _soft_smoothed_loss,
    check_training,
)

from .conftest import tiny_net

FAST = {"sigma": 0.25, "n0": 10, "n": 100, "n_samples": 50}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(200, n_features=4, n_informative=3, n_redundant=0, random_state=0)
    return X, y


def smoothed(training, *, random_state=0, **params):
    net = tiny_net(max_epochs=2, batch_size=50)
    return SmoothedClassifier(net, training=training, random_state=random_state, **FAST, **params)


def weights(clf) -> list[torch.Tensor]:
    return [p.detach().clone() for p in clf.estimator_.module_.parameters()]


RECIPES = [
    pytest.param(ConsistencyTraining(), id="consistency"),
    pytest.param(SmoothAdvTraining(), id="smoothadv"),
    pytest.param(SmoothAdvTraining(steps=2, fresh_noise=True), id="smoothadv-fresh"),
    pytest.param(SmoothAdvTraining(consistency_weight=2.0), id="smoothadv-consistency"),
]


# ------------------------------------------------------------------ reproducibility


@pytest.mark.parametrize("recipe", RECIPES)
def test_same_seed_trains_identical_weights_and_another_seed_does_not(recipe, data):
    first = weights(smoothed(recipe, random_state=0).fit(*data))
    again = weights(smoothed(recipe, random_state=0).fit(*data))
    other = weights(smoothed(recipe, random_state=1).fit(*data))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_recipes_train_differently_from_gaussian_augmentation(data):
    # Same seeds: only the recipe differs, so the weights must too.
    gaussian = weights(smoothed("gaussian").fit(*data))
    for recipe in (ConsistencyTraining(), SmoothAdvTraining()):
        trained = weights(smoothed(recipe).fit(*data))
        assert not all(torch.equal(a, b) for a, b in zip(gaussian, trained, strict=True))


# ------------------------------------------------------------------ the consistency loss


def test_consistency_loss_matches_the_formula_by_hand():
    # Row 0 (label 0): copies p = (1/2, 1/2) and (3/4, 1/4); row 1 (label 1):
    # (1/5, 4/5) and (1/2, 1/2). Class weights 1 and 3.
    scores = torch.tensor(
        [[[0.0, 0.0], [0.0, math.log(4.0)]], [[math.log(3.0), 0.0], [0.0, 0.0]]],
        dtype=torch.float64,
    )
    y = torch.tensor([0, 1])
    criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0], dtype=torch.float64))
    lam, eta = 10.0, 0.5

    ce = (1 * math.log(2) + 1 * math.log(4 / 3) + 3 * math.log(5 / 4) + 3 * math.log(2)) / 8

    def penalty(p1, p2):
        mean = [(a + b) / 2 for a, b in zip(p1, p2, strict=True)]
        kl = [sum(m * math.log(m / q) for m, q in zip(mean, p, strict=True)) for p in (p1, p2)]
        entropy = -sum(m * math.log(m) for m in mean)
        return lam * (kl[0] + kl[1]) / 2 + eta * entropy

    expected = (
        ce + (1 * penalty((0.5, 0.5), (0.75, 0.25)) + 3 * penalty((0.2, 0.8), (0.5, 0.5))) / 4
    )
    loss = _consistency_loss(scores, y, criterion=criterion, weight=lam, entropy_weight=eta)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_consistency_loss_without_class_weights_is_the_paper_s_mean(rng):
    scores = torch.as_tensor(rng.normal(size=(3, 5, 4)))
    y = torch.as_tensor(rng.integers(0, 4, 5))
    loss = _consistency_loss(
        scores, y, criterion=nn.CrossEntropyLoss(), weight=2.0, entropy_weight=0.25
    )
    p = torch.softmax(scores, dim=2).numpy()
    mean = p.mean(axis=0)
    ce = -np.log(p[:, np.arange(5), y.numpy()]).mean()
    kl = (mean * (np.log(mean) - np.log(p))).sum(axis=2).mean(axis=0)
    entropy = -(mean * np.log(mean)).sum(axis=1)
    assert loss.item() == pytest.approx(ce + (2.0 * kl + 0.25 * entropy).mean(), rel=1e-10)


def test_zero_weights_reduce_to_the_criterion_on_the_noisy_copies(rng):
    scores = torch.as_tensor(rng.normal(size=(2, 6, 3)))
    y = torch.as_tensor(rng.integers(0, 3, 6))
    criterion = nn.CrossEntropyLoss(
        weight=torch.tensor([1.0, 4.0, 2.0], dtype=torch.float64), label_smoothing=0.1
    )
    loss = _consistency_loss(scores, y, criterion=criterion, weight=0.0, entropy_weight=0.0)
    assert torch.equal(loss, criterion(scores.reshape(12, 3), y.repeat(2)))


def test_the_training_loss_scores_every_copy_with_the_net_s_module():
    # skorch scores copy 1; the loss scores the others itself and adds no penalty at 0.
    torch.manual_seed(0)
    module = nn.Linear(3, 2)
    criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 5.0]))
    recipe = ConsistencyTraining(n_copies=3, weight=0.0, entropy_weight=0.0)
    loss = _CopiesLoss(criterion, module, recipe=recipe, probabilities=False)
    copies = torch.randn(12, 3)
    y = torch.tensor([0, 1, 1, 0])
    loss.pending = copies[4:]
    value = loss(module(copies[:4]), y)
    expected = criterion(module(copies), y.repeat(3))
    torch.testing.assert_close(value, expected)
    # The same batch again (an optimizer's closure): the same loss.
    torch.testing.assert_close(loss(module(copies[:4]), y), expected)
    # A validation batch (evaluation mode) gets the criterion on the batch as it is.
    loss.eval()
    torch.testing.assert_close(loss(module(copies[:4]), y), criterion(module(copies[:4]), y))


# ------------------------------------------------------------------ the noise of the copies


def copies_of_one_batch(noise, sigma, recipe, rows, *, seed=0):
    """A training batch through the recipe's callback, on an initialised net: all its copies."""
    model = make_noise_model(noise, sigma, n_features=rows.shape[1])
    net = tiny_net(module__input_units=rows.shape[1], module__output_units=2).initialize()
    callback = _RecipeCallback(model, seed, recipe).initialize()
    callback.on_train_begin(net)
    batch = [rows.clone(), torch.zeros(len(rows), dtype=torch.int64)]
    callback.on_batch_begin(net, batch=batch, training=True)
    pending = net.criterion_.pending
    callback.on_train_end(net)
    assert type(net.criterion_) is nn.CrossEntropyLoss
    return torch.cat([batch[0], pending]).view(-1, *rows.shape)


def test_copies_carry_the_smoothing_noise_per_column_and_spare_the_clean_column():
    rows = torch.zeros(3000, 3)
    copies = copies_of_one_batch("gaussian", [0.5, 0.0, 1.0], ConsistencyTraining(3), rows)
    assert copies.shape == (3, 3000, 3)
    assert torch.equal(copies[..., 1], torch.zeros(3, 3000))  # sigma 0: exactly clean
    std = copies.reshape(-1, 3).std(dim=0)
    assert std[0].item() == pytest.approx(0.5, rel=0.03)
    assert std[2].item() == pytest.approx(1.0, rel=0.03)
    # Independent draws: copies of a row are uncorrelated.
    r = np.corrcoef(copies[0, :, 0].numpy(), copies[1, :, 0].numpy())[0, 1]
    assert abs(r) < 0.06


def test_laplace_copies_are_laplace_distributed():
    rows = torch.full((4000, 2), 3.0)
    copies = copies_of_one_batch("laplace", [0.5, 0.0], ConsistencyTraining(2), rows, seed=3)
    difference = (copies[..., 0] - 3.0).reshape(-1).double().numpy() / 0.5
    # Standard deviation 1: Laplace scale 1 / sqrt(2).
    assert stats.kstest(difference, stats.laplace(scale=1 / math.sqrt(2)).cdf).pvalue > 0.01
    assert stats.kstest(difference, stats.norm().cdf).pvalue < 1e-3  # the test can tell
    assert torch.equal(copies[..., 1], torch.full((2, 4000), 3.0))


def test_categorical_columns_are_replaced_in_the_copies():
    model = make_noise_model(
        "gaussian",
        0.5,
        n_features=2,
        categorical_columns=[1],
        categories=(np.array([0.0, 1.0, 2.0]),),
        categorical_noise=0.3,
    )
    callback = _RecipeCallback(model, 0, ConsistencyTraining(2)).initialize()
    rows = torch.zeros(4000, 2)
    copies = callback.noisy_copies(rows, 2, callback._generator(torch.device("cpu")))
    changed = (copies[:, 1] != 0).double().mean().item()
    assert changed == pytest.approx(0.3 * 2 / 3, abs=0.03)  # replaced by another category
    assert set(copies[:, 1].unique().tolist()) <= {0.0, 1.0, 2.0}


# ------------------------------------------------------------------ SmoothAdv's attack


@pytest.fixture(scope="module")
def trained_module():
    X, y = make_classification(400, n_features=4, n_informative=3, n_redundant=0, random_state=1)
    clf = SmoothedClassifier(tiny_net(max_epochs=20), sigma=0.5, random_state=0).fit(X, y)
    return clf.estimator_.module_, torch.as_tensor(X[:200], dtype=torch.float32), y[:200]


@pytest.mark.parametrize(("sigma", "eps"), [(0.5, 0.5), ([0.5, 0.0, 1.0, 0.25], 1.0)])
def test_smoothadv_attack_raises_the_soft_smoothed_loss_within_eps(trained_module, sigma, eps):
    module, X, y = trained_module
    model = make_noise_model("gaussian", sigma, n_features=4)
    callback = _RecipeCallback(model, 0, SmoothAdvTraining()).initialize()
    m = 4
    noisy = callback.noisy_copies(X, m, callback._generator(torch.device("cpu")))
    labels = torch.as_tensor(y)
    metric = callback.attack_metric(X)
    delta = _smoothadv_perturbation(
        module, noisy, labels, n_noise_samples=m, eps=eps, steps=3, step_size=eps / 2, metric=metric
    )

    def per_row_loss(shift):
        with torch.no_grad():
            scores = module(noisy + shift.repeat(m, 1)).view(m, len(X), -1)
        return torch.stack(
            [
                _soft_smoothed_loss(scores[:, i : i + 1], labels[i : i + 1], probabilities=False)
                for i in range(len(X))
            ]
        )

    clean, attacked = per_row_loss(torch.zeros_like(delta)), per_row_loss(delta)
    assert attacked.mean() > clean.mean() + 0.05
    assert (attacked > clean).float().mean() > 0.9
    # Within the certificate's region: ||delta / sigma||_2 <= eps over the noised columns.
    units = torch.where(metric > 0, delta / metric.clamp_min(1e-12), torch.zeros_like(delta))
    assert units.norm(dim=1).max().item() <= eps * (1 + 1e-5)
    assert torch.equal(delta[:, metric == 0], torch.zeros_like(delta[:, metric == 0]))


def test_smoothadv_trains_on_the_attacked_draws_or_on_fresh_ones(trained_module):
    module, X, y = trained_module
    model = make_noise_model("gaussian", [0.5, 0.0, 1.0, 0.25], n_features=4)
    net = tiny_net(module__input_units=4, module__output_units=2).initialize()
    net.module_ = module
    copies = {}
    for fresh in (False, True):
        recipe = SmoothAdvTraining(eps=0.0, fresh_noise=fresh)
        callback = _RecipeCallback(model, 0, recipe).initialize()
        generator = callback._generator(torch.device("cpu"))
        copies[fresh] = recipe._copies(callback, net, X, torch.as_tensor(y), generator)
    reference = _RecipeCallback(model, 0, ConsistencyTraining()).initialize()
    first_draw = reference.noisy_copies(X, 2, reference._generator(torch.device("cpu")))
    assert torch.equal(copies[False], first_draw)  # eps 0: the attack's own draws
    assert not torch.equal(copies[True], first_draw)
    for value in copies.values():
        assert torch.equal(value[:, 1], X[:, 1].repeat(2))  # not noised, not attacked


def test_smoothadv_warms_eps_up_over_the_first_epochs():
    recipe = SmoothAdvTraining(eps=0.6, warmup_epochs=3)
    assert [recipe._eps_at(epoch) for epoch in (1, 2, 3, 4)] == pytest.approx([0.2, 0.4, 0.6, 0.6])
    assert SmoothAdvTraining(eps=0.6)._eps_at(1) == 0.6


def test_smoothadv_consistency_weight_adds_the_consistency_penalty_on_its_copies():
    # SmoothAdv's loss on its copies is ConsistencyTraining's, with its own weights;
    # with consistency_weight 0 (the default) it is the plain cross-entropy, eta unused.
    torch.manual_seed(0)
    module = nn.Linear(3, 2)
    criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 5.0]))
    copies = torch.randn(8, 3)
    y = torch.tensor([0, 1, 1, 0])

    def value(recipe):
        loss = _CopiesLoss(criterion, module, recipe=recipe, probabilities=False)
        loss.pending = copies[4:]
        return loss(module(copies[:4]), y)

    scores = module(copies).view(2, 4, 2)
    plain = criterion(module(copies), y.repeat(2))
    torch.testing.assert_close(value(SmoothAdvTraining(entropy_weight=3.0)), plain)
    combined = value(SmoothAdvTraining(consistency_weight=4.0, entropy_weight=0.25))
    expected = _consistency_loss(scores, y, criterion=criterion, weight=4.0, entropy_weight=0.25)
    torch.testing.assert_close(combined, expected)
    assert combined.item() > plain.item()


def test_smoothadv_consistency_weight_changes_training_and_zero_does_not(data):
    default = weights(smoothed(SmoothAdvTraining()).fit(*data))
    zero = weights(
        smoothed(SmoothAdvTraining(consistency_weight=0.0, entropy_weight=2.0)).fit(*data)
    )
    combined = weights(smoothed(SmoothAdvTraining(consistency_weight=5.0)).fit(*data))
    assert all(torch.equal(a, b) for a, b in zip(default, zero, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(default, combined, strict=True))


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("training", ["consistency", ConsistencyTraining(), SmoothAdvTraining()])
def test_recipes_refuse_a_base_that_is_not_a_skorch_net(training, data):
    with pytest.raises(ValueError, match="trained on noisy copies.*skorch net"):
        SmoothedClassifier(LogisticRegression(), training=training, **FAST).fit(*data)


def test_recipes_refuse_a_frozen_estimator(data):
    net = SmoothedClassifier(tiny_net(max_epochs=1), **FAST).fit(*data).estimator_
    with pytest.raises(ValueError, match="FrozenEstimator is not trained"):
        SmoothedClassifier(FrozenEstimator(net), training="smoothadv", **FAST).fit(*data)
    with pytest.raises(ValueError, match="FrozenEstimator"):
        check_training(ConsistencyTraining(), net=False, frozen=True)


@pytest.mark.parametrize(
    ("training", "error", "match"),
    [
        (ConsistencyTraining(n_copies=1), ValueError, "n_copies == 1, must be >= 2"),
        (ConsistencyTraining(n_copies=0), ValueError, "n_copies == 0"),
        (ConsistencyTraining(n_copies=2.0), TypeError, "n_copies"),
        (ConsistencyTraining(weight=-1.0), ValueError, "weight == -1.0"),
        (ConsistencyTraining(weight=float("nan")), ValueError, "weight"),
        (ConsistencyTraining(weight="10"), TypeError, "weight"),
        (ConsistencyTraining(entropy_weight=float("inf")), ValueError, "entropy_weight"),
        (SmoothAdvTraining(eps=-0.1), ValueError, "eps == -0.1"),
        (SmoothAdvTraining(eps=float("inf")), ValueError, "eps must be finite"),
        (SmoothAdvTraining(eps=True), TypeError, "eps"),
        (SmoothAdvTraining(steps=0), ValueError, "steps == 0"),
        (SmoothAdvTraining(n_noise_samples=0), ValueError, "n_noise_samples"),
        (SmoothAdvTraining(step_size=-1.0), ValueError, "step_size"),
        (SmoothAdvTraining(fresh_noise="yes"), TypeError, "fresh_noise"),
        (SmoothAdvTraining(warmup_epochs=0), ValueError, "warmup_epochs"),
        (SmoothAdvTraining(consistency_weight=-1.0), ValueError, "consistency_weight"),
        (SmoothAdvTraining(entropy_weight=float("nan")), ValueError, "entropy_weight"),
        ("adversarial", ValueError, "training must be 'gaussian', 'consistency'"),
        (None, TypeError, "training must be"),
        (LogisticRegression(), TypeError, "training must be"),
    ],
)
def test_bad_recipes_are_refused_before_training(training, error, match, data):
    with pytest.raises(error, match=match):
        smoothed(training).fit(*data)


def test_a_criterion_without_class_probabilities_is_refused(data):
    net = make_mlp_classifier((8,), max_epochs=1, criterion=nn.MultiMarginLoss)
    with pytest.raises(ValueError, match="CrossEntropyLoss.*NLLLoss"):
        SmoothedClassifier(net, training="consistency", **FAST).fit(*data)


def test_a_diverging_loss_is_an_error_and_the_criterion_comes_back(data):
    clf = smoothed(ConsistencyTraining(weight=1e300))
    with pytest.raises(ValueError, match="consistency training loss is"):
        clf.fit(*data)
    assert type(clf.estimator_.criterion_) is nn.CrossEntropyLoss


# ------------------------------------------------------------------ the estimator


def test_a_smoothed_mlp_trained_by_consistency_fits_predicts_certifies_pickles_clones(data):
    X, y = data
    clf = SmoothedClassifier(
        make_mlp_classifier((16,), max_epochs=3, lr=0.01),
        training=ConsistencyTraining(),
        class_weight={1: 3},
        random_state=0,
        **FAST,
    ).fit(X, y)
    predicted = clf.predict(X[:20])
    result = clf.certify(X[:20], y[:20])
    assert result.radius.shape == (20,)
    # The fitted net is an ordinary one: its own criterion, with the class weights.
    net = clf.estimator_
    assert type(net.criterion_) is nn.CrossEntropyLoss
    torch.testing.assert_close(net.criterion_.weight, torch.tensor([1.0, 3.0]))
    assert dict(net.callbacks_)["sksmooth_noise"].loss_ is None
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict(X[:20]), predicted)
    np.testing.assert_array_equal(loaded.certify(X[:20], y[:20]).radius, result.radius)
    twin = clone(clf)
    assert twin.get_params()["training__weight"] == 5.0
    assert twin.training is not clf.training
    np.testing.assert_array_equal(twin.fit(X, y).predict(X[:20]), predicted)


def test_a_net_s_own_criterion_weight_is_kept(data):
    net = tiny_net(max_epochs=1, criterion__weight=torch.tensor([1.0, 4.0]))
    clf = SmoothedClassifier(net, training="smoothadv", **FAST).fit(*data)
    torch.testing.assert_close(clf.estimator_.criterion_.weight, torch.tensor([1.0, 4.0]))


class LinearModule(nn.Module):
    def __init__(self, input_units=4, output_units=2):
        super().__init__()
        self.linear = nn.Linear(input_units, output_units)

    def forward(self, X):
        return self.linear(X)


class SoftmaxModule(LinearModule):
    def forward(self, X):
        return torch.softmax(self.linear(X), dim=1)


@pytest.mark.parametrize("training", ["consistency", "smoothadv"])
def test_a_net_returning_probabilities_trains_with_nll_loss_as_one_returning_logits(training, data):
    # The same layer, read through a softmax and NLLLoss or as logits with
    # CrossEntropyLoss: the recipe must see the same probabilities.
    fitted = {}
    for module, criterion in ((SoftmaxModule, nn.NLLLoss), (LinearModule, nn.CrossEntropyLoss)):
        net = make_classifier(module, max_epochs=3, lr=0.05, batch_size=32, criterion=criterion)
        fitted[criterion] = SmoothedClassifier(net, training=training, random_state=0, **FAST).fit(
            *data
        )
    nll, ce = fitted[nn.NLLLoss], fitted[nn.CrossEntropyLoss]
    assert type(nll.estimator_.criterion_) is nn.NLLLoss
    losses = [clf.estimator_.history[:, "train_loss"] for clf in (nll, ce)]
    np.testing.assert_allclose(*losses, rtol=1e-4)
    np.testing.assert_array_equal(nll.predict(data[0]), ce.predict(data[0]))


def test_grid_search_over_the_recipe_and_its_weight(data):
    search = GridSearchCV(
        smoothed("gaussian"),
        {
            "training": [ConsistencyTraining(), ConsistencyTraining(n_copies=3)],
            "training__weight": [1.0, 10.0],
        },
        cv=2,
    ).fit(*data)
    assert len(search.cv_results_["params"]) == 4
    assert isinstance(search.best_estimator_.training, ConsistencyTraining)
    assert search.best_estimator_.training.weight == search.best_params_["training__weight"]


def test_validation_batches_stay_clean_and_get_the_plain_criterion(data):
    from skorch.dataset import ValidSplit

    X, y = data
    net = tiny_net(max_epochs=2, batch_size=64, train_split=ValidSplit(4, stratified=True))
    clf = SmoothedClassifier(net, training="consistency", random_state=0, **FAST).fit(X, y)
    net = clf.estimator_
    _, valid = net.get_split_datasets(X.astype(np.float32), y)
    rows, labels = zip(*(valid[i] for i in range(len(valid))), strict=True)
    with torch.no_grad():
        scores = net.module_(torch.as_tensor(np.stack(rows)))
        expected = net.criterion_(scores, torch.as_tensor(np.stack(labels))).item()
    # The last epoch validates after its training steps, with the final weights.
    assert net.history[-1, "valid_loss"] == pytest.approx(expected, rel=1e-5)
