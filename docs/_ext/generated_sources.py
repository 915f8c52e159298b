"""reST sources generated from the repository when the documentation builds.

- One API page per public module, with every name of the module's ``__all__``
  in an autosummary table: a new public name is documented without editing
  the documentation.
- The changelog, converted from the Markdown of ``CHANGES.md``.

They are written under ``docs/generated/`` (not versioned) when Sphinx starts,
before it looks for source files.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

# Modules whose ``__all__`` makes up the public API. Other public submodules
# only re-export names of the top level (tests/test_docs.py checks it). A
# module that does not exist yet is left out.
API_MODULES = (
    "sksmooth",
    "sksmooth.attacks",
    "sksmooth.certification",
    "sksmooth.datasets",
    "sksmooth.denoising",
    "sksmooth.diagnostics",
    "sksmooth.display",
    "sksmooth.masking",
    "sksmooth.metrics",
    "sksmooth.nets",
    "sksmooth.noise",
    "sksmooth.training",
)

# What the names of ``__all__`` that are data (not classes or functions) hold.
API_DATA = {"__version__": "The version of the installed package"}

# Module pages, and the pages of the objects their tables list.
API_DIR = "generated/api"
OBJECTS_TOCTREE = ".."


def public_modules() -> list:
    """Import the modules of ``API_MODULES`` that exist, in order."""
    modules = []
    for name in API_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as error:
            if error.name != name:
                raise  # the module exists but one of its imports is missing
    return modules


def canonical_name(module, name: str) -> str:
    """Where ``module.name`` is documented: ``sksmooth.name`` when the top level
    re-exports the same object, so each object has one page."""
    top = importlib.import_module(API_MODULES[0])
    if module is not top and name in top.__all__ and getattr(top, name) is getattr(module, name):
        return f"{top.__name__}.{name}"
    return f"{module.__name__}.{name}"


def _table(module, title: str, names: list, template: str) -> list:
    """A rubric, then autosummary blocks of ``names``, each under the module it is
    documented in: autosummary takes short names in the current module."""
    if not names:
        return []
    lines = ["", f".. rubric:: {title}"]
    blocks = []  # (documented module, [names]) in order
    for name in names:
        home = canonical_name(module, name).rpartition(".")[0]
        if not blocks or blocks[-1][0] != home:
            blocks.append((home, []))
        blocks[-1][1].append(name)
    for home, block in blocks:
        lines += ["", f".. currentmodule:: {home}", "", ".. autosummary::"]
        lines += [f"   :toctree: {OBJECTS_TOCTREE}", f"   :template: {template}", ""]
        lines += [f"   {name}" for name in block]
    return lines


def api_page(module) -> str:
    """The reST of the API page of ``module``: its docstring, then its names by kind."""
    names = list(module.__all__)
    classes = [name for name in names if inspect.isclass(getattr(module, name))]
    functions = [name for name in names if name not in classes and callable(getattr(module, name))]
    data = [name for name in names if name not in classes and name not in functions]
    title = f"``{module.__name__}``"
    lines = [
        f".. _api-{module.__name__}:",
        "",
        title,
        "=" * len(title),
        "",
        f".. py:module:: {module.__name__}",
        "",
        inspect.getdoc(module) or "",
    ]
    lines += _table(module, "Classes", classes, "autosummary/class.rst")
    lines += _table(module, "Functions", functions, "autosummary/function.rst")
    if data:
        lines += ["", ".. rubric:: Data", ""]
        for name in data:
            description = API_DATA.get(name, "Module attribute")
            lines += [
                f"``{module.__name__}.{name}``",
                f"   {description}: ``{getattr(module, name)!r}``.",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def api_pages() -> dict:
    """Path relative to ``docs/`` -> reST, for the page of every public module."""
    return {f"{API_DIR}/{module.__name__}.rst": api_page(module) for module in public_modules()}


# ---------------------------------------------------------------- changelog

HEADING_CHARS = "=-~^\"'"
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")
_BULLET = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
# A word ending in "_" is a reference in reST; "*" alone starts emphasis.
_TRAILING_UNDERSCORE = re.compile(r"(?<=\w)_(?=\W|$)")


def _inline(text: str) -> str:
    """Markdown inline markup -> reST: code spans, links; the rest kept literally."""
    out, position = [], 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_plain(text[position : match.start()]))
        code = match.group(2).strip()
        before = "\\ " if match.start() and text[match.start() - 1].isalnum() else ""
        after = "\\ " if match.end() < len(text) and text[match.end()].isalnum() else ""
        out.append(f"{before}``{code}``{after}")
        position = match.end()
    out.append(_plain(text[position:]))
    return "".join(out)


def _plain(text: str) -> str:
    text = _TRAILING_UNDERSCORE.sub(r"\\_", text)
    return _LINK.sub(lambda m: f"`{m.group(1)} <{m.group(2)}>`__", text)


def markdown_to_rst(markdown: str) -> str:
    """Convert the Markdown of a changelog to reST.

    Handles what a changelog uses: ATX headings (``#`` to ``######``),
    paragraphs, bullet and numbered lists with indented continuation lines,
    fenced code blocks, code spans, links, bold and italics.
    """
    lines, out = markdown.splitlines(), []
    in_code, indent = False, ""
    previous_bullet_indent = None
    for line in lines:
        fence = _FENCE.match(line)
        if fence:
            if in_code:
                in_code = False
                out.append("")
            else:
                in_code, indent = True, fence.group(1)
                language = fence.group(2) or "text"
                out += ["", f"{indent}.. code-block:: {language}", ""]
            continue
        if in_code:
            out.append(f"{indent}   {line}" if line.strip() else "")
            continue
        heading = _HEADING.match(line)
        if heading:
            title = _inline(heading.group(2))
            out += ["", title, HEADING_CHARS[len(heading.group(1)) - 1] * len(title), ""]
            previous_bullet_indent = None
            continue
        bullet = _BULLET.match(line)
        if bullet:
            # reST needs a blank line around a list nested in another.
            if previous_bullet_indent is not None and bullet.group(1) != previous_bullet_indent:
                out.append("")
            previous_bullet_indent = bullet.group(1)
        elif not line.strip():
            previous_bullet_indent = None
        out.append(_inline(line.rstrip()))
    text = "\n".join(out).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text) + "\n"


def changelog_source(changes: Path) -> str:
    """The reST of the changelog page, from ``CHANGES.md``."""
    return markdown_to_rst(changes.read_text(encoding="utf-8"))


def write_sources(docs: Path) -> None:
    """Write every generated source under ``docs``, rewriting only what changed."""
    pages = {**api_pages(), "generated/changes.inc": changelog_source(docs.parent / "CHANGES.md")}
    api_dir = docs / API_DIR
    if api_dir.is_dir():  # a module page whose module is gone must not linger
        for stale in set(api_dir.glob("*.rst")) - {docs / path for path in pages}:
            stale.unlink()
    for path, text in pages.items():
        target = docs / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
