"""ShiftSplit: validation folds at the tails of projections."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score

from skhyre.datasets import ood_split, standardized_features
from skhyre.model_selection import ShiftSplit

RNG = np.random.RandomState(0)
X = RNG.normal(size=(101, 4)) * [1.0, 10.0, 0.1, 3.0] + 5
X[:, 3] = 7.0  # a constant column is left out, as ood_split does
y = X[:, 0] + RNG.normal(size=101)


def test_fold_zero_is_ood_splits_shift():
    train, test = next(ShiftSplit(n_splits=1, test_size=0.2).split(X))
    ref = ood_split(X, y, ood_fraction=0.2, val_fraction=0.0)
    np.testing.assert_array_equal(test, np.sort(ref.ood_index))
    np.testing.assert_array_equal(train, np.setdiff1d(np.arange(101), test))


@pytest.mark.parametrize("tails", ["both", "high", "low"])
def test_folds_are_the_tails_of_each_projection(tails):
    cv = ShiftSplit(n_splits=4, test_size=0.25, tails=tails, random_state=0)
    S = cv.projections(X)
    Z = standardized_features(X)
    np.testing.assert_allclose(S[:, 0], Z.mean(axis=1))
    folds = list(cv.split(X, y))
    assert len(folds) == cv.get_n_splits() == 4
    for j, (train, test) in enumerate(folds):
        assert len(test) == 25 and len(train) == 76
        assert np.intersect1d(train, test).size == 0
        s = S[:, j]
        if tails == "high":
            assert s[test].min() >= s[train].max()
        elif tails == "low":
            assert s[test].max() <= s[train].min()
        else:
            assert (s[test] <= s[train].min()).sum() == 12
            assert (s[test] >= s[train].max()).sum() == 13
    # random directions: other folds than fold 0, the same for the same int seed
    assert not np.array_equal(folds[0][1], folds[1][1])
    again = list(ShiftSplit(n_splits=4, test_size=0.25, tails=tails, random_state=0).split(X))
    for (_, a), (_, b) in zip(folds, again):
        np.testing.assert_array_equal(a, b)


def test_works_inside_scikit_learn_model_selection():
    scores = cross_val_score(Ridge(), X, y, cv=ShiftSplit(n_splits=3, random_state=0))
    assert scores.shape == (3,)
    gs = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=ShiftSplit(n_splits=2, random_state=0))
    assert gs.fit(X, y).best_params_["alpha"] in (0.1, 10.0)


def test_invalid_parameters_and_inputs():
    with pytest.raises(ValueError, match="test_size"):
        ShiftSplit(test_size=1.5)
    with pytest.raises(ValueError, match="tails"):
        ShiftSplit(tails="middle")
    with pytest.raises(ValueError, match="n_splits"):
        ShiftSplit(n_splits=0)
    with pytest.raises(ValueError, match="non-constant"):
        next(ShiftSplit().split(np.ones((10, 2))))
    with pytest.raises(ValueError, match="NaN"):
        next(ShiftSplit().split(np.full((10, 2), np.nan)))
