"""What both displays share: matplotlib on demand, curve checks, axes set-up."""

from __future__ import annotations

import numpy as np

# Both axes of accuracy go from 0 to 1, with room for a curve drawn on the edge.
ACCURACY_LIMITS = (-0.01, 1.01)
# The attribute of a matplotlib Axes naming what its x axis measures, set by the
# first curve drawn on it; the x label itself is the user's to change.
X_AXIS_ATTRIBUTE = "_sksmooth_x_axis"
# At most this many noised columns are named in a default legend entry.
NAMED_SIGMAS = 3


def pyplot():
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "Plotting needs matplotlib; install it with `pip install sksmooth[plot]`."
        ) from error
    return plt


def new_or_given_axes(ax):
    """``ax``, or the axes of a new figure when ``ax`` is None."""
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots()
    return ax


def check_grid(values, name: str) -> np.ndarray:
    """A non-empty, strictly increasing 1-D array of finite numbers >= 0."""
    try:
        values = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}.") from error
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {values.shape}.")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {values.tolist()}.")
    if np.any(np.diff(values) <= 0):
        raise ValueError(f"{name} must be strictly increasing, got {values.tolist()}.")
    return values


def check_accuracies(values, n_points: int, name: str, *, one_curve: bool = False) -> np.ndarray:
    """Accuracies in [0, 1], one per point: a 1-D array for one curve, else one row per curve."""
    try:
        values = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be numbers, got {values!r}.") from error
    shapes = [1] if one_curve else [1, 2]
    if values.ndim not in shapes or values.shape[-1] != n_points:
        expected = "one value" if one_curve else "one value (or one row per curve)"
        raise ValueError(
            f"{name} must hold {expected} per point, {n_points} points; got shape {values.shape}."
        )
    if not np.all((values >= 0) & (values <= 1)):
        raise ValueError(f"{name} must lie in [0, 1].")
    return values if one_curve else np.atleast_2d(values)


def curve_names(name, n_curves: int) -> list:
    """One legend label (or None) per curve from a name or a list of names."""
    if name is None:
        return [None] * n_curves
    if isinstance(name, str):
        if n_curves > 1:
            raise ValueError(f"name must be a list of {n_curves} names, one per curve.")
        return [name]
    names = list(name)
    if len(names) != n_curves:
        raise ValueError(f"name must hold {n_curves} names, one per curve; got {len(names)}.")
    return [None if n is None else str(n) for n in names]


def draw(ax, x, curves, names, style: dict) -> list:
    """Draw each curve of ``curves`` against ``x`` on ``ax``; return the lines."""
    lines = []
    for values, label in zip(curves, names, strict=True):
        lines.extend(ax.plot(x, values, **{"label": label, **style}))
    if any(line.get_label() and not line.get_label().startswith("_") for line in ax.lines):
        ax.legend()
    return lines


def claim_x_axis(ax, quantity: str, scales: tuple | None = None) -> None:
    """Record that ``ax`` plots against ``quantity``, or refuse a different one.

    Curves against radii of different norms, or against a distance and a
    unitless per-column radius, share no scale: one axes holds one kind.
    Unitless radii of different per-column ``scales`` measure different
    regions, so they are refused too.
    """
    previous = getattr(ax, X_AXIS_ATTRIBUTE, None)
    if previous is not None:
        previous_quantity, previous_scales = previous
        if previous_quantity != quantity:
            raise ValueError(
                f"These axes already plot against '{previous_quantity}'; this curve is "
                f"against '{quantity}'. The two are not on one scale: draw it on other axes."
            )
        if None not in (scales, previous_scales) and scales != previous_scales:
            raise ValueError(
                f"These axes already plot unitless radii R of ||delta / sigma|| for sigma = "
                f"{list(previous_scales)}; this curve's sigma is {list(scales)}, another "
                "region: draw it on other axes."
            )
        scales = previous_scales if scales is None else scales
    setattr(ax, X_AXIS_ATTRIBUTE, (quantity, scales))


def sigma_name(result) -> str:
    """Default legend entry for the certificates of ``result``: its noise and sigma.

    ``"sigma=0.25"`` for Gaussian noise of one sigma; the noise is named when
    it is another; per-column sigmas are listed when few columns are noised.
    """
    noise = "" if result.noise == "gaussian" else f"{result.noise} "
    if not result.per_column:
        return f"{noise}sigma={float(result.sigma):g}"
    sigma = np.asarray(result.sigma, dtype=float)
    noised = np.flatnonzero(sigma > 0)
    if len(noised) > NAMED_SIGMAS:
        return f"{noise}sigma per column ({len(noised)} of {sigma.size} noised)"
    names = result.feature_names
    if names is None:
        names = [f"x{i}" for i in range(sigma.size)]
    listed = ", ".join(f"{names[i]}={sigma[i]:g}" for i in noised)
    return f"{noise}sigma per column ({listed})"
