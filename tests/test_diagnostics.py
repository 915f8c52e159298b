"""check_gradient_masking flags masked models and clears honest ones."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sksmooth import SmoothedClassifier
from sksmooth.attacks import BPDA
from sksmooth.diagnostics import GradientMaskingReport, check_gradient_masking
from sksmooth.metrics import robust_accuracy

from .conftest import MASKING_PARAMS, defence_net

EPS = 0.25
N_ROWS = 120  # test rows attacked: enough for stable rates, fast enough for CI
CHECK = {"n_random": 30, "random_state": 0}


@pytest.mark.parametrize("method", sorted(MASKING_PARAMS))
def test_every_masked_model_is_flagged(method, masked_models, tabular_task):
    _, _, X_test, y_test = tabular_task
    report = check_gradient_masking(
        masked_models[method], X_test[:N_ROWS], y_test[:N_ROWS], EPS, **CHECK
    )
    assert report.masking_suspected, report
    assert report.verdict == "gradient masking suspected"


def test_undefended_net_is_not_flagged(undefended_net, tabular_task):
    _, _, X_test, y_test = tabular_task
    report = check_gradient_masking(undefended_net, X_test[:N_ROWS], y_test[:N_ROWS], EPS, **CHECK)
    assert not report.masking_suspected, report
    # Honest numbers, not vacuous passes: PGD does flip rows, and reaches
    # every row at the large budget.
    values = {check.name: check.values for check in report.checks}
    assert values["iterative vs single-step"]["iterative"] > 0.2
    assert values["unbounded attack"]["large_eps_success"] == 1.0


def test_smoothed_classifier_is_not_flagged(tabular_task):
    X_train, y_train, X_test, y_test = tabular_task
    smoothed = SmoothedClassifier(defence_net(), sigma=0.25, n_samples=200, random_state=0)
    smoothed.fit(X_train, y_train)
    report = check_gradient_masking(smoothed, X_test[:N_ROWS], y_test[:N_ROWS], EPS, **CHECK)
    assert not report.masking_suspected, report


def test_report_reads_as_a_table(masked_models, tabular_task):
    _, _, X_test, y_test = tabular_task
    report = check_gradient_masking(
        masked_models["quantize"], X_test[:60], y_test[:60], EPS, **CHECK
    )
    assert isinstance(report, GradientMaskingReport)
    frame = report.to_frame()
    assert list(frame.columns) == ["check", "expectation", "values", "passed"]
    assert len(frame) == 5 and not frame["passed"].all()
    text = repr(report)
    assert "FAIL" in text and "verdict: gradient masking suspected" in text
    for name in frame["check"]:
        assert name in text


def test_report_gives_the_accuracy_under_the_strongest_attacks(masked_models, tabular_task):
    _, _, X_test, y_test = tabular_task
    model = masked_models["thermometer"]
    report = check_gradient_masking(model, X_test[:60], y_test[:60], EPS, **CHECK)
    adaptive = {c.name: c.values for c in report.checks}["adaptive vs plain gradient attack"]
    # Check 4's worst case over the ensemble, counted on every row given.
    survived = round(report.n_rows * (1 - adaptive["adaptive"]))
    assert report.robust_accuracy == pytest.approx(survived / 60)
    # Below what BPDA alone leaves (measured: 0.417 against 0.533).
    bpda = robust_accuracy(
        model, X_test[:60], y_test[:60], BPDA(EPS, loss="margin", random_state=0)
    )
    assert report.robust_accuracy < bpda
    line = f"robust accuracy, worst case over the attack ensemble: {report.robust_accuracy:.3f}"
    assert line in repr(report) and line in report._repr_html_()
    # A report built by hand has no such number, and says nothing about it.
    assert "worst case" not in repr(hand_made_report())


def test_runs_on_the_last_step_of_a_pipeline(masked_models, tabular_task):
    _, _, X_test, y_test = tabular_task
    pipe = make_pipeline(FunctionTransformer(), masked_models["quantize"])
    report = check_gradient_masking(pipe, X_test[:40], y_test[:40], EPS, **CHECK)
    assert report.masking_suspected


def test_bad_arguments(undefended_net, tabular_task):
    _, _, X_test, y_test = tabular_task
    with pytest.raises(ValueError, match="eps"):
        check_gradient_masking(undefended_net, X_test, y_test, 0.0)
    with pytest.raises(ValueError, match="norm"):
        check_gradient_masking(undefended_net, X_test, y_test, EPS, norm="l1")
    with pytest.raises(ValueError, match="misclassifies every row"):
        wrong = 1 - undefended_net.predict(X_test.astype(np.float32))
        check_gradient_masking(undefended_net, X_test, wrong, EPS)


def test_y_is_checked(undefended_net, tabular_task):
    _, _, X_test, y_test = tabular_task
    with pytest.raises(ValueError, match="y should be a 1d array|1d"):
        check_gradient_masking(undefended_net, X_test, np.column_stack([y_test, y_test]), EPS)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        check_gradient_masking(undefended_net, X_test, y_test[:-1], EPS)
    with pytest.raises(ValueError, match="is not one of the classes"):
        check_gradient_masking(undefended_net, X_test, y_test.astype(str), EPS)


def hand_made_report():
    from sksmooth.diagnostics import MaskingCheck

    return GradientMaskingReport(
        [
            MaskingCheck(
                "iterative vs single-step",
                "single-step <= iterative",
                {"single_step": 0.5, "iterative": 0.25},
                False,
            ),
            MaskingCheck("unbounded <attack>", "success & more", {"large_eps_success": 1.0}),
        ],
        eps=0.25,
        norm="inf",
        n_rows=40,
    )


def test_report_summary_holds_every_number():
    summary = hand_made_report().summary()
    assert summary.columns.tolist() == ["check", "quantity", "value", "passed"]
    assert summary.to_dict("records") == [
        {"check": "iterative vs single-step", "quantity": "single_step", "value": 0.5,
         "passed": False},
        {"check": "iterative vs single-step", "quantity": "iterative", "value": 0.25,
         "passed": False},
        {"check": "unbounded <attack>", "quantity": "large_eps_success", "value": 1.0,
         "passed": True},
    ]  # fmt: skip


def test_report_html_is_an_escaped_table():
    markup = hand_made_report()._repr_html_()
    assert markup.count("<table") == 1
    assert "unbounded &lt;attack&gt;" in markup and "<attack>" not in markup
    assert "success &amp; more" in markup
    # Each check's row: name, expectation, numbers, outcome.
    assert (
        "<tr><th>iterative vs single-step</th><td>single-step &lt;= iterative</td>"
        "<td>single_step=0.500, iterative=0.250</td><td>FAIL</td></tr>"
    ) in markup
    assert "<td>large_eps_success=1.000</td><td>pass</td>" in markup
    assert "eps=0.25" in markup and "40 rows" in markup
    assert "gradient masking suspected" in markup
