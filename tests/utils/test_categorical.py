"""Categorical columns: every spelling of categorical_features, pandas codes, the code checks."""

import numpy as np
import pandas as pd
import pytest

from sksmooth.utils._categorical import (
    categorical_mask,
    check_codes,
    learn_categories,
    pandas_codes,
)

NAMES = ["amount", "age", "merchant", "channel"]


@pytest.fixture
def frame():
    """Two numeric columns and two pandas category columns."""
    return pd.DataFrame(
        {
            "amount": [1.5, -0.2, 0.3, 2.0],
            "age": [10.0, 20.0, 30.0, 40.0],
            "merchant": pd.Categorical(["fuel", "grocery", "fuel", "travel"]),
            "channel": pd.Categorical(["online", "online", "phone", "online"]),
        }
    )


# ------------------------------------------------------------ categorical_mask


@pytest.mark.parametrize(
    "spec, expected",
    [
        (None, [False, False, False, False]),
        ([], [False, False, False, False]),
        (np.array([], dtype=int), [False, False, False, False]),
        ([False, True, False, True], [False, True, False, True]),
        (np.array([True, False, False, False]), [True, False, False, False]),
        ([2], [False, False, True, False]),
        ([3, 0], [True, False, False, True]),
        (np.array([1], dtype=np.int64), [False, True, False, False]),
        (np.array([1], dtype=np.uint8), [False, True, False, False]),
        ([-1], [False, False, False, True]),
        ([-4, 2], [True, False, True, False]),
        ([1, -3], [False, True, False, False]),  # the same column twice
    ],
)
def test_mask_and_index_spellings(spec, expected):
    mask = categorical_mask(spec, None, 4, None)
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize(
    "spec, expected",
    [
        (["merchant"], [False, False, True, False]),
        (["channel", "merchant"], [False, False, True, True]),
        (np.array(["age"], dtype=object), [False, True, False, False]),
        (pd.Index(["amount"]), [True, False, False, False]),
    ],
)
def test_name_spellings(spec, expected):
    np.testing.assert_array_equal(categorical_mask(spec, None, 4, NAMES), expected)


def test_names_match_non_string_column_names_by_their_string():
    np.testing.assert_array_equal(categorical_mask(["2"], None, 3, [0, 1, 2]), [0, 0, 1])


def test_from_dtype_on_a_dataframe_finds_its_category_columns(frame):
    mask = categorical_mask("from_dtype", frame, 4, list(frame.columns))
    np.testing.assert_array_equal(mask, [False, False, True, True])


def test_from_dtype_on_a_frame_without_category_columns_or_an_array_is_empty(frame):
    numeric = frame[["amount", "age"]]
    np.testing.assert_array_equal(categorical_mask("from_dtype", numeric, 2, None), [0, 0])
    array = np.zeros((3, 4))
    np.testing.assert_array_equal(categorical_mask("from_dtype", array, 4, None), [0, 0, 0, 0])


def test_the_mask_is_a_copy_of_the_users():
    user = np.array([False, True, False])
    mask = categorical_mask(user, None, 3, None)
    mask[0] = True
    np.testing.assert_array_equal(user, [False, True, False])


@pytest.mark.parametrize(
    "spec, names, message",
    [
        ([True, False], None, r"boolean mask needs one entry per feature, shape \(4,\)"),
        ([True] * 5, None, r"shape \(4,\); got \(5,\)"),
        ([4], None, r"indices \[4\] outside the 4 features"),
        ([0, -5], None, r"indices \[0, -5\] outside the 4 features"),
        (["merchant"], None, "names columns, but X has no column names"),
        (["colour", "merchant"], NAMES, r"names columns \['colour'\] not in X"),
        ([[0, 1]], None, r"must be 1-D, got an array of shape \(1, 2\)"),
        ([[True, False, True, False]], None, r"must be 1-D"),
        ("auto", None, "must be None, 'from_dtype', a boolean mask.*got 'auto'"),
        ("merchant", NAMES, "got 'merchant'"),  # a bare name is not a list of names
        ([0.5, 1.0], None, r"got \[0.5, 1.0\]"),
    ],
)
def test_bad_spellings_are_named(spec, names, message):
    with pytest.raises(ValueError, match=message):
        categorical_mask(spec, None, 4, names)


def test_a_scalar_index_is_rejected():
    with pytest.raises(ValueError, match="must be 1-D"):
        categorical_mask(2, None, 4, None)


# ---------------------------------------------------------------- pandas_codes


def test_pandas_codes_converts_category_columns_to_their_codes(frame):
    mask = np.array([False, False, True, True])
    converted, categories = pandas_codes(frame, mask)
    assert categories == {2: ["fuel", "grocery", "travel"], 3: ["online", "phone"]}
    np.testing.assert_array_equal(converted["merchant"], [0.0, 1.0, 0.0, 2.0])
    np.testing.assert_array_equal(converted["channel"], [0.0, 0.0, 1.0, 0.0])
    assert converted["merchant"].dtype == np.float64
    pd.testing.assert_frame_equal(converted[["amount", "age"]], frame[["amount", "age"]])
    assert list(converted.columns) == list(frame.columns)


def test_pandas_codes_leaves_the_users_frame_untouched(frame):
    before = frame.copy(deep=True)
    converted, _ = pandas_codes(frame, np.array([False, False, True, True]))
    assert converted is not frame
    pd.testing.assert_frame_equal(frame, before)
    assert isinstance(frame["merchant"].dtype, pd.CategoricalDtype)


