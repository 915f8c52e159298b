"""CertificationResult: summary figures, text and HTML views, label checks."""

import html
from html.parser import HTMLParser

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from sksmooth import SmoothedClassifier
from sksmooth.certification import CertificationResult
from sksmooth.utils._html import MAX_HTML_ROWS


def make_result(label, radius, abstained, y_true=None, correct=None, sigma=0.5, **fields):
    label = np.asarray(label)
    return CertificationResult(
        label=label,
        radius=np.asarray(radius, dtype=float),
        p_lower=np.where(abstained, 0.4, 0.9),
        abstained=np.asarray(abstained, dtype=bool),
        n_samples=np.full(len(label), 100),
        sigma=sigma,
        alpha=0.001,
        correct=None if correct is None else np.asarray(correct, dtype=bool),
        y_true=None if y_true is None else np.asarray(y_true),
        **fields,
    )


# Six rows: "a" right at 0.8, "b" right at 0.3, "a" wrong (truly "b") at 0.9,
# abstained (truly "b"), "b" right at 0.1, "<x>" right at 0.5.
LABEL = ["a", "b", "a", "b", "b", "<x>"]
RADIUS = [0.8, 0.3, 0.9, 0.0, 0.1, 0.5]
ABSTAINED = [0, 0, 0, 1, 0, 0]
Y_TRUE = ["a", "b", "b", "b", "b", "<x>"]
RESULT = make_result(LABEL, RADIUS, ABSTAINED, y_true=Y_TRUE)


def reference_figures(label, radius, abstained, y_true, radii):
    """Summary figures by plain loops over rows, independent of the library."""
    correct = [not a and lab == y for lab, a, y in zip(label, abstained, y_true, strict=True)]
    n = len(label)
    figures = {
        "n_rows": n,
        "abstain_rate": sum(bool(a) for a in abstained) / n,
        "acr": sum(r for r, c in zip(radius, correct, strict=True) if c) / n,
    }
    for r in radii:
        hits = sum(1 for rad, c in zip(radius, correct, strict=True) if c and rad >= r)
        figures[f"certified_accuracy@{r:g}"] = hits / n
    return figures


def test_summary_by_hand():
    summary = RESULT.summary(radii=[0, 0.25, 0.5])
    assert summary.index.name == "true class"
    assert summary.index.tolist() == ["all", "<x>", "a", "b"]
    expected = {
        "all": [6, 1 / 6, 1.7 / 6, 4 / 6, 3 / 6, 2 / 6],
        "<x>": [1, 0, 0.5, 1, 1, 1],
        "a": [1, 0, 0.8, 1, 1, 1],
        # rows 1 to 4: right at 0.3 and 0.1, one wrong, one abstained
        "b": [4, 1 / 4, 0.4 / 4, 2 / 4, 1 / 4, 0],
    }
    columns = ["n_rows", "abstain_rate", "acr"]
    columns += ["certified_accuracy@0", "certified_accuracy@0.25", "certified_accuracy@0.5"]
    assert summary.columns.tolist() == columns
    for group, values in expected.items():
        np.testing.assert_allclose(summary.loc[group].to_numpy(float), values, err_msg=group)


def test_summary_matches_a_loop_reference_on_random_rows():
    rng = np.random.default_rng(3)
    n = 80
    y_true = rng.integers(0, 3, n)
    label = np.where(rng.random(n) < 0.7, y_true, rng.integers(0, 3, n))
    abstained = rng.random(n) < 0.2
    radius = np.where(abstained, 0.0, rng.uniform(0.01, 1.2, n))
    result = make_result(label, radius, abstained, y_true=y_true)
    radii = [0.0, 0.3, 0.7, 1.0]
    summary = result.summary(radii)
    expected = reference_figures(label, radius, abstained, y_true, radii)
    for column, value in expected.items():
        assert summary.loc["all", column] == pytest.approx(value), column
    for c in range(3):
        rows = y_true == c
        expected = reference_figures(
            label[rows], radius[rows], abstained[rows], y_true[rows], radii
        )
        for column, value in expected.items():
            assert summary.loc[c, column] == pytest.approx(value), (c, column)


def test_summary_default_radii_are_round_and_span_the_radii():
    # Largest radius 0.9: a step of 0.25 gives 0, 0.25, 0.5 and 0.75.
    columns = [c for c in RESULT.summary().columns if c.startswith("certified_accuracy@")]
    assert columns == [f"certified_accuracy@{r}" for r in ("0", "0.25", "0.5", "0.75")]


