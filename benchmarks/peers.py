"""The implementations sksmooth is measured against, for benchmarks only.

Each peer exposes the same two calls on a torch module and one row (or a
block of rows for ``predict``): ``certify(x) -> (label, radius)`` and
``predict(X) -> labels``. None of this is part of the package.

- :class:`BareMinimum`: the least work any Monte Carlo smoothing must do in
  fp32: draw Gaussian noise, run the forward pass, take the argmax, count
  votes. No per-row seeding, no statistics, no input checks.
- :class:`ReferenceAlgorithm`: the algorithm of Cohen et al.'s published
  implementation, written here from the paper's pseudo-code and that
  implementation's documented behaviour: one row at a time, the row repeated
  into each batch, ``randn_like`` noise, votes moved to numpy and counted in
  a Python loop, Clopper-Pearson bound, a binomial test in predict.
- :class:`ARTSmoothing`: IBM's Adversarial Robustness Toolbox
  ``PyTorchRandomizedSmoothing`` (installed by the ``benchmarks`` extra).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from scipy import stats

ABSTAIN = -1


class BareMinimum:
    """Noise, forward, argmax and counts; nothing else.

    ``dtype``: the module's precision (the module is converted to it, as a
    bfloat16 user would); the noise is drawn in float32, or in float64 with
    ``noise_dtype=torch.float64`` (sksmooth's noise, added to the row as
    given) before the cast.
    """

    def __init__(
        self,
        module,
        n_classes,
        *,
        sigma,
        n0,
        n,
        n_samples,
        alpha,
        batch_size,
        dtype=torch.float32,
        noise_dtype=torch.float32,
    ):
        self.module = copy.deepcopy(module).to(dtype).eval() if dtype != torch.float32 else module
        self.n_classes, self.sigma, self.dtype, self.noise_dtype = (
            n_classes,
            sigma,
            dtype,
            noise_dtype,
        )
        self.n_total, self.n_samples, self.batch_size = n0 + n, n_samples, batch_size
        self.device = next(module.parameters()).device

    def certify(self, x: np.ndarray):
        row = torch.as_tensor(x, dtype=self.noise_dtype, device=self.device)
        counts = torch.zeros(self.n_classes, dtype=torch.int64, device=self.device)
        with torch.inference_mode():
            for start in range(0, self.n_total, self.batch_size):
                size = min(self.batch_size, self.n_total - start)
                noise = torch.randn(size, row.shape[0], dtype=self.noise_dtype, device=self.device)
                noisy = (row + self.sigma * noise).to(self.dtype)
                counts += torch.bincount(self.module(noisy).argmax(1), minlength=self.n_classes)
        return int(counts.argmax()), float("nan")  # no statistics: no radius

    def predict(self, X: np.ndarray):
        rows = torch.as_tensor(X, dtype=self.noise_dtype, device=self.device)
        per_batch = max(1, self.batch_size // self.n_samples)
        labels = []
        with torch.inference_mode():
            for start in range(0, len(rows), per_batch):
                block = rows[start : start + per_batch]
                noisy = block.repeat_interleave(self.n_samples, 0)
                noisy = (noisy + self.sigma * torch.randn_like(noisy)).to(self.dtype)
                owner = torch.arange(len(block), device=self.device).repeat_interleave(
                    self.n_samples
                )
                votes = owner * self.n_classes + self.module(noisy).argmax(1)
                counts = torch.bincount(votes, minlength=len(block) * self.n_classes)
                labels.append(counts.view(len(block), self.n_classes).argmax(1))
        return torch.cat(labels).cpu().numpy()


class ReferenceAlgorithm:
    """Cohen et al.'s CERTIFY and PREDICT as their implementation runs them."""

    def __init__(self, module, n_classes, *, sigma, n0, n, n_samples, alpha, batch_size):
        self.module, self.n_classes, self.sigma = module, n_classes, sigma
        self.n0, self.n, self.n_samples = n0, n, n_samples
        self.alpha, self.batch_size = alpha, batch_size
        self.device = next(module.parameters()).device

    def _sample_counts(self, x: torch.Tensor, num: int) -> np.ndarray:
        counts = np.zeros(self.n_classes, dtype=int)
        with torch.no_grad():
            while num > 0:
                size = min(self.batch_size, num)
                num -= size
                batch = x.repeat((size, 1))
                noise = torch.randn_like(batch) * self.sigma
                for index in self.module(batch + noise).argmax(1).cpu().numpy():
                    counts[index] += 1
        return counts

    def certify(self, x: np.ndarray):
        self.module.eval()
        row = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        candidate = self._sample_counts(row, self.n0).argmax()
        n_a = self._sample_counts(row, self.n)[candidate]
        p_lower = stats.beta.ppf(self.alpha, n_a, self.n - n_a + 1) if n_a else 0.0
        if p_lower < 0.5:
            return ABSTAIN, 0.0
        return candidate, self.sigma * stats.norm.ppf(p_lower)

    def predict(self, X: np.ndarray):
        self.module.eval()
        labels = []
        for x in X:
            counts = self._sample_counts(
                torch.as_tensor(x, dtype=torch.float32, device=self.device), self.n_samples
            )
            top, runner_up = counts.argsort()[::-1][:2]
            test = stats.binomtest(counts[top], counts[top] + counts[runner_up], p=0.5)
            labels.append(top if test.pvalue <= self.alpha else ABSTAIN)
        return np.array(labels)


class ARTSmoothing:
    """IBM ART's ``PyTorchRandomizedSmoothing`` around the same module."""

    def __init__(self, module, n_classes, *, sigma, n0, n, n_samples, alpha, batch_size):
        from art.estimators.certification.randomized_smoothing import (
            PyTorchRandomizedSmoothing,
        )

        device = next(module.parameters()).device
        n_features = next(module.parameters()).shape[1]

        def smoother(sample_size):
            return PyTorchRandomizedSmoothing(
                model=module,
                loss=torch.nn.CrossEntropyLoss(),
                input_shape=(n_features,),
                nb_classes=n_classes,
                sample_size=sample_size,
                scale=sigma,
                alpha=alpha,
                device_type="gpu" if device.type == "cuda" else "cpu",
            )

        self.for_certify, self.for_predict = smoother(n0), smoother(n_samples)
        self.n, self.batch_size = n, batch_size

    def certify(self, x: np.ndarray):
        labels, radii = self.for_certify.certify(
            x[None, :].astype(np.float32), n=self.n, batch_size=self.batch_size
        )
        return labels[0], radii[0]

    def predict(self, X: np.ndarray):
        scores = self.for_predict.predict(X.astype(np.float32), batch_size=self.batch_size)
        return scores.argmax(1)


def _bare(batch_size=None, **fixed):
    """A BareMinimum with some parameters fixed (a batch size of its own, a precision)."""

    def make(module, n_classes, **params):
        if batch_size is not None:
            params["batch_size"] = batch_size
        return BareMinimum(module, n_classes, **params, **fixed)

    return make


PEERS = {
    "bare minimum": BareMinimum,
    "bare minimum, batch 4096": _bare(4096),
    "bare minimum, batch 10000": _bare(10_000),
    "bare minimum, float64 noise": _bare(noise_dtype=torch.float64),
    "bare minimum bf16": _bare(dtype=torch.bfloat16),
    "bare minimum bf16, batch 4096": _bare(4096, dtype=torch.bfloat16),
    "reference algorithm": ReferenceAlgorithm,
    "ART 1.20.1": ARTSmoothing,
}
