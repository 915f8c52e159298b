"""Counter-based noise: each value a pure function of (row key, stream, sample, column).

The noise of a whole batch of (row, sample) pairs is computed at once, in a
fixed number of elementwise torch operations whatever the batch's size, and
every value depends only on its row's 128-bit key, the stream, the sample's
index within the row's stream and the column. A value is therefore the same,
bit for bit, in any batch, row order, subset or shard.

Generator: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random
numbers: as easy as 1, 2, 3", SC 2011), a keyed bijection of 128-bit
counters under a 64-bit key, ten rounds of two 32 x 32 -> 64-bit multiplies.
It is Crush-resistant (it passes TestU01's BigCrush over the many counter
and key patterns its authors tried, the simplest included, with three rounds
to spare), which matters here: our counters are structured (sample and
column bits) and rows' keys may be related. Two rounds of SplitMix64's
finaliser keyed by the seed's words (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014) would take about half the
operations (~25 passes per column against ~50), but SplitMix64's quality is
established for a Weyl sequence of one odd gamma, not for structured
counters and related keys: the noise behind a certificate is worth the
factor of two. In eager torch each operation is a pass over memory (about
140 per batch, whatever its size); ``torch.compile`` fuses them (4x faster
on a CPU; the integer words stay bit-identical, while its log, cos and sin
may differ from eager ones in the last place).

Torch has no unsigned 64-bit arithmetic, so every word is a 32-bit value
held in an int64 tensor: a product of two such values is below ``2**64`` and
int64 multiplication wraps in two's complement, so its 64 bits are exact
(no 16-bit limbs needed); logical right shifts are arithmetic shifts
followed by a mask.

Layout (Philox counter words ``c0..c3`` and key words ``k0, k1``, 32 bits each):

- ``k0, k1``: the low 64 bits of the row's seed; ``c2, c3``: its high 64 bits.
  Every bit of a 128-bit seed enters every block.
- ``c0``: bits 0-31 of the sample index.
- ``c1``: bits 32-39 of the sample index (8 bits), then the slot (20 bits),
  then the domain (4 bits): ``2 * stream + purpose``, purpose 0 for additive
  noise, 1 for categorical replacement.

For one row the map (stream, purpose, sample, slot) -> counter is injective
for samples below ``2**40`` (:data:`MAX_SAMPLES`), slots below ``2**20``
(:data:`MAX_COLUMNS`) and streams below 8 (:data:`N_STREAMS`), and Philox is a
bijection of counters for a fixed key, so no two values of a row share a
block. Additive noise uses slot ``m`` for columns ``2m`` and ``2m + 1``
(the two 64-bit halves of the block, one word per value; a normal pair comes
from both, by Box-Muller); categorical replacement uses slot ``j`` of the
categorical domain for column ``j`` (one half says whether to replace, the
other which category). Sample indices are not checked (that would wait for
the device): keep them below :data:`MAX_SAMPLES`.

Examples
--------
>>> import torch
>>> from sksmooth._counter_noise import keys_from_seeds, standard_normal
>>> keys = keys_from_seeds([2**127 + 5, 7])
>>> rows = torch.tensor([0, 0, 1])
>>> samples = torch.tensor([0, 1, 0])
>>> batch = standard_normal(keys, rows, samples, 4)
>>> batch.shape, batch.dtype
(torch.Size([3, 4]), torch.float64)
>>> alone = standard_normal(keys, rows[1:2], samples[1:2], 4)  # one pair, on its own
>>> bool(torch.equal(batch[1], alone[0]))
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

__all__ = [
    "MAX_COLUMNS",
    "MAX_SAMPLES",
    "N_STREAMS",
    "UNIT_NOISES",
    "categorical_uniforms",
    "keys_from_seeds",
    "philox4x32_10",
    "standard_normal",
    "uniform01",
    "unit_laplace",
    "unit_noise",
    "unit_uniform",
]

MAX_SAMPLES = 2**40  # sample indices per row's stream: 40 counter bits
MAX_COLUMNS = 2**20  # columns (additive noise) or categorical columns: 20 slot bits
N_STREAMS = 8  # 4 domain bits: 3 for the stream, 1 for the purpose

_SLOT_SHIFT = 8  # c1: 8 high bits of the sample index below the slot
_DOMAIN_SHIFT = 28  # c1: the domain above the slot's 20 bits
_ADDITIVE, _CATEGORICAL = 0, 1

_LOW32 = 0xFFFFFFFF
# Philox4x32 multipliers and Weyl key increments (Salmon et al. 2011).
_PHILOX_M0, _PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
_PHILOX_W0, _PHILOX_W1 = 0x9E3779B9, 0xBB67AE85
_PHILOX_ROUNDS = 10

_TWO_POW_64 = 2**64
_INV_TWO_POW_53 = 2.0**-53
# Stands for a 53-bit draw of 0, so that the interval is open and every
# inverse CDF finite; it has probability 2**-53.
_SMALLEST_UNIFORM = 2.0**-54
_TWO_PI = 2.0 * math.pi
_LAPLACE_SCALE = 1.0 / math.sqrt(2.0)  # b of a Laplace of standard deviation 1
_SQRT3 = math.sqrt(3.0)  # half-width of a uniform of standard deviation 1


# ---------------------------------------------------------------- keys


def _signed64(word: int) -> int:
    """The int64 whose two's-complement bits are the unsigned 64-bit ``word``."""
    return word - _TWO_POW_64 if word >= 2**63 else word


