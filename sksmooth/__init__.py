"""sksmooth: certified and empirical adversarial robustness for scikit-learn."""

from .certification import CertificationResult
from .datasets import make_fraud
from .display import CertifiedAccuracyDisplay, RobustAccuracyDisplay
from .masking import GradientMaskedClassifier
from .smoothing import SmoothedClassifier, certify

__version__ = "0.1.0.dev0"

__all__ = [
    "CertificationResult",
    "CertifiedAccuracyDisplay",
    "GradientMaskedClassifier",
    "RobustAccuracyDisplay",
    "SmoothedClassifier",
    "certify",
    "make_fraud",
    "__version__",
]
