"""scikit-learn's common estimator checks on fast configurations."""

from conftest import fast
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhyre import HyReClassifier, HyReRegressor

FAST = fast(n_members=4, max_epochs=20, lr=1e-2)

ESTIMATORS = [
    HyReRegressor(**FAST),
    HyReClassifier(**FAST),
    HyReRegressor(ensemble="epinet", index_dim=4, **FAST),
    HyReClassifier(ensemble="vanilla", **FAST),
    HyReClassifier(ensemble="mc_dropout", **FAST),
]

EXPECTED_FAILED = {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    check(estimator)
