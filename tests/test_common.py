"""scikit-learn's common estimator checks on fast configurations."""

import pytest
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


# several checks fit on inputs near 100 on purpose (e.g. check_fit_check_is_fitted):
# the InputScaleWarning they get is right, and tested in test_diagnostics.py
@pytest.mark.filterwarnings("ignore::skhyre.reweighting.InputScaleWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    check(estimator)
