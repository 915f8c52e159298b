"""The demo's measurements of one contender: clean, under attack, and certified."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, recall_score

from ._demo_models import Contender
from ._progress import progress
from .attacks import PGD

# Rows per call in chunked predictions and certification: a bar steps once per
# chunk. Results do not depend on it: a smoothed model seeds each row's noise
# from the row itself.
CHUNK_ROWS = 50


@dataclass(frozen=True)
class EvaluationRows:
    """The rows every measurement uses, already preprocessed."""

    X_test: np.ndarray
    y_test: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray


@dataclass(frozen=True)
class AttackSettings:
    """One threat model for every contender: an L2 ball of radius ``eps``."""

    eps: float
    steps: int = 40
    adaptive_restarts: int = 2
    random_state: int = 0


def in_chunks(function: Callable, X: np.ndarray, *, desc: str, verbose: int) -> list:
    """``function`` on consecutive chunks of rows, with a bar counting the rows."""
    results = []
    with progress(total=len(X), desc=desc, verbose=verbose, unit="row") as bar:
        for start in range(0, len(X), CHUNK_ROWS):
            results.append(function(X[start : start + CHUNK_ROWS], start))
            bar.update(len(results[-1]))
    return results


def _predict(contender: Contender, X: np.ndarray, verbose: int) -> np.ndarray:
    if not contender.smoothed:
        return contender.predict(X)
    chunks = in_chunks(
        lambda rows, _: contender.predict(rows),
        X,
        desc=f"{contender.name}: predicting",
        verbose=verbose,
    )
    return np.concatenate(chunks)


def _survivors(contender, attack, model, X, y) -> np.ndarray:
    """Which rows of ``X`` are still classified correctly after ``attack`` on ``model``."""
    if len(X) == 0:
        return np.zeros(0, dtype=bool)
    return contender.predict(attack.generate(model, X, y)) == y


def certified_radii(
    contender: Contender, X: np.ndarray, y: np.ndarray, *, n: int, verbose: int
) -> np.ndarray:
    """Per row: the certified L2 radius where the certificate names the true class, else NaN."""

    def certify(rows, start):
        result = contender.model.certify(rows, y[start : start + len(rows)], n=n)
        return np.where(result.correct, result.radius, np.nan)

    return np.concatenate(
        in_chunks(certify, X, desc=f"{contender.name}: certifying", verbose=verbose)
    )


def certified_accuracy(radii: np.ndarray, radius: float) -> float:
    """Share of rows certified with the true label at ``radius`` or more."""
    return float(np.mean(np.nan_to_num(radii, nan=-1.0) >= radius))


def evaluate(
    contender: Contender,
    rows: EvaluationRows,
    attacks: AttackSettings,
    *,
    radii: Sequence[float],
    n: int,
    verbose: int,
) -> tuple[dict, np.ndarray | None]:
    """One table row for a fitted contender, and its certified radii (None unless smoothed).

    Clean metrics use every test row. Attacks run on the evaluation rows the
    contender classifies correctly; robust accuracy is the share of all
    evaluation rows still correct afterwards. A row survives the adaptive
    attack only if it also survived plain PGD: an evaluator keeps every
    attack that works.
    """
    y_pred = _predict(contender, rows.X_test, verbose)
    right = _predict(contender, rows.X_eval, verbose) == rows.y_eval
    X, y = rows.X_eval[right], rows.y_eval[right]
    common = {
        "norm": "l2",
        "steps": attacks.steps,
        "random_state": attacks.random_state,
        "verbose": verbose,
    }
    plain = PGD(attacks.eps, **common)
    survived_plain = _survivors(contender, plain, contender.gradient_model, X, y)
    # Stronger in every contender alike: logit margin (no saturation) and restarts.
    adaptive = contender.make_adaptive(
        attacks.eps, loss="margin", restarts=attacks.adaptive_restarts, **common
    )
    survived_adaptive = survived_plain & _survivors(contender, adaptive, contender.model, X, y)
    n_eval = len(rows.y_eval)
    row = {
        "model": contender.name,
        "clean accuracy": accuracy_score(rows.y_test, y_pred),
        "fraud recall": recall_score(rows.y_test, y_pred, zero_division=0.0),
        "eval accuracy": float(np.mean(right)),
        "robust PGD": np.sum(survived_plain) / n_eval,
        "adaptive attack": contender.adaptive_name,
        "robust adaptive": np.sum(survived_adaptive) / n_eval,
    }
    certified = None
    if contender.smoothed:
        certified = certified_radii(contender, rows.X_eval, rows.y_eval, n=n, verbose=verbose)
    for radius in radii:
        row[certified_column(radius)] = (
            np.nan if certified is None else certified_accuracy(certified, radius)
        )
    return row, certified


def certified_column(radius: float) -> str:
    """Name of the table column of certified accuracy at ``radius``."""
    return f"certified r={float(radius)}"
