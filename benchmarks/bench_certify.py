"""Per-row certify time against the bare minimum of work, side by side.

The bare minimum draws Gaussian noise, runs the forward pass, takes the argmax
and counts votes, in fp32 batches, with no seeding per row and no statistics.
The ratio shows what sksmooth's engine (per-row seeded noise, batching,
bounds) costs on top of the forward passes that any implementation must do.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetClassifier

from sksmooth import SmoothedClassifier
from sksmooth.nets import MLPModule


def reference_net(n_features: int) -> NeuralNetClassifier:
    net = NeuralNetClassifier(
        MLPModule,
        module__input_units=n_features,
        module__output_units=2,
        module__hidden_units=(256, 256),
        criterion=torch.nn.CrossEntropyLoss,
    )
    net.initialize()
    net.classes_inferred_ = np.array([0, 1])  # the module decides; no training needed
    return net


def bare_minimum(module, x: torch.Tensor, n: int, sigma: float, batch_size: int) -> torch.Tensor:
    counts = torch.zeros(2, dtype=torch.int64)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            noisy = x + sigma * torch.randn(size, x.shape[0])
            counts += torch.bincount(module(noisy).argmax(1), minlength=2)
    return counts


def clone_with_precision(fitted: SmoothedClassifier, precision: str) -> SmoothedClassifier:
    """The same fitted model, run at another precision."""
    other = copy.copy(fitted)
    other.precision = precision
    return other


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, 30))
    net = reference_net(30)
    clf = SmoothedClassifier(
        FrozenEstimator(net),
        sigma=0.5,
        n0=100,
        n=args.n,
        batch_size=args.batch_size,
        random_state=0,
    ).fit(X, np.arange(args.rows) % 2)

    reduced = clone_with_precision(clf, "bfloat16")

    minimum, ours, ours_bf16 = [], [], []
    for row in X:  # interleave the runs so machine noise hits all alike
        x = torch.tensor(row, dtype=torch.float32)
        start = time.perf_counter()
        bare_minimum(net.module_, x, 100 + args.n, 0.5, args.batch_size)
        minimum.append(time.perf_counter() - start)
        start = time.perf_counter()
        clf.certify(row[None, :])
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        reduced.certify(row[None, :])
        ours_bf16.append(time.perf_counter() - start)

    med_min, med_ours = np.median(minimum) * 1e3, np.median(ours) * 1e3
    print(f"rows={args.rows} n={args.n} batch={args.batch_size} threads={args.threads}")
    print(f"bare minimum        {med_min:8.1f} ms/row (median)")
    print(f"sksmooth certify    {med_ours:8.1f} ms/row (median)")
    print(f"ratio sksmooth/min  {med_ours / med_min:8.3f}")
    med_bf16 = np.median(ours_bf16) * 1e3
    print(f"sksmooth bfloat16   {med_bf16:8.1f} ms/row (median)")
    print(f"speed-up bf16/fp32  {med_ours / med_bf16:8.3f}  (pays only with native bf16)")


if __name__ == "__main__":
    main()
