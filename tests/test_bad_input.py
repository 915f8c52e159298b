"""Bad input: a correct result or a ValueError / TypeError that names the problem.

Property-based tests draw values, shapes, dtypes, memory layouts, containers
and label types. Valid input must give outputs that keep every documented
invariant (labels from ``classes_``, probabilities summing to 1, radii finite,
non-negative and 0 on abstention, the same answer whatever the container).
Each kind of defect, tested on its own, must give a ValueError or TypeError
whose message names it; any other exception fails the test. Where
scikit-learn has an opinion (mixed-type labels, one class, NaN), a plain
LogisticRegression is the reference: the same input must fail the same way.
Heavier sweeps of the same properties are marked ``slow``.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, UndefinedMetricWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sksmooth import GradientMaskedClassifier, SmoothedClassifier, make_fraud
from sksmooth._labels import label_indices
from sksmooth.attacks import FGSM, PGD, RandomSearch
from sksmooth.attacks._constraints import finalise
from sksmooth.certification import CertificationResult
from sksmooth.metrics import (
    abstain_rate,
    average_certified_radius,
    balanced_certified_accuracy,
    certified_accuracy,
    certified_recall,
    make_certified_scorer,
    make_robust_scorer,
    robust_accuracy,
)
from sksmooth.nets import make_mlp_classifier

FAST = {"sigma": 0.25, "n0": 10, "n": 50, "n_samples": 20, "random_state": 0}
N_FEATURES = 3


def cheap(max_examples: int):
    """Deterministic, deadline-free Hypothesis settings (CI must not flake)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def tiny_net(max_epochs: int = 1):
    return make_mlp_classifier(hidden_units=(8,), max_epochs=max_epochs, lr=0.05, batch_size=16)


def outcome(call):
    """The call's result, or the ValueError / TypeError it raised.

    Any other exception propagates and fails the test: bad input must never
    surface as an IndexError, KeyError or a raw torch RuntimeError.
    """
    with warnings.catch_warnings():
        # Noise of valid calls on odd data, not a verdict on them.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DataConversionWarning)
        warnings.filterwarnings("ignore", message=".*feature names")
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # a split without positives
        # scikit-learn's type_of_target casting NaN while it judges labels
        warnings.filterwarnings("ignore", "invalid value encountered in cast", RuntimeWarning)
        try:
            return call()
        except (ValueError, TypeError) as error:
            return error


def assert_named_error(result, pattern: str):
    assert isinstance(result, (ValueError, TypeError)), f"expected an error, got {result!r}"
    assert re.search(pattern, str(result)), f"{pattern!r} not in message: {result}"


def assert_no_error(result):
    if isinstance(result, Exception):
        raise AssertionError(f"valid input was refused: {type(result).__name__}: {result}")
    return result


# ---------------------------------------------------------------- strategies

DTYPES = ["int8", "int64", "float16", "float32", "float64", "bool", "object"]
CONTAINERS = ["numpy", "fortran", "read-only", "dataframe", "nullable"]
LABEL_KINDS = {
    "int": [0, 1, 2],
    "str": ["no", "yes", "maybe"],
    "bool": [False, True],
    "float": [0.0, 1.0, 2.0],
}
LABEL_CONTAINERS = ["numpy", "list", "series", "categorical"]

# numpy's and pandas' words for a column of text where numbers are needed
STRING_COLUMN = r"could not convert string to float|Cannot cast str"
# Each defect of the training data, and what its error message must name.
FIT_DEFECTS = {
    "nan": r"NaN",
    "inf": r"infinity",
    "no rows": r"0 sample",
    "no features": r"0 feature|at least one array or dtype",  # the latter: a frame, no columns
    "1-D X": r"Expected 2D array",
    "3-D X": r"dim 3",
    "string column": STRING_COLUMN,
    "lengths": r"inconsistent numbers of samples",
    "one class": r"only one class|at least 2 classes",
    "continuous y": r"Unknown label type: continuous",
    "mixed y": r"Unknown label type|not supported between instances",
    "nan y": r"y contains NaN",
}
# Defects of rows given to a fitted model.
ROW_DEFECTS = {
    "nan": r"NaN",
    "inf": r"infinity",
    "no rows": r"0 sample",
    "too few features": r"features",
    "too many features": r"features",
    "1-D X": r"Expected 2D array",
    "3-D X": r"dim 3",
    "string column": STRING_COLUMN,
}


@st.composite
def matrices(draw, n_rows: int, n_features: int, dtype=None, container=None):
    """A numeric matrix of the (else a random) dtype and container; also its float64 values."""
    values = draw(
        hnp.arrays(
            np.float64,
            (n_rows, n_features),
            elements=st.floats(-100, 100, allow_nan=False, width=16),
        )
    )
    dtype = dtype or draw(st.sampled_from(DTYPES))
    container = container or draw(st.sampled_from(CONTAINERS))
    if dtype == "bool":
        X = values > 0
    elif dtype.startswith("int"):
        X = np.round(values).astype(dtype)
    else:
        X = values.astype(dtype)
    values = np.asarray(X, dtype=np.float64)  # what the estimator must see
    if container == "fortran":
        X = np.asfortranarray(X)
    elif container == "read-only":
        X = X.copy()
        X.setflags(write=False)
    elif container == "dataframe":
        X = pd.DataFrame(X, columns=[f"f{j}" for j in range(n_features)])
    elif container == "nullable":
        X = pd.DataFrame(
            {f"f{j}": pd.array(values[:, j], dtype="Float64") for j in range(n_features)}
        )
    return X, values


