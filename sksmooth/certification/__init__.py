"""Monte Carlo certification: vote counting, confidence bounds, radii, results."""

from ._bounds import clopper_pearson_lower, gaussian_l2_radius, top_two_binomial_pvalue
from ._result import CertificationResult

__all__ = [
    "CertificationResult",
    "clopper_pearson_lower",
    "gaussian_l2_radius",
    "top_two_binomial_pvalue",
]
