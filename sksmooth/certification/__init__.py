"""Certification statistics: confidence bounds, CERTIFY and PREDICT over votes, results.

Pure numpy/scipy: everything here works on vote counts, however they were
obtained, and is tested on simulated counts without a net.
"""

from ._bounds import clopper_pearson_lower, clopper_pearson_upper, top_two_binomial_pvalue
from ._certify import (
    Certificates,
    certify_scores,
    certify_votes,
    decide_scores,
    decide_votes,
    predict_scores,
    predict_votes,
    sequential_certify_votes,
)
from ._result import CertificationResult
from ._sequential import geometric_schedule

__all__ = [
    "CertificationResult",
    "Certificates",
    "certify_scores",
    "certify_votes",
    "decide_scores",
    "decide_votes",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "geometric_schedule",
    "predict_scores",
    "predict_votes",
    "sequential_certify_votes",
    "top_two_binomial_pvalue",
]
