"""Training under noise: the callback and the noisy copies draw the smoothing noise."""

import numpy as np
import pytest
import torch
from scipy import stats

from sksmooth._training import NoiseCallback
from sksmooth.noise import make_noise_model


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
    reference = {"gaussian": stats.norm(), "laplace": stats.laplace(scale=2**-0.5),
                 "uniform": stats.uniform(-(3**0.5), 2 * 3**0.5)}[noise]
    for column in (0, 2):
        sample = batch[:, column].double().numpy() / sigma[column]
        assert stats.kstest(sample, reference.cdf).pvalue > 1e-4  # false-alarm rate 1e-4


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "uniform"])
def test_noisy_copies_follow_the_noise(noise):
    model = make_noise_model(noise, [1.0, 0.0], n_features=2)
    X = np.zeros((20_000, 2))
    copy = model.noisy_copy(X, np.random.default_rng(0))
    assert np.all(copy[:, 1] == 0) and np.all(X == 0)
    reference = {"gaussian": stats.norm(), "laplace": stats.laplace(scale=2**-0.5),
                 "uniform": stats.uniform(-(3**0.5), 2 * 3**0.5)}[noise]
    assert stats.kstest(copy[:, 0], reference.cdf).pvalue > 1e-4


def test_callback_refuses_batches_of_another_width():
    callback = callback_for(sigma=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="3 columns"):
        callback.on_batch_begin(net=None, batch=(torch.zeros(4, 2), None), training=True)
