"""Mapping class labels to their positions in ``classes_``."""

from __future__ import annotations

import numpy as np


def label_indices(classes: np.ndarray, labels, *, what: str = "label") -> np.ndarray:
    """Index of each label in ``classes`` (which need not be sorted).

    Raises a ValueError naming the first label that is not a class.
    """
    classes = np.asarray(classes)
    labels = np.asarray(labels)
    sorter = np.argsort(classes)
    positions = np.searchsorted(classes, labels, sorter=sorter)
    indices = sorter[np.minimum(positions, len(classes) - 1)]
    unknown = classes[indices] != labels
    if np.any(unknown):
        raise ValueError(
            f"{what} {labels[unknown][0].item()!r} is not one of the classes {classes.tolist()}."
        )
    return indices.astype(np.int64)
