"""What both displays share: matplotlib on demand, curve checks, axes set-up."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

# Both axes of accuracy go from 0 to 1, with room for a curve drawn on the edge.
ACCURACY_LIMITS = (-0.01, 1.01)
# The attribute of a matplotlib Axes recording what its curves measure, set by the
# first curve drawn on it; the labels themselves are the user's to change.
AXES_ATTRIBUTE = "_sksmooth_curves"
ATTACK_BUDGET = "attack budget eps"
NORM_NAMES = {"linf": "L-inf", "l2": "L2", "l1": "L1"}
NORM_KEYS = {"inf": "linf"}
# The radius labels of certificates of one sigma (CertificationResult.radius_label).
RADIUS_NORMS = {"L1 radius": "l1", "L2 radius": "l2", "L-infinity radius": "linf"}
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
    elif not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes, or None for a new figure; got {ax!r}.")
    return ax


def curve_style(curve_kwargs) -> dict:
    """``curve_kwargs`` as keyword arguments of ``plot``: a mapping, or None for none."""
    if curve_kwargs is None:
        return {}
    if not isinstance(curve_kwargs, Mapping):
        raise TypeError(
            f"curve_kwargs must be a dict of matplotlib line properties, got {curve_kwargs!r}."
        )
    return dict(curve_kwargs)


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
    if isinstance(name, numbers.Number):  # a label such as a sigma: its text
        name = str(name)
    if isinstance(name, str):
        if n_curves > 1:
            raise ValueError(f"name must be a list of {n_curves} names, one per curve.")
        return [name]
    try:
        names = list(name)
    except TypeError as error:
        raise TypeError(f"name must be a str or a list of str, got {name!r}.") from error
    if len(names) != n_curves:
        raise ValueError(f"name must hold {n_curves} names, one per curve; got {len(names)}.")
    return [None if n is None else str(n) for n in names]


def draw(ax, x, curves, names, style: dict) -> list:
    """Draw each curve of ``curves`` against ``x`` on ``ax``; return the lines."""
    from matplotlib.lines import Line2D

    # matplotlib's own refusal of an unknown property is an AttributeError.
    unknown = [key for key in style if not callable(getattr(Line2D, f"set_{key}", None))]
    if unknown:
        raise TypeError(f"{unknown} are not properties of a matplotlib line (Line2D).")
    lines = []
    for values, label in zip(curves, names, strict=True):
        lines.extend(ax.plot(x, values, **{"label": label, **style}))
    if any(line.get_label() and not line.get_label().startswith("_") for line in ax.lines):
        ax.legend()
    return lines


@dataclass(frozen=True)
class _Curves:
    """What the sksmooth curves on one axes measure, and the labels last set for them.

    ``kinds`` holds ``"certified"`` (certified accuracy against radius) and
    ``"attack"`` (accuracy against attack budget). Both are accuracies against
    a distance in ``norm``, so they share axes when their norms agree; a
    radius of another kind (unitless per-column radii, a label of the user's)
    shares axes only with curves of the same ``quantity`` and ``scales``.
    """

    kinds: frozenset
    norm: str | None
    quantity: str
    scales: tuple | None
    labels: tuple = ("", "")

    @property
    def scale(self) -> tuple:
        """Two curves share axes when this is equal."""
        if self.norm is not None:
            return ("distance", self.norm)
        return ("other", self.quantity)

    def describe(self) -> str:
        """What the x axis measures: the x label when nobody changed it."""
        if len(self.kinds) > 1 and self.norm is not None:
            return f"{ATTACK_BUDGET} / certified radius ({NORM_NAMES[self.norm]})"
        return self.quantity

    def y_label(self) -> str:
        return "certified accuracy" if self.kinds == {"certified"} else "accuracy"


def attack_curves(norm: str | None) -> _Curves:
    """Accuracy against attack budget in ``norm`` (None: not said)."""
    norm = None if norm is None else NORM_KEYS.get(norm, norm)
    quantity = ATTACK_BUDGET if norm is None else f"{ATTACK_BUDGET} ({NORM_NAMES[norm]})"
    return _Curves(frozenset({"attack"}), norm, quantity, None)


def certified_curves(radius_label: str, scales: tuple | None = None) -> _Curves:
    """Certified accuracy against radii labelled ``radius_label``.

    A label ``"L2 radius"`` (a certificate's ``radius_label`` of one sigma)
    is a distance in that norm; any other is its own quantity.
    """
    norm = None if scales is not None else RADIUS_NORMS.get(radius_label)
    return _Curves(frozenset({"certified"}), norm, radius_label, scales)


def claim_axes(ax, curves: _Curves) -> None:
    """Record that ``ax`` holds ``curves``, or refuse them before anything is drawn.

    Curves against radii of different norms, or against a distance and a
    unitless per-column radius, share no scale: one axes holds one kind.
    Unitless radii of different per-column ``scales`` measure different
    regions, so they are refused too. Certified and attack curves of one
    norm share the axes, which are then labelled for both.
    """
    previous = getattr(ax, AXES_ATTRIBUTE, None)
    if previous is not None:
        if previous.scale != curves.scale:
            hint = ""
            if any(c.norm is None and "attack" in c.kinds for c in (previous, curves)):
                hint = " Give the RobustAccuracyDisplay its norm to draw it with certificates."
            raise ValueError(
                f"These axes already plot against '{previous.describe()}'; this curve is "
                f"against '{curves.describe()}'. The two are not on one scale: draw it on "
                f"other axes.{hint}"
            )
        if None not in (curves.scales, previous.scales) and curves.scales != previous.scales:
            raise ValueError(
                f"These axes already plot unitless radii R of ||delta / sigma|| for sigma = "
                f"{list(previous.scales)}; this curve's sigma is {list(curves.scales)}, another "
                "region: draw it on other axes."
            )
        curves = replace(
            previous,
            kinds=previous.kinds | curves.kinds,
            scales=previous.scales if curves.scales is None else curves.scales,
        )
    setattr(ax, AXES_ATTRIBUTE, curves)


def label_axes(ax) -> None:
    """Label both axes for every curve they hold; a label the user set since stays theirs."""
    curves = getattr(ax, AXES_ATTRIBUTE)
    wanted = (curves.describe(), curves.y_label())
    current = (ax.get_xlabel(), ax.get_ylabel())
    labels = tuple(
        new if now in ("", before) else now
        for new, now, before in zip(wanted, current, curves.labels, strict=True)
    )
    ax.set(xlabel=labels[0], ylabel=labels[1])
    setattr(ax, AXES_ATTRIBUTE, replace(curves, labels=labels))


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
