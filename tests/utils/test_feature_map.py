import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)

from sksmooth.utils._feature_map import FeatureMap, feature_map, identity_feature_map

NUMERIC = ["a", "b", "c", "d", "e"]


@pytest.fixture
def frame():
    """Small mixed-type data: five numeric columns on different scales, one categorical."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        rng.normal(size=(12, 5)) * [1.0, 10.0, 0.1, 3.0, 100.0] + [0.0, 5.0, -2.0, 1.0, 50.0],
        columns=NUMERIC,
    )
    X["city"] = rng.choice(["paris", "rome", "oslo"], size=12)
    return X


def dense(out) -> np.ndarray:
    out = out.toarray() if hasattr(out, "toarray") else out
    return np.asarray(out, dtype=np.float64)


def finite_difference(transformer, X, columns, t=1e-3) -> np.ndarray:
    """(T(x + t e_j) - T(x)) / t for each named column, checking it is the same on every row."""
    base = dense(transformer.transform(X))
    jacobian = np.zeros((base.shape[1], len(columns)))
    for k, column in enumerate(columns):
        moved = X.copy()
        moved[column] = moved[column] + t
        slopes = (dense(transformer.transform(moved)) - base) / t
        # Affine: every row moves alike.
        np.testing.assert_allclose(slopes, np.broadcast_to(slopes[0], slopes.shape), atol=1e-6)
        jacobian[:, k] = slopes[0]
    return jacobian


def column(fmap: FeatureMap, name: str) -> np.ndarray:
    return fmap.jacobian[:, list(fmap.input_names).index(name)]


def numeric(X):
    return X[NUMERIC].to_numpy()


def iqr(values):
    q75, q25 = np.percentile(values, [75, 25], axis=0)
    return q75 - q25


@pytest.mark.parametrize(
    "scaler, diagonal",
    [
        (StandardScaler(), lambda v: 1 / v.std(axis=0)),
        (StandardScaler(with_std=False), lambda v: np.ones(v.shape[1])),
        (StandardScaler(with_mean=False), lambda v: 1 / v.std(axis=0)),
        (RobustScaler(), lambda v: 1 / iqr(v)),
        (RobustScaler(with_scaling=False), lambda v: np.ones(v.shape[1])),
        (MaxAbsScaler(), lambda v: 1 / np.abs(v).max(axis=0)),
        (MinMaxScaler(), lambda v: 1 / np.ptp(v, axis=0)),
        (MinMaxScaler(feature_range=(-1, 2)), lambda v: 3 / np.ptp(v, axis=0)),
    ],
    ids=repr,
)
def test_scaler_matches_hand_computation_and_finite_differences(frame, scaler, diagonal):
    X = frame[NUMERIC]
    scaler.fit(X)
    fmap = feature_map(scaler, X)
    np.testing.assert_allclose(fmap.jacobian, np.diag(diagonal(numeric(frame))), rtol=1e-10)
    np.testing.assert_allclose(fmap.jacobian, finite_difference(scaler, X, NUMERIC), atol=1e-6)
    assert fmap.jacobian.dtype == np.float64
    assert fmap.unsupported == {}
    assert fmap.input_names.tolist() == NUMERIC


def test_constant_column_keeps_unit_scale(frame):
    X = frame[["a", "b"]].assign(b=4.0)
    for scaler in (StandardScaler(), RobustScaler(), MaxAbsScaler(), MinMaxScaler()):
        scaler.fit(X)
        fmap = feature_map(scaler, X)
        assert np.isfinite(fmap.jacobian).all()
        np.testing.assert_allclose(
            fmap.jacobian, finite_difference(scaler, X, ["a", "b"]), atol=1e-6
        )


def test_clipping_min_max_scaler_is_not_affine(frame):
    X = frame[NUMERIC]
    fmap = feature_map(MinMaxScaler(clip=True).fit(X), X)
    assert np.isnan(fmap.jacobian).all()
    assert fmap.unsupported["a"] == "MinMaxScaler clips to feature_range"


def mixed_column_transformer(sparse=True):
    return ColumnTransformer(
        [
            ("std", StandardScaler(), ["a", "b"]),
            ("mm", MinMaxScaler(), ["c"]),
            ("cat", OneHotEncoder(sparse_output=sparse), ["city"]),
            ("gone", "drop", ["d"]),
        ],
        remainder="passthrough",
        sparse_threshold=0,
    )


def test_column_transformer_blocks(frame):
    ct = mixed_column_transformer().fit(frame)
    fmap = feature_map(ct, frame)
    values = numeric(frame)
    # Outputs: a, b, c, three one-hot columns, then the passthrough remainder e.
    assert fmap.jacobian.shape == (7, 6)
    expected = np.zeros((7, 5))
    expected[0, 0] = 1 / values[:, 0].std()
    expected[1, 1] = 1 / values[:, 1].std()
    expected[2, 2] = 1 / np.ptp(values[:, 2])
    expected[6, 4] = 1.0
    np.testing.assert_allclose(fmap.jacobian[:, :5], expected, rtol=1e-10)
    np.testing.assert_allclose(
        fmap.jacobian[:, :5], finite_difference(ct, frame, NUMERIC), atol=1e-6
    )
    assert np.isnan(column(fmap, "city")).all()
    assert not np.isnan(fmap.jacobian[:, :5]).any()
    assert (column(fmap, "d") == 0).all()
    assert fmap.unsupported == {"city": "OneHotEncoder 'cat' is not affine"}
    assert fmap.input_names.tolist() == NUMERIC + ["city"]


def test_pipeline_inside_column_transformer(frame):
    ct = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler(with_mean=False)), ["a", "b"]),
            ("rank", make_pipeline(MaxAbsScaler(), QuantileTransformer(n_quantiles=5)), ["c"]),
            (
                "cat",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()),
                ["city"],
            ),
        ]
    ).fit(frame)
    fmap = feature_map(ct, frame)
    np.testing.assert_allclose(
        fmap.jacobian[:, :2], finite_difference(ct, frame, ["a", "b"]), atol=1e-6
    )
    assert (fmap.jacobian[:, 3:5] == 0).all()
    assert fmap.unsupported == {
        "c": "QuantileTransformer 'rank__quantiletransformer' is not affine",
        "city": "OneHotEncoder 'cat__onehotencoder' is not affine",
    }


def test_column_transformer_inside_pipeline(frame):
    pipe = Pipeline([("prep", mixed_column_transformer()), ("scale", MaxAbsScaler())])
    pipe.fit(frame)
    fmap = feature_map(pipe, frame)
    assert fmap.jacobian.shape == (7, 6)
    np.testing.assert_allclose(
        fmap.jacobian[:, :5], finite_difference(pipe, frame, NUMERIC), atol=1e-6
    )
    assert (column(fmap, "d") == 0).all()
    assert fmap.unsupported == {"city": "OneHotEncoder 'prep__cat' is not affine"}


def test_last_step_of_a_model_pipeline_is_left_out(frame):
    y = (frame["a"] > 0).to_numpy()
    model = make_pipeline(mixed_column_transformer(), StandardScaler(), LogisticRegression())
    model.fit(frame, y)
    fmap = feature_map(model[:-1], frame)
    np.testing.assert_allclose(
        fmap.jacobian[:, :5], finite_difference(model[:-1], frame, NUMERIC), atol=1e-6
    )
    with pytest.raises(TypeError, match="LogisticRegression"):
        feature_map(model, frame)


def test_make_column_selector(frame):
    ct = ColumnTransformer(
        [
            ("num", RobustScaler(), make_column_selector(dtype_include=np.number)),
            ("cat", OneHotEncoder(), make_column_selector(dtype_exclude=np.number)),
        ]
    ).fit(frame)
    fmap = feature_map(ct, frame)
    np.testing.assert_allclose(fmap.jacobian[:5, :5], np.diag(1 / iqr(numeric(frame))), rtol=1e-10)
    np.testing.assert_allclose(
        fmap.jacobian[:, :5], finite_difference(ct, frame, NUMERIC), atol=1e-6
    )
    assert list(fmap.unsupported) == ["city"]


def test_column_specifications(frame):
    X = frame[NUMERIC]
    mask = np.array([False, False, False, True, False])
    ct = ColumnTransformer(
        [
            ("label_slice", StandardScaler(), slice("a", "b")),
            ("ints", MaxAbsScaler(), [2, -1]),
            ("mask", MinMaxScaler(), mask),
        ]
    ).fit(X)
    fmap = feature_map(ct, X)
    assert np.count_nonzero(fmap.jacobian) == 5
    np.testing.assert_allclose(fmap.jacobian, finite_difference(ct, X, NUMERIC), atol=1e-6)

    ct = ColumnTransformer([("slice", StandardScaler(), slice(1, 3))], remainder=MaxAbsScaler())
    array = numeric(frame)
    ct.fit(array)
    fmap = feature_map(ct, array)
    expected = np.zeros((5, 5))
    expected[[0, 1], [1, 2]] = 1 / array[:, 1:3].std(axis=0)
    expected[[2, 3, 4], [0, 3, 4]] = 1 / np.abs(array[:, [0, 3, 4]]).max(axis=0)
    np.testing.assert_allclose(fmap.jacobian, expected, rtol=1e-10)
    assert fmap.input_names.tolist() == ["x0", "x1", "x2", "x3", "x4"]


def test_column_used_twice_sums_and_weights(frame):
    X = frame[["a", "b"]]
    ct = ColumnTransformer(
        [("std", StandardScaler(), ["a", "b"]), ("mm", MinMaxScaler(), ["a"])],
        transformer_weights={"mm": 2.0},
    ).fit(X)
    fmap = feature_map(ct, X)
    assert np.count_nonzero(column(fmap, "a")) == 2
    np.testing.assert_allclose(fmap.jacobian[2, 0], 2 / np.ptp(X["a"]), rtol=1e-10)
    np.testing.assert_allclose(fmap.jacobian, finite_difference(ct, X, ["a", "b"]), atol=1e-6)


def test_column_reaching_any_non_affine_transformer_is_nan(frame):
    X = frame[["a", "b"]]
    ct = ColumnTransformer(
        [("std", StandardScaler(), ["a", "b"]), ("rank", QuantileTransformer(n_quantiles=5), ["a"])]
    ).fit(X)
    fmap = feature_map(ct, X)
    assert np.isnan(column(fmap, "a")).all()
    assert not np.isnan(column(fmap, "b")).any()


def test_quantile_transformer_step_is_nan(frame):
    X = frame[NUMERIC]
    pipe = Pipeline([("scale", StandardScaler()), ("q", QuantileTransformer(n_quantiles=5))])
    fmap = feature_map(pipe.fit(X), X)
    assert fmap.jacobian.shape == (5, 5)
    assert np.isnan(fmap.jacobian).all()
    assert fmap.unsupported == dict.fromkeys(NUMERIC, "QuantileTransformer 'q' is not affine")


def test_column_dropped_before_a_non_affine_step_stays_zero(frame):
    X = frame[NUMERIC]
    pipe = Pipeline(
        [
            ("pick", ColumnTransformer([("gone", "drop", ["d"])], remainder=StandardScaler())),
            ("q", QuantileTransformer(n_quantiles=5)),
        ]
    ).fit(X)
    fmap = feature_map(pipe, X)
    assert fmap.jacobian.shape == (4, 5)
    assert (column(fmap, "d") == 0).all()
    assert set(fmap.unsupported) == {"a", "b", "c", "e"}


def test_non_affine_outputs_only_taint_the_inputs_reaching_them(frame):
    pipe = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(), ["city"]), ("num", StandardScaler(), ["a", "b"])],
            sparse_threshold=0,
        ),
        MaxAbsScaler(),
        FunctionTransformer(),
    ).fit(frame)
    fmap = feature_map(pipe, frame)
    np.testing.assert_allclose(
        fmap.jacobian[:, :2], finite_difference(pipe, frame, ["a", "b"]), atol=1e-6
    )
    assert (fmap.jacobian[:, 2:5] == 0).all()
    assert list(fmap.unsupported) == ["city"]


def test_non_affine_step_width_counted_from_rows(frame):
    X = frame[["a", "b"]]
    pipe = Pipeline([("log", FunctionTransformer(np.log1p)), ("pass", "passthrough")])
    fmap = feature_map(pipe.fit(np.abs(X)), X)
    assert fmap.jacobian.shape == (2, 2)
    assert fmap.unsupported["a"] == "FunctionTransformer 'log' is not known to be affine"
    with pytest.raises(ValueError, match="no rows"):
        feature_map(pipe, X.iloc[:0])


def test_set_output_pandas_gives_the_same_map(frame):
    plain = Pipeline([("prep", mixed_column_transformer()), ("scale", StandardScaler())])
    pandas = Pipeline(
        [("prep", mixed_column_transformer(sparse=False)), ("scale", StandardScaler())]
    )
    pandas.set_output(transform="pandas")
    plain.fit(frame)
    pandas.fit(frame)
    expected = feature_map(plain, frame)
    fmap = feature_map(pandas, frame)
    np.testing.assert_array_equal(fmap.jacobian, expected.jacobian)
    assert fmap.unsupported == expected.unsupported
    np.testing.assert_allclose(
        fmap.jacobian[:, :5], finite_difference(pandas, frame, NUMERIC), atol=1e-6
    )
    pipe = Pipeline([("q", QuantileTransformer(n_quantiles=5)), ("s", StandardScaler())])
    X = frame[NUMERIC]
    assert np.isnan(feature_map(pipe.set_output(transform="pandas").fit(X), X).jacobian).all()


def test_input_is_not_mutated(frame):
    pipe = make_pipeline(
        ColumnTransformer([("cat", OneHotEncoder(), ["city"])], remainder=StandardScaler()),
        QuantileTransformer(n_quantiles=5),
    ).fit(frame)
    before = frame.copy()
    feature_map(pipe, frame)
    pd.testing.assert_frame_equal(frame, before)

    array = numeric(frame)
    scaler = make_pipeline(StandardScaler(), QuantileTransformer(n_quantiles=5)).fit(array)
    original = array.copy()
    feature_map(scaler, array)
    np.testing.assert_array_equal(array, original)


def test_input_names(frame):
    X = frame[NUMERIC]
    scaler = StandardScaler().fit(X)
    assert feature_map(scaler, X).input_names.tolist() == NUMERIC
    # An array keeps the names the transformer was fitted with.
    assert feature_map(scaler, X.to_numpy()).input_names.tolist() == NUMERIC
    unnamed = StandardScaler().fit(X.to_numpy())
    names = feature_map(unnamed, X.to_numpy().tolist()).input_names
    assert names.tolist() == [f"x{i}" for i in range(5)]
    integer_columns = pd.DataFrame(X.to_numpy())
    assert feature_map(unnamed, integer_columns).input_names.tolist() == ["0", "1", "2", "3", "4"]
    assert feature_map(unnamed, integer_columns).input_names.dtype == object


@pytest.mark.parametrize("identity", [Pipeline([]), "passthrough", None, FunctionTransformer()])
def test_identity_steps(frame, identity):
    X = frame[NUMERIC]
    if isinstance(identity, FunctionTransformer):
        identity.fit(X)
    fmap = feature_map(identity, X)
    np.testing.assert_array_equal(fmap.jacobian, np.eye(5))
    assert fmap.unsupported == {}


def test_drop_everything(frame):
    fmap = feature_map("drop", frame[NUMERIC])
    assert fmap.jacobian.shape == (0, 5)
    assert fmap.unsupported == {}


def test_simple_imputer(frame):
    X = frame[["a", "b", "c"]].copy()
    X.loc[[0, 3], "a"] = np.nan
    X["c"] = np.nan
    imputer = SimpleImputer().fit(X)
    fmap = feature_map(imputer, X)
    # The all-missing column is dropped by the imputer.
    np.testing.assert_array_equal(fmap.jacobian, [[1, 0, 0], [0, 1, 0]])
    finite = X.iloc[[1, 2, 4, 5]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        np.testing.assert_allclose(
            fmap.jacobian[:, :2], finite_difference(imputer, finite, ["a", "b"]), atol=1e-6
        )
    kept = feature_map(SimpleImputer(keep_empty_features=True).fit(X), X)
    np.testing.assert_array_equal(kept.jacobian, np.eye(3))

    X = frame[["a", "b"]]
    marker = feature_map(SimpleImputer(missing_values=-1.0).fit(X), X)
    assert np.isnan(marker.jacobian).all()
    assert marker.unsupported["a"] == "SimpleImputer replaces missing_values=-1.0"
    indicator = feature_map(SimpleImputer(add_indicator=True).fit(X), X)
    assert set(indicator.unsupported) == {"a", "b"}


def test_feature_selector(frame):
    X = frame[["a", "b"]].assign(b=1.0)
    pipe = make_pipeline(VarianceThreshold(), StandardScaler()).fit(X)
    fmap = feature_map(pipe, X)
    np.testing.assert_allclose(fmap.jacobian, [[1 / X["a"].std(ddof=0), 0.0]], rtol=1e-10)


def test_feature_union(frame):
    X = frame[["a", "b"]]
    union = FeatureUnion(
        [("std", StandardScaler()), ("mm", MinMaxScaler()), ("none", "drop")],
        transformer_weights={"mm": 0.5},
    ).fit(X)
    fmap = feature_map(union, X)
    assert fmap.jacobian.shape == (4, 2)
    np.testing.assert_allclose(fmap.jacobian, finite_difference(union, X, ["a", "b"]), atol=1e-6)
    union = FeatureUnion([("std", StandardScaler()), ("q", QuantileTransformer(n_quantiles=5))])
    fmap = feature_map(union.fit(X), X)
    assert fmap.jacobian.shape == (4, 2)
    assert np.isnan(fmap.jacobian).all()


def test_unknown_transformers_are_never_assumed_affine(frame):
    class MyScaler(StandardScaler):
        def transform(self, X, copy=None):
            return super().transform(X, copy=copy) ** 3

    X = frame[["a", "b"]]
    fmap = feature_map(MyScaler().fit(X), X)
    assert np.isnan(fmap.jacobian).all()
    assert fmap.unsupported["a"] == "MyScaler is not known to be affine"


def test_width_mismatch_and_bad_steps(frame):
    scaler = StandardScaler().fit(frame[NUMERIC])
    with pytest.raises(ValueError, match="expects 5"):
        feature_map(scaler, frame[["a", "b"]])
    with pytest.raises(ValueError, match="2-D"):
        feature_map(scaler, np.zeros(5))
    with pytest.raises(ValueError, match="unknown step"):
        feature_map("scale", frame[NUMERIC])


def test_feature_map_is_read_only():
    fmap = identity_feature_map(2)
    with pytest.raises(ValueError):
        fmap.jacobian[0, 0] = 2.0
    with pytest.raises(AttributeError):
        fmap.jacobian = np.eye(3)
    with pytest.raises(ValueError, match="names"):
        FeatureMap(np.eye(2), np.array(["a"], dtype=object), {})
    with pytest.raises(ValueError, match="2 names"):
        identity_feature_map(3, names=["a", "b"])
    assert identity_feature_map(0).jacobian.shape == (0, 0)