def as_frame(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X.copy()
    return pd.DataFrame(np.asarray(X, dtype=np.float64)).rename(columns=str)


def with_bad_cell(X, value):
    """``X`` with one cell set to ``value`` (NaN or infinity), as float where it must be."""
    if isinstance(X, pd.DataFrame):
        nullable = isinstance(X.dtypes.iloc[0], pd.Float64Dtype)
        X = X.copy() if nullable else X.astype(np.float64)
        X.iloc[0, 0] = pd.NA if nullable and np.isnan(value) else value
        return X
    X = np.array(X, dtype=np.float64)
    X[0, 0] = value
    return X


def with_string_column(X, draw):
    frame = as_frame(X)
    words = np.resize(["low", "high"], len(frame))
    kind = draw(st.sampled_from(["object", "category", "str"]))
    frame["text"] = pd.Series(words, dtype=kind) if kind != "object" else words.astype(object)
    return frame


def break_rows(X, defect: str, draw):
    """Apply a defect of ``X`` shared by training and prediction."""
    if defect == "nan":
        return with_bad_cell(X, np.nan)
    if defect == "inf":
        return with_bad_cell(X, draw(st.sampled_from([np.inf, -np.inf])))
    if defect == "no rows":
        return X[:0]
    if defect == "1-D X":
        return np.asarray(X, dtype=np.float64)[:, 0]
    if defect == "3-D X":
        return np.asarray(X, dtype=np.float64)[:, :, None]
    if defect == "string column":
        return with_string_column(X, draw)
    return X


@st.composite
def labels(draw, n_rows: int, kind=None, container=None):
    """Labels of the (else a random) type and container, with at least two classes."""
    kind = kind or draw(st.sampled_from(sorted(LABEL_KINDS)))
    classes = LABEL_KINDS[kind][: draw(st.integers(2, len(LABEL_KINDS[kind])))]
    codes = draw(st.lists(st.integers(0, len(classes) - 1), min_size=n_rows, max_size=n_rows))
    codes[: len(classes)] = range(len(classes))  # every class occurs
    codes = draw(st.permutations(codes))
    y = np.array([classes[c] for c in codes])
    container = container or draw(st.sampled_from(LABEL_CONTAINERS))
    if container == "list":
        return y.tolist()
    if container == "series":
        return pd.Series(y, name="target")
    if container == "categorical":
        return pd.Series(pd.Categorical(y), name="target")
    return y


def break_labels(y, defect: str, draw):
    n = len(y)
    if defect == "lengths":
        y = np.asarray(y)
        return y[:-1] if draw(st.booleans()) else np.concatenate([y, y[:1]])
    if defect == "one class":
        return np.full(n, np.asarray(y)[0])
    if defect == "continuous y":
        return np.linspace(0.05, 0.95, n)
    if defect == "mixed y":
        return _mixed(n, draw(st.booleans()))
    if defect == "nan y":
        y = np.arange(n, dtype=np.float64) % 2
        y[0] = np.nan
        return y
    return y


def _mixed(n: int, first_is_str: bool) -> np.ndarray:
    items = ["a", 1] if first_is_str else [1, "a"]
    return np.array([items[i % 2] for i in range(n)], dtype=object)


@st.composite
def training_sets(draw, defect=None, case=(None, None, None, None)):
    """``(X, y)``: a valid training set, or one with the given defect.

    ``case`` fixes the X dtype, X container, label type and label container.
    """
    dtype, container, label_kind, label_container = case
    n_rows = draw(st.integers(3, 12))
    n_features = 0 if defect == "no features" else draw(st.integers(1, 4))
    X, _ = draw(matrices(n_rows, n_features, dtype, container))
    y = draw(labels(n_rows, label_kind, label_container))
    X = break_rows(X, defect, draw)
    if defect == "no rows":
        y = np.asarray(y)[:0]
    return X, break_labels(y, defect, draw)


@st.composite
def rows_for(draw, n_features: int, defect=None, case=(None, None)):
    """``(X, values)``: rows for a model fitted on ``n_features`` features.

    ``case`` fixes the dtype and container.
    """
    width = {"too few features": n_features - 1, "too many features": n_features + 1}
    X, values = draw(matrices(draw(st.integers(1, 8)), width.get(defect, n_features), *case))
    return break_rows(X, defect, draw), values


# Hypothesis draws values, shapes and labels; the categories are laid out explicitly so that
# every (dtype, container) pair occurs (7 and 5 are coprime) and each label type and label
# container occurs several times, whatever Hypothesis' derandomized search favours.
CASES = [
    (
        DTYPES[i % len(DTYPES)],
        CONTAINERS[i % len(CONTAINERS)],
        sorted(LABEL_KINDS)[i % len(LABEL_KINDS)],
        LABEL_CONTAINERS[i // len(DTYPES) % len(LABEL_CONTAINERS)],
    )
    for i in range(len(DTYPES) * len(CONTAINERS))
]
CASE_IDS = ["-".join(case) for case in CASES]
ROW_CASES = [case[:2] for case in CASES]
ROW_CASE_IDS = ["-".join(case) for case in ROW_CASES]


# ------------------------------------------------------------------ checks


def same_labels(a, b) -> bool:
    return np.asarray(a, dtype=object).tolist() == np.asarray(b, dtype=object).tolist()


def check_label_outputs(clf, X, values):
    """predict / predict_proba of a fitted classifier keep their invariants."""
    n_rows = len(values)
    labels_ = assert_no_error(outcome(lambda: clf.predict(X)))
    assert labels_.shape == (n_rows,)
    assert set(np.asarray(labels_, dtype=object).tolist()) <= set(clf.classes_.tolist())
    proba = assert_no_error(outcome(lambda: clf.predict_proba(X)))
    assert proba.shape == (n_rows, len(clf.classes_))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert same_labels(labels_, clf.classes_[proba.argmax(axis=1)])
    # The container, dtype and layout must not change the answer: only the values count.
    assert same_labels(labels_, assert_no_error(outcome(lambda: clf.predict(values))))
    return labels_


def check_certificates(clf, X, values, y=None):
    result = assert_no_error(outcome(lambda: clf.certify(X, y)))
    n_rows = len(values)
    assert len(result) == n_rows
    assert set(np.asarray(result.label, dtype=object).tolist()) <= set(clf.classes_.tolist())
    assert np.all(np.isfinite(result.radius)) and np.all(result.radius >= 0)
    assert np.all(result.radius[result.abstained] == 0)
    assert np.all((result.p_lower >= 0) & (result.p_lower <= 1))
    np.testing.assert_array_equal(result.abstained, result.p_lower <= 0.5)
    certified = ~result.abstained
    expected_radius = clf.sigma * stats.norm.ppf(result.p_lower[certified])
    np.testing.assert_allclose(result.radius[certified], expected_radius, rtol=1e-9)
    if y is not None:
        matches = np.asarray(result.label, dtype=object) == np.asarray(y, dtype=object)
        np.testing.assert_array_equal(result.correct, certified & matches)
    again = assert_no_error(outcome(lambda: clf.certify(values, y)))
    np.testing.assert_array_equal(again.p_lower, result.p_lower)
    return result


def check_fit(make_estimator, X, y, defect):
    fitted = outcome(lambda: make_estimator().fit(X, y))
    reference = outcome(lambda: LogisticRegression().fit(X, y))
    if defect is None:
        assert_no_error(fitted)
        assert_no_error(reference)
        assert same_labels(fitted.classes_, reference.classes_)
        return fitted
    assert_named_error(fitted, FIT_DEFECTS[defect])
    # scikit-learn's own classifier refuses the same input with the same kind of error.
    assert type(fitted) is type(reference), (fitted, reference)
    return None


# ------------------------------------------------------------ SmoothedClassifier


def smoothed_classifier(base: str, max_epochs: int = 1) -> SmoothedClassifier:
    return SmoothedClassifier(
        LogisticRegression() if base == "logreg" else tiny_net(max_epochs), **FAST
    )


def check_smoothed_training_set(X, y, base="logreg", max_epochs=1):
    clf = check_fit(lambda: smoothed_classifier(base, max_epochs), X, y, None)
    values = np.asarray(X, dtype=np.float64)
    check_label_outputs(clf, X, values)
    check_certificates(clf, X, values, y)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@cheap(1)
@given(data=st.data())
def test_smoothed_on_valid_training_sets(case, data):
    check_smoothed_training_set(*data.draw(training_sets(case=case)))


@pytest.mark.slow
@cheap(400)
@given(training_sets())
def test_smoothed_on_many_valid_training_sets(data):
    check_smoothed_training_set(*data)


@pytest.mark.parametrize("case", CASES[::5], ids=CASE_IDS[::5])
@cheap(1)
@given(max_epochs=st.integers(1, 2), data=st.data())
def test_smoothed_skorch_net_on_valid_training_sets(case, max_epochs, data):
    X, y = data.draw(training_sets(case=case))
    check_smoothed_training_set(X, y, base="net", max_epochs=max_epochs)


@pytest.mark.parametrize("base", ["logreg", "net"])
@pytest.mark.parametrize("defect", FIT_DEFECTS)
@cheap(3)
@given(data=st.data())
def test_smoothed_fit_names_each_defect(base, defect, data):
    X, y = data.draw(training_sets(defect))
    check_fit(lambda: smoothed_classifier(base), X, y, defect)


@pytest.fixture(scope="module")
def train():
    X, y = make_classification(60, n_features=N_FEATURES, n_redundant=0, random_state=0)
    return X, np.where(y == 1, "fraud", "legit")


@pytest.fixture(scope="module")
def smoothed(train):
    return smoothed_classifier("logreg").fit(*train)


@pytest.fixture(scope="module")
def smoothed_net(train):
    return smoothed_classifier("net", max_epochs=2).fit(*train)


@pytest.fixture(scope="module")
def reference(train):
    return LogisticRegression().fit(*train)


@pytest.mark.parametrize("case", ROW_CASES, ids=ROW_CASE_IDS)
@cheap(1)
@given(data=st.data())
def test_smoothed_prediction_on_valid_rows(smoothed, case, data):
    X, values = data.draw(rows_for(N_FEATURES, case=case))
    check_label_outputs(smoothed, X, values)
    check_certificates(smoothed, X, values)


@pytest.mark.parametrize("case", ROW_CASES[::4], ids=ROW_CASE_IDS[::4])
@cheap(1)
@given(data=st.data())
def test_smoothed_net_prediction_on_valid_rows(smoothed_net, case, data):
    X, values = data.draw(rows_for(N_FEATURES, case=case))
    check_label_outputs(smoothed_net, X, values)
    check_certificates(smoothed_net, X, values)


@pytest.mark.parametrize("defect", ROW_DEFECTS)
@cheap(3)
@given(data=st.data())
def test_smoothed_prediction_names_each_defect(smoothed, smoothed_net, reference, defect, data):
    X, _ = data.draw(rows_for(N_FEATURES, defect))
    expected = outcome(lambda: reference.predict(X))
    for clf in (smoothed, smoothed_net):
        for method in ("predict", "predict_proba", "certify"):
            result = outcome(lambda c=clf, m=method: getattr(c, m)(X))
            assert_named_error(result, ROW_DEFECTS[defect])
            assert type(result) is type(expected)


LABEL_DEFECTS = {
    "lengths": r"inconsistent numbers of samples",
    "unknown label": r"y label 'unseen' is not one of the classes",
    "mixed y": r"is not one of the classes",
    "numbers for strings": r"y label 0 is not one of the classes",
}


@pytest.mark.parametrize("defect", [None, *LABEL_DEFECTS])
@cheap(6)
@given(n_rows=st.integers(1, 6), data=st.data())
def test_certify_checks_its_labels(smoothed, train, defect, n_rows, data):
    X = train[0][:n_rows]
    y = data.draw(st.lists(st.sampled_from(["fraud", "legit"]), min_size=n_rows, max_size=n_rows))
    y = data.draw(st.sampled_from([np.array(y), np.array(y, dtype=object), pd.Series(y), y]))
    if defect == "lengths":
        y = list(y)[:-1] if n_rows > 1 else list(y) * 2
    elif defect == "unknown label":
        y = [*list(y)[:-1], "unseen"]
    elif defect == "mixed y":
        y = _mixed(n_rows, data.draw(st.booleans()))
    elif defect == "numbers for strings":
        y = np.zeros(n_rows, dtype=int)
    result = outcome(lambda: smoothed.certify(X, y))
    if defect is None:
        check_certificates(smoothed, X, X, y)
    else:
        assert_named_error(result, LABEL_DEFECTS[defect])


def test_mixed_type_labels_are_refused_as_scikit_learn_refuses_them():
    X = np.random.default_rng(0).normal(size=(8, 2))
    for y in (_mixed(8, True), _mixed(8, False)):
        expected = outcome(lambda y=y: LogisticRegression().fit(X, y))
        for estimator in (
            SmoothedClassifier(LogisticRegression(), **FAST),
            GradientMaskedClassifier(tiny_net(), random_state=0),
        ):
            result = outcome(lambda e=estimator, y=y: e.fit(X, y))
            assert type(result) is type(expected)
            assert str(result) == str(expected)


# ----------------------------------------------------------- float32 overflow

HUGE = [1e39, -1e39, 1e300]


@pytest.mark.parametrize("value", HUGE)
def test_net_training_refuses_values_beyond_float32(train, value):
    X = train[0].copy()
    X[0, 0] = value
    with pytest.raises(ValueError, match="beyond the range of the net's precision"):
        SmoothedClassifier(tiny_net(), **FAST).fit(X, train[1])
    for method in ("quantize", "thermometer", "distillation", "stochastic"):
        with pytest.raises(ValueError, match="beyond the range"):
            GradientMaskedClassifier(tiny_net(), method=method, random_state=0).fit(X, train[1])


METHODS = ["quantize", "thermometer", "distillation", "stochastic"]


def masked_classifier(method: str, max_epochs: int = 1) -> GradientMaskedClassifier:
    params = {"noise_std": 0.1} if method == "stochastic" else {}
    return GradientMaskedClassifier(tiny_net(max_epochs), method=method, random_state=0, **params)


@pytest.fixture(scope="module")
def masked_models(train):
    return {method: masked_classifier(method, 2).fit(*train) for method in METHODS}


@pytest.mark.parametrize("method", METHODS)
def test_masked_inference_refuses_values_beyond_float32(masked_models, train, method):
    X = train[0][:3].copy()
    X[:, 0] = HUGE
    for name in ("predict", "predict_proba"):
        with pytest.raises(ValueError, match="beyond the range of the net's precision"):
            getattr(masked_models[method], name)(X)


def test_value_range_spanning_more_than_float32_is_refused(train):
    X = train[0].copy()
    X[0, 0], X[1, 0] = 3e38, -3e38  # each fits float32, their difference does not
    with pytest.raises(ValueError, match="value range"):
        GradientMaskedClassifier(tiny_net(), method="quantize", random_state=0).fit(X, train[1])
    defence = GradientMaskedClassifier(tiny_net(), value_range=(-3e38, 3e38), random_state=0)
    with pytest.raises(ValueError, match="value range"):
        defence.fit(train[0], train[1])


@pytest.mark.parametrize("attack", [FGSM(0.1), PGD(0.1, steps=2), RandomSearch(0.1, n_queries=3)])
def test_attacks_refuse_rows_beyond_float32(bare_net, masked_models, train, attack):
    X = train[0][:3].copy()
    X[:, 0] = HUGE
    with pytest.raises(ValueError, match="beyond the range"):
        attack.generate(bare_net, X, [0, 1, 0])
    for masked in masked_models.values():
        with pytest.raises(ValueError, match="beyond the range"):
            attack.generate(masked, X, train[1][:3])
    # A finite eps that pushes the rows past float32 is refused too, never NaN rows.
    if not isinstance(attack, RandomSearch):
        with pytest.raises(ValueError, match="beyond the range"):
            type(attack)(1e39).generate(bare_net, train[0][:3], [0, 1, 0])


def test_smoothed_net_refuses_rows_beyond_float32(smoothed_net, train):
    X = train[0][:3].copy()
    X[:, 0] = HUGE
    with pytest.raises(ValueError, match="beyond the range"):
        smoothed_net.certify(X)


# ----------------------------------------------------- GradientMaskedClassifier


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", CASES[::6], ids=CASE_IDS[::6])
@cheap(1)
@given(data=st.data())
def test_masked_on_valid_training_sets(method, case, data):
    X, y = data.draw(training_sets(case=case))
    clf = check_fit(lambda: masked_classifier(method), X, y, None)
    check_label_outputs(clf, X, np.asarray(X, dtype=np.float64))


@pytest.mark.parametrize("defect", FIT_DEFECTS)
@cheap(3)
@given(method=st.sampled_from(METHODS), data=st.data())
def test_masked_fit_names_each_defect(defect, method, data):
    X, y = data.draw(training_sets(defect))
    check_fit(lambda: masked_classifier(method), X, y, defect)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", ROW_CASES[::3], ids=ROW_CASE_IDS[::3])
@cheap(1)
@given(data=st.data())
def test_masked_prediction_on_valid_rows(masked_models, method, case, data):
    check_label_outputs(masked_models[method], *data.draw(rows_for(N_FEATURES, case=case)))


@pytest.mark.parametrize("defect", ROW_DEFECTS)
@cheap(3)
@given(method=st.sampled_from(METHODS), data=st.data())
def test_masked_prediction_names_each_defect(masked_models, defect, method, data):
    X, _ = data.draw(rows_for(N_FEATURES, defect))
    for name in ("predict", "predict_proba"):
        result = outcome(lambda n=name: getattr(masked_models[method], n)(X))
        assert_named_error(result, ROW_DEFECTS[defect])


# ------------------------------------------------------------------- attacks

ATTACK_DEFECTS = {
    "nan": r"NaN or infinity",
    "inf": r"NaN or infinity",
    "too few features": r"features",
    "1-D X": r"2-D",
    "3-D X": r"2-D",
    "string column": r"numeric",
    "lengths": r"inconsistent numbers of samples",
    "unknown label": r"is not one of the classes",
    "mixed y": r"is not one of the classes",
}
# Every attack on every model it supports; RandomSearch needs no gradient.
ATTACK_PAIRS = [
    *[(kind, target) for kind in ("FGSM", "PGD") for target in ("net", *METHODS)],
    *[("RandomSearch", target) for target in ("net", "quantize", "logreg", "smoothed")],
]


def make_attack(kind: str, eps: float, norm: str):
    if kind == "FGSM":
        return FGSM(eps, norm=norm)
    if kind == "PGD":
        return PGD(eps, norm=norm, steps=2, random_state=0)
    return RandomSearch(eps, norm=norm, n_queries=4, random_state=0)


@pytest.fixture(scope="module")
def bare_net(train):
    X, y = train
    net = make_mlp_classifier(
        hidden_units=(8,), max_epochs=2, module__input_units=X.shape[1], module__output_units=2
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return net.fit(X.astype(np.float32), (y == "fraud").astype(int))


@pytest.fixture(scope="module")
def attack_targets(bare_net, masked_models, reference, smoothed):
    return {"net": bare_net, **masked_models, "logreg": reference, "smoothed": smoothed}


def attack_labels(estimator, n_rows: int) -> list:
    classes = estimator.classes_.tolist()
    return [classes[i % len(classes)] for i in range(n_rows)]


def check_attack(attack_targets, kind, target, X, values, eps, norm):
    estimator = attack_targets[target]
    y = attack_labels(estimator, len(values))
    result = outcome(lambda: make_attack(kind, eps, norm).generate(estimator, X, y))
    # Object arrays of numbers and nullable frames are read as numbers, as
    # every estimator reads them.
    X_adv = assert_no_error(result)
    assert X_adv.shape == values.shape
    assert X_adv.dtype.kind == "f"
    assert np.all(np.isfinite(X_adv))
    delta = X_adv.astype(np.float64) - values
    if norm == "inf":
        assert np.all(np.abs(delta) <= eps)
    else:
        assert np.all(np.linalg.norm(delta, axis=1) <= eps)


ATTACK_CASES = {
    "n_rows": st.integers(1, 6),
    "eps": st.floats(0, 2),
    "norm": st.sampled_from(["inf", "l2"]),
    "data": st.data(),
}


@pytest.mark.parametrize(("kind", "target"), ATTACK_PAIRS)
@cheap(5)
@given(**ATTACK_CASES)
def test_attacks_on_valid_rows(attack_targets, kind, target, n_rows, eps, norm, data):
    X, values = data.draw(matrices(n_rows, N_FEATURES))
    check_attack(attack_targets, kind, target, X, values, eps, norm)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "target"), ATTACK_PAIRS)
@cheap(100)
@given(**ATTACK_CASES)
def test_attacks_on_many_valid_rows(attack_targets, kind, target, n_rows, eps, norm, data):
    X, values = data.draw(matrices(n_rows, N_FEATURES))
    check_attack(attack_targets, kind, target, X, values, eps, norm)


@pytest.mark.parametrize("defect", ATTACK_DEFECTS)
@cheap(4)
@given(
    pair=st.sampled_from(ATTACK_PAIRS),
    n_rows=st.integers(1, 6),
    eps=st.floats(0.01, 2),
    data=st.data(),
)
def test_attacks_name_each_defect(attack_targets, defect, pair, n_rows, eps, data):
    kind, target = pair
    estimator = attack_targets[target]
    X, _ = data.draw(matrices(n_rows, N_FEATURES - (defect == "too few features")))
    if np.asarray(X).dtype == object:
        X = np.asarray(X, dtype=np.float64)  # object input has its own test above
    y = attack_labels(estimator, n_rows)
    if defect == "lengths":
        y = [*y, y[0]]
    elif defect == "unknown label":
        y[-1] = "unseen" if isinstance(y[0], str) else 7
    elif defect == "mixed y":
        y = _mixed(n_rows, data.draw(st.booleans()))
        if n_rows == 1 and isinstance(y[0], int) and y[0] in estimator.classes_:
            y[0] = "a"  # a single 1 would be a valid label
    X = break_rows(X, defect, data.draw)
    result = outcome(lambda: make_attack(kind, eps, "inf").generate(estimator, X, y))
    assert_named_error(result, ATTACK_DEFECTS[defect])


def test_attacks_on_a_model_fitted_on_a_frame_do_not_warn(train):
    """Black-box queries give the model back the column names it was fitted with."""
    X = pd.DataFrame(train[0], columns=["amount", "age", "distance"])
    model = smoothed_classifier("logreg").fit(X, train[1])
    attack = RandomSearch(0.1, n_queries=3, random_state=0)
    masked = masked_classifier("quantize").fit(X, train[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fitted_on_frame in (model, masked):
            robust_accuracy(fitted_on_frame, X[:5], train[1][:5], attack)


def test_frozen_estimator_fitted_on_a_frame_does_not_warn(train):
    X = pd.DataFrame(train[0], columns=["amount", "age", "distance"])
    frozen = FrozenEstimator(LogisticRegression().fit(X, train[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SmoothedClassifier(frozen, **FAST).fit(X, train[1]).predict(X[:3])


def test_non_finite_adversarial_rows_are_never_returned():
    X = np.zeros((2, 2))
    X_adv = np.array([[0.1, np.nan], [0.0, 0.0]])
    with pytest.raises(ValueError, match="non-finite rows"):
        finalise(X, X_adv, eps=0.5, norm="inf", mask=None, low=None, high=None)


def test_attacks_check_labels_even_with_nothing_to_perturb(bare_net, train):
    with pytest.raises(ValueError, match="is not one of the classes"):
        PGD(0.0).generate(bare_net, train[0][:2], [0, 7])


@pytest.mark.parametrize("container", ["object", "nullable"])
def test_attacks_take_the_numeric_input_the_estimators_take(reference, train, container):
    rows = train[0][:4]
    if container == "object":
        X = rows.astype(object)
    else:
        X = pd.DataFrame({f"f{j}": pd.array(rows[:, j], dtype="Float64") for j in range(3)})
    X_adv = RandomSearch(0.1, n_queries=2, random_state=0).generate(reference, X, train[1][:4])
    assert np.all(np.abs(X_adv - rows) <= 0.1)


# ------------------------------------------------------------- metrics, scorers

METRICS = {
    "accuracy": certified_accuracy,
    "acr": lambda y, result, radius: average_certified_radius(y, result),
    "recall": lambda y, result, radius: certified_recall(
        y, result, radius, pos_label=POS[y_kind(y)]
    ),
    "balanced": balanced_certified_accuracy,
}
POS = {"int": 1, "str": "b"}


def y_kind(y) -> str:
    items = list(np.asarray(y, dtype=object))
    return "str" if items and isinstance(items[0], str) else "int"


def by_hand(name, y, labels_, radius_, abstained, radius):
    """The metric from its definition, on Python lists."""
    y, labels_ = list(np.asarray(y, dtype=object)), list(labels_)
    radius = 0.0 if name == "acr" else radius
    good = [
        (not a) and lab == t and r >= radius
        for t, lab, r, a in zip(y, labels_, radius_, abstained, strict=True)
    ]
    if name == "accuracy":
        return np.mean(good)
    if name == "acr":
        return np.mean([r if g else 0.0 for g, r in zip(good, radius_, strict=True)])
    per_class = {c: [g for g, t in zip(good, y, strict=True) if t == c] for c in set(y)}
    if name == "recall":
        return np.mean(per_class[POS[y_kind(y)]])
    return np.mean([np.mean(v) for v in per_class.values()])


METRIC_DEFECTS = {
    "lengths": r"inconsistent numbers of samples",
    "nan y": r"NaN",
    "mixed y": r"Unknown label type|mixes label types",
    "continuous y": r"Unknown label type: continuous",
    "other label type": r"cannot match",
    "no rows": r"zero rows",
}


def certificates(data, classes, n_rows):
    """Drawn certificates that keep CertificationResult's invariants, and their labels."""
    labels_ = data.draw(st.lists(st.sampled_from(classes), min_size=n_rows, max_size=n_rows))
    p_lower = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n_rows, max_size=n_rows)))
    abstained = p_lower <= 0.5
    radius = 0.25 * stats.norm.ppf(np.where(abstained, 0.5, p_lower))
    result = CertificationResult(
        label=np.array(labels_),
        radius=np.nan_to_num(radius, posinf=10.0),
        p_lower=p_lower,
        abstained=abstained,
        n_samples=np.full(n_rows, 100),
        sigma=0.25,
        alpha=0.001,
    )
    return result, labels_


LABEL_TYPES = {"int": [0, 1, 2], "str": ["a", "b", "c"]}
Y_CONTAINERS = {
    "list": list,
    "numpy": np.array,
    "object": lambda y: np.array(y, dtype=object),
    "series": pd.Series,
    "categorical": lambda y: pd.Series(pd.Categorical(y)),
}


@pytest.mark.parametrize("name", sorted(METRICS))
@pytest.mark.parametrize("container", sorted(Y_CONTAINERS))
@cheap(4)
@given(
    kind=st.sampled_from(sorted(LABEL_TYPES)),
    radius=st.floats(0, 1),
    n_rows=st.integers(1, 8),
    data=st.data(),
)
def test_certified_metrics_on_valid_labels(name, kind, container, radius, n_rows, data):
    classes = LABEL_TYPES[kind]
    result, labels_ = certificates(data, classes, n_rows)
    y = data.draw(st.lists(st.sampled_from(classes), min_size=n_rows, max_size=n_rows))
    y[0] = POS[kind]  # the positive class occurs: recall is defined
    value = outcome(lambda: METRICS[name](Y_CONTAINERS[container](y), result, radius))
    if container == "object" and kind == "int":
        # scikit-learn refuses object arrays of numbers as targets; so do the metrics.
        assert_named_error(value, r"Unknown label type")
        return
    assert_no_error(value)
    expected = by_hand(name, y, labels_, result.radius, result.abstained, radius)
    assert value == pytest.approx(expected)


@pytest.mark.parametrize("defect", METRIC_DEFECTS)
@cheap(5)
@given(
    name=st.sampled_from(sorted(METRICS)),
    kind=st.sampled_from(sorted(LABEL_TYPES)),
    n_rows=st.integers(2, 8),
    data=st.data(),
)
def test_certified_metrics_name_each_defect(defect, name, kind, n_rows, data):
    n_rows = 0 if defect == "no rows" else n_rows
    result, labels_ = certificates(data, LABEL_TYPES[kind], n_rows)
    y = {
        "lengths": [*labels_, labels_[0]] if labels_ else [1],
        "nan y": np.where(np.arange(n_rows) == 0, np.nan, 1.0),
        "mixed y": _mixed(n_rows, data.draw(st.booleans())),
        "continuous y": np.linspace(0.1, 0.9, n_rows) + 0.01,
        "other label type": np.resize(["a", "b"], n_rows) if kind == "int" else np.ones(n_rows),
        "no rows": [],
    }[defect]
    value = outcome(lambda: METRICS[name](y, result, 0.1))
    assert_named_error(value, METRIC_DEFECTS[defect])


def test_abstain_rate_refuses_what_is_not_a_result():
    with pytest.raises(TypeError, match="CertificationResult"):
        abstain_rate({"abstained": [True]})


def test_numpy_string_labels_match_pandas_string_labels(smoothed, train):
    """Fitted on numpy strings, scored with a pandas column of strings (object dtype)."""
    X, y = train[0][:20], train[1][:20]
    result = smoothed.certify(X, y)
    for y_true in (pd.Series(y, dtype=object), pd.Series(y, dtype="str"), list(y)):
        assert certified_accuracy(y_true, result) == certified_accuracy(y, result)


SCORERS = ["accuracy", "recall", "balanced_accuracy", "acr", "robust"]


def make_any_scorer(metric: str):
    if metric == "robust":
        return make_robust_scorer(RandomSearch(0.1, n_queries=3, random_state=0))
    return make_certified_scorer(0.1, metric=metric, pos_label="fraud", n=30)


@pytest.mark.parametrize("metric", SCORERS)
@cheap(5)
@given(rows=rows_for(N_FEATURES))
def test_scorers_on_valid_rows(smoothed, metric, rows):
    X, values = rows
    y = np.resize(np.array(["legit", "fraud"]), len(values))
    score = outcome(lambda: make_any_scorer(metric)(smoothed, X, y))
    assert_no_error(score)
    assert isinstance(score, float) and np.isfinite(score)
    assert 0 <= score <= (np.inf if metric == "acr" else 1)


@pytest.mark.parametrize(
    "defect", ["nan", "no rows", "too many features", "string column", "lengths", "unknown label"]
)
@cheap(3)
@given(metric=st.sampled_from(SCORERS), data=st.data())
def test_scorers_name_each_defect(smoothed, defect, metric, data):
    X, values = data.draw(rows_for(N_FEATURES, defect if defect in ROW_DEFECTS else None))
    y = np.resize(np.array(["legit", "fraud"]), len(values))
    if defect == "lengths":
        y = y[:-1]
    elif defect == "unknown label":
        y = np.where(np.arange(len(y)) == 0, "unseen", y)
    score = outcome(lambda: make_any_scorer(metric)(smoothed, X, y))
    assert_named_error(score, {**ROW_DEFECTS, **LABEL_DEFECTS}[defect])


def test_recall_scorer_on_a_split_without_the_positive_class(smoothed, train):
    """A class of the model missing from a split scores 0, as recall_score does."""
    X, y = train
    legit = y == "legit"
    scorer = make_certified_scorer(0.0, metric="recall", pos_label="fraud", n=30)
    with pytest.warns(UndefinedMetricWarning, match="pos_label='fraud'"):
        assert scorer(smoothed, X[legit][:5], y[legit][:5]) == 0.0
    with pytest.raises(ValueError, match="pos_label='frud' is not a label of the classes"):
        make_certified_scorer(metric="recall", pos_label="frud", n=30)(smoothed, X[:5], y[:5])


@pytest.mark.parametrize(
    ("params", "error", "pattern"),
    [
        ({"metric": ["accuracy"]}, ValueError, "metric must be one of"),
        ({"n_jobs": "2"}, TypeError, "n_jobs"),
        ({"n_jobs": 0}, ValueError, "n_jobs == 0"),
        ({"radius": float("inf")}, ValueError, "finite"),
    ],
)
def test_certified_scorer_factory_names_bad_parameters(params, error, pattern):
    with pytest.raises(error, match=pattern):
        make_certified_scorer(**params)


# ----------------------------------------------------------------- make_fraud

NOT_A_COUNT = st.one_of(
    st.none(), st.booleans(), st.text(max_size=3), st.floats(), st.integers(-3, 1), st.just([5])
)
NOT_A_RATE = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=3),
    st.just([0.1]),
    st.sampled_from([float("nan"), float("inf"), -0.0, 1.0]),
    st.floats().filter(lambda rate: not 0 < rate < 1),
    st.integers(),
)


@cheap(30)
@given(
    n_samples=st.one_of(st.integers(2, 60), st.integers(2, 60).map(np.int64)),
    fraud_rate=st.floats(0, 1, exclude_min=True, exclude_max=True),
    seed=st.integers(0, 2**32 - 1),
)
def test_make_fraud_on_valid_arguments(n_samples, fraud_rate, seed):
    X, y = assert_no_error(
        outcome(lambda: make_fraud(n_samples, fraud_rate=fraud_rate, random_state=seed))
    )
    assert X.shape == (n_samples, 7)
    assert not X.isna().any().any()
    assert X["merchant_category"].dtype == "category" and X["channel"].dtype == "category"
    assert set(y.unique()) == {0, 1}
    assert y.sum() == np.clip(round(n_samples * fraud_rate), 1, n_samples - 1)


@cheap(40)
@given(
    arguments=st.one_of(
        st.tuples(NOT_A_COUNT, st.floats(0.01, 0.99), st.just("n_samples")),
        st.tuples(st.integers(2, 50), NOT_A_RATE, st.just("fraud_rate")),
    )
)
def test_make_fraud_names_each_bad_argument(arguments):
    n_samples, fraud_rate, bad = arguments
    result = outcome(lambda: make_fraud(n_samples, fraud_rate=fraud_rate, random_state=0))
    assert_named_error(result, bad)


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), -float("inf")])
def test_make_fraud_names_a_non_finite_rate(rate):
    with pytest.raises(ValueError, match="fraud_rate"):
        make_fraud(10, fraud_rate=rate)


