"""The threat model of randomized smoothing: which noise, on which columns, which norm.

Each noise owns, in one place, the three things a certificate rests on:

- its draw (the only code in the package that writes a noise sample), on the
  per-row torch generators of the vote counting or on a numpy generator for
  noisy training copies, always with standard deviation 1 before scaling;
- its radius formulas, one per norm it certifies, in units of the per-column
  standard deviation ``sigma``: the certified region is
  ``{delta : ||delta / sigma||_p <= R}`` over the noised columns, with
  ``delta_j = 0`` on columns whose sigma is 0;
- their inverses: the probability a radius requires (for decision mode).

:class:`NoiseModel` binds a noise to the per-column scales of a fitted
estimator (``sigma``, scalar or one value per column) and is what the vote
counting, the training paths and the certification functions take.

The formulas (``d`` = number of noised columns, ``p`` = a lower bound of the
top class's probability, ``Phi`` the standard normal CDF):

- Gaussian: L2 radius ``Phi^-1(p)``; L-infinity ``Phi^-1(p) / sqrt(d)``
  (from L2).
- Laplace: L1 radius ``-ln(2 (1 - p)) / sqrt(2)``; L-infinity that over
  ``d`` (from L1).
- Uniform: L1 radius ``2 sqrt(3) (p - 1/2)``; L-infinity
  ``2 sqrt(3) (1 - (3/2 - p)^(1/d))``.

Gaussian: Cohen, Rosenfeld & Kolter (ICML 2019). Laplace with scale
``b = sigma / sqrt(2)``: Teng et al. (2020), ``-b ln(2 (1 - p))``. Uniform on
``[-l, l]`` with ``l = sqrt(3) sigma``: Yang et al. (ICML 2020), L1 radius
``2 l (p - 1/2)``; for L-infinity the two cubes ``x + U`` and
``x + delta + U`` overlap in a fraction ``prod_j (1 - |delta_j| / (2 l_j))``
of their volume, and by the Neyman-Pearson lemma the prediction holds while
that fraction exceeds ``3/2 - p``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import special

from ._counter_noise import categorical_uniforms, unit_noise
from .certification._categorical import check_changes, joint_unit_radius
from .utils._buffers import (
    check_device_dtype,
    check_index_tensor,
    check_numpy_buffer,
    check_numpy_rng,
    check_shape,
    check_tensor_buffer,
    check_torch_generator,
)
from .utils._validation import check_flag, check_radius, check_sample_counts, check_threshold

__all__ = [
    "CategoricalReplacement",
    "GaussianNoise",
    "LaplaceNoise",
    "Noise",
    "NoiseModel",
    "UniformNoise",
    "get_noise",
    "make_noise_model",
]

SQRT2 = math.sqrt(2.0)
SQRT3 = math.sqrt(3.0)
# A float32 uniform draw can be exactly 0; the Laplace inverse CDF maps it to
# an infinite sample. Clamping to the draw's own resolution keeps it finite.
_FLOAT32_RESOLUTION = 2.0**-24


class Noise:
    """A symmetric noise distribution with standard deviation 1 per column.

    Subclasses define :attr:`name`, :attr:`norms` (the first is the natural
    one), :meth:`draw_`, :meth:`draw_numpy`, :meth:`radius` and
    :meth:`required_probability`. Instances hold no state: two noises of the
    same class are equal, so they can be compared in a grid search.
    """

    name: str = ""
    norms: tuple[str, ...] = ()

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def default_norm(self) -> str:
        """The norm the noise certifies best."""
        return self.norms[0]

    def check_norm(self, norm: str | None) -> str:
        """Return ``norm`` (the natural one if None), or raise a ValueError naming it."""
        if norm is None:
            return self.default_norm
        if norm not in self.norms:
            raise ValueError(
                f"{self.name} noise cannot certify the norm {norm!r}; it certifies "
                f"{' and '.join(repr(n) for n in self.norms)}."
            )
        return norm

    def draw_(self, out: torch.Tensor, generator: torch.Generator, scale=1.0) -> torch.Tensor:
        """Fill ``out`` in place with noise of standard deviation ``scale``.

        ``scale`` is a float (every column alike) or a tensor broadcasting
        over the last dimension (one standard deviation per column).
        """
        raise NotImplementedError

    @staticmethod
    def _check_draw(out, generator, scale) -> None:
        """What :meth:`draw_` is given: a tensor, its device's generator, a scale."""
        check_tensor_buffer(out)
        check_torch_generator(generator, out.device)
        if isinstance(scale, torch.Tensor):
            if scale.ndim > 1 or (scale.ndim == 1 and out.ndim and len(scale) != out.shape[-1]):
                raise ValueError(
                    f"scale must be a number or one per column ({out.shape[-1]}), "
                    f"got shape {tuple(scale.shape)}."
                )
        elif isinstance(scale, bool) or not isinstance(scale, numbers.Real):
            raise TypeError(f"scale must be a number or a tensor, got {scale!r}.")
        elif not math.isfinite(scale) or scale < 0:
            raise ValueError(f"scale must be finite and >= 0, got {scale!r}.")
        elif 2.0 * scale > torch.finfo(out.dtype).max:  # noise many scales wide overflows
            raise ValueError(f"scale={scale!r} is beyond the range of {out.dtype}.")

    def draw_numpy(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Noise of standard deviation 1, float64, from a numpy generator."""
        raise NotImplementedError

    def fill_numpy_(self, out: np.ndarray, rng: np.random.Generator) -> None:
        """Fill the float64 array ``out`` with noise of standard deviation 1."""
        check_numpy_buffer(out)
        out[...] = self.draw_numpy(rng, out.shape)

    def radius(self, p: np.ndarray, norm: str, n_noised: int, *, threshold=0.5) -> np.ndarray:
        """Certified radius, in units of sigma, for lower bounds ``p > threshold``.

        The radius within which a smoothed score (any function of the noisy
        row with values in [0, 1], averaged over the noise: a vote share or
        a mean probability) whose value at ``x`` is at least ``p`` stays at
        or above ``threshold`` (a float, or one per ``p``). At the default
        1/2 a class's probability above the threshold makes it the
        smoothed prediction, which is Cohen et al.'s certificate.
        """
        raise NotImplementedError

    def required_probability(
        self, radius: float, norm: str, n_noised: int, *, threshold: float = 0.5
    ) -> float:
        """The smallest ``p`` whose :meth:`radius` at ``threshold`` reaches ``radius``.

        Above 1 if no probability does.
        """
        raise NotImplementedError

    def _check_query(self, radius, norm, n_noised, threshold=0.5) -> str:
        """What :meth:`required_probability` is asked, checked; the norm resolved."""
        check_radius(radius)
        check_sample_counts(n_noised=n_noised)
        check_threshold(threshold)
        return self.check_norm(norm)


def _thresholds(threshold) -> np.ndarray:
    """Thresholds of :meth:`Noise.radius` as floats strictly inside (0, 1), or a clear error."""
    if isinstance(threshold, (numbers.Real, np.ndarray)) and not isinstance(threshold, bool):
        values = np.asarray(threshold)
        if values.dtype.kind in "fiu":
            values = values.astype(float)
            if np.all((values > 0.0) & (values < 1.0)):
                return values
            raise ValueError("threshold must lie strictly between 0 and 1.")
    raise TypeError(f"threshold must be a number or an array of numbers, got {threshold!r:.80}.")


class GaussianNoise(Noise):
    """Gaussian noise: L2 certificates (Cohen et al., 2019), L-infinity by conversion.

    Examples
    --------
    >>> from sksmooth.noise import GaussianNoise
    >>> float(GaussianNoise().radius(0.8413447460685429, "l2", n_noised=4).round(6))
    1.0
    >>> float(GaussianNoise().radius(0.8413447460685429, "linf", n_noised=4).round(6))
    0.5
    """

    name = "gaussian"
    norms = ("l2", "linf")

    def draw_(self, out, generator, scale=1.0):
        self._check_draw(out, generator, scale)
        if not isinstance(scale, torch.Tensor):
            return out.normal_(0.0, float(scale), generator=generator)
        return out.normal_(0.0, 1.0, generator=generator).mul_(scale)

    def draw_numpy(self, rng, shape):
        check_numpy_rng(rng)
        return rng.standard_normal(check_shape(shape))

    def fill_numpy_(self, out, rng):
        # numpy casts ``out`` to an array unchecked: anything else can crash the interpreter.
        check_numpy_buffer(out)
        check_numpy_rng(rng)
        rng.standard_normal(out=out)

    def radius(self, p, norm, n_noised, *, threshold=0.5):
        # x -> Phi^-1(H(x + noise)) is 1-Lipschitz in L2 for any H in [0, 1]
        # (Salman et al., 2019, Lemma 2); Phi^-1(1/2) is exactly 0.
        threshold = _thresholds(threshold)
        return self.from_l2(special.ndtri(p) - special.ndtri(threshold), norm, n_noised)

    @staticmethod
    def from_l2(l2, norm: str, n_noised: int):
        """An L2 radius in ``norm``: a cube of half-width r lies in the L2 ball of r sqrt(d)."""
        if not (isinstance(norm, str) and norm in GaussianNoise.norms):
            raise ValueError(f"norm must be one of {GaussianNoise.norms}, got {norm!r}.")
        check_sample_counts(n_noised=n_noised)
        return l2 if norm == "l2" else l2 / math.sqrt(n_noised)

    def required_probability(self, radius, norm, n_noised, *, threshold=0.5):
        norm = self._check_query(radius, norm, n_noised, threshold)
        l2 = radius if norm == "l2" else radius * math.sqrt(n_noised)
        return float(special.ndtr(special.ndtri(threshold) + l2))


class LaplaceNoise(Noise):
    """Laplace noise: L1 certificates (Teng et al., 2020), L-infinity by conversion.

    Each column's noise has scale ``b = sigma / sqrt(2)`` (standard deviation
    ``sigma``).

    Examples
    --------
    >>> from sksmooth.noise import LaplaceNoise
    >>> float(LaplaceNoise().radius(0.75, "l1", n_noised=3).round(6))  # ln(2) / sqrt(2)
    0.490129
    """

    name = "laplace"
    norms = ("l1", "linf")

    def draw_(self, out, generator, scale=1.0):
        self._check_draw(out, generator, scale)
        # Inverse CDF of one uniform draw: a random sign times an Exp(1) magnitude.
        out.uniform_(-1.0, 1.0, generator=generator)
        magnitude = torch.log(out.abs().neg_().add_(1.0).clamp_(min=_FLOAT32_RESOLUTION))
        out.sign_().mul_(magnitude).mul_(-1.0 / SQRT2)
        return out.mul_(scale)

    def draw_numpy(self, rng, shape):
        check_numpy_rng(rng)
        return rng.laplace(0.0, 1.0 / SQRT2, check_shape(shape))

    def radius(self, p, norm, n_noised, *, threshold=0.5):
        # A shift of L1 size r changes the noise's density by a factor within
        # exp(+-sqrt(2) r) everywhere, so a score at least p at x is at least
        # max(p e^(-sqrt(2) r), 1 - (1 - p) e^(sqrt(2) r)) at x + delta. At 1/2
        # the second is Teng et al.'s radius; the first is larger only below 1/2.
        p = np.asarray(p, dtype=float)
        threshold = _thresholds(threshold)
        l1 = -np.log((1.0 - p) / (1.0 - threshold)) / SQRT2
        low = threshold < 0.5
        if np.any(low):
            with np.errstate(divide="ignore"):
                l1 = np.where(low, np.maximum(l1, np.log(p / threshold) / SQRT2), l1)
        return l1 if norm == "l1" else l1 / n_noised

    def required_probability(self, radius, norm, n_noised, *, threshold=0.5):
        norm = self._check_query(radius, norm, n_noised, threshold)
        l1 = radius if norm == "l1" else radius * n_noised
        required = 1.0 - (1.0 - threshold) * math.exp(-SQRT2 * l1)
        if threshold < 0.5:
            required = min(required, threshold * math.exp(SQRT2 * l1))
        return float(required)


class UniformNoise(Noise):
    """Uniform noise on ``[-sqrt(3) sigma, sqrt(3) sigma]``: L1 and L-infinity certificates.

    Yang et al. (ICML 2020), "Randomized smoothing of all shapes and sizes".

    Examples
    --------
    >>> from sksmooth.noise import UniformNoise
    >>> float(UniformNoise().radius(0.75, "l1", n_noised=3).round(6))  # sqrt(3) / 2
    0.866025
    """

    name = "uniform"
    norms = ("l1", "linf")

    def draw_(self, out, generator, scale=1.0):
        self._check_draw(out, generator, scale)
        if not isinstance(scale, torch.Tensor):
            return out.uniform_(-SQRT3 * scale, SQRT3 * scale, generator=generator)
        return out.uniform_(-SQRT3, SQRT3, generator=generator).mul_(scale)

    def draw_numpy(self, rng, shape):
        check_numpy_rng(rng)
        return rng.uniform(-SQRT3, SQRT3, check_shape(shape))

    def radius(self, p, norm, n_noised, *, threshold=0.5):
        # A score moves by at most the mass of the two cubes outside their
        # overlap, 1 - prod_j (1 - |delta_j| / (2 l)); it stays at or above the
        # threshold while that overlap is at least 1 - (p - threshold).
        p = np.asarray(p, dtype=float)
        margin = p - _thresholds(threshold)
        if norm == "l1":
            return 2.0 * SQRT3 * margin
        # 1 - (1 - margin)^(1/d), accurate for large d.
        return -2.0 * SQRT3 * np.expm1(np.log(1.0 - margin) / n_noised)

    def required_probability(self, radius, norm, n_noised, *, threshold=0.5):
        norm = self._check_query(radius, norm, n_noised, threshold)
        half_width = radius / (2.0 * SQRT3)
        if norm == "l1":
            return threshold + half_width
        if half_width >= 1.0:
            return math.inf
        return float((1.0 + threshold) - math.exp(n_noised * math.log1p(-half_width)))


NOISES = {noise.name: noise for noise in (GaussianNoise(), LaplaceNoise(), UniformNoise())}


def get_noise(noise) -> Noise:
    """The :class:`Noise` for a name (``"gaussian"``, ``"laplace"``, ``"uniform"``) or instance.

    Examples
    --------
    >>> from sksmooth.noise import get_noise
    >>> get_noise("laplace")
    LaplaceNoise()
    """
    if isinstance(noise, Noise):
        return noise
    if isinstance(noise, str) and noise in NOISES:
        return NOISES[noise]
    raise ValueError(
        f"noise must be one of {', '.join(repr(name) for name in NOISES)} or a "
        f"sksmooth.noise.Noise instance; got {noise!r}."
    )


@dataclass(frozen=True, eq=False)
class CategoricalReplacement:
    """Random replacement on categorical columns: the categorical part of a noise model.

    Each categorical column keeps its value with probability ``1 - q``;
    otherwise its value is drawn uniformly among the column's categories (the
    current one included). Certificates against changed categories are in
    :mod:`sksmooth.certification._categorical`.

    Parameters
    ----------
    columns : ndarray of int of shape (n_categorical,)
        Indices of the categorical columns.
    categories : tuple of ndarray of float
        The category codes of each categorical column, sorted.
    probability : ndarray of float of shape (n_categorical,)
        The replacement probability ``q`` of each, in [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.noise import CategoricalReplacement
    >>> noise = CategoricalReplacement(np.array([1]), (np.array([0.0, 1.0, 2.0]),),
    ...                                np.array([0.5]))
    >>> rows = np.zeros((1000, 2))
    >>> noise.replace_numpy_(rows, np.random.default_rng(0))
    >>> sorted(np.unique(rows[:, 1]).tolist()), bool(rows[:, 0].any())
    ([0.0, 1.0, 2.0], False)
    """

    columns: np.ndarray
    categories: tuple
    probability: np.ndarray

    @property
    def n_categories(self) -> np.ndarray:
        """Number of categories of each categorical column."""
        return np.array([len(c) for c in self.categories], dtype=np.int64)

    def replace_numpy_(self, out: np.ndarray, rng: np.random.Generator) -> None:
        """Replace, in place, the categorical entries of the noisy rows ``out`` (numpy)."""
        check_numpy_buffer(out)
        self._check_width(out)
        check_numpy_rng(rng)
        n = out.shape[0]
        for column, codes, q in zip(self.columns, self.categories, self.probability, strict=True):
            replaced = rng.random(n) < q
            drawn = rng.integers(len(codes), size=n)
            out[replaced, column] = codes[drawn[replaced]]

    def replace_(self, out: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Replace, in place, the categorical entries of the noisy rows ``out`` (torch)."""
        check_tensor_buffer(out)
        self._check_width(out)
        check_torch_generator(generator, out.device)
        n = out.shape[0]
        for column, codes, q in zip(self.columns, self.categories, self.probability, strict=True):
            replaced = torch.rand(n, generator=generator, device=out.device) < float(q)
            drawn = torch.randint(len(codes), (n,), generator=generator, device=out.device)
            values = torch.as_tensor(codes, dtype=out.dtype, device=out.device)[drawn]
            out[:, int(column)] = torch.where(replaced, values, out[:, int(column)])
        return out

    def replace_by_uniforms_(
        self, out: torch.Tensor, replace: torch.Tensor, choice: torch.Tensor
    ) -> torch.Tensor:
        """Replace in place, given two uniforms per row and categorical column (counter-based).

        Column ``j`` of row ``i`` is replaced where ``replace[i, j] < q_j``, by
        category ``floor(choice[i, j] * K_j)``: the same law as the other draws.
        """
        check_tensor_buffer(out)
        self._check_width(out)
        for name, uniforms in (("replace", replace), ("choice", choice)):
            check_tensor_buffer(uniforms, name, n_columns=len(self.columns))
            if len(uniforms) != len(out):
                raise ValueError(f"{name} has {len(uniforms)} rows, out has {len(out)}.")
        for j, (column, codes, q) in enumerate(
            zip(self.columns, self.categories, self.probability, strict=True)
        ):
            codes = torch.as_tensor(codes, dtype=out.dtype, device=out.device)
            # Clamped: a uniform in (0, 1) never needs it; NaN or 1 would index outside.
            drawn = codes[(choice[:, j] * len(codes)).long().clamp_(0, len(codes) - 1)]
            out[:, int(column)] = torch.where(replace[:, j] < float(q), drawn, out[:, int(column)])
        return out

    def _check_width(self, out) -> None:
        """Rows wide enough to hold every categorical column."""
        if out.ndim != 2 or (self.columns.size and out.shape[1] <= int(np.max(self.columns))):
            raise ValueError(
                "out must be 2-D with the categorical columns "
                f"{np.asarray(self.columns).tolist()}; got shape {tuple(out.shape)}."
            )

    def unknown_codes(self, X: np.ndarray) -> list[tuple[int, float]]:
        """(column, value) of the first code of each column of ``X`` not among its categories."""
        X = np.asarray(X)
        if X.ndim != 2 or (self.columns.size and X.shape[1] <= int(np.max(self.columns))):
            raise ValueError(
                f"X must be 2-D with the categorical columns {np.asarray(self.columns).tolist()}; "
                f"got shape {X.shape}."
            )
        unknown = []
        for column, codes in zip(self.columns, self.categories, strict=True):
            values = X[:, column]
            outside = ~np.isin(values, codes)
            if outside.any():
                unknown.append((int(column), float(values[np.argmax(outside)])))
        return unknown


@dataclass(frozen=True, eq=False)
class NoiseModel:
    """A noise with its per-column standard deviations: the threat model of a fit.

    Parameters
    ----------
    noise : Noise
        The distribution.
    scales : ndarray of shape (n_features,)
        Standard deviation of each column's noise; 0 for columns not noised.
    sigma : float or ndarray of shape (n_features,)
        ``sigma`` as resolved: a float when every numeric column has the same
        scale (radii are then in the data's units), else ``scales`` (radii
        are then unitless: ``R`` of the region ``||delta / sigma||_p <= R``).
    categorical : CategoricalReplacement, default=None
        The noise on categorical columns, whose ``scales`` are 0.

    Examples
    --------
    >>> from sksmooth.noise import make_noise_model
    >>> model = make_noise_model("gaussian", [0.5, 0.0, 1.0], n_features=3)
    >>> model.n_noised, model.scalar
    (2, False)
    >>> float(model.radius(0.8413447460685429, "l2")[()].round(6))
    1.0
    """

    noise: Noise
    scales: np.ndarray
    sigma: float | np.ndarray
    categorical: CategoricalReplacement | None = None

    @property
    def scalar(self) -> bool:
        """Whether one sigma applies to every numeric column (radii in data units)."""
        return isinstance(self.sigma, float)

    @property
    def n_categorical(self) -> int:
        """Number of categorical columns."""
        return 0 if self.categorical is None else len(self.categorical.columns)

    @property
    def _multiplier(self):
        """What unit noise is multiplied by: one float when every column shares it."""
        return self.sigma if self.scalar and self.categorical is None else self.scales

    @property
    def n_features(self) -> int:
        """Number of columns of the rows this model draws noise for."""
        return len(self.scales)

    @property
    def n_noised(self) -> int:
        return int(np.count_nonzero(self.scales))

    def torch_scale(self, device, dtype):
        """The ``scale`` argument of :meth:`Noise.draw_` on this device and dtype."""
        device = check_device_dtype(device, dtype)
        multiplier = self._multiplier
        if isinstance(multiplier, float):
            return multiplier
        return torch.as_tensor(multiplier, dtype=dtype, device=device)

    def scale_unit_(self, unit: torch.Tensor) -> torch.Tensor:
        """Scale unit noise (standard deviation 1) to this model's scales, in place."""
        check_tensor_buffer(unit, "unit", n_columns=self.n_features, batched=True)
        return unit.mul_(self.torch_scale(unit.device, unit.dtype))

    def noisy_rows_(self, out: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Fill ``out`` (float64, C-contiguous) with ``rows`` plus fresh noise, in float64.

        ``rows`` broadcasts against ``out``: one row repeated, or one per line.
        Categorical columns get no additive noise (scale 0) but random replacement.
        """
        check_numpy_buffer(out, n_columns=self.n_features)
        rows = np.asarray(rows)
        if rows.dtype.kind not in "fiu" or rows.shape not in ((self.n_features,), out.shape):
            raise ValueError(
                f"rows must be numbers of shape ({self.n_features},) or {out.shape}, "
                f"got {rows.dtype} of shape {rows.shape}."
            )
        self.noise.fill_numpy_(out, rng)
        out *= self._multiplier
        out += rows
        if self.categorical is not None:
            self.categorical.replace_numpy_(out, rng)

    def noisy_batch_(self, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Add noise to the torch rows ``rows`` in place, with the categorical replacement."""
        check_tensor_buffer(rows, "rows", n_columns=self.n_features)
        unit = torch.empty(rows.shape, dtype=rows.dtype, device=rows.device)
        rows.add_(self.scale_unit_(self.noise.draw_(unit, generator)))
        return self.replace_categories_(rows, generator)

    def replace_categories_(self, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Apply the categorical replacement to torch rows in place (no-op without one)."""
        check_tensor_buffer(rows, "rows", n_columns=self.n_features)
        check_torch_generator(generator, rows.device)
        if self.categorical is not None:
            self.categorical.replace_(rows, generator)
        return rows

    def noisy_rows_by_counter(
        self,
        X: torch.Tensor,
        keys: torch.Tensor,
        row_index: torch.Tensor,
        sample_index: torch.Tensor,
    ) -> torch.Tensor:
        """Noisy copies ``X[row_index]`` whose noise is a function of (key, sample, column).

        Drawn by the counter-based generator of :mod:`sksmooth._counter_noise`
        for a whole batch at once (a few large kernels on a GPU): the same
        sample of the same row gets the same noise whatever else the batch
        holds. ``X`` is float64 on the device; ``keys`` come from
        ``keys_from_seeds``.
        """
        check_tensor_buffer(X, "X", n_columns=self.n_features)
        if not isinstance(keys, torch.Tensor) or keys.dtype != torch.int64:
            raise TypeError("keys must be the (n_rows, 2) int64 tensor of keys_from_seeds.")
        if keys.ndim != 2 or keys.shape[1] != 2:
            raise ValueError(f"keys must have shape (n_rows, 2), got {tuple(keys.shape)}.")
        check_index_tensor(row_index, "row_index")
        check_index_tensor(sample_index, "sample_index", length=len(row_index))
        if len(keys) != len(X):
            raise ValueError(f"keys has {len(keys)} rows, X has {len(X)}.")
        if X.device.type == "cpu" and len(row_index):  # a GPU would wait for this check
            if int(row_index.min()) < 0 or int(row_index.max()) >= len(X):
                raise ValueError(f"row_index must index the {len(X)} rows of X.")
        unit = unit_noise(self.noise.name, keys, row_index, sample_index, X.shape[1])
        noisy = self.scale_unit_(unit).add_(X[row_index])
        if self.categorical is not None:
            replace, choice = categorical_uniforms(
                keys, row_index, sample_index, self.categorical.columns
            )
            self.categorical.replace_by_uniforms_(noisy, replace, choice)
        return noisy

    def noisy_copy(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``X`` plus one draw of noise (float64, numpy), for noisy training copies."""
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {X.shape}.")
        out = np.empty(X.shape)
        self.noisy_rows_(out, X, rng)
        return out

    def radius(self, p_lower, norm: str, *, in_sigmas: bool = False, threshold=None) -> np.ndarray:
        """Certified radius for lower bounds ``p_lower``: 0 where ``p_lower <= threshold``.

        In the data's units for a scalar sigma, unitless for per-column sigma;
        in units of sigma in both cases with ``in_sigmas=True``. ``threshold``
        (a float or one per row; None for 1/2, Cohen et al.'s certificate of
        the top class): the radius within which a smoothed score bounded
        below by ``p_lower`` stays at or above it (see :meth:`Noise.radius`).
        """
        check_flag(in_sigmas, "in_sigmas")
        p = np.asarray(p_lower, dtype=float)
        at = 0.5 if threshold is None else np.asarray(threshold, dtype=float)
        certified = p > at
        # A stand-in inside (threshold, 1) where not certified keeps the formulas finite.
        safe = np.where(certified, p, 0.5 * (at + 1.0))
        if threshold is None:
            unit = self.noise.radius(safe, norm, self.n_noised)
        else:
            unit = self._threshold_radius(safe, norm, at)
        if self.scalar and not in_sigmas:
            unit = self.sigma * unit
        return np.where(certified, unit, 0.0)

    def _threshold_radius(self, p, norm, threshold):
        try:
            return self.noise.radius(p, norm, self.n_noised, threshold=threshold)
        except (TypeError, NotImplementedError) as error:
            raise ValueError(
                f"{self.noise!r} gives no certificate at a threshold: its radius() takes no "
                "threshold. The package's gaussian, laplace and uniform noises do."
            ) from error

    def required_probability(self, radius: float, norm: str, *, threshold=None) -> float:
        """The probability a certificate of ``radius`` (same units as :meth:`radius`) needs.

        At ``threshold`` (None: 1/2), as :meth:`radius`.
        """
        unit = radius / self.sigma if self.scalar else radius
        if threshold is None:
            return self.noise.required_probability(unit, norm, self.n_noised)
        try:
            return self.noise.required_probability(
                unit, norm, self.n_noised, threshold=float(threshold)
            )
        except (TypeError, NotImplementedError) as error:
            raise ValueError(
                f"{self.noise!r} gives no certificate at a threshold: its "
                "required_probability() takes no threshold."
            ) from error

    def radius_with_changes(
        self, p_lower, norm: str, n_changes: int, *, threshold=0.5
    ) -> np.ndarray:
        """Numeric radius certified together with up to ``n_changes`` categorical changes.

        Same units as :meth:`radius`, and equal to it for ``n_changes=0``.
        Derived for Gaussian numeric noise (see
        :mod:`sksmooth.certification._categorical`). ``threshold``, a number
        or one per row as for :meth:`radius`, is the score each row's class
        must keep above.
        """
        check_changes(n_changes)
        if n_changes == 0:
            return self.radius(p_lower, norm, threshold=threshold)
        if self.categorical is None:
            raise ValueError("This noise model has no categorical columns to change.")
        if not isinstance(self.noise, GaussianNoise):
            raise ValueError(
                "Certificates with changed categorical fields are derived for Gaussian "
                f"noise on the numeric columns; this model uses {self.noise.name} noise. "
                "Use noise='gaussian', or read the certificate at 0 changes."
            )
        p_lower = np.asarray(p_lower, dtype=float)
        thresholds = np.broadcast_to(_thresholds(threshold), p_lower.shape).ravel()
        flat = p_lower.ravel()
        unit = np.zeros(flat.shape)
        # Rows at one threshold share a computation (two at most for a decision).
        for level in np.unique(thresholds):
            rows = thresholds == level
            unit[rows] = joint_unit_radius(
                flat[rows],
                n_changes,
                n_categories=self.categorical.n_categories,
                replace_probability=self.categorical.probability,
                threshold=float(level),
            )
        unit = self.noise.from_l2(unit.reshape(p_lower.shape), norm, self.n_noised)
        return self.sigma * unit if self.scalar else unit

    def radii_with_changes(self, p_lower, norm: str, *, threshold=0.5) -> np.ndarray | None:
        """:meth:`radius_with_changes` for every ``k`` from 0 to the categorical columns.

        An array of shape (n_rows, n_categorical + 1), non-increasing along
        ``k``, whose column 0 is :meth:`radius`; None without categorical
        columns or for a noise other than Gaussian.
        """
        if self.categorical is None or not isinstance(self.noise, GaussianNoise):
            return None
        columns = [
            self.radius_with_changes(p_lower, norm, k, threshold=threshold)
            for k in range(self.n_categorical + 1)
        ]
        # Each is a sound lower bound; their running minimum is too, and monotone.
        return np.minimum.accumulate(np.stack(columns, axis=1), axis=1)


def make_noise_model(
    noise,
    sigma,
    *,
    n_features: int,
    feature_names=None,
    categorical_columns=None,
    categories=(),
    categorical_noise=0.1,
) -> NoiseModel:
    """Validate ``noise`` and ``sigma`` for data of ``n_features`` columns.

    Parameters
    ----------
    noise : str or Noise
        ``"gaussian"``, ``"laplace"``, ``"uniform"`` or a :class:`Noise`.
    sigma : float, array-like of shape (n_features,) or mapping
        A positive float: the same standard deviation on every numeric
        column. An array: one per column, each at least 0 (0: the column is
        not noised), not all 0. A mapping ``{column name: sigma}`` (or a
        pandas Series indexed by column name), when the data has column
        names: listed columns get their sigma, the others 0. Categorical
        columns take no sigma: an array or mapping giving one a sigma other
        than 0 is an error.
    n_features : int
        Columns of the data.
    feature_names : array-like of str, default=None
        Column names, needed for a mapping.
    categorical_columns : array-like of int, default=None
        Indices of the categorical columns, which get random replacement.
    categories : tuple of ndarray, default=()
        The sorted category codes of each categorical column.
    categorical_noise : float, array-like of float or mapping, default=0.1
        Replacement probability ``q`` in [0, 1): one for all categorical
        columns, one each in column order, or a mapping (or pandas Series)
        ``{column name: q}`` read by name, unlisted categorical columns
        getting 0. Checked even when there is no categorical column.

    Returns
    -------
    model : NoiseModel

    Examples
    --------
    >>> import numpy as np
    >>> from sksmooth.noise import make_noise_model
    >>> model = make_noise_model("gaussian", 0.5, n_features=3, categorical_columns=[2],
    ...                          categories=(np.array([0.0, 1.0]),), categorical_noise=0.2)
    >>> model.scales, model.n_categorical
    (array([0.5, 0.5, 0. ]), 1)
    """
    resolved = get_noise(noise)
    check_sample_counts(n_features=n_features)
    if feature_names is not None:
        names = np.asarray(feature_names, dtype=object)
        if names.shape != (n_features,):
            raise ValueError(
                f"feature_names must hold one name per column, {n_features}; got {feature_names!r}."
            )
        feature_names = names
    columns = _categorical_columns(categorical_columns, n_features)
    if isinstance(sigma, (str, bytes, bool)) or sigma is None:
        raise TypeError(
            f"sigma must be a number, an array-like of numbers or a mapping; got {sigma!r}."
        )
    if isinstance(sigma, pd.Series):
        # A Series names its entries: read it by name, never by position.
        sigma = dict(zip(sigma.index.astype(str), sigma.to_numpy(), strict=True))
    if isinstance(sigma, Mapping):
        scales = _scales_from_mapping(sigma, feature_names)
    elif isinstance(sigma, numbers.Real) or (np.ndim(sigma) == 0 and _is_number(sigma)):
        value = float(sigma)
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}.")
        scales = np.full(n_features, value)
        scales[columns] = 0.0
        return _with_categories(
            NoiseModel(resolved, scales, value),
            columns,
            categories,
            categorical_noise,
            feature_names,
        )
    else:
        scales = _scales_from_array(sigma, n_features)
    if np.any(~np.isfinite(scales)) or np.any(scales < 0):
        bad = np.flatnonzero(~np.isfinite(scales) | (scales < 0))
        raise ValueError(
            f"sigma must be finite and >= 0 for every column; column(s) {bad.tolist()} "
            f"have {scales[bad].tolist()}."
        )
    sigma_on_categories = columns[scales[columns] != 0]
    if sigma_on_categories.size:
        names = _column_names(sigma_on_categories, feature_names)
        raise ValueError(
            f"sigma gives the categorical column(s) {names} a sigma other than 0; categorical "
            "columns are noised by random replacement (categorical_noise), so give them "
            "sigma 0 or leave them out of the mapping."
        )
    if not np.any(scales > 0):
        raise ValueError("sigma is 0 on every column: at least one column must receive noise.")
    return _with_categories(
        NoiseModel(resolved, scales, scales), columns, categories, categorical_noise, feature_names
    )


def _categorical_columns(categorical_columns, n_features: int) -> np.ndarray:
    """The indices of the categorical columns, each a column of the data."""
    if categorical_columns is None:
        return np.array([], dtype=np.int64)
    try:
        columns = np.asarray(categorical_columns)
    except ValueError:  # a ragged sequence
        columns = np.asarray(None)
    if columns.ndim == 1 and columns.size == 0:
        return columns.astype(np.int64)
    if columns.ndim != 1 or columns.dtype.kind not in "iu":
        raise TypeError(
            f"categorical_columns must be a 1-D sequence of column indices, got "
            f"{categorical_columns!r}."
        )
    outside = columns[(columns < 0) | (columns >= n_features)]
    if outside.size:
        raise ValueError(
            f"categorical_columns holds {outside.tolist()}, not a column of data with "
            f"{n_features} columns."
        )
    return columns.astype(np.int64)


def _column_names(columns, feature_names) -> list:
    if feature_names is None:
        return [int(c) for c in columns]
    return [str(feature_names[c]) for c in columns]


def _with_categories(model, columns, categories, categorical_noise, feature_names) -> NoiseModel:
    """``model`` with the random replacement of its categorical columns, validated."""
    q = _replacement_probabilities(categorical_noise, columns, feature_names)
    if columns.size == 0:
        return model
    if len(categories) != columns.size:
        raise ValueError(
            f"categories has {len(categories)} entries for {columns.size} categorical columns."
        )
    if model.n_noised == 0:
        raise ValueError(
            "sigma is 0 on every numeric column: at least one numeric column must receive noise."
        )
    categorical = CategoricalReplacement(columns, tuple(categories), q)
    return NoiseModel(model.noise, model.scales, model.sigma, categorical)


def _replacement_probabilities(categorical_noise, columns, feature_names) -> np.ndarray:
    """``categorical_noise`` as one probability per categorical column, checked even if none.

    A number, one per categorical column in column order, or a mapping (a
    pandas Series too) ``{column name: q}`` read by name, unlisted
    categorical columns getting 0.
    """
    wrong_type = TypeError(
        "categorical_noise must be a number, one number per categorical column, or a "
        f"mapping of categorical column names; got {categorical_noise!r}."
    )
    if isinstance(categorical_noise, pd.Series):
        # A Series names its entries: read it by name, never by position.
        categorical_noise = dict(
            zip(categorical_noise.index.astype(str), categorical_noise.to_numpy(), strict=True)
        )
    if isinstance(categorical_noise, Mapping):
        names = _column_names(columns, feature_names) if feature_names is not None else None
        if names is None:
            raise ValueError(
                "categorical_noise is a mapping of column names, but the data has no column names."
            )
        unknown = [key for key in categorical_noise if key not in names]
        if unknown:
            raise ValueError(
                f"categorical_noise names {unknown}, which are not categorical columns: {names}."
            )
        values = [categorical_noise.get(name, 0.0) for name in names]
        if any(isinstance(v, (str, bytes, bool)) or v is None for v in values):
            raise wrong_type
        categorical_noise = values
    if isinstance(categorical_noise, (str, bytes, bool)) or categorical_noise is None:
        raise wrong_type
    try:
        q = np.array(categorical_noise, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise wrong_type from error
    if not np.all(np.isfinite(q)) or np.any(q < 0) or np.any(q >= 1):
        raise ValueError(
            f"categorical_noise must be in [0, 1) (the probability of replacing a category); "
            f"got {q.tolist()}."
        )
    if q.ndim == 0:
        return np.full(columns.size, float(q))
    if q.shape != (columns.size,):
        raise ValueError(
            f"categorical_noise has shape {q.shape}; give one value, or one per categorical "
            f"column, shape ({columns.size},)."
        )
    return q


def _is_number(value) -> bool:
    return np.asarray(value).dtype.kind in "iuf"


def _scales_from_array(sigma, n_features: int) -> np.ndarray:
    try:
        if np.asarray(sigma).dtype.kind not in "iuf":
            raise TypeError
        scales = np.array(sigma, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"sigma must be a number, an array-like of numbers or a mapping; got {sigma!r}."
        ) from error
    if scales.shape != (n_features,):
        raise ValueError(
            f"sigma has shape {scales.shape}; per-column sigma needs one value per "
            f"feature, shape ({n_features},)."
        )
    return scales


def _scales_from_mapping(sigma: Mapping, feature_names) -> np.ndarray:
    if feature_names is None:
        raise ValueError(
            "sigma is a mapping of column names, but this estimator was fitted on data "
            "without string column names (a numpy array, integer column names, or the "
            "output of an earlier pipeline step). Give one sigma per column as an array, "
            "or have the earlier step output a DataFrame: step.set_output(transform='pandas')."
        )
    names = [str(name) for name in feature_names]
    unknown = [key for key in sigma if key not in names]
    if unknown:
        raise ValueError(f"sigma names columns {unknown} that are not in the data: {names}.")
    scales = np.zeros(len(names))
    for key, value in sigma.items():
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"sigma[{key!r}] must be a number, got {value!r}.")
        scales[names.index(key)] = float(value)
    return scales
