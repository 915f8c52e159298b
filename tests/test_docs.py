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
import textwrap
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


def load_conf(monkeypatch, **environ):
    """docs/conf.py as a module, read under ``environ``."""
    monkeypatch.delenv("SKSMOOTH_DOCS_INTERSPHINX", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("sksmooth_docs_conf", DOCS / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("value", "linked"), [(None, False), ("", False), ("0", False), ("1", True), ("yes", True)]
)
def test_links_to_other_projects_are_opt_in(monkeypatch, value, linked):
    environ = {} if value is None else {"SKSMOOTH_DOCS_INTERSPHINX": value}
    conf = load_conf(monkeypatch, **environ)
    assert conf.INTERSPHINX is linked
    assert bool(conf.intersphinx_mapping) is linked
    if linked:
        assert {"python", "numpy", "sklearn", "torch", "skorch"} <= set(conf.intersphinx_mapping)


def test_the_default_build_asks_nothing_of_the_network(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf.intersphinx_mapping == {}  # inventories are downloaded
    # Maths by a local MathJax, which sets mathjax_path: never a CDN address.
    math = [name for name in conf.extensions if "math" in name]
    assert math == ["sphinx.ext.mathjax", "sphinx-mathjax-offline"]
    assert not hasattr(conf, "mathjax_path")
    pages = [getattr(conf, name, []) for name in ("html_js_files", "html_css_files")]
    assert not [url for urls in pages for url in urls if "://" in str(url)]
    assert "://" not in str(conf.html_theme_options)


def test_maths_is_rendered_by_a_local_mathjax(tmp_path):
    # A one-page site with the documentation's maths extensions, built as make docs builds.
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx-mathjax-offline")
    source = tmp_path / "source"
    source.mkdir()
    (source / "conf.py").write_text(
        'extensions = ["sphinx.ext.mathjax", "sphinx-mathjax-offline"]\n'
    )
    (source / "index.rst").write_text("Page\n====\n\n.. math::\n\n   \\Phi^{-1}(p)\n")
    command = [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html"]
    build = subprocess.run(
        [*command, str(source), str(tmp_path / "html")], capture_output=True, text=True
    )
    assert build.returncode == 0, build.stderr
    page = (tmp_path / "html" / "index.html").read_text()
    scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', page)
    assert scripts == ["_static/mathjax/tex-chtml.js"]
    assert (tmp_path / "html" / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_api_titles_are_short_and_long_lines_wrap():
    # A page title "sksmooth.SmoothedClassifier" is wider than the theme's column, which
    # cuts it; the module is in the signature and the breadcrumbs.
    for template in ("class.rst", "function.rst"):
        first = (DOCS / "_templates" / "autosummary" / template).read_text().splitlines()[0]
        assert first == "{{ objname | escape | underline }}"
    css = (DOCS / "_static" / "sksmooth.css").read_text()
    assert "white-space: pre-wrap" in css and "overflow-wrap: anywhere" in css


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
    # As make docs builds (offline), without running the examples, on a copy
    # of the sources so the build leaves docs/ as it was.
    for module in (
        "sphinx",
        "numpydoc",
        "sphinx_gallery",
        "pydata_sphinx_theme",
        "sphinx-mathjax-offline",
    ):
        pytest.importorskip(module)
    built = ("_build", "generated", "auto_examples", "sg_execution_times.rst")
    shutil.copytree(DOCS, tmp_path / "docs", ignore=shutil.ignore_patterns(*built))
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copy(ROOT / "CHANGES.md", tmp_path / "CHANGES.md")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q"]
    command += ["-D", "plot_gallery=0", str(tmp_path / "docs"), str(tmp_path / "html")]
    env = {name: value for name, value in os.environ.items() if name != "SKSMOOTH_DOCS_INTERSPHINX"}
    build = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert build.returncode == 0, build.stderr
    assert (tmp_path / "html" / "generated" / "sksmooth.SmoothedClassifier.html").is_file()
    assert (tmp_path / "html" / "auto_examples" / "plot_certify_fraud.html").is_file()


# ------------------------------------------------------- code of the pages


def python_blocks(page: Path) -> list:
    """The code of every ``.. code-block:: python`` of a reST page, in order."""
    blocks = re.findall(
        r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", page.read_text(), flags=re.M
    )
    return [textwrap.dedent(block) for block in blocks]


def shrunk(code: str) -> str:
    """The same code on fewer rows and noise samples."""
    code = code.replace("make_fraud(20_000,", "make_fraud(1_500,")
    code = code.replace("n=10_000", "n=500")
    return code.replace("certify(model, X_test, y_test)", "certify(model, X_test, y_test, n=500)")


def run_blocks(blocks: list, namespace: dict, name: str) -> dict:
    for i, block in enumerate(blocks):
        exec(compile(shrunk(block), f"{name}, block {i}", "exec"), namespace)
    return namespace


def test_getting_started_runs_as_written(capsys):
    blocks = python_blocks(DOCS / "getting_started.rst")
    assert len(blocks) == 3  # a first certificate, a trained module, a module class
    run_blocks(blocks, {}, "getting_started.rst")
    out = capsys.readouterr().out
    for line in ("accuracy:", "certified accuracy at radius 0.5:", "accuracy under PGD:"):
        assert line in out


def test_the_tabular_guide_reads_certificates_in_the_data_units():
    # "A fraud pipeline", then each recipe of per_feature_change, as written.
    blocks = python_blocks(DOCS / "user_guide" / "tabular.rst")
    pipeline = [block for block in blocks if "make_column_transformer" in block]
    recipes = [block for block in blocks if "per_feature_change()" in block]
    assert len(pipeline) == 1 and len(recipes) == 2
    namespace = run_blocks(pipeline, {}, "tabular.rst, A fraud pipeline")
    numbers = ["amount", "hours_since_last_txn", "txn_velocity_24h", "distance_from_home_km"]
    for recipe in recipes:
        with pytest.warns(UserWarning, match="OneHotEncoder .* is not affine"):
            run_blocks([recipe], namespace, "tabular.rst, per_feature_change")
        change, result, caught = namespace["change"], namespace["result"], namespace["caught"]
        X_test = namespace["X_test"]
        assert list(change.columns) == list(X_test.columns) and len(change) == len(X_test)
        assert caught.any()
        median = change[caught].median()
        assert (median[numbers] > 0).all()
        assert median["account_age_days"] == 0  # no noise: not covered
        assert median[["merchant_category", "channel"]].isna().all()  # one-hot: NaN
        assert (change[result.abstained].fillna(0) == 0).all().all()


def test_the_performance_guide_says_how_to_run_on_one_core():
    text = (DOCS / "user_guide" / "performance.rst").read_text()
    assert "torch.set_num_threads(1)" in text and "OMP_NUM_THREADS=1" in text