# ------------------------------------------------------------ label lookups


def test_label_lookup_names_labels_of_another_type():
    classes = np.array([0, 1])
    with pytest.raises(ValueError, match="y label 'a' is not one of the classes"):
        label_indices(classes, np.array([1, "a"], dtype=object), what="y label")
    with pytest.raises(ValueError, match="None is not one of the classes"):
        label_indices(np.array(["a", "b"]), np.array(["a", None], dtype=object))
    unhashable = np.empty(2, dtype=object)
    unhashable[:] = [1, {}]
    with pytest.raises(ValueError, match=r"y label \{\} is not one of the classes"):
        label_indices(classes, unhashable, what="y label")
    np.testing.assert_array_equal(
        label_indices(np.array(["b", "a"], dtype=object), np.array(["a", "b", "a"], object)),
        [1, 0, 1],
    )


# ------------------------------------------------ inputs found by a fuzzing pass

FUZZ = {"n": 100, "n0": 10, "n_samples": 50, "random_state": 0}


@pytest.fixture(scope="module")
def fuzz_data():
    X, y = make_classification(120, 4, n_informative=3, n_redundant=0, random_state=0)
    return X, y


def test_one_step_pipeline_is_certified_as_its_step(fuzz_data):
    from sklearn.pipeline import make_pipeline

    from sksmooth import CertifiedAccuracyDisplay, certify
    from sksmooth.metrics import make_certified_scorer

    X, y = fuzz_data
    pipe = make_pipeline(SmoothedClassifier(LogisticRegression(), **FUZZ)).fit(X, y)
    alone = pipe[-1].certify(X[:10], y[:10])
    np.testing.assert_array_equal(certify(pipe, X[:10], y[:10]).radius, alone.radius)
    assert make_certified_scorer(0.1)(pipe, X[:10], y[:10]) == alone.certified_accuracy(0.1)
    display = CertifiedAccuracyDisplay.from_estimator(pipe, X[:10], y[:10])
    import matplotlib.pyplot as plt

    plt.close(display.figure_)


