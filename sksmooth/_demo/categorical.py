"""Categories smoothed as categories: certificates against a switched merchant or channel.

The one-hot contenders see a category as a one-hot vector with Gaussian
noise; switching it moves the row by sqrt(2) in L2, beyond any radius their
sigma certifies, so no row is certified against the change a fraudster makes
most easily. This model keeps the categories as codes and smooths them by
random replacement, so its certificates cover ``k`` switched categories
together with a numeric change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, recall_score
from sklearn.pipeline import Pipeline, make_pipeline

from .. import SmoothedClassifier, certify
from ..certification import CertificationResult
from ..datasets import CATEGORICAL_COLUMNS, make_fraud_preprocessor
from ..metrics import certified_recall
from .contenders import SMOOTHED_PREDICT_SAMPLES, demo_net

SIGMA = 0.25
# A category is replaced by a uniform draw half the time: enough to certify one
# switched field for the confident rows, while the model still sees the category.
CATEGORICAL_NOISE = 0.5
# The numeric radius (standard deviations, L2) at which fraud recall is reported.
RADIUS = 0.25
NAME = "smoothed with categories"


def make_categorical_model(*, random_state: int, verbose: int = 0) -> Pipeline:
    """Scale the numbers, encode the categories as codes, and smooth the demo's MLP on both."""
    smoothed = SmoothedClassifier(
        demo_net(),
        sigma=SIGMA,
        categorical_features=list(CATEGORICAL_COLUMNS),
        categorical_noise=CATEGORICAL_NOISE,
        n_samples=SMOOTHED_PREDICT_SAMPLES,
        random_state=random_state,
        verbose=verbose,
    )
    preprocess = make_fraud_preprocessor("ordinal").set_output(transform="pandas")
    return make_pipeline(preprocess, smoothed)


def one_hot_switch_radius(radius: float) -> float:
    """The L2 radius a one-hot model needs for one switched category and a numeric ``radius``.

    A switch sets one one-hot column from 1 to 0 and another from 0 to 1,
    orthogonal to the numeric columns: ``sqrt(1 + 1 + radius^2)``.
    """
    return math.sqrt(2.0 + radius**2)


@dataclass(frozen=True)
class CategoricalReport:
    """What the demo prints about the model with categorical smoothing.

    ``certified_fraud_recall[k]`` is the certified fraud recall at
    :data:`RADIUS` with ``k`` categories switched; ``baseline_fraud_recall``
    the same for the one-hot baseline (``k`` = 0 and 1), None without one.
    """

    clean_accuracy: float
    fraud_recall: float
    n_test: int
    n_fraud: int
    radius: float
    certified_fraud_recall: dict
    baseline_name: str | None
    baseline_fraud_recall: dict | None
    result: CertificationResult


def _fraud_recall(y_eval: np.ndarray, result: CertificationResult, radius: float) -> float:
    if not np.any(y_eval == 1):  # a tiny run may hold out no fraud: nothing to recall
        return 0.0
    return certified_recall(y_eval, result, radius, pos_label=1)


def evaluate_categorical(
    model: Pipeline,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    X_eval: pd.DataFrame,
    y_eval: np.ndarray,
    *,
    n: int,
    baseline: tuple[str, CertificationResult] | None = None,
    radius: float = RADIUS,
) -> CategoricalReport:
    """Clean figures on every test row; certified fraud recall with 0, 1, ... switched categories.

    ``baseline`` is ``(name, result)`` of a one-hot smoothed model with one
    scalar sigma, certified on the same evaluation rows; its recall with one
    switch is read at :func:`one_hot_switch_radius`.
    """
    y_pred = model.predict(X_test)
    result = certify(model, X_eval, y_eval, n=n)
    recall = {
        k: _fraud_recall(y_eval, result.with_categorical_changes(k), radius)
        for k in range(result.n_categorical + 1)
    }
    baseline_recall = None
    if baseline is not None:
        baseline_result = baseline[1]
        baseline_recall = {
            0: _fraud_recall(y_eval, baseline_result, radius),
            1: _fraud_recall(y_eval, baseline_result, one_hot_switch_radius(radius)),
        }
    return CategoricalReport(
        clean_accuracy=accuracy_score(y_test, y_pred),
        fraud_recall=recall_score(y_test, y_pred, zero_division=0.0),
        n_test=len(y_test),
        n_fraud=int(np.sum(y_eval == 1)),
        radius=radius,
        certified_fraud_recall=recall,
        baseline_name=None if baseline is None else baseline[0],
        baseline_fraud_recall=baseline_recall,
        result=result,
    )


def describe(report: CategoricalReport) -> list[str]:
    """The section's title and paragraphs, ready to print."""
    r = report.radius
    ours = ", ".join(f"k={k}: {value:.3f}" for k, value in report.certified_fraud_recall.items())
    paragraphs = [
        f"{NAME}: certificates against switched categories",
        f"The categories {' and '.join(CATEGORICAL_COLUMNS)} stay codes (OrdinalEncoder) and "
        f"are smoothed by random replacement (categorical_noise={CATEGORICAL_NOISE:g}: a "
        "category is replaced by a uniform draw of its column half the time), the numeric "
        f"columns by Gaussian noise of sigma={SIGMA:g}. A certificate with k switches covers "
        "any change of up to k categories to any other, together with a numeric change of L2 "
        "norm up to its radius (Neyman-Pearson on the joint noise).",
        f"Clean accuracy {report.clean_accuracy:.3f}, fraud recall {report.fraud_recall:.3f} "
        f"(all {report.n_test} test rows). Certified fraud recall of the {report.n_fraud} "
        f"frauds of the evaluation rows at numeric radius r={r:g} with k categories "
        f"switched: {ours}.",
    ]
    if report.baseline_fraud_recall is not None:
        base = report.baseline_fraud_recall
        paragraphs.append(
            f"The one-hot baseline ({report.baseline_name}): {base[0]:.3f} at k=0; with one "
            f"switch it needs an L2 radius of sqrt(2 + r^2) = {one_hot_switch_radius(r):.2f}, "
            f"and its certified fraud recall there is {base[1]:.3f}."
        )
    return paragraphs
