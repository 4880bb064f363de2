"""Cross-validation folds that are shifts: :class:`ShiftSplit`."""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_array

from ..datasets import standardized_features

__all__ = ["ShiftSplit"]

_TAILS = ("both", "high", "low")


class ShiftSplit(BaseCrossValidator):
    """Validation folds at the tails of a projection: shifted, as :func:`~skhyre.datasets.ood_split` makes them.

    Ordinary folds hold out rows drawn like the training rows, so model
    selection with :func:`~skhyre.metrics.adapted_scorer` on them rewards
    what adapts best *in distribution*. HyRe is for shifts: each
    ``ShiftSplit`` fold scores every row by a projection of its standardized
    features and holds out the rows at the ends (``test_size`` of them, half
    from each end with ``tails="both"``); the model trains on the middle.
    Fold 0 projects on the mean of the standardized features (the paper's
    shift, :func:`~skhyre.datasets.ood_split`'s); each later fold on a random
    direction in the same space, drawn from ``random_state``.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds (projections), at least 1.
    test_size : float, default=0.2
        Fraction of the rows held out in each fold, in (0, 1).
    tails : {"both", "high", "low"}, default="both"
        Which end(s) of the projection form the validation fold.
    random_state : int, RandomState instance or None, default=None
        Seed of the random directions (folds 1 and later). An int gives the
        same folds at every :meth:`split` call.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.model_selection import ShiftSplit
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> cv = ShiftSplit(n_splits=3, test_size=0.2, random_state=0)
    >>> [(len(train), len(test)) for train, test in cv.split(X)]
    [(80, 20), (80, 20), (80, 20)]
    >>> train, test = next(cv.split(X))
    >>> score = X.mean(axis=1)  # fold 0: the mean (standardized) feature
    >>> bool(score[test].min() < score[train].min() and score[test].max() > score[train].max())
    True

    With :class:`~sklearn.model_selection.GridSearchCV` and
    :func:`~skhyre.metrics.adapted_scorer`, the search picks what adapts best
    under a shift::

        GridSearchCV(HyReRegressor(), {"prior_scale": [0.3, 1, 3]},
                     scoring=adapted_scorer(n_adapt=16), cv=ShiftSplit(random_state=0))
    """

    @validate_params(
        {
            "n_splits": [Interval(numbers.Integral, 1, None, closed="left")],
            "test_size": [Interval(numbers.Real, 0, 1, closed="neither")],
            "tails": [StrOptions(set(_TAILS))],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def __init__(self, n_splits=5, test_size=0.2, tails="both", random_state=None):
        self.n_splits = n_splits
        self.test_size = test_size
        self.tails = tails
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """The number of folds, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored, as in scikit-learn's splitters.

        Returns
        -------
        int
        """
        return int(self.n_splits)

    def projections(self, X) -> np.ndarray:
        """Every row's score under each fold's projection, ``(n_samples, n_splits)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_splits)
        """
        X = check_array(X, dtype=np.float64, input_name="X")
        Z = standardized_features(X, "ShiftSplit")
        rng = check_random_state(self.random_state)
        d = Z.shape[1]
        directions = np.empty((d, self.n_splits))
        directions[:, 0] = 1.0 / d  # the mean of the standardized features
        if self.n_splits > 1:
            R = rng.normal(size=(d, self.n_splits - 1))
            directions[:, 1:] = R / np.linalg.norm(R, axis=0, keepdims=True)
        return Z @ directions

    def _iter_test_indices(self, X=None, y=None, groups=None):
        scores = self.projections(X)
        n = scores.shape[0]
        # at least one row; floor(n * test_size) < n leaves at least one to train on
        n_test = max(1, math.floor(round(n * self.test_size, 9)))
        for j in range(self.n_splits):
            order = np.argsort(scores[:, j], kind="stable")
            if self.tails == "high":
                test = order[n - n_test :]
            elif self.tails == "low":
                test = order[:n_test]
            else:
                low = n_test // 2
                test = np.concatenate([order[:low], order[n - (n_test - low) :]])
            yield np.sort(test)
