"""The threat model: an Lp ball, a mask of changeable features, box bounds.

Projections run on float64 torch tensors during the attack; :func:`finalise`
then enforces every constraint exactly on the returned array, in its dtype.
"""

from __future__ import annotations

import numpy as np
import torch

from ..noise import GaussianNoise

__all__ = ["direction", "finalise", "parse_norm", "project", "random_start"]

NORMS = {"inf": "inf", "linf": "inf", np.inf: "inf", "l2": "l2", 2: "l2"}


def parse_norm(norm) -> str:
    """``"inf"`` or ``"l2"`` from the accepted spellings, else a ValueError."""
    try:
        return NORMS[norm.lower() if isinstance(norm, str) else norm]
    except (KeyError, TypeError):
        raise ValueError(
            f"norm must be 'inf' (also np.inf, 'linf') or 'l2' (also 2); got {norm!r}."
        ) from None


def _row_norms(delta: torch.Tensor) -> torch.Tensor:
    return delta.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1)


def direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """Steepest ascent direction of unit norm: sign for L-inf, normalised for L2."""
    if norm == "inf":
        return grad.sign()
    return grad / _row_norms(grad)


def project(delta, X, *, eps, norm, mask, low, high):
    """Project perturbations onto mask, ball and bounds (in that order)."""
    if mask is not None:
        delta = delta * mask
    if norm == "inf":
        delta = delta.clamp(-eps, eps)
    else:
        delta = delta * (eps / _row_norms(delta)).clamp(max=1.0)
    if low is not None:
        # X is inside the bounds, so clamping moves towards X: the ball still holds.
        delta = torch.maximum(torch.minimum(X + delta, high), low) - X
    return delta


def random_start(X, *, eps, norm, mask, generator):
    """A uniformly random point of the ball (restricted to the mask)."""
    if norm == "inf":
        delta = torch.rand(X.shape, generator=generator, dtype=X.dtype, device=X.device) * 2 - 1
        return delta * eps
    # An isotropic Gaussian direction, scaled to a uniform radius below.
    delta = GaussianNoise().draw_(torch.empty(X.shape, dtype=X.dtype, device=X.device), generator)
    if mask is not None:
        delta = delta * mask
    free = int(mask.sum()) if mask is not None else X.shape[1]
    radius = torch.rand((len(X), 1), generator=generator, dtype=X.dtype, device=X.device)
    return delta / _row_norms(delta) * eps * radius ** (1.0 / max(free, 1))


def finalise(X, X_adv, *, eps, norm, mask, low, high) -> np.ndarray:
    """Return ``X_adv`` in ``X``'s dtype with every constraint holding exactly.

    Rounding to the output dtype can push a coordinate one unit in the last
    place past the ball or a bound; such coordinates are stepped back towards
    ``X`` until every constraint holds when checked in float64.
    """
    if not np.all(np.isfinite(X_adv)):
        # NaN would pass every check below (NaN > eps is False) and come back silently.
        raise ValueError(
            "The attack produced non-finite rows: X plus its perturbation overflows, or "
            "the model's scores or gradients are NaN or infinite at these inputs."
        )
    X_adv = X_adv.astype(X.dtype)
    if mask is not None:
        X_adv[:, ~mask] = X[:, ~mask]
    for _ in range(64):
        delta = X_adv.astype(np.float64) - X.astype(np.float64)
        if norm == "inf":
            bad = np.abs(delta) > eps
        else:
            bad = (np.linalg.norm(delta, axis=1) > eps)[:, None] & (delta != 0)
        if low is not None:
            values = X_adv.astype(np.float64)
            bad |= (values < low) | (values > high)
        if not bad.any():
            return X_adv
        X_adv = np.where(bad, np.nextafter(X_adv, X), X_adv)
    raise RuntimeError("could not enforce the attack's constraints")  # pragma: no cover