def keys_from_seeds(seeds: Sequence[int], device: torch.device | str | None = None) -> torch.Tensor:
    """Convert row seeds to the keys of the counter-based draws: two int64 words each.

    Parameters
    ----------
    seeds : sequence of int
        One seed per row, each in ``[0, 2**128)`` (for instance from
        ``sksmooth._monte_carlo.row_seeds``).
    device : torch.device or str, default=None
        Where the keys live; the CPU if None.

    Returns
    -------
    keys : Tensor of int64 of shape (n_rows, 2)
        Column 0 holds bits 0-63 of each seed, column 1 bits 64-127, as
        two's-complement int64 (no bit lost).

    Examples
    --------
    >>> from sksmooth._counter_noise import keys_from_seeds
    >>> keys_from_seeds([1, 2**64 + 3, 2**128 - 1]).tolist()
    [[1, 0], [3, 1], [-1, -1]]
    """
    words = []
    for seed in seeds:
        seed = int(seed)
        if not 0 <= seed < 2**128:
            raise ValueError(f"A row seed must be in [0, 2**128); got {seed}.")
        words.append([_signed64(seed % _TWO_POW_64), _signed64(seed >> 64)])
    keys = torch.tensor(words, dtype=torch.int64, device=device)
    return keys.reshape(len(words), 2)


def _low32(word: torch.Tensor) -> torch.Tensor:
    return word & _LOW32


def _high32(word: torch.Tensor) -> torch.Tensor:
    """Bits 32-63 of int64 words: a logical right shift, emulated with a mask."""
    return (word >> 32) & _LOW32


# ---------------------------------------------------------------- Philox


def philox4x32_10(counter: Sequence[torch.Tensor], key: Sequence[torch.Tensor]) -> tuple:
    """Apply the Philox4x32-10 block function to int64 tensors of 32-bit words.

    Parameters
    ----------
    counter : sequence of 4 Tensor of int64
        Counter words ``c0..c3``, each in ``[0, 2**32)``; they broadcast
        against each other and the key.
    key : sequence of 2 Tensor of int64
        Key words ``k0, k1``, each in ``[0, 2**32)``, broadcasting to the
        counter's shape (they are xored into it in place).

    Returns
    -------
    block : tuple of 4 Tensor of int64
        The output words, each in ``[0, 2**32)``, of the broadcast shape.

    Examples
    --------
    The first known-answer test of Random123 (counter and key all ones):

    >>> import torch
    >>> from sksmooth._counter_noise import philox4x32_10
    >>> ones = torch.tensor([0xFFFFFFFF])
    >>> [hex(int(w)) for w in philox4x32_10([ones] * 4, [ones] * 2)]
    ['0x408f276d', '0x41c83b0e', '0xa20bc7c6', '0x6d5451fd']
    """
    c0, c1, c2, c3 = counter
    round_keys0, round_keys1 = _key_schedule(*key)
    for round_ in range(_PHILOX_ROUNDS):
        k0, k1 = round_keys0[..., round_], round_keys1[..., round_]
        c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
    # c1 and c3 hold the last round's whole products; their low halves are the words.
    return c0, _low32(c1), c2, _low32(c3)


