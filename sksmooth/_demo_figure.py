"""The demo's figure: robust accuracy per model, and certified accuracy curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._demo_evaluate import certified_accuracy

# Axis labels, also what tests look for in the SVG.
BARS_YLABEL = "accuracy on the evaluation rows"
CURVES_XLABEL = "L2 radius (standardised units)"
CURVES_YLABEL = "certified accuracy"
FIGURE_NAME = "comparison"


def _bars(ax, table: pd.DataFrame, certified: dict[str, np.ndarray], eps: float) -> None:
    series = {
        "no attack": table["eval accuracy"],
        "plain PGD": table["robust PGD"],
        "adaptive attack": table["robust adaptive"],
        f"certified at r={eps:g}": [
            certified_accuracy(certified[name], eps) if name in certified else np.nan
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


def _curves(ax, certified: dict[str, np.ndarray], eps: float) -> None:
    for name, radii in certified.items():
        top = np.nanmax(radii, initial=0.0)
        grid = np.linspace(0, max(top, eps) * 1.1, 200)
        ax.plot(grid, [certified_accuracy(radii, r) for r in grid], label=name)
    ax.axvline(eps, color="grey", linestyle=":", label=f"attack eps={eps:g}")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(CURVES_XLABEL)
    ax.set_ylabel(CURVES_YLABEL)
    ax.set_title("Certified accuracy (a guaranteed floor)")
    ax.legend(loc="lower left", fontsize="small")


def save_figure(
    table: pd.DataFrame, certified: dict[str, np.ndarray], *, eps: float, directory: Path
) -> list[Path]:
    """Save the figure as PNG and SVG in ``directory``; return their paths.

    SVG text stays text (``svg.fonttype = "none"``), so labels can be searched.
    """
    import matplotlib
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4.8), layout="constrained")
    bars, curves = figure.subplots(1, 2, width_ratios=[1.6, 1])
    _bars(bars, table, certified, eps)
    if certified:
        _curves(curves, certified, eps)
    else:
        curves.set_axis_off()
    paths = [directory / f"{FIGURE_NAME}.{ext}" for ext in ("png", "svg")]
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        for path in paths:
            figure.savefig(path, dpi=100)
    return paths
