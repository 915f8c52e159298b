"""The README's quickstart runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "README has no python quickstart"
    exec(compile(blocks[0], "README quickstart", "exec"), {})
    out = capsys.readouterr().out
    assert "accuracy:" in out and "certified accuracy at radius 0.5:" in out