@pytest.mark.parametrize("largest", [0.013, 0.3, 0.9, 1.0, 2.6, 7.77, 41.0])
def test_default_radii_are_three_to_five_even_steps(largest):
    result = make_result([0, 1], [largest, largest / 3], [0, 0], y_true=[0, 1])
    radii = [
        float(c.split("@")[1])
        for c in result.summary().columns
        if c.startswith("certified_accuracy@")
    ]
    assert 3 <= len(radii) <= 5
    assert radii[0] == 0 and radii[-1] <= largest
    steps = np.diff(radii)
    np.testing.assert_allclose(steps, steps[0])
    assert radii[-1] + steps[0] > largest  # nothing left out at the top


def test_default_radii_when_every_row_abstains():
    result = make_result([0, 1], [0.0, 0.0], [1, 1], y_true=[0, 1])
    summary = result.summary()
    assert summary.loc["all", "certified_accuracy@0"] == 0
    assert summary.loc["all", "abstain_rate"] == 1


def test_summary_groups_by_predicted_label_without_y_true():
    correct = [True, True, False, False, True, True]
    result = make_result(LABEL, RADIUS, ABSTAINED, correct=correct)
    summary = result.summary(radii=[0, 0.5])
    assert summary.index.name == "predicted label"
    # Predicted "a": rows 0 (right at 0.8) and 2 (wrong).
    assert summary.loc["a", "n_rows"] == 2
    assert summary.loc["a", "certified_accuracy@0"] == pytest.approx(1 / 2)
    assert summary.loc["a", "acr"] == pytest.approx(0.8 / 2)
    # Predicted "b": rows 1 (right at 0.3), 3 (abstained) and 4 (right at 0.1).
    assert summary.loc["b", "abstain_rate"] == pytest.approx(1 / 3)
    assert summary.loc["b", "certified_accuracy@0.5"] == 0
    assert summary.loc["all", "acr"] == pytest.approx(1.7 / 6)


def test_summary_without_any_labels_counts_certified_rows():
    result = make_result(LABEL, RADIUS, ABSTAINED)
    summary = result.summary(radii=[0, 0.5])
    assert "acr" not in summary.columns
    # Certified at 0: every row but the abstained one; at 0.5: radii 0.8, 0.9, 0.5.
    assert summary.loc["all", "certified@0"] == pytest.approx(5 / 6)
    assert summary.loc["all", "certified@0.5"] == pytest.approx(3 / 6)
    assert summary.loc["all", "mean_radius"] == pytest.approx(2.6 / 6)
    assert summary.loc["a", "certified@0.5"] == 1.0


def test_summary_agrees_with_smoothed_classifier_certify():
    X, y = load_iris(return_X_y=True)
    clf = SmoothedClassifier(LogisticRegression(max_iter=500), sigma=0.5, random_state=0)
    result = clf.fit(X, y).certify(X[::6], y[::6], n=300)
    summary = result.summary(radii=[0, 0.2])
    assert summary.loc["all", "certified_accuracy@0.2"] == pytest.approx(
        np.mean(result.correct & (result.radius >= 0.2))
    )
    assert summary.loc["all", "n_rows"] == len(y[::6])


@pytest.mark.parametrize(
    ("radii", "error", "match"),
    [
        ([-0.1, 0.2], ValueError, ">= 0"),
        ([0.0, np.nan], ValueError, "finite"),
        ([0.2, 0.2], ValueError, "distinct"),
        ([[0.1, 0.2]], ValueError, "1-D"),
        ([], ValueError, "non-empty"),
        (["near", "far"], TypeError, "numbers"),
    ],
)
def test_summary_rejects_bad_radii(radii, error, match):
    with pytest.raises(error, match=match):
        RESULT.summary(radii)


def test_summary_of_an_empty_result_is_an_error():
    empty = make_result(np.array([], dtype=int), [], np.array([], dtype=bool))
    with pytest.raises(ValueError, match="empty"):
        empty.summary()


