"""The demo's measurements of one contender: clean, under attack, and certified."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, recall_score

from ..attacks import PGD, AttackEnsemble
from ..certification import CertificationResult
from ..metrics import certified_accuracy
from .contenders import Contender


@dataclass(frozen=True)
class EvaluationRows:
    """The rows every measurement uses, already preprocessed."""

    X_test: np.ndarray
    y_test: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray


@dataclass(frozen=True)
class AttackSettings:
    """One threat model for every contender: an L2 ball of radius ``eps``.

    ``steps`` are plain PGD's; the ensemble has its own ``ensemble_steps``,
    ``restarts`` of its margin attacks and ``n_queries`` of its search.
    """

    eps: float
    steps: int = 40
    ensemble_steps: int = 100
    restarts: int = 2
    n_queries: int = 3000
    random_state: int = 0

    def ensemble(self, verbose: int = 0, **params) -> AttackEnsemble:
        """The strongest attacks of the demo, worst case per row; ``params`` override."""
        settings = {
            "norm": "l2",
            "steps": self.ensemble_steps,
            "restarts": self.restarts,
            "n_queries": self.n_queries,
            "random_state": self.random_state,
            "verbose": verbose,
        }
        return AttackEnsemble(self.eps, **{**settings, **params})


def ensemble_label(attack: AttackEnsemble) -> str:
    """A short name of the attacks an ensemble ran: ``"PGD+BPDA+RandomSearch"``."""
    kinds = dict.fromkeys(name.split(" (")[0] for name in attack.attacks_)
    return "+".join(kinds)


def _survivors(contender, attack, model, X, y) -> np.ndarray:
    """Which rows of ``X`` are still classified correctly after ``attack`` on ``model``."""
    if len(X) == 0:
        return np.zeros(0, dtype=bool)
    return contender.predict(attack.generate(model, X, y)) == y


def evaluate(
    contender: Contender,
    rows: EvaluationRows,
    attacks: AttackSettings,
    *,
    radii: Sequence[float],
    n: int,
    verbose: int = 0,
) -> tuple[dict, CertificationResult | None]:
    """One table row for a fitted contender, and its certificates (None unless smoothed).

    Clean metrics use every test row. Attacks run on the evaluation rows the
    contender classifies correctly; robust accuracy is the share of all
    evaluation rows still correct afterwards. The adaptive column is the
    worst case per row over plain PGD and the attack ensemble: an evaluator
    keeps every attack that works. The smoothed contenders certify every
    evaluation row with ``n`` Monte Carlo samples.
    """
    y_pred = contender.predict(rows.X_test)
    right = contender.predict(rows.X_eval) == rows.y_eval
    X, y = rows.X_eval[right], rows.y_eval[right]
    common = {
        "norm": "l2",
        "steps": attacks.steps,
        "random_state": attacks.random_state,
        "verbose": verbose,
    }
    plain = PGD(attacks.eps, **common)
    survived_plain = _survivors(contender, plain, contender.gradient_model, X, y)
    # The same ensemble for every contender: it picks what sees through each defence.
    adaptive = attacks.ensemble(verbose, **contender.ensemble_params)
    survived_adaptive = survived_plain & _survivors(contender, adaptive, contender.model, X, y)
    n_eval = len(rows.y_eval)
    row = {
        "model": contender.name,
        "clean accuracy": accuracy_score(rows.y_test, y_pred),
        "fraud recall": recall_score(rows.y_test, y_pred, zero_division=0.0),
        "eval accuracy": float(np.mean(right)),
        "robust PGD": np.sum(survived_plain) / n_eval,
        "adaptive attack": ensemble_label(adaptive) if len(X) else "none",
        "robust adaptive": np.sum(survived_adaptive) / n_eval,
    }
    result = None
    if contender.smoothed:
        result = contender.model.certify(rows.X_eval, rows.y_eval, n=n)
    for radius in radii:
        row[certified_column(radius)] = (
            np.nan if result is None else certified_accuracy(rows.y_eval, result, radius)
        )
    return row, result


def certified_column(radius: float) -> str:
    """Name of the table column of certified accuracy at ``radius``."""
    return f"certified r={float(radius)}"
