"""Each noise: its draw, its radius formulas against closed forms, their inverses, its checks."""

import math

import numpy as np
import pytest
import torch
from scipy import optimize, special, stats

from sksmooth.noise import (
    GaussianNoise,
    LaplaceNoise,
    Noise,
    UniformNoise,
    get_noise,
    make_noise_model,
)

NOISES = [GaussianNoise(), LaplaceNoise(), UniformNoise()]
# Each noise's one-dimensional distribution at standard deviation 1.
REFERENCE = {
    "gaussian": stats.norm(),
    "laplace": stats.laplace(scale=1 / math.sqrt(2)),
    "uniform": stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)),
}
PAIRS = [(noise, norm) for noise in NOISES for norm in noise.norms]
PAIR_IDS = [f"{noise.name}-{norm}" for noise, norm in PAIRS]


@pytest.mark.parametrize("noise", NOISES, ids=lambda n: n.name)
def test_torch_draw_has_the_distribution_and_unit_std(noise):
    out = torch.empty(200_000)
    noise.draw_(out, torch.Generator().manual_seed(0))
    sample = out.double().numpy()
    assert np.all(np.isfinite(sample))
    assert sample.std() == pytest.approx(1.0, abs=0.01)
    assert stats.kstest(sample, REFERENCE[noise.name].cdf).pvalue > 1e-4  # false alarm 1e-4


@pytest.mark.parametrize("noise", NOISES, ids=lambda n: n.name)
def test_numpy_draw_has_the_distribution(noise):
    sample = noise.draw_numpy(np.random.default_rng(0), 200_000)
    assert stats.kstest(sample, REFERENCE[noise.name].cdf).pvalue > 1e-4


@pytest.mark.parametrize("noise", NOISES, ids=lambda n: n.name)
def test_per_column_scale_matches_a_scalar_scale(noise):
    # The tensor path scales unit draws; the float path may draw scaled directly.
    scalar, per_column = torch.empty(1000, 3), torch.empty(1000, 3)
    noise.draw_(scalar, torch.Generator().manual_seed(1), 0.5)
    noise.draw_(per_column, torch.Generator().manual_seed(1), torch.full((3,), 0.5))
    torch.testing.assert_close(scalar, per_column, rtol=1e-6, atol=1e-6)


def test_gaussian_scalar_draw_is_normal_with_sigma():
    # The historical draw of vote counting, bit for bit.
    out = torch.empty(5000)
    GaussianNoise().draw_(out, torch.Generator().manual_seed(3), 0.25)
    expected = torch.empty(5000).normal_(0.0, 0.25, generator=torch.Generator().manual_seed(3))
    assert torch.equal(out, expected)


def test_laplace_draw_stays_finite_at_the_edge_of_the_uniform():
    # A uniform draw of exactly -1 would be an infinite Laplace sample.
    out = torch.full((3,), -1.0)
    original = torch.Tensor.uniform_
    try:
        torch.Tensor.uniform_ = lambda self, *a, **k: self.fill_(-1.0)
        LaplaceNoise().draw_(out, torch.Generator())
    finally:
        torch.Tensor.uniform_ = original
    assert torch.all(torch.isfinite(out))


@pytest.mark.parametrize("t", [0.01, 0.3, 1.0, 1.7])
def test_natural_radii_are_exact_for_a_shift_of_one_column(t):
    # One noised column, f(z) = 1[z > 0] at margin t: p = P(t + e > 0) = F(t),
    # and the exact robust distance is t. Each natural-norm formula is tight there.
    for noise, norm in [(GaussianNoise(), "l2"), (LaplaceNoise(), "l1"), (UniformNoise(), "l1")]:
        p = REFERENCE[noise.name].cdf(t)
        if noise.name == "uniform" and t >= math.sqrt(3):
            continue
        assert noise.radius(p, norm, n_noised=1) == pytest.approx(t, rel=1e-12), noise.name


def test_radius_formulas_against_their_closed_forms():
    p = np.array([0.51, 0.6, 0.75, 0.9, 0.99, 0.999999])
    d = 7
    np.testing.assert_allclose(GaussianNoise().radius(p, "l2", d), stats.norm.ppf(p), rtol=1e-14)
    np.testing.assert_allclose(
        GaussianNoise().radius(p, "linf", d), stats.norm.ppf(p) / math.sqrt(d), rtol=1e-14
    )
    b = 1 / math.sqrt(2)  # Laplace scale at std 1 (Teng et al.: -b ln(2 (1 - p)))
    np.testing.assert_allclose(LaplaceNoise().radius(p, "l1", d), -b * np.log(2 - 2 * p))
    np.testing.assert_allclose(LaplaceNoise().radius(p, "linf", d), -b * np.log(2 - 2 * p) / d)
    half_width = math.sqrt(3)  # uniform on [-l, l] at std 1 (Yang et al.: 2 l (p - 1/2))
    np.testing.assert_allclose(UniformNoise().radius(p, "l1", d), 2 * half_width * (p - 0.5))
    # L-infinity: the cubes' overlap (1 - r / (2 l))^d must exceed 3/2 - p.
    def overlap_gap(r, q):
        return (1 - r / (2 * half_width)) ** d - (1.5 - q)

    expected = [optimize.brentq(overlap_gap, 0, 2 * half_width, args=(q,)) for q in p]
    np.testing.assert_allclose(UniformNoise().radius(p, "linf", d), expected, rtol=1e-10)


