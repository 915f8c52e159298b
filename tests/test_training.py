"""Training under noise: the callback and the noisy copies draw the smoothing noise."""

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetBinaryClassifier
from torch import nn

from sksmooth._training import (
    NoiseCallback,
    class_weights,
    is_fitted,
    is_single_logit_net,
    set_criterion_weight,
)
from sksmooth.nets import MLPModule
from sksmooth.noise import make_noise_model

from .conftest import tiny_net


def callback_for(noise="gaussian", sigma=0.5, n_features=3, seed=0):
    model = make_noise_model(noise, sigma, n_features=n_features)
    return NoiseCallback(model, seed=seed).initialize()


def test_noise_callback_perturbs_training_batches_only():
    callback = callback_for(sigma=0.5)
    train_x = torch.zeros(2000, 3)
    callback.on_batch_begin(net=None, batch=(train_x, None), training=True)
    assert abs(train_x.std().item() - 0.5) < 0.02
    valid_x = torch.zeros(5, 3)
    callback.on_batch_begin(net=None, batch=(valid_x, None), training=False)
    assert torch.equal(valid_x, torch.zeros(5, 3))


def test_noise_callback_is_reproducible_and_fresh_per_batch():
    draws = []
    for _ in range(2):
        callback = callback_for(sigma=1.0, n_features=2, seed=7)
        batches = [torch.zeros(4, 2), torch.zeros(4, 2)]
        for batch in batches:
            callback.on_batch_begin(net=None, batch=(batch, None), training=True)
        draws.append(batches)
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    assert not torch.equal(draws[0][0], draws[0][1])


def test_scalar_gaussian_callback_adds_sigma_times_randn():
    # x + sigma * randn from the callback's own generator, bit for bit.
    callback = callback_for(sigma=0.3, n_features=3, seed=11)
    batch = torch.arange(12, dtype=torch.float32).view(4, 3)
    expected = batch + torch.randn(4, 3, generator=torch.Generator().manual_seed(11)) * 0.3
    callback.on_batch_begin(net=None, batch=(batch, None), training=True)
    torch.testing.assert_close(batch, expected, rtol=0, atol=0)


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "uniform"])
def test_callback_follows_the_noise_and_its_per_column_scales(noise):
    sigma = np.array([0.5, 0.0, 2.0])
    callback = callback_for(noise, sigma)
    batch = torch.zeros(20_000, 3)
    callback.on_batch_begin(net=None, batch=(batch, None), training=True)
    assert torch.equal(batch[:, 1], torch.zeros(20_000))  # sigma 0: the column is untouched
    reference = {
        "gaussian": stats.norm(),
        "laplace": stats.laplace(scale=2**-0.5),
        "uniform": stats.uniform(-(3**0.5), 2 * 3**0.5),
    }[noise]
    for column in (0, 2):
        sample = batch[:, column].double().numpy() / sigma[column]
        assert stats.kstest(sample, reference.cdf).pvalue > 1e-4  # false-alarm rate 1e-4


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "uniform"])
def test_noisy_copies_follow_the_noise(noise):
    model = make_noise_model(noise, [1.0, 0.0], n_features=2)
    X = np.zeros((20_000, 2))
    copy = model.noisy_copy(X, np.random.default_rng(0))
    assert np.all(copy[:, 1] == 0) and np.all(X == 0)
    reference = {
        "gaussian": stats.norm(),
        "laplace": stats.laplace(scale=2**-0.5),
        "uniform": stats.uniform(-(3**0.5), 2 * 3**0.5),
    }[noise]
    assert stats.kstest(copy[:, 0], reference.cdf).pvalue > 1e-4


def test_callback_refuses_batches_of_another_width():
    callback = callback_for(sigma=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="3 columns"):
        callback.on_batch_begin(net=None, batch=(torch.zeros(4, 2), None), training=True)


def test_class_weights_follow_the_sorted_classes():
    classes = np.array(["fraud", "legit"])
    y_encoded = np.array([0, 1, 1, 1])
    np.testing.assert_array_equal(
        class_weights({"fraud": 20, "legit": 1}, classes, y_encoded), [20.0, 1.0]
    )
    np.testing.assert_array_equal(class_weights({"legit": 3}, classes, y_encoded), [1.0, 3.0])
    # scikit-learn's "balanced": n_samples / (n_classes * count)
    np.testing.assert_allclose(class_weights("balanced", classes, y_encoded), [2.0, 2 / 3])
    assert class_weights(None, classes, y_encoded) is None


def test_class_weights_refuse_keys_that_are_not_classes():
    with pytest.raises(ValueError, match=r"names \['1'\].*classes are \[0, 1\]"):
        class_weights({"1": 5}, np.array([0, 1]), np.array([0, 1]))


def test_set_criterion_weight_sets_a_float32_tensor_on_the_net():
    net = tiny_net()
    set_criterion_weight(net, np.array([2.0, 1.0]))
    weight = net.get_params()["criterion__weight"]
    assert weight.dtype == torch.float32 and weight.tolist() == [2.0, 1.0]


def test_is_fitted_reads_skorch_history_and_scikit_learn_state():
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    net = tiny_net(max_epochs=1, module__input_units=2, module__output_units=2)
    assert not is_fitted(net)
    assert not is_fitted(net.initialize())  # initialized, but no epoch trained
    assert is_fitted(net.fit(X.astype(np.float32), y))
    assert not is_fitted(LogisticRegression())
    assert is_fitted(LogisticRegression().fit(X, y))


def test_one_logit_nets_are_recognised():
    assert is_single_logit_net(NeuralNetBinaryClassifier(MLPModule))
    assert is_single_logit_net(tiny_net(criterion=nn.BCEWithLogitsLoss))
    assert is_single_logit_net(tiny_net(criterion=nn.BCEWithLogitsLoss()))
    assert not is_single_logit_net(tiny_net())
    assert not is_single_logit_net(LogisticRegression())
