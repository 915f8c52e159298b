"""Adversarial attacks with one API: ``Attack(eps, ...).generate(estimator, X, y)``.

White-box attacks (:class:`FGSM`, :class:`PGD`, :class:`BPDA`, :class:`EOT`,
:class:`SmoothAdv`) need a differentiable forward: a fitted skorch net, a
:class:`~sksmooth.GradientMaskedClassifier`, or (for SmoothAdv) a
:class:`~sksmooth.SmoothedClassifier` over a skorch net. :class:`RandomSearch`
needs only ``predict_proba`` or ``predict`` and attacks any classifier.

On a :class:`~sklearn.pipeline.Pipeline` every attack runs in the input space
of the last step and returns rows in that space.
"""

from ._base import Attack
from ._blackbox import RandomSearch
from ._gradient import BPDA, EOT, FGSM, PGD, SmoothAdv

__all__ = ["Attack", "BPDA", "EOT", "FGSM", "PGD", "RandomSearch", "SmoothAdv"]
