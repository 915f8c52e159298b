"""Certificates hold for the input exactly as given, whatever its magnitude.

A float32 net sees ``cast32(x + noise)``. With a threshold on one column,
``f(z) = 1[cast32(z_0) > t]`` (``t`` a float32 number), the decision is exactly
``z_0 > m`` in float64, where ``m`` is the midpoint between ``t`` and the next
float32 (rows at ``m`` itself have measure zero). So the smoothed classifier
is ``1[x_0 > m]`` and the exact robust distance of ``x`` is ``|x_0 - m|``, in
any norm, whatever the magnitude of ``x``.

Rounding ``x`` to float32 before adding the noise moves the centre of the
certificate by up to half a float32 step (0.03 at 1e6) and quantises the
noise to that step: with ``sigma = 0.25`` at ``|x| ~ 1e6`` most certificates
were then wrong. The check below counts certificates issued with the wrong
class or a radius above the exact one, against the ``1 - 1e-4`` quantile of
``Binomial(n_rows, alpha)``.
"""

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetClassifier
from torch import nn

from sksmooth import SmoothedClassifier
from sksmooth._adapters import cpu_has_native_bfloat16

from ..conftest import DEVICES

N_ROWS = 300


class ThresholdModule(nn.Module):
    """Scores (0, z_0 - t) in float32: class 1 exactly where cast32(z_0) > t."""

    def __init__(self, threshold=0.0):
        super().__init__()
        self.threshold = nn.Parameter(torch.tensor([threshold], dtype=torch.float32))

    def forward(self, X):
        score = X[:, :1] - self.threshold
        return torch.cat([torch.zeros_like(score), score], dim=1)


def threshold_net(threshold: float, device="cpu") -> NeuralNetClassifier:
    return NeuralNetClassifier(
        ThresholdModule,
        module__threshold=threshold,
        classes=[0, 1],
        criterion=nn.CrossEntropyLoss,
        device=device,
    ).initialize()


def large_rows(magnitude, sigma, seed, n_features=3):
    """Rows near the boundary at ``magnitude``, with their exact radius and class.

    Columns after the first are large too, and irrelevant to the model.
    """
    rng = np.random.default_rng(seed)
    threshold = float(np.float32(magnitude))
    following = float(np.nextafter(np.float32(threshold), np.float32(np.inf)))
    boundary = (threshold + following) / 2  # exact in float64
    offset = rng.uniform(-3 * sigma, 3 * sigma, N_ROWS)
    X = rng.uniform(-1, 1, (N_ROWS, n_features)) * magnitude
    X[:, 0] = boundary + offset
    return threshold, X, (X[:, 0] > boundary).astype(int), np.abs(X[:, 0] - boundary)


def unsound(result, label, exact):
    issued = ~result.abstained
    return int(np.sum(issued & ((result.label != label) | (result.radius > exact + 1e-12))))


def max_unsound(alpha):
    return int(stats.binom.ppf(1 - 1e-4, N_ROWS, alpha))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "magnitude, sigma", [(1e6, 0.25), (1e4, 0.01), (5e7, 4.0)], ids=["1e6", "1e4", "cents"]
)
def test_certificates_of_large_raw_values_hold_for_the_rows_as_given(magnitude, sigma, device):
    alpha = 0.001
    threshold, X, label, exact = large_rows(magnitude, sigma, seed=int(magnitude) % 97)
    net = threshold_net(threshold, device)
    clf = SmoothedClassifier(
        FrozenEstimator(net), sigma=sigma, n0=100, n=2000, alpha=alpha, random_state=0
    ).fit(X, label)
    for result in (clf.certify(X), clf.certify(X, radius=sigma / 2), clf.certify(X, n_max=2000)):
        assert unsound(result, label, exact) <= max_unsound(alpha)
    fixed = clf.certify(X)
    assert np.mean(~fixed.abstained) > 0.6  # not vacuous
    # Near-tight: the certificates track the exact distance, not a rounded centre.
    certified = ~fixed.abstained & (exact > sigma)
    assert np.median(fixed.radius[certified] / exact[certified]) > 0.6


