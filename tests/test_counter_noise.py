"""The counter-based noise: exact arithmetic, bit-identity under any batching, distribution.

Every test is deterministic (fixed keys, fixed shuffles), so the statistical
ones either always pass or always fail; each statistical check is shown to
fail on a deliberately wrong variant.
"""

import inspect
import math

import numpy as np
import pytest
import torch
from scipy import stats

from sksmooth import _counter_noise as cn

from .conftest import DEVICES

ALPHA = 0.001  # level of every Kolmogorov-Smirnov test
N_DRAWS = 200_000
SEEDS = [0x0123456789ABCDEF_FEDCBA9876543210, 2**128 - 1, 0, 2**64, 12345]
ADDITIVE = {
    "normal": cn.standard_normal,
    "laplace": cn.unit_laplace,
    "uniform": cn.unit_uniform,
    "uniform01": cn.uniform01,
}
CDFS = {
    "normal": stats.norm().cdf,
    "laplace": stats.laplace(scale=1 / math.sqrt(2)).cdf,
    "uniform": stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)).cdf,
    "uniform01": stats.uniform().cdf,
}


def bits(tensor: torch.Tensor) -> torch.Tensor:
    """The float64 values' bit patterns, so that 0.0 and -0.0 differ."""
    return tensor.contiguous().view(torch.int64)


def pairs(n_rows: int, n_samples: int, device="cpu"):
    """(row_index, sample_index) of every sample of ``n_rows`` rows, row by row."""
    rows = torch.arange(n_rows, device=device).repeat_interleave(n_samples)
    samples = torch.arange(n_samples, device=device).repeat(n_rows)
    return rows, samples


def draw_flat(name, keys, n_rows, n_samples, n_features, **kw) -> np.ndarray:
    rows, samples = pairs(n_rows, n_samples)
    return ADDITIVE[name](keys, rows, samples, n_features, **kw).numpy().ravel()


@pytest.fixture(scope="module")
def keys():
    return cn.keys_from_seeds(SEEDS)


# ------------------------------------------------------------ exact integer arithmetic


def test_int64_multiplication_wraps_in_twos_complement():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**32, 1000, dtype=np.uint64)
    b = rng.integers(0, 2**32, 1000, dtype=np.uint64)
    a[0] = b[0] = 2**32 - 1  # the largest product
    product = torch.from_numpy(a.astype(np.int64)) * torch.from_numpy(b.astype(np.int64))
    exact = [cn._signed64(int(x) * int(y) % 2**64) for x, y in zip(a, b, strict=True)]
    assert product.tolist() == exact
    assert (torch.tensor([2**62]) * 4).item() == 0
    assert (torch.tensor([2**63 - 1]) * 2).item() == -2


def test_logical_right_shift_is_emulated_with_a_mask():
    words = torch.tensor([-1, -(2**63), 2**63 - 1, 0x1234567890ABCDEF])
    assert (words >> 32).tolist()[0] == -1  # torch shifts arithmetically
    expected = [int(w) % 2**64 >> 32 for w in words.tolist()]
    assert cn._high32(words).tolist() == expected
    assert cn._low32(words).tolist() == [int(w) % 2**32 for w in words.tolist()]


