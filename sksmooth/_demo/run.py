"""Train, attack and certify every contender; print the comparison and save it.

One MLP, trained on the same fraud data as an undefended net, behind each
gradient-masking defence, and smoothed at several noise levels; each attacked
with plain PGD and with the attack that adapts to its defence, and the
smoothed ones certified. Then one more smoothed model, with noise only on
the columns a fraudster controls, certified through its pipeline.
"""

from __future__ import annotations

import contextlib
import importlib.util
import textwrap
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from ..datasets import make_fraud, make_fraud_preprocessor
from ..metrics import certified_accuracy
from .categorical import SIGMA as CATEGORICAL_SIGMA
from .categorical import describe as describe_categorical
from .categorical import evaluate_categorical, make_categorical_model
from .contenders import MASKING, RANDOM_MODEL_QUERIES, make_contenders
from .evaluate import AttackSettings, EvaluationRows, evaluate
from .per_column import describe, evaluate_per_column, make_per_column_model

TABLE_NAME = "comparison.csv"


def oversampled_rows(y: np.ndarray) -> np.ndarray:
    """Indices of every row, each fraud row repeated about sqrt(legitimate / fraud) times.

    Class weights in the loss would do the same, but distillation replaces
    the loss; repeating rows treats every contender alike. The square root
    trades recall of rare fraud against overall accuracy.
    """
    fraud = np.flatnonzero(y == 1)
    repeats = max(int(round(np.sqrt((len(y) - len(fraud)) / max(len(fraud), 1)))), 1)
    return np.concatenate([np.arange(len(y)), np.repeat(fraud, repeats - 1)])


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


def _bar(iterable: Iterable, *, desc: str, verbose: int):
    """A progress bar over ``iterable`` in a terminal or notebook; silent elsewhere."""
    if not verbose:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit="model", disable=None, leave=False)