def test_uniform_linf_is_at_least_its_l1_conversion_and_stable_in_high_dimension():
    p = np.array([0.6, 0.9, 0.99])
    for d in (1, 2, 30):
        l1 = UniformNoise().radius(p, "l1", d)
        linf = UniformNoise().radius(p, "linf", d)
        assert np.all(linf >= l1 / d * (1 - 1e-12))
    # d = 1e6: the naive 1 - (3/2 - p) ** (1 / d) loses digits; log1p/expm1 keep them.
    d = 10**6
    exact = -2 * math.sqrt(3) * np.expm1(np.log1p(0.5 - p) / d)
    np.testing.assert_allclose(UniformNoise().radius(p, "linf", d), exact, rtol=1e-9)


@pytest.mark.parametrize("noise, norm", PAIRS, ids=PAIR_IDS)
def test_required_probability_inverts_the_radius(noise, norm):
    for d in (1, 3, 50):
        for p in (0.501, 0.6, 0.8, 0.95, 0.999):
            radius = float(noise.radius(p, norm, d))
            assert noise.required_probability(radius, norm, d) == pytest.approx(p, abs=1e-12)
    assert noise.required_probability(0.0, norm, 3) == pytest.approx(0.5, abs=1e-15)


def test_required_probability_beyond_reach_is_above_one():
    assert UniformNoise().required_probability(2 * math.sqrt(3), "linf", 4) > 1
    assert UniformNoise().required_probability(5.0, "l1", 4) > 1


@pytest.mark.parametrize("noise, norm", PAIRS, ids=PAIR_IDS)
def test_radii_increase_with_p(noise, norm):
    p = np.linspace(0.5001, 0.99999, 500)
    assert np.all(np.diff(noise.radius(p, norm, 5)) > 0)


def test_noise_model_radius_units_and_abstentions():
    p = np.array([0.3, 0.5, special.ndtr(1.0)])
    scalar = make_noise_model("gaussian", 0.5, n_features=4)
    np.testing.assert_allclose(scalar.radius(p, "l2"), [0.0, 0.0, 0.5])
    np.testing.assert_allclose(scalar.radius(p, "l2", in_sigmas=True), [0.0, 0.0, 1.0])
    per_column = make_noise_model("gaussian", [0.5, 0.0, 2.0, 1.0], n_features=4)
    np.testing.assert_allclose(per_column.radius(p, "l2"), [0.0, 0.0, 1.0])
    # L-infinity conversion counts the noised columns only: 3 of 4.
    np.testing.assert_allclose(per_column.radius(p, "linf"), [0.0, 0.0, 1 / math.sqrt(3)])
    assert scalar.required_probability(0.5, "l2") == pytest.approx(special.ndtr(1.0))
    assert per_column.required_probability(1.0, "l2") == pytest.approx(special.ndtr(1.0))


def test_sigma_spellings():
    assert make_noise_model("laplace", 2, n_features=3).sigma == 2.0
    array = make_noise_model("gaussian", (0.1, 0, 3), n_features=3)
    np.testing.assert_array_equal(array.scales, [0.1, 0.0, 3.0])
    assert not array.scalar and array.n_noised == 2
    mapping = make_noise_model(
        "uniform", {"amount": 0.5, "hour": 2}, n_features=3, feature_names=["amount", "age", "hour"]
    )
    np.testing.assert_array_equal(mapping.scales, [0.5, 0.0, 2.0])
    assert get_noise(LaplaceNoise()) is not None and get_noise("uniform") == UniformNoise()


@pytest.mark.parametrize(
    "sigma, message",
    [
        ([0.1, 0.2], r"shape \(2,\).*shape \(3,\)"),
        ([[0.1, 0.2, 0.3]], r"shape \(1, 3\)"),
        ([0.1, -0.2, 0.3], r"column\(s\) \[1\] have \[-0.2\]"),
        ([0.1, np.nan, 0.3], r"finite and >= 0"),
        ([0.1, np.inf, 0.3], r"finite and >= 0"),
        ([0, 0, 0], "0 on every column"),
        (0.0, "finite number > 0"),
        (-1.0, "finite number > 0"),
        (np.inf, "finite number > 0"),
        ({"amount": 0.1, "colour": 1.0}, r"names columns \['colour'\]"),
    ],
)
def test_bad_sigma_is_named(sigma, message):
    with pytest.raises(ValueError, match=message):
        make_noise_model("gaussian", sigma, n_features=3, feature_names=["amount", "age", "hour"])


def test_bad_sigma_types_and_names():
    with pytest.raises(ValueError, match="without string column names"):
        make_noise_model("gaussian", {"a": 1.0}, n_features=1)
    with pytest.raises(TypeError, match=r"sigma\['a'\] must be a number"):
        make_noise_model("gaussian", {"a": "big"}, n_features=1, feature_names=["a"])
    with pytest.raises(TypeError, match="array-like of numbers"):
        make_noise_model("gaussian", ["a", "b"], n_features=2)
    with pytest.raises(ValueError, match=r"noise must be one of 'gaussian', 'laplace', 'uniform'"):
        make_noise_model("cauchy", 1.0, n_features=2)


@pytest.mark.parametrize("noise, bad", [("gaussian", "l1"), ("laplace", "l2"), ("uniform", "l3")])
def test_a_norm_the_noise_cannot_certify_is_named(noise, bad):
    with pytest.raises(ValueError, match=f"{noise} noise cannot certify the norm '{bad}'"):
        get_noise(noise).check_norm(bad)
    assert get_noise(noise).check_norm(None) == get_noise(noise).norms[0]


def test_noises_compare_by_kind():
    assert GaussianNoise() == GaussianNoise() and GaussianNoise() != LaplaceNoise()
    assert len({GaussianNoise(), GaussianNoise(), UniformNoise()}) == 2
    assert repr(LaplaceNoise()) == "LaplaceNoise()"
    assert isinstance(get_noise("gaussian"), Noise)
