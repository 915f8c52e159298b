"""Noise only on the columns a fraudster controls, with certificates read in their units.

A smoothed model with one sigma per column: noise on the transaction's own
figures, none on the account's age or the categories. It is certified
through its pipeline, so each certificate reads back column by column in
euros, hours, kilometres and transactions.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, recall_score
from sklearn.pipeline import Pipeline, make_pipeline

from .. import SmoothedClassifier, certify
from ..certification import CertificationResult
from ..datasets import CATEGORICAL_COLUMNS, make_fraud_preprocessor
from ..metrics import certified_accuracy_curve
from .contenders import SMOOTHED_PREDICT_SAMPLES, demo_net

# The transaction's own figures: how much, how soon after the last one, how far
# from home, how many today. A fraudster chooses them for each transaction.
FRAUDSTER_COLUMNS = ("amount", "hours_since_last_txn", "distance_from_home_km", "txn_velocity_24h")
UNITS = {
    "amount": "euros",
    "hours_since_last_txn": "hours",
    "distance_from_home_km": "km",
    "txn_velocity_24h": "transactions",
    "account_age_days": "days",
}
# Noise on each fraudster column, in its standard deviations (the scaler's units).
PER_COLUMN_SIGMA = 0.5
# Unitless radii R of ||delta / sigma||_2 at which certified fraud recall is reported.
PER_COLUMN_RADII = (0.5, 1.0, 2.0)
NAME = "smoothed per column"
WHY = (
    f"Noise only where a fraudster has a say: sigma={PER_COLUMN_SIGMA:g} standard deviations "
    f"on {', '.join(FRAUDSTER_COLUMNS)}, the transaction's own figures, which a fraudster "
    "chooses. None on account_age_days, set by the account's history and not changed "
    f"quickly, nor on the categories {' and '.join(CATEGORICAL_COLUMNS)} (one-hot: a "
    "switch is no small distance): the certificates hold those columns fixed. Certified "
    "through the pipeline, they read back in each column's own units."
)


def make_per_column_model(*, random_state: int, verbose: int = 0) -> Pipeline:
    """The fraud preprocessing, then the demo's MLP smoothed on the fraudster columns only.

    The preprocessing outputs a DataFrame, so ``sigma`` names its columns;
    every column it does not name gets no noise.
    """
    smoothed = SmoothedClassifier(
        demo_net(),
        sigma=dict.fromkeys(FRAUDSTER_COLUMNS, PER_COLUMN_SIGMA),
        n_samples=SMOOTHED_PREDICT_SAMPLES,
        random_state=random_state,
        verbose=verbose,
    )
    return make_pipeline(make_fraud_preprocessor().set_output(transform="pandas"), smoothed)


@dataclass(frozen=True)
class PerColumnReport:
    """What the demo prints about the per-column model."""

    clean_accuracy: float
    fraud_recall: float
    n_test: int
    radii: np.ndarray
    certified_fraud_recall: np.ndarray
    curve: tuple[np.ndarray, np.ndarray]
    n_fraud: int
    changes: pd.DataFrame
    result: CertificationResult


def evaluate_per_column(
    model: Pipeline,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    X_eval: pd.DataFrame,
    y_eval: np.ndarray,
    *,
    n: int,
    radii: Sequence[float] = PER_COLUMN_RADII,
) -> PerColumnReport:
    """Clean figures on every test row; certificates of the evaluation rows, in original units.

    ``curve`` is the exact certified fraud recall curve, ``(radii, recall)``.
    ``changes`` has one row per numeric column of the data: the noise in that
    column's units, and the median, over the frauds certified correctly, of
    the largest change of that column alone that the certificate covers (NaN
    when no fraud is certified).
    """
    y_pred = model.predict(X_test)
    result = certify(model, X_eval, y_eval, n=n)
    fraud = y_eval == 1
    radii = np.asarray(radii, dtype=float)
    if fraud.any():
        _, recall = certified_accuracy_curve(y_eval, result, radii, pos_label=1)
        curve = certified_accuracy_curve(y_eval, result, pos_label=1)
    else:  # a tiny run may hold out no fraud: nothing to recall
        recall, curve = np.zeros(len(radii)), (np.zeros(1), np.zeros(1))
    certified_fraud = result.correct & fraud
    # The one-hot columns have no per-column reading (NaN, with a warning): they are
    # held fixed anyway, so only the numeric columns are read.
    numeric = list(UNITS)
    change = _numeric_changes(result)[numeric]
    scaler = model[0].named_transformers_["numeric"]
    scale = pd.Series(scaler.scale_, index=scaler.feature_names_in_)
    sigma = [PER_COLUMN_SIGMA * scale[c] if c in FRAUDSTER_COLUMNS else 0.0 for c in numeric]
    changes = pd.DataFrame(
        {
            "noise sigma": sigma,
            "median certified change": change[certified_fraud].median().to_numpy(),
            "unit": [UNITS[c] for c in numeric],
        },
        index=pd.Index(numeric, name="column"),
    )
    return PerColumnReport(
        clean_accuracy=accuracy_score(y_test, y_pred),
        fraud_recall=recall_score(y_test, y_pred, zero_division=0.0),
        n_test=len(y_test),
        radii=radii,
        certified_fraud_recall=recall,
        curve=curve,
        n_fraud=int(fraud.sum()),
        changes=changes,
        result=result,
    )


def _numeric_changes(result: CertificationResult) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="per_feature_change is NaN", category=UserWarning)
        return result.per_feature_change()


def describe(report: PerColumnReport) -> list[str]:
    """The section's title and paragraphs, then its table of changes, ready to print."""
    result = report.result
    at = ", ".join(
        f"R={r:g}: {v:.3f}"
        for r, v in zip(report.radii, report.certified_fraud_recall, strict=True)
    )
    n_certified = int(np.sum(result.correct & (result.y_true == 1)))
    paragraphs = [
        f"{NAME}: noise on the columns a fraudster controls",
        WHY,
        f"Clean accuracy {report.clean_accuracy:.3f}, fraud recall {report.fraud_recall:.3f} "
        f"(all {report.n_test} test rows). A certificate of radius R covers every change delta "
        "of the noised columns with ||delta/sigma||_2 <= R (R in sigmas, unitless), the other "
        f"{int(np.sum(result.sigma == 0))} preprocessed columns held fixed. Certified fraud "
        f"recall of the {report.n_fraud} frauds of the evaluation rows at {at}.",
        f"Per column, over the {n_certified} frauds certified: the noise, and the median of the "
        "largest change of that column alone the certificate covers, the prediction staying "
        "fraud; 0 where the certificate holds the column fixed.",
    ]
    table = report.changes.to_string(float_format=_number, na_rep="n/a")
    return paragraphs + [table]


def _number(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:.1f}" if abs(value) >= 1 else f"{value:.2f}"
