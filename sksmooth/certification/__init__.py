"""Monte Carlo certification: vote counting, confidence bounds, radii, results."""

from ._bounds import (
    clopper_pearson_lower,
    clopper_pearson_upper,
    gaussian_l2_radius,
    top_two_binomial_pvalue,
)
from ._result import CertificationResult
from ._sequential import geometric_schedule

__all__ = [
    "CertificationResult",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "geometric_schedule",
    "gaussian_l2_radius",
    "top_two_binomial_pvalue",
]
