"""Display objects in scikit-learn's style: certified and robust accuracy curves.

Each display stores its curve in ``__init__``, draws it with
``plot(ax=None, ...)`` (setting ``ax_``, ``figure_`` and ``line_``) and is
usually built by a ``from_*`` class method that computes the curve first.
Passing ``ax=`` of an earlier plot adds a curve and a legend entry to it.
matplotlib is imported only when drawing: ``pip install sksmooth[plot]``.
"""

from ._certified import CertifiedAccuracyDisplay
from ._robust import RobustAccuracyDisplay

__all__ = ["CertifiedAccuracyDisplay", "RobustAccuracyDisplay"]
