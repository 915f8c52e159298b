"""Adversarial attacks with one API: ``Attack(eps, ...).generate(estimator, X, y)``.

White-box attacks (:class:`FGSM`, :class:`PGD`, :class:`BPDA`, :class:`EOT`,
:class:`SmoothAdv`) need a differentiable forward: a fitted skorch net, a
:class:`~sksmooth.GradientMaskedClassifier`, or (for SmoothAdv) a
:class:`~sksmooth.SmoothedClassifier` over a skorch net. :class:`RandomSearch`
needs only the model's scores or ``predict`` and attacks any classifier.
:class:`AttackEnsemble` runs several of them and keeps, per row, the first
adversarial example found: the worst case, which
:func:`~sksmooth.metrics.robust_accuracy` reports by default.

On a :class:`~sklearn.pipeline.Pipeline` every attack runs in the input space
of the last step and returns rows in that space.
"""

from ._base import Attack
from ._blackbox import RandomSearch
from ._ensemble import AttackEnsemble
from ._gradient import BPDA, EOT, FGSM, PGD, SmoothAdv

__all__ = ["Attack", "AttackEnsemble", "BPDA", "EOT", "FGSM", "PGD", "RandomSearch", "SmoothAdv"]