def test_a_number_as_a_display_name_is_its_text(fuzz_data):
    import matplotlib.pyplot as plt

    from sksmooth import CertifiedAccuracyDisplay

    X, y = fuzz_data
    result = SmoothedClassifier(LogisticRegression(), **FUZZ).fit(X, y).certify(X[:10], y[:10])
    display = CertifiedAccuracyDisplay.from_result(result, name=0.25)
    assert display.line_.get_label() == "0.25"
    with pytest.raises(TypeError, match="name must be a str or a list of str"):
        CertifiedAccuracyDisplay.from_result(result, name=object())
    plt.close("all")


def test_bool_classes_keep_their_type_next_to_an_abstain_label(fuzz_data):
    X, y = fuzz_data
    clf = SmoothedClassifier(LogisticRegression(), abstain_label=-1, **FUZZ).fit(X, y.astype(bool))
    labels = clf.predict(X)
    assert labels.dtype == object
    assert set(map(type, labels.tolist())) <= {bool, int}
    assert {v for v in labels.tolist() if not isinstance(v, bool)} <= {-1}


def test_a_fraction_sigma_is_a_number(fuzz_data):
    from fractions import Fraction

    X, y = fuzz_data
    clf = SmoothedClassifier(LogisticRegression(), sigma=Fraction(1, 4), **FUZZ).fit(X, y)
    assert clf.certify(X[:5], y[:5]).sigma == 0.25