def test_per_column_sigma_keeps_unnoised_large_columns_exact():
    # A column without noise is passed through as given; the certificate is
    # about the noised column only.
    sigma = np.array([0.25, 0.0, 0.0])
    threshold, X, label, exact = large_rows(1e6, 0.25, seed=5)
    clf = SmoothedClassifier(
        FrozenEstimator(threshold_net(threshold)),
        sigma=sigma,
        n0=100,
        n=2000,
        alpha=0.001,
        random_state=1,
    ).fit(X, label)
    result = clf.certify(X)
    # Unitless R over column 0 alone: the exact R is the distance over sigma_0.
    assert unsound(result, label, exact / 0.25) <= max_unsound(0.001)
    assert np.mean(~result.abstained) > 0.6


def test_the_check_catches_certificates_centred_on_the_rounded_row():
    # Rounding the rows to float32 before certifying (what a float32-only
    # engine does) fails the same check by far.
    alpha = 0.001
    threshold, X, label, exact = large_rows(1e6, 0.25, seed=7)
    clf = SmoothedClassifier(
        FrozenEstimator(threshold_net(threshold)),
        sigma=0.25,
        n0=100,
        n=2000,
        alpha=alpha,
        random_state=0,
    ).fit(X, label)
    rounded = clf.certify(X.astype(np.float32).astype(np.float64))
    assert unsound(rounded, label, exact) > 3 * max_unsound(alpha)  # measured: 20 > 4


class LinearThresholdModule(nn.Module):
    """Scores (0, z_0 - t) through an nn.Linear, which autocast runs in bfloat16."""

    def __init__(self, threshold=1.0):
        super().__init__()
        self.linear = nn.Linear(1, 1)
        with torch.no_grad():
            self.linear.weight.fill_(1.0)
            self.linear.bias.fill_(-threshold)

    def forward(self, X):
        score = self.linear(X[:, :1])
        return torch.cat([torch.zeros_like(score), score], dim=1)


def bfloat16_boundary(threshold: float) -> float:
    """The float64 value above which cast_bf16(cast32(z)) exceeds ``threshold``.

    The smallest float32 ``f`` that bfloat16 rounds above the threshold, found
    by bisection over float32 bit patterns; float64 values round to ``f`` or
    above exactly when they exceed the midpoint between ``f`` and the float32
    below it.
    """
    bits = np.array([threshold], dtype=np.float32).view(np.int32)[0]
    low, high = int(bits), int(bits) + 2**17  # a bfloat16 step is 2**16 float32 steps

    def above(pattern):
        value = np.array([pattern], dtype=np.int32).view(np.float32)
        return float(torch.from_numpy(value).to(torch.bfloat16).float()) > threshold

    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if above(middle) else (middle, high)
    first, below = (np.array([p], dtype=np.int32).view(np.float32)[0] for p in (high, high - 1))
    return (float(first) + float(below)) / 2


@pytest.mark.skipif(
    not cpu_has_native_bfloat16(),
    reason="this CPU has no native bfloat16, so precision='bfloat16' runs in float32",
)
def test_bfloat16_certificates_hold_for_the_bfloat16_model_only():
    # precision="bfloat16" certifies the model as it runs in bfloat16, whose
    # boundary sits half a bfloat16 step (0.0039 at 1.0) above the float32 one.
    alpha, sigma, threshold = 0.001, 0.002, 1.0
    boundary_bf16 = bfloat16_boundary(threshold)
    boundary_f32 = (threshold + float(np.nextafter(np.float32(threshold), np.float32(2)))) / 2
    assert boundary_bf16 - boundary_f32 == pytest.approx(2**-8, rel=1e-3)
    rng = np.random.default_rng(3)
    X = (boundary_bf16 + rng.uniform(-3 * sigma, 3 * sigma, N_ROWS))[:, None]
    net = NeuralNetClassifier(
        LinearThresholdModule, classes=[0, 1], criterion=nn.CrossEntropyLoss
    ).initialize()
    clf = SmoothedClassifier(
        FrozenEstimator(net),
        sigma=sigma,
        n0=100,
        n=2000,
        alpha=alpha,
        precision="bfloat16",
        random_state=0,
    ).fit(X, (X[:, 0] > boundary_bf16).astype(int))
    result = clf.certify(X)
    as_bf16 = (X[:, 0] > boundary_bf16).astype(int), np.abs(X[:, 0] - boundary_bf16)
    as_f32 = (X[:, 0] > boundary_f32).astype(int), np.abs(X[:, 0] - boundary_f32)
    assert unsound(result, *as_bf16) <= max_unsound(alpha)
    assert np.mean(~result.abstained) > 0.5
    # Read as certificates of the float32 model, they are wrong by the dozen.
    assert unsound(result, *as_f32) > 10 * max_unsound(alpha)
