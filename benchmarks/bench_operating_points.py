"""Fraud operating points: ranking by hard and soft smoothed scores, certificates at a threshold.

On make_fraud (StandardScaler + one-hot, a skorch MLP trained under noise,
sigma 0.25): PR-AUC of the base net, of the hard vote share and of the soft
mean probability on the same test rows; then the threshold that gives 90%
recall on validation rows, and the certified fraud recall at radius 0.25 at
that threshold, for hard and soft smoothing.

Run: ``python benchmarks/bench_operating_points.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import copy
import platform
import time

import numpy as np
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from sksmooth import SmoothedClassifier, certify, make_fraud
from sksmooth.datasets import make_fraud_preprocessor
from sksmooth.metrics import certified_recall
from sksmooth.nets import make_mlp_classifier


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def threshold_for_recall(scores, y, recall=0.9):
    """The largest threshold whose recall on (scores, y) is at least ``recall``."""
    positives = np.sort(scores[y == 1])[::-1]
    return float(positives[int(np.ceil(recall * len(positives))) - 1])


def main(seed=0, sigma=0.25, radius=0.25):
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
    print(f"# CPU: {cpu_model()}; sigma={sigma}")
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
        rows[name] = (
            average_precision_score(y_test, test_score),
            t,
            certified_recall(y_test[frauds], result, 0.0),
            certified_recall(y_test[frauds], result, radius),
            time.perf_counter() - start,
        )
    print(f"base net PR-AUC {base:.3f}")
    print("smoothing | PR-AUC | threshold (90% val recall) | cert. recall r=0 | r=0.25 | s")
    for name, (ap, t, r0, r1, s) in rows.items():
        print(f"{name} | {ap:.3f} | {t:.3f} | {r0:.3f} | {r1:.3f} | {s:.0f}")


if __name__ == "__main__":
    main()
