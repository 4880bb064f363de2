"""scikit-learn's common estimator checks on fast HyReEnsemble configurations."""

from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhyre import HyReEnsemble

ESTIMATORS = [
    HyReEnsemble(
        [
            ("shallow", DecisionTreeRegressor(max_depth=2, random_state=0)),
            ("deep", DecisionTreeRegressor(max_depth=6, random_state=1)),
        ]
    ),
    HyReEnsemble(
        [
            ("lr", LogisticRegression()),
            ("tree", DecisionTreeClassifier(max_depth=4, random_state=0)),
        ],
        temperature="auto",
    ),
    HyReEnsemble(RandomForestClassifier(n_estimators=5, random_state=0)),
]

EXPECTED_FAILED: dict[str, str] = {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    check(estimator)