def test_pandas_codes_returns_other_inputs_as_they_are(frame):
    array = np.arange(8.0).reshape(2, 4)
    assert pandas_codes(array, np.array([False, True, False, False]))[0] is array
    numeric = frame[["amount", "age"]]
    converted, categories = pandas_codes(numeric, np.array([True, False]))
    assert converted is numeric and categories == {}


def test_pandas_codes_keeps_every_dtype_category_even_unused():
    frame = pd.DataFrame({"c": pd.Categorical(["b", "b"], categories=["a", "b", "c"])})
    converted, categories = pandas_codes(frame, np.array([True]))
    assert categories == {0: ["a", "b", "c"]}
    np.testing.assert_array_equal(converted["c"], [1.0, 1.0])


def test_a_category_column_not_listed_as_categorical_is_an_error(frame):
    with pytest.raises(ValueError, match="Column 'channel' has category dtype but is not among"):
        pandas_codes(frame, np.array([False, False, True, False]))


def test_a_missing_value_in_a_category_column_is_an_error(frame):
    frame.loc[1, "merchant"] = np.nan
    with pytest.raises(ValueError, match=r"Categorical column 'merchant' holds missing values"):
        pandas_codes(frame, np.array([False, False, True, True]))


def test_categories_other_than_fitted_are_an_error(frame):
    mask = np.array([False, False, True, True])
    _, known = pandas_codes(frame, mask)
    # The same categories pass.
    pandas_codes(frame, mask, known=known)
    reordered = frame.assign(
        merchant=frame["merchant"].cat.reorder_categories(["travel", "grocery", "fuel"])
    )
    with pytest.raises(ValueError, match=r"'merchant' has categories \['travel', 'grocery',"):
        pandas_codes(reordered, mask, known=known)
    extra = frame.assign(channel=frame["channel"].cat.add_categories(["atm"]))
    fitted_with = r"but was fitted with the categories \['online', 'phone'\]"
    with pytest.raises(ValueError, match=fitted_with):
        pandas_codes(extra, mask, known=known)


def test_pandas_codes_on_a_frame_with_integer_column_names():
    frame = pd.DataFrame({0: [0.5, 1.0], 1: pd.Categorical(["a", "b"])})
    converted, categories = pandas_codes(frame, np.array([False, True]))
    assert categories == {1: ["a", "b"]}
    np.testing.assert_array_equal(converted[1], [0.0, 1.0])


def test_category_column_fitted_as_codes_is_an_error_with_known(frame):
    # Fitted from plain codes (no dtype categories): a category column has no fitted meaning.
    mask = np.array([False, False, True, True])
    with pytest.raises(ValueError, match="codes would mean other categories"):
        pandas_codes(frame, mask, known={3: ["online", "phone"]})


# ------------------------------------------------------------------ check_codes


def test_check_codes_accepts_integer_codes():
    X = np.array([[0.5, 0.0, 3.0], [-2.0, 7.0, 0.0]])
    check_codes(X, np.array([1, 2]))
    check_codes(X, np.array([], dtype=int))  # nothing to check
    check_codes(X, np.array([1]), feature_names=np.array(["a", "b", "c"], dtype=object))


@pytest.mark.parametrize(
    "value, problem",
    [
        (np.nan, "NaN or infinite values"),
        (np.inf, "NaN or infinite values"),
        (-np.inf, "NaN or infinite values"),
        (-1.0, "the negative value -1"),
        (-0.5, "the negative value -0.5"),
        (1.5, "the non-integer value 1.5"),
    ],
)
def test_bad_codes_are_named_with_their_column(value, problem):
    X = np.array([[0.5, 0.0, 1.0], [-2.0, 2.0, 1.0]])
    X[1, 1] = value
    with pytest.raises(ValueError, match=f"Categorical column 1 holds {problem}"):
        check_codes(X, np.array([2, 1]))
    with pytest.raises(ValueError, match=f"Categorical column 'merchant' holds {problem}"):
        # Names as scikit-learn keeps them in feature_names_in_: an object array of str.
        names = np.array(["amount", "merchant", "channel"], dtype=object)
        check_codes(X, np.array([1]), feature_names=names)


def test_bad_codes_in_a_numeric_column_are_not_checked():
    X = np.array([[-0.5, 1.0], [np.nan, 2.0]])
    check_codes(X, np.array([1]))


# ------------------------------------------------------------- learn_categories


def test_learn_categories_from_codes_seen_and_from_dtypes():
    X = np.array([[0.1, 5.0, 0.0, 2.0], [0.2, 1.0, 0.0, 0.0], [0.3, 5.0, 0.0, 0.0]])
    categories = learn_categories(X, np.array([1, 2, 3]), {3: ["a", "b", "c", "d"]})
    assert len(categories) == 3
    np.testing.assert_array_equal(categories[0], [1.0, 5.0])  # the codes seen, sorted
    np.testing.assert_array_equal(categories[1], [0.0])
    np.testing.assert_array_equal(categories[2], [0.0, 1.0, 2.0, 3.0])  # every dtype category
    assert all(c.dtype == np.float64 for c in categories)
    assert learn_categories(X, np.array([], dtype=int), {}) == ()
