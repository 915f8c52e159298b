"""scikit-learn's estimator checks on every public estimator."""

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksmooth import SmoothedClassifier

from .conftest import tiny_net

# Small Monte Carlo settings keep the checks fast; the checks' data sets are
# standardised, so sigma=0.1 leaves them easy to classify.
FAST = {"sigma": 0.1, "n0": 20, "n": 200, "n_samples": 100, "random_state": 0}

ESTIMATORS = [
    SmoothedClassifier(LogisticRegression(), **FAST),
    SmoothedClassifier(tiny_net(), **FAST),
]


# Every check passes for both bases: no expected failures to list.
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
