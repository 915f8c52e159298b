"""The package's floors: no module imports one above it.

From the ground up: shared helpers; noise and certification statistics
(numpy/scipy) and Monte Carlo vote counting; adapters and training; the
estimators; attacks, metrics and diagnostics; displays; the demo and the
command line. The top-level package re-exports the public API, which the
demo uses.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sksmooth"

FLOORS = {
    "sksmooth.utils": 1,
    "sksmooth._labels": 1,
    "sksmooth._progress": 1,
    "sksmooth._counter_noise": 1,
    "sksmooth.datasets": 1,
    "sksmooth.nets": 1,
    "sksmooth.noise": 2,
    "sksmooth.certification": 2,
    "sksmooth._monte_carlo": 2,
    "sksmooth._adapters": 3,
    "sksmooth._training": 3,
    "sksmooth._defences": 3,
    "sksmooth.training": 3,
    "sksmooth.denoising": 3,
    "sksmooth.smoothing": 4,
    "sksmooth.masking": 4,
    "sksmooth.attacks": 5,
    "sksmooth.metrics": 5,
    "sksmooth.diagnostics": 5,
    "sksmooth.display": 6,
    "sksmooth._demo": 7,
    "sksmooth.__main__": 7,
    "sksmooth": 8,
}


def floor_of(module: str) -> int:
    owner = max((k for k in FLOORS if module == k or module.startswith(k + ".")), key=len)
    return FLOORS[owner]


def module_name(path: Path) -> tuple[str, str]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def imports_of(path: Path) -> set[str]:
    module, package = module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            found.add(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sksmooth"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sksmooth"))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_one_above_it(path):
    module, _ = module_name(path)
    above = [
        target
        for target in imports_of(path)
        if floor_of(target) > floor_of(module)
        # The demo and the command line use the public API the top level exports.
        and not (target == "sksmooth" and floor_of(module) == 7)
    ]
    assert not above, f"{module} (floor {floor_of(module)}) imports {above}"


def test_statistics_need_no_torch():
    for path in (PACKAGE / "certification").glob("*.py"):
        assert "torch" not in {name.split(".")[0] for name in _absolute_imports(path)}, path


def test_only_the_noise_module_writes_a_noise_draw():
    for path in SOURCES:
        if path.name == "noise.py":
            continue
        text = path.read_text()
        for call in ("normal_(", "torch.randn(", "norm.ppf(", "ndtri("):
            assert call not in text, f"{path.relative_to(PACKAGE)} writes {call}"


def _absolute_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module)
    return names
