"""The documentation covers the public API and the examples, and its sources are sound.

Fast checks without a Sphinx build; the build itself is ``make docs`` (and the
slow test at the end, without running the examples).
"""

import ast
import importlib
import importlib.util
import inspect
import io
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sksmooth

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))


@pytest.fixture
def conf(monkeypatch):
    """docs/conf.py as a module; sys.path is restored afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("sksmooth_docs_conf", DOCS / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sources(conf):
    return conf.generated_sources


# ------------------------------------------------------------------ conf


def test_conf_imports_with_the_extensions_the_site_needs(conf):
    for extension in (
        "sphinx.ext.autodoc",
        "sphinx.ext.autosummary",
        "sphinx.ext.intersphinx",
        "numpydoc",
        "sphinx_gallery.gen_gallery",
    ):
        assert extension in conf.extensions
    assert conf.html_theme == "pydata_sphinx_theme"
    assert conf.release == sksmooth.__version__
    assert conf.autosummary_generate is True


@pytest.mark.parametrize(
    ("value", "offline"), [(None, False), ("", False), ("0", False), ("1", True), ("yes", True)]
)
def test_offline_builds_drop_the_links_to_other_projects(monkeypatch, value, offline):
    if value is None:
        monkeypatch.delenv("SKSMOOTH_DOCS_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("SKSMOOTH_DOCS_OFFLINE", value)
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("sksmooth_docs_conf", DOCS / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    assert conf.OFFLINE is offline
    assert bool(conf.intersphinx_mapping) is not offline
    if not offline:
        assert {"python", "numpy", "sklearn", "torch", "skorch"} <= set(conf.intersphinx_mapping)


# ------------------------------------------------------------ API reference


def public_modules_with_all():
    """Every importable sksmooth module with no private part in its name that has ``__all__``."""
    found = [sksmooth]
    for info in pkgutil.walk_packages(sksmooth.__path__, prefix="sksmooth."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "__all__"):
            found.append(module)
    return found


def autosummary_entries(page: str) -> list:
    """(current module, name) for every item of every autosummary table of ``page``."""
    entries, module, in_table = [], None, False
    for line in page.splitlines():
        current = re.match(r"\.\. (?:py:)?(?:current)?module:: (\S+)$", line)
        if current:
            module, in_table = current.group(1), False
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and re.match(r"   [~\w]", line) and not line.strip().startswith(":"):
            entries.append((module, line.strip().lstrip("~")))
        elif line and not line.startswith(" "):
            in_table = False
    return entries


def test_every_public_module_is_documented_or_only_re_exports(sources):
    documented = set(sources.API_MODULES)
    for module in public_modules_with_all():
        if module.__name__ in documented:
            continue
        not_at_top = [
            name
            for name in module.__all__
            if getattr(sksmooth, name, None) is not getattr(module, name)
        ]
        assert not not_at_top, (
            f"{module.__name__} is public and has names the top level does not re-export "
            f"({not_at_top}): add it to API_MODULES in docs/_ext/generated_sources.py."
        )


def test_every_name_of_every_all_is_in_the_api_reference(sources):
    pages = sources.api_pages()
    for module in sources.public_modules():
        page = pages[f"{sources.API_DIR}/{module.__name__}.rst"]
        entries = autosummary_entries(page)
        for name in module.__all__:
            if inspect.isclass(getattr(module, name)) or callable(getattr(module, name)):
                homes = [home for home, entry in entries if entry == name]
                assert homes, f"{module.__name__}.{name} is not in the API reference"
                # The table points at the very object: the module's own or a re-export.
                home = importlib.import_module(homes[0])
                assert getattr(home, name) is getattr(module, name)
            else:
                assert f"``{module.__name__}.{name}``" in page


def test_re_exported_objects_have_one_page_under_the_top_level(sources):
    pages = sources.api_pages()
    certification = pages[f"{sources.API_DIR}/sksmooth.certification.rst"]
    entries = autosummary_entries(certification)
    assert ("sksmooth", "CertificationResult") in entries
    assert ("sksmooth.certification", "clopper_pearson_lower") in entries
    assert ("sksmooth.certification", "CertificationResult") not in entries


def test_the_api_page_lists_every_generated_module_page(sources):
    api = (DOCS / "api.rst").read_text()
    assert f"{sources.API_DIR}/*" in api and ":glob:" in api
    assert all(path.startswith(f"{sources.API_DIR}/") for path in sources.api_pages())


def test_a_missing_module_is_left_out_but_a_broken_one_fails(sources, monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "API_MODULES", ("sksmooth", "sksmooth.not_written_yet"))
    assert [module.__name__ for module in sources.public_modules()] == ["sksmooth"]

    # A module that exists but needs a package that is not installed.
    (tmp_path / "sksmooth_docs_broken.py").write_text("import sksmooth_docs_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sources, "API_MODULES", ("sksmooth", "sksmooth_docs_broken"))
    with pytest.raises(ModuleNotFoundError, match="sksmooth_docs_not_installed"):
        sources.public_modules()


def test_write_sources_removes_pages_of_modules_that_are_gone(sources, tmp_path):
    (tmp_path / "CHANGES.md").write_text("# Changelog\n")
    docs = tmp_path / "docs"
    stale = docs / sources.API_DIR / "sksmooth.removed.rst"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    sources.write_sources(docs)
    assert not stale.exists()
    assert (docs / sources.API_DIR / "sksmooth.rst").is_file()
    assert (docs / "generated" / "changes.inc").read_text().startswith("Changelog\n=========")


def test_shape_names_ending_in_underscore_are_quoted(conf):
    lines = [
        "feature_names_in_ : ndarray of shape (n_features_in_,)",
        "X : ndarray of shape (n_samples, n_features)",
        "low_ : ndarray of shape (``n_features_in_``,)",
        "coef_ : ndarray of shape (n_classes_, n_features_in_)",
    ]
    conf.quote_shape_names(None, "class", "name", None, {}, lines)
    assert lines == [
        "feature_names_in_ : ndarray of shape (``n_features_in_``,)",
        "X : ndarray of shape (n_samples, n_features)",
        "low_ : ndarray of shape (``n_features_in_``,)",
        "coef_ : ndarray of shape (``n_classes_``, ``n_features_in_``)",
    ]


def test_members_scikit_learn_defines_are_left_to_its_documentation(conf):
    from sksmooth import SmoothedClassifier
    from sksmooth.diagnostics import GradientMaskingReport

    def skipped(obj):
        return conf.skip_foreign_members(None, "method", "name", obj, False, {})

    assert skipped(SmoothedClassifier.get_params) is True
    assert skipped(SmoothedClassifier.set_fit_request) is True
    assert skipped(SmoothedClassifier.certify) is None
    assert skipped(GradientMaskingReport.verdict) is None  # a property of sksmooth's own


# ---------------------------------------------------------------- changelog


def test_markdown_changelog_becomes_rst(sources):
    markdown = (
        "# Changelog\n"
        "\n"
        "## 0.2.0\n"
        "\n"
        "- `fit`s now take `sample_weight`; see [the guide](https://example.org/guide)\n"
        "  and estimator_ attributes.\n"
        "  - nested item\n"
        "- **bold** and *italic*\n"
        "\n"
        "```python\n"
        "clf.fit(X, y)\n"
        "```\n"
    )
    assert sources.markdown_to_rst(markdown) == (
        "Changelog\n"
        "=========\n"
        "\n"
        "0.2.0\n"
        "-----\n"
        "\n"
        "- ``fit``\\ s now take ``sample_weight``; see `the guide <https://example.org/guide>`__\n"
        "  and estimator\\_ attributes.\n"
        "\n"
        "  - nested item\n"
        "\n"
        "- **bold** and *italic*\n"
        "\n"
        ".. code-block:: python\n"
        "\n"
        "   clf.fit(X, y)\n"
    )


def rst_problems(text: str) -> str:
    docutils_core = pytest.importorskip("docutils.core")
    messages = io.StringIO()
    docutils_core.publish_doctree(
        text, settings_overrides={"warning_stream": messages, "report_level": 2}
    )
    return messages.getvalue()


def test_the_changelog_converts_to_valid_rst(sources):
    text = sources.changelog_source(ROOT / "CHANGES.md")
    assert rst_problems(text) == ""
    assert text.startswith("Changelog\n=========\n")


def test_the_rst_check_catches_broken_markup():
    assert "Unknown target name" in rst_problems("a reference_ to nothing\n")


# ----------------------------------------------------------------- examples


def test_there_are_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_has_a_title_and_is_in_the_gallery(path, conf):
    docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
    assert docstring, f"{path.name} needs a docstring: its title and introduction"
    lines = docstring.strip("\n").splitlines()
    assert len(lines) >= 2 and lines[0].strip(), f"{path.name}: the docstring starts with a title"
    assert set(lines[1]) == {"="} and len(lines[1]) >= len(lines[0]), (
        f"{path.name}: underline the title with '=' at least as long"
    )

    gallery = conf.sphinx_gallery_conf
    assert (DOCS / gallery["examples_dirs"]).resolve() == path.parent
    # sphinx-gallery runs the files whose path matches filename_pattern.
    assert re.search(gallery["filename_pattern"], str(path))
    assert not re.search(gallery["ignore_pattern"], str(path))


def test_gallery_has_a_readme_with_a_title():
    lines = (ROOT / "examples" / "README.txt").read_text().splitlines()
    titles = [i for i in range(1, len(lines)) if lines[i] and set(lines[i]) == {"="}]
    assert titles and lines[titles[0] - 1].strip()


# -------------------------------------------------------------------- build


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    # Offline, without running the examples (make docs runs them), on a copy
    # of the sources so the build leaves docs/ as it was.
    for module in ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme"):
        pytest.importorskip(module)
    built = ("_build", "generated", "auto_examples", "sg_execution_times.rst")
    shutil.copytree(DOCS, tmp_path / "docs", ignore=shutil.ignore_patterns(*built))
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copy(ROOT / "CHANGES.md", tmp_path / "CHANGES.md")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q"]
    command += ["-D", "plot_gallery=0", str(tmp_path / "docs"), str(tmp_path / "html")]
    env = {**os.environ, "SKSMOOTH_DOCS_OFFLINE": "1"}
    build = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert build.returncode == 0, build.stderr
    assert (tmp_path / "html" / "generated" / "sksmooth.SmoothedClassifier.html").is_file()
    assert (tmp_path / "html" / "auto_examples" / "plot_certify_fraud.html").is_file()
