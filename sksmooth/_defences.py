"""Gradient-masking input defences as torch modules.

Each defence has a real ``forward`` and what an adaptive attacker needs:

- ``bpda(x)``: the real defence in the forward pass and a differentiable
  surrogate in the backward pass (Athalye et al., 2018), via
  ``surrogate(x) + (forward(x) - surrogate(x)).detach()``.
- ``stochastic``: whether ``forward`` is random (attack it with EOT).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .noise import GaussianNoise

__all__ = ["ActivationPruning", "GaussianInputNoise", "Quantize", "Thermometer"]


class _Defence(nn.Module):
    stochastic = False

    def surrogate(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def bpda(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        smooth = self.surrogate(X)
        return smooth + (self(X, generator) - smooth).detach()


class _RangeScaled(_Defence):
    """Maps each feature's value range to [0, 1] before discretising it."""

    def __init__(self, low, high, levels: int):
        super().__init__()
        low = torch.as_tensor(low, dtype=torch.float32)
        self.register_buffer("low", low)
        self.register_buffer("span", torch.as_tensor(high, dtype=torch.float32) - low)
        self.levels = levels

    def unit(self, X: torch.Tensor) -> torch.Tensor:
        return ((X - self.low) / self.span).clamp(0, 1)


class Quantize(_RangeScaled):
    """Round each feature to one of ``levels`` evenly spaced values of its range.

    Rounding has zero gradient almost everywhere: gradients are shattered.
    The BPDA surrogate is the identity.
    """

    def forward(self, X: torch.Tensor, generator=None) -> torch.Tensor:
        steps = self.levels - 1
        return self.low + torch.round(self.unit(X) * steps) / steps * self.span

    def surrogate(self, X: torch.Tensor) -> torch.Tensor:
        return X


class Thermometer(_RangeScaled):
    """Thermometer code of each feature: ``levels`` bits, bit k = [u > k / levels].

    ``u`` is the feature scaled to [0, 1] over its range; the output has
    ``n_features * levels`` columns (Buckman et al., 2018). The code is a step
    function, so gradients are shattered. The BPDA surrogate replaces each
    step with a linear ramp of width ``1 / levels``, which equals the code
    at every level.
    """

    def _ramps(self, X: torch.Tensor) -> torch.Tensor:
        position = self.unit(X).unsqueeze(-1) * self.levels
        offsets = torch.arange(self.levels, dtype=X.dtype, device=X.device)
        return position - offsets  # shape (batch, n_features, levels)

    def forward(self, X: torch.Tensor, generator=None) -> torch.Tensor:
        return (self._ramps(X) > 0).to(X.dtype).flatten(1)

    def surrogate(self, X: torch.Tensor) -> torch.Tensor:
        return self._ramps(X).clamp(0, 1).flatten(1)


class GaussianInputNoise(_Defence):
    """Add fresh ``N(0, std^2)`` noise to the input at every call (randomized inference).

    Differentiable, but each gradient is taken at a random point: gradients
    are stochastic. EOT averages them over many draws.
    """

    stochastic = True

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.empty(X.shape, dtype=X.dtype, device=X.device)
        return X + self.std * GaussianNoise().draw_(noise, generator)

    def surrogate(self, X: torch.Tensor) -> torch.Tensor:
        return X


class ActivationPruning:
    """Stochastic activation pruning of every ``nn.ReLU`` output (Dhillon et al., 2018).

    Used as a context manager around a forward pass. Each activation vector
    ``h`` keeps the units hit by ``ceil(ratio * width)`` draws with
    replacement from ``|h| / sum |h|``, each kept unit rescaled by the
    inverse of its probability of being kept, so the expectation is ``h``.

    Parameters
    ----------
    module : torch.nn.Module
        The network; its ``nn.ReLU`` submodules are pruned.
    ratio : float
        Draws per unit of layer width.
    generators : torch.Generator or list of torch.Generator
        One generator for the whole batch, or one per row (so each row's
        pruning does not depend on the other rows of the batch).
    """

    def __init__(self, module: nn.Module, ratio: float, generators):
        self.layers = [layer for layer in module.modules() if isinstance(layer, nn.ReLU)]
        self.ratio = ratio
        self.generators = generators
        self._handles = []

    def __enter__(self):
        self._handles = [layer.register_forward_hook(self._prune) for layer in self.layers]
        return self

    def __exit__(self, *exc_info):
        for handle in self._handles:
            handle.remove()

    def _prune(self, layer, inputs, output: torch.Tensor) -> torch.Tensor:
        flat = output.flatten(1)
        magnitude = flat.detach().abs()
        total = magnitude.sum(dim=1, keepdim=True)
        alive = total.squeeze(1) > 0  # an all-zero row has nothing to sample
        probability = magnitude / total.clamp_min(1e-30)
        draws = max(1, math.ceil(self.ratio * flat.shape[1]))
        keep = torch.zeros_like(flat)
        rows = torch.nonzero(alive).flatten().tolist()
        if isinstance(self.generators, torch.Generator):
            if rows:
                picked = torch.multinomial(
                    probability[rows], draws, replacement=True, generator=self.generators
                )
                keep[rows] = keep[rows].scatter(1, picked, 1.0)
        else:
            for row in rows:
                picked = torch.multinomial(
                    probability[row], draws, replacement=True, generator=self.generators[row]
                )
                keep[row, picked] = 1.0
        kept_chance = 1 - (1 - probability) ** draws
        scale = torch.where(keep > 0, 1 / kept_chance.clamp_min(1e-30), 0.0)
        return (flat * scale).view_as(output)
