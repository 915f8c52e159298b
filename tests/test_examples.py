"""Every example runs to the end (slow: about a minute in all)."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples write their figures to the working directory
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out  # each example prints its results
