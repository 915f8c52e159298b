"""Each noise: its draw, its radius formulas against closed forms, their inverses, its checks."""

import math

import numpy as np
import pandas as pd
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


# ------------------------------------------- categorical columns: random replacement

# Column 1 holds the codes 0, 2, 5 (K = 3), column 3 the codes 0..3 (K = 4); 0 and 2 are numeric.
CATEGORIES = (np.array([0.0, 2.0, 5.0]), np.array([0.0, 1.0, 2.0, 3.0]))
Q = np.array([0.3, 0.6])
N_DRAWS = 100_000
# A frequency over N_DRAWS rows has standard deviation at most 0.5 / sqrt(N_DRAWS) = 0.0016:
# 0.008 is five of them (a seeded draw, so the test is deterministic; the margin is for seeds).
FREQUENCY_TOL = 0.008


def replacement():
    from sksmooth.noise import CategoricalReplacement

    return CategoricalReplacement(np.array([1, 3]), CATEGORIES, Q.copy())


def clean_rows():
    """N_DRAWS copies of one row: numeric 0.7 and -1.2, codes 2 and 0."""
    return np.tile([0.7, 2.0, -1.2, 0.0], (N_DRAWS, 1))


def assert_replacement_frequencies(noisy: np.ndarray, clean: np.ndarray) -> None:
    """Each categorical value stays w.p. 1 - q + q/K, becomes each other category w.p. q/K."""
    for column, codes, q in zip([1, 3], CATEGORIES, Q, strict=True):
        values = noisy[:, column]
        assert set(np.unique(values)) <= set(codes.tolist())
        K, kept = len(codes), clean[0, column]
        for code in codes:
            expected = 1 - q + q / K if code == kept else q / K
            assert np.mean(values == code) == pytest.approx(expected, abs=FREQUENCY_TOL), code
    # Numeric columns are untouched, bit for bit.
    np.testing.assert_array_equal(noisy[:, [0, 2]], clean[:, [0, 2]])


def test_categorical_replacement_numpy_draw_frequencies():
    rows = clean_rows()
    replacement().replace_numpy_(rows, np.random.default_rng(0))
    assert_replacement_frequencies(rows, clean_rows())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_categorical_replacement_torch_draw_frequencies(dtype):
    rows = torch.as_tensor(clean_rows(), dtype=dtype)
    out = replacement().replace_(rows, torch.Generator().manual_seed(0))
    assert out is rows and out.dtype == dtype
    clean = torch.as_tensor(clean_rows(), dtype=dtype).double().numpy()  # as the tensor holds it
    assert_replacement_frequencies(rows.double().numpy(), clean)


