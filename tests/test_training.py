"""Training under noise."""

import numpy as np
import torch

from sksmooth._training import GaussianNoiseCallback


def test_noise_callback_perturbs_training_batches_only():
    callback = GaussianNoiseCallback(sigma=0.5, seed=0).initialize()
    train_x = torch.zeros(2000, 3)
    callback.on_batch_begin(net=None, batch=(train_x, None), training=True)
    assert abs(train_x.std().item() - 0.5) < 0.02
    valid_x = torch.zeros(5, 3)
    callback.on_batch_begin(net=None, batch=(valid_x, None), training=False)
    assert torch.equal(valid_x, torch.zeros(5, 3))


def test_noise_callback_is_reproducible_and_fresh_per_batch():
    draws = []
    for _ in range(2):
        callback = GaussianNoiseCallback(sigma=1.0, seed=7).initialize()
        batches = [torch.zeros(4, 2), torch.zeros(4, 2)]
        for batch in batches:
            callback.on_batch_begin(net=None, batch=(batch, None), training=True)
        draws.append(batches)
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    assert not torch.equal(draws[0][0], draws[0][1])
