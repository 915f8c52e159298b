"""The head-to-head demo behind ``python -m sksmooth demo``.

One MLP, trained on the same fraud data as an undefended net, behind each
gradient-masking defence, and smoothed at several noise levels; each attacked
with plain PGD and with the attack that adapts to its defence, and the
smoothed ones certified.
"""

from __future__ import annotations

import contextlib
import importlib.util
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from ._demo_evaluate import AttackSettings, EvaluationRows, certified_accuracy, evaluate
from ._demo_models import MASKING, make_contenders
from ._progress import progress
from .datasets import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS, make_fraud

TABLE_NAME = "comparison.csv"


def make_fraud_preprocessor() -> ColumnTransformer:
    """Log-scale and standardise the numeric columns, one-hot the categories.

    Attacks and certificates then measure distances in standard deviations of
    each log-scaled numeric column, and one-hot columns move by 1 per switch.
    """
    log_scale = make_pipeline(FunctionTransformer(np.log1p), StandardScaler())
    one_hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    return ColumnTransformer(
        [("numeric", log_scale, NUMERIC_COLUMNS), ("categorical", one_hot, CATEGORICAL_COLUMNS)]
    )


def oversample_fraud(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Repeat each fraud row about sqrt(legitimate / fraud) times.

    Class weights in the loss would do the same, but distillation replaces
    the loss; repeating rows treats every contender alike. The square root
    trades recall of rare fraud against overall accuracy.
    """
    fraud = np.flatnonzero(y == 1)
    repeats = max(int(round(np.sqrt((len(y) - len(fraud)) / max(len(fraud), 1)))), 1)
    rows = np.concatenate([np.arange(len(y)), np.repeat(fraud, repeats - 1)])
    return X[rows], y[rows]


def evaluation_subset(y: np.ndarray, size: int, *, random_state: int) -> np.ndarray:
    """Indices of ``size`` rows, half of them fraud where there are enough."""
    rng = np.random.default_rng(random_state)
    fraud, legitimate = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n_fraud = min(size // 2, len(fraud))
    n_legitimate = min(size - n_fraud, len(legitimate))
    return np.sort(
        np.concatenate(
            [
                rng.choice(fraud, n_fraud, replace=False),
                rng.choice(legitimate, n_legitimate, replace=False),
            ]
        )
    )


@contextlib.contextmanager
def _torch_threads(n_threads: int):
    """Small nets lose time to thread hand-offs on a busy machine; restore after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _prepare_rows(n_samples: int, n_eval: int, random_state: int):
    X, y = make_fraud(n_samples, random_state=random_state)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    preprocess = make_fraud_preprocessor().fit(X_train)
    y_test = y_test.to_numpy()
    X_test = preprocess.transform(X_test)
    subset = evaluation_subset(y_test, n_eval, random_state=random_state)
    train = oversample_fraud(preprocess.transform(X_train), y_train.to_numpy())
    rows = EvaluationRows(X_test, y_test, X_test[subset], y_test[subset])
    return train, rows, float(y.mean())


def _notes(rows: EvaluationRows, attacks: AttackSettings, smoothed, n: int) -> list[str]:
    """What each column measures, and in which units."""
    notes = [
        f"clean accuracy, fraud recall: all {len(rows.y_test)} test rows. Other columns: "
        f"{len(rows.y_eval)} test rows ({int(rows.y_eval.sum())} fraud), the share still "
        "classified correctly.",
        "Attacks and radii are L2 distances in standardised units (numeric columns "
        f"log-scaled and standardised, categories one-hot). Attacks: eps={attacks.eps:g}. "
        "Plain PGD: cross-entropy, one run (on a smoothed model it attacks the base net). "
        "Adaptive: the attack that sees through the defence, logit margin, best of "
        f"{attacks.adaptive_restarts} runs; a row survives it only if it also survived "
        "plain PGD. Accuracy under attack is an upper bound: a stronger attack may lower it.",
    ]
    if smoothed is not None:
        notes.append(
            f"certified r=...: rows certified correct at that L2 radius (n0={smoothed.n0}, "
            f"n={n}, alpha={smoothed.alpha:g}): a floor no attack of that size can break, "
            "each certificate failing with probability at most alpha. n/a: no certificate."
        )
    return notes


def _headline(table: pd.DataFrame, certified: dict, eps: float) -> list[str]:
    """The comparison in a few sentences, with the numbers that back them."""
    masked = table[table["model"].isin(MASKING)]
    lines = []
    if len(masked):
        lines.append(
            f"Gradient masking: accuracy under plain PGD {_span(masked['robust PGD'])}, "
            f"under the adaptive attack {_span(masked['robust adaptive'])}."
        )
    for name, radii in certified.items():
        lines.append(
            f"{name}: certified accuracy at r={eps:g} is {certified_accuracy(radii, eps):.3f}, "
            "whatever the attack."
        )
    return lines


def _span(values: pd.Series) -> str:
    low, high = values.min(), values.max()
    return f"{low:.3f}" if low == high else f"{low:.3f} to {high:.3f}"


def _format(table: pd.DataFrame) -> str:
    return table.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="n/a")


def run_demo(
    *,
    n_samples: int = 20_000,
    n_eval: int = 200,
    n: int = 10_000,
    sigmas: Sequence[float] = (0.25, 0.5),
    eps: float = 1.0,
    radii: Sequence[float] = (0.25, 0.5, 1.0),
    random_state: int = 0,
    output_dir: str | Path = "sksmooth-demo",
    verbose: int = 1,
    print_fn=print,
) -> tuple[pd.DataFrame, list[Path]]:
    """Train, attack and certify every contender; print and save the comparison.

    Returns the table (one row per model) and the paths of the saved files.
    """
    start = time.perf_counter()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (X_train, y_train), rows, fraud_rate = _prepare_rows(n_samples, n_eval, random_state)
    attacks = AttackSettings(eps=eps, random_state=random_state)
    contenders = make_contenders(sigmas, random_state=random_state)
    table_rows, certified = [], {}
    with _torch_threads(1):
        for contender in progress(contenders, desc="training", verbose=verbose, unit="model"):
            contender.fit(X_train, y_train, random_state=random_state)
        for contender in progress(contenders, desc="evaluating", verbose=verbose, unit="model"):
            row, radii_of_rows = evaluate(
                contender, rows, attacks, radii=radii, n=n, verbose=verbose
            )
            table_rows.append(row)
            if radii_of_rows is not None:
                certified[contender.name] = radii_of_rows
    table = pd.DataFrame(table_rows)

    print_fn(
        f"make_fraud: {n_samples} transactions ({fraud_rate:.1%} fraud), {len(rows.y_test)} "
        "held out; every model wraps the same MLP (64, 64)."
    )
    print_fn(_format(table))
    smoothed = next((c.model for c in contenders if c.smoothed), None)
    for paragraph in _notes(rows, attacks, smoothed, n) + _headline(table, certified, eps):
        print_fn(textwrap.fill(paragraph, width=100))
    files = [output_dir / TABLE_NAME]
    table.to_csv(files[0], index=False)
    if importlib.util.find_spec("matplotlib") is None:
        print_fn("matplotlib is not installed: no figure (pip install matplotlib).")
    else:
        from ._demo_figure import save_figure

        files += save_figure(table, certified, eps=eps, directory=output_dir)
    for path in files:
        print_fn(f"saved {path}")
    print_fn(f"done in {time.perf_counter() - start:.1f} s")
    return table, files