@contextlib.contextmanager
def _torch_threads(n_threads: int):
    """Small nets lose time to thread hand-offs on a busy machine; restore after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _split(n_samples: int, n_eval: int, random_state: int):
    """Training rows (oversampled), all test rows and the evaluation subset, as frames."""
    X, y = make_fraud(n_samples, random_state=random_state)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    rows = oversampled_rows(y_train.to_numpy())
    y_test = y_test.to_numpy()
    subset = evaluation_subset(y_test, n_eval, random_state=random_state)
    train = (X_train.iloc[rows], y_train.to_numpy()[rows])
    return train, (X_test, y_test), subset, float(y.mean())


def _notes(rows: EvaluationRows, attacks: AttackSettings, smoothed, n: int) -> list[str]:
    """What each column measures, and in which units."""
    notes = [
        f"clean accuracy, fraud recall: all {len(rows.y_test)} test rows. Other columns: "
        f"{len(rows.y_eval)} test rows ({int(rows.y_eval.sum())} fraud), the share still "
        "classified correctly.",
        "Attacks and radii are L2 distances in standardised units (numeric columns "
        f"standardised, categories one-hot). Attacks: eps={attacks.eps:g}. "
        "Plain PGD: cross-entropy, one run (on a smoothed model it attacks the base net). "
        "Adaptive: the worst case per row over plain PGD and an AttackEnsemble, which "
        "runs on each model the attacks that apply to it, each on the rows still right: "
        f"PGD on the cross-entropy, then on the logit margin (best of {attacks.restarts} "
        "runs), BPDA where the defence has a surrogate gradient, EOT where it is random, "
        "SmoothAdv on smoothed models, and last a RandomSearch of "
        f"{attacks.n_queries} queries per row ({RANDOM_MODEL_QUERIES} on the models that "
        "draw noise) from the point that came closest. Accuracy under attack is an upper "
        "bound: a stronger attack may lower it.",
    ]
    if smoothed is not None:
        notes.append(
            f"certified r=...: rows certified correct at that L2 radius (n0={smoothed.n0}, "
            f"n={n}, alpha={smoothed.alpha:g}): a floor no attack of that size can break, "
            "each certificate failing with probability at most alpha. n/a: no certificate."
        )
    return notes


def _headline(table: pd.DataFrame, certified: dict, y_eval: np.ndarray, eps: float) -> list[str]:
    """The comparison in a few sentences, with the numbers that back them."""
    masked = table[table["model"].isin(MASKING)]
    undefended = table.loc[table["model"] == "undefended", "robust adaptive"]
    lines = []
    if len(masked):
        reference = f" (undefended net: {undefended.iloc[0]:.3f})" if len(undefended) else ""
        lines.append(
            f"Gradient masking: accuracy under plain PGD {_span(masked['robust PGD'])}, "
            f"under the adaptive attack {_span(masked['robust adaptive'])}{reference}."
        )
    for name, result in certified.items():
        lines.append(
            f"{name}: certified accuracy at r={eps:g} is "
            f"{certified_accuracy(y_eval, result, eps):.3f}, whatever the attack."
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
    (X_train, y_train), (X_test, y_test), subset, fraud_rate = _split(
        n_samples, n_eval, random_state
    )
    preprocess = make_fraud_preprocessor().fit(X_train)
    X_test_scaled = preprocess.transform(X_test)
    rows = EvaluationRows(X_test_scaled, y_test, X_test_scaled[subset], y_test[subset])
    attacks = AttackSettings(eps=eps, random_state=random_state)
    contenders = make_contenders(sigmas, random_state=random_state, verbose=verbose)
    per_column = make_per_column_model(random_state=random_state, verbose=verbose)
    categorical = make_categorical_model(random_state=random_state, verbose=verbose)
    table_rows, certified = [], {}
    with _torch_threads(1):
        X_train_scaled = preprocess.transform(X_train)
        for contender in _bar(contenders, desc="training", verbose=verbose):
            contender.fit(X_train_scaled, y_train, random_state=random_state)
        for contender in _bar(contenders, desc="evaluating", verbose=verbose):
            row, result = evaluate(contender, rows, attacks, radii=radii, n=n, verbose=verbose)
            table_rows.append(row)
            if result is not None:
                certified[contender.name] = result
        per_column.fit(X_train, y_train)
        report = evaluate_per_column(
            per_column, X_test, y_test, X_test.iloc[subset], y_test[subset], n=n
        )
        categorical.fit(X_train, y_train)
        baseline_name = f"smoothed sigma={float(CATEGORICAL_SIGMA)}"
        categorical_report = evaluate_categorical(
            categorical,
            X_test,
            y_test,
            X_test.iloc[subset],
            y_test[subset],
            n=n,
            baseline=(baseline_name, certified[baseline_name])
            if baseline_name in certified
            else None,
        )
    table = pd.DataFrame(table_rows)

    print_fn(
        f"make_fraud: {n_samples} transactions ({fraud_rate:.1%} fraud), {len(rows.y_test)} "
        "held out; every model wraps the same MLP (64, 64)."
    )
    print_fn(_format(table))
    smoothed = next((c.model for c in contenders if c.smoothed), None)
    for paragraph in _notes(rows, attacks, smoothed, n) + _headline(
        table, certified, rows.y_eval, eps
    ):
        print_fn(textwrap.fill(paragraph, width=100))
    print_fn("")
    *paragraphs, changes = describe(report)
    for paragraph in paragraphs:
        print_fn(textwrap.fill(paragraph, width=100))
    print_fn(changes)
    print_fn("")
    for paragraph in describe_categorical(categorical_report):
        print_fn(textwrap.fill(paragraph, width=100))
    files = [output_dir / TABLE_NAME]
    table.to_csv(files[0], index=False)
    if importlib.util.find_spec("matplotlib") is None:
        print_fn("matplotlib is not installed: no figure (pip install matplotlib).")
    else:
        from .figure import save_figure

        files += save_figure(table, certified, report, eps=eps, directory=output_dir)
    for path in files:
        print_fn(f"saved {path}")
    print_fn(f"done in {time.perf_counter() - start:.1f} s")
    return table, files
