"""Sphinx configuration of the sksmooth documentation.

Build with ``make docs`` (warnings are errors; the examples gallery runs).
The build needs no network: maths is rendered by a local copy of MathJax
(``sphinx-mathjax-offline``), and links to other projects' documentation
(intersphinx) are added only with ``SKSMOOTH_DOCS_INTERSPHINX=1``, since
their inventories are downloaded and an unreachable one is a warning, hence
an error under ``-W``.
"""

import importlib
import os
import re
import sys
from pathlib import Path

import sksmooth

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import generated_sources  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "sksmooth"
author = "The sksmooth developers"
copyright = "The sksmooth developers"
release = sksmooth.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax from the package, not from a CDN
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "_ext", "_templates", "**.ipynb_checkpoints"]
default_role = "literal"  # `x` reads as code, as in Markdown

# -- API reference -----------------------------------------------------------

autosummary_generate = True
autosummary_ignore_module_all = False  # __all__ says what is public
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"  # numpydoc's Parameters say it better than the signatures
# numpydoc would list class members in a table of its own; the class template
# (_templates/autosummary/class.rst) documents them in full instead.
numpydoc_show_class_members = False
# The page's contents list methods as "certify()", not "SmoothedClassifier.certify()".
toc_object_entries_show_parents = "hide"

# -- Links to other projects -------------------------------------------------

# Opt-in: the inventories are downloaded, and the build must work offline.
_INTERSPHINX_FLAG = os.environ.get("SKSMOOTH_DOCS_INTERSPHINX", "")
INTERSPHINX = _INTERSPHINX_FLAG.lower() not in ("", "0", "false", "no")
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
    "joblib": ("https://joblib.readthedocs.io/en/stable", None),
}
if not INTERSPHINX:
    intersphinx_mapping = {}
intersphinx_timeout = 30  # seconds without an answer before an inventory counts as unreachable

# -- Examples gallery --------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every plot_*.py, so the gallery shows real output
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sksmooth",),
    "backreferences_dir": "generated/backreferences",
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib", "gallery_reset.one_torch_thread"),
    "remove_config_comments": True,
    "show_memory": False,
    "download_all_examples": False,
    "min_reported_time": 1,
}

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sksmooth {release}"
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_context = {"default_mode": "light"}
html_static_path = ["_static"]
html_css_files = ["sksmooth.css"]  # long names and code lines wrap instead of being cut


# -- Hooks -------------------------------------------------------------------

# In "ndarray of shape (n_features_in_,)" reST reads a name ending in "_" as
# a link to a target of that name; quote such names as code.
_SHAPE = re.compile(r"shape \(([^)]*)\)")
_TRAILING_UNDERSCORE_NAME = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,)\s]|$)")


def quote_shape_names(app, what, name, obj, options, lines):
    """Quote names ending in "_" inside ``shape (...)`` of docstrings, before numpydoc."""

    def quote(match):
        return "shape ({})".format(_TRAILING_UNDERSCORE_NAME.sub(r"``\1``", match.group(1)))

    lines[:] = [_SHAPE.sub(quote, line) for line in lines]


def skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out members that scikit-learn, skorch or torch define (metadata
    routing requests, ``get_params`` ...): their own documentation covers them."""
    function = getattr(obj, "fget", obj)
    defined_in = getattr(function, "__module__", None) or ""
    if defined_in.split(".")[0] in ("sklearn", "skorch", "torch"):
        return True
    return None


def resolve_reexported(app, env, node, contnode):
    """Link ``sksmooth.<module>.<name>`` to ``sksmooth.<name>`` where the top
    level re-exports it: each object is documented once, under the top level."""
    if node.get("refdomain") != "py":
        return None
    module_name, _, name = node["reftarget"].lstrip("~.").rpartition(".")
    if module_name not in generated_sources.API_MODULES:
        return None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    if name not in getattr(module, "__all__", ()):
        return None
    target = generated_sources.canonical_name(module, name)
    if target == node["reftarget"]:
        return None
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], target, node, contnode
    )


def setup(app):
    # Now, before Sphinx looks for sources, so the generated pages are among them.
    generated_sources.write_sources(DOCS)
    app.connect("autodoc-process-docstring", quote_shape_names, priority=400)
    app.connect("autodoc-skip-member", skip_foreign_members)
    app.connect("missing-reference", resolve_reexported)
