"""The README's code runs as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_quickstart_runs(capsys):
    blocks = python_blocks()
    assert blocks, "README has no python quickstart"
    exec(compile(blocks[0], "README quickstart", "exec"), {})
    out = capsys.readouterr().out
    assert "accuracy:" in out and "certified accuracy at radius 0.5:" in out


def test_tabular_threat_model_runs(capsys):
    # On fewer rows and samples; the one-hot columns of the preprocessor are NaN.
    block = next(block for block in python_blocks() if "per_feature_change" in block)
    block = block.replace("make_fraud(20_000,", "make_fraud(1_500,").replace("n=10_000", "n=500")
    namespace = {}
    with pytest.warns(UserWarning, match="not affine"):
        exec(compile(block, "README tabular threat models", "exec"), namespace)
    median = namespace["change"][namespace["caught"]].median()
    assert median["amount"] > 0 and median["account_age_days"] == 0
    assert "over the noised columns amount" in capsys.readouterr().out


def test_the_denoised_frozen_model_runs(capsys):
    # On fewer rows and samples.
    block = next(block for block in python_blocks() if "denoiser=" in block)
    block = block.replace("make_fraud(20_000,", "make_fraud(1_500,").replace("n=2_000", "n=200")
    block = block.replace("make_fraud(1_000,", "make_fraud(100,")
    namespace = {}
    exec(compile(block, "README denoised frozen model", "exec"), namespace)
    assert namespace["smoothed"].denoiser_ is not None
    assert "certified accuracy at radius 0.25:" in capsys.readouterr().out


def test_says_how_to_run_on_one_core():
    text = README.read_text()
    assert "torch.set_num_threads(1)" in text and "OMP_NUM_THREADS=1" in text
