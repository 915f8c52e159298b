"""The command line demo."""

import pytest

from sksmooth.__main__ import main


def test_demo_prints_clean_and_certified_metrics(capsys):
    assert main(["demo", "--n-samples", "3000", "--n-certify", "60", "--n", "500"]) == 0
    out = capsys.readouterr().out
    for text in ("clean accuracy", "fraud recall", "certified accuracy", "certified fraud recall"):
        assert text in out
    # One table row per radius.
    assert "0.750" in out


def test_demo_rejects_bad_options(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--n-samples", "many"])
    with pytest.raises(SystemExit):
        main([])


@pytest.mark.parametrize(
    "option, value", [("--n", "0"), ("--n-samples", "1"), ("--sigma", "0"), ("--n-certify", "0")]
)
def test_demo_rejects_out_of_range_options(option, value, capsys):
    with pytest.raises(SystemExit):
        main(["demo", option, value])
    assert "must be" in capsys.readouterr().err
