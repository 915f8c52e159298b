"""Progress bars for long work, silent unless asked for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def progress(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    verbose: int | bool = 0,
    unit: str = "it",
) -> Any:
    """Wrap ``iterable`` in a tqdm progress bar when ``verbose`` asks for one.

    With ``verbose`` false no bar is made at all. Otherwise tqdm decides:
    it shows in a terminal or a Jupyter notebook and stays silent when output
    goes to a file or a pipe (as under pytest), so logs stay clean.

    Parameters
    ----------
    iterable : iterable or None, default=None
        What to iterate over; ``None`` gives a bar updated by hand.
    total : int or None, default=None
        Expected number of steps.
    desc : str or None, default=None
        Label shown before the bar.
    verbose : int or bool, default=0
        Show progress when true.
    unit : str, default="it"
        Name of one step.

    Returns
    -------
    tqdm.auto.tqdm or silent stand-in
        The bar; iterate over it, use it as a context manager, or call
        ``update`` and ``close``.

    Examples
    --------
    >>> from sksmooth._progress import progress
    >>> sum(progress(range(3), desc="rows"))
    3
    """
    if not verbose:
        return _Silent(iterable)
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=None,
        leave=False,
    )


class _Silent:
    """What a disabled bar must offer, at no cost on hot paths."""

    def __init__(self, iterable):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        pass

    def close(self):
        pass