def _key_schedule(k0: torch.Tensor, k1: torch.Tensor) -> tuple:
    """Every round's key words, along a new last dimension: ``k + round * W`` modulo 2**32.

    A handful of operations for all ten rounds, not four per round.
    """
    rounds = torch.arange(_PHILOX_ROUNDS, dtype=torch.int64, device=k0.device)
    return (
        _low32(k0.unsqueeze(-1) + rounds * _PHILOX_W0),
        _low32(k1.unsqueeze(-1) + rounds * _PHILOX_W1),
    )


def _philox_round(c0, c1, c2, c3, k0, k1) -> tuple:
    """One Philox4x32 round; ``c1`` and ``c3`` may carry high bits, which it ignores.

    Leaving the low halves of the products unmasked (and masking once after
    the xors) saves two operations per round.
    """
    product0 = c0 * _PHILOX_M0  # exact: below 2**64, wrapped as int64
    product1 = c2 * _PHILOX_M1
    new_c0 = _xor_low32(product1 >> 32, c1, k0)
    new_c2 = _xor_low32(product0 >> 32, c3, k1)
    return new_c0, product1, new_c2, product0


def _xor_low32(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The low 32 bits of ``a ^ b ^ c``: one new tensor, two in-place operations."""
    return torch.bitwise_xor(a, b).bitwise_xor_(c).bitwise_and_(_LOW32)


# ---------------------------------------------------------------- counters


def _check_domain(stream: int, purpose: int) -> int:
    if not 0 <= int(stream) < N_STREAMS:
        raise ValueError(f"stream must be in [0, {N_STREAMS}); got {stream}.")
    return 2 * int(stream) + purpose


def _check_slots(slots: torch.Tensor) -> None:
    if slots.numel() and not (0 <= int(slots.min()) and int(slots.max()) < MAX_COLUMNS):
        raise ValueError(f"Columns must be in [0, {MAX_COLUMNS}).")


def _blocks(
    keys: torch.Tensor,
    row_index: torch.Tensor,
    sample_index: torch.Tensor,
    slots: torch.Tensor,
    domain: int,
) -> tuple:
    """The Philox blocks of every (sample, slot): 4 int64 tensors of shape (n, n_slots)."""
    row_keys = keys[row_index]  # (n, 2): one gather, then per-sample (n, 1) words
    low, high = row_keys[:, :1], row_keys[:, 1:]
    c0, c1 = _counter_words(sample_index.reshape(-1, 1), slots.reshape(1, -1), domain)
    # The first rounds run on (n, 1) tensors where they can: broadcasting does it.
    return philox4x32_10((c0, c1, _low32(high), _high32(high)), (_low32(low), _high32(low)))


def _counter_words(sample: torch.Tensor, slots: torch.Tensor, domain: int) -> tuple:
    """Counter words ``c0`` (sample bits 0-31) and ``c1`` (sample bits 32-39, slot, domain)."""
    slot_bits = (slots << _SLOT_SHIFT) | (domain << _DOMAIN_SHIFT)
    return _low32(sample), (sample >> 32) | slot_bits


def _unit_interval(high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
    """Uniforms in (0, 1) on the grid ``k * 2**-53`` from the top 53 bits of a 64-bit word."""
    top53 = (high << 21) | (low >> 11)  # both halves in [0, 2**32): no sign bits
    return top53.to(torch.float64).mul_(_INV_TWO_POW_53).clamp_min_(_SMALLEST_UNIFORM)


def _uniform_halves(
    keys: torch.Tensor,
    row_index: torch.Tensor,
    sample_index: torch.Tensor,
    slots: torch.Tensor,
    domain: int,
) -> tuple:
    """Two independent uniform tensors of shape (n, n_slots): the two halves of each block."""
    x0, x1, x2, x3 = _blocks(keys, row_index, sample_index, slots, domain)
    return _unit_interval(x0, x1), _unit_interval(x2, x3)


def _pair_slots(n_features: int, device: torch.device) -> torch.Tensor:
    if not 0 <= int(n_features) <= MAX_COLUMNS:
        raise ValueError(f"n_features must be in [0, {MAX_COLUMNS}]; got {n_features}.")
    return torch.arange((int(n_features) + 1) // 2, dtype=torch.int64, device=device)


def _interleave(even: torch.Tensor, odd: torch.Tensor, n_features: int) -> torch.Tensor:
    """Columns ``2m`` from ``even[:, m]``, ``2m + 1`` from ``odd[:, m]``: ``n_features`` in all."""
    # Strided copies into one buffer: faster than torch.stack's interleaving on the CPU.
    out = even.new_empty((even.shape[0], n_features))
    out[:, 0::2] = even
    out[:, 1::2] = odd[:, : n_features // 2]
    return out


# ---------------------------------------------------------------- draws


def uniform01(
    keys: torch.Tensor,
    row_index: torch.Tensor,
    sample_index: torch.Tensor,
    n_features: int,
    *,
    stream: int = 0,
) -> torch.Tensor:
    """Draw uniforms on the open interval (0, 1), at 53-bit resolution.

    Values lie on the grid ``k * 2**-53``, ``0 < k < 2**53``; a draw of
    ``k = 0`` (probability ``2**-53``) gives ``2**-54`` instead, so no value
    is 0 or 1.

    Parameters
    ----------
    keys : Tensor of int64 of shape (n_rows, 2)
        The rows' keys, from :func:`keys_from_seeds`, on the device to draw on.
    row_index : Tensor of int64 of shape (n,)
        The row (into ``keys``) of each sample.
    sample_index : Tensor of int64 of shape (n,)
        Each sample's index within its row's stream, in ``[0, 2**40)``.
    n_features : int
        Columns to draw, at most ``2**20``; the values of a column do not
        depend on how many columns are drawn.
    stream : int, default=0
        Which of the row's :data:`N_STREAMS` independent streams to draw from.

    Returns
    -------
    uniform : Tensor of float64 of shape (n, n_features)
        Sample ``i``'s values in row ``i``.

    Examples
    --------
    >>> import torch
    >>> from sksmooth._counter_noise import keys_from_seeds, uniform01
    >>> u = uniform01(keys_from_seeds([0]), torch.zeros(1000, dtype=torch.int64),
    ...               torch.arange(1000), 3)
    >>> u.shape, bool(((0 < u) & (u < 1)).all())
    (torch.Size([1000, 3]), True)
    """
    slots = _pair_slots(n_features, keys.device)
    domain = _check_domain(stream, _ADDITIVE)
    even, odd = _uniform_halves(keys, row_index, sample_index, slots, domain)
    return _interleave(even, odd, n_features)


def standard_normal(
    keys: torch.Tensor,
    row_index: torch.Tensor,
    sample_index: torch.Tensor,
    n_features: int,
    *,
    stream: int = 0,
) -> torch.Tensor:
    """Draw standard normals by Box-Muller, one 64-bit word per value.

    Columns ``2m`` and ``2m + 1`` are the two outputs
    ``sqrt(-2 ln u1) cos(2 pi u2)`` and ``sqrt(-2 ln u1) sin(2 pi u2)`` of
    one block's two uniforms (Box & Muller, 1958), so they are independent;
    with an odd ``n_features`` the last sine is not used. Tails are cut at
    ``sqrt(-2 ln 2**-54)``, about 8.65.

    Parameters
    ----------
    keys : Tensor of int64 of shape (n_rows, 2)
        The rows' keys, from :func:`keys_from_seeds`, on the device to draw on.
    row_index : Tensor of int64 of shape (n,)
        The row (into ``keys``) of each sample.
    sample_index : Tensor of int64 of shape (n,)
        Each sample's index within its row's stream, in ``[0, 2**40)``.
    n_features : int
        Columns to draw, at most ``2**20``; the values of a column do not
        depend on how many columns are drawn.
    stream : int, default=0
        Which of the row's :data:`N_STREAMS` independent streams to draw from.

    Returns
    -------
    normal : Tensor of float64 of shape (n, n_features)
        Sample ``i``'s values in row ``i``.

    Examples
    --------
    >>> import torch
    >>> from sksmooth._counter_noise import keys_from_seeds, standard_normal
    >>> z = standard_normal(keys_from_seeds([1]), torch.zeros(100_000, dtype=torch.int64),
    ...                     torch.arange(100_000), 2)
    >>> round(abs(z.mean().item()), 2), round(z.std().item(), 2)
    (0.0, 1.0)
    """
    slots = _pair_slots(n_features, keys.device)
    domain = _check_domain(stream, _ADDITIVE)
    u1, u2 = _uniform_halves(keys, row_index, sample_index, slots, domain)
    cosine, sine = _box_muller_(u1, u2)
    return _interleave(cosine, sine, n_features)


def _box_muller_(u1: torch.Tensor, u2: torch.Tensor) -> tuple:
    """Two independent standard normals from two uniforms in (0, 1), overwriting them."""
    radius = u1.log_().mul_(-2.0).sqrt_()
    angle = u2.mul_(_TWO_PI)
    cosine = radius * torch.cos(angle)
    return cosine, radius.mul_(angle.sin_())


def unit_laplace(
    keys: torch.Tensor,
    row_index: torch.Tensor,
    sample_index: torch.Tensor,
    n_features: int,
    *,
    stream: int = 0,
) -> torch.Tensor:
    """Draw Laplace values of standard deviation 1 (scale ``1 / sqrt(2)``) by inverse CDF.

    ``F^-1(u) = -b sign(u - 1/2) ln(2 min(u, 1 - u))``; both ``1 - u`` and
    the doubling are exact on the uniforms' grid, so the tails are accurate
    out to ``b ln(2**53)``, about 26.0.

    Parameters
    ----------
    keys : Tensor of int64 of shape (n_rows, 2)
        The rows' keys, from :func:`keys_from_seeds`, on the device to draw on.
    row_index : Tensor of int64 of shape (n,)
        The row (into ``keys``) of each sample.
    sample_index : Tensor of int64 of shape (n,)
        Each sample's index within its row's stream, in ``[0, 2**40)``.
    n_features : int
        Columns to draw, at most ``2**20``; the values of a column do not
        depend on how many columns are drawn.
    stream : int, default=0
        Which of the row's :data:`N_STREAMS` independent streams to draw from.

    Returns
    -------
    laplace : Tensor of float64 of shape (n, n_features)
        Sample ``i``'s values in row ``i``.

    Examples
    --------
    >>> import torch
    >>> from sksmooth._counter_noise import keys_from_seeds, unit_laplace
    >>> x = unit_laplace(keys_from_seeds([2]), torch.zeros(100_000, dtype=torch.int64),
    ...                  torch.arange(100_000), 2)
    >>> round(x.std().item(), 2)
    1.0
    """
    return _laplace_inverse_cdf(uniform01(keys, row_index, sample_index, n_features, stream=stream))


def _laplace_inverse_cdf(u: torch.Tensor) -> torch.Tensor:
    """The Laplace quantiles of scale ``1 / sqrt(2)`` at ``u`` in (0, 1)."""
    sign = torch.sign(u - 0.5)
    # 2 min(u, 1 - u) is exact, where 1 - 2 |u - 1/2| rounds 2**-54 up to 0.
    magnitude = torch.minimum(u, 1.0 - u).mul_(2.0).log_().mul_(-_LAPLACE_SCALE)
    return magnitude.mul_(sign)


def unit_uniform(
    keys: torch.Tensor,
    row_index: torch.Tensor,
    sample_index: torch.Tensor,
    n_features: int,
    *,
    stream: int = 0,
) -> torch.Tensor:
    """Draw uniforms on ``(-sqrt(3), sqrt(3))``, of standard deviation 1.

    ``sqrt(3) (2u - 1)``, with ``2u - 1`` exact; only multiplications and
    additions, so the values are the same on every device.

    Parameters
    ----------
    keys : Tensor of int64 of shape (n_rows, 2)
        The rows' keys, from :func:`keys_from_seeds`, on the device to draw on.
    row_index : Tensor of int64 of shape (n,)
        The row (into ``keys``) of each sample.
    sample_index : Tensor of int64 of shape (n,)
        Each sample's index within its row's stream, in ``[0, 2**40)``.
    n_features : int
        Columns to draw, at most ``2**20``; the values of a column do not
        depend on how many columns are drawn.
    stream : int, default=0
        Which of the row's :data:`N_STREAMS` independent streams to draw from.

    Returns
    -------
    uniform : Tensor of float64 of shape (n, n_features)
        Sample ``i``'s values in row ``i``.

    Examples
    --------
    >>> import torch
    >>> from sksmooth._counter_noise import keys_from_seeds, unit_uniform
    >>> x = unit_uniform(keys_from_seeds([3]), torch.zeros(100_000, dtype=torch.int64),
    ...                  torch.arange(100_000), 2)
    >>> round(x.std().item(), 2), bool(x.abs().max() < 3**0.5)
    (1.0, True)
    """
    return _symmetric_uniform_(uniform01(keys, row_index, sample_index, n_features, stream=stream))


def _symmetric_uniform_(u: torch.Tensor) -> torch.Tensor:
    """``sqrt(3) (2u - 1)`` in place: uniforms in (0, 1) to standard deviation 1."""
    return u.mul_(2.0).sub_(1.0).mul_(_SQRT3)


def categorical_uniforms(
    keys: torch.Tensor,
    row_index: torch.Tensor,
    sample_index: torch.Tensor,
    columns: Sequence[int] | torch.Tensor,
    *,
    stream: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw two independent uniforms per (sample, categorical column) for random replacement.

    They come from the categorical domain of the counter, never used by the
    additive noise, so they are independent of it (same key, same stream,
    same sample). A column's values depend on its own index, not on which
    other columns are asked for. Replace where ``replace < q``; the new
    category is ``codes[floor(choice * n_categories)]``, which is below
    ``n_categories`` for any ``choice < 1`` in float64.

    Parameters
    ----------
    keys : Tensor of int64 of shape (n_rows, 2)
        The rows' keys, from :func:`keys_from_seeds`, on the device to draw on.
    row_index : Tensor of int64 of shape (n,)
        The row (into ``keys``) of each sample.
    sample_index : Tensor of int64 of shape (n,)
        Each sample's index within its row's stream, in ``[0, 2**40)``.
    columns : sequence of int or Tensor of int64 of shape (n_categorical,)
        Indices of the categorical columns, each in ``[0, 2**20)``.
    stream : int, default=0
        Which of the row's :data:`N_STREAMS` independent streams to draw from.

    Returns
    -------
    replace : Tensor of float64 of shape (n, n_categorical)
        Uniforms in (0, 1): whether to replace.
    choice : Tensor of float64 of shape (n, n_categorical)
        Uniforms in (0, 1): which category.

    Examples
    --------
    >>> import torch
    >>> from sksmooth._counter_noise import categorical_uniforms, keys_from_seeds
    >>> replace, choice = categorical_uniforms(
    ...     keys_from_seeds([4]), torch.zeros(5, dtype=torch.int64), torch.arange(5), [1, 7])
    >>> replace.shape, choice.shape
    (torch.Size([5, 2]), torch.Size([5, 2]))
    """
    slots = torch.as_tensor(columns, dtype=torch.int64).reshape(-1)
    _check_slots(slots)  # before the copy to the device, so as not to wait for it
    slots = slots.to(keys.device)
    domain = _check_domain(stream, _CATEGORICAL)
    return _uniform_halves(keys, row_index, sample_index, slots, domain)


# By the names of sksmooth.noise's noises (Noise.name).
UNIT_NOISES: dict[str, Callable[..., torch.Tensor]] = {
    "gaussian": standard_normal,
    "laplace": unit_laplace,
    "uniform": unit_uniform,
}


def unit_noise(
    name: str,
    keys: torch.Tensor,
    row_index: torch.Tensor,
    sample_index: torch.Tensor,
    n_features: int,
    *,
    stream: int = 0,
) -> torch.Tensor:
    """Draw additive noise of standard deviation 1 of the noise named ``name``.

    Parameters
    ----------
    name : {"gaussian", "laplace", "uniform"}
        The noise, as ``sksmooth.noise.Noise.name`` names it.
    keys : Tensor of int64 of shape (n_rows, 2)
        The rows' keys, from :func:`keys_from_seeds`, on the device to draw on.
    row_index : Tensor of int64 of shape (n,)
        The row (into ``keys``) of each sample.
    sample_index : Tensor of int64 of shape (n,)
        Each sample's index within its row's stream, in ``[0, 2**40)``.
    n_features : int
        Columns to draw, at most ``2**20``.
    stream : int, default=0
        Which of the row's :data:`N_STREAMS` independent streams to draw from.

    Returns
    -------
    noise : Tensor of float64 of shape (n, n_features)
        Sample ``i``'s values in row ``i``.

    Examples
    --------
    >>> import torch
    >>> from sksmooth._counter_noise import keys_from_seeds, unit_noise, unit_laplace
    >>> keys, rows, samples = keys_from_seeds([5]), torch.tensor([0]), torch.tensor([9])
    >>> bool(torch.equal(unit_noise("laplace", keys, rows, samples, 3),
    ...                  unit_laplace(keys, rows, samples, 3)))
    True
    """
    try:
        draw = UNIT_NOISES[name]
    except KeyError:
        raise ValueError(
            f"No counter-based draw for the noise {name!r}; there are "
            f"{', '.join(repr(known) for known in UNIT_NOISES)}."
        ) from None
    return draw(keys, row_index, sample_index, n_features, stream=stream)
