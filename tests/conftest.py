import numpy as np
import pytest
import torch

from sksmooth.nets import make_mlp_classifier

# Two cores on CI: keep torch from oversubscribing them.
torch.set_num_threads(2)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def tiny_net(**params):
    """A small, fast skorch MLP for tests."""
    defaults = {"hidden_units": (16,), "max_epochs": 15, "lr": 0.05, "batch_size": 32}
    return make_mlp_classifier(**{**defaults, **params})


@pytest.fixture
def make_tiny_net():
    return tiny_net
