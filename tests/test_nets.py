import numpy as np
import pytest
import torch
from torch import nn

from sksmooth.nets import MLPModule, make_mlp_classifier


def test_mlp_shapes_and_layers():
    module = MLPModule(input_units=3, output_units=4, hidden_units=(8, 5), dropout=0.1)
    assert module(torch.zeros(7, 3)).shape == (7, 4)
    linear = [layer for layer in module.layers if isinstance(layer, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(3, 8), (8, 5), (5, 4)]


def test_mlp_needs_sizes():
    with pytest.raises(ValueError, match="input_units and output_units"):
        MLPModule()


def test_factory_defaults_suit_model_selection():
    net = make_mlp_classifier(hidden_units=(4,), device="cpu")
    assert net.train_split is None and net.verbose == 0
    assert net.module__hidden_units == (4,)
    assert net.criterion is nn.CrossEntropyLoss


def test_factory_net_learns_standalone(rng):
    X = rng.normal(size=(200, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = make_mlp_classifier(
        hidden_units=(8,), max_epochs=20, lr=0.05, module__input_units=2, module__output_units=2
    )
    torch.manual_seed(0)
    assert (net.fit(X, y).predict(X) == y).mean() > 0.9
