"""Checks of the buffers and generators the noise draws fill and read.

The draws run once per piece of 1,000 samples, so every check here reads
types, shapes and dtypes only: nothing that copies data or waits for a device.

Examples
--------
>>> import numpy as np
>>> from sksmooth.utils._buffers import check_numpy_buffer
>>> check_numpy_buffer(np.zeros((4, 3)), n_columns=2)
Traceback (most recent call last):
...
ValueError: out must have shape (n, 2), got (4, 3).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = [
    "check_device_dtype",
    "check_index_tensor",
    "check_numpy_buffer",
    "check_numpy_rng",
    "check_shape",
    "check_tensor_buffer",
    "check_torch_generator",
]

# Elements one draw may hold: far above any batch, far below what would hang.
MAX_ELEMENTS = 2**40


def check_numpy_buffer(out, name: str = "out", *, n_columns: int | None = None) -> None:
    """A writeable float64 numpy array; with ``n_columns``, of shape (n, n_columns)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(out).__name__}.")
    if out.dtype != np.float64:
        raise TypeError(f"{name} must be float64, got {out.dtype}.")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only; the draw fills it in place.")
    if n_columns is not None and (out.ndim != 2 or out.shape[1] != n_columns):
        raise ValueError(f"{name} must have shape (n, {n_columns}), got {out.shape}.")


def check_tensor_buffer(
    out, name: str = "out", *, n_columns: int | None = None, batched: bool = False
) -> None:
    """A floating-point torch tensor; with ``n_columns``, of shape (n, n_columns).

    ``batched=True`` allows leading dimensions: shape (..., n_columns).
    """
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(out).__name__}.")
    if not out.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {out.dtype}.")
    if n_columns is None:
        return
    shape_ok = out.ndim >= 1 if batched else out.ndim == 2
    if not shape_ok or out.shape[-1] != n_columns:
        expected = f"(..., {n_columns})" if batched else f"(n, {n_columns})"
        raise ValueError(f"{name} must have shape {expected}, got {tuple(out.shape)}.")


def check_index_tensor(index, name: str, *, length: int | None = None) -> None:
    """A 1-D int64 tensor (of ``length`` entries when given)."""
    if not isinstance(index, torch.Tensor) or index.dtype != torch.int64 or index.ndim != 1:
        raise TypeError(f"{name} must be a 1-D torch.int64 tensor, got {index!r:.80}.")
    if length is not None and len(index) != length:
        raise ValueError(f"{name} has {len(index)} entries, expected {length}.")


def check_numpy_rng(rng) -> None:
    """A numpy ``Generator`` (``np.random.default_rng``)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy Generator (np.random.default_rng), got {type(rng).__name__}."
        )


def check_torch_generator(generator, device: torch.device) -> None:
    """A ``torch.Generator`` on ``device``'s kind of device."""
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}.")
    if generator.device.type != device.type:
        raise ValueError(
            f"generator is on {generator.device.type}, the tensor on {device.type}; "
            "they must share a device."
        )


def check_shape(shape) -> tuple:
    """A shape: whole numbers >= 0 whose product is at most ``MAX_ELEMENTS``."""
    dims = (shape,) if isinstance(shape, numbers.Integral) else shape
    try:
        dims = tuple(dims)
    except TypeError:
        raise TypeError(f"shape must be a tuple of whole numbers, got {shape!r}.") from None
    if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"shape must be a tuple of whole numbers, got {shape!r}.")
    if any(d < 0 for d in dims) or math.prod(int(d) for d in dims) > MAX_ELEMENTS:
        raise ValueError(f"shape must hold 0 to {MAX_ELEMENTS} elements, got {shape!r}.")
    return tuple(int(d) for d in dims)


def check_device_dtype(device, dtype) -> torch.device:
    """A torch device (or its name) and a floating-point torch dtype; the device returned."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as error:
        raise ValueError(f"device must be a torch device such as 'cpu', got {device!r}.") from error
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch dtype, got {dtype!r}.")
    return device