def test_a_nan_decision_radius_is_refused(fuzz_data):
    X, y = fuzz_data
    clf = SmoothedClassifier(LogisticRegression(), **FUZZ).fit(X, y)
    with pytest.raises(ValueError, match="radius must be finite"):
        clf.certify(X[:5], y[:5], radius=float("nan"))


def test_an_unfitted_frozen_net_is_named(fuzz_data):
    from sksmooth.nets import make_mlp_classifier

    X, y = fuzz_data
    net = make_mlp_classifier(max_epochs=1)
    net.classes = [0, 1]  # skorch then answers classes_ though nothing is fitted
    with pytest.raises(ValueError, match="not initialized; fit it before freezing it"):
        SmoothedClassifier(FrozenEstimator(net), **FUZZ).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")
def test_cuda_on_a_cpu_torch_names_the_device(fuzz_data):
    from sksmooth.nets import make_mlp_classifier

    X, y = fuzz_data
    with pytest.raises(ValueError, match="device='cuda'.*no CUDA device"):
        SmoothedClassifier(make_mlp_classifier(max_epochs=1, device="cuda"), **FUZZ).fit(X, y)


class _FixedLinear(torch.nn.Module):
    """A module with hard-coded sizes, as users write them."""

    def __init__(self, n_in=3, n_out=2):
        super().__init__()
        self.layer = torch.nn.Linear(n_in, n_out)

    def forward(self, X):
        return self.layer(X)