def test_y_true_is_checked_and_gives_correct():
    derived = make_result(LABEL, RADIUS, ABSTAINED, y_true=Y_TRUE)
    np.testing.assert_array_equal(derived.correct, [1, 1, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="one label per row"):
        make_result(LABEL, RADIUS, ABSTAINED, y_true=Y_TRUE[:-1])
    with pytest.raises(ValueError, match="correct disagrees with y_true"):
        make_result(LABEL, RADIUS, ABSTAINED, y_true=Y_TRUE, correct=[1, 1, 1, 0, 1, 1])
    assert derived.to_frame()["y_true"].tolist() == Y_TRUE


def test_repr_lists_the_headline_figures():
    lines = repr(RESULT).splitlines()
    assert lines[0] == (
        "CertificationResult(n_rows=6, noise='gaussian', sigma=0.5, alpha=0.001, norm='l2')"
    )
    assert lines[1] == (
        "  region: ||delta||_2 <= radius, in the units of the smoothed classifier's input"
    )
    assert lines[2] == (
        "  guarantee: each row wrong with probability <= 0.001; expected wrong <= 0.006 of "
        "6 rows; all at once with probability >= 0.994"
    )
    assert lines[3:] == [
        f"  certified accuracy at radius 0: {4 / 6:.3f}",
        f"  abstain rate: {1 / 6:.3f}",
        f"  average certified radius: {1.7 / 6:.3f}",
    ]
    without_labels = repr(make_result(LABEL, RADIUS, ABSTAINED)).splitlines()
    assert without_labels[3:] == [f"  abstain rate: {1 / 6:.3f}"]
    empty = make_result(np.array([], dtype=int), [], np.array([], dtype=bool))
    assert repr(empty).splitlines()[0] == (
        "CertificationResult(n_rows=0, noise='gaussian', sigma=0.5, alpha=0.001, norm='l2')"
    )


def per_column_result(norm="l1", abstained=(False, True)):
    return CertificationResult(
        label=np.array([1, 0]),
        radius=np.array([2.0, 0.0]),
        p_lower=np.array([0.98, 0.4]),
        abstained=np.array(abstained),
        n_samples=np.full(2, 1000),
        sigma=np.array([0.5, 0.0, 2.0]),
        alpha=0.001,
        norm=norm,
        noise="laplace",
        feature_names=np.array(["amount", "age", "hour"], dtype=object),
    )


def test_per_column_result_says_which_region_it_certifies():
    result = per_column_result()
    text = repr(result)
    assert "sigma=[0.5, 0, 2]" in text and "norm='l1'" in text
    assert "||delta / sigma||_1 <= radius over the noised columns amount, hour" in text
    assert "the other 1 column held fixed" in text
    assert result.radius_label == "L1 radius R of ||delta / sigma|| (unitless)"
    assert result.to_frame().attrs["region"] == result.region()
    assert result.region() in html.unescape(result._repr_html_())
    assert result.summary(radii=[0, 1]).loc["all", "certified@1"] == 0.5


@pytest.mark.parametrize("norm", ["l1", "l2", "linf"])
def test_per_feature_change_without_preprocessing(norm):
    # One feature changed alone: |delta_j| / sigma_j <= R whatever the norm.
    change = per_column_result(norm).per_feature_change()
    assert list(change.columns) == ["amount", "age", "hour"]
    np.testing.assert_array_equal(change.to_numpy(), [[1.0, 0.0, 4.0], [0.0, 0.0, 0.0]])


def test_per_feature_change_of_a_scalar_sigma_is_the_radius():
    result = make_result(LABEL, RADIUS, ABSTAINED, feature_names=np.array(["a", "b"]))
    change = result.per_feature_change()
    expected = np.where(ABSTAINED, 0.0, RADIUS)
    np.testing.assert_array_equal(change["a"], expected)
    np.testing.assert_array_equal(change["b"], expected)


def test_per_feature_change_needs_the_columns():
    with pytest.raises(ValueError, match="without feature_names"):
        make_result(LABEL, RADIUS, ABSTAINED).per_feature_change()


def test_unknown_norm_is_refused():
    with pytest.raises(ValueError, match="norm must be one of"):
        make_result(LABEL, RADIUS, ABSTAINED, norm="l3")


class TableParser(HTMLParser):
    """Cell texts of every table, row by row, with entities decoded; other text too."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.text, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        (self._cell if self._cell is not None else self.text).append(data)


def parse(markup):
    parser = TableParser()
    parser.feed(markup)
    return parser


def test_html_tables_hold_the_figures_and_escape_labels():
    markup = RESULT._repr_html_()
    assert "<x>" not in markup and "&lt;x&gt;" in markup
    summary_table, rows_table = parse(markup).tables
    header, *body = summary_table
    assert header[:4] == ["true class", "n_rows", "abstain_rate", "acr"]
    by_group = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in body}
    assert list(by_group) == ["all", "<x>", "a", "b"]
    expected = reference_figures(LABEL, RADIUS, ABSTAINED, Y_TRUE, [0, 0.25, 0.5, 0.75])
    for column, value in expected.items():
        assert float(by_group["all"][column]) == pytest.approx(value, rel=1e-3), column
    header, *body = rows_table
    assert header == [
        "",
        "label",
        "radius",
        "p_lower",
        "abstained",
        "n_samples",
        "correct",
        "y_true",
    ]
    assert [row[1] for row in body] == LABEL
    assert [float(row[2]) for row in body] == RADIUS
    assert body[5][7] == "<x>"


def test_html_shows_a_bounded_number_of_rows():
    n = MAX_HTML_ROWS + 15
    rng = np.random.default_rng(0)
    result = make_result(rng.integers(0, 2, n), rng.uniform(0.1, 1, n), np.zeros(n, bool))
    parsed = parse(result._repr_html_())
    rows_table = parsed.tables[1]
    assert len(rows_table) == 1 + MAX_HTML_ROWS  # header, then the first rows
    assert [float(row[2]) for row in rows_table[1:]] == pytest.approx(
        result.radius[:MAX_HTML_ROWS], rel=1e-3
    )
    assert "... 15 more rows" in "".join(parsed.text)


def test_html_of_an_empty_result():
    empty = make_result(np.array([], dtype=int), [], np.array([], dtype=bool))
    markup = empty._repr_html_()
    assert "0 rows" in markup and "<table" not in markup


def test_largest_radius_shows_in_repr_html_and_summary():
    result = make_result(LABEL, RADIUS, ABSTAINED, y_true=Y_TRUE, max_radius=1.5)
    assert repr(result).splitlines()[3] == "  largest radius n allows: 1.5 (3 sigma)"
    assert "largest radius n allows: 1.5 (3 sigma)" in result._repr_html_()
    assert result.summary().attrs["max_radius"] == 1.5
    # Kept by the views a result gives.
    assert result._subset(np.arange(2)).max_radius == 1.5
    # Per-column sigma: radii are already in sigmas.
    per_column = make_result([0], [0.4], [False], sigma=np.array([0.5, 1.0]), max_radius=2.0)
    assert "largest radius n allows: 2\n" in repr(per_column) + "\n"


def test_largest_radius_is_left_out_when_unknown():
    assert "largest radius" not in repr(RESULT) + RESULT._repr_html_()
    assert RESULT.summary().attrs["max_radius"] is None


def test_certify_reports_the_radius_of_n_agreeing_votes():
    from sksmooth.certification import clopper_pearson_lower
    from sksmooth.certification._certify import largest_radius, samples_for_radius
    from sksmooth.noise import make_noise_model

    noise = make_noise_model("gaussian", 0.5, n_features=2)
    # Cohen et al.'s table at alpha = 0.001: 1.50, 2.46, 3.20, 3.81 sigma.
    radii = [largest_radius(10**k, 0.001, noise, "l2", in_sigmas=True) for k in (2, 3, 4, 5)]
    np.testing.assert_allclose(radii, [1.50, 2.46, 3.20, 3.81], atol=0.005)
    assert largest_radius(100, 0.001, noise, "l2") == pytest.approx(0.5 * radii[0])
    assert clopper_pearson_lower(10, 10, 0.001) == pytest.approx(0.001**0.1)
    # The fewest samples, every vote agreeing, for a radius: 40 for 1 sigma at alpha = 0.001.
    assert samples_for_radius(1.0, 0.001, noise, "l2") == 40
    for r in (0.1, 0.5, 1.0, 2.0):
        n = samples_for_radius(r, 0.001, noise, "l2")
        assert largest_radius(n, 0.001, noise, "l2", in_sigmas=True) >= r
        assert largest_radius(n - 1, 0.001, noise, "l2", in_sigmas=True) < r
    uniform = make_noise_model("uniform", 1.0, n_features=2)
    assert samples_for_radius(10.0, 0.001, uniform, "linf") == np.inf
