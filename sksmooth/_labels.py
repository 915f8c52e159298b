"""Mapping class labels to their positions in ``classes_``."""

from __future__ import annotations

import numpy as np


def label_indices(classes: np.ndarray, labels, *, what: str = "label") -> np.ndarray:
    """Index of each label in ``classes`` (which need not be sorted).

    Raises a ValueError naming the first label that is not a class, also when
    the labels are of a type that cannot be compared with the classes (a
    string among integer classes in an object array, or None).
    """
    classes = np.asarray(classes)
    labels = np.asarray(labels)
    if classes.size == 0:
        if labels.size:
            _raise_unknown(labels.flat[0], classes, what)
        return np.zeros(labels.shape, dtype=np.int64)
    try:
        sorter = np.argsort(classes)
        positions = np.searchsorted(classes, labels, sorter=sorter)
    except TypeError:
        # Object arrays mixing types (str and int, None) cannot be ordered: look each one up.
        return _indices_by_lookup(classes, labels, what)
    indices = sorter[np.minimum(positions, len(classes) - 1)]
    unknown = classes[indices] != labels
    if np.any(unknown):
        _raise_unknown(labels[unknown][0], classes, what)
    return indices.astype(np.int64)


def _indices_by_lookup(classes: np.ndarray, labels: np.ndarray, what: str) -> np.ndarray:
    positions = {label: index for index, label in enumerate(classes.tolist())}
    flat = labels.ravel().tolist()
    indices = np.empty(len(flat), dtype=np.int64)
    for i, label in enumerate(flat):
        try:
            indices[i] = positions[label]
        except (KeyError, TypeError):  # TypeError: an unhashable label
            _raise_unknown(label, classes, what)
    return indices.reshape(labels.shape)


def _raise_unknown(label, classes: np.ndarray, what: str):
    label = label.item() if isinstance(label, np.generic) else label
    raise ValueError(f"{what} {label!r} is not one of the classes {classes.tolist()}.")
