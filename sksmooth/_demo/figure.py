"""The demo's figure: robust accuracy per model, and certified accuracy curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import CertifiedAccuracyDisplay
from ..certification import CertificationResult
from ..metrics import certified_accuracy
from .per_column import NAME as PER_COLUMN_NAME
from .per_column import PerColumnReport

# Axis labels, also what tests look for in the SVG.
BARS_YLABEL = "accuracy on the evaluation rows"
CURVES_XLABEL = "L2 radius (standardised units)"
CURVES_YLABEL = "certified accuracy"
PER_COLUMN_YLABEL = "certified fraud recall"
FIGURE_NAME = "comparison"


def _bars(ax, table: pd.DataFrame, certified: dict[str, CertificationResult], eps: float) -> None:
    series = {
        "no attack": table["eval accuracy"],
        "plain PGD": table["robust PGD"],
        "strongest attacks": table["robust adaptive"],
        f"certified at r={eps:g}": [
            certified_accuracy(certified[name].y_true, certified[name], eps)
            if name in certified
            else np.nan
            for name in table["model"]
        ],
    }
    positions = np.arange(len(table))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        offset = (i - (len(series) - 1) / 2) * width
        ax.bar(positions + offset, values, width, label=label)
    ax.set_xticks(positions, table["model"], rotation=30, ha="right")
    ax.set_ylim(0, 1.15)
    ax.set_ylabel(BARS_YLABEL)
    ax.set_title(f"Under attack, L2 eps={eps:g}")
    ax.legend(loc="upper center", ncols=len(series), fontsize="small")


def _curves(ax, certified: dict[str, CertificationResult], eps: float) -> None:
    for name, result in certified.items():
        CertifiedAccuracyDisplay.from_result(result, name=name, ax=ax)
    ax.axvline(eps, color="grey", linestyle=":", label=f"attack eps={eps:g}")
    ax.set_xlim(0, max(ax.get_xlim()[1], eps * 1.1))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(CURVES_XLABEL)
    ax.set_ylabel(CURVES_YLABEL)
    ax.set_title("Certified accuracy (a guaranteed floor)")
    ax.legend(loc="lower left", fontsize="small")


def _per_column(ax, report: PerColumnReport) -> None:
    result = report.result
    radii, recall = report.curve
    # The curve ends with its drop to 0, just past the largest certified radius.
    radii, recall = np.append(radii, np.nextafter(radii[-1], np.inf)), np.append(recall, 0.0)
    CertifiedAccuracyDisplay(
        radii=radii,
        certified_accuracy=recall,
        name=PER_COLUMN_NAME,
        radius_label=result.radius_label,
    ).plot(ax=ax)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(PER_COLUMN_YLABEL)
    ax.set_title("Noise on the fraudster's columns only")
    ax.legend(loc="lower left", fontsize="small")


def save_figure(
    table: pd.DataFrame,
    certified: dict[str, CertificationResult],
    per_column: PerColumnReport | None = None,
    *,
    eps: float,
    directory: Path,
) -> list[Path]:
    """Save the figure as PNG and SVG in ``directory``; return their paths.

    SVG text stays text (``svg.fonttype = "none"``), so labels can be searched.
    """
    import matplotlib
    from matplotlib.figure import Figure

    panels = 2 if per_column is None else 3
    figure = Figure(figsize=(6 + 4 * panels, 4.8), layout="constrained")
    bars, curves, *rest = figure.subplots(1, panels, width_ratios=[1.6] + [1] * (panels - 1))
    _bars(bars, table, certified, eps)
    if certified:
        _curves(curves, certified, eps)
    else:
        curves.set_axis_off()
    if per_column is not None:
        _per_column(rest[0], per_column)
    paths = [directory / f"{FIGURE_NAME}.{ext}" for ext in ("png", "svg")]
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        for path in paths:
            figure.savefig(path, dpi=100)
    return paths
