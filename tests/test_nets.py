import numpy as np
import pytest
import torch
from torch import nn

from sksmooth.nets import MLPModule, make_mlp_classifier

from .conftest import DEVICES


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


def test_mlp_categorical_forward_shape_and_width():
    module = MLPModule(
        input_units=4,
        output_units=3,
        hidden_units=(6,),
        categorical_columns=[3, 1],
        categories=[[0.0, 1.0], [3, 17, 40]],
    )
    assert module.layers[0].in_features == 2 + 2 + 3
    X = torch.tensor([[0.1, 17.0, -2.0, 1.0], [0.0, 40.0, 3.0, 0.0]])
    assert module(X).shape == (2, 3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mlp_categorical_one_hot_matches_manual_first_layer(dtype):
    module = MLPModule(
        input_units=3,
        output_units=2,
        hidden_units=(5,),
        categorical_columns=[1],
        categories=[[3, 17, 40]],
    ).to(dtype)
    X = torch.tensor([[0.5, 17.0, -1.0], [0.5, 40.0, -1.0]], dtype=dtype)
    # Numeric columns first, then the one-hot of column 1 (17 -> rank 1, 40 -> rank 2).
    encoded = torch.tensor([[0.5, -1.0, 0, 1, 0], [0.5, -1.0, 0, 0, 1]], dtype=dtype)
    first, relu, last = module.layers
    expected = last(relu(encoded @ first.weight.T + first.bias))
    out = module(X)
    assert out.dtype == dtype
    torch.testing.assert_close(out, expected)
    assert not torch.equal(out[0], out[1])


@pytest.mark.parametrize("device", DEVICES)
def test_mlp_categorical_on_device_and_under_autocast(device):
    module = MLPModule(
        input_units=2, output_units=2, categorical_columns=[0], categories=[[0, 1]]
    ).to(device)
    X = torch.tensor([[1.0, 0.3], [0.0, -0.2]], device=device)
    with torch.autocast(device, dtype=torch.bfloat16):
        assert module(X).shape == (2, 2)
        with pytest.raises(ValueError, match="column 0 holds the code 4.0"):
            module(X + torch.tensor([3.0, 0.0], device=device))


@pytest.mark.parametrize("code", [2.0, 0.5, -1.0, 99.0, float("nan")])
def test_mlp_categorical_unknown_code_raises(code):
    module = MLPModule(
        input_units=3, output_units=2, categorical_columns=[0, 2], categories=[[0, 1], [0, 1, 5]]
    )
    X = torch.tensor([[1.0, 0.0, 5.0], [0.0, 0.0, code]])
    with pytest.raises(ValueError, match="column 2 holds the code"):
        module(X)


@pytest.mark.parametrize(
    ("columns", "categories", "match"),
    [
        ([0], [[1, 0]], "sorted ascending and distinct"),
        ([0], [[0, 1, 1]], "sorted ascending and distinct"),
        ([0], [[]], "non-empty"),
        ([0, 1], [[0, 1]], "one sequence of codes per categorical column"),
        ([0], None, "one sequence of codes per categorical column"),
        (None, [[0, 1]], "one sequence of codes per categorical column"),
        ([3], [[0, 1]], "out of range"),
        ([-1], [[0, 1]], "out of range"),
        ([1, 1], [[0, 1], [0, 1]], "duplicated"),
    ],
)
def test_mlp_bad_categories_raise(columns, categories, match):
    with pytest.raises(ValueError, match=match):
        MLPModule(input_units=3, output_units=2, categorical_columns=columns, categories=categories)


def test_factory_net_with_categorical_columns_fits(rng):
    codes = rng.choice([3.0, 17.0, 40.0], size=60)
    X = np.column_stack([rng.normal(size=60), codes]).astype(np.float32)
    y = (codes == 17.0).astype(np.int64)
    net = make_mlp_classifier(
        hidden_units=(8,),
        max_epochs=30,
        lr=0.05,
        module__input_units=2,
        module__output_units=2,
        module__categorical_columns=[1],
        module__categories=[[3.0, 17.0, 40.0]],
    )
    torch.manual_seed(0)
    assert (net.fit(X, y).predict(X) == y).mean() > 0.9


@pytest.mark.parametrize(
    "no_columns", [{}, {"categorical_columns": None}, {"categorical_columns": []}]
)
def test_mlp_without_categorical_columns_keeps_weights(no_columns):
    torch.manual_seed(0)
    module = MLPModule(input_units=3, output_units=2, hidden_units=(8,), **no_columns)
    # The layers as built before categorical columns existed, in the same order.
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    assert module.state_dict().keys() == {f"layers.{k}" for k in reference.state_dict()}
    for name, value in reference.state_dict().items():
        assert torch.equal(module.state_dict()[f"layers.{name}"], value)


def test_factory_is_make_classifier_around_the_mlp():
    from skorch import NeuralNetClassifier

    from sksmooth.nets import make_classifier

    net, same = make_mlp_classifier(hidden_units=(4,), lr=0.01), make_classifier(MLPModule, lr=0.01)
    assert type(net) is NeuralNetClassifier  # skorch's own: predict returns indices as ever
    same.set_params(module__hidden_units=(4,))
    assert net.get_params(deep=False) == same.get_params(deep=False)


def test_a_module_pickled_before_the_input_check_still_runs():
    import pickle

    module = MLPModule(3, 2, hidden_units=(4,))
    del module._input_units  # as a module saved by an earlier version
    restored = pickle.loads(pickle.dumps(module))
    assert restored(torch.zeros(5, 3)).shape == (5, 2)
