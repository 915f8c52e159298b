"""Certify the model you already have: frozen models, with and without a denoiser.

    python benchmarks/bench_frozen.py             # sigma 0.25 and 0.5, 3 denoiser seeds
    python benchmarks/bench_frozen.py --quick     # 4,000 training rows, 1 seed

On ``make_fraud`` (20,000 training rows, StandardScaler + one-hot; test rows:
60 frauds and 300 legitimate ones; n0 = 64, n = 2,000, alpha = 0.001), for
each sigma: certified recall of the fraud class and of the legitimate class
at radius 0, 0.25 and 0.5, and the clean accuracy of the smoothed model on
the test rows next to the model's own, for

- a HistGradientBoosting model trained on clean data, frozen, smoothed as it is;
- the same behind a denoiser trained in ``fit`` (``denoiser="auto"``), with
  and without ``class_weight="balanced"`` (the denoiser's rows drawn by class);
- HistGradientBoosting refitted on 5 noisy copies (not frozen: retrained);
- a skorch MLP trained on clean data, frozen, alone and behind a denoiser
  (squared error, and the stability objective through the frozen net);
- the skorch MLP trained under noise (``SmoothedClassifier``'s own fit).

Denoised rows give the mean over ``--seeds`` seeds of the denoiser, with the
range.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_flags, cpu_name  # noqa: E402

from sksmooth import SmoothedClassifier, make_fraud  # noqa: E402
from sksmooth._demo.contenders import demo_net, fit_undefended  # noqa: E402
from sksmooth.datasets import make_fraud_preprocessor  # noqa: E402

RADII = (0.0, 0.25, 0.5)
SETTINGS = {"n0": 64, "n": 2000, "alpha": 0.001}


def test_rows(preprocess, n_fraud=60, n_legit=300):
    X, y = make_fraud(20_000, random_state=1)
    Z, y = preprocess.transform(X), y.to_numpy()
    rows = np.r_[np.flatnonzero(y == 1)[:n_fraud], np.flatnonzero(y == 0)[:n_legit]]
    return Z[rows], y[rows]


def evaluate(name, smoothed, base_accuracy, Z, y, seconds):
    fraud, legit = y == 1, y == 0
    result = smoothed.certify(Z, y)
    row = {"model": name}
    for label, rows in (("fraud", fraud), ("legit", legit)):
        certified = [
            float(np.mean(result.correct[rows] & (result.radius[rows] >= r))) for r in RADII
        ]
        row[label] = " / ".join(f"{v:.2f}" for v in certified)
        row[f"{label} values"] = certified
    row["smoothed acc"] = float(np.mean(smoothed.predict(Z) == y))
    row["model acc"] = base_accuracy
    row["fit s"] = seconds
    return row


def fitted(model, Z, y):
    start = time.perf_counter()
    model.fit(Z, y)
    return model, time.perf_counter() - start


def summarize(rows: list[dict]) -> dict:
    """Mean over seeds, with the range of the fraud recall at radius 0.25."""
    first = dict(rows[0])
    for label in ("fraud", "legit"):
        values = np.array([r[f"{label} values"] for r in rows])
        first[label] = " / ".join(f"{v:.2f}" for v in values.mean(axis=0))
        if len(rows) > 1 and label == "fraud":
            first["fraud at 0.25, range"] = f"{values[:, 1].min():.2f} to {values[:, 1].max():.2f}"
    for key in ("smoothed acc", "fit s"):
        first[key] = float(np.mean([r[key] for r in rows]))
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.25, 0.5])
    args = parser.parse_args()
    n_train, seeds = (4000, 1) if args.quick else (20_000, args.seeds)
    print(f"{cpu_name()} ({cpu_flags()}), {os.cpu_count()} CPUs, torch {torch.__version__}")
    X, y = make_fraud(n_train, random_state=0)
    preprocess = make_fraud_preprocessor().fit(X)
    Z, y = preprocess.transform(X), y.to_numpy()
    Z_test, y_test = test_rows(preprocess)
    trees = HistGradientBoostingClassifier(random_state=0).fit(Z, y)
    net = fit_undefended(demo_net(), Z, y, random_state=0)
    accuracy = {
        "trees": float(np.mean(trees.predict(Z_test) == y_test)),
        "net": float(np.mean(net.predict(Z_test.astype(np.float32)) == y_test)),
    }
    print(f"{n_train:,} training rows; clean test accuracy: {accuracy}")
    for sigma in args.sigmas:
        frame = sigma_table(sigma, seeds, trees, net, accuracy, (Z, y), (Z_test, y_test))
        print(f"\nsigma {sigma}: certified recall at radius {' / '.join(map(str, RADII))}")
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)


def sigma_table(sigma, seeds, trees, net, accuracy, train, test) -> pd.DataFrame:
    """One row per model at this sigma."""

    def smoothed(estimator, seed=0, **params):
        return SmoothedClassifier(estimator, sigma=sigma, random_state=seed, **SETTINGS, **params)

    frozen_trees, frozen_net = FrozenEstimator(trees), FrozenEstimator(net)
    balanced = {"denoiser": "auto", "class_weight": "balanced"}
    models = [
        ("HGB, clean, frozen", lambda s: smoothed(frozen_trees), "trees", 1),
        (
            "HGB, clean, frozen + denoiser",
            lambda s: smoothed(frozen_trees, s, denoiser="auto"),
            "trees",
            seeds,
        ),
        (
            "HGB, clean, frozen + denoiser, balanced",
            lambda s: smoothed(frozen_trees, s, **balanced),
            "trees",
            seeds,
        ),
        (
            "HGB refitted on 5 noisy copies",
            lambda s: smoothed(HistGradientBoostingClassifier(random_state=0), n_noisy_copies=5),
            "trees",
            1,
        ),
        ("MLP, clean, frozen", lambda s: smoothed(frozen_net), "net", 1),
        (
            "MLP, clean, frozen + denoiser, balanced",
            lambda s: smoothed(frozen_net, s, **balanced),
            "net",
            seeds,
        ),
        (
            "MLP, clean, frozen + stability denoiser, balanced",
            lambda s: smoothed(frozen_net, s, denoiser_objective="stability", **balanced),
            "net",
            seeds,
        ),
        ("MLP trained under noise", lambda s: smoothed(demo_net()), "net", 1),
    ]
    table = []
    for name, make, base, n_seeds in models:
        rows = []
        for seed in range(n_seeds):
            model, seconds = fitted(make(seed), *train)
            rows.append(evaluate(name, model, accuracy[base], *test, seconds))
        table.append(summarize(rows))
        print(f"  sigma {sigma}, done: {name}", flush=True)
    return pd.DataFrame(table).drop(columns=["fraud values", "legit values"])


if __name__ == "__main__":
    main()
