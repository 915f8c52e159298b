"""Certified and robust accuracy displays, and the estimators' HTML diagrams."""

import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr

from sksmooth import (
    CertifiedAccuracyDisplay,
    GradientMaskedClassifier,
    RobustAccuracyDisplay,
    SmoothedClassifier,
    certify,
)
from sksmooth.attacks import PGD, RandomSearch
from sksmooth.certification import CertificationResult
from sksmooth.metrics import robust_accuracy

from .conftest import tiny_net

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def random_result(seed, n=60, n_classes=3, sigma=0.25, **fields):
    """Certificates of ``n`` rows with known labels: about 70% right, 20% abstained."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, n)
    label = np.where(rng.random(n) < 0.7, y_true, rng.integers(0, n_classes, n))
    abstained = rng.random(n) < 0.2
    radius = np.where(abstained, 0.0, rng.uniform(0.01, 4 * np.max(sigma), n))
    return CertificationResult(
        label=label,
        radius=radius,
        p_lower=np.where(abstained, 0.4, 0.9),
        abstained=abstained,
        n_samples=np.full(n, 1000),
        sigma=sigma,
        alpha=0.001,
        y_true=y_true,
        **fields,
    )


def reference_curve(result, radii, rows=None):
    """Certified accuracy at each radius by a loop over rows."""
    rows = np.ones(len(result), bool) if rows is None else rows
    members = [i for i in range(len(result)) if rows[i]]
    right = [i for i in members if not result.abstained[i] and result.label[i] == result.y_true[i]]
    return [sum(result.radius[i] >= r for i in right) / len(members) for r in radii]


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


# ------------------------------------------------------------ certified accuracy


def test_certified_curve_is_the_exact_step_curve():
    result = random_result(0)
    display = CertifiedAccuracyDisplay.from_result(result)
    right = (result.label == result.y_true) & ~result.abstained
    expected_radii = sorted({0.0, *result.radius[right].tolist()})
    expected_radii.append(np.nextafter(expected_radii[-1], np.inf))  # where the curve drops to 0
    line = display.line_
    np.testing.assert_array_equal(line.get_xdata(), expected_radii)
    np.testing.assert_allclose(line.get_ydata(), reference_curve(result, expected_radii))
    assert line.get_ydata()[-1] == 0 and line.get_ydata()[-2] > 0
    assert line.get_ydata()[0] == pytest.approx(np.mean(right))
    assert line.get_drawstyle() == "steps-pre"  # a row certified at r counts at r
    ax = display.ax_
    assert ax.get_xlabel() == "L2 radius" and ax.get_ylabel() == "certified accuracy"
    bottom, top = ax.get_ylim()
    assert bottom <= 0 and top >= 1
    assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] >= max(expected_radii)
    assert legend_texts(ax) == ["sigma=0.25"]
    assert display.figure_ is ax.figure and display.lines_ == [line]


def test_certified_curve_on_given_radii():
    result = random_result(1)
    radii = [0.0, 0.1, 0.35, 0.8]
    display = CertifiedAccuracyDisplay.from_result(result, radii=radii, name="model")
    np.testing.assert_allclose(display.line_.get_ydata(), reference_curve(result, radii))
    assert display.line_.get_label() == "model"


def test_curves_for_several_sigmas_share_one_axes():
    small, large = random_result(2, sigma=0.25), random_result(3, sigma=1.0)
    first = CertifiedAccuracyDisplay.from_result(small)
    second = CertifiedAccuracyDisplay.from_result(large, ax=first.ax_)
    assert second.ax_ is first.ax_ and len(first.ax_.lines) == 2
    assert legend_texts(first.ax_) == ["sigma=0.25", "sigma=1"]
    # The x axis grew to take in the larger radii of the second curve.
    assert first.ax_.get_xlim()[1] >= large.radius.max()
    assert second.line_.get_color() != first.line_.get_color()


def test_per_class_curves_are_each_class_share_certified():
    result = random_result(4)
    display = CertifiedAccuracyDisplay.from_result(result, per_class=True, name="net")
    assert len(display.lines_) == 3 and display.line_ == display.lines_
    assert legend_texts(display.ax_) == ["net, class 0", "net, class 1", "net, class 2"]
    radii = display.lines_[0].get_xdata()
    for c, line in enumerate(display.lines_):
        expected = reference_curve(result, radii, rows=result.y_true == c)
        np.testing.assert_allclose(line.get_ydata(), expected, err_msg=f"class {c}")


def test_per_class_needs_the_true_labels():
    result = random_result(5)
    with_correct_only = CertificationResult(
        **{k: getattr(result, k) for k in ("label", "radius", "p_lower", "abstained")},
        n_samples=result.n_samples,
        sigma=result.sigma,
        alpha=result.alpha,
        correct=result.correct,
    )
    CertifiedAccuracyDisplay.from_result(with_correct_only)  # one curve needs only `correct`
    with pytest.raises(ValueError, match="per_class=True needs the true labels"):
        CertifiedAccuracyDisplay.from_result(with_correct_only, per_class=True)
    display = CertifiedAccuracyDisplay.from_result(
        with_correct_only, y_true=result.y_true, per_class=True
    )
    assert len(display.lines_) == 3


def test_certified_display_rejects_bad_input():
    result = random_result(6)
    unlabelled = CertificationResult(
        **{k: getattr(result, k) for k in ("label", "radius", "p_lower", "abstained")},
        n_samples=result.n_samples,
        sigma=result.sigma,
        alpha=result.alpha,
    )
    with pytest.raises(ValueError, match="needs the true labels"):
        CertifiedAccuracyDisplay.from_result(unlabelled)
    with pytest.raises(TypeError, match="CertificationResult"):
        CertifiedAccuracyDisplay.from_result(result.to_frame())
    with pytest.raises(ValueError, match=">= 0"):
        CertifiedAccuracyDisplay.from_result(result, radii=[-0.5, 0.5])
    with pytest.raises(ValueError, match="strictly increasing"):
        CertifiedAccuracyDisplay.from_result(result, radii=[0.5, 0.1])
    with pytest.raises(ValueError, match="one label per row"):
        CertifiedAccuracyDisplay.from_result(unlabelled, y_true=result.y_true[:-1])
    with pytest.raises(ValueError, match="correct disagrees"):
        CertifiedAccuracyDisplay.from_result(result, y_true=(result.y_true + 1) % 3)
    display = CertifiedAccuracyDisplay(radii=[0, 1], certified_accuracy=[0.5, 0.2, 0.1])
    with pytest.raises(ValueError, match="one value"):
        display.plot()
    display = CertifiedAccuracyDisplay(radii=[0, 1], certified_accuracy=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        display.plot()
    display = CertifiedAccuracyDisplay(radii=[0, 1], certified_accuracy=[[0.5, 0.2], [0.4, 0.1]])
    with pytest.raises(ValueError, match="list of 2 names"):
        display.plot(name="one name")


def test_x_label_says_what_the_radius_measures():
    l1 = CertifiedAccuracyDisplay.from_result(random_result(10, noise="laplace", norm="l1"))
    assert l1.ax_.get_xlabel() == "L1 radius"
    assert legend_texts(l1.ax_) == ["laplace sigma=0.25"]
    per_column = random_result(11, sigma=np.array([0.5, 0.0, 0.25]))
    display = CertifiedAccuracyDisplay.from_result(per_column)
    assert display.ax_.get_xlabel() == per_column.radius_label
    assert "unitless" in display.ax_.get_xlabel()


def test_curves_of_another_kind_of_radius_are_refused():
    l2 = CertifiedAccuracyDisplay.from_result(random_result(12))
    l1 = random_result(13, noise="laplace", norm="l1")
    with pytest.raises(ValueError, match="'L2 radius'.*'L1 radius'"):
        CertifiedAccuracyDisplay.from_result(l1, ax=l2.ax_)
    per_column = random_result(14, sigma=np.array([0.5, 0.0, 0.25]))
    with pytest.raises(ValueError, match=r"'L2 radius'.*'L2 radius R of"):
        CertifiedAccuracyDisplay.from_result(per_column, ax=l2.ax_)
    assert len(l2.ax_.lines) == 1  # nothing drawn by a refused curve
    # The check reads what the axes hold, not their label, which stays the user's.
    l2.ax_.set_xlabel("L2 radius (standardised units)")
    CertifiedAccuracyDisplay.from_result(random_result(15, sigma=0.5), ax=l2.ax_)
    assert len(l2.ax_.lines) == 2
    assert l2.ax_.get_xlabel() == "L2 radius (standardised units)"  # not overwritten
    # Attack budgets of another norm, or of no norm said, are refused too.
    with pytest.raises(ValueError, match="'L2 radius'.*'attack budget eps \\(L1\\)'"):
        RobustAccuracyDisplay.from_accuracies([0, 0.5], [0.9, 0.5], norm="l1", ax=l2.ax_)
    with pytest.raises(ValueError, match="'attack budget eps'.*Give the RobustAccuracyDisplay"):
        RobustAccuracyDisplay.from_accuracies([0, 0.5], [0.9, 0.5], ax=l2.ax_)
    assert len(l2.ax_.lines) == 2


def test_certified_and_attack_curves_of_one_norm_share_axes_labelled_for_both():
    # Before: each display labelled the axes for its own curves alone (or refused
    # the other's, although an L2 radius and an L2 budget are one distance).
    certified = CertifiedAccuracyDisplay.from_result(random_result(30), name="sigma=0.25")
    attacked = RobustAccuracyDisplay.from_accuracies(
        [0, 0.5], [0.9, 0.4], name="PGD", norm="l2", ax=certified.ax_
    )
    ax = certified.ax_
    assert attacked.ax_ is ax and len(ax.lines) == 2
    assert ax.get_xlabel() == "attack budget eps / certified radius (L2)"
    assert ax.get_ylabel() == "accuracy"  # no longer "certified accuracy" for both
    assert legend_texts(ax) == ["sigma=0.25", "PGD"]
    # The other order, and a third curve: the same labels.
    attacked = RobustAccuracyDisplay.from_accuracies([0, 0.5], [0.9, 0.4], norm="l2")
    CertifiedAccuracyDisplay.from_result(random_result(31), ax=attacked.ax_)
    assert attacked.ax_.get_xlabel() == "attack budget eps / certified radius (L2)"
    assert attacked.ax_.get_ylabel() == "accuracy"
    # L-inf attacks and L-inf certificates meet too, whatever each calls the norm.
    linf = RobustAccuracyDisplay.from_accuracies([0, 0.1], [0.9, 0.4], norm=np.inf)
    CertifiedAccuracyDisplay.from_result(random_result(32, norm="linf"), ax=linf.ax_)
    assert linf.ax_.get_xlabel() == "attack budget eps / certified radius (L-inf)"


def test_labels_a_user_set_stay_when_curves_are_added():
    display = RobustAccuracyDisplay.from_accuracies([0, 0.5], [0.9, 0.4], norm="l2")
    display.ax_.set_ylabel("share of frauds still caught")
    CertifiedAccuracyDisplay.from_result(random_result(33), ax=display.ax_)
    # The user's y label stays; the x label, still the display's, names both curves.
    assert display.ax_.get_ylabel() == "share of frauds still caught"
    assert display.ax_.get_xlabel() == "attack budget eps / certified radius (L2)"


def test_unitless_radii_of_another_sigma_are_refused():
    first = CertifiedAccuracyDisplay.from_result(random_result(20, sigma=np.array([0.5, 0.5])))
    # The same sigma again: the same region, so the same scale.
    same = random_result(21, sigma=np.array([0.5, 0.5]))
    CertifiedAccuracyDisplay.from_result(same, ax=first.ax_)
    other = random_result(22, sigma=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"sigma = \[0.5, 0.5\].*sigma is \[1.0, 0.0\]"):
        CertifiedAccuracyDisplay.from_result(other, ax=first.ax_)
    assert len(first.ax_.lines) == 2


def test_legend_of_per_column_sigma():
    sigma = np.array([0.5, 0.0, 0.25])
    named = random_result(16, sigma=sigma, feature_names=np.array(["amount", "age", "hour"]))
    display = CertifiedAccuracyDisplay.from_result(named)
    assert legend_texts(display.ax_) == ["sigma per column (amount=0.5, hour=0.25)"]
    unnamed = CertifiedAccuracyDisplay.from_result(random_result(17, sigma=sigma))
    assert legend_texts(unnamed.ax_) == ["sigma per column (x0=0.5, x2=0.25)"]
    many = CertifiedAccuracyDisplay.from_result(
        random_result(18, sigma=np.r_[np.full(4, 0.5), 0.0]), per_class=True
    )
    assert legend_texts(many.ax_)[0] == "sigma per column (4 of 5 noised), class 0"


def test_from_certified_follows_the_norm_of_the_certificates():
    linf = random_result(19, norm="linf")
    display = RobustAccuracyDisplay.from_certified(linf, eps=[0, 0.1, 0.2])
    assert display.ax_.get_xlabel() == "attack budget eps (L-inf)"
    np.testing.assert_allclose(display.accuracy, reference_curve(linf, [0, 0.1, 0.2]))
    # An L-inf attack curve joins it; L2 certificates do not.
    RobustAccuracyDisplay.from_accuracies([0, 0.2], [0.9, 0.4], norm="inf", ax=display.ax_)
    with pytest.raises(ValueError, match=r"\(L-inf\).*\(L2\)"):
        RobustAccuracyDisplay.from_certified(random_result(20), eps=[0, 0.1], ax=display.ax_)
    per_column = random_result(21, sigma=np.array([0.5, 0.0, 0.25]))
    with pytest.raises(ValueError, match="per-column sigma.*CertifiedAccuracyDisplay"):
        RobustAccuracyDisplay.from_certified(per_column, eps=[0, 0.1])


@pytest.fixture(scope="module")
def smoothed_iris():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        SmoothedClassifier(LogisticRegression(max_iter=500), sigma=0.5, random_state=0),
    )
    return pipe.fit(X, y), X[::5], y[::5]


def test_from_estimator_plots_the_certificates_of_a_pipeline(smoothed_iris):
    pipe, X, y = smoothed_iris
    display = CertifiedAccuracyDisplay.from_estimator(pipe, X, y, radii=[0, 0.25, 0.5], n=300)
    # certify is deterministic given random_state: the same certificates, separately.
    result = certify(pipe, X, y, n=300)
    right = result.correct
    expected = [np.mean(right & (result.radius >= r)) for r in (0, 0.25, 0.5)]
    np.testing.assert_allclose(display.line_.get_ydata(), expected)
    assert display.line_.get_label() == "sigma=0.5"
    per_class = CertifiedAccuracyDisplay.from_estimator(pipe, X, y, per_class=True, n=300)
    assert legend_texts(per_class.ax_) == [f"sigma=0.5, class {c}" for c in range(3)]


def test_from_estimator_rejects_unfitted_or_unlabelled(smoothed_iris):
    _, X, y = smoothed_iris
    unfitted = SmoothedClassifier(LogisticRegression())
    with pytest.raises(NotFittedError):
        CertifiedAccuracyDisplay.from_estimator(unfitted, X, y)
    with pytest.raises(ValueError, match="true labels"):
        CertifiedAccuracyDisplay.from_estimator(smoothed_iris[0], X, None)
    with pytest.raises(TypeError, match="cannot certify"):
        CertifiedAccuracyDisplay.from_estimator(LogisticRegression().fit(X, y), X, y)


def test_figure_is_written_to_png(tmp_path):
    display = CertifiedAccuracyDisplay.from_result(random_result(7), per_class=True)
    path = tmp_path / "certified.png"
    display.figure_.savefig(path, dpi=50)
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 0 and image.shape[1] > 0
    assert image.std() > 0  # something was drawn


def test_plotting_without_matplotlib_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    display = CertifiedAccuracyDisplay(radii=[0, 1], certified_accuracy=[0.5, 0.2])
    with pytest.raises(ImportError, match=r"pip install sksmooth\[plot\]"):
        display.plot()
    with pytest.raises(ImportError, match=r"sksmooth\[plot\]"):
        RobustAccuracyDisplay.from_accuracies([0, 1], [0.5, 0.2])


# ------------------------------------------------------------ robust accuracy


@pytest.fixture(scope="module")
def net_task():
    X, y = make_classification(300, n_features=6, n_informative=4, random_state=0)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    torch.manual_seed(0)
    net = tiny_net(max_epochs=8, module__input_units=6, module__output_units=2).fit(
        X[:200], y[:200]
    )
    return net, X[200:260], y[200:260]


def test_robust_curve_matches_attacks_at_each_budget(net_task):
    net, X, y = net_task
    attack = PGD(0.3, steps=5, random_state=0)
    eps = [0.0, 0.1, 0.3]
    display = RobustAccuracyDisplay.from_estimator(net, X, y, attack=attack, eps=eps)
    expected = [robust_accuracy(net, X, y, PGD(e, steps=5, random_state=0)) for e in eps]
    np.testing.assert_allclose(display.line_.get_ydata(), expected)
    np.testing.assert_allclose(display.line_.get_xdata(), eps)
    assert expected[0] == pytest.approx(np.mean(net.predict(X) == y))  # eps=0: clean accuracy
    assert expected[-1] < expected[0]  # the attack does something
    assert attack.eps == 0.3 and not hasattr(attack, "space_")  # the user's attack untouched
    ax = display.ax_
    assert ax.get_xlabel() == "attack budget eps (L-inf)" and ax.get_ylabel() == "accuracy"
    assert legend_texts(ax) == ["NeuralNetClassifier, PGD"]


def test_default_legend_names_the_masking_defence(net_task):
    _, X, y = net_task
    eps = [0.0, 0.3]
    labels = []
    ax = None
    for method in ("quantize", "thermometer"):
        masked = GradientMaskedClassifier(
            tiny_net(max_epochs=3), method=method, levels=4, random_state=0
        ).fit(X, y)
        attack = PGD(0.3, steps=3, random_state=0)
        display = RobustAccuracyDisplay.from_estimator(masked, X, y, attack=attack, eps=eps, ax=ax)
        ax = display.ax_
        labels.append(display.line_.get_label())
    # Before: "GradientMaskedClassifier, PGD" twice, one legend entry like the other.
    assert labels == [
        "quantize (GradientMaskedClassifier), PGD",
        "thermometer (GradientMaskedClassifier), PGD",
    ]
    assert legend_texts(ax) == labels


def test_robust_curve_defaults_to_the_attack_ensemble(net_task):
    net, X, y = net_task
    X, y = X[:30], y[:30]
    eps = [0.0, 0.3]
    display = RobustAccuracyDisplay.from_estimator(net, X, y, eps=eps, norm="l2", random_state=0)
    expected = [robust_accuracy(net, X, y, eps=e, norm="l2", random_state=0) for e in eps]
    np.testing.assert_allclose(display.accuracy, expected)
    assert display.line_.get_label() == "NeuralNetClassifier, AttackEnsemble"
    assert display.ax_.get_xlabel() == "attack budget eps (L2)"
    with pytest.raises(TypeError, match="norm is for the default attack only"):
        RobustAccuracyDisplay.from_estimator(net, X, y, attack=PGD(0.1), eps=eps, norm="l2")


def test_attacks_and_certificates_share_one_axes(smoothed_iris):
    pipe, X, y = smoothed_iris
    eps = [0.0, 0.25, 0.5]
    attack = RandomSearch(0.1, norm="l2", n_queries=10, random_state=0)
    empirical = RobustAccuracyDisplay.from_estimator(pipe, X, y, attack=attack, eps=eps)
    certified = RobustAccuracyDisplay.from_certified(pipe, X, y, eps=eps, ax=empirical.ax_, n=300)
    result = certify(pipe, X, y, n=300)
    expected = [np.mean(result.correct & (result.radius >= e)) for e in eps]
    np.testing.assert_allclose(certified.line_.get_ydata(), expected)
    assert legend_texts(empirical.ax_) == [
        "SmoothedClassifier, RandomSearch",
        "sigma=0.5 (certified, lower bound)",
    ]
    assert certified.line_.get_linestyle() == "--"
    assert empirical.ax_.get_xlabel() == "attack budget eps (L2)"


def test_from_certified_takes_a_result():
    result = random_result(8)
    eps = [0.0, 0.2, 0.6]
    display = RobustAccuracyDisplay.from_certified(result, eps=eps, name="smoothed")
    np.testing.assert_allclose(display.accuracy, reference_curve(result, eps))
    assert display.line_.get_label() == "smoothed (certified, lower bound)"
    with pytest.raises(TypeError, match="only for an estimator"):
        RobustAccuracyDisplay.from_certified(result, np.zeros((60, 2)), eps=eps)
    unlabelled = CertificationResult(
        **{k: getattr(result, k) for k in ("label", "radius", "p_lower", "abstained")},
        n_samples=result.n_samples,
        sigma=result.sigma,
        alpha=result.alpha,
    )
    with pytest.raises(ValueError, match="true labels"):
        RobustAccuracyDisplay.from_certified(unlabelled, eps=eps)
    labelled = RobustAccuracyDisplay.from_certified(unlabelled, y=result.y_true, eps=eps)
    np.testing.assert_allclose(labelled.accuracy, display.accuracy)


def test_from_accuracies_and_its_checks():
    display = RobustAccuracyDisplay.from_accuracies(
        [0, 0.1, 0.2], [0.9, 0.5, 0.1], name="paper", norm="linf"
    )
    assert display.line_.get_ydata().tolist() == [0.9, 0.5, 0.1]
    assert display.ax_.get_xlabel() == "attack budget eps (L-inf)"
    with pytest.raises(ValueError, match="3 points"):
        RobustAccuracyDisplay.from_accuracies([0, 0.1, 0.2], [0.9, 0.5])
    with pytest.raises(ValueError, match=">= 0"):
        RobustAccuracyDisplay.from_accuracies([-0.1, 0.2], [0.9, 0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        RobustAccuracyDisplay.from_accuracies([0, 0.2], [0.9, -0.5])
    with pytest.raises(ValueError, match="norm"):
        RobustAccuracyDisplay.from_accuracies([0, 0.2], [0.9, 0.5], norm="l7")
    mixed = r"'attack budget eps \(L-inf\)'.*'attack budget eps \(L2\)'"
    with pytest.raises(ValueError, match=mixed):
        RobustAccuracyDisplay.from_accuracies([0, 0.5], [0.9, 0.8], norm="l2", ax=display.ax_)
    assert len(display.ax_.lines) == 1  # refused before drawing anything


def test_robust_display_rejects_bad_estimator_or_attack(net_task):
    net, X, y = net_task
    with pytest.raises(TypeError, match="attack must be an attack"):
        RobustAccuracyDisplay.from_estimator(net, X, y, attack="pgd", eps=[0, 0.1])
    with pytest.raises(NotFittedError):
        RobustAccuracyDisplay.from_estimator(tiny_net(), X, y, attack=PGD(0.1), eps=[0, 0.1])
    with pytest.raises(ValueError, match="strictly increasing"):
        RobustAccuracyDisplay.from_estimator(net, X, y, attack=PGD(0.1), eps=[0.2, 0.1])
    with pytest.raises(ValueError, match="both X and y"):
        RobustAccuracyDisplay.from_certified(net, X, eps=[0, 0.1])


# ------------------------------------------------------------ estimator diagrams


def test_estimator_html_diagrams_show_their_parameters():
    smoothed = SmoothedClassifier(tiny_net(max_epochs=3), sigma=0.5)
    masked = GradientMaskedClassifier(tiny_net(), method="quantize", levels=4)
    for estimator in (smoothed, masked):
        markup = estimator_html_repr(estimator)
        for name in estimator.get_params(deep=False):
            assert f">{name}<" in markup, (type(estimator).__name__, name)
        assert "max_epochs" in markup  # the skorch net's own settings are shown too
        assert "Not fitted" in markup
    assert ">sigma<" in smoothed._repr_html_()  # what a notebook shows


def test_certified_accuracy_display_at_k_categorical_changes():
    base = random_result(3, n_classes=2)
    table = np.stack([base.radius, base.radius * 0.5], axis=1)
    result = CertificationResult(
        **{f: getattr(base, f) for f in ("label", "radius", "p_lower", "abstained", "n_samples")},
        sigma=0.25,
        alpha=0.001,
        y_true=base.y_true,
        categorical_radius=table,
        categorical_features=np.array([0]),
        categorical_noise=np.array([0.3]),
    )
    plain = CertifiedAccuracyDisplay.from_result(result)
    one = CertifiedAccuracyDisplay.from_result(result, categorical_changes=1, ax=plain.ax_)
    view = result.with_categorical_changes(1)
    np.testing.assert_allclose(one.certified_accuracy, reference_curve(view, one.radii))
    assert legend_texts(plain.ax_) == ["sigma=0.25", "sigma=0.25, 1 categorical change(s)"]
    with pytest.raises(ValueError, match="between 0 and the 1"):
        CertifiedAccuracyDisplay.from_result(result, categorical_changes=2)


def test_html_view_shows_every_categorical_count():
    base = random_result(4, n_classes=2)
    result = CertificationResult(
        **{f: getattr(base, f) for f in ("label", "radius", "p_lower", "abstained", "n_samples")},
        sigma=0.25,
        alpha=0.001,
        y_true=base.y_true,
        categorical_radius=np.stack([base.radius, base.radius * 0.5], axis=1),
        categorical_features=np.array([0]),
        categorical_noise=np.array([0.3]),
    )
    page = result._repr_html_()
    assert "radius_k1" in page and "|k=1" in page
    assert "categorical column(s) held fixed" in page