def test_categorical_replacement_is_seeded_and_fresh_per_draw():
    noise = replacement()
    a, b, c = clean_rows()[:500], clean_rows()[:500], clean_rows()[:500]
    noise.replace_numpy_(a, np.random.default_rng(1))
    noise.replace_numpy_(b, np.random.default_rng(1))
    noise.replace_numpy_(c, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    t1, t2 = torch.as_tensor(clean_rows()[:500]), torch.as_tensor(clean_rows()[:500])
    noise.replace_(t1, torch.Generator().manual_seed(1))
    noise.replace_(t2, torch.Generator().manual_seed(1))
    assert torch.equal(t1, t2)


def test_categorical_replacement_with_q_zero_or_one_category_keeps_every_value():
    from sksmooth.noise import CategoricalReplacement

    never = CategoricalReplacement(np.array([1, 3]), CATEGORIES, np.array([0.0, 0.0]))
    rows = clean_rows()[:2000]
    never.replace_numpy_(rows, np.random.default_rng(0))
    np.testing.assert_array_equal(rows, clean_rows()[:2000])
    single = CategoricalReplacement(np.array([0]), (np.array([4.0]),), np.array([0.9]))
    rows = torch.full((2000, 2), 4.0)
    single.replace_(rows, torch.Generator().manual_seed(0))
    assert torch.all(rows == 4.0)


def test_categorical_replacement_n_categories_and_unknown_codes():
    noise = replacement()
    np.testing.assert_array_equal(noise.n_categories, [3, 4])
    X = np.array([[0.7, 2.0, 9.9, 0.0], [0.1, 5.0, 3.0, 3.0]])
    assert noise.unknown_codes(X) == []  # numeric columns are never checked
    X_bad = np.array([[0.7, 1.0, 0.0, 0.0], [0.1, 4.0, 0.0, 7.0], [0.0, 0.0, 0.0, 9.0]])
    # The first unknown code of each column.
    assert noise.unknown_codes(X_bad) == [(1, 1.0), (3, 7.0)]
    assert noise.unknown_codes(np.array([[0.0, 0.0, 0.0, 2.5]])) == [(3, 2.5)]


# ------------------------------------------------ make_noise_model with categorical columns


def categorical_model(sigma=0.5, *, noise="gaussian", categorical_noise=0.2, **kwargs):
    """Four columns; 1 and 3 categorical with CATEGORIES."""
    return make_noise_model(
        noise,
        sigma,
        n_features=4,
        feature_names=kwargs.pop("feature_names", ["amount", "merchant", "age", "channel"]),
        categorical_columns=kwargs.pop("categorical_columns", [1, 3]),
        categories=kwargs.pop("categories", CATEGORIES),
        categorical_noise=categorical_noise,
        **kwargs,
    )


def test_scalar_sigma_skips_categorical_columns():
    model = categorical_model(0.5)
    np.testing.assert_array_equal(model.scales, [0.5, 0.0, 0.5, 0.0])
    assert model.scalar and model.sigma == 0.5
    assert model.n_noised == 2 and model.n_categorical == 2
    np.testing.assert_array_equal(model.categorical.columns, [1, 3])
    np.testing.assert_array_equal(model.categorical.probability, [0.2, 0.2])
    assert len(model.categorical.categories) == 2


def test_sigma_zero_on_categorical_columns_is_accepted_in_arrays_and_mappings():
    array = categorical_model([0.5, 0.0, 2.0, 0.0])
    np.testing.assert_array_equal(array.scales, [0.5, 0.0, 2.0, 0.0])
    assert not array.scalar
    mapping = categorical_model({"amount": 0.5, "merchant": 0.0})
    np.testing.assert_array_equal(mapping.scales, [0.5, 0.0, 0.0, 0.0])
    import pandas as pd

    series = categorical_model(pd.Series({"age": 1.0}))
    np.testing.assert_array_equal(series.scales, [0.0, 0.0, 1.0, 0.0])


@pytest.mark.parametrize(
    "sigma, names",
    [
        ([0.5, 0.1, 0.5, 0.0], r"\['merchant'\]"),
        ([0.5, 0.1, 0.5, 0.3], r"\['merchant', 'channel'\]"),
        ({"amount": 0.5, "channel": 0.2}, r"\['channel'\]"),
        ("series", r"\['merchant'\]"),
    ],
)
def test_sigma_on_a_categorical_column_is_an_error(sigma, names):
    if sigma == "series":
        import pandas as pd

        sigma = pd.Series({"merchant": 1.0, "age": 0.5})
    with pytest.raises(ValueError, match=f"categorical column\\(s\\) {names} a sigma other than 0"):
        categorical_model(sigma)


def test_sigma_on_a_categorical_column_without_names_is_named_by_index():
    with pytest.raises(ValueError, match=r"categorical column\(s\) \[3\] a sigma other than 0"):
        categorical_model([0.5, 0.0, 0.5, 1.0], feature_names=None)


def test_per_column_categorical_noise():
    model = categorical_model(categorical_noise=[0.0, 0.5])
    np.testing.assert_array_equal(model.categorical.probability, [0.0, 0.5])
    model = categorical_model(categorical_noise=np.array([0.1, 0.999]))
    np.testing.assert_array_equal(model.categorical.probability, [0.1, 0.999])


@pytest.mark.parametrize(
    "categorical_noise, error, message",
    [
        (1.0, ValueError, r"must be in \[0, 1\).*got 1.0"),
        (-0.1, ValueError, r"must be in \[0, 1\)"),
        (np.nan, ValueError, r"must be in \[0, 1\)"),
        (np.inf, ValueError, r"must be in \[0, 1\)"),
        ([0.1, 1.5], ValueError, r"must be in \[0, 1\).*got \[0.1, 1.5\]"),
        ([0.1, np.nan], ValueError, r"must be in \[0, 1\)"),
        ([0.1, 0.2, 0.3], ValueError, r"shape \(3,\); give one value, or one per categorical"),
        ([[0.1, 0.2]], ValueError, r"shape \(1, 2\)"),
        (True, TypeError, "must be a number, .* got True"),
        ("0.1", TypeError, "must be a number, .* got '0.1'"),
        (None, TypeError, "must be a number, .* got None"),
        (["a", "b"], TypeError, "must be a number, one number per categorical column"),
    ],
)
def test_bad_categorical_noise_is_named(categorical_noise, error, message):
    with pytest.raises(error, match=message):
        categorical_model(categorical_noise=categorical_noise)


def test_categorical_noise_is_checked_without_categorical_columns():
    # A wrong value is a mistake whether or not it is used yet.
    model = make_noise_model("gaussian", 0.5, n_features=3, categorical_noise=0.3)
    assert model.categorical is None and model.n_categorical == 0
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        make_noise_model("gaussian", 0.5, n_features=3, categorical_noise=1.5)


def _named_model(categorical_noise):
    return make_noise_model(
        "gaussian",
        0.5,
        n_features=3,
        feature_names=np.array(["amount", "merchant", "channel"]),
        categorical_columns=[1, 2],
        categories=(np.arange(3.0), np.arange(2.0)),
        categorical_noise=categorical_noise,
    )


def test_categorical_noise_as_a_mapping_is_read_by_name():
    for noise in ({"channel": 0.5, "merchant": 0.1}, pd.Series({"channel": 0.5, "merchant": 0.1})):
        np.testing.assert_array_equal(_named_model(noise).categorical.probability, [0.1, 0.5])
    unlisted = _named_model({"channel": 0.5})
    np.testing.assert_array_equal(unlisted.categorical.probability, [0.0, 0.5])  # unlisted: 0
    with pytest.raises(ValueError, match=r"names \['amount'\], which are not categorical"):
        _named_model({"amount": 0.5})


@pytest.mark.parametrize(
    "sigma, categorical_columns, message",
    [
        ([0.0, 0.0, 0.0, 0.0], [1, 3], "sigma is 0 on every column"),
        (0.5, [0, 1, 2, 3], "sigma is 0 on every numeric column"),
    ],
)
def test_no_noised_numeric_column_is_an_error(sigma, categorical_columns, message):
    with pytest.raises(ValueError, match=message):
        categorical_model(
            sigma,
            categorical_columns=categorical_columns,
            categories=tuple(np.array([0.0, 1.0]) for _ in categorical_columns),
        )


def test_noisy_copy_adds_gaussian_noise_to_numeric_columns_and_replaces_categories():
    model = categorical_model([0.5, 0.0, 2.0, 0.0], categorical_noise=[0.3, 0.6])
    clean = clean_rows()
    noisy = model.noisy_copy(clean, np.random.default_rng(0))
    for column, sigma in [(0, 0.5), (2, 2.0)]:
        z = (noisy[:, column] - clean[:, column]) / sigma
        assert stats.kstest(z, stats.norm.cdf).pvalue > 1e-4
    # The categorical columns: replacement only, so every value is a category code.
    replaced = noisy.copy()
    replaced[:, [0, 2]] = clean[:, [0, 2]]
    assert_replacement_frequencies(replaced, clean)


def test_noisy_batch_replaces_categories_on_torch_rows():
    model = categorical_model(0.5, categorical_noise=[0.3, 0.6])
    rows = torch.as_tensor(clean_rows())
    model.noisy_batch_(rows, torch.Generator().manual_seed(0))
    noisy = rows.numpy()
    assert abs(np.std(noisy[:, 0] - 0.7) / 0.5 - 1) < 0.02
    replaced = noisy.copy()
    replaced[:, [0, 2]] = clean_rows()[:, [0, 2]]
    assert_replacement_frequencies(replaced, clean_rows())


def test_radius_with_changes_at_zero_is_the_radius():
    p = np.array([0.3, 0.6, 0.9, 0.999])
    model = categorical_model(0.5)
    for norm in ("l2", "linf"):
        np.testing.assert_array_equal(model.radius_with_changes(p, norm, 0), model.radius(p, norm))
        table = model.radii_with_changes(p, norm)
        assert table.shape == (4, 3)
        np.testing.assert_array_equal(table[:, 0], model.radius(p, norm))
        assert np.all(np.diff(table, axis=1) <= 0)
    assert model.radius_with_changes(np.array([0.999]), "l2", 1)[0] > 0


def test_radius_with_changes_needs_gaussian_noise_and_categorical_columns():
    p = np.array([0.9])
    laplace = categorical_model(0.5, noise="laplace")
    np.testing.assert_array_equal(laplace.radius_with_changes(p, "l1", 0), laplace.radius(p, "l1"))
    with pytest.raises(ValueError, match="derived for Gaussian noise"):
        laplace.radius_with_changes(p, "l1", 1)
    assert laplace.radii_with_changes(p, "l1") is None
    plain = make_noise_model("gaussian", 0.5, n_features=3)
    with pytest.raises(ValueError, match="no categorical columns"):
        plain.radius_with_changes(p, "l2", 1)
    assert plain.radii_with_changes(p, "l2") is None
