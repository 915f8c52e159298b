"""Fraud operating points: ranking by hard and soft smoothed scores, certificates at a threshold.

On make_fraud (StandardScaler + one-hot, a skorch MLP trained under noise,
sigma 0.25): PR-AUC of the base net, of the hard vote share and of the soft
mean probability on the same test rows; then the threshold that gives 90%
recall on validation rows, and the certified fraud recall at radius 0.25 at
that threshold, for hard and soft smoothing, with a fixed n and in decision
mode (with its mean samples per row).

Then sequential predict against the fixed 1,000-sample predict on the test
rows, the same trained net: the share of rows with the same label (and, for
scale, the share on which two fixed predicts of independent noise agree),
the noisy rows the net classified per row (counted at its forward pass), and rows per
second, the two predicts interleaved over ``--repeats`` runs (median).

Run: ``python benchmarks/bench_operating_points.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from sksmooth import SmoothedClassifier, certify, make_fraud
from sksmooth.datasets import make_fraud_preprocessor
from sksmooth.metrics import certified_recall
from sksmooth.nets import make_mlp_classifier

sys.path.insert(0, str(Path(__file__).parent))
from common import cpu_flags, cpu_name  # noqa: E402


def threshold_for_recall(scores, y, recall=0.9):
    """The largest threshold whose recall on (scores, y) is at least ``recall``."""
    positives = np.sort(scores[y == 1])[::-1]
    return float(positives[int(np.ceil(recall * len(positives))) - 1])


class ForwardCounter:
    """Counts the noisy rows a skorch net's module classifies."""

    def __init__(self, module):
        self.rows = 0
        forward = module.forward

        def counted(x, *args, **kwargs):
            self.rows += len(x)
            return forward(x, *args, **kwargs)

        module.forward = counted


def sequential_predict_table(model, Z_test, y_test, repeats):
    """Fixed against sequential predict on the same rows: labels, samples per row, speed."""
    counter = ForwardCounter(model.estimator_.module_)
    sequential = copy.copy(model).set_params(sequential_predict=True)
    labels, samples, seconds = {}, {}, {"fixed": [], "sequential": []}
    for _ in range(repeats):  # interleaved, so machine noise hits both alike
        for name, clf in (("fixed", model), ("sequential", sequential)):
            counter.rows = 0
            start = time.perf_counter()
            labels[name] = clf.predict(Z_test)
            seconds[name].append(time.perf_counter() - start)
            samples[name] = counter.rows / len(Z_test)
    ap = {
        name: average_precision_score(y_test, clf.predict_proba(Z_test)[:, 1])
        for name, clf in (("fixed", model), ("sequential", sequential))
    }
    rate = {name: len(Z_test) / np.median(s) for name, s in seconds.items()}
    # The floor of any Monte Carlo predict: two fixed predicts of independent noise.
    independent = copy.copy(model).set_params(fresh_noise=True).predict(Z_test)
    return {
        "agreement": float(np.mean(labels["fixed"] == labels["sequential"])),
        "independent": float(np.mean(labels["fixed"] == independent)),
        "samples": samples,
        "rows_per_s": rate,
        "speedup": rate["sequential"] / rate["fixed"],
        "pr_auc": ap,
    }


def main(seed=0, sigma=0.25, radius=0.25, repeats=3):
    X, y = make_fraud(20_000, random_state=seed)
    y = np.asarray(y)
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    X_val, X_test, y_val, y_test = train_test_split(
        X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed
    )
    pre = make_fraud_preprocessor().fit(X_train)
    Z_train, Z_val, Z_test = (pre.transform(a).astype(np.float64) for a in (X_train, X_val, X_test))
    net = make_mlp_classifier(max_epochs=15)
    hard = SmoothedClassifier(
        net, sigma=sigma, n0=64, n=2000, class_weight={1: 20}, random_state=seed
    ).fit(Z_train, y_train)
    print(f"# CPU: {cpu_name()} ({cpu_flags()}); sigma={sigma}")
    base = average_precision_score(
        y_test, hard.estimator_.predict_proba(Z_test.astype(np.float32))[:, 1]
    )
    # The same trained net, smoothed softly: the soft estimator's base is the fitted net.
    soft = copy.copy(hard).set_params(smoothing="soft")  # smoothing acts at predict time
    rows = {}
    for name, model in (("hard", hard), ("soft", soft)):
        start = time.perf_counter()
        val_score = model.predict_proba(Z_val)[:, 1]
        test_score = model.predict_proba(Z_test)[:, 1]
        t = threshold_for_recall(val_score, y_val)
        t = min(max(t, 1e-3), 1 - 1e-3)
        frauds = np.flatnonzero(y_test == 1)
        result = certify(model, Z_test[frauds], y_test[frauds], threshold=t)
        # Decision mode: only "certified at the radius?", each row stopping when decided.
        decided = certify(model, Z_test[frauds], y_test[frauds], threshold=t, radius=radius)
        rows[name] = (
            average_precision_score(y_test, test_score),
            t,
            certified_recall(y_test[frauds], result, 0.0),
            certified_recall(y_test[frauds], result, radius),
            certified_recall(y_test[frauds], decided, radius),
            decided.total_samples.mean(),
            time.perf_counter() - start,
        )
    print(f"base net PR-AUC {base:.3f}")
    print(
        "smoothing | PR-AUC | threshold (90% val recall) | cert. recall r=0 | r=0.25 "
        "| decision mode r=0.25 | its samples/row (fixed: n0 + n = 2064) | s"
    )
    for name, (ap, t, r0, r1, d1, samples, s) in rows.items():
        print(
            f"{name} | {ap:.3f} | {t:.3f} | {r0:.3f} | {r1:.3f} | {d1:.3f} | {samples:.0f} "
            f"| {s:.0f}"
        )
    print(
        f"\nsequential predict on {len(Z_test)} test rows, n_samples=1000, "
        f"median of {repeats} interleaved runs"
    )
    print(
        "smoothing | same labels | two fixed agree | samples/row fixed | sequential "
        "| rows/s fixed | sequential | speed-up | PR-AUC fixed | sequential"
    )
    for name, model in (("hard", hard), ("soft", soft)):
        row = sequential_predict_table(model, Z_test, y_test, repeats)
        print(
            f"{name} | {row['agreement']:.4f} | {row['independent']:.4f} | "
            f"{row['samples']['fixed']:.0f} | "
            f"{row['samples']['sequential']:.1f} | {row['rows_per_s']['fixed']:.0f} | "
            f"{row['rows_per_s']['sequential']:.0f} | {row['speedup']:.1f}x | "
            f"{row['pr_auc']['fixed']:.3f} | {row['pr_auc']['sequential']:.3f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    main(seed=args.seed, repeats=args.repeats)