def _net(module, **params):
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=1,
        train_split=None,
        verbose=0,
        **params,
    )


def test_a_module_of_other_sizes_is_named_before_a_torch_error(fuzz_data):
    X, y = fuzz_data
    with pytest.raises(ValueError, match="has 4 features"):
        SmoothedClassifier(_net(_FixedLinear, module__n_in=3), **FUZZ).fit(X, y)
    y3 = np.arange(len(y)) % 3
    with pytest.raises(ValueError, match=r"scores of shape \(2, 2\).*expected \(2, 3\)"):
        SmoothedClassifier(_net(_FixedLinear, module__n_in=4), **FUZZ).fit(X, y3)


def test_a_float64_module_trains_on_float64_rows(fuzz_data):
    X, y = fuzz_data
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    with pytest.warns(UserWarning, match="module instance"):
        clf = SmoothedClassifier(_net(module.double()), **FUZZ).fit(X, y)
    assert np.isfinite(clf.estimator_.history[-1, "train_loss"])
    assert clf.predict(X[:5]).shape == (5,)


def test_a_net_inside_a_pipeline_or_search_is_refused_with_where_it_belongs(fuzz_data):
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sksmooth.nets import make_mlp_classifier

    X, y = fuzz_data
    inside = [
        make_pipeline(StandardScaler(), make_mlp_classifier(max_epochs=1)),
        GridSearchCV(make_mlp_classifier(max_epochs=1), {"lr": [1e-3]}, cv=2),
    ]
    for estimator in inside:
        with pytest.raises(TypeError, match="Make the net the direct estimator"):
            SmoothedClassifier(estimator, **FUZZ).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sized = make_mlp_classifier(max_epochs=1, module__input_units=4, module__output_units=2)
        fitted = make_pipeline(StandardScaler(), sized).fit(X.astype(np.float32), y)
    with pytest.raises(TypeError, match="Make the net the direct estimator"):
        SmoothedClassifier(FrozenEstimator(fitted), **FUZZ).fit(X, y)


