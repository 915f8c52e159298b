"""Escaped HTML tables for notebook views (results, reports)."""

from __future__ import annotations

import html

import numpy as np

__all__ = ["MAX_HTML_ROWS", "html_table"]

# Rows of a table a notebook shows; the others are counted in a note.
MAX_HTML_ROWS = 10


def _format_cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


def html_table(frame, *, caption: str | None = None, max_rows: int = MAX_HTML_ROWS) -> str:
    """An escaped HTML table of ``frame``'s first ``max_rows`` rows, then a count of the rest.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its index becomes the first column.
    caption : str, default=None
        Caption of the table.
    max_rows : int, default=10
        Rows shown; more are counted as ``"... N more rows"``.

    Returns
    -------
    html : str
        A ``<table>`` element, followed by the note when rows were left out.
    """
    escape = html.escape
    index_name = "" if frame.index.name is None else frame.index.name
    header = "".join(f"<th>{escape(str(name))}</th>" for name in [index_name, *frame.columns])
    body = []
    for key, *row in frame.head(max_rows).itertuples(name=None):
        cells = [f"<th>{escape(str(key))}</th>"]
        cells += [f"<td>{escape(_format_cell(value))}</td>" for value in row]
        body.append(f"<tr>{''.join(cells)}</tr>")
    caption_html = "" if caption is None else f"<caption>{escape(caption)}</caption>"
    table = (
        f'<table class="dataframe">{caption_html}<thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    hidden = len(frame) - max_rows
    if hidden > 0:
        table += f"<p>... {hidden} more rows</p>"
    return table
