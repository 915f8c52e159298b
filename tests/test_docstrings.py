"""Every public name has a valid numpydoc docstring."""

import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

import sksmooth  # noqa: E402
import sksmooth.attacks  # noqa: E402
import sksmooth.certification  # noqa: E402
import sksmooth.datasets  # noqa: E402
import sksmooth.diagnostics  # noqa: E402
import sksmooth.nets  # noqa: E402

# Checks scikit-learn's own docstrings do not follow either: extended
# summaries and See Also everywhere, Examples on every method, and
# "name : type" lines in Returns.
IGNORED = {"ES01", "SA01", "EX01", "RT02"}


def public_names():
    modules = (
        sksmooth,
        sksmooth.attacks,
        sksmooth.certification,
        sksmooth.datasets,
        sksmooth.diagnostics,
        sksmooth.nets,
    )
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            yield f"{module.__name__}.{name}"
            if inspect.isclass(obj):
                for method, _ in inspect.getmembers(obj, inspect.isfunction):
                    if not method.startswith("_") and method in vars(obj):
                        yield f"{module.__name__}.{name}.{method}"


@pytest.mark.parametrize("name", sorted(set(public_names())))
def test_docstring_is_valid(name):
    errors = [
        f"{code}: {message}"
        for code, message in numpydoc_validate.validate(name)["errors"]
        if code not in IGNORED
    ]
    assert not errors, "\n".join(errors)