def test_a_frozen_model_refuses_columns_in_another_order(fuzz_data):
    X, y = fuzz_data
    frame = pd.DataFrame(X, columns=list("abcd"))
    frozen = FrozenEstimator(LogisticRegression().fit(frame, y))
    with pytest.raises(ValueError, match="feature names should match"):
        SmoothedClassifier(frozen, **FUZZ).fit(frame[list("dcba")], y)
    SmoothedClassifier(frozen, **FUZZ).fit(frame, y)  # the same order is fine


def test_a_sigma_beyond_the_nets_precision_is_named(fuzz_data):
    from sksmooth.nets import make_mlp_classifier

    X, y = fuzz_data
    with pytest.raises(ValueError, match=r"sigma=1e\+39 .* range of the net's precision \(float32"):
        SmoothedClassifier(make_mlp_classifier(max_epochs=1), sigma=1e39, **FUZZ).fit(X, y)


@pytest.mark.parametrize("base", ["knn", "net"])
def test_ensembles_pass_no_weights_to_a_base_that_refuses_them(base, fuzz_data):
    from sklearn.ensemble import AdaBoostClassifier, BaggingClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.utils.validation import has_fit_parameter

    X, y = fuzz_data
    inner = KNeighborsClassifier() if base == "knn" else tiny_net()
    smoothed = SmoothedClassifier(inner, **FUZZ)
    assert not has_fit_parameter(smoothed, "sample_weight")
    bagged = BaggingClassifier(smoothed, n_estimators=2, random_state=0).fit(X, y)
    assert bagged.score(X, y) > 0.7
    with pytest.raises(ValueError, match="SmoothedClassifier doesn't support sample_weight"):
        AdaBoostClassifier(smoothed, n_estimators=2).fit(X, y)
    # Weights the user passes still get fit's own explanation.
    with pytest.raises(ValueError, match="sample_weight"):
        smoothed.fit(X, y, sample_weight=np.ones(len(X)))


def test_ensembles_weight_a_base_that_takes_weights(fuzz_data):
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.utils.validation import has_fit_parameter

    X, y = fuzz_data
    smoothed = SmoothedClassifier(LogisticRegression(), **FUZZ)
    assert has_fit_parameter(smoothed, "sample_weight")
    assert not has_fit_parameter(
        SmoothedClassifier(FrozenEstimator(LogisticRegression())), "sample_weight"
    )
    assert AdaBoostClassifier(smoothed, n_estimators=2).fit(X, y).score(X, y) > 0.7