@pytest.mark.parametrize(
    "counter, key, expected",
    [
        # Random123's known-answer tests for philox4x32 with 10 rounds.
        ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
        ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
        (
            [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
            [0xA4093822, 0x299F31D0],
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
        ),
    ],
)
def test_philox_matches_the_known_answers(counter, key, expected):
    block = cn.philox4x32_10([torch.tensor([w]) for w in counter], [torch.tensor([w]) for w in key])
    assert [int(w) for w in block] == expected


def test_keys_keep_every_bit_of_128_bit_seeds():
    keys = cn.keys_from_seeds(SEEDS)
    assert keys.shape == (len(SEEDS), 2) and keys.dtype == torch.int64
    back = [(lo % 2**64) | (hi % 2**64) << 64 for lo, hi in keys.tolist()]
    assert back == SEEDS
    assert cn.keys_from_seeds([]).shape == (0, 2)
    for bad in (-1, 2**128):
        with pytest.raises(ValueError, match="2\\*\\*128"):
            cn.keys_from_seeds([bad])


def test_counters_are_unique_up_to_the_layout_limits():
    samples = torch.tensor([0, 1, 2**32 - 1, 2**32, 2**40 - 1]).reshape(-1, 1)
    slots = torch.tensor([0, 1, 2**19, 2**20 - 1]).reshape(1, -1)
    seen = set()
    for domain in range(2 * cn.N_STREAMS):
        c0, c1 = cn._counter_words(samples, slots, domain)
        assert int(c0.max()) < 2**32 and int(c1.max()) < 2**32 and int(c1.min()) >= 0
        seen.update(zip(c0.expand_as(c1).ravel().tolist(), c1.ravel().tolist(), strict=True))
    assert len(seen) == samples.numel() * slots.numel() * 2 * cn.N_STREAMS


# ------------------------------------------------------------ bit-identity


@pytest.mark.parametrize("name", sorted(ADDITIVE))
def test_values_do_not_depend_on_the_batch(name, keys):
    draw = ADDITIVE[name]
    rng = np.random.default_rng(1)
    rows, samples = pairs(len(SEEDS), 300)
    samples = samples * 7919 + 2**40 - 2**32  # far-apart and large sample indices
    whole = bits(draw(keys, rows, samples, 7))
    order = torch.from_numpy(rng.permutation(len(rows)))
    shuffled = bits(draw(keys, rows[order], samples[order], 7))
    assert torch.equal(shuffled, whole[order])
    subset = torch.from_numpy(rng.choice(len(rows), 37, replace=False))
    assert torch.equal(bits(draw(keys, rows[subset], samples[subset], 7)), whole[subset])
    cuts = np.sort(rng.choice(np.arange(1, len(rows)), 9, replace=False)).tolist()
    row_shards = torch.tensor_split(rows[order], cuts)
    sample_shards = torch.tensor_split(samples[order], cuts)
    shards = [bits(draw(keys, r, s, 7)) for r, s in zip(row_shards, sample_shards, strict=True)]
    assert torch.equal(torch.cat(shards), whole[order])
    # A key table holding other rows, in another order, changes nothing.
    table = torch.cat([cn.keys_from_seeds([7, 8]), keys.flip(0)])
    moved = len(SEEDS) + 1 - rows
    assert torch.equal(bits(draw(table, moved, samples, 7)), whole)


@pytest.mark.parametrize("name", sorted(ADDITIVE))
def test_a_column_does_not_depend_on_how_many_are_drawn(name, keys):
    rows, samples = pairs(2, 50)
    wide = bits(ADDITIVE[name](keys, rows, samples, 8))
    for n_features in (1, 2, 5, 8):
        assert torch.equal(
            bits(ADDITIVE[name](keys, rows, samples, n_features)), wide[:, :n_features]
        )


def test_categorical_uniforms_do_not_depend_on_the_batch_or_other_columns(keys):
    rows, samples = pairs(len(SEEDS), 200)
    replace, choice = cn.categorical_uniforms(keys, rows, samples, [3, 9, 2**20 - 1])
    order = torch.from_numpy(np.random.default_rng(2).permutation(len(rows)))[:150]
    one_replace, one_choice = cn.categorical_uniforms(keys, rows[order], samples[order], [9])
    assert torch.equal(bits(one_replace[:, 0]), bits(replace[order, 1]))
    assert torch.equal(bits(one_choice[:, 0]), bits(choice[order, 1]))


@pytest.mark.parametrize("device", DEVICES)
def test_values_on_the_device_match_the_cpu(device):
    keys = cn.keys_from_seeds(SEEDS)
    rows, samples = pairs(len(SEEDS), 1000)
    on_device = (keys.to(device), rows.to(device), samples.to(device))
    # Only exact operations: the same bits everywhere.
    for draw in (cn.uniform01, cn.unit_uniform):
        assert torch.equal(bits(draw(*on_device, 9).cpu()), bits(draw(keys, rows, samples, 9)))
    # log, cos and sin may differ in the last place between devices' libraries.
    for draw in (cn.standard_normal, cn.unit_laplace):
        here, there = draw(keys, rows, samples, 9), draw(*on_device, 9).cpu()
        torch.testing.assert_close(there, here, rtol=4e-15, atol=4e-15)


# ------------------------------------------------------------ distribution


def ks_pvalue(values: np.ndarray, name: str) -> float:
    return stats.kstest(values, CDFS[name]).pvalue


@pytest.mark.parametrize("name", sorted(ADDITIVE))
def test_draws_follow_their_distribution(name, keys):
    # Its own stream for each: monotone maps of the same uniforms would share a p-value.
    stream = sorted(ADDITIVE).index(name)
    values = draw_flat(name, keys, 4, N_DRAWS // 40, 10, stream=stream)
    assert values.size == N_DRAWS
    assert ks_pvalue(values, name) > ALPHA
    # Even (Box-Muller cosine) and odd (sine) columns on their own too.
    by_column = values.reshape(-1, 10)
    assert ks_pvalue(by_column[:, 0::2].ravel(), name) > ALPHA
    assert ks_pvalue(by_column[:, 1::2].ravel(), name) > ALPHA


def test_categorical_uniforms_are_uniform(keys):
    rows, samples = pairs(4, N_DRAWS // 40)
    replace, choice = cn.categorical_uniforms(keys, rows, samples, range(10))
    for u in (replace, choice):
        assert ks_pvalue(u.numpy().ravel(), "uniform01") > ALPHA


def wrong_box_muller(keys, rows, samples, n_features):
    """Box-Muller with sqrt(-ln u) instead of sqrt(-2 ln u): standard deviation 1/sqrt(2)."""
    u = cn.uniform01(keys, rows, samples, 2 * n_features)
    return torch.sqrt(-torch.log(u[:, 0::2])) * torch.cos(2 * math.pi * u[:, 1::2])


def wrong_laplace(keys, rows, samples, n_features):
    """Laplace of scale 1 (standard deviation sqrt(2)) instead of 1/sqrt(2)."""
    return cn.unit_laplace(keys, rows, samples, n_features) * math.sqrt(2)


def wrong_uniform(keys, rows, samples, n_features):
    """The uniform on (0, 1) mapped to (-sqrt(3), sqrt(3)) without the 2: onto (-sqrt(3), 0)."""
    return (cn.uniform01(keys, rows, samples, n_features) - 1.0) * math.sqrt(3)


def slightly_wrong_uniform01(keys, rows, samples, n_features):
    """Uniforms cut off at 0.99 (a 1% gap at the top)."""
    return cn.uniform01(keys, rows, samples, n_features) * 0.99


@pytest.mark.parametrize(
    "name, wrong",
    [
        ("normal", wrong_box_muller),
        ("laplace", wrong_laplace),
        ("uniform", wrong_uniform),
        ("uniform01", slightly_wrong_uniform01),
    ],
)
def test_the_distribution_test_fails_on_a_wrong_variant(name, wrong, keys):
    rows, samples = pairs(4, N_DRAWS // 40)
    values = wrong(keys, rows, samples, 10).numpy().ravel()
    assert values.size == N_DRAWS
    assert ks_pvalue(values, name) < ALPHA


# ------------------------------------------------------------ independence


def correlation(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.mark.parametrize("name", ["normal", "laplace", "uniform"])
def test_neighbouring_columns_and_samples_are_uncorrelated(name, keys):
    n = 20_000
    bound = 5 / math.sqrt(n)
    rows, samples = pairs(1, n + 1)
    values = ADDITIVE[name](keys, rows, samples, 6).numpy()
    for j in range(5):  # within a Box-Muller pair (0-1) and across pairs (1-2)
        assert abs(correlation(values[:n, j], values[:n, j + 1])) < bound
    for j in range(6):
        assert abs(correlation(values[:n, j], values[1:, j])) < bound
    # A correlation of 0.1 is seen: the bound is not loose enough to pass anything.
    mixed = values[:n, 1] + 0.1 * values[:n, 0]
    assert abs(correlation(values[:n, 0], mixed)) > bound


@pytest.mark.parametrize("word, bit", [(0, 0), (0, 31), (0, 32), (0, 63), (1, 0), (1, 63)])
def test_keys_one_bit_apart_give_uncorrelated_streams(word, bit):
    n = 20_000
    seed = SEEDS[0]
    flipped = seed ^ (1 << (64 * word + bit))
    keys = cn.keys_from_seeds([seed, flipped])
    rows, samples = pairs(2, n)
    values = cn.standard_normal(keys, rows, samples, 4).reshape(2, n, 4)
    assert abs(correlation(values[0], values[1])) < 5 / math.sqrt(4 * n)
    assert not (values[0] == values[1]).any()


def test_both_halves_of_a_key_change_every_value():
    low, high = 0x1111, 0x2222
    keys = cn.keys_from_seeds([low | high << 64, low | (high + 1) << 64, (low + 1) | high << 64])
    rows, samples = pairs(3, 1000)
    values = cn.uniform01(keys, rows, samples, 5).reshape(3, 1000, 5)
    assert not (values[0] == values[1]).any() and not (values[0] == values[2]).any()


def test_streams_and_purposes_are_independent(keys):
    n = 20_000
    bound = 5 / math.sqrt(n)
    rows, samples = pairs(1, n)
    additive = cn.uniform01(keys, rows, samples, 4)
    other_stream = cn.uniform01(keys, rows, samples, 4, stream=cn.N_STREAMS - 1)
    replace, choice = cn.categorical_uniforms(keys, rows, samples, range(4))
    assert abs(correlation(additive, other_stream)) < bound
    assert abs(correlation(additive, replace)) < bound
    assert abs(correlation(additive, choice)) < bound
    assert abs(correlation(replace, choice)) < bound
    assert not (additive == replace).any() and not (additive == other_stream).any()


# ------------------------------------------------------------ range and edge cases


def test_uniforms_are_in_the_open_interval_at_53_bits():
    top = torch.tensor([2**32 - 1])
    zero = torch.tensor([0])
    assert cn._unit_interval(zero, zero).item() == 2.0**-54  # the one nudged value
    assert cn._unit_interval(zero, torch.tensor([2**11])).item() == 2.0**-53
    assert cn._unit_interval(top, top).item() == 1.0 - 2.0**-53
    keys = cn.keys_from_seeds(SEEDS)
    u = cn.uniform01(keys, *pairs(len(SEEDS), 10_000), 10)
    assert ((u > 0) & (u < 1)).all()
    assert torch.equal(torch.round(u * 2.0**53), u * 2.0**53)  # on the 2**-53 grid


def test_the_extreme_uniforms_give_finite_noise():
    extremes = torch.tensor([2.0**-54, 2.0**-53, 0.5, 1.0 - 2.0**-53], dtype=torch.float64)
    normal, _ = cn._box_muller_(extremes.clone(), torch.full((4,), 0.5, dtype=torch.float64))
    laplace = cn._laplace_inverse_cdf(extremes)
    uniform = cn._symmetric_uniform_(extremes.clone())
    for values in (normal, laplace, uniform):
        assert torch.isfinite(values).all()
    assert normal[0].item() == pytest.approx(-math.sqrt(-2 * math.log(2.0**-54)))  # cos(pi) = -1
    assert laplace.tolist()[2] == 0.0
    assert laplace[0].item() == pytest.approx(math.log(2.0**53) / -math.sqrt(2))
    assert (uniform.abs() < math.sqrt(3)).all()


def test_draws_are_finite(keys):
    rows, samples = pairs(len(SEEDS), 20_000)
    for draw in ADDITIVE.values():
        assert torch.isfinite(draw(keys, rows, samples, 5)).all()


def test_empty_batches_and_no_columns(keys):
    empty = torch.empty(0, dtype=torch.int64)
    assert cn.standard_normal(keys, empty, empty, 3).shape == (0, 3)
    assert cn.unit_laplace(keys, *pairs(1, 4), 0).shape == (4, 0)
    replace, choice = cn.categorical_uniforms(keys, *pairs(1, 4), [])
    assert replace.shape == choice.shape == (4, 0)


def test_bad_arguments_are_refused(keys):
    rows, samples = pairs(1, 2)
    with pytest.raises(ValueError, match="stream"):
        cn.uniform01(keys, rows, samples, 2, stream=cn.N_STREAMS)
    with pytest.raises(ValueError, match="n_features"):
        cn.uniform01(keys, rows, samples, cn.MAX_COLUMNS + 1)
    with pytest.raises(ValueError, match="Columns"):
        cn.categorical_uniforms(keys, rows, samples, [cn.MAX_COLUMNS])
    with pytest.raises(ValueError, match="'gaussian'"):
        cn.unit_noise("cauchy", keys, rows, samples, 2)


def test_unit_noise_is_the_named_draw(keys):
    rows, samples = pairs(2, 10)
    for name, draw in cn.UNIT_NOISES.items():
        assert torch.equal(
            cn.unit_noise(name, keys, rows, samples, 3), draw(keys, rows, samples, 3)
        )
    # The names are those of sksmooth.noise.
    from sksmooth.noise import NOISES

    assert set(cn.UNIT_NOISES) == set(NOISES)


# ------------------------------------------------------------ kernels


def aten_ops(function) -> int:
    """Number of aten operators ``function`` runs, nested ones included."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        function()
    return sum(event.name.startswith("aten::") for event in profiler.events())


def test_operations_per_batch_do_not_grow_with_the_batch():
    keys = cn.keys_from_seeds(range(1000))
    total, batch = 1_000_000, 100_000

    def normal_batch(start, size):
        flat = torch.arange(start, start + size)
        return cn.standard_normal(keys, flat % 1000, flat // 1000, 30)

    small = aten_ops(lambda: normal_batch(0, 1000))
    large = aten_ops(lambda: normal_batch(0, batch))
    everything = aten_ops(lambda: [normal_batch(s, batch) for s in range(0, total, batch)])
    assert small == large, (small, large)
    assert everything == small * (total // batch)
    # 266 with torch 2.13 (about 145 of them compute; the rest are views and wrappers).
    assert small < 300


# ------------------------------------------------------------ documentation


def test_docstrings_are_valid_numpydoc():
    numpydoc_validate = pytest.importorskip("numpydoc.validate")
    ignored = {"ES01", "SA01", "EX01", "RT02"}  # as in test_docstrings.py
    for name in cn.__all__:
        if not inspect.isfunction(getattr(cn, name)):
            continue
        result = numpydoc_validate.validate(f"{cn.__name__}.{name}")
        errors = [f"{code}: {message}" for code, message in result["errors"] if code not in ignored]
        assert not errors, (name, errors)
