"""The defence modules and what they expose to adaptive attackers."""

import numpy as np
import pytest
import torch

from sksmooth._defences import ActivationPruning, GaussianInputNoise, Quantize, Thermometer


def test_quantize_rounds_to_levels_and_has_no_gradient():
    quantize = Quantize(low=[0.0, -1.0], high=[1.0, 1.0], levels=5)
    X = torch.tensor([[0.3, 0.1], [2.0, -3.0]], requires_grad=True)
    out = quantize(X)
    np.testing.assert_allclose(out.detach(), [[0.25, 0.0], [1.0, -1.0]])
    out.sum().backward()
    assert torch.all(X.grad == 0)  # shattered: rounding has zero gradient


def test_bpda_runs_the_defence_forward_and_the_surrogate_backward():
    quantize = Quantize(low=[0.0], high=[1.0], levels=3)
    X = torch.tensor([[0.3], [0.8]], requires_grad=True)
    out = quantize.bpda(X)
    np.testing.assert_allclose(out.detach(), quantize(X).detach())
    out.sum().backward()
    np.testing.assert_allclose(X.grad, torch.ones_like(X))  # identity surrogate


def test_thermometer_code_and_ramp_surrogate():
    thermometer = Thermometer(low=[0.0], high=[1.0], levels=4)
    X = torch.tensor([[0.55], [0.0], [1.0]])
    np.testing.assert_array_equal(thermometer(X), [[1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    # The ramp equals the code on the grid of levels, and has a gradient between.
    grid = torch.tensor([[0.25], [0.5], [0.75]])
    np.testing.assert_allclose(thermometer.surrogate(grid), thermometer(grid))
    X = torch.tensor([[0.6]], requires_grad=True)
    thermometer.bpda(X).sum().backward()
    assert X.grad.item() == pytest.approx(4.0)


def test_gaussian_input_noise_is_random_and_seedable():
    noise = GaussianInputNoise(std=0.5)
    X = torch.zeros(4000, 2)
    draw = noise(X, torch.Generator().manual_seed(0))
    assert draw.std().item() == pytest.approx(0.5, abs=0.02)
    np.testing.assert_array_equal(draw, noise(X, torch.Generator().manual_seed(0)))
    assert noise.stochastic


def relu_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def test_activation_pruning_is_unbiased():
    # Kept units are scaled by 1 / P(kept): the mean over draws is the unpruned output.
    net = relu_net()
    X = torch.randn(1, 3, generator=torch.Generator().manual_seed(1)).repeat(20000, 1)
    with torch.no_grad():
        exact = net(X[:1])
        with ActivationPruning(net, ratio=0.3, generators=torch.Generator().manual_seed(2)):
            pruned = net(X)
    assert not torch.allclose(pruned[0], pruned[1])  # random
    np.testing.assert_allclose(pruned.mean(dim=0), exact[0], atol=0.02)


def test_activation_pruning_per_row_generators_ignore_the_batch():
    net = relu_net()
    X = torch.randn(5, 3, generator=torch.Generator().manual_seed(3))

    def run(rows):
        generators = [torch.Generator().manual_seed(10 + int(i)) for i in rows]
        with torch.no_grad(), ActivationPruning(net, 0.3, generators):
            return net(X[rows])

    np.testing.assert_allclose(run([4]), run([0, 2, 4])[[2]])
    # The hooks are removed afterwards.
    with torch.no_grad():
        np.testing.assert_array_equal(net(X), net(X))
