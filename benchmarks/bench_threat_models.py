"""Threat models on the fraud table: noise on every column or only on what a fraudster controls.

One run, same data, same net, same seeds; only ``sigma`` and ``noise`` differ:

- ``gaussian, every column``: sigma = 0.5 on every scaled and one-hot column
  (the only choice before per-column noise); its certificate covers every
  column, account age and one-hot indicators included.
- ``gaussian / laplace / uniform, attacker columns``: sigma = 0.5 on the four
  columns a fraudster chooses (amount, hours since the last transaction,
  velocity, distance from home), 0 elsewhere.

Certified fraud recall (frauds certified *as fraud*) is reported at the same
radii measured the same way for every row of the table: in scaled units, over
the attacker columns (the L2 radius for Gaussian noise, the L1 radius for the
others, and the L-infinity radius for uniform noise), so each figure says "no
change of the attacker columns within this distance can hide the fraud".
Then the median per-feature change of certified frauds, in the data's units.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

sys.path.insert(0, os.path.dirname(__file__))
from common import certification_rows, cpu_name  # noqa: E402

from sksmooth import SmoothedClassifier, certify, make_fraud
from sksmooth.datasets import make_fraud_preprocessor
from sksmooth.metrics import certified_recall
from sksmooth.nets import make_mlp_classifier

ATTACKER_COLUMNS = ["amount", "hours_since_last_txn", "txn_velocity_24h", "distance_from_home_km"]
SIGMA = 0.5
RADII = (0.0, 0.25, 0.5, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--n", type=int, default=10_000, help="estimation samples per row")
    parser.add_argument("--frauds", type=int, default=60)
    parser.add_argument("--legit", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    X, y = make_fraud(args.n_train + 20_000, random_state=0)
    X_train, X_pool, y_train, y_pool = train_test_split(
        X, y, train_size=args.n_train, stratify=y, random_state=0
    )
    rows = certification_rows(y_pool, args.frauds, args.legit)
    X_test, y_test = X_pool.iloc[rows], y_pool.iloc[rows]

    preprocess = make_fraud_preprocessor().fit(X_train)
    columns = list(preprocess.get_feature_names_out())
    attacker = np.array(
        [any(c.endswith(f"__{a}") or c == a for a in ATTACKER_COLUMNS) for c in columns]
    )
    contenders = {
        "gaussian, every column": ("gaussian", SIGMA),
        "gaussian, attacker columns": ("gaussian", np.where(attacker, SIGMA, 0.0)),
        "laplace, attacker columns": ("laplace", np.where(attacker, SIGMA, 0.0)),
        "uniform, attacker columns": ("uniform", np.where(attacker, SIGMA, 0.0)),
    }
    print(
        f"CPU: {cpu_name()}, torch threads {args.threads}; make_fraud, {args.n_train} "
        f"training rows, {args.frauds} test frauds + {args.legit} legitimate, n0=100, "
        f"n={args.n}, alpha=0.001, sigma={SIGMA} (scaled units)"
    )
    records, changes = [], {}
    for name, (noise, sigma) in contenders.items():
        net = make_mlp_classifier(
            (64, 64), max_epochs=args.epochs, criterion__weight=torch.tensor([1.0, 10.0])
        )
        model = make_pipeline(
            preprocess,
            SmoothedClassifier(net, sigma=sigma, noise=noise, n=args.n, random_state=0),
        )
        start = time.perf_counter()
        model.fit(X_train, y_train)
        for norm in (None, "linf") if noise == "uniform" else (None,):
            result = certify(model, X_test, y_test, norm=norm)
            # Radii in scaled units over the noised columns (R * sigma for per-column sigma).
            scaled_result = replace(result, radius=result.ball_radius)
            record = {"threat model": name, "norm": result.norm}
            for r in RADII:
                record[f"fraud recall@{r:g}"] = certified_recall(
                    y_test, scaled_result, r, pos_label=1
                )
                record[f"legit recall@{r:g}"] = certified_recall(
                    y_test, scaled_result, r, pos_label=0
                )
            record["seconds"] = round(time.perf_counter() - start, 1)
            records.append(record)
            change = result.per_feature_change() if result.per_column else None
            if change is not None:
                frauds = np.asarray(result.y_true == 1) & ~result.abstained
                changes[f"{name} ({result.norm})"] = change[frauds].median()
    pd.set_option("display.width", 200)
    print(pd.DataFrame(records).set_index(["threat model", "norm"]).round(3).to_string())
    print("\nMedian largest change of one column alone covered, certified frauds, data units:")
    print(pd.DataFrame(changes).round(2).to_string())


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", message="per_feature_change is NaN")
    main()
