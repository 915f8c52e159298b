"""What every attack shares: input validation, pipelines, dtypes, determinism."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.feature_selection import SelectKBest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    Normalizer,
    OneHotEncoder,
    StandardScaler,
)

from sksmooth import GradientMaskedClassifier, SmoothedClassifier
from sksmooth.attacks import BPDA, FGSM, PGD, RandomSearch, SmoothAdv
from sksmooth.attacks._base import INPUT_SPACE, PIPELINE_SPACE

from ..conftest import tiny_net

# ------------------------------------------------------------------ errors

N = 6  # features of the shared data


@pytest.mark.parametrize(
    "attack, match",
    [
        (PGD(-0.1), r"eps == -0.1, must be >= 0"),
        (PGD(np.inf), r"eps must be finite, got inf"),
        (RandomSearch(float("nan")), r"eps must be finite, got nan"),
        (PGD(0.1, norm="l3"), r"norm must be 'inf' .* or 'l2' .*; got 'l3'"),
        (PGD(0.1, norm=3), r"norm must be 'inf' .* or 'l2' .*; got 3"),
        (RandomSearch(0.1, norm="l1"), r"norm must be"),
        (PGD(0.1, feature_mask=np.ones(N - 1, bool)), r"feature_mask must be a boolean array"),
        (PGD(0.1, feature_mask=np.ones(N, int)), r"feature_mask must be a boolean array.*int"),
        (PGD(0.1, feature_mask=[True] * N + [False]), r"shape \(6,\).*got dtype bool"),
        (PGD(0.1, bounds=(-5.0, 0.0)), r"lies outside the bounds"),
        (PGD(0.1, bounds=(np.full(N, 5.0), np.full(N, -5.0))), r"low <= high"),
        (PGD(0.1, bounds=(-5.0, [np.nan] * N)), r"low <= high with no NaN"),
        (PGD(0.1, bounds=(np.zeros(3), np.ones(3))), r"bounds must be \(low, high\)"),
        (PGD(0.1, bounds=(-5.0,)), r"bounds must be \(low, high\)"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_threat_model_raises(attack, match, net, data):
    X, y = data
    with pytest.raises(ValueError, match=match):
        attack.generate(net, X, y)


def test_eps_of_the_wrong_type_raises(net, data):
    with pytest.raises(TypeError, match=r"eps must be an instance of float, not str"):
        PGD("0.1").generate(net, *data)


def test_bad_rows_and_labels_raise(net, quantized, data):
    X, y = data
    attack = PGD(0.1)
    with pytest.raises(ValueError, match=r"X must be 2-D \(rows, features\); got shape \(6,\)"):
        attack.generate(net, X[0], y[:1])
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        attack.generate(net, X[None], y)
    with pytest.raises(
        ValueError, match=r"X has 5 features, but GradientMaskedClassifier expects 6"
    ):
        attack.generate(quantized, X[:, :5], y)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[200, 199\]"):
        attack.generate(net, X, y[:-1])
    with pytest.raises(ValueError, match=r"y label 7 is not one of the classes \[0, 1\]"):
        attack.generate(net, X, np.where(y == 1, 7, y))
    with pytest.raises(ValueError, match=r"X contains NaN or infinity"):
        attack.generate(net, np.where(X > 2, np.nan, X), y)
    with pytest.raises(TypeError, match=r"X must be numeric; got dtype <U"):
        attack.generate(net, X.astype(str), y)


def test_wrong_number_of_features_on_gradient_free_model(data):
    X, y = data
    model = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 7 features, but .* expects 6"):
        RandomSearch(0.1).generate(model, np.hstack([X, X[:, :1]]), y)


def test_wrong_number_of_features_on_bare_net(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"X has 5 features"):
        PGD(0.1).generate(net, X[:, :5], y)


@pytest.mark.parametrize(
    "attack, model",
    [
        (PGD(0.1), lambda: tiny_net(module__input_units=N, module__output_units=2)),
        (BPDA(0.1), lambda: GradientMaskedClassifier(tiny_net())),
        (RandomSearch(0.1), lambda: HistGradientBoostingClassifier()),
        (PGD(0.1), lambda: make_pipeline(StandardScaler(), GradientMaskedClassifier(tiny_net()))),
    ],
    ids=["net", "masked", "hgb", "pipeline"],
)
def test_unfitted_estimator_raises_not_fitted(attack, model, data):
    X, y = data
    with pytest.raises(NotFittedError, match=r"not fitted yet"):
        attack.generate(model(), X, y)


# --------------------------------------------------------------- pipelines


@pytest.fixture(scope="module")
def raw(data):
    """The shared data, far from standardised, so the two spaces cannot be confused."""
    X, y = data
    return X * np.arange(1, N + 1) * 3.0 + 10.0, y


@pytest.fixture(scope="module")
def masked_pipeline(raw):
    masked = GradientMaskedClassifier(tiny_net(), method="quantize", levels=8, random_state=0)
    return make_pipeline(StandardScaler(), masked).fit(*raw)


@pytest.fixture(scope="module")
def smoothed_pipelines(raw):
    def smoothed():
        return SmoothedClassifier(
            tiny_net(max_epochs=5), sigma=0.5, n0=10, n=100, n_samples=50, random_state=0
        )

    return {
        "scaler": make_pipeline(StandardScaler(), smoothed()).fit(*raw),
        "scaler+pca": make_pipeline(StandardScaler(), PCA(3), smoothed()).fit(*raw),
    }


PIPELINE_ATTACKS = [
    lambda: PGD(0.3, steps=5, random_state=0),
    lambda: BPDA(0.3, steps=5, random_state=0),
    lambda: RandomSearch(0.3, n_queries=10, random_state=0),
]
PIPELINE_IDS = ["pgd", "bpda", "randomsearch"]


@pytest.mark.parametrize("make_attack", PIPELINE_ATTACKS, ids=PIPELINE_IDS)
def test_pipeline_attack_runs_in_the_last_steps_input_space(make_attack, masked_pipeline, raw):
    X, y = raw
    X_step = masked_pipeline[:-1].transform(X)
    attack = make_attack()
    X_adv = attack.generate(masked_pipeline, X, y, space="last_step")
    assert attack.space_ == PIPELINE_SPACE and "last step" in attack.space_
    assert X_adv.shape == X_step.shape
    assert np.abs(X_adv - X_step).max() <= 0.3  # near the transformed rows ...
    assert np.abs(X_adv - X).max(axis=1).min() > 1.0  # ... not the raw ones
    # The same as attacking the last step on the transformed rows.
    on_step = make_attack().generate(masked_pipeline[-1], X_step, y)
    assert np.array_equal(X_adv, on_step)


@pytest.mark.parametrize("make_attack", PIPELINE_ATTACKS, ids=PIPELINE_IDS)
def test_pipeline_rows_come_back_in_its_input_space(make_attack, masked_pipeline, raw):
    X, y = raw
    attack = make_attack()
    X_in = attack.generate(masked_pipeline, X, y)
    assert attack.space_ == PIPELINE_SPACE  # where it ran, and where eps holds
    X_step = make_attack().generate(masked_pipeline, X, y, space="last_step")
    np.testing.assert_allclose(masked_pipeline[:-1].transform(X_in), X_step, rtol=0, atol=1e-9)
    # pipeline.predict on the returned rows is the attack's own verdict, row by row ...
    fooled = masked_pipeline.predict(X_in) != y
    assert np.array_equal(fooled, masked_pipeline[-1].predict(X_step) != y)
    assert fooled.mean() > (masked_pipeline.predict(X) != y).mean()
    # ... where the rows of the last step would have been transformed twice.
    assert not np.array_equal(masked_pipeline.predict(X_step), masked_pipeline.predict(X_in))


def column_frame(X):
    return pd.DataFrame(
        X, columns=[f"f{i}" for i in range(X.shape[1])], index=np.arange(len(X)) + 7
    )


def test_column_transformer_of_scalers_is_inverted_column_by_column(raw):
    X, y = raw
    frame = column_frame(X)
    frame["f5"] = np.round(frame["f5"]).astype(int)  # an untouched integer column
    columns = ColumnTransformer(
        [("standard", StandardScaler(), ["f0", "f1"]), ("minmax", MinMaxScaler(), [2, 3])],
        remainder="passthrough",
    )
    pipe = make_pipeline(columns, LogisticRegression()).fit(frame, y)
    mask = np.array([True, True, True, True, True, False])  # f5 passes through unchanged
    attack = RandomSearch(0.3, n_queries=20, feature_mask=mask, random_state=0)
    X_in = attack.generate(pipe, frame, y)
    assert isinstance(X_in, pd.DataFrame)
    assert list(X_in.columns) == list(frame.columns) and X_in.index.equals(frame.index)
    assert X_in["f5"].dtype == frame["f5"].dtype and X_in["f5"].equals(frame["f5"])
    X_step = attack.generate(pipe, frame, y, space="last_step")
    assert np.array_equal(pipe.predict(X_in), pipe[-1].predict(X_step))
    assert (pipe.predict(X_in) != y).mean() > (pipe.predict(frame) != y).mean()


def test_dropped_columns_keep_their_values(raw):
    X, y = raw
    frame = column_frame(X)
    columns = ColumnTransformer([("scaled", StandardScaler(), ["f0", "f1", "f2"])])
    pipe = make_pipeline(columns, LogisticRegression()).fit(frame, y)
    X_in = RandomSearch(0.3, n_queries=5, random_state=0).generate(pipe, frame, y)
    assert X_in[["f3", "f4", "f5"]].equals(frame[["f3", "f4", "f5"]])
    assert not X_in["f0"].equals(frame["f0"])


@pytest.mark.parametrize(
    "step, reason",
    [
        (PCA(3), "loses information"),
        (FunctionTransformer(np.log1p), "loses information"),  # the identity as inverse
        (SelectKBest(k=3), "loses information"),
        (Normalizer(), "no inverse_transform"),
    ],
    ids=["pca", "function-without-inverse", "select", "normalizer"],
)
def test_pipeline_without_an_exact_inverse_is_refused_before_the_attack(step, reason, raw):
    X, y = raw
    pipe = make_pipeline(step, LogisticRegression()).fit(np.abs(X), y)
    attack = RandomSearch(0.3, n_queries=10**6, random_state=0)  # never reached
    with pytest.raises(ValueError, match=rf"{reason}.*space='last_step'.*pipeline\[-1\]"):
        attack.generate(pipe, np.abs(X), y)
    X_step = RandomSearch(0.3, n_queries=5, random_state=0).generate(
        pipe, np.abs(X), y, space="last_step"
    )
    assert X_step.shape == pipe[:-1].transform(np.abs(X)).shape


def test_one_hot_codes_moved_off_their_categories_are_refused(raw):
    X, y = raw
    frame = column_frame(X[:, :3])
    frame["colour"] = np.where(X[:, 3] > np.median(X[:, 3]), "red", "blue")
    columns = ColumnTransformer(
        [("numbers", StandardScaler(), ["f0", "f1", "f2"]), ("codes", OneHotEncoder(), ["colour"])]
    )
    pipe = make_pipeline(columns, LogisticRegression()).fit(frame, y)
    with pytest.raises(ValueError, match=r"cannot reach them.*space='last_step'"):
        # Found by a probe before the attack runs (it would not end).
        RandomSearch(0.3, n_queries=10**6, random_state=0).generate(pipe, frame, y)
    # Left alone by the attack, the categories come back as they were.
    mask = np.array([True, True, True, False, False])
    attack = RandomSearch(0.3, n_queries=5, feature_mask=mask, random_state=0)
    X_in = attack.generate(pipe, frame, y)
    assert X_in["colour"].equals(frame["colour"])
    X_step = attack.generate(pipe, frame, y, space="last_step")
    assert np.array_equal(pipe.predict(X_in), pipe[-1].predict(X_step))


def test_pipeline_eps_zero_gives_x_back(masked_pipeline, raw):
    X, y = raw
    X_in = PGD(0.0).generate(masked_pipeline, X, y)
    assert np.array_equal(X_in, X) and not np.shares_memory(X_in, X)


def test_unknown_space_is_refused(net, data):
    with pytest.raises(ValueError, match=r"space must be one of \('input', 'last_step'\)"):
        PGD(0.1).generate(net, *data, space="final")


@pytest.mark.parametrize("steps", ["scaler", "scaler+pca"])
@pytest.mark.parametrize(
    "make_attack",
    [
        lambda: SmoothAdv(0.5, norm="l2", steps=3, n_noise_samples=4, random_state=0),
        lambda: RandomSearch(0.5, norm="l2", n_queries=5, random_state=0),
    ],
    ids=["smoothadv", "randomsearch"],
)
def test_pipeline_with_smoothed_classifier(make_attack, steps, smoothed_pipelines, raw):
    X, y = raw
    X, y = X[:50], y[:50]
    pipeline = smoothed_pipelines[steps]
    X_step = pipeline[:-1].transform(X)
    attack = make_attack()
    X_adv = attack.generate(pipeline, X, y, space="last_step")
    assert attack.space_ == PIPELINE_SPACE
    assert X_adv.shape == X_step.shape == (50, 3 if "pca" in steps else N)
    assert np.linalg.norm(X_adv - X_step, axis=1).max() <= 0.5
    if steps == "scaler":
        X_in = make_attack().generate(pipeline, X, y)
        np.testing.assert_allclose(pipeline[:-1].transform(X_in), X_adv, rtol=0, atol=1e-9)


def test_bare_estimator_space_is_input(net, data):
    X, y = data
    attack = FGSM(0.1)
    attack.generate(net, X, y)
    assert attack.space_ == INPUT_SPACE == "input"


# --------------------------------------------------------- dtypes and shapes

DTYPE_ATTACKS = {
    "pgd-net": (lambda: PGD(0.2, steps=3, random_state=0), "net"),
    "randomsearch-net": (lambda: RandomSearch(0.2, n_queries=5, random_state=0), "net"),
    "pgd-masked": (lambda: PGD(0.2, norm="l2", steps=3, random_state=0), "quantized"),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32])
@pytest.mark.parametrize("name", sorted(DTYPE_ATTACKS))
def test_output_dtype_follows_input(name, dtype, data, request):
    make_attack, model_name = DTYPE_ATTACKS[name]
    model = request.getfixturevalue(model_name)
    X, y = data
    X = np.round(X).astype(dtype) if np.issubdtype(dtype, np.integer) else X.astype(dtype)
    X_adv = make_attack().generate(model, X, y)
    expected = np.float64 if np.issubdtype(dtype, np.integer) else dtype
    assert X_adv.dtype == expected
    assert X_adv.shape == X.shape
    assert not np.array_equal(X_adv, X)


@pytest.mark.parametrize("name", sorted(DTYPE_ATTACKS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_eps_zero_returns_a_copy_of_x(name, dtype, data, request):
    make_attack, model_name = DTYPE_ATTACKS[name]
    X, y = data
    X = X.astype(dtype)
    attack = make_attack()
    attack.eps = 0
    X_adv = attack.generate(request.getfixturevalue(model_name), X, y)
    assert np.array_equal(X_adv, X)
    assert X_adv.dtype == (np.float64 if dtype == np.int64 else dtype)
    assert not np.shares_memory(X_adv, X)


@pytest.mark.parametrize("name", sorted(DTYPE_ATTACKS))
def test_empty_x_returns_empty(name, data, request):
    make_attack, model_name = DTYPE_ATTACKS[name]
    X, y = data
    for dtype in (np.float32, np.float64):
        X_adv = make_attack().generate(
            request.getfixturevalue(model_name), X[:0].astype(dtype), y[:0]
        )
        assert X_adv.shape == (0, N) and X_adv.dtype == dtype


@pytest.mark.parametrize(
    "make_attack",
    [
        lambda **kw: PGD(0.2, steps=3, restarts=2, random_state=0, **kw),
        lambda **kw: FGSM(0.2, norm="l2", **kw),
        # No bounds: RandomSearch crashes with them (see test_constraints).
        lambda bounds, **kw: RandomSearch(0.2, n_queries=5, random_state=0, **kw),
    ],
    ids=["pgd", "fgsm", "randomsearch"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_never_mutated(make_attack, dtype, net, data):
    X, y = data
    X = np.ascontiguousarray(X, dtype=dtype)  # no defensive copy can hide a mutation
    mask = np.array([True, True, False, True, True, True])
    low, high = X.min(axis=0) - 0.1, X.max(axis=0) + 0.1
    before = [a.copy() for a in (X, y, mask, low, high)]
    X_adv = make_attack(feature_mask=mask, bounds=(low, high)).generate(net, X, y)
    for a, b in zip((X, y, mask, low, high), before, strict=True):
        assert np.array_equal(a, b)
    assert not np.shares_memory(X_adv, X)
    assert not np.array_equal(X_adv, X)


# ------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    "make_attack",
    [
        lambda seed: PGD(0.3, steps=5, restarts=2, random_state=seed),
        lambda seed: PGD(0.3, norm="l2", steps=5, random_state=seed),
        lambda seed: RandomSearch(0.3, n_queries=10, random_state=seed),
        lambda seed: RandomSearch(0.3, norm="l2", n_queries=10, random_state=seed),
    ],
    ids=["pgd-linf", "pgd-l2", "randomsearch-linf", "randomsearch-l2"],
)
def test_same_random_state_same_output(make_attack, net, data):
    X, y = data
    first = make_attack(0).generate(net, X, y)
    assert np.array_equal(first, make_attack(0).generate(net, X, y))
    assert np.array_equal(first, make_attack(np.random.RandomState(0)).generate(net, X, y))
    assert not np.array_equal(first, make_attack(1).generate(net, X, y))


def test_repr_shows_the_parameters_only(net, data):
    attack = PGD(0.1, norm="l2", random_state=0)
    before = repr(attack)
    assert before.startswith("PGD(eps=0.1, norm='l2',") and "random_state=0" in before
    attack.generate(net, *data)
    assert repr(attack) == before  # no fitted attributes such as space_
