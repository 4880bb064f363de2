"""scikit-learn's common estimator checks on fast configurations."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skhyre import HyReClassifier, HyReRegressor

FAST = dict(
    n_members=4, hidden_layer_sizes=(16,), max_epochs=20, batch_size=32, lr=1e-2, random_state=0
)

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
