"""The command line demo: the comparison it prints, the files it saves, its errors."""

import ast
import contextlib
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.model_selection import train_test_split

import sksmooth._demo
from sksmooth.__main__ import main
from sksmooth._demo.per_column import (
    FRAUDSTER_COLUMNS,
    PER_COLUMN_SIGMA,
    evaluate_per_column,
    make_per_column_model,
)
from sksmooth._demo.run import evaluation_subset, oversampled_rows
from sksmooth.datasets import make_fraud

MODELS = [
    "undefended",
    "quantize",
    "thermometer",
    "distillation",
    "stochastic",
    "smoothed sigma=0.25",
    "smoothed sigma=0.5",
]
COLUMNS = [
    "model",
    "clean accuracy",
    "fraud recall",
    "eval accuracy",
    "robust PGD",
    "adaptive attack",
    "robust adaptive",
    "certified r=0.25",
    "certified r=0.5",
    "certified r=1.0",
]
N_EVAL = 20
TINY = ["--n-samples", "1500", "--n-eval", str(N_EVAL), "--n", "200", "--seed", "0"]


def run(argv):
    """Run the command line in-process; return its status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    """One small run of the demo, shared by the tests that read what it made."""
    folder = tmp_path_factory.mktemp("demo") / "not yet there"
    status, out, err = run(["demo", *TINY, "--output-dir", str(folder)])
    return status, out, err, folder


def saved_paths(out):
    return [
        Path(line.removeprefix("saved ")) for line in out.splitlines() if line.startswith("saved ")
    ]


def test_demo_exits_cleanly_and_writes_nothing_to_stderr(tiny_demo):
    status, _, err, folder = tiny_demo
    assert status == 0
    # Progress bars stay silent off a terminal.
    assert err == ""
    assert folder.is_dir()  # created, with its parents


def test_printed_table_names_every_model_and_the_units(tiny_demo):
    _, out, _, _ = tiny_demo
    header = next(line for line in out.splitlines() if line.lstrip().startswith("model"))
    for column in ("clean accuracy", "fraud recall", "robust PGD", "robust adaptive"):
        assert column in header
    table_lines = out.splitlines()[out.splitlines().index(header) + 1 :][: len(MODELS)]
    # Columns are at least two spaces apart; a model's name has single spaces.
    assert [re.split(r"\s{2,}", line.strip())[0] for line in table_lines] == MODELS
    # Each model's attack ensemble, by the attacks it ran.
    for adaptive in ("PGD+BPDA+RandomSearch", "PGD+EOT+RandomSearch", "SmoothAdv+RandomSearch"):
        assert adaptive in out
    assert "AttackEnsemble" in out and "worst case per row" in out
    assert "standardised units" in out
    assert "n/a" in out  # no certificate for the unsmoothed models


def test_printed_per_column_section_reads_certificates_in_original_units(tiny_demo):
    _, out, _, _ = tiny_demo
    section = out[out.index("smoothed per column: noise on the columns a fraudster controls") :]
    assert "account_age_days, set by the account's history" in section  # why it gets no noise
    assert "Certified fraud recall" in section and "R=1:" in section
    assert "held fixed" in section
    lines = section.splitlines()
    header = next(i for i, line in enumerate(lines) if "median certified change" in line)
    table = {line.split()[0]: line.split() for line in lines[header + 2 : header + 7]}
    assert set(table) == {*FRAUDSTER_COLUMNS, "account_age_days"}
    assert table["amount"][-1] == "euros" and table["distance_from_home_km"][-1] == "km"
    assert table["hours_since_last_txn"][-1] == "hours"
    assert table["account_age_days"][1] == "0"  # no noise on it


def test_printed_paths_exist_in_the_output_folder(tiny_demo):
    _, out, _, folder = tiny_demo
    paths = saved_paths(out)
    assert sorted(p.suffix for p in paths) == [".csv", ".png", ".svg"]
    for path in paths:
        assert path.is_file() and path.parent == folder and path.stat().st_size > 0


def test_csv_has_one_row_per_model_and_shares_in_the_unit_interval(tiny_demo):
    _, out, _, _ = tiny_demo
    (csv,) = [p for p in saved_paths(out) if p.suffix == ".csv"]
    table = pd.read_csv(csv)
    assert list(table.columns) == COLUMNS
    assert table["model"].tolist() == MODELS
    shares = table.drop(columns=["model", "adaptive attack"])
    assert ((shares >= 0) & (shares <= 1) | shares.isna()).all().all()
    smoothed = table["model"].str.startswith("smoothed")
    certified = [c for c in COLUMNS if c.startswith("certified")]
    assert table.loc[smoothed, certified].notna().all().all()
    assert table.loc[~smoothed, certified].isna().all().all()
    assert table.drop(columns=certified).notna().all().all()


def test_csv_figures_are_consistent(tiny_demo):
    _, out, _, _ = tiny_demo
    (csv,) = [p for p in saved_paths(out) if p.suffix == ".csv"]
    table = pd.read_csv(csv)
    # Robust accuracy counts evaluation rows; the adaptive column keeps plain PGD's
    # successes, and no attack makes a wrong row right.
    for column in ("eval accuracy", "robust PGD", "robust adaptive"):
        np.testing.assert_allclose(table[column] * N_EVAL, np.round(table[column] * N_EVAL))
    assert (table["robust adaptive"] <= table["robust PGD"]).all()
    assert (table["robust PGD"] <= table["eval accuracy"]).all()
    smoothed = table[table["model"].str.startswith("smoothed")]
    assert (smoothed["certified r=0.25"] >= smoothed["certified r=0.5"]).all()
    assert (smoothed["certified r=0.5"] >= smoothed["certified r=1.0"]).all()
    # With n=200 samples all agreeing, the Clopper-Pearson bound at alpha=0.001 is
    # 0.001 ** (1 / 200): no certificate of sigma=0.25 can reach radius 0.5.
    largest = 0.25 * stats.norm.ppf(0.001 ** (1 / 200))
    assert largest < 0.5
    row = table.set_index("model").loc["smoothed sigma=0.25"]
    assert row["certified r=0.5"] == 0 and row["certified r=1.0"] == 0


def test_png_is_a_drawn_figure(tiny_demo):
    from matplotlib.image import imread

    _, out, _, _ = tiny_demo
    (png,) = [p for p in saved_paths(out) if p.suffix == ".png"]
    image = imread(png)
    height, width = image.shape[:2]
    assert height >= 300 and width >= 600
    rgb = image[..., :3]
    # Not blank: many colours, and plenty of pixels away from the white background.
    colours = np.round(rgb.reshape(-1, 3) * 255).astype(int) @ np.array([65536, 256, 1])
    assert len(np.unique(colours)) > 20
    assert np.mean(rgb.min(axis=2) < 0.9) > 0.05


def test_svg_keeps_axis_labels_as_text(tiny_demo):
    _, out, _, _ = tiny_demo
    (svg,) = [p for p in saved_paths(out) if p.suffix == ".svg"]
    root = ET.parse(svg).getroot()
    texts = {
        "".join(element.itertext()).strip()
        for element in root.iter()
        if element.tag.endswith("}text")
    }
    for label in (
        "accuracy on the evaluation rows",
        "L2 radius (standardised units)",
        "certified accuracy",
        "certified fraud recall",
        "L2 radius R of ||delta / sigma|| (unitless)",
    ):
        assert label in texts
    assert set(MODELS) <= texts  # tick labels of the bar chart


@pytest.mark.slow
def test_default_size_shows_masking_collapse_and_a_certificate(tmp_path):
    status, out, _ = run(["demo", "--output-dir", str(tmp_path), "--quiet"])
    assert status == 0
    table = pd.read_csv(tmp_path / "comparison.csv").set_index("model")
    # The comparison the demo exists for: shattered-gradient defences look robust to
    # plain PGD and lose much of it to the strongest attacks; smoothing certifies a
    # share at eps.
    for method in ("quantize", "thermometer"):
        assert table.loc[method, "robust PGD"] - table.loc[method, "robust adaptive"] >= 0.1
    assert table.loc["smoothed sigma=0.5", "certified r=1.0"] > 0.3
    assert "smoothed sigma=0.5: certified accuracy at r=1" in out
    # Every mask falls to within 5 points of the undefended net (measured: undefended
    # 0.455; quantize 0.485, thermometer 0.495, distillation 0.455, stochastic 0.410;
    # under the matching adaptive attack alone they kept 0.505 to 0.710).
    undefended = table.loc["undefended", "robust adaptive"]
    for method in ("quantize", "thermometer", "distillation", "stochastic"):
        assert table.loc[method, "robust adaptive"] <= undefended + 0.05, method
    # No attack breaks a certificate: each smoothed model keeps about its floor at eps
    # (its predict votes with 500 samples, which near a tie may differ from the
    # smoothed classifier the certificate is about).
    for sigma in (0.25, 0.5):
        row = table.loc[f"smoothed sigma={sigma}"]
        assert row["robust adaptive"] >= row["certified r=1.0"] - 0.03


# ------------------------------------------------------------------ pieces


def test_evaluation_subset_is_half_fraud_when_there_is_enough():
    y = np.array([1] * 30 + [0] * 300)
    subset = evaluation_subset(y, 40, random_state=0)
    assert len(subset) == len(set(subset)) == 40 and np.sum(y[subset]) == 20
    # Too little fraud: all of it, and legitimate rows fill the rest.
    subset = evaluation_subset(y, 100, random_state=0)
    assert len(subset) == 100 and np.sum(y[subset]) == 30
    assert not np.array_equal(subset, evaluation_subset(y, 100, random_state=1))


def test_oversampling_repeats_only_fraud_rows():
    y = np.array([1] * 4 + [0] * 100)
    rows = oversampled_rows(y)
    # sqrt(100 / 4) = 5 copies of each fraud row, every legitimate row once.
    assert np.sum(y[rows] == 1) == 20 and np.sum(y[rows] == 0) == 100
    assert np.array_equal(np.unique(rows[y[rows] == 1]), np.arange(4))
    assert np.array_equal(np.bincount(rows)[4:], np.ones(100))


def test_demo_uses_only_the_public_api():
    folder = Path(sksmooth._demo.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                names = [alias.name for alias in node.names]
                inside = node.level == 1  # the demo's own modules
                parts = module.split(".") if inside else [*module.split("."), *names]
                private = [p for p in parts if p.startswith("_") and p != "__future__"]
                assert not private, f"{path.name} imports {'.' * node.level}{module}: {names}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not any(p.startswith("_") for p in alias.name.split(".")), path.name


def test_per_column_model_noises_only_the_fraudster_columns():
    X, y = make_fraud(1500, fraud_rate=0.1, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    model = make_per_column_model(random_state=0).set_params(smoothedclassifier__n_samples=50)
    model.fit(X_train, y_train)
    y_test = y_test.to_numpy()
    rows = evaluation_subset(y_test, 40, random_state=0)  # half fraud
    X_eval, y_eval = X_test.iloc[rows], y_test[rows]
    report = evaluate_per_column(model, X_test, y_test, X_eval, y_eval, n=200)
    result = report.result
    noised = result.feature_names[result.sigma > 0].tolist()
    assert sorted(noised) == sorted(FRAUDSTER_COLUMNS)
    assert result.per_column and "unitless" in result.radius_label
    scaler = model[0].named_transformers_["numeric"]
    scale = dict(zip(scaler.feature_names_in_, scaler.scale_, strict=True))
    changes = report.changes
    for column in FRAUDSTER_COLUMNS:
        assert changes.loc[column, "noise sigma"] == pytest.approx(PER_COLUMN_SIGMA * scale[column])
    assert changes.loc["account_age_days", "noise sigma"] == 0
    frauds = result.correct & (y_eval == 1)
    assert frauds.any()
    # Changing one noised column alone by up to R * sigma (in its own units) is covered.
    expected = np.median(result.radius[frauds]) * PER_COLUMN_SIGMA * scale["amount"]
    assert changes.loc["amount", "median certified change"] == pytest.approx(expected)
    assert changes.loc["account_age_days", "median certified change"] == 0
    fraud = y_eval == 1
    recall = [np.mean(result.correct[fraud] & (result.radius[fraud] >= r)) for r in report.radii]
    np.testing.assert_allclose(report.certified_fraud_recall, recall)


# ------------------------------------------------------------------ errors


def test_help_lists_the_options():
    with pytest.raises(SystemExit) as exit_info:
        run(["demo", "--help"])
    assert exit_info.value.code == 0


def test_demo_rejects_bad_options(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--n-samples", "many"])
    assert "expected an integer, got 'many'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--n", "0", "--n: must be at least 1, got 0"),
        ("--n-samples", "-5", "--n-samples: must be at least 200, got -5"),
        ("--n-samples", "1", "must be at least 200"),
        ("--n-eval", "1", "--n-eval/--n-certify: must be at least 2"),
        ("--n-certify", "0", "must be at least 2"),
        ("--sigma", "0", "--sigma: must be a finite number > 0, got 0"),
        ("--sigma", "-0.25", "must be a finite number > 0"),
        ("--eps", "nan", "--eps: must be a finite number > 0, got nan"),
        ("--eps", "inf", "must be a finite number > 0"),
        ("--radii", "-1", "--radii: must be a finite number >= 0, got -1"),
        ("--seed", "1.5", "invalid int value: '1.5'"),
    ],
)
def test_demo_rejects_out_of_range_options(option, value, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "usage:" in err


def test_demo_rejects_an_output_dir_that_is_a_file(tmp_path, capsys):
    file = tmp_path / "taken"
    file.write_text("")
    with pytest.raises(SystemExit):
        main(["demo", "--output-dir", str(file)])
    assert "exists and is not a folder" in capsys.readouterr().err


def test_demo_rejects_repeated_sigmas(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--sigma", "0.5", "0.5"])
    assert "--sigma values must differ" in capsys.readouterr().err


def test_options_default_to_the_documented_run():
    from sksmooth.__main__ import _parser

    args = _parser().parse_args(["demo"])
    assert args.output_dir == Path("sksmooth-demo")
    assert (args.n_samples, args.n_eval, args.n, args.eps) == (20_000, 200, 10_000, 1.0)
    assert args.sigma == [0.25, 0.5] and not args.quiet
    # --n-certify is the older spelling of --n-eval.
    assert _parser().parse_args(["demo", "--n-certify", "50"]).n_eval == 50
    assert _parser().parse_args(["demo", "--sigma", "0.3"]).sigma == [0.3]
    assert args.seed == 0
